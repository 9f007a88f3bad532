package federation

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"syscall"
	"time"
)

// ErrFetch means an issuer's metadata or key set could not be fetched or was unusable.
var ErrFetch = errors.New("federation: request to the external OpenID Connect endpoint failed")

// fetcher GETs small JSON documents over https with bounded time and size, never follows
// redirects, never uses an environment proxy (a proxy would dial on our behalf and defeat
// the address check), and — for URLs not under a trusted prefix — refuses at dial time to
// connect to any non-public address, whatever the host name resolved to.
type fetcher struct {
	policy     *Policy
	trusted    *http.Client
	restricted *http.Client
	maxBytes   int64
}

func newFetcher(policy *Policy, cfg Config) *fetcher {
	return &fetcher{
		policy:     policy,
		trusted:    newClient(cfg, nil),
		restricted: newClient(cfg, func(network, address string, _ syscall.RawConn) error { return dialAllowed(address) }),
		maxBytes:   cfg.MaxDocumentBytes,
	}
}

func newClient(cfg Config, control func(network, address string, c syscall.RawConn) error) *http.Client {
	dialer := &net.Dialer{Timeout: cfg.Timeout, Control: control}
	tr := &http.Transport{
		Proxy:                  nil,
		DialContext:            dialer.DialContext,
		TLSClientConfig:        &tls.Config{RootCAs: cfg.RootCAs, MinVersion: tls.VersionTLS12},
		TLSHandshakeTimeout:    cfg.Timeout,
		ResponseHeaderTimeout:  cfg.Timeout,
		MaxResponseHeaderBytes: 64 << 10,
		MaxIdleConnsPerHost:    2,
		IdleConnTimeout:        90 * time.Second,
		ForceAttemptHTTP2:      true,
	}
	return &http.Client{
		Transport: tr,
		Timeout:   cfg.Timeout,
		CheckRedirect: func(*http.Request, []*http.Request) error {
			return errors.New("redirects are not followed")
		},
	}
}

// getJSON fetches rawURL and decodes its JSON body into v.
func (f *fetcher) getJSON(ctx context.Context, rawURL string, v any) error {
	if err := f.policy.checkURL(rawURL); err != nil {
		return fmt.Errorf("%w: %w", ErrFetch, err)
	}
	client := f.restricted
	if f.policy.Trusted(rawURL) {
		client = f.trusted
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, rawURL, nil)
	if err != nil {
		return fmt.Errorf("%w: %s: %v", ErrFetch, quoteShort(rawURL), err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("%w: GET %s: %w", ErrFetch, quoteShort(rawURL), unwrapURLError(err))
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
		return fmt.Errorf("%w: GET %s: status %d", ErrFetch, quoteShort(rawURL), resp.StatusCode)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, f.maxBytes+1))
	if err != nil {
		return fmt.Errorf("%w: GET %s: read body: %v", ErrFetch, quoteShort(rawURL), err)
	}
	if int64(len(body)) > f.maxBytes {
		return fmt.Errorf("%w: GET %s: response larger than %d bytes", ErrFetch, quoteShort(rawURL), f.maxBytes)
	}
	if err := json.Unmarshal(body, v); err != nil {
		return fmt.Errorf("%w: GET %s: invalid JSON: %v", ErrFetch, quoteShort(rawURL), err)
	}
	return nil
}

// unwrapURLError drops *url.Error's repetition of the URL, keeping the cause (and the
// ErrIssuerNotAllowed chain of a refused dial).
func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) && ue.Err != nil {
		return ue.Err
	}
	return err
}
