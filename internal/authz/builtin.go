package authz

// The Key Vault secrets data actions.
const (
	DataActionSecretGet          = "Microsoft.KeyVault/vaults/secrets/getSecret/action"
	DataActionSecretReadMetadata = "Microsoft.KeyVault/vaults/secrets/readMetadata/action"
	DataActionSecretSet          = "Microsoft.KeyVault/vaults/secrets/setSecret/action"
	DataActionSecretUpdate       = "Microsoft.KeyVault/vaults/secrets/update/action"
	DataActionSecretDelete       = "Microsoft.KeyVault/vaults/secrets/delete"
	DataActionSecretRecover      = "Microsoft.KeyVault/vaults/secrets/recover/action"
	DataActionSecretBackup       = "Microsoft.KeyVault/vaults/secrets/backup/action"
	DataActionSecretRestore      = "Microsoft.KeyVault/vaults/secrets/restore/action"
	DataActionSecretPurge        = "Microsoft.KeyVault/vaults/secrets/purge/action"
)

// The GUIDs of Keystage's built-in roles, the same in every Azure cloud.
const (
	OwnerRoleID                                = "8e3af657-a8ff-443c-a75c-2fe8c4bcb635"
	ContributorRoleID                          = "b24988ac-6180-42a0-ab88-20f7382dd24c"
	ReaderRoleID                               = "acdd72a7-3385-48ef-bd42-f606fba81ae7"
	UserAccessAdministratorRoleID              = "18d7d88d-d35e-4fb5-a5c3-7773c20a72d9"
	RoleBasedAccessControlAdministratorRoleID  = "f58310d9-a9f6-439a-9e8d-f62e7b41a168"
	KeyVaultAdministratorRoleID                = "00482a5a-887f-4fb3-b363-3b7fe8e74483"
	KeyVaultCertificateUserRoleID              = "db79e9a7-68ee-4b58-9aeb-b90e7c24fcba"
	KeyVaultCertificatesOfficerRoleID          = "a4417e6f-fecd-4de8-b567-7b0420556985"
	KeyVaultContributorRoleID                  = "f25e0fa2-a7c8-4377-a976-54943a77a395"
	KeyVaultCryptoOfficerRoleID                = "14b46e9e-c2b7-41b4-b07b-48a6ebf60603"
	KeyVaultCryptoServiceEncryptionUserRoleID  = "e147488a-f6f5-4113-8e2d-b22465e65bf6"
	KeyVaultCryptoServiceReleaseUserRoleID     = "08bbd89e-9f13-488c-ac41-acfcb10c90ab"
	KeyVaultCryptoUserRoleID                   = "12338af0-0e69-4776-bea7-57ae8d297424"
	KeyVaultDataAccessAdministratorRoleID      = "8b54135c-b56d-4d72-a534-26097cfdc8d8"
	KeyVaultReaderRoleID                       = "21090545-7ca7-4776-b22c-e363652d74d2"
	KeyVaultSecretsOfficerRoleID               = "b86a8fe4-44ce-4948-aee5-eccb2c155cd7"
	KeyVaultSecretsUserRoleID                  = "4633458b-17de-408a-b874-0445c86b69e6"
	ManagedIdentityContributorRoleID           = "e40ec5ca-96e0-45a2-b4ff-59039f2c2b59"
	ManagedIdentityOperatorRoleID              = "f1a07417-d97a-45cb-824c-7a7467783830"
	keyVaultRBACOnly                           = " Only works for key vaults that use the 'Azure role-based access control' permission model."
	keyVaultDataAccessAdministratorDescription = "Manage access to Azure Key Vault by adding or removing role assignments for the Key Vault Administrator, Key Vault Certificates Officer, Key Vault Crypto Officer, Key Vault Crypto Service Encryption User, Key Vault Crypto User, Key Vault Reader, Key Vault Secrets Officer, or Key Vault Secrets User roles. Includes an ABAC condition to constrain role assignments."
)

// keyVaultDataAccessAdministratorCondition is the ABAC condition of Key Vault Data Access
// Administrator's permission: role-assignment writes and deletes are limited to the Key Vault
// data roles.
const keyVaultDataAccessAdministratorCondition = "((!(ActionMatches{'Microsoft.Authorization/roleAssignments/write'})) OR (@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{00482a5a-887f-4fb3-b363-3b7fe8e74483, a4417e6f-fecd-4de8-b567-7b0420556985, 14b46e9e-c2b7-41b4-b07b-48a6ebf60603, e147488a-f6f5-4113-8e2d-b22465e65bf6, 12338af0-0e69-4776-bea7-57ae8d297424, 21090545-7ca7-4776-b22c-e363652d74d2, b86a8fe4-44ce-4948-aee5-eccb2c155cd7, 4633458b-17de-408a-b874-0445c86b69e6})) AND ((!(ActionMatches{'Microsoft.Authorization/roleAssignments/delete'})) OR (@Resource[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals{00482a5a-887f-4fb3-b363-3b7fe8e74483, a4417e6f-fecd-4de8-b567-7b0420556985, 14b46e9e-c2b7-41b4-b07b-48a6ebf60603, e147488a-f6f5-4113-8e2d-b22465e65bf6, 12338af0-0e69-4776-bea7-57ae8d297424, 21090545-7ca7-4776-b22c-e363652d74d2, b86a8fe4-44ce-4948-aee5-eccb2c155cd7, 4633458b-17de-408a-b874-0445c86b69e6}))"

// keyVaultControlActions are the control-plane actions most Key Vault data roles carry so
// their holders can see the vault and its resource group.
func keyVaultControlActions() []string {
	return []string{
		"Microsoft.Authorization/*/read",
		"Microsoft.Insights/alertRules/*",
		"Microsoft.Resources/deployments/*",
		"Microsoft.Resources/subscriptions/resourceGroups/read",
		"Microsoft.Support/*",
		"Microsoft.KeyVault/checkNameAvailability/read",
		"Microsoft.KeyVault/deletedVaults/read",
		"Microsoft.KeyVault/locations/*/read",
		"Microsoft.KeyVault/vaults/*/read",
		"Microsoft.KeyVault/operations/read",
	}
}

func builtin(id, name, description string, p Permission) RoleDefinition {
	if p.Actions == nil {
		p.Actions = []string{}
	}
	if p.NotActions == nil {
		p.NotActions = []string{}
	}
	if p.DataActions == nil {
		p.DataActions = []string{}
	}
	if p.NotDataActions == nil {
		p.NotDataActions = []string{}
	}
	return RoleDefinition{
		ID: id, RoleName: name, Description: description, RoleType: BuiltInRole,
		Permissions: []Permission{p}, AssignableScopes: []string{"/"},
	}
}

// BuiltinRoles returns fresh copies of Keystage's built-in role definitions, with the ids,
// names, descriptions, permissions, conditions and assignable scopes Azure publishes for
// them: Owner, Contributor, Reader, User Access Administrator, Role Based Access Control
// Administrator, the Key Vault roles and the Managed Identity roles. Build a RoleSet from them
// (together with any custom roles) with NewRoleSet.
func BuiltinRoles() []RoleDefinition {
	return []RoleDefinition{
		builtin(OwnerRoleID, "Owner",
			"Grants full access to manage all resources, including the ability to assign roles in Azure RBAC.",
			Permission{Actions: []string{"*"}}),
		builtin(ContributorRoleID, "Contributor",
			"Grants full access to manage all resources, but does not allow you to assign roles in Azure RBAC, manage assignments in Azure Blueprints, or share image galleries.",
			Permission{
				Actions: []string{"*"},
				NotActions: []string{
					"Microsoft.Authorization/*/Delete",
					"Microsoft.Authorization/*/Write",
					"Microsoft.Authorization/elevateAccess/Action",
					"Microsoft.Blueprint/blueprintAssignments/write",
					"Microsoft.Blueprint/blueprintAssignments/delete",
					"Microsoft.Compute/galleries/share/action",
					"Microsoft.Purview/consents/write",
					"Microsoft.Purview/consents/delete",
					"Microsoft.Resources/deploymentStacks/manageDenySetting/action",
					"Microsoft.Subscription/cancel/action",
					"Microsoft.Subscription/enable/action",
				},
			}),
		builtin(ReaderRoleID, "Reader",
			"View all resources, but does not allow you to make any changes.",
			Permission{Actions: []string{"*/read"}}),
		builtin(UserAccessAdministratorRoleID, "User Access Administrator",
			"Lets you manage user access to Azure resources.",
			Permission{Actions: []string{"*/read", "Microsoft.Authorization/*", "Microsoft.Support/*"}}),
		builtin(RoleBasedAccessControlAdministratorRoleID, "Role Based Access Control Administrator",
			"Manage access to Azure resources by assigning roles using Azure RBAC. This role does not allow you to manage access using other ways, such as Azure Policy.",
			Permission{Actions: []string{
				"Microsoft.Authorization/roleAssignments/write",
				"Microsoft.Authorization/roleAssignments/delete",
				"*/read",
				"Microsoft.Support/*",
			}}),
		builtin(KeyVaultAdministratorRoleID, "Key Vault Administrator",
			"Perform all data plane operations on a key vault and all objects in it, including certificates, keys, and secrets. Cannot manage key vault resources or manage role assignments."+keyVaultRBACOnly,
			Permission{Actions: keyVaultControlActions(), DataActions: []string{"Microsoft.KeyVault/vaults/*"}}),
		builtin(KeyVaultCertificateUserRoleID, "Key Vault Certificate User",
			"Read certificate contents."+keyVaultRBACOnly,
			Permission{DataActions: []string{
				"Microsoft.KeyVault/vaults/certificates/read",
				"Microsoft.KeyVault/vaults/secrets/getSecret/action",
				"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
				"Microsoft.KeyVault/vaults/keys/read",
			}}),
		builtin(KeyVaultCertificatesOfficerRoleID, "Key Vault Certificates Officer",
			"Perform any action on the certificates of a key vault, except manage permissions."+keyVaultRBACOnly,
			Permission{Actions: keyVaultControlActions(), DataActions: []string{
				"Microsoft.KeyVault/vaults/certificatecas/*",
				"Microsoft.KeyVault/vaults/certificates/*",
				"Microsoft.KeyVault/vaults/certificatecontacts/write",
			}}),
		builtin(KeyVaultContributorRoleID, "Key Vault Contributor",
			"Lets you manage key vaults, but not access to them.",
			Permission{
				Actions: []string{
					"Microsoft.Authorization/*/read",
					"Microsoft.Insights/alertRules/*",
					"Microsoft.KeyVault/*",
					"Microsoft.Resources/deployments/*",
					"Microsoft.Resources/subscriptions/resourceGroups/read",
					"Microsoft.Support/*",
				},
				NotActions: []string{
					"Microsoft.KeyVault/locations/deletedVaults/purge/action",
					"Microsoft.KeyVault/hsmPools/*",
					"Microsoft.KeyVault/managedHsms/*",
				},
			}),
		builtin(KeyVaultCryptoOfficerRoleID, "Key Vault Crypto Officer",
			"Perform any action on the keys of a key vault, except manage permissions."+keyVaultRBACOnly,
			Permission{Actions: keyVaultControlActions(), DataActions: []string{
				"Microsoft.KeyVault/vaults/keys/*",
				"Microsoft.KeyVault/vaults/keyrotationpolicies/*",
			}}),
		builtin(KeyVaultCryptoServiceEncryptionUserRoleID, "Key Vault Crypto Service Encryption User",
			"Read metadata of keys and perform wrap/unwrap operations."+keyVaultRBACOnly,
			Permission{
				Actions: []string{
					"Microsoft.EventGrid/eventSubscriptions/write",
					"Microsoft.EventGrid/eventSubscriptions/read",
					"Microsoft.EventGrid/eventSubscriptions/delete",
				},
				DataActions: []string{
					"Microsoft.KeyVault/vaults/keys/read",
					"Microsoft.KeyVault/vaults/keys/wrap/action",
					"Microsoft.KeyVault/vaults/keys/unwrap/action",
				},
			}),
		builtin(KeyVaultCryptoServiceReleaseUserRoleID, "Key Vault Crypto Service Release User",
			"Release keys."+keyVaultRBACOnly,
			Permission{DataActions: []string{"Microsoft.KeyVault/vaults/keys/release/action"}}),
		builtin(KeyVaultCryptoUserRoleID, "Key Vault Crypto User",
			"Perform cryptographic operations using keys."+keyVaultRBACOnly,
			Permission{DataActions: []string{
				"Microsoft.KeyVault/vaults/keys/read",
				"Microsoft.KeyVault/vaults/keys/update/action",
				"Microsoft.KeyVault/vaults/keys/backup/action",
				"Microsoft.KeyVault/vaults/keys/encrypt/action",
				"Microsoft.KeyVault/vaults/keys/decrypt/action",
				"Microsoft.KeyVault/vaults/keys/wrap/action",
				"Microsoft.KeyVault/vaults/keys/unwrap/action",
				"Microsoft.KeyVault/vaults/keys/sign/action",
				"Microsoft.KeyVault/vaults/keys/verify/action",
			}}),
		builtin(KeyVaultDataAccessAdministratorRoleID, "Key Vault Data Access Administrator",
			keyVaultDataAccessAdministratorDescription,
			Permission{
				Actions: []string{
					"Microsoft.Authorization/roleAssignments/write",
					"Microsoft.Authorization/roleAssignments/delete",
					"Microsoft.Authorization/*/read",
					"Microsoft.Resources/deployments/*",
					"Microsoft.Resources/subscriptions/resourceGroups/read",
					"Microsoft.Resources/subscriptions/read",
					"Microsoft.Management/managementGroups/read",
					"Microsoft.Resources/deployments/*",
					"Microsoft.Support/*",
					"Microsoft.KeyVault/vaults/*/read",
				},
				Condition:        keyVaultDataAccessAdministratorCondition,
				ConditionVersion: "2.0",
			}),
		builtin(KeyVaultReaderRoleID, "Key Vault Reader",
			"Read metadata of key vaults and its certificates, keys, and secrets. Cannot read sensitive values such as secret contents or key material."+keyVaultRBACOnly,
			Permission{Actions: keyVaultControlActions(), DataActions: []string{
				"Microsoft.KeyVault/vaults/*/read",
				"Microsoft.KeyVault/vaults/secrets/readMetadata/action",
			}}),
		builtin(KeyVaultSecretsOfficerRoleID, "Key Vault Secrets Officer",
			"Perform any action on the secrets of a key vault, except manage permissions."+keyVaultRBACOnly,
			Permission{Actions: keyVaultControlActions(), DataActions: []string{"Microsoft.KeyVault/vaults/secrets/*"}}),
		builtin(KeyVaultSecretsUserRoleID, "Key Vault Secrets User",
			"Read secret contents."+keyVaultRBACOnly,
			Permission{DataActions: []string{DataActionSecretGet, DataActionSecretReadMetadata}}),
		builtin(ManagedIdentityContributorRoleID, "Managed Identity Contributor",
			"Create, Read, Update, and Delete User Assigned Identity",
			Permission{Actions: []string{
				"Microsoft.ManagedIdentity/userAssignedIdentities/read",
				"Microsoft.ManagedIdentity/userAssignedIdentities/write",
				"Microsoft.ManagedIdentity/userAssignedIdentities/delete",
				"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/read",
				"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/write",
				"Microsoft.ManagedIdentity/userAssignedIdentities/federatedIdentityCredentials/delete",
				"Microsoft.ManagedIdentity/userAssignedIdentities/revokeTokens/action",
				"Microsoft.Authorization/*/read",
				"Microsoft.Insights/alertRules/*",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Support/*",
			}}),
		builtin(ManagedIdentityOperatorRoleID, "Managed Identity Operator",
			"Read and Assign User Assigned Identity",
			Permission{Actions: []string{
				"Microsoft.ManagedIdentity/userAssignedIdentities/*/read",
				"Microsoft.ManagedIdentity/userAssignedIdentities/*/assign/action",
				"Microsoft.Authorization/*/read",
				"Microsoft.Insights/alertRules/*",
				"Microsoft.Resources/subscriptions/resourceGroups/read",
				"Microsoft.Resources/deployments/*",
				"Microsoft.Support/*",
			}}),
	}
}
