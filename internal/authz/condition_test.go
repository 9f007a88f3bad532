package authz

import (
	"errors"
	"strings"
	"testing"
)

const (
	raWrite  = "Microsoft.Authorization/roleAssignments/write"
	raDelete = "Microsoft.Authorization/roleAssignments/delete"
)

// constrainRolesAndTypes is the "Constrain roles and principal types" delegation condition of
// Azure's documentation, allowing Key Vault Secrets User and Key Vault Reader for users and
// service principals.
const constrainRolesAndTypes = `(
 (
  !(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})
 )
 OR
 (
  @Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {4633458b-17de-408a-b874-0445c86b69e6, 21090545-7ca7-4776-b22c-e363652d74d2}
  AND
  @Request[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'User', 'ServicePrincipal'}
 )
)
AND
(
 (
  !(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})
 )
 OR
 (
  @Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {4633458b-17de-408a-b874-0445c86b69e6, 21090545-7ca7-4776-b22c-e363652d74d2}
  AND
  @Resource[Microsoft.Authorization/roleAssignments:PrincipalType] ForAnyOfAnyValues:StringEqualsIgnoreCase {'User', 'ServicePrincipal'}
 )
)`

// excludePrivileged is the "Allow most roles, but don't allow others to assign roles"
// condition: anything but Owner, Role Based Access Control Administrator and User Access
// Administrator.
const excludePrivileged = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {8e3af657-a8ff-443c-a75c-2fe8c4bcb635, f58310d9-a9f6-439a-9e8d-f62e7b41a168, 18d7d88d-d35e-4fb5-a5c3-7773c20a72d9})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAllValues:GuidNotEquals {8e3af657-a8ff-443c-a75c-2fe8c4bcb635, f58310d9-a9f6-439a-9e8d-f62e7b41a168, 18d7d88d-d35e-4fb5-a5c3-7773c20a72d9}))"

func attrs(roleID string, typ PrincipalType) *RoleAssignmentAttributes {
	return &RoleAssignmentAttributes{
		RoleDefinitionID: "/subscriptions/" + testSub + "/providers/Microsoft.Authorization/roleDefinitions/" + roleID,
		PrincipalID:      "9a4e3c1e-4d0a-4c67-8a7a-1d2c3b4a5f60",
		PrincipalType:    typ,
	}
}

func TestConditionEvaluate(t *testing.T) {
	tests := []struct {
		name, cond string
		req        Request
		want       bool
	}{
		{"Data Access Administrator: Secrets User may be assigned", keyVaultDataAccessAdministratorCondition,
			Request{Action: raWrite, RequestAttributes: attrs(KeyVaultSecretsUserRoleID, PrincipalServicePrincipal)}, true},
		{"Data Access Administrator: Owner may not be assigned", keyVaultDataAccessAdministratorCondition,
			Request{Action: raWrite, RequestAttributes: attrs(OwnerRoleID, PrincipalUser)}, false},
		{"Data Access Administrator: Contributor assignment may not be deleted", keyVaultDataAccessAdministratorCondition,
			Request{Action: raDelete, ResourceAttributes: attrs(ContributorRoleID, PrincipalUser)}, false},
		{"Data Access Administrator: Crypto User assignment may be deleted", keyVaultDataAccessAdministratorCondition,
			Request{Action: raDelete, ResourceAttributes: attrs(KeyVaultCryptoUserRoleID, PrincipalGroup)}, true},
		{"Data Access Administrator: other actions pass", keyVaultDataAccessAdministratorCondition,
			Request{Action: "Microsoft.KeyVault/vaults/read"}, true},
		{"Data Access Administrator: write without attributes fails closed", keyVaultDataAccessAdministratorCondition,
			Request{Action: raWrite}, false},
		{"Data Access Administrator: bare GUID attribute", keyVaultDataAccessAdministratorCondition,
			Request{Action: raWrite, RequestAttributes: &RoleAssignmentAttributes{RoleDefinitionID: strings.ToUpper(KeyVaultReaderRoleID)}}, true},
		{"roles and types: allowed role and type", constrainRolesAndTypes,
			Request{Action: raWrite, RequestAttributes: attrs(KeyVaultReaderRoleID, PrincipalUser)}, true},
		{"roles and types: type is case-insensitive", constrainRolesAndTypes,
			Request{Action: raWrite, RequestAttributes: attrs(KeyVaultReaderRoleID, "serviceprincipal")}, true},
		{"roles and types: group refused", constrainRolesAndTypes,
			Request{Action: raWrite, RequestAttributes: attrs(KeyVaultReaderRoleID, PrincipalGroup)}, false},
		{"roles and types: other role refused", constrainRolesAndTypes,
			Request{Action: raWrite, RequestAttributes: attrs(KeyVaultSecretsOfficerRoleID, PrincipalUser)}, false},
		{"roles and types: missing type refused", constrainRolesAndTypes,
			Request{Action: raWrite, RequestAttributes: attrs(KeyVaultReaderRoleID, "")}, false},
		{"roles and types: delete checks the resource", constrainRolesAndTypes,
			Request{Action: raDelete, RequestAttributes: attrs(KeyVaultReaderRoleID, PrincipalUser), ResourceAttributes: attrs(OwnerRoleID, PrincipalUser)}, false},
		{"exclude privileged: Reader allowed", excludePrivileged,
			Request{Action: raWrite, RequestAttributes: attrs(ReaderRoleID, PrincipalUser)}, true},
		{"exclude privileged: User Access Administrator refused", excludePrivileged,
			Request{Action: raWrite, RequestAttributes: attrs(UserAccessAdministratorRoleID, PrincipalUser)}, false},
		{"symbols and single values", "!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'}) || @Request[Microsoft.Authorization/roleAssignments:PrincipalId] GuidEquals 9a4e3c1e-4d0a-4c67-8a7a-1d2c3b4a5f60",
			Request{Action: raWrite, RequestAttributes: attrs(ReaderRoleID, PrincipalUser)}, true},
		{"NOT keyword and lower-case and", "not ActionMatches{'Microsoft.Authorization/*'} and ActionMatches{'*/read'}",
			Request{Action: "Microsoft.KeyVault/vaults/read"}, true},
		{"StringEquals is case-sensitive", "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringEquals 'user'",
			Request{RequestAttributes: attrs(ReaderRoleID, PrincipalUser)}, false},
		{"StringNotEqualsIgnoreCase", "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringNotEqualsIgnoreCase 'group'",
			Request{RequestAttributes: attrs(ReaderRoleID, PrincipalUser)}, true},
		{"ForAllOfAllValues:GuidNotEquals", "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAllOfAllValues:GuidNotEquals {" + OwnerRoleID + ", " + ReaderRoleID + "}",
			Request{RequestAttributes: attrs(ReaderRoleID, PrincipalUser)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCondition(tt.cond, "2.0")
			if err != nil {
				t.Fatalf("ParseCondition: %v", err)
			}
			if c.String() != tt.cond {
				t.Errorf("String() does not return the text")
			}
			if got := c.Evaluate(&tt.req); got != tt.want {
				t.Errorf("Evaluate = %v, want %v", got, tt.want)
			}
		})
	}
}

func TestParseConditionErrors(t *testing.T) {
	guidAttr := "@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId]"
	tests := []struct {
		name, cond, version string
		unsupported         bool
		wantErr             string
	}{
		{"version 1.0", "ActionMatches{'*/read'}", "1.0", true, "conditionVersion 1.0"},
		{"unknown version", "ActionMatches{'*/read'}", "3.0", false, "conditionVersion \"3.0\""},
		{"SubOperationMatches", "!(ActionMatches{'Microsoft.Storage/storageAccounts/blobServices/containers/blobs/read'} AND SubOperationMatches{'Blob.List'})", "", true, "SubOperationMatches"},
		{"principal attribute", "@Principal[Microsoft.Directory/CustomSecurityAttributes/Id:Eng_Project] StringEquals 'Cascade'", "", true, "@Principal"},
		{"environment attribute", "@Environment[isPrivateLink] BoolEquals true", "", true, "@Environment"},
		{"storage attribute", "@Resource[Microsoft.Storage/storageAccounts/blobServices/containers:name] StringEquals 'logs'", "", true, "Microsoft.Storage"},
		{"other role assignment attribute", "@Request[Microsoft.Authorization/roleAssignments:Scope] StringEquals 'x'", "", true, "is not supported"},
		{"StringLike", "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] StringLike 'U*'", "", true, "operator StringLike"},
		{"NumericEquals", "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] NumericEquals 1", "", true, "operator NumericEquals"},
		{"empty", "  ", "", false, "empty"},
		{"unbalanced", "(ActionMatches{'*/read'}", "", false, "expected ')'"},
		{"mixed AND OR", "ActionMatches{'a.b/c'} AND ActionMatches{'a.b/d'} OR ActionMatches{'a.b/e'}", "", false, "mixed without parentheses"},
		{"bad GUID", guidAttr + " GuidEquals {not-a-guid}", "", false, "not a GUID"},
		{"string operator on GUID", guidAttr + " StringEquals 'x'", "", false, "cannot compare the GUID attribute"},
		{"GUID operator on string", "@Request[Microsoft.Authorization/roleAssignments:PrincipalType] GuidEquals " + ReaderRoleID, "", false, "cannot compare the string attribute"},
		{"list without quantifier", guidAttr + " GuidEquals {" + ReaderRoleID + ", " + OwnerRoleID + "}", "", false, "takes one value"},
		{"unknown quantifier", guidAttr + " ForSomeValues:GuidEquals {" + ReaderRoleID + "}", "", false, "unknown quantifier"},
		{"unknown operator", guidAttr + " Equals " + ReaderRoleID, "", false, "unknown operator"},
		{"unterminated string", "ActionMatches{'*/read}", "", false, "unterminated string"},
		{"attribute without bracket", "@Request[Microsoft.Authorization/roleAssignments:PrincipalType StringEquals 'x'", "", false, "]"},
		{"trailing tokens", "ActionMatches{'*/read'} )", "", false, "after the end"},
		{"bad action pattern", "ActionMatches{'read'}", "", false, "ActionMatches"},
		{"two action patterns", "ActionMatches{'*/read', '*/write'}", "", false, "one action pattern"},
		{"dangling operator", "ActionMatches{'*/read'} AND", "", false, "unexpected end"},
		{"stray character", "ActionMatches{'*/read'} ; x", "", false, "character ';'"},
		{"too deep", strings.Repeat("(", maxConditionDepth+2) + "ActionMatches{'*/read'}" + strings.Repeat(")", maxConditionDepth+2), "", false, "deeper than"},
		{"too long", "ActionMatches{'*/read'}" + strings.Repeat(" ", MaxConditionLength), "", false, "longer than"},
		{"missing operator", guidAttr + " {" + ReaderRoleID + "}", "", false, "expected an operator"},
		{"missing values", guidAttr + " GuidEquals", "", false, "expected a value"},
		{"unclosed list", guidAttr + " ForAnyOfAnyValues:GuidEquals {" + ReaderRoleID, "", false, "expected ',' or '}'"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := ParseCondition(tt.cond, tt.version)
			if err == nil {
				t.Fatalf("ParseCondition(%q) = %v, want an error", tt.cond, c)
			}
			want := ErrInvalidCondition
			if tt.unsupported {
				want = ErrUnsupportedCondition
			}
			if !errors.Is(err, want) || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseCondition error = %v, want %v containing %q", err, want, tt.wantErr)
			}
		})
	}
}

// FuzzParseCondition checks that parsing never panics, that every error is classified, and that
// accepted conditions evaluate (without panicking) and keep their text.
func FuzzParseCondition(f *testing.F) {
	for _, s := range []string{
		keyVaultDataAccessAdministratorCondition, constrainRolesAndTypes, excludePrivileged,
		"!(ActionMatches{'*/read'}) || @Request[Microsoft.Authorization/roleAssignments:PrincipalId] GuidEquals 9a4e3c1e-4d0a-4c67-8a7a-1d2c3b4a5f60",
		"@Principal[x] StringEquals 'y'", "((((", "'", "@", "@Request[", "ActionMatches{", "NOT NOT NOT ActionMatches{'a.b/c'}",
	} {
		f.Add(s)
	}
	req := Request{Action: raWrite, RequestAttributes: attrs(ReaderRoleID, PrincipalUser), ResourceAttributes: attrs(OwnerRoleID, PrincipalGroup)}
	f.Fuzz(func(t *testing.T, text string) {
		c, err := ParseCondition(text, "2.0")
		if err != nil {
			if !errors.Is(err, ErrInvalidCondition) && !errors.Is(err, ErrUnsupportedCondition) {
				t.Fatalf("unclassified error %v", err)
			}
			return
		}
		if c.String() != text {
			t.Fatalf("String() = %q, want the input", c.String())
		}
		first := c.Evaluate(&req)
		if c.Evaluate(&req) != first {
			t.Fatal("Evaluate is not deterministic")
		}
		c.Evaluate(&Request{})
	})
}
