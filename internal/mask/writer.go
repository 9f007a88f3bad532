package mask

import (
	"errors"
	"fmt"
	"io"
	"log/slog"
)

// ErrClosed is returned by Write after Close.
var ErrClosed = errors.New("mask: write after close")

// Writer masks a stream of output and writes it to an underlying writer. Create it with
// Masker.NewWriter.
//
// Output is exactly what Masker.Mask would return for all bytes written, whatever the
// boundaries between Write calls, except across a Flush (see Flush).
//
// Latency: Write passes on every byte at once except a tail that could still become a
// masked secret: the longest suffix that is the beginning of a registered form (at most the
// longest form minus one byte), or a URL password not yet closed by its '@' (at most 64 KiB;
// beyond that it is released). Nothing before a line feed is ever held, since no masked text
// spans lines, so line-oriented output is passed on line by line. Flush and Close release the
// tail.
//
// A Writer is not safe for concurrent use; the Masker it reads may be updated concurrently
// (see Masker).
type Writer struct {
	m     *Masker
	w     io.Writer
	hold  []byte   // bytes held back; hold[0] is the first byte not yet emitted
	open  int      // end, relative to hold[0], of the last mask emitted if it reaches hold[0]; else -1
	st    urlState // URL context before hold[0]
	spans []span
	out   []byte
	err   error
	done  bool
}

// NewWriter returns a Writer that writes masked output to w. Close (or Flush) it to emit the
// held-back tail; it does not close w.
func (m *Masker) NewWriter(w io.Writer) *Writer {
	return &Writer{m: m, w: w, open: -1}
}

// Write masks p and writes what is final to the underlying writer. It returns len(p) unless
// the underlying writer failed; that error is returned by every later call.
func (w *Writer) Write(p []byte) (int, error) {
	if w.done {
		return 0, ErrClosed
	}
	if w.err != nil {
		return 0, w.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	data := p
	held := len(w.hold) > 0
	if held {
		w.hold = append(w.hold, p...)
		data = w.hold
	}
	mt := w.m.snapshot()
	w.spans = scan(mt, data, w.st, w.spans)
	h := min(mt.holdStart(data), urlHold(data, w.st))
	if err := w.emit(data, h, held); err != nil {
		return 0, err
	}
	return len(p), nil
}

// emit writes data[:h] masked and keeps data[h:] as the new hold.
func (w *Writer) emit(data []byte, h int, held bool) error {
	var err error
	st := urlStateAt(data, h, w.st)
	if (len(w.spans) == 0 || w.spans[0].start >= h) && w.open <= 0 {
		// Nothing to mask before h: pass the bytes on without copying.
		if h > 0 {
			_, err = w.w.Write(data[:h])
			w.open = -1
		}
	} else {
		var open int
		w.out, open = appendMasked(w.out[:0], data, w.spans, h, w.open)
		if len(w.out) > 0 {
			_, err = w.w.Write(w.out)
		}
		w.open = -1
		if open >= h {
			w.open = open - h
		}
	}
	w.st = st
	if held {
		w.hold = w.hold[:copy(w.hold, data[h:])]
	} else {
		w.hold = append(w.hold[:0], data[h:]...)
	}
	if err != nil {
		w.err = err
	}
	return err
}

// Flush masks and writes the held-back tail. A secret whose beginning is flushed and whose
// end is written later is not masked: call Flush only where output must be visible now
// (a step ends, a long pause in output), not after every write.
func (w *Writer) Flush() error {
	if w.err != nil {
		return w.err
	}
	if len(w.hold) == 0 {
		return nil
	}
	mt := w.m.snapshot()
	w.spans = scan(mt, w.hold, w.st, w.spans)
	return w.emit(w.hold, len(w.hold), true)
}

// Close flushes the Writer; later writes fail with ErrClosed. It does not close the
// underlying writer. Closing twice returns nil.
func (w *Writer) Close() error {
	if w.done {
		return nil
	}
	err := w.Flush()
	w.done = true
	return err
}

// String describes w without the bytes it holds back, which may be part of a secret.
func (w *Writer) String() string { return fmt.Sprintf("mask.Writer{buffered: %d}", len(w.hold)) }

// GoString is String, for %#v.
func (w *Writer) GoString() string { return w.String() }

// LogValue redacts w in structured logs.
func (w *Writer) LogValue() slog.Value { return slog.GroupValue(slog.Int("buffered", len(w.hold))) }

// Buffered returns the number of bytes held back.
func (w *Writer) Buffered() int { return len(w.hold) }
