package keyvault

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/fault"
)

func TestSetGetRoundTrip(t *testing.T) {
	backends(t, Config{}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		nbf := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		exp := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC)
		set, err := f.svc.Set(ctx, f.vault, "Db-Password", SetParams{
			Value: "s3cret", ContentType: "text/plain", Tags: map[string]string{"env": "prod"},
			Enabled: ptr(true), NotBefore: &nbf, Expires: &exp,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !ValidVersion(set.Version) || set.Version != strings.ToLower(set.Version) {
			t.Errorf("version %q is not 32 lower-case hex digits", set.Version)
		}
		now := f.clock.Now()
		want := Secret{Value: "s3cret", Properties: Properties{
			Name: "Db-Password", Version: set.Version, ContentType: "text/plain",
			Tags: map[string]string{"env": "prod"}, Enabled: true, NotBefore: nbf, Expires: exp,
			Created: now, Updated: now,
		}}
		if diff := cmp.Diff(want, set); diff != "" {
			t.Errorf("Set returned (-want +got):\n%s", diff)
		}
		for _, name := range []string{"Db-Password", "db-password", "DB-PASSWORD"} {
			got, err := f.svc.Get(ctx, f.vault, name, "")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Get(%q) (-want +got):\n%s", name, diff)
			}
		}
		got := must[Secret](t)(f.svc.Get(ctx, f.vault, "db-password", strings.ToUpper(set.Version)))
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("Get by upper-case version (-want +got):\n%s", diff)
		}
	})
}

func TestLatestAndVersions(t *testing.T) {
	backends(t, Config{}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		v1 := must[Secret](t)(f.svc.Set(ctx, f.vault, "s", SetParams{Value: "one"}))
		f.clock.Add(time.Second)
		v2 := must[Secret](t)(f.svc.Set(ctx, f.vault, "s", SetParams{Value: "two"}))
		if v1.Version == v2.Version {
			t.Fatal("two sets gave the same version")
		}
		if got := must[Secret](t)(f.svc.Get(ctx, f.vault, "s", "")); got.Value != "two" || got.Version != v2.Version {
			t.Errorf("latest = %q %s, want two %s", got.Value, got.Version, v2.Version)
		}
		if got := must[Secret](t)(f.svc.Get(ctx, f.vault, "s", v1.Version)); got.Value != "one" {
			t.Errorf("v1 = %q, want one", got.Value)
		}
		// A version of another secret is not found under this name.
		other := must[Secret](t)(f.svc.Set(ctx, f.vault, "other", SetParams{Value: "x"}))
		_, err := f.svc.Get(ctx, f.vault, "s", other.Version)
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
		_, err = f.svc.Get(ctx, f.vault, "s", "not-a-version")
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
	})
}

func TestUpdate(t *testing.T) {
	backends(t, Config{}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		v1 := must[Secret](t)(f.svc.Set(ctx, f.vault, "s", SetParams{Value: "one", Tags: map[string]string{"a": "1"}}))
		v2 := must[Secret](t)(f.svc.Set(ctx, f.vault, "s", SetParams{Value: "two", ContentType: "ct"}))
		f.clock.Add(time.Minute)

		// Empty version: the latest.
		got := must[Properties](t)(f.svc.Update(ctx, f.vault, "s", "", UpdateParams{ContentType: ptr("new"), Tags: map[string]string{"b": "2"}}))
		if got.Version != v2.Version || got.ContentType != "new" || !cmp.Equal(got.Tags, map[string]string{"b": "2"}) {
			t.Errorf("update latest = %+v", got)
		}
		if !got.Updated.After(got.Created) {
			t.Errorf("updated %v did not move past created %v", got.Updated, got.Created)
		}
		sec := must[Secret](t)(f.svc.Get(ctx, f.vault, "s", ""))
		if sec.Value != "two" || sec.ContentType != "new" {
			t.Errorf("after update latest = %q %q, want two new", sec.Value, sec.ContentType)
		}
		// Explicit version: only that one; nil fields kept; empty tags clear.
		got = must[Properties](t)(f.svc.Update(ctx, f.vault, "s", v1.Version, UpdateParams{Tags: map[string]string{}}))
		if got.Version != v1.Version || got.Tags != nil {
			t.Errorf("update v1 = %+v, want no tags", got)
		}
		if sec := must[Secret](t)(f.svc.Get(ctx, f.vault, "s", v1.Version)); sec.Value != "one" || sec.Tags != nil {
			t.Errorf("v1 after update = %+v", sec)
		}
		if sec := must[Secret](t)(f.svc.Get(ctx, f.vault, "s", "")); sec.ContentType != "new" {
			t.Errorf("latest changed by a v1 update: %+v", sec)
		}
		_, err := f.svc.Update(ctx, f.vault, "missing", "", UpdateParams{})
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
	})
}

func TestDisabled(t *testing.T) {
	backends(t, Config{}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		must[Secret](t)(f.svc.Set(ctx, f.vault, "s", SetParams{Value: "v"}))
		must[Properties](t)(f.svc.Update(ctx, f.vault, "s", "", UpdateParams{Enabled: ptr(false)}))
		_, err := f.svc.Get(ctx, f.vault, "s", "")
		wantFault(t, err, fault.Forbidden, CodeForbidden, CodeSecretDisabled)
		page := must[Page[Properties]](t)(f.svc.List(ctx, f.vault, PageRequest{}))
		if len(page.Items) != 1 || page.Items[0].Enabled {
			t.Errorf("list = %+v, want the disabled item", page.Items)
		}
		// Re-enable: readable again (the cache must not keep the disabled state).
		must[Properties](t)(f.svc.Update(ctx, f.vault, "s", "", UpdateParams{Enabled: ptr(true)}))
		if _, err := f.svc.Get(ctx, f.vault, "s", ""); err != nil {
			t.Fatal(err)
		}
		// Set disabled from the start.
		must[Secret](t)(f.svc.Set(ctx, f.vault, "d", SetParams{Value: "v", Enabled: ptr(false)}))
		_, err = f.svc.Get(ctx, f.vault, "d", "")
		wantFault(t, err, fault.Forbidden, CodeForbidden, CodeSecretDisabled)
	})
}

func TestValidation(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{})
	ctx := context.Background()
	many := map[string]string{}
	for i := range 16 {
		many[fmt.Sprint("t", i)] = "v"
	}
	tests := []struct {
		name       string
		secret     string
		p          SetParams
		wantCode   string
		wantSubstr string
	}{
		{"underscore", "a_b", SetParams{Value: "v"}, CodeBadParameter, "invalid name: a_b"},
		{"128 chars", strings.Repeat("a", 128), SetParams{Value: "v"}, CodeBadParameter, "invalid name"},
		{"empty name", "", SetParams{Value: "v"}, CodeBadParameter, "invalid name"},
		{"slash", "a/../b", SetParams{Value: "v"}, CodeBadParameter, "invalid name"},
		{"unicode", "sécret", SetParams{Value: "v"}, CodeBadParameter, "invalid name"},
		{"127 chars", strings.Repeat("a", 127), SetParams{Value: "v"}, "", ""},
		{"25600 bytes", "big", SetParams{Value: strings.Repeat("x", 25600)}, "", ""},
		{"25601 bytes", "bigger", SetParams{Value: strings.Repeat("x", 25601)}, CodeBadParameter, "25601 bytes"},
		{"contentType 255", "ct", SetParams{Value: "v", ContentType: strings.Repeat("c", 255)}, "", ""},
		{"contentType 256", "ct2", SetParams{Value: "v", ContentType: strings.Repeat("c", 256)}, CodeBadParameter, "contentType"},
		{"15 tags", "tags", SetParams{Value: "v", Tags: map[string]string{"a": "1", "b": "2"}}, "", ""},
		{"16 tags", "tags2", SetParams{Value: "v", Tags: many}, CodeBadParameter, "16 tags"},
		{"long tag name", "tags3", SetParams{Value: "v", Tags: map[string]string{strings.Repeat("k", 513): "v"}}, CodeBadParameter, "tag name"},
		{"long tag value", "tags4", SetParams{Value: "v", Tags: map[string]string{"k": strings.Repeat("v", 513)}}, CodeBadParameter, "value of tag"},
		{"negative exp", "t", SetParams{Value: "v", Expires: ptr(time.Unix(-5, 0))}, CodeBadParameter, "attributes.exp"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := f.svc.Set(ctx, f.vault, tt.secret, tt.p)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Set: %v", err)
				}
				return
			}
			wantFault(t, err, fault.BadRequest, tt.wantCode, "")
			if !strings.Contains(err.Error(), tt.wantSubstr) {
				t.Errorf("err = %v, want it to mention %q", err, tt.wantSubstr)
			}
			if strings.Contains(err.Error(), "xxxxxxxx") {
				t.Error("error message echoes the value")
			}
		})
	}
}

func TestPaging(t *testing.T) {
	backends(t, Config{}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		want := map[string]bool{}
		for i := range 60 {
			name := fmt.Sprintf("secret-%02d", i)
			want[name] = true
			must[Secret](t)(f.svc.Set(ctx, f.vault, name, SetParams{Value: "v"}))
		}
		versions := map[string]bool{}
		for range 30 {
			versions[must[Secret](t)(f.svc.Set(ctx, f.vault, "versioned", SetParams{Value: "v"})).Version] = true
		}
		want["versioned"] = true

		seen := map[string]int{}
		req := PageRequest{Max: 7}
		for pages := 0; ; pages++ {
			page := must[Page[Properties]](t)(f.svc.List(ctx, f.vault, req))
			if len(page.Items) > 7 {
				t.Fatalf("page of %d items, max 7", len(page.Items))
			}
			for _, p := range page.Items {
				seen[p.Name]++
			}
			if page.Next == "" {
				break
			}
			req.After = page.Next
		}
		if len(seen) != len(want) {
			t.Errorf("listed %d secrets, want %d", len(seen), len(want))
		}
		for name, n := range seen {
			if n != 1 || !want[name] {
				t.Errorf("%s listed %d times (wanted: %v)", name, n, want[name])
			}
		}

		seenV := map[string]int{}
		req = PageRequest{}
		for {
			page := must[Page[Properties]](t)(f.svc.ListVersions(ctx, f.vault, "versioned", req))
			for _, p := range page.Items {
				seenV[p.Version]++
			}
			if page.Next == "" {
				break
			}
			req.After = page.Next
		}
		if len(seenV) != 30 {
			t.Errorf("listed %d versions, want 30", len(seenV))
		}
		for v, n := range seenV {
			if n != 1 || !versions[v] {
				t.Errorf("version %s listed %d times", v, n)
			}
		}
		_, err := f.svc.List(ctx, f.vault, PageRequest{Max: 26})
		wantFault(t, err, fault.BadRequest, CodeBadParameter, "")
		_, err = f.svc.List(ctx, f.vault, PageRequest{After: "bad/token"})
		wantFault(t, err, fault.BadRequest, CodeBadParameter, "")
		_, err = f.svc.ListVersions(ctx, f.vault, "nope", PageRequest{})
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
	})
}

func TestSoftDeleteRecoverPurge(t *testing.T) {
	backends(t, Config{}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		v1 := must[Secret](t)(f.svc.Set(ctx, f.vault, "Gone", SetParams{Value: "one"}))
		v2 := must[Secret](t)(f.svc.Set(ctx, f.vault, "gone", SetParams{Value: "two", ContentType: "ct"}))
		d := must[DeletedSecret](t)(f.svc.Delete(ctx, f.vault, "GONE"))
		if d.Name != "Gone" || d.Version != v2.Version || d.ContentType != "ct" {
			t.Errorf("deleted = %+v", d)
		}
		if want := d.DeletedDate.Add(7 * 24 * time.Hour); !d.ScheduledPurgeDate.Equal(want) {
			t.Errorf("scheduledPurgeDate = %v, want deletedDate + 7 days = %v", d.ScheduledPurgeDate, want)
		}
		_, err := f.svc.Get(ctx, f.vault, "gone", "")
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
		_, err = f.svc.Get(ctx, f.vault, "gone", v1.Version)
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
		_, err = f.svc.Set(ctx, f.vault, "gone", SetParams{Value: "again"})
		wantFault(t, err, fault.Conflict, CodeConflict, CodeObjectIsDeletedButRecoverable)
		_, err = f.svc.Delete(ctx, f.vault, "gone")
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
		if page := must[Page[Properties]](t)(f.svc.List(ctx, f.vault, PageRequest{})); len(page.Items) != 0 {
			t.Errorf("active list = %+v, want empty", page.Items)
		}
		del := must[Page[DeletedSecret]](t)(f.svc.ListDeleted(ctx, f.vault, PageRequest{}))
		if len(del.Items) != 1 || del.Items[0].Name != "Gone" {
			t.Errorf("deleted list = %+v", del.Items)
		}
		if got := must[DeletedSecret](t)(f.svc.GetDeleted(ctx, f.vault, "gone")); got.Version != v2.Version {
			t.Errorf("GetDeleted = %+v", got)
		}

		rec := must[Properties](t)(f.svc.Recover(ctx, f.vault, "gone"))
		if rec.Version != v2.Version {
			t.Errorf("recovered version %s, want %s", rec.Version, v2.Version)
		}
		if got := must[Secret](t)(f.svc.Get(ctx, f.vault, "gone", v1.Version)); got.Value != "one" {
			t.Errorf("v1 after recover = %q", got.Value)
		}
		_, err = f.svc.GetDeleted(ctx, f.vault, "gone")
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
		_, err = f.svc.Recover(ctx, f.vault, "gone")
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")

		// Purge: gone for good, the name is reusable.
		must[DeletedSecret](t)(f.svc.Delete(ctx, f.vault, "gone"))
		if err := f.svc.Purge(ctx, f.vault, "gone"); err != nil {
			t.Fatal(err)
		}
		wantFault(t, f.svc.Purge(ctx, f.vault, "gone"), fault.NotFound, CodeSecretNotFound, "")
		fresh := must[Secret](t)(f.svc.Set(ctx, f.vault, "gone", SetParams{Value: "fresh"}))
		if fresh.Name != "gone" {
			t.Errorf("re-created name = %q, want the new case", fresh.Name)
		}
		_, err = f.svc.Get(ctx, f.vault, "gone", v1.Version)
		wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
		vs := must[Page[Properties]](t)(f.svc.ListVersions(ctx, f.vault, "gone", PageRequest{}))
		if len(vs.Items) != 1 {
			t.Errorf("versions after purge and re-create = %d, want 1", len(vs.Items))
		}
	})
}

func TestPurgeProtection(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{})
	ctx := context.Background()
	v := f.vault
	v.PurgeProtection = true
	if got := v.RecoveryLevel(); strings.Contains(got, "Purgeable") {
		t.Errorf("recovery level %q under purge protection", got)
	}
	must[Secret](t)(f.svc.Set(ctx, v, "p", SetParams{Value: "v"}))
	must[DeletedSecret](t)(f.svc.Delete(ctx, v, "p"))
	wantFault(t, f.svc.Purge(ctx, v, "p"), fault.Forbidden, CodeForbidden, "")
	if _, err := f.svc.GetDeleted(ctx, v, "p"); err != nil {
		t.Fatalf("purge refused but the secret is gone: %v", err)
	}
	// The system purges it when the retention ends.
	f.clock.Add(7*24*time.Hour - time.Second)
	if n := must[int](t)(f.svc.Sweep(ctx)); n != 0 {
		t.Fatalf("swept %d before the retention ended", n)
	}
	f.clock.Add(time.Second)
	if n := must[int](t)(f.svc.Sweep(ctx)); n != 1 {
		t.Fatalf("swept %d, want 1", n)
	}
	_, err := f.svc.GetDeleted(ctx, v, "p")
	wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
	entries, err := f.store.List(ctx, "kv", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("left behind after the sweep: %d entries, first %q", len(entries), entries[0].Key)
	}
}

func TestSweepSkipsRecovered(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{})
	ctx := context.Background()
	must[Secret](t)(f.svc.Set(ctx, f.vault, "r", SetParams{Value: "v"}))
	must[DeletedSecret](t)(f.svc.Delete(ctx, f.vault, "r"))
	must[Properties](t)(f.svc.Recover(ctx, f.vault, "r"))
	f.clock.Add(8 * 24 * time.Hour)
	if n := must[int](t)(f.svc.Sweep(ctx)); n != 0 {
		t.Fatalf("swept %d recovered secrets", n)
	}
	if _, err := f.svc.Get(ctx, f.vault, "r", ""); err != nil {
		t.Fatal(err)
	}
}

func TestRecoveryLevel(t *testing.T) {
	tests := []struct {
		days      int
		protected bool
		want      string
	}{
		{90, false, "Recoverable+Purgeable"},
		{0, false, "Recoverable+Purgeable"},
		{90, true, "Recoverable"},
		{7, false, "CustomizedRecoverable+Purgeable"},
		{89, true, "CustomizedRecoverable"},
	}
	for _, tt := range tests {
		if got := (Vault{RetentionDays: tt.days, PurgeProtection: tt.protected}).RecoveryLevel(); got != tt.want {
			t.Errorf("days %d protected %v: got %q, want %q", tt.days, tt.protected, got, tt.want)
		}
	}
}

func TestConcurrentSets(t *testing.T) {
	backends(t, Config{}, func(t *testing.T, f *fixture) {
		ctx := context.Background()
		const n = 50
		var wg sync.WaitGroup
		versions := make([]string, n)
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				s, err := f.svc.Set(ctx, f.vault, "hot", SetParams{Value: fmt.Sprint("value-", i)})
				versions[i], errs[i] = s.Version, err
			})
		}
		wg.Wait()
		distinct := map[string]bool{}
		for i, err := range errs {
			if err != nil {
				t.Fatalf("set %d: %v", i, err)
			}
			distinct[versions[i]] = true
		}
		if len(distinct) != n {
			t.Errorf("%d distinct versions, want %d", len(distinct), n)
		}
		// The latest is the last committed: with every set committed, it is the one the
		// head names, and it must be one of ours; listing finds all 50.
		latest := must[Secret](t)(f.svc.Get(ctx, f.vault, "hot", ""))
		if !distinct[latest.Version] {
			t.Errorf("latest %s is none of the versions set", latest.Version)
		}
		page := must[Page[Properties]](t)(f.svc.ListVersions(ctx, f.vault, "hot", PageRequest{}))
		count := len(page.Items)
		for page.Next != "" {
			page = must[Page[Properties]](t)(f.svc.ListVersions(ctx, f.vault, "hot", PageRequest{After: page.Next}))
			count += len(page.Items)
		}
		if count != n {
			t.Errorf("listed %d versions, want %d", count, n)
		}
		// Sequential sets after the storm: the latest is always the last one acknowledged.
		for i := range 5 {
			s := must[Secret](t)(f.svc.Set(ctx, f.vault, "hot", SetParams{Value: fmt.Sprint("after-", i)}))
			if got := must[Secret](t)(f.svc.Get(ctx, f.vault, "hot", "")); got.Version != s.Version {
				t.Fatalf("latest %s after set %s", got.Version, s.Version)
			}
		}
	})
}

// TestCacheNeverStale checks that a read that starts after a write returned sees that write,
// while readers hammer the same name.
func TestCacheNeverStale(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	must[Secret](t)(f.svc.Set(ctx, f.vault, "c", SetParams{Value: "0"}))
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for ctx.Err() == nil {
				_, _ = f.svc.Get(ctx, f.vault, "c", "")
			}
		})
	}
	for i := 1; i <= 200; i++ {
		want := fmt.Sprint(i)
		must[Secret](t)(f.svc.Set(ctx, f.vault, "c", SetParams{Value: want}))
		if got := must[Secret](t)(f.svc.Get(ctx, f.vault, "c", "")); got.Value != want {
			t.Fatalf("read %q after writing %q", got.Value, want)
		}
	}
	cancel()
	wg.Wait()
}

func TestPurgeVaultData(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{})
	ctx := context.Background()
	must[Secret](t)(f.svc.Set(ctx, f.vault, "a", SetParams{Value: "v"}))
	must[Secret](t)(f.svc.Set(ctx, f.vault, "b", SetParams{Value: "v"}))
	must[DeletedSecret](t)(f.svc.Delete(ctx, f.vault, "b"))
	other := Vault{ID: "other", Name: "two", TenantID: f.vault.TenantID}
	must[Secret](t)(f.svc.Set(ctx, other, "a", SetParams{Value: "keep"}))
	if err := f.svc.PurgeVaultData(ctx, f.vault.ID); err != nil {
		t.Fatal(err)
	}
	_, err := f.svc.Get(ctx, f.vault, "a", "")
	wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
	_, err = f.svc.GetDeleted(ctx, f.vault, "b")
	wantFault(t, err, fault.NotFound, CodeSecretNotFound, "")
	if got := must[Secret](t)(f.svc.Get(ctx, other, "a", "")); got.Value != "keep" {
		t.Errorf("other vault's secret = %q", got.Value)
	}
}

func TestSecretLogValueRedacts(t *testing.T) {
	s := Secret{Properties: Properties{Name: "n"}, Value: "hunter2"}
	if strings.Contains(s.LogValue().String(), "hunter2") {
		t.Error("Secret.LogValue shows the value")
	}
	if strings.Contains(SetParams{Value: "hunter2"}.LogValue().String(), "hunter2") {
		t.Error("SetParams.LogValue shows the value")
	}
}

// TestRunSweeps checks that the background sweeper purges a deleted secret once its
// retention has ended, without anyone calling Sweep.
func TestRunSweeps(t *testing.T) {
	f := newFixture(t, openSQLite(t), Config{SweepInterval: 10 * time.Millisecond})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { f.svc.Run(ctx); close(done) }()
	defer func() { cancel(); <-done }()
	must[Secret](t)(f.svc.Set(ctx, f.vault, "swept", SetParams{Value: "v"}))
	must[DeletedSecret](t)(f.svc.Delete(ctx, f.vault, "swept"))
	f.clock.Add(7*24*time.Hour + time.Second)
	deadline := time.Now().Add(10 * time.Second)
	for {
		_, err := f.svc.GetDeleted(ctx, f.vault, "swept")
		if fault.Is(err, fault.NotFound) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the sweeper did not purge the secret: %v", err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The name is free again.
	must[Secret](t)(f.svc.Set(ctx, f.vault, "swept", SetParams{Value: "again"}))
}

// TestValuesSealedAtRest reads the physical database under the barrier: no secret value,
// tag or content type is stored in clear, in records or in backups.
func TestValuesSealedAtRest(t *testing.T) {
	phys := openSQLite(t)
	f := newFixture(t, phys, Config{})
	ctx := context.Background()
	const value, tag, ct = "PlainTextValue-4f7d", "TagValue-9a1c", "ContentType-3b2e"
	must[Secret](t)(f.svc.Set(ctx, f.vault, "sealed", SetParams{Value: value, Tags: map[string]string{"k": tag}, ContentType: ct}))
	must[Secret](t)(f.svc.Set(ctx, f.vault, "deleted", SetParams{Value: value}))
	must[DeletedSecret](t)(f.svc.Delete(ctx, f.vault, "deleted"))
	a := NewAudit(f.store, AuditConfig{})
	a.Record(Event{Time: time.Now(), Vault: "v", Operation: "SecretGet", SecretName: "sealed", Status: 200})
	if err := a.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	entries, err := phys.List(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) < 5 {
		t.Fatalf("only %d physical entries", len(entries))
	}
	for _, e := range entries {
		for _, s := range []string{value, tag, ct, "SecretGet"} {
			if strings.Contains(string(e.Value), s) {
				t.Errorf("physical entry %s holds %q in clear", e.Key, s)
			}
		}
	}
}
