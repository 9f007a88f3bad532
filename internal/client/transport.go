package client

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"
)

// TransportConfig configures NewHTTPClient.
type TransportConfig struct {
	// CAFile is a PEM file of extra roots to trust (the server's {data dir}/ca.pem); empty
	// means the system roots only (which honour SSL_CERT_FILE on Linux).
	CAFile string
	// ServerURL and VaultSuffix enable the vault dialer: a host name NAME.{VaultSuffix}
	// that DNS cannot resolve is dialled at the server's address instead, so vault URLs
	// work without a hosts entry. Both empty disables it.
	ServerURL   string
	VaultSuffix string
	// Timeout bounds each request; zero means two minutes.
	Timeout time.Duration
}

// NewHTTPClient returns an HTTP client for Keystage: TLS 1.2+, the extra CA trusted, and
// vault host names dialled at the server when DNS does not know them.
func NewHTTPClient(cfg TransportConfig) (*http.Client, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if cfg.CAFile != "" {
		pem, err := os.ReadFile(cfg.CAFile)
		if err != nil {
			return nil, fmt.Errorf("client: CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("client: CA file %s holds no PEM certificate", cfg.CAFile)
		}
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	tr := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12},
		ForceAttemptHTTP2:   true,
		MaxIdleConnsPerHost: 16,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
	}
	if cfg.VaultSuffix != "" && cfg.ServerURL != "" {
		u, err := url.Parse(cfg.ServerURL)
		if err != nil || u.Hostname() == "" {
			return nil, fmt.Errorf("client: server URL %q: %v", cfg.ServerURL, err)
		}
		vd := &vaultDialer{
			suffix:     strings.ToLower(strings.Trim(cfg.VaultSuffix, ".")),
			serverHost: u.Hostname(),
			dialer:     dialer,
			resolver:   net.DefaultResolver,
		}
		tr.DialContext = vd.DialContext
	}
	timeout := cfg.Timeout
	if timeout <= 0 {
		timeout = 2 * time.Minute
	}
	return &http.Client{Transport: tr, Timeout: timeout}, nil
}

// vaultDialer dials NAME.{suffix}:PORT at {serverHost}:PORT when DNS cannot resolve
// NAME.{suffix}. Every other address is dialled as asked. The TLS server name stays the
// vault host name, so the server certificate (which covers *.{suffix}) is still verified.
type vaultDialer struct {
	suffix     string
	serverHost string
	dialer     *net.Dialer
	resolver   *net.Resolver
}

func (d *vaultDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	h := strings.ToLower(strings.TrimSuffix(host, "."))
	if h == d.suffix || strings.HasSuffix(h, "."+d.suffix) {
		lctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, lerr := d.resolver.LookupHost(lctx, h)
		cancel()
		if lerr != nil {
			var dnsErr *net.DNSError
			if errors.As(lerr, &dnsErr) || errors.Is(lerr, context.DeadlineExceeded) {
				addr = net.JoinHostPort(d.serverHost, port)
			}
		}
	}
	return d.dialer.DialContext(ctx, network, addr)
}
