package task

import (
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestCopyWorkingTreeSkipsTheWorkFolderInside covers `keystage run`'s default layout, where
// the agent's work folder lives inside the repository being checked out.
func TestCopyWorkingTreeSkipsTheWorkFolderInside(t *testing.T) {
	repo := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(repo, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("azure-pipelines.yml", "steps: []\n")
	write("src/main.go", "package main\n")
	write("_work/agent2/1/s/stale.txt", "another job's checkout\n")
	dest := filepath.Join(repo, "_work", "agent1", "1", "s")
	if err := os.MkdirAll(dest, 0o755); err != nil {
		t.Fatal(err)
	}
	n, err := copyWorkingTree(context.Background(), repo, dest)
	if err != nil {
		t.Fatal(err)
	}
	if n != 2 {
		t.Errorf("copied %d files, want 2 (the work folder must be left out)", n)
	}
	for _, rel := range []string{"azure-pipelines.yml", "src/main.go"} {
		if _, err := os.Stat(filepath.Join(dest, rel)); err != nil {
			t.Errorf("%s not copied: %v", rel, err)
		}
	}
	if _, err := os.Stat(filepath.Join(dest, "_work")); !os.IsNotExist(err) {
		t.Errorf("the work folder was copied into the checkout (stat err %v)", err)
	}
}
