package keyvault

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/fault"
)

func TestAuditQuery(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{})
	ctx := context.Background()
	a := NewAudit(f.store, AuditConfig{Now: f.clock.Now})
	start := f.clock.Now()
	for i := range 30 {
		ev := Event{
			Time: start.Add(time.Duration(i) * time.Second), Vault: "One", Operation: "SecretGet",
			SecretName: fmt.Sprint("s", i%3), Status: 200, ObjectID: "oid-a",
		}
		if i%5 == 0 {
			ev.Status, ev.ErrorCode, ev.ObjectID = 403, "Forbidden", "oid-b"
		}
		a.Record(ev)
		if i == 14 {
			if err := a.Flush(ctx); err != nil { // two batches
				t.Fatal(err)
			}
		}
	}
	a.Record(Event{Time: start, Vault: "two", Operation: "SecretSet", Status: 200})

	all := queryAll(t, a, AuditQuery{Vault: "one", Top: 4})
	if len(all) != 30 {
		t.Fatalf("queried %d events, want 30", len(all))
	}
	for i := 1; i < len(all); i++ {
		if all[i].Time.Before(all[i-1].Time) {
			t.Fatalf("events out of order at %d", i)
		}
	}
	tests := []struct {
		name string
		q    AuditQuery
		want int
	}{
		{"secret", AuditQuery{Vault: "one", SecretName: "S1"}, 10},
		{"principal", AuditQuery{Vault: "one", Principal: "oid-b"}, 6},
		{"status", AuditQuery{Vault: "one", Status: 403}, 6},
		{"operation", AuditQuery{Vault: "one", Operation: "secretset"}, 0},
		{"since", AuditQuery{Vault: "one", Since: start.Add(20 * time.Second)}, 10},
		{"until", AuditQuery{Vault: "one", Until: start.Add(10 * time.Second)}, 10},
		{"window", AuditQuery{Vault: "one", Since: start.Add(5 * time.Second), Until: start.Add(17 * time.Second), Top: 5}, 12},
		{"other vault", AuditQuery{Vault: "TWO"}, 1},
		{"no such vault", AuditQuery{Vault: "three"}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := len(queryAll(t, a, tt.q)); got != tt.want {
				t.Errorf("got %d events, want %d", got, tt.want)
			}
		})
	}
	_, err := a.Query(ctx, AuditQuery{Vault: "one", After: "kvaudit/two/x#1"})
	wantFault(t, err, fault.BadRequest, CodeBadParameter, "")
	_, err = a.Query(ctx, AuditQuery{Vault: "one", Top: 1001})
	wantFault(t, err, fault.BadRequest, CodeBadParameter, "")

	// Retention drops old batches.
	f.clock.Add(31 * 24 * time.Hour)
	a.Record(Event{Time: f.clock.Now(), Vault: "one", Operation: "SecretList", Status: 200})
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if err := a.Expire(ctx); err != nil {
		t.Fatal(err)
	}
	if got := queryAll(t, a, AuditQuery{Vault: "one"}); len(got) != 1 || got[0].Operation != "SecretList" {
		t.Errorf("after retention: %+v", got)
	}
}

func queryAll(t *testing.T, a *Audit, q AuditQuery) []Event {
	t.Helper()
	var out []Event
	for range 1000 {
		page, err := a.Query(context.Background(), q)
		if err != nil {
			t.Fatal(err)
		}
		if q.Top > 0 && len(page.Items) > q.Top {
			t.Fatalf("page of %d, top %d", len(page.Items), q.Top)
		}
		out = append(out, page.Items...)
		if page.Next == "" {
			return out
		}
		q.After = page.Next
	}
	t.Fatal("paging did not end")
	return nil
}

func TestAuditRunFlushesOnShutdown(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{})
	a := NewAudit(f.store, AuditConfig{FlushInterval: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { a.Run(ctx); close(done) }()
	a.Record(Event{Time: time.Now(), Vault: "v", Operation: "SecretGet", Status: 200})
	cancel()
	<-done
	entries, err := f.store.List(context.Background(), prefixAudit, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 {
		t.Fatalf("%d batches stored on shutdown, want 1", len(entries))
	}
}

// BenchmarkAuditFlush measures storing recorded events: encoding, sealing and writing.
func BenchmarkAuditFlush(b *testing.B) {
	f := newFixture(b, openSQLite(b), Config{})
	a := NewAudit(f.store, AuditConfig{})
	ctx := context.Background()
	ev := Event{
		Time: time.Now(), RequestID: "0f8fad5b-d9cb-469f-a165-70867728950e", Vault: "bench", Operation: "SecretGet",
		SecretName: "db-password", Status: 200, TenantID: "72f988bf-86f1-41af-91ab-2d7cd011db47",
		ObjectID: "aaaaaaaa-0000-0000-0000-000000000001", AppID: "aaaaaaaa-0000-0000-0000-000000000002",
		ClientIP: "127.0.0.1", APIVersion: "2026-04-01",
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		ev.Time = ev.Time.Add(time.Microsecond)
		a.Record(ev)
		if i%4096 == 4095 {
			if err := a.Flush(ctx); err != nil {
				b.Fatal(err)
			}
		}
	}
	if err := a.Flush(ctx); err != nil {
		b.Fatal(err)
	}
}

// FuzzAuditCodec holds appendEvents to encoding/json's encoding of the stored form and
// checks that decoding gives the events back.
func FuzzAuditCodec(f *testing.F) {
	f.Add(int64(1764000000123456789), "SecretGet", "db-password", "Forbidden/AccessDenied", "127.0.0.1", 403, int64(3))
	f.Add(int64(0), "", "", "", "", 0, int64(0))
	f.Add(int64(-5), "<&>\u2028", "\xff", "\"\\", "\n", -1, int64(-1))
	f.Fuzz(func(t *testing.T, nanos int64, op, name, code, ip string, status int, ms int64) {
		evs := []Event{{Time: time.Unix(0, nanos).UTC(), RequestID: name, Vault: "v", Operation: op, SecretName: name,
			Version: code, Status: status, ErrorCode: code, TenantID: ip, ObjectID: op, AppID: name, ClientIP: ip,
			APIVersion: op, DurationMS: ms}, {Time: time.Unix(0, 0).UTC(), Vault: "v", Operation: "SecretList"}}
		got := appendEvents(nil, evs)
		stored := make([]storedEvent, len(evs))
		for i, e := range evs {
			stored[i] = storedEvent{Time: e.Time.UnixNano(), RequestID: e.RequestID, Operation: e.Operation, SecretName: e.SecretName,
				Version: e.Version, Status: e.Status, ErrorCode: e.ErrorCode, TenantID: e.TenantID, ObjectID: e.ObjectID,
				AppID: e.AppID, ClientIP: e.ClientIP, APIVersion: e.APIVersion, DurationMS: e.DurationMS}
		}
		want, err := json.Marshal(stored)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Fatalf("appendEvents:\n got %s\nwant %s", got, want)
		}
		back, err := decodeEvents(got, "v")
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(op + name + code + ip) {
			return // invalid UTF-8 comes back as U+FFFD, as with encoding/json
		}
		if diff := cmp.Diff(evs, back); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	})
}
