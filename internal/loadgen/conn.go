package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"strconv"
	"time"
)

// conn is one keep-alive HTTPS connection that speaks just enough HTTP/1.1 for the load:
// a request prepared once is written as bytes, and the answer's status is read and its body
// skipped. It is written by hand because net/http's Transport hands every request between
// goroutines (its read and write loops); on a machine the load generator shares with the
// server under test, that cost showed up as a lower server throughput than wrk measured.
type conn struct {
	dial   dialFunc
	addr   string // host:port the requests name
	tlsCfg *tls.Config
	c      net.Conn
	br     *bufio.Reader
}

// roundTrip writes req (a whole HTTP/1.1 request) and returns the answer's status, dialing
// first when the connection is closed. A transport error closes the connection; the next
// call dials again.
func (c *conn) roundTrip(ctx context.Context, req []byte) (int, error) {
	if c.c == nil {
		if err := c.connect(ctx); err != nil {
			return 0, err
		}
	}
	if d, ok := ctx.Deadline(); ok {
		_ = c.c.SetDeadline(d)
	}
	if _, err := c.c.Write(req); err != nil {
		c.close()
		return 0, err
	}
	status, keepAlive, err := readResponse(c.br)
	if err != nil || !keepAlive {
		c.close()
	}
	return status, err
}

func (c *conn) connect(ctx context.Context) error {
	raw, err := c.dial(ctx, "tcp", c.addr)
	if err != nil {
		return err
	}
	tc := tls.Client(raw, c.tlsCfg)
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tc.HandshakeContext(hctx); err != nil {
		raw.Close()
		return err
	}
	c.c, c.br = tc, bufio.NewReaderSize(tc, 16<<10)
	return nil
}

func (c *conn) close() {
	if c.c != nil {
		_ = c.c.Close()
		c.c, c.br = nil, nil
	}
}

// maxHeaderLines bounds an answer's header block.
const maxHeaderLines = 100

var errMalformed = errors.New("loadgen: malformed HTTP answer")

// readResponse reads one HTTP/1.1 answer from br: the status, whether the connection stays
// open, and the body skipped (Content-Length or chunked).
func readResponse(br *bufio.Reader) (status int, keepAlive bool, err error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, false, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) || line[8] != ' ' {
		return 0, false, errMalformed
	}
	if status, err = strconv.Atoi(string(line[9:12])); err != nil || status < 100 {
		return 0, false, errMalformed
	}
	keepAlive = line[7] == '1'
	length, chunked := int64(-1), false
	for i := 0; ; i++ {
		if i == maxHeaderLines {
			return status, false, errMalformed
		}
		h, err := br.ReadSlice('\n')
		if err != nil {
			return status, false, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		name, value, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			return status, false, errMalformed
		}
		value = bytes.TrimSpace(value)
		switch {
		case bytes.EqualFold(name, []byte("Content-Length")):
			n, err := strconv.ParseInt(string(value), 10, 64)
			if err != nil || n < 0 {
				return status, false, errMalformed
			}
			length = n
		case bytes.EqualFold(name, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(value, []byte("chunked"))
		case bytes.EqualFold(name, []byte("Connection")):
			if bytes.EqualFold(value, []byte("close")) {
				keepAlive = false
			}
		}
	}
	switch {
	case status == 204 || status == 304 || status < 200:
		return status, keepAlive, nil
	case chunked:
		return status, keepAlive, skipChunked(br)
	case length >= 0:
		_, err := br.Discard(int(length))
		return status, keepAlive, err
	}
	// No length: the body runs to the end of the connection.
	_, err = io.Copy(io.Discard, br)
	return status, false, err
}

// skipChunked skips a chunked body and its trailers.
func skipChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		sizeText, _, _ := bytes.Cut(bytes.TrimRight(line, "\r\n"), []byte(";"))
		size, err := strconv.ParseInt(string(bytes.TrimSpace(sizeText)), 16, 64)
		if err != nil || size < 0 || size > 1<<30 {
			return errMalformed
		}
		if size == 0 {
			for i := 0; ; i++ { // trailers, then the empty line
				if i == maxHeaderLines {
					return errMalformed
				}
				t, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(size)); err != nil {
			return err
		}
		crlf, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(bytes.TrimRight(crlf, "\r\n")) != 0 {
			return errMalformed
		}
	}
}

// requestBytes formats one HTTP/1.1 request.
func requestBytes(method, target, host, auth string, body []byte) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\nAuthorization: %s\r\nAccept: application/json\r\nUser-Agent: keystage-bench\r\n", method, target, host, auth)
	if body != nil {
		fmt.Fprintf(&b, "Content-Type: application/json\r\nContent-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}
