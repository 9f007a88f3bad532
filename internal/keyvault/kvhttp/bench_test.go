package kvhttp

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// BenchmarkHandlerGet measures get-latest through the handler (token verification from
// the verifier's cache, vault lookup, authorization, the secret cache, JSON, audit), without
// TLS or the network.
func BenchmarkHandlerGet(b *testing.B) {
	e := newEnv(b, Throttle{Disabled: true})
	e.doJSON("PUT", "/secrets/bench"+api, map[string]string{"value": strings.Repeat("v", 200)}, 200)
	auth := "Bearer " + e.admin
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		req := httptest.NewRequest("GET", "https://"+testHost+"/secrets/bench/"+api, nil)
		req.Header.Set("Authorization", auth)
		for pb.Next() {
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d", rec.Code)
			}
		}
	})
}

// BenchmarkHandlerSet measures durable sets through the handler on SQLite.
func BenchmarkHandlerSet(b *testing.B) {
	e := newEnv(b, Throttle{Disabled: true})
	auth := "Bearer " + e.admin
	body := []byte(`{"value":"` + strings.Repeat("v", 200) + `","contentType":"text/plain"}`)
	b.ReportAllocs()
	b.SetParallelism(16)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest("PUT", "https://"+testHost+"/secrets/bench"+api, bytes.NewReader(body))
			req.Header.Set("Authorization", auth)
			rec := httptest.NewRecorder()
			e.h.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("status %d: %s", rec.Code, rec.Body)
			}
		}
	})
}
