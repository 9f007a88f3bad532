package authz

import (
	"regexp"
	"strings"
	"testing"
)

func TestMatchAction(t *testing.T) {
	tests := []struct {
		name, pattern, action string
		want                  bool
	}{
		{"exact", "Microsoft.KeyVault/vaults/read", "Microsoft.KeyVault/vaults/read", true},
		{"case-insensitive", "microsoft.keyvault/VAULTS/read", "Microsoft.KeyVault/vaults/Read", true},
		{"different action", "Microsoft.KeyVault/vaults/read", "Microsoft.KeyVault/vaults/write", false},
		{"prefix is not a match", "Microsoft.KeyVault/vaults/read", "Microsoft.KeyVault/vaults/readx", false},
		{"star matches everything", "*", "Microsoft.Anything/at/all", true},
		{"star/read nested", "*/read", "Microsoft.Resources/subscriptions/resourceGroups/read", true},
		{"star/read not write", "*/read", "Microsoft.Resources/subscriptions/resourceGroups/write", false},
		{"star/read not readMetadata", "*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", false},
		{"provider star", "Microsoft.KeyVault/*", "Microsoft.KeyVault/vaults/accessPolicies/write", true},
		{"provider star other provider", "Microsoft.KeyVault/*", "Microsoft.KeyVaultX/vaults/write", false},
		{"provider star not the bare provider", "Microsoft.KeyVault/*", "Microsoft.KeyVault", false},
		{"secrets star", "Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action", true},
		{"secrets star not keys", "Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/keys/read", false},
		{"middle star one segment", "Microsoft.Authorization/*/read", "Microsoft.Authorization/roleAssignments/read", true},
		{"middle star several segments", "Microsoft.Network/*/read", "Microsoft.Network/virtualNetworks/subnets/read", true},
		{"middle star zero segments", "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/read", true},
		{"middle star zero segments assign", "Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action", "Microsoft.ManagedIdentity/userAssignedIdentities/assign/action", true},
		{"middle star does not split a segment", "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaultsread", false},
		{"middle star needs the suffix", "Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/readMetadata/action", false},
		{"Authorization star Write", "Microsoft.Authorization/*/Write", "Microsoft.Authorization/roleAssignments/write", true},
		{"Authorization star Delete", "Microsoft.Authorization/*/Delete", "Microsoft.Authorization/roleAssignments/delete", true},
		{"two stars", "Microsoft.CostManagement/*/query/*", "Microsoft.CostManagement/externalBillingAccounts/query/action", true},
		{"two stars miss", "Microsoft.CostManagement/*/query/*", "Microsoft.CostManagement/exports/read", false},
		{"partial segment star", "Microsoft.Compute/virtualMachines/*", "Microsoft.Compute/virtualMachines/start/action", true},
		{"trailing star in segment", "Microsoft.KeyVault/vaults/secrets/get*", "Microsoft.KeyVault/vaults/secrets/getSecret/action", true},
		{"empty pattern", "", "Microsoft.KeyVault/vaults/read", false},
		{"empty action", "*", "", true},
		{"empty both", "", "", true},
		{"star then literal backtracking", "*a/b", "xa/ya/b", true},
		{"segment star backtracking", "a/*/b/c", "a/b/x/b/c", true},
		{"segment star cannot end mid-segment", "a/*/b", "a/xb", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := MatchAction(tt.pattern, tt.action); got != tt.want {
				t.Errorf("MatchAction(%q, %q) = %v, want %v", tt.pattern, tt.action, got, tt.want)
			}
		})
	}
}

func TestMatchActionDoesNotAllocate(t *testing.T) {
	allocs := testing.AllocsPerRun(100, func() {
		MatchAction("Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/secrets/read")
	})
	if allocs != 0 {
		t.Errorf("MatchAction allocated %v times", allocs)
	}
}

func TestCheckActionPattern(t *testing.T) {
	tests := []struct {
		name, pattern string
		data          bool
		maxStars      int
		wantErr       string
	}{
		{"plain", "Microsoft.KeyVault/vaults/read", false, 1, ""},
		{"star", "*", false, 1, ""},
		{"star read", "*/read", false, 1, ""},
		{"data secrets star", "Microsoft.KeyVault/vaults/secrets/*", true, 1, ""},
		{"empty", "", false, 1, "empty action"},
		{"two stars for a custom role", "Microsoft.CostManagement/*/query/*", false, 1, "at most 1"},
		{"adjacent stars", "Microsoft.KeyVault/**", false, 2, "two wildcards in a row"},
		{"data bare star", "*", true, 1, "must name a resource provider"},
		{"data star read", "*/read", true, 1, "must name a resource provider"},
		{"space", "Microsoft.KeyVault/vaults/ read", false, 1, "character ' '"},
		{"empty segment", "Microsoft.KeyVault//read", false, 1, "empty segment"},
		{"trailing slash", "Microsoft.KeyVault/vaults/", false, 1, "empty segment"},
		{"no slash", "Microsoft.KeyVault", false, 1, "must look like"},
		{"namespace wildcard", "Microsoft.Key*/vaults/read", false, 1, "namespace cannot hold a wildcard"},
		{"namespace without dot", "KeyVault/vaults/read", false, 1, "Company.Provider"},
		{"quote", "Microsoft.KeyVault/vaults/'read", false, 1, "character '\\''"},
		{"too long", "Microsoft.KeyVault/" + strings.Repeat("a", maxActionLength), false, 1, "longer than"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := checkActionPattern(tt.pattern, tt.data, tt.maxStars)
			if tt.wantErr == "" {
				if err != nil {
					t.Errorf("checkActionPattern(%q) = %v, want nil", tt.pattern, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("checkActionPattern(%q) = %v, want an error containing %q", tt.pattern, err, tt.wantErr)
			}
		})
	}
}

// referenceMatch is an independent statement of MatchAction's semantics as a regular
// expression: '*' is ".*", and a whole-segment "/*/" may also be a single "/".
// Both strings must be ASCII; case is folded before matching.
func referenceMatch(pattern, action string) bool {
	pattern, action = strings.ToLower(pattern), strings.ToLower(action)
	var b strings.Builder
	b.WriteString("(?s)^")
	for i := 0; i < len(pattern); i++ {
		switch {
		case pattern[i] == '*' && isSegmentStar(pattern, i):
			b.WriteString("(?:.*/)?")
			i++ // the '/' after the star is part of the optional group
		case pattern[i] == '*':
			b.WriteString(".*")
		default:
			b.WriteString(regexp.QuoteMeta(pattern[i : i+1]))
		}
	}
	b.WriteString("$")
	return regexp.MustCompile(b.String()).MatchString(action)
}

// FuzzMatchAction checks MatchAction against the regular-expression reference and the
// properties every pattern must have.
func FuzzMatchAction(f *testing.F) {
	seeds := [][2]string{
		{"*/read", "Microsoft.Resources/subscriptions/read"},
		{"Microsoft.KeyVault/vaults/*/read", "Microsoft.KeyVault/vaults/read"},
		{"Microsoft.KeyVault/vaults/secrets/*", "Microsoft.KeyVault/vaults/secrets/getSecret/action"},
		{"Microsoft.Authorization/*/Write", "microsoft.authorization/roleassignments/write"},
		{"a/*/b/*/c", "a/x/b/y/b/c"},
		{"*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"},
		{"a/*/", "a//"},
		{"", ""},
	}
	for _, s := range seeds {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, pattern, action string) {
		if len(pattern) > 64 || len(action) > 256 {
			return
		}
		got := MatchAction(pattern, action)
		if !isASCII(pattern) || !isASCII(action) {
			return // action strings are ASCII; the reference folds ASCII only
		}
		if want := referenceMatch(pattern, action); got != want {
			t.Fatalf("MatchAction(%q, %q) = %v, reference says %v", pattern, action, got, want)
		}
		if !strings.Contains(pattern, "*") && got != equalFoldASCII(pattern, action) {
			t.Fatalf("MatchAction(%q, %q) = %v for a pattern without wildcards", pattern, action, got)
		}
		if !MatchAction("*", action) {
			t.Fatalf("\"*\" must match %q", action)
		}
		if !strings.Contains(action, "*") && !MatchAction(action, action) {
			t.Fatalf("%q must match itself", action)
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}
