package federation

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
)

// MaxIssuerLength is the longest issuer Entra accepts on a federated identity credential.
const MaxIssuerLength = 600

// ErrIssuerNotAllowed means an issuer URL is malformed or points at an address Keystage must
// not fetch from (loopback, private, link-local, metadata, ...) and is not trusted by prefix.
var ErrIssuerNotAllowed = errors.New("federation: issuer not allowed")

// Policy decides which issuer URLs and which network addresses Keystage may fetch OpenID
// Connect metadata from. The zero Policy trusts no prefix: only https URLs on public
// addresses pass. A Policy is immutable and safe for concurrent use.
type Policy struct {
	trusted []string // normalized: scheme://host[:port][/path] without a trailing slash
}

// NewPolicy returns a policy that additionally trusts the given https URL prefixes (for
// example Keystage's own public URL) even when their hosts are loopback or private. A
// prefix matches an URL equal to it or continuing it with "/", so "https://h:8443" does not
// match "https://h:84430".
func NewPolicy(trustedPrefixes []string) (*Policy, error) {
	p := &Policy{}
	for _, raw := range trustedPrefixes {
		u, err := url.Parse(raw)
		if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.RawQuery != "" || u.Fragment != "" {
			return nil, fmt.Errorf("federation: trusted issuer prefix %q must be an https URL without query or fragment", raw)
		}
		p.trusted = append(p.trusted, strings.TrimRight(raw, "/"))
	}
	return p, nil
}

// Trusted reports whether rawURL lies under one of the trusted prefixes.
func (p *Policy) Trusted(rawURL string) bool {
	if p == nil {
		return false
	}
	for _, t := range p.trusted {
		if rawURL == t || strings.HasPrefix(rawURL, t+"/") {
			return true
		}
	}
	return false
}

// CheckIssuer validates an issuer for a federated identity credential: at most
// MaxIssuerLength bytes, no surrounding whitespace, an absolute https URL without user
// info, query or fragment, and — unless it is trusted by prefix — a host that is neither a
// disallowed IP literal nor a local name ("localhost", "*.localhost", single-label names).
// Host names are not resolved here (that would be a time-of-check/time-of-use race);
// every fetch re-checks the address it actually dials.
func (p *Policy) CheckIssuer(issuer string) error {
	if issuer == "" {
		return fmt.Errorf("%w: the issuer is empty", ErrIssuerNotAllowed)
	}
	if len(issuer) > MaxIssuerLength {
		return fmt.Errorf("%w: the issuer is longer than %d characters", ErrIssuerNotAllowed, MaxIssuerLength)
	}
	if strings.TrimSpace(issuer) != issuer {
		return fmt.Errorf("%w: the issuer has leading or trailing whitespace", ErrIssuerNotAllowed)
	}
	return p.checkURL(issuer)
}

// checkURL applies the URL rules of CheckIssuer to any URL Keystage is about to fetch.
func (p *Policy) checkURL(raw string) error {
	if !strings.HasPrefix(raw, "https://") {
		return fmt.Errorf("%w: %s must use https", ErrIssuerNotAllowed, quoteShort(raw))
	}
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("%w: %s is not a valid URL", ErrIssuerNotAllowed, quoteShort(raw))
	}
	if u.User != nil || u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || u.Opaque != "" {
		return fmt.Errorf("%w: %s must not carry user info, a query or a fragment", ErrIssuerNotAllowed, quoteShort(raw))
	}
	host := u.Hostname()
	if host == "" {
		return fmt.Errorf("%w: %s has no host", ErrIssuerNotAllowed, quoteShort(raw))
	}
	if p.Trusted(raw) {
		return nil
	}
	if addr, err := netip.ParseAddr(host); err == nil {
		if !PublicAddr(addr) {
			return fmt.Errorf("%w: %s points at a non-public address", ErrIssuerNotAllowed, quoteShort(raw))
		}
		return nil
	}
	name := strings.ToLower(strings.TrimSuffix(host, "."))
	if name == "localhost" || strings.HasSuffix(name, ".localhost") || !strings.Contains(name, ".") {
		return fmt.Errorf("%w: %s points at a local host name", ErrIssuerNotAllowed, quoteShort(raw))
	}
	return nil
}

// blockedPrefixes are special-purpose ranges that netip's predicates do not cover.
// Translation and tunnelling prefixes (NAT64, 6to4, Teredo) are blocked whole because they
// embed IPv4 addresses that could be private.
var blockedPrefixes = func() []netip.Prefix {
	var out []netip.Prefix
	for _, s := range []string{
		"0.0.0.0/8",       // "this network"
		"100.64.0.0/10",   // carrier-grade NAT shared space
		"192.0.0.0/24",    // IETF protocol assignments
		"192.0.2.0/24",    // documentation
		"198.18.0.0/15",   // benchmarking
		"198.51.100.0/24", // documentation
		"203.0.113.0/24",  // documentation
		"240.0.0.0/4",     // reserved, including broadcast
		"64:ff9b::/96",    // NAT64
		"64:ff9b:1::/48",  // local-use NAT64
		"100::/64",        // discard-only
		"2001::/32",       // Teredo
		"2001:db8::/32",   // documentation
		"2002::/16",       // 6to4
		"fec0::/10",       // deprecated site-local
	} {
		out = append(out, netip.MustParsePrefix(s))
	}
	return out
}()

// PublicAddr reports whether addr is a globally routable unicast address that Keystage may
// connect to for an untrusted issuer. IPv4-mapped IPv6 addresses are judged as IPv4.
func PublicAddr(addr netip.Addr) bool {
	addr = addr.Unmap()
	if !addr.IsValid() || addr.Zone() != "" || addr.IsLoopback() || addr.IsPrivate() || addr.IsUnspecified() ||
		addr.IsLinkLocalUnicast() || addr.IsLinkLocalMulticast() || addr.IsInterfaceLocalMulticast() || addr.IsMulticast() {
		return false
	}
	for _, p := range blockedPrefixes {
		if p.Contains(addr) {
			return false
		}
	}
	return true
}

// dialAllowed is the dial-time check: address is the "ip:port" the dialer is about to
// connect to, after name resolution.
func dialAllowed(address string) error {
	host, _, err := net.SplitHostPort(address)
	if err != nil {
		return fmt.Errorf("%w: cannot parse dial address", ErrIssuerNotAllowed)
	}
	addr, err := netip.ParseAddr(host)
	if err != nil || !PublicAddr(addr) {
		return fmt.Errorf("%w: refusing to connect to non-public address %s", ErrIssuerNotAllowed, host)
	}
	return nil
}

// quoteShort quotes s for an error message, truncated so attacker-supplied strings cannot
// blow up logs or responses.
func quoteShort(s string) string {
	const max = 120
	if len(s) > max {
		return fmt.Sprintf("%q…", s[:max])
	}
	return fmt.Sprintf("%q", s)
}
