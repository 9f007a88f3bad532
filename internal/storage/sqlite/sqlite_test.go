package sqlite

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/storage/storagetest"
)

func openTemp(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), Config{Path: filepath.Join(t.TempDir(), "keystage.db")})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func TestConformance(t *testing.T) {
	storagetest.Run(t, func(t *testing.T) storage.Backend { return openTemp(t) })
}

func TestReopenKeepsData(t *testing.T) {
	path := filepath.Join(t.TempDir(), "k.db")
	ctx := context.Background()
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Put(ctx, "k", []byte("v")); err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Get(ctx, "k")
	if err != nil || string(got) != "v" {
		t.Fatalf("after reopen Get = %q, %v", got, err)
	}
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := fi.Mode().Perm(); perm != 0o600 {
		t.Errorf("database file mode = %v, want 0600", perm)
	}
}

func TestPanicInUpdateReachesCaller(t *testing.T) {
	db := openTemp(t)
	defer db.Close()
	ctx := context.Background()
	func() {
		defer func() {
			if p := recover(); p != "boom" {
				t.Errorf("recovered %v, want boom", p)
			}
		}()
		_ = db.Update(ctx, func(tx storage.Store) error {
			_ = tx.Put(ctx, "half", []byte("x"))
			panic("boom")
		})
	}()
	if _, err := db.Get(ctx, "half"); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("write before panic: Get error = %v, want ErrNotFound", err)
	}
	if err := db.Put(ctx, "after", []byte("ok")); err != nil {
		t.Errorf("Put after panic: %v", err)
	}
}

func TestClosedBackendRefusesWrites(t *testing.T) {
	db := openTemp(t)
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := db.Put(context.Background(), "k", nil); err == nil {
		t.Error("Put after Close succeeded")
	}
	if err := db.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// TestAcknowledgedWritesSurviveKill9 runs a child process that writes and acknowledges
// entries one by one, kills it with SIGKILL mid-stream, and checks that every acknowledged
// entry is in the database.
func TestAcknowledgedWritesSurviveKill9(t *testing.T) {
	if path := os.Getenv("KEYSTAGE_SQLITE_KILL_CHILD"); path != "" {
		killChild(path)
		return
	}
	path := filepath.Join(t.TempDir(), "kill.db")
	cmd := exec.Command(os.Args[0], "-test.run=^TestAcknowledgedWritesSurviveKill9$")
	cmd.Env = append(os.Environ(), "KEYSTAGE_SQLITE_KILL_CHILD="+path)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	var acked []string
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		line := sc.Text()
		if k, ok := strings.CutPrefix(line, "ack "); ok {
			acked = append(acked, k)
			if len(acked) == 300 {
				break
			}
		}
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if len(acked) < 300 {
		t.Fatalf("child acknowledged only %d writes", len(acked))
	}
	db, err := Open(context.Background(), Config{Path: path})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, k := range acked {
		if _, err := db.Get(context.Background(), k); err != nil {
			t.Fatalf("acknowledged key %s lost after kill -9: %v", k, err)
		}
	}
}

func killChild(path string) {
	ctx := context.Background()
	db, err := Open(ctx, Config{Path: path})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(1)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	for w := 0; w < 4; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				k := fmt.Sprintf("k/%d/%06d", w, i)
				if err := db.Put(ctx, k, []byte("value")); err != nil {
					fmt.Println("put:", err)
					os.Exit(1)
				}
				mu.Lock()
				fmt.Println("ack", k)
				mu.Unlock()
			}
		}(w)
	}
	wg.Wait()
}

func BenchmarkGet(b *testing.B) {
	db := openTemp(b)
	defer db.Close()
	storagetest.BenchGet(b, db)
}

// BenchmarkPutParallel measures durable writes from many goroutines (group commit).
func BenchmarkPutParallel(b *testing.B) {
	db := openTemp(b)
	defer db.Close()
	ctx := context.Background()
	var n atomic.Int64
	b.SetParallelism(16)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			k := fmt.Sprintf("bench/%d", n.Add(1))
			if err := db.Put(ctx, k, make([]byte, 200)); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPutSerial(b *testing.B) {
	db := openTemp(b)
	defer db.Close()
	ctx := context.Background()
	for i := 0; i < b.N; i++ {
		if err := db.Put(ctx, fmt.Sprintf("bench/%d", i), make([]byte, 200)); err != nil {
			b.Fatal(err)
		}
	}
}
