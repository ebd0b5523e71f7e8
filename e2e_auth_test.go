// e2e_auth_test.go: registries that ask who we are (registry_auth.go, client_auth.go): Debian's
// docker-registry with htpasswd over TLS (basic), and with `auth: token` pointed at a token server the
// test runs on loopback, signing its tokens with a key and certificate made by the test, which the
// registry checks them against.
package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// runAs runs a client of d with HOME set to home (where its ~/.engine/config.json is), and stdin.
func (d *daemon) runAs(home, stdin string, args ...string) (string, string, int) {
	cmd := exec.Command(engineBin, append([]string{"-r", d.root, "-H", d.addr}, args...)...)
	cmd.Env = append(os.Environ(), "HOME="+home)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		code = -1
	}
	return stdout.String(), stderr.String(), code
}

// TestE2ELoginBasic: a registry with htpasswd over TLS refuses a pull without credentials, a login with
// a wrong password, and takes the right one, which the client keeps (0600) and the daemon never writes
// to its log; pull and push then work, and after a logout the pull is refused again.
func TestE2ELoginBasic(t *testing.T) {
	dir := t.TempDir()
	ca := newTestCA(t)
	certFile, keyFile := ca.serverFiles(t, dir)
	passwords := filepath.Join(dir, "htpasswd")
	if out, err := exec.Command("htpasswd", "-Bbc", passwords, "alice", "s3cret-word").CombinedOutput(); err != nil {
		t.Fatalf("htpasswd (contrib/test.sh installs apache2-utils): %v: %s", err, out)
	}
	reg := startRegistryWith(t, fmt.Sprintf(", tls: {certificate: %s, key: %s}}\nauth: {htpasswd: {realm: engine-test, path: %s}", certFile, keyFile, passwords))
	d, err := startDaemon(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	home := t.TempDir()
	name := reg.addr + "/private:1"
	d.mustRun(t, "tag", "base", name)

	if _, stderr, code := d.runAs(home, "", "push", name); code == 0 || !strings.Contains(stderr, "engine login "+reg.addr) {
		t.Errorf("push without a login: exit %d, %q", code, stderr)
	}
	if _, stderr, code := d.runAs(home, "wrong\n", "login", "-u", "alice", "--password-stdin", reg.addr); code == 0 || !strings.Contains(stderr, "incorrect username or password") {
		t.Errorf("login with a wrong password: exit %d, %q", code, stderr)
	}
	config := filepath.Join(home, ".engine", "config.json")
	if _, err := os.Stat(config); err == nil {
		t.Error("a refused login was kept")
	}
	if out, stderr, code := d.runAs(home, "s3cret-word\n", "login", "-u", "alice", "--password-stdin", reg.addr); code != 0 || out != "Login Succeeded\n" {
		t.Fatalf("login: exit %d, %q, %q", code, out, stderr)
	}
	info, err := os.Stat(config)
	if err != nil || info.Mode().Perm() != 0600 {
		t.Errorf("config.json: %v, %v", info, err)
	}
	data, _ := os.ReadFile(config)
	var saved struct {
		Auths map[string]struct{ Auth string }
	}
	if json.Unmarshal(data, &saved) != nil || saved.Auths[reg.addr].Auth != base64.StdEncoding.EncodeToString([]byte("alice:s3cret-word")) {
		t.Errorf("config.json holds %s", data)
	}
	if _, stderr, code := d.runAs(home, "", "push", name); code != 0 {
		t.Fatalf("push after the login: exit %d, %q", code, stderr)
	}
	d.mustRun(t, "rmi", name)
	if _, stderr, code := d.runAs(home, "", "pull", name); code != 0 {
		t.Errorf("pull after the login: exit %d, %q", code, stderr)
	}
	if strings.Contains(d.log.String(), "s3cret-word") {
		t.Error("the daemon's log has the password")
	}
	if out, _, code := d.runAs(home, "", "logout", reg.addr); code != 0 || out != "Removing login credentials for "+reg.addr+"\n" {
		t.Errorf("logout: exit %d, %q", code, out)
	}
	if _, stderr, code := d.runAs(home, "", "pull", name); code == 0 || !strings.Contains(stderr, "engine login") {
		t.Errorf("pull after the logout: exit %d, %q", code, stderr)
	}
	if out, _, _ := d.runAs(home, "", "logout", reg.addr); out != "Not logged in to "+reg.addr+"\n" {
		t.Errorf("a second logout: %q", out)
	}
}

// tokenServer issues the tokens a registry with `auth: token` wants: JWTs signed with ES256 by a key
// whose self-signed certificate is the registry's rootcertbundle and travels in the token (x5c). alice
// (with her password) may pull and push anywhere; anyone may pull from public/.
type tokenServer struct {
	addr     string
	certFile string
	key      *ecdsa.PrivateKey
	certDER  []byte

	mu       sync.Mutex
	requests []string // the scopes asked for, in order
}

func startTokenServer(t *testing.T) *tokenServer {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	template := &x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "engine test token issuer"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	s := &tokenServer{addr: freePort(), key: key, certDER: der, certFile: filepath.Join(t.TempDir(), "token.crt")}
	if err := os.WriteFile(s.certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0600); err != nil {
		t.Fatal(err)
	}
	server := &http.Server{Addr: s.addr, Handler: http.HandlerFunc(s.serveToken)}
	go server.ListenAndServe()
	t.Cleanup(func() { server.Close() })
	return s
}

func (s *tokenServer) serveToken(w http.ResponseWriter, r *http.Request) {
	user, password, hasAuth := r.BasicAuth()
	if hasAuth && (user != "alice" || password != "s3cret-word") {
		http.Error(w, "who?", http.StatusUnauthorized)
		return
	}
	scope := r.URL.Query().Get("scope")
	s.mu.Lock()
	s.requests = append(s.requests, scope)
	s.mu.Unlock()
	var access []map[string]any
	if parts := strings.Split(scope, ":"); len(parts) == 3 && parts[0] == "repository" {
		actions := []string{}
		if hasAuth {
			actions = strings.Split(parts[2], ",")
		} else if strings.HasPrefix(parts[1], "public/") {
			actions = []string{"pull"}
		}
		access = append(access, map[string]any{"type": "repository", "name": parts[1], "actions": actions})
	}
	now := time.Now()
	header, _ := json.Marshal(map[string]any{"typ": "JWT", "alg": "ES256", "x5c": []string{base64.StdEncoding.EncodeToString(s.certDER)}})
	claims, _ := json.Marshal(map[string]any{"iss": "engine-test-issuer", "sub": user, "aud": "engine-test",
		"exp": now.Add(5 * time.Minute).Unix(), "nbf": now.Add(-time.Minute).Unix(), "iat": now.Unix(),
		"jti": fmt.Sprint(now.UnixNano()), "access": access})
	signed := base64.RawURLEncoding.EncodeToString(header) + "." + base64.RawURLEncoding.EncodeToString(claims)
	digest := sha256.Sum256([]byte(signed))
	r1, s1, err := ecdsa.Sign(rand.Reader, s.key, digest[:])
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	signature := make([]byte, 64)
	r1.FillBytes(signature[:32])
	s1.FillBytes(signature[32:])
	token := signed + "." + base64.RawURLEncoding.EncodeToString(signature)
	json.NewEncoder(w).Encode(map[string]any{"token": token, "expires_in": 300})
}

// TestE2ELoginToken: a registry that hands out bearer tokens: an anonymous pull of a public repository
// gets an anonymous token, a private one is refused, and after a login push and pull get tokens for
// alice with the scope each needs.
func TestE2ELoginToken(t *testing.T) {
	tokens := startTokenServer(t)
	reg := startRegistryWith(t, fmt.Sprintf("}\nauth: {token: {realm: 'http://%s/token', service: engine-test, issuer: engine-test-issuer, rootcertbundle: %s}", tokens.addr, tokens.certFile))
	d, err := startDaemon(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	home := t.TempDir()
	public, private := reg.addr+"/public/base:1", reg.addr+"/private/base:1"
	d.mustRun(t, "tag", "base", public)
	d.mustRun(t, "tag", "base", private)

	if _, stderr, code := d.runAs(home, "", "push", public); code == 0 || !strings.Contains(stderr, "unauthorized") {
		t.Errorf("an anonymous push: exit %d, %q", code, stderr)
	}
	if out, stderr, code := d.runAs(home, "s3cret-word\n", "login", "-u", "alice", "--password-stdin", reg.addr); code != 0 || out != "Login Succeeded\n" {
		t.Fatalf("login: exit %d, %q, %q", code, out, stderr)
	}
	for _, name := range []string{public, private} {
		if _, stderr, code := d.runAs(home, "", "push", name); code != 0 {
			t.Fatalf("push of %s after the login: exit %d, %q", name, code, stderr)
		}
	}
	tokens.mu.Lock()
	asked := strings.Join(tokens.requests, " ")
	tokens.mu.Unlock()
	if !strings.Contains(asked, "repository:private/base:pull,push") {
		t.Errorf("the token server was asked for %q", asked)
	}
	d.runAs(home, "", "logout", reg.addr)
	d.mustRun(t, "rmi", public, private)
	if _, stderr, code := d.runAs(home, "", "pull", public); code != 0 {
		t.Errorf("an anonymous pull of a public repository: exit %d, %q", code, stderr)
	}
	if _, stderr, code := d.runAs(home, "", "pull", private); code == 0 || !strings.Contains(stderr, "unauthorized") {
		t.Errorf("an anonymous pull of a private repository: exit %d, %q", code, stderr)
	}
}
