package gwconfig

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
)

// Secret is a Secret that holds, or should hold, a TLS certificate: of type
// kubernetes.io/tls, or with a tls.crt key, or in Istio's generic format
// (keys cert, key and cacert).
type Secret struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Source    Source `json:"source"`
	// Certificate is the leaf certificate; nil when Problem is set.
	Certificate *Certificate `json:"certificate,omitempty"`
	// Problem says why there is no certificate.
	Problem string `json:"problem,omitempty"`
}

// Key is the secret's namespace/name.
func (s *Secret) Key() string { return nsName(s.Namespace, s.Name) }

// Certificate is the leaf certificate of a Secret's chain.
type Certificate struct {
	// Secret is the namespace/name of the Secret, Key the data key read.
	Secret string `json:"secret"`
	Key    string `json:"key"`
	// CommonName is the subject CN.
	CommonName  string   `json:"common_name,omitempty"`
	DNSNames    []string `json:"dns_names,omitempty"`
	IPAddresses []string `json:"ip_addresses,omitempty"`
	// CNOnly: the certificate has no SANs, so Names falls back to the CN.
	// Browsers ignore the CN (Chrome since version 58), so they reject such
	// a certificate whatever the host.
	CNOnly    bool      `json:"cn_only,omitempty"`
	Issuer    string    `json:"issuer,omitempty"`
	NotBefore time.Time `json:"not_before"`
	NotAfter  time.Time `json:"not_after"`
	// ChainLength counts the certificates in the PEM data, leaf included.
	ChainLength int `json:"chain_length"`
	// SHA256 is the hex SHA-256 fingerprint of the leaf (its DER bytes):
	// the same certificate in two Secrets has the same fingerprint.
	SHA256 string `json:"sha256"`
}

// Names are the names the certificate is valid for: its DNS SANs, or its CN
// when it has no SANs at all.
func (c *Certificate) Names() []string {
	if c.CNOnly {
		return []string{c.CommonName}
	}
	return c.DNSNames
}

// Expired reports whether the certificate is past its NotAfter at now.
func (c *Certificate) Expired(now time.Time) bool { return now.After(c.NotAfter) }

// NotYetValid reports whether now is before the certificate's NotBefore.
func (c *Certificate) NotYetValid(now time.Time) bool { return now.Before(c.NotBefore) }

type secret struct {
	Metadata   objectMeta        `json:"metadata"`
	Type       string            `json:"type"`
	Data       map[string]string `json:"data"`
	StringData map[string]string `json:"stringData"`
}

// certKeys are the keys that hold a certificate chain, in order of
// preference: kubernetes.io/tls, then Istio's generic format.
var certKeys = []string{corev1.TLSCertKey, "cert"}

func (c *Config) addSecret(src Source, js []byte) error {
	var in secret
	if err := json.Unmarshal(js, &in); err != nil {
		return err
	}
	s := &Secret{Namespace: in.Metadata.Namespace, Name: in.Metadata.Name, Source: src}
	key := ""
	for _, k := range certKeys {
		if _, ok := in.StringData[k]; ok {
			key = k
			break
		}
		if _, ok := in.Data[k]; ok {
			key = k
			break
		}
	}
	if key == "" {
		if in.Type != string(corev1.SecretTypeTLS) {
			return nil // not a certificate Secret
		}
		s.Problem = "type kubernetes.io/tls without tls.crt"
	} else {
		cert, err := secretCertificate(in, key)
		if err != nil {
			s.Problem = err.Error()
		} else {
			cert.Secret = s.Key()
			s.Certificate = cert
		}
	}
	item := "Secret " + s.Key()
	if s.Problem != "" {
		c.warn(item, src, "no usable certificate: "+s.Problem)
	}
	if prev, ok := c.secrets.put(s.Key(), s); ok {
		c.replaced(item, src, prev.Source)
	}
	return nil
}

// secretCertificate decodes data[key] (base64) or stringData[key] — which
// the API server writes over data — and parses its leaf certificate.
func secretCertificate(in secret, key string) (*Certificate, error) {
	var raw []byte
	if v, ok := in.StringData[key]; ok {
		raw = []byte(v)
	} else {
		b, err := base64.StdEncoding.DecodeString(strings.TrimSpace(in.Data[key]))
		if err != nil {
			return nil, fmt.Errorf("data[%s] is not base64: %w", key, err)
		}
		raw = b
	}
	cert, err := parseCertificate(raw)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", key, err)
	}
	cert.Key = key
	return cert, nil
}

// parseCertificate reads a PEM chain (or a single DER certificate) and
// describes its leaf: the first certificate that is not a CA, else the
// first one.
func parseCertificate(raw []byte) (*Certificate, error) {
	var certs []*x509.Certificate
	rest := raw
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse certificate %d of the chain: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		c, err := x509.ParseCertificate(raw)
		if err != nil {
			return nil, errors.New("no PEM CERTIFICATE block")
		}
		certs = append(certs, c)
	}
	leaf := certs[0]
	if i := slices.IndexFunc(certs, func(c *x509.Certificate) bool { return !c.IsCA }); i > 0 {
		leaf = certs[i]
	}
	out := &Certificate{
		CommonName:  leaf.Subject.CommonName,
		Issuer:      leaf.Issuer.String(),
		NotBefore:   leaf.NotBefore.UTC(),
		NotAfter:    leaf.NotAfter.UTC(),
		ChainLength: len(certs),
		SHA256:      fmt.Sprintf("%x", sha256.Sum256(leaf.Raw)),
	}
	for _, n := range leaf.DNSNames {
		out.DNSNames = append(out.DNSNames, normHost(n))
	}
	for _, ip := range leaf.IPAddresses {
		out.IPAddresses = append(out.IPAddresses, ip.String())
	}
	hasSAN := len(leaf.DNSNames)+len(leaf.IPAddresses)+len(leaf.EmailAddresses)+len(leaf.URIs) > 0
	if !hasSAN && leaf.Subject.CommonName != "" {
		out.CNOnly = true
	}
	return out, nil
}
