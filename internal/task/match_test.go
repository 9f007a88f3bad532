package task

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var matchPaths = []string{
	"/src",
	"/src/.hidden",
	"/src/a.txt",
	"/src/dir",
	"/src/dir/.c.txt",
	"/src/dir/b.txt",
	"/src/dir/sub",
	"/src/dir/sub/d.md",
	"/src/{x,y}.txt",
	"/src/[br].txt",
}

func TestMatch(t *testing.T) {
	tests := []struct {
		name     string
		patterns []string
		want     []string
	}{
		{"globstar lists everything below the root but not the root", []string{"**"}, matchPaths[1:]},
		{"star stays in one directory and matches dot files", []string{"*"}, []string{"/src/.hidden", "/src/a.txt", "/src/dir", "/src/{x,y}.txt", "/src/[br].txt"}},
		{"extension anywhere", []string{"**/*.txt"}, []string{"/src/a.txt", "/src/dir/.c.txt", "/src/dir/b.txt", "/src/{x,y}.txt", "/src/[br].txt"}},
		{"single file", []string{"a.txt"}, []string{"/src/a.txt"}},
		{"exclude after include", []string{"**/*.txt", "!dir/**"}, []string{"/src/a.txt", "/src/{x,y}.txt", "/src/[br].txt"}},
		{"double negation includes", []string{"!!a.txt"}, []string{"/src/a.txt"}},
		{"order matters: include after exclude wins", []string{"!a.txt", "a.txt"}, []string{"/src/a.txt"}},
		{"exclude only matches nothing", []string{"!a.txt"}, []string{}},
		{"comments and blank lines skipped", []string{"# a comment", "", "  ", "dir/b.txt"}, []string{"/src/dir/b.txt"}},
		{"braces are literal", []string{"{x,y}.txt"}, []string{"/src/{x,y}.txt"}},
		{"brace alternatives do not expand", []string{"{a,dir/b}.txt"}, []string{}},
		{"character class", []string{"[ab].txt"}, []string{"/src/a.txt"}},
		{"escaped bracket", []string{`\[br\].txt`}, []string{"/src/[br].txt"}},
		{"rooted pattern is not re-rooted", []string{"/src/dir/*.txt"}, []string{"/src/dir/.c.txt", "/src/dir/b.txt"}},
		{"globstar matches zero directories", []string{"dir/**/d.md", "dir/**/b.txt"}, []string{"/src/dir/b.txt", "/src/dir/sub/d.md"}},
		{"question mark", []string{"?.txt"}, []string{"/src/a.txt"}},
		{"trailing globstar needs a segment", []string{"dir/**"}, []string{"/src/dir/.c.txt", "/src/dir/b.txt", "/src/dir/sub", "/src/dir/sub/d.md"}},
		{"case sensitive", []string{"A.TXT"}, []string{}},
		{"result keeps find order and has no duplicates", []string{"dir/b.txt", "a.txt", "**/b.txt"}, []string{"/src/a.txt", "/src/dir/b.txt"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Match(matchPaths, tt.patterns, "/src")
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Match(%q) mismatch (-want +got):\n%s", tt.patterns, diff)
			}
		})
	}
}

func TestMatchErrors(t *testing.T) {
	for _, p := range []string{"+(a|b).txt", "dir/@(x)", "x/!(a).txt", "[unclosed"} {
		if _, err := Match(matchPaths, []string{p}, "/src"); err == nil {
			t.Errorf("Match(%q): want an error", p)
		}
	}
}

func TestMatchRootWithGlobCharacters(t *testing.T) {
	paths := []string{"/a[1]", "/a[1]/f", "/a1/f"}
	got, err := Match(paths, []string{"*"}, "/a[1]")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"/a[1]/f"}, got); diff != "" {
		t.Errorf("mismatch (-want +got):\n%s", diff)
	}
}

func TestFind(t *testing.T) {
	root := t.TempDir()
	mk := func(p string) {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(root, p)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(root, p), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mk("b/z")
	mk("a")
	mk("b/y/x")
	if err := os.Symlink(root, filepath.Join(root, "b", "loop")); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(root, "missing"), filepath.Join(root, "broken")); err != nil {
		t.Fatal(err)
	}
	got, err := Find(root)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"", "a", "b", "b/loop", "b/y", "b/y/x", "b/z", "broken"}
	for i := range want {
		want[i] = filepath.Join(root, want[i])
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Find mismatch (-want +got):\n%s", diff)
	}
	if got, err := Find(filepath.Join(root, "nope")); err != nil || len(got) != 0 {
		t.Errorf("Find(missing) = %v, %v; want empty, nil", got, err)
	}
}

func FuzzMatch(f *testing.F) {
	for _, s := range []string{"**", "!a", "{a,b}", "[", `\`, "+(x)", "a/**", "#c", "!!**/*.txt"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, pattern string) {
		got, err := Match(matchPaths, []string{pattern}, "/src")
		if err != nil {
			return
		}
		for _, p := range got {
			found := false
			for _, q := range matchPaths {
				found = found || p == q
			}
			if !found {
				t.Fatalf("Match returned %q, not an input path", p)
			}
		}
	})
}
