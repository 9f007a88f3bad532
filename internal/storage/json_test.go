package storage_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/keystage/keystage/internal/storage"
	"github.com/keystage/keystage/internal/storage/sqlite"
)

func TestJSONHelpers(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "j.db")})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	type rec struct{ N int }
	for i := 1; i <= 3; i++ {
		if err := storage.PutJSON(ctx, db, "r/"+string(rune('a'+i)), rec{i}); err != nil {
			t.Fatal(err)
		}
	}
	var got rec
	if err := storage.GetJSON(ctx, db, "r/c", &got); err != nil || got.N != 2 {
		t.Errorf("GetJSON = %+v, %v", got, err)
	}
	if err := storage.GetJSON(ctx, db, "r/z", &got); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("GetJSON(missing) = %v, want ErrNotFound", err)
	}
	all, err := storage.ListJSON[rec](ctx, db, "r/", "r/b", 0)
	if err != nil || len(all) != 2 || all[0].N != 2 || all[1].N != 3 {
		t.Errorf("ListJSON = %+v, %v", all, err)
	}
	_ = db.Put(ctx, "r/zz", []byte("{not json"))
	if _, err := storage.ListJSON[rec](ctx, db, "r/", "", 0); err == nil {
		t.Error("ListJSON decoded garbage")
	}
}
