package keyvault

import (
	"context"
	"fmt"
	"testing"
	"time"

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
