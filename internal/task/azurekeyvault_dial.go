package task

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// defaultClient is AzureKeyVault@2's HTTP client when none is configured: the system
// roots (SSL_CERT_FILE included) and the environment's proxy settings. Vault host names
// ({vault}.{suffix}) that DNS does not know are dialed at the identity provider's host
// instead — on a Keystage server both are the same listener, and the CLI resolves vault
// names the same way — so agents work without hosts-file entries. TLS still verifies the
// vault's own name.
func defaultClient(vaultSuffix, authority string) *http.Client {
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Client{Transport: &http.Transport{
		TLSClientConfig:     &tls.Config{MinVersion: tls.VersionTLS12},
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         vaultFallbackDialer(d.DialContext, vaultSuffix, authority),
		TLSHandshakeTimeout: 10 * time.Second,
		MaxIdleConnsPerHost: 32,
	}}
}

// vaultFallbackDialer wraps dial: an address whose host ends with "." + the suffix's host
// and does not resolve is dialed at the authority's host instead (same port).
func vaultFallbackDialer(dial func(ctx context.Context, network, addr string) (net.Conn, error), vaultSuffix, authority string) func(ctx context.Context, network, addr string) (net.Conn, error) {
	suffixHost := strings.ToLower(vaultSuffix)
	if h, _, err := net.SplitHostPort(vaultSuffix); err == nil {
		suffixHost = strings.ToLower(h)
	}
	server := ""
	if u, err := url.Parse(authority); err == nil && u.Scheme == "https" {
		server = u.Hostname()
	}
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		conn, err := dial(ctx, network, addr)
		var dnsErr *net.DNSError
		if err == nil || server == "" || suffixHost == "" || !errors.As(err, &dnsErr) || !dnsErr.IsNotFound {
			return conn, err
		}
		host, port, splitErr := net.SplitHostPort(addr)
		if splitErr != nil || !strings.HasSuffix(strings.ToLower(host), "."+suffixHost) {
			return conn, err
		}
		return dial(ctx, network, net.JoinHostPort(server, port))
	}
}
