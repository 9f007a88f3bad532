package odata

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []Term
		bad  bool
	}{
		{in: "", want: nil},
		{in: "atScope()", want: []Term{{Name: "atScope", Call: true}}},
		{in: "principalId eq 'abc'", want: []Term{{Name: "principalId", Value: "abc"}}},
		{in: "atScope() and assignedTo('x')", want: []Term{{Name: "atScope", Call: true}, {Name: "assignedTo", Call: true, Args: []string{"x"}}}},
		{in: "roleName eq 'O''Brien'", want: []Term{{Name: "roleName", Value: "O'Brien"}}},
		{in: "startswith(displayName,'my app')", want: []Term{{Name: "startswith", Call: true, Args: []string{"displayName", "my app"}}}},
		{in: "servicePrincipalNames/any(c:c eq 'abc')", want: []Term{{Name: "servicePrincipalNames/any", Call: true, Lambda: true, Any: "abc"}}},
		{in: "appId EQ 'a'  AND  displayName eq 'b'", want: []Term{{Name: "appId", Value: "a"}, {Name: "displayName", Value: "b"}}},
		{in: "a ne 'b'", bad: true},
		{in: "a eq 'b' or c eq 'd'", bad: true},
		{in: "a eq 'b", bad: true},
		{in: "f('a'", bad: true},
		{in: "x/any(c:d eq 'a')", bad: true},
		{in: "and", bad: true},
		{in: "'x'", bad: true},
	} {
		got, err := Parse(tc.in)
		if tc.bad {
			if err == nil || !errors.Is(err, ErrSyntax) {
				t.Errorf("Parse(%q) = %+v, %v; want a syntax error", tc.in, got, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tc.in, err)
			continue
		}
		if d := cmp.Diff(tc.want, got); d != "" {
			t.Errorf("Parse(%q) mismatch (-want +got):\n%s", tc.in, d)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"atScope()", "principalId eq 'x'", "startswith(displayName,'a')", "servicePrincipalNames/any(c:c eq 'x')", "a eq 'b' and c eq ''''", "f(", "(", "x/any(c:"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		terms, err := Parse(s)
		if err != nil && !errors.Is(err, ErrSyntax) {
			t.Fatalf("Parse(%q) error %v does not wrap ErrSyntax", s, err)
		}
		for _, term := range terms {
			if term.Name == "" {
				t.Fatalf("Parse(%q) gave a term without a name", s)
			}
		}
	})
}
