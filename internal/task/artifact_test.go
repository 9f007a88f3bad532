package task

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
)

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestLocalArtifacts(t *testing.T) {
	ctx := context.Background()
	root, src := t.TempDir(), t.TempDir()
	write(t, filepath.Join(src, "a", "x.txt"), "x")
	write(t, filepath.Join(src, "a", "y.md"), "y")
	write(t, filepath.Join(src, "single.bin"), "s")
	s := NewLocalArtifacts(root)

	if _, err := s.Publish(ctx, 1, "drop", Container, "", filepath.Join(src, "a")); err != nil {
		t.Fatal(err)
	}
	a, err := s.Publish(ctx, 1, "drop", Container, "more", filepath.Join(src, "single.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if a.Files != 3 || a.ID != 1 {
		t.Errorf("merged container artifact = %+v", a)
	}
	if _, err := s.Publish(ctx, 1, "pipe", Pipeline, "", filepath.Join(src, "a")); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Publish(ctx, 1, "pipe", Pipeline, "", filepath.Join(src, "a")); err == nil {
		t.Error("a pipeline artifact was published twice")
	}
	if _, err := s.Publish(ctx, 1, "drop", Pipeline, "", src); err == nil {
		t.Error("a pipeline artifact replaced a container artifact")
	}
	for _, bad := range []string{"", "a/b", `a\b`, "a:b", "x*", indexName} {
		if _, err := s.Publish(ctx, 1, bad, Container, "", src); err == nil {
			t.Errorf("name %q accepted", bad)
		}
	}
	list, err := s.List(ctx, 1)
	if err != nil || len(list) != 2 || list[0].Name != "drop" || list[1].Name != "pipe" {
		t.Errorf("List = %+v, %v", list, err)
	}
	if list, _ := s.List(ctx, 2); len(list) != 0 {
		t.Errorf("List(other run) = %+v", list)
	}

	dest := t.TempDir()
	n, err := s.Download(ctx, 1, "drop", dest, []string{"**/*.txt", "**/*.bin"})
	if err != nil || n != 2 {
		t.Fatalf("Download = %d, %v", n, err)
	}
	for _, p := range []string{"x.txt", "more/single.bin"} {
		if _, err := os.Stat(filepath.Join(dest, p)); err != nil {
			t.Error(err)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "y.md")); err == nil {
		t.Error("pattern did not exclude y.md")
	}
	if _, err := s.Download(ctx, 1, "nope", dest, nil); !errors.Is(err, ErrArtifactNotFound) {
		t.Errorf("Download(nope) error = %v", err)
	}
}
