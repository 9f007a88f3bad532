package conformance

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azidentity"
	"github.com/Azure/azure-sdk-for-go/sdk/security/keyvault/azsecrets"

	"github.com/keystage/keystage/internal/server/servertest"
)

// zeroCodeVault is the vault the zero-code-change program uses. Its host name must
// resolve to the loopback address: .ci/run adds it to /etc/hosts.
const zeroCodeVault = "zerocode"

// childVaultURL carries the vault URL to the child process, as an application would read
// it from its configuration; its presence marks the child.
const childVaultURL = "KEYSTAGE_TEST_ZEROCODE_VAULT_URL"

// TestZeroCodeChange runs an unmodified Azure SDK program — DefaultAzureCredential(nil) and
// azsecrets.NewClient(url, cred, nil) — as a separate process configured only through its
// environment (SSL_CERT_FILE, IDENTITY_ENDPOINT, IDENTITY_HEADER, AZURE_CLIENT_ID) and the
// host name's resolution.
func TestZeroCodeChange(t *testing.T) {
	host := zeroCodeVault + ".vault.localhost"
	if addrs, err := net.LookupHost(host); err != nil || !loopback(addrs) {
		msg := fmt.Sprintf("%s does not resolve to the loopback address (%v %v); add \"127.0.0.1 %s\" to /etc/hosts to run the zero-code-change test", host, addrs, err, host)
		if os.Getenv("KEYSTAGE_CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	servertest.Each(t, servertest.Options{}, func(t *testing.T, e *servertest.Env) {
		h := newHarness(t, e)
		id := h.identity("zero-code-app")
		h.vault(zeroCodeVault, vaultSpec{policies: map[string][]string{id.PrincipalID: {"get", "set"}}})
		env := []string{
			"PATH=" + os.Getenv("PATH"),
			"HOME=" + t.TempDir(),
			"SSL_CERT_FILE=" + e.CAFile,
			"IDENTITY_ENDPOINT=" + id.Endpoint,
			"IDENTITY_HEADER=" + id.Header,
			"AZURE_CLIENT_ID=" + id.ClientID,
			childVaultURL + "=" + e.VaultURL(zeroCodeVault),
		}
		c, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(c, os.Args[0], "-test.run=^TestZeroCodeChangeChild$", "-test.v")
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "zero-code-change: ok") {
			t.Fatalf("child: %v\n%s", err, out)
		}
		// The secret the program wrote is there, written by the managed identity.
		got, err := h.secrets(zeroCodeVault, h.cred, nil).GetSecret(ctx(t), "written-by-app", "", nil)
		if err != nil || *got.Value != "hello from an unmodified app" {
			t.Fatalf("secret the child set: %v", err)
		}
	})
}

func loopback(addrs []string) bool {
	for _, a := range addrs {
		if ip := net.ParseIP(a); ip != nil && ip.IsLoopback() {
			return true
		}
	}
	return false
}

// TestZeroCodeChangeChild is the application TestZeroCodeChange runs: nothing but the
// Azure SDK's defaults. It does nothing outside that child process.
func TestZeroCodeChangeChild(t *testing.T) {
	vaultURL := os.Getenv(childVaultURL)
	if vaultURL == "" {
		t.Skip("the child process of TestZeroCodeChange")
	}
	cred, err := azidentity.NewDefaultAzureCredential(nil)
	if err != nil {
		t.Fatal(err)
	}
	client, err := azsecrets.NewClient(vaultURL, cred, nil)
	if err != nil {
		t.Fatal(err)
	}
	c, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	value := "hello from an unmodified app"
	if _, err := client.SetSecret(c, "written-by-app", azsecrets.SetSecretParameters{Value: &value}, nil); err != nil {
		t.Fatal(err)
	}
	got, err := client.GetSecret(c, "written-by-app", "", nil)
	if err != nil {
		t.Fatal(err)
	}
	if *got.Value != value {
		t.Fatalf("read %q", *got.Value)
	}
	fmt.Println("zero-code-change: ok")
}
