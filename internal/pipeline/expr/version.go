package expr

import (
	"math"
	"strconv"
	"strings"
)

// Version is a .NET-style version: Major.Minor[.Build[.Revision]]. Build and Revision are -1
// when absent, and an absent component orders before any present one (1.2 < 1.2.0), as
// System.Version does.
type Version struct {
	Major, Minor, Build, Revision int
}

// ParseVersion parses two to four dot-separated non-negative 32-bit integers, as .NET's
// Version.TryParse does (each component may carry surrounding white space and a '+').
func ParseVersion(s string) (Version, bool) {
	parts := strings.Split(s, ".")
	if len(parts) < 2 || len(parts) > 4 {
		return Version{}, false
	}
	v := Version{Build: -1, Revision: -1}
	dst := []*int{&v.Major, &v.Minor, &v.Build, &v.Revision}
	for i, p := range parts {
		n, ok := parseVersionComponent(p)
		if !ok {
			return Version{}, false
		}
		*dst[i] = n
	}
	return v, true
}

func parseVersionComponent(p string) (int, bool) {
	p = strings.TrimFunc(p, func(r rune) bool { return r < 128 && isDotNetSpace(byte(r)) })
	p = strings.TrimPrefix(p, "+")
	if p == "" {
		return 0, false
	}
	for i := 0; i < len(p); i++ {
		if p[i] < '0' || p[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(p, 10, 64)
	if err != nil || n > math.MaxInt32 {
		return 0, false
	}
	return int(n), true
}

// String prints the defined components ("1.2", "1.2.3" or "1.2.3.4").
func (v Version) String() string {
	var b strings.Builder
	b.WriteString(strconv.Itoa(v.Major))
	b.WriteByte('.')
	b.WriteString(strconv.Itoa(v.Minor))
	if v.Build >= 0 {
		b.WriteByte('.')
		b.WriteString(strconv.Itoa(v.Build))
		if v.Revision >= 0 {
			b.WriteByte('.')
			b.WriteString(strconv.Itoa(v.Revision))
		}
	}
	return b.String()
}

// Compare returns -1, 0 or 1 ordering v before, equal to or after w.
func (v Version) Compare(w Version) int {
	a := [4]int{v.Major, v.Minor, v.Build, v.Revision}
	b := [4]int{w.Major, w.Minor, w.Build, w.Revision}
	for i := range a {
		switch {
		case a[i] < b[i]:
			return -1
		case a[i] > b[i]:
			return 1
		}
	}
	return 0
}
