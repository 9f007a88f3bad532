// Command azpipelines gets an access token with azidentity's AzurePipelinesCredential, the
// way a program run by a pipeline step does, and prints its claims (never the token).
//
// Usage: azpipelines AUTHORITY TENANT CLIENT_ID CONNECTION_ID RESOURCE, with
// SYSTEM_OIDCREQUESTURI and SYSTEM_ACCESSTOKEN set, and SSL_CERT_FILE trusting the server.
package main

import (
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"strings"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/cloud"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
)

func main() {
	if len(os.Args) != 6 {
		fmt.Fprintln(os.Stderr, "usage: azpipelines AUTHORITY TENANT CLIENT_ID CONNECTION_ID RESOURCE")
		os.Exit(2)
	}
	authority, tenant, clientID, connection, resource := os.Args[1], os.Args[2], os.Args[3], os.Args[4], os.Args[5]
	opts := &azidentity.AzurePipelinesCredentialOptions{DisableInstanceDiscovery: true}
	opts.Cloud = cloud.Configuration{ActiveDirectoryAuthorityHost: authority}
	cred, err := azidentity.NewAzurePipelinesCredential(tenant, clientID, connection, os.Getenv("SYSTEM_ACCESSTOKEN"), opts)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tok, err := cred.GetToken(context.Background(), policy.TokenRequestOptions{Scopes: []string{resource + "/.default"}})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	parts := strings.Split(tok.Token, ".")
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("AZPIPELINES_OK %s\n", payload)
}
