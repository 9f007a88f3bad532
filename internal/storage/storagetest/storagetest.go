// Package storagetest is the conformance suite every storage.Backend must pass.
package storagetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/keystage/keystage/internal/storage"
)

// Run runs the conformance suite. open returns a fresh, empty backend for each subtest;
// the suite closes it.
func Run(t *testing.T, open func(t *testing.T) storage.Backend) {
	tests := []struct {
		name string
		fn   func(t *testing.T, b storage.Backend)
	}{
		{"GetMissing", testGetMissing},
		{"PutGet", testPutGet},
		{"Overwrite", testOverwrite},
		{"Delete", testDelete},
		{"BinaryAndEmptyValues", testBinaryValues},
		{"LargeValue", testLargeValue},
		{"ListOrderAndPrefix", testListOrder},
		{"ListAfterAndLimit", testListPaging},
		{"UpdateCommits", testUpdateCommits},
		{"UpdateRollsBack", testUpdateRollsBack},
		{"UpdateSeesOwnWrites", testUpdateOwnWrites},
		{"UpdateSerializes", testUpdateSerializes},
		{"ConcurrentReadersAndWriters", testConcurrentMixed},
		{"CanceledContext", testCanceled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			b := open(t)
			defer func() {
				if err := b.Close(); err != nil {
					t.Errorf("Close: %v", err)
				}
			}()
			tc.fn(t, b)
		})
	}
}

func mustPut(t *testing.T, s storage.Store, key, value string) {
	t.Helper()
	if err := s.Put(context.Background(), key, []byte(value)); err != nil {
		t.Fatalf("Put(%q): %v", key, err)
	}
}

func mustGet(t *testing.T, s storage.Store, key string) string {
	t.Helper()
	v, err := s.Get(context.Background(), key)
	if err != nil {
		t.Fatalf("Get(%q): %v", key, err)
	}
	return string(v)
}

func keys(entries []storage.Entry) []string {
	out := make([]string, len(entries))
	for i, e := range entries {
		out[i] = e.Key
	}
	return out
}

func testGetMissing(t *testing.T, b storage.Backend) {
	_, err := b.Get(context.Background(), "nope")
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("Get(missing) error = %v, want ErrNotFound", err)
	}
}

func testPutGet(t *testing.T, b storage.Backend) {
	mustPut(t, b, "a/b", "v1")
	mustPut(t, b, "unicode/ключ/🔑", "値")
	if got := mustGet(t, b, "a/b"); got != "v1" {
		t.Errorf("Get = %q, want v1", got)
	}
	if got := mustGet(t, b, "unicode/ключ/🔑"); got != "値" {
		t.Errorf("Get unicode = %q, want 値", got)
	}
}

func testOverwrite(t *testing.T, b storage.Backend) {
	mustPut(t, b, "k", "one")
	mustPut(t, b, "k", "two")
	if got := mustGet(t, b, "k"); got != "two" {
		t.Errorf("Get after overwrite = %q, want two", got)
	}
}

func testDelete(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	mustPut(t, b, "k", "v")
	if err := b.Delete(ctx, "k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := b.Get(ctx, "k"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("Get after Delete error = %v, want ErrNotFound", err)
	}
	if err := b.Delete(ctx, "k"); err != nil {
		t.Errorf("Delete(missing) = %v, want nil", err)
	}
}

func testBinaryValues(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	bin := []byte{0, 1, 2, 0xff, 0xfe, 0, '\n'}
	if err := b.Put(ctx, "bin", bin); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "bin")
	if err != nil || !bytes.Equal(got, bin) {
		t.Errorf("Get(bin) = %v, %v; want %v", got, err, bin)
	}
	if err := b.Put(ctx, "empty", nil); err != nil {
		t.Fatal(err)
	}
	got, err = b.Get(ctx, "empty")
	if err != nil || len(got) != 0 {
		t.Errorf("Get(empty) = %v, %v; want empty, nil", got, err)
	}
	// The returned slice must belong to the caller.
	got, _ = b.Get(ctx, "bin")
	got[0] = 42
	again, _ := b.Get(ctx, "bin")
	if !bytes.Equal(again, bin) {
		t.Errorf("modifying a returned value changed the stored value")
	}
}

func testLargeValue(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB
	if err := b.Put(ctx, "big", big); err != nil {
		t.Fatal(err)
	}
	got, err := b.Get(ctx, "big")
	if err != nil || !bytes.Equal(got, big) {
		t.Errorf("Get(big): err=%v, equal=%v", err, bytes.Equal(got, big))
	}
}

func testListOrder(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	for _, k := range []string{"p/b", "p/a", "p/c/d", "p0", "p", "q/a", "o/z", "p/\u00e9", "p/Z"} {
		mustPut(t, b, k, "v:"+k)
	}
	got, err := b.List(ctx, "p/", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"p/Z", "p/a", "p/b", "p/c/d", "p/\u00e9"}
	if diff := cmp.Diff(want, keys(got)); diff != "" {
		t.Errorf("List(p/) keys mismatch (-want +got):\n%s", diff)
	}
	for _, e := range got {
		if string(e.Value) != "v:"+e.Key {
			t.Errorf("List value for %q = %q", e.Key, e.Value)
		}
	}
	all, err := b.List(ctx, "", "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 9 {
		t.Errorf("List(\"\") returned %d entries, want 9", len(all))
	}
	none, err := b.List(ctx, "zzz/", "", 0)
	if err != nil || len(none) != 0 {
		t.Errorf("List(zzz/) = %v, %v; want empty", keys(none), err)
	}
}

func testListPaging(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	for i := 0; i < 25; i++ {
		mustPut(t, b, fmt.Sprintf("page/%02d", i), strconv.Itoa(i))
	}
	var seen []string
	after := ""
	for pages := 0; ; pages++ {
		if pages > 10 {
			t.Fatal("paging did not terminate")
		}
		page, err := b.List(ctx, "page/", after, 10)
		if err != nil {
			t.Fatal(err)
		}
		if len(page) > 10 {
			t.Fatalf("page of %d entries exceeds limit 10", len(page))
		}
		if len(page) == 0 {
			break
		}
		seen = append(seen, keys(page)...)
		after = page[len(page)-1].Key
	}
	if len(seen) != 25 || seen[0] != "page/00" || seen[24] != "page/24" {
		t.Errorf("paged keys = %v", seen)
	}
	// after need not exist.
	page, err := b.List(ctx, "page/", "page/105", 2)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"page/11", "page/12"}, keys(page)); diff != "" {
		t.Errorf("List after a missing key (-want +got):\n%s", diff)
	}
}

func testUpdateCommits(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	mustPut(t, b, "gone", "x")
	err := b.Update(ctx, func(tx storage.Store) error {
		if err := tx.Put(ctx, "t/1", []byte("one")); err != nil {
			return err
		}
		if err := tx.Put(ctx, "t/2", []byte("two")); err != nil {
			return err
		}
		return tx.Delete(ctx, "gone")
	})
	if err != nil {
		t.Fatalf("Update: %v", err)
	}
	if got := mustGet(t, b, "t/1") + mustGet(t, b, "t/2"); got != "onetwo" {
		t.Errorf("after commit got %q", got)
	}
	if _, err := b.Get(ctx, "gone"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("deleted in tx: Get error = %v, want ErrNotFound", err)
	}
}

func testUpdateRollsBack(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	mustPut(t, b, "keep", "original")
	boom := errors.New("boom")
	err := b.Update(ctx, func(tx storage.Store) error {
		if err := tx.Put(ctx, "keep", []byte("changed")); err != nil {
			return err
		}
		if err := tx.Put(ctx, "new", []byte("x")); err != nil {
			return err
		}
		if err := tx.Delete(ctx, "keep"); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("Update error = %v, want boom", err)
	}
	if got := mustGet(t, b, "keep"); got != "original" {
		t.Errorf("after rollback keep = %q, want original", got)
	}
	if _, err := b.Get(ctx, "new"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("after rollback new: error = %v, want ErrNotFound", err)
	}
}

func testUpdateOwnWrites(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	err := b.Update(ctx, func(tx storage.Store) error {
		if _, err := tx.Get(ctx, "o/x"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("Get before Put: %v, want ErrNotFound", err)
		}
		for _, k := range []string{"o/b", "o/a"} {
			if err := tx.Put(ctx, k, []byte(k)); err != nil {
				return err
			}
		}
		v, err := tx.Get(ctx, "o/a")
		if err != nil || string(v) != "o/a" {
			return fmt.Errorf("Get own write = %q, %v", v, err)
		}
		l, err := tx.List(ctx, "o/", "", 0)
		if err != nil {
			return err
		}
		if diff := cmp.Diff([]string{"o/a", "o/b"}, keys(l)); diff != "" {
			return fmt.Errorf("List in tx (-want +got):\n%s", diff)
		}
		if err := tx.Delete(ctx, "o/a"); err != nil {
			return err
		}
		if _, err := tx.Get(ctx, "o/a"); !errors.Is(err, storage.ErrNotFound) {
			return fmt.Errorf("Get after Delete in tx: %v, want ErrNotFound", err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testUpdateSerializes runs concurrent read-modify-write transactions on one counter; every
// increment must survive (no lost updates).
func testUpdateSerializes(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	mustPut(t, b, "counter", "0")
	const workers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				err := b.Update(ctx, func(tx storage.Store) error {
					v, err := tx.Get(ctx, "counter")
					if err != nil {
						return err
					}
					n, err := strconv.Atoi(string(v))
					if err != nil {
						return err
					}
					return tx.Put(ctx, "counter", []byte(strconv.Itoa(n+1)))
				})
				if err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatalf("concurrent Update: %v", err)
	}
	if got := mustGet(t, b, "counter"); got != strconv.Itoa(workers*each) {
		t.Errorf("counter = %s, want %d", got, workers*each)
	}
}

func testConcurrentMixed(t *testing.T, b storage.Backend) {
	ctx := context.Background()
	var wg sync.WaitGroup
	errs := make(chan error, 16)
	for w := 0; w < 4; w++ {
		wg.Add(2)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if err := b.Put(ctx, fmt.Sprintf("m/%d/%03d", w, i), []byte("x")); err != nil {
					errs <- err
					return
				}
			}
		}(w)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := b.List(ctx, "m/", "", 20); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	all, err := b.List(ctx, "m/", "", 0)
	if err != nil || len(all) != 200 {
		t.Fatalf("List(m/) = %d entries, %v; want 200", len(all), err)
	}
}

func testCanceled(t *testing.T, b storage.Backend) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := b.Put(ctx, "c", []byte("v")); err == nil {
		t.Errorf("Put with canceled context succeeded")
	}
	called := false
	err := b.Update(ctx, func(tx storage.Store) error { called = true; return nil })
	if err == nil && called {
		t.Errorf("Update with canceled context ran and committed")
	}
	// A canceled caller must not break the backend for others.
	mustPut(t, b, "after", "ok")
}
