package task

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/bmatcuk/doublestar/v4"
)

// Find lists root and everything below it the way task-lib's find does with the options
// CopyFiles passes: depth first, children in name order, symbolic links followed (a
// directory cycle is not entered twice), broken links listed as files. A missing root gives
// an empty list.
func Find(root string) ([]string, error) {
	if _, err := os.Lstat(root); err != nil {
		if os.IsNotExist(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("find %s: %w", root, err)
	}
	var out []string
	var walk func(path string, ancestors map[string]bool) error
	walk = func(path string, ancestors map[string]bool) error {
		out = append(out, path)
		fi, err := os.Stat(path) // follows links
		if err != nil {
			if os.IsNotExist(err) {
				return nil // broken link: listed, not descended
			}
			return fmt.Errorf("find %s: %w", path, err)
		}
		if !fi.IsDir() {
			return nil
		}
		real, err := filepath.EvalSymlinks(path)
		if err != nil {
			return fmt.Errorf("find %s: %w", path, err)
		}
		if ancestors[real] {
			return nil // cycle
		}
		ancestors[real] = true
		defer delete(ancestors, real)
		entries, err := os.ReadDir(path)
		if err != nil {
			return fmt.Errorf("find %s: %w", path, err)
		}
		for _, e := range entries {
			if err := walk(filepath.Join(path, e.Name()), ancestors); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(root, map[string]bool{}); err != nil {
		return nil, err
	}
	return out, nil
}

// Match filters paths with task-lib's match semantics and returns the matches in the order
// of paths. Patterns apply in order: blank lines are skipped, `#` starts a comment, a leading
// run of `!` makes the pattern an exclude (odd count) or include (even count); relative
// patterns are rooted at root. Each pattern is a minimatch glob with the options task-lib
// uses: dot files match, no brace expansion, `**` crosses directories, case-sensitive.
//
// Globs are matched with doublestar, which differs from minimatch in two ways handled here:
// doublestar always expands braces (so braces are escaped to stay literal), and it has no
// extended globs (`+(a|b)` and the like), which give an error naming the pattern.
func Match(paths, patterns []string, root string) ([]string, error) {
	matched := map[string]bool{}
	for _, raw := range patterns {
		pattern := strings.TrimSpace(raw)
		if pattern == "" || strings.HasPrefix(pattern, "#") {
			continue
		}
		negate := 0
		for negate < len(pattern) && pattern[negate] == '!' {
			negate++
		}
		pattern = pattern[negate:]
		include := negate%2 == 0
		pattern = strings.TrimSpace(pattern)
		if pattern == "" {
			continue
		}
		if hasExtglob(pattern) {
			return nil, fmt.Errorf("match pattern %q uses an extended glob, which is not supported", raw)
		}
		if root != "" && !filepath.IsAbs(pattern) {
			pattern = strings.TrimSuffix(escapeGlob(filepath.ToSlash(root)), "/") + "/" + pattern
		}
		pattern = escapeBraces(pattern)
		if !doublestar.ValidatePattern(pattern) {
			return nil, fmt.Errorf("match pattern %q is not a valid glob", raw)
		}
		// minimatch's trailing globstar needs at least one segment ("a/**" does not match
		// "a"); doublestar lets it match none.
		var parent string
		if cut, ok := strings.CutSuffix(pattern, "/**"); ok && !strings.HasSuffix(cut, "**") {
			parent = cut
		}
		for _, p := range paths {
			slash := filepath.ToSlash(p)
			if doublestar.MatchUnvalidated(pattern, slash) && (parent == "" || !doublestar.MatchUnvalidated(parent, slash)) {
				if include {
					matched[p] = true
				} else {
					delete(matched, p)
				}
			}
		}
	}
	out := make([]string, 0, len(matched))
	seen := map[string]bool{}
	for _, p := range paths {
		if matched[p] && !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out, nil
}

// escapeGlob escapes glob metacharacters in a literal path (task-lib escapes only a `[` in
// the pattern root; escaping all of them keeps roots like "a*b" literal too).
func escapeGlob(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch r {
		case '*', '?', '[', ']', '{', '}', '\\':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// escapeBraces makes `{` and `}` literal, since minimatch runs with nobrace.
func escapeBraces(s string) string {
	var b strings.Builder
	escaped := false
	for _, r := range s {
		if escaped {
			b.WriteRune(r)
			escaped = false
			continue
		}
		switch r {
		case '\\':
			escaped = true
		case '{', '}':
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// hasExtglob reports whether pattern uses minimatch's extended glob syntax, such as
// `+(a|b)`, `@(x)`, `!(x)`, `?(x)` or `*(x)`, outside the leading negation.
func hasExtglob(pattern string) bool {
	for i := 1; i < len(pattern); i++ {
		if pattern[i] == '(' && strings.IndexByte("?*+@!", pattern[i-1]) >= 0 && (i < 2 || pattern[i-2] != '\\') {
			return true
		}
	}
	return false
}
