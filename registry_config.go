// registry_config.go: how the daemon reaches a registry: over HTTPS, checking the registry's certificate
// against the system's CAs and those the daemon was given for it, or, for an insecure registry, as Docker
// does, over HTTPS without checking, or plain HTTP if that is what it speaks.
//
// A registry is insecure if it is on this machine (a loopback address, or localhost: 127.0.0.1:5000 is
// the usual registry of one's own) or named by `engine -d --insecure-registry HOST[:PORT]`. A CA for a
// registry, in PEM, goes in ROOT/certs.d/HOST[:PORT]/*.crt (Docker's /etc/docker/certs.d, under the
// daemon's root as everything else it knows); with one, even an insecure registry's certificate is
// checked.
//
// Ping, the first request of every pull and push (GET /v2/), finds the scheme, and whether the registry
// wants to know who asks (registry_auth.go).
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// RegistryConfig is what the daemon was told about registries.
type RegistryConfig struct {
	Insecure []string // host[:port] of registries that may speak plain HTTP or have any certificate
	CertsDir string   // ROOT/certs.d: a directory per registry, holding its CAs as *.crt
}

// NewRegistry makes a client for the registry a reference names.
func (c RegistryConfig) NewRegistry(domain string) (*Registry, error) {
	host := domain
	if domain == dockerHub {
		host = dockerHubEndpoint
	}
	cas, err := c.certificates(domain)
	if err != nil {
		return nil, err
	}
	insecure := isLoopback(domain) || slices.Contains(c.Insecure, domain)
	tlsConfig := &tls.Config{RootCAs: cas, InsecureSkipVerify: insecure && cas == nil}
	transport := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsConfig,
		TLSHandshakeTimeout:   30 * time.Second,
		ResponseHeaderTimeout: registryStallTimeout,
		MaxIdleConnsPerHost:   8,
	}
	return &Registry{domain: domain, base: "https://" + host, insecure: insecure, client: &http.Client{Transport: transport}}, nil
}

// certificates are the system's CAs and those of certs.d/DOMAIN, or nil if there are none of the latter
// (the system's are then used as they are).
func (c RegistryConfig) certificates(domain string) (*x509.CertPool, error) {
	if c.CertsDir == "" {
		return nil, nil
	}
	files, err := filepath.Glob(filepath.Join(c.CertsDir, domain, "*.crt"))
	if err != nil || len(files) == 0 {
		return nil, err
	}
	pool, err := x509.SystemCertPool()
	if err != nil {
		pool = x509.NewCertPool()
	}
	for _, file := range files {
		data, err := os.ReadFile(file)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", domain, err)
		}
		if !pool.AppendCertsFromPEM(data) {
			return nil, fmt.Errorf("%s: no PEM certificate in %s", domain, file)
		}
	}
	return pool, nil
}

// isLoopback tells whether a registry's host[:port] is this machine.
func isLoopback(domain string) bool {
	host := domain
	if h, _, err := net.SplitHostPort(domain); err == nil {
		host = h
	}
	if host == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(host, "[]"))
	return ip != nil && ip.IsLoopback()
}

// Ping asks the registry's API root (GET /v2/), which tells that it is a registry (200, or 401 when it
// wants credentials) and, for an insecure registry that answers HTTPS in plain HTTP, that it speaks HTTP.
func (r *Registry) Ping(ctx context.Context) error {
	err := r.ping(ctx)
	if err != nil && r.insecure && errors.Is(err, http.ErrSchemeMismatch) {
		r.base = "http://" + strings.TrimPrefix(r.base, "https://")
		err = r.ping(ctx)
	}
	if err != nil {
		return fmt.Errorf("%s: %w", r.domain, err)
	}
	return nil
}

func (r *Registry) ping(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, registryStallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/v2/", nil)
	if err != nil {
		return err
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized { // it wants to know who asks: registry_auth.go
		r.challenge = parseChallenge(resp.Header.Get("WWW-Authenticate"))
		return nil
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET /v2/: %s (is it a registry?)", resp.Status)
	}
	return nil
}

// reach makes a client of the registry ref names, pings it and authorizes actions ("pull", or
// "pull,push") on ref's repository, with creds if the registry asks who we are.
func (c RegistryConfig) reach(ctx context.Context, ref Reference, actions string, creds Credentials) (*Registry, error) {
	registry, err := c.NewRegistry(ref.Domain)
	if err != nil {
		return nil, err
	}
	registry.credentials = creds
	if err := registry.Ping(ctx); err != nil {
		return nil, err
	}
	if err := registry.Authorize(ctx, "repository:"+ref.Path+":"+actions); err != nil {
		return nil, err
	}
	return registry, nil
}
