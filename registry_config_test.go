package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// testCA is a certificate authority made for a test, and what it signs.
type testCA struct {
	cert *x509.Certificate
	key  *ecdsa.PrivateKey
	pem  []byte
}

func newTestCA(t *testing.T) *testCA {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "engine test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	return &testCA{cert: cert, key: key, pem: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})}
}

// serverFiles writes a certificate for 127.0.0.1 signed by the CA, and its key, into dir.
func (ca *testCA) serverFiles(t *testing.T, dir string) (certFile, keyFile string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, DNSNames: []string{"localhost"},
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	certFile, keyFile = filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key")
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: keyDER}), 0600); err != nil {
		t.Fatal(err)
	}
	return certFile, keyFile
}

// TestRegistryConfig: which registries are insecure, and the CAs of certs.d.
func TestRegistryConfig(t *testing.T) {
	dir := t.TempDir()
	config := RegistryConfig{Insecure: []string{"registry.example:5000"}, CertsDir: dir}
	for domain, insecure := range map[string]bool{"127.0.0.1:5000": true, "localhost:5000": true, "[::1]:5000": true,
		"registry.example:5000": true, "registry.example": false, "docker.io": false, "ghcr.io": false} {
		r, err := config.NewRegistry(domain)
		if err != nil || r.insecure != insecure {
			t.Errorf("%s: insecure %v (%v), want %v", domain, r != nil && r.insecure, err, insecure)
		}
	}
	if r, _ := config.NewRegistry("docker.io"); r.base != "https://registry-1.docker.io" {
		t.Errorf("docker.io's API is at %s", r.base)
	}
	ca := newTestCA(t)
	os.MkdirAll(filepath.Join(dir, "ghcr.io"), 0700)
	os.WriteFile(filepath.Join(dir, "ghcr.io", "ca.crt"), ca.pem, 0600)
	if pool, err := config.certificates("ghcr.io"); pool == nil || err != nil {
		t.Errorf("the CA of certs.d/ghcr.io: %v %v", pool, err)
	}
	os.WriteFile(filepath.Join(dir, "ghcr.io", "bad.crt"), []byte("not a certificate"), 0600)
	if _, err := config.NewRegistry("ghcr.io"); err == nil || !strings.Contains(err.Error(), "no PEM certificate") {
		t.Errorf("a file that is no certificate: %v", err)
	}
}
