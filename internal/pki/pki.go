// Package pki is Keystage's local certificate authority: it creates a CA on first start and
// issues the HTTPS server certificate, keeping private keys in (barrier-sealed) storage and
// publishing only the CA certificate, which clients trust through SSL_CERT_FILE.
package pki

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"strings"
	"time"

	"github.com/keystage/keystage/internal/storage"
)

const (
	caKey     = "pki/ca"
	serverKey = "pki/server"

	caValidity     = 10 * 365 * 24 * time.Hour
	serverValidity = 397 * 24 * time.Hour
	// renewBefore is how close to expiry a server certificate is replaced.
	renewBefore = 30 * 24 * time.Hour
)

// Authority is the local CA. It is immutable and safe for concurrent use.
type Authority struct {
	cert *x509.Certificate
	key  crypto.Signer
}

// stored is the storage form of a certificate and its private key.
type stored struct {
	CertDER []byte `json:"cert"`
	KeyDER  []byte `json:"key"` // PKCS #8
}

// LoadOrCreate returns the CA kept in store, creating it on first use.
func LoadOrCreate(ctx context.Context, store storage.Backend, now time.Time) (*Authority, error) {
	var a *Authority
	err := store.Update(ctx, func(tx storage.Store) error {
		var s stored
		err := storage.GetJSON(ctx, tx, caKey, &s)
		if err == nil {
			a, err = s.authority()
			return err
		}
		if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		if a, s, err = newCA(now); err != nil {
			return err
		}
		return storage.PutJSON(ctx, tx, caKey, s)
	})
	if err != nil {
		return nil, fmt.Errorf("pki: load CA: %w", err)
	}
	return a, nil
}

// CertPEM returns the CA certificate in PEM form.
func (a *Authority) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: a.cert.Raw})
}

// Pool returns a pool holding only the CA certificate.
func (a *Authority) Pool() *x509.CertPool {
	p := x509.NewCertPool()
	p.AddCert(a.cert)
	return p
}

// ServerCertificate returns a server certificate for names (DNS names, wildcards such as
// "*.vault.localhost", or IP addresses), reusing the stored one while it covers every name
// and is not near expiry, and issuing and storing a new one otherwise.
func (a *Authority) ServerCertificate(ctx context.Context, store storage.Backend, names []string, now time.Time) (tls.Certificate, error) {
	var out tls.Certificate
	err := store.Update(ctx, func(tx storage.Store) error {
		var s stored
		err := storage.GetJSON(ctx, tx, serverKey, &s)
		if err == nil {
			if cert, err := x509.ParseCertificate(s.CertDER); err == nil && covers(cert, names) &&
				now.Add(renewBefore).Before(cert.NotAfter) && cert.CheckSignatureFrom(a.cert) == nil {
				out, err = s.tlsCertificate(a.cert)
				return err
			}
		} else if !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		s, err = a.issueServer(names, now)
		if err != nil {
			return err
		}
		if out, err = s.tlsCertificate(a.cert); err != nil {
			return err
		}
		return storage.PutJSON(ctx, tx, serverKey, s)
	})
	if err != nil {
		return tls.Certificate{}, fmt.Errorf("pki: server certificate: %w", err)
	}
	return out, nil
}

func newCA(now time.Time) (*Authority, stored, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, stored{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"Keystage"}, CommonName: "Keystage local CA " + now.UTC().Format("2006-01-02")},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, stored{}, err
	}
	s, err := newStored(der, key)
	if err != nil {
		return nil, stored{}, err
	}
	a, err := s.authority()
	return a, s, err
}

func (a *Authority) issueServer(names []string, now time.Time) (stored, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return stored{}, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"Keystage"}, CommonName: "Keystage server"},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(serverValidity),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return stored{}, err
	}
	return newStored(der, key)
}

// covers reports whether cert names exactly the given names (as SANs, not by matching:
// a wildcard must be present as a wildcard).
func covers(cert *x509.Certificate, names []string) bool {
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			if !slices.ContainsFunc(cert.IPAddresses, ip.Equal) {
				return false
			}
		} else if !slices.ContainsFunc(cert.DNSNames, func(d string) bool { return strings.EqualFold(d, n) }) {
			return false
		}
	}
	return true
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic("pki: crypto/rand failed: " + err.Error())
	}
	return n
}

func newStored(der []byte, key crypto.Signer) (stored, error) {
	k, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return stored{}, err
	}
	return stored{CertDER: der, KeyDER: k}, nil
}

func (s stored) authority() (*Authority, error) {
	cert, err := x509.ParseCertificate(s.CertDER)
	if err != nil {
		return nil, err
	}
	key, err := s.signer()
	if err != nil {
		return nil, err
	}
	return &Authority{cert: cert, key: key}, nil
}

func (s stored) signer() (crypto.Signer, error) {
	k, err := x509.ParsePKCS8PrivateKey(s.KeyDER)
	if err != nil {
		return nil, err
	}
	signer, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("stored key of type %T cannot sign", k)
	}
	return signer, nil
}

func (s stored) tlsCertificate(ca *x509.Certificate) (tls.Certificate, error) {
	key, err := s.signer()
	if err != nil {
		return tls.Certificate{}, err
	}
	leaf, err := x509.ParseCertificate(s.CertDER)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{s.CertDER, ca.Raw}, PrivateKey: key, Leaf: leaf}, nil
}
