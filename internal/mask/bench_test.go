package mask

import (
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"testing"
)

// benchSecrets returns n secrets shaped like real ones: GUIDs, base64 tokens and passwords
// with punctuation (which gives them distinct JSON and URL forms), 16 to 48 characters.
func benchSecrets(n int) []string {
	r := rand.New(rand.NewPCG(1, uint64(n)))
	const alnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	const punct = "!#$%&()+,-./:;<=>?@[]^_{|}~ \"'\\"
	pick := func(set string, k int) string {
		b := make([]byte, k)
		for i := range b {
			b[i] = set[r.IntN(len(set))]
		}
		return string(b)
	}
	out := make([]string, n)
	for i := range out {
		switch i % 3 {
		case 0:
			out[i] = fmt.Sprintf("%s-%s-%s-%s-%s", pick("0123456789abcdef", 8), pick("0123456789abcdef", 4),
				pick("0123456789abcdef", 4), pick("0123456789abcdef", 4), pick("0123456789abcdef", 12))
		case 1:
			out[i] = pick(alnum+"+/", 32+r.IntN(17))
		default:
			out[i] = pick(alnum, 12+r.IntN(8)) + pick(punct, 2) + pick(alnum, 2+r.IntN(6))
		}
	}
	return out
}

// benchText returns log-like text of about size bytes in lines of about lineLen bytes (one
// line when lineLen <= 0), with a registered secret in roughly one line in 100.
func benchText(size, lineLen int, secrets []string) []byte {
	r := rand.New(rand.NewPCG(7, 7))
	words := strings.Fields("the build step compiled package github.com/keystage/keystage/internal " +
		"in 0.42s ok PASS FAIL warning: deprecated option --verbose at src/main.go:123 downloading " +
		"https://proxy.golang.org/ 200 OK 1.21.3 [INFO] 2026-08-21T10:00:00Z user@example.com " +
		"error=nil {\"status\":\"done\",\"count\":17} Restored 42 packages (Cache hit) running tests")
	var b strings.Builder
	line := 0
	for b.Len() < size {
		if lineLen > 0 && line >= lineLen {
			b.WriteByte('\n')
			line = 0
			continue
		}
		w := words[r.IntN(len(words))]
		if r.IntN(100) == 0 && len(secrets) > 0 {
			w = secrets[r.IntN(len(secrets))]
		}
		b.WriteString(w)
		b.WriteByte(' ')
		line += len(w) + 1
	}
	if lineLen > 0 {
		b.WriteByte('\n')
	}
	return []byte(b.String())
}

// BenchmarkWriter measures masking throughput through a Writer into io.Discard:
//   - line64k: one 64 KiB line per Write (minified JSON, a long command line);
//   - line80: one ~80-byte line per Write (typical line-buffered step output);
//   - chunk64k: 64 KiB Writes holding ~80-byte lines (a pipe read of busy output).
func BenchmarkWriter(b *testing.B) {
	for _, n := range []int{10, 100, 1000} {
		secrets := benchSecrets(n)
		m, _ := New(Config{})
		for _, s := range secrets {
			m.Add(s)
		}
		shapes := []struct {
			name    string
			text    []byte
			perLine bool
		}{
			{"line64k", benchText(64<<10, 0, secrets), false},
			{"line80", benchText(64<<10, 80, secrets), true},
			{"chunk64k", benchText(64<<10, 80, secrets), false},
		}
		for _, sh := range shapes {
			var chunks [][]byte
			if sh.perLine {
				for rest := sh.text; len(rest) > 0; {
					i := strings.IndexByte(string(rest), '\n') + 1
					chunks = append(chunks, rest[:i])
					rest = rest[i:]
				}
			} else {
				chunks = [][]byte{sh.text}
			}
			b.Run(fmt.Sprintf("secrets=%d/%s", n, sh.name), func(b *testing.B) {
				w := m.NewWriter(io.Discard)
				b.SetBytes(int64(len(sh.text)))
				b.ReportAllocs()
				runtime.LockOSThread()
				defer runtime.UnlockOSThread()
				cpu0, ok := threadCPU()
				for b.Loop() {
					for _, c := range chunks {
						w.Write(c)
					}
				}
				if cpu1, _ := threadCPU(); ok && cpu1 > cpu0 {
					b.ReportMetric(float64(len(sh.text))*float64(b.N)/(cpu1-cpu0).Seconds()/1e6, "cpuMB/s")
				}
				w.Close()
			})
		}
	}
}

// BenchmarkCopy is the floor: copying the same bytes without masking.
func BenchmarkCopy(b *testing.B) {
	text := benchText(64<<10, 0, nil)
	dst := make([]byte, len(text))
	b.SetBytes(int64(len(text)))
	for b.Loop() {
		copy(dst, text)
	}
}

// BenchmarkAdd measures registering 1,000 secrets and building the matcher once.
func BenchmarkAdd(b *testing.B) {
	secrets := benchSecrets(1000)
	for b.Loop() {
		m, _ := New(Config{})
		for _, s := range secrets {
			m.Add(s)
		}
		m.snapshot()
	}
}

// BenchmarkAddInterleaved adds 1,000 secrets one at a time with a line written after each,
// so every Add is followed by a rebuild of the matching state.
func BenchmarkAddInterleaved(b *testing.B) {
	secrets := benchSecrets(1000)
	line := []byte("registered one more secret\n")
	for b.Loop() {
		m, _ := New(Config{})
		w := m.NewWriter(io.Discard)
		for _, s := range secrets {
			m.Add(s)
			w.Write(line)
		}
	}
}
