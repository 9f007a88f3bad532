package loadgen

import (
	"bufio"
	"strings"
	"testing"
)

func TestReadResponse(t *testing.T) {
	tests := []struct {
		name      string
		in        string
		status    int
		keepAlive bool
		wantErr   bool
		rest      string // what must be left for the next answer
	}{
		{"content length", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: x\r\n\r\nhelloNEXT", 200, true, false, "NEXT"},
		{"chunked with trailer", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\nNEXT", 200, true, false, "NEXT"},
		{"no content", "HTTP/1.1 204 No Content\r\n\r\nNEXT", 204, true, false, "NEXT"},
		{"connection close", "HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", 429, false, false, ""},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", 200, false, false, ""},
		{"body to EOF", "HTTP/1.1 200 OK\r\n\r\nall of it", 200, false, false, ""},
		{"garbage", "SSH-2.0-OpenSSH\r\n", 0, false, true, ""},
		{"bad length", "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 200, false, true, ""},
		{"bad chunk", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n", 200, false, true, ""},
		{"truncated body", "HTTP/1.1 200 OK\r\nContent-Length: 50\r\n\r\nshort", 200, false, true, ""},
		{"header without colon", "HTTP/1.1 200 OK\r\nnonsense\r\n\r\n", 200, false, true, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tc.in))
			status, keep, err := readResponse(br)
			if (err != nil) != tc.wantErr || status != tc.status || (err == nil && keep != tc.keepAlive) {
				t.Fatalf("readResponse = %d, %v, %v; want %d, %v, error %v", status, keep, err, tc.status, tc.keepAlive, tc.wantErr)
			}
			if err == nil {
				rest := make([]byte, 16)
				n, _ := br.Read(rest)
				if string(rest[:n]) != tc.rest {
					t.Errorf("left %q for the next answer, want %q", rest[:n], tc.rest)
				}
			}
		})
	}
}

func TestRequestBytes(t *testing.T) {
	got := string(requestBytes("PUT", "/secrets/s?api-version=7.6", "kv.vault.localhost:8443", "Bearer t", []byte(`{"value":"v"}`)))
	want := "PUT /secrets/s?api-version=7.6 HTTP/1.1\r\nHost: kv.vault.localhost:8443\r\nAuthorization: Bearer t\r\n" +
		"Accept: application/json\r\nUser-Agent: keystage-bench\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n{\"value\":\"v\"}"
	if got != want {
		t.Errorf("requestBytes =\n%q\nwant\n%q", got, want)
	}
}

// FuzzReadResponse: any byte stream gives an answer or an error, never a panic or a hang.
func FuzzReadResponse(f *testing.F) {
	f.Add("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello")
	f.Add("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n")
	f.Add("HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer x\r\nContent-Length: 0\r\n\r\n")
	f.Fuzz(func(t *testing.T, in string) {
		status, _, err := readResponse(bufio.NewReader(strings.NewReader(in)))
		if err == nil && (status < 100 || status > 999) {
			t.Fatalf("status %d accepted", status)
		}
	})
}
