// e2e_registry_test.go: `engine pull` from a real registry (pull.go, registry.go): Debian's
// docker-registry, started by the test on 127.0.0.1 with a config of its own (filesystem storage in a
// temp dir), filled by skopeo from images engine saved, in Docker's schema 2 and in OCI form, and with
// an OCI index made by hand.
package main

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// testRegistry is a docker-registry serving plain HTTP on a loopback port.
type testRegistry struct {
	addr    string // 127.0.0.1:port
	storage string
}

// startRegistry starts a registry for the test and stops it at its end.
func startRegistry(t *testing.T) *testRegistry {
	return startRegistryWith(t, "")
}

// startRegistryWith starts a registry whose config's http section ends with httpMore (", tls: {…}"),
// which may close it and add a section ("}\nauth: {…"), or the last one's brace.
func startRegistryWith(t *testing.T, httpMore string) *testRegistry {
	t.Helper()
	dir := t.TempDir()
	r := &testRegistry{addr: freePort(), storage: filepath.Join(dir, "storage")}
	config := fmt.Sprintf("version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\n"+
		"  delete: {enabled: true}\nhttp: {addr: %s, secret: engine-test%s}\n", r.storage, r.addr, httpMore)
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))
	var log syncBuffer
	cmd.Stdout, cmd.Stderr = &log, &log
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry (contrib/test.sh installs it): %v", err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	probe := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	scheme := "http://"
	if strings.Contains(httpMore, "tls:") {
		scheme = "https://"
	}
	for i := 0; ; i++ {
		resp, err := probe.Get(scheme + r.addr + "/v2/")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 || resp.StatusCode == 401 { // 401: it wants to know who asks
				return r
			}
		}
		if i == 200 {
			t.Fatalf("the registry does not answer on %s: %v\n%s", r.addr, err, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// push copies an image of the shared daemon into the registry with skopeo, as name:tag, in Docker's
// schema 2 or (oci) in OCI form.
func (r *testRegistry) push(t *testing.T, image, name string, oci bool) {
	t.Helper()
	archive := filepath.Join(t.TempDir(), "image.tar")
	cmd := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "save", "-o", archive, image)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("engine save %s: %v: %s", image, err, out)
	}
	args := []string{"copy", "--insecure-policy", "--dest-tls-verify=false"}
	if oci {
		args = append(args, "--format", "oci")
	}
	args = append(args, "docker-archive:"+archive, "docker://"+r.addr+"/"+name)
	if out, err := exec.Command("skopeo", args...).CombinedOutput(); err != nil {
		t.Fatalf("skopeo %v: %v: %s", args, err, out)
	}
}

// manifest reads a manifest's bytes and digest as the registry serves them.
func (r *testRegistry) manifest(t *testing.T, name, reference string) ([]byte, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+r.addr+"/v2/"+name+"/manifests/"+reference, nil)
	req.Header.Set("Accept", manifestAccept)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body bytes.Buffer
	body.ReadFrom(resp.Body)
	sum := sha256.Sum256(body.Bytes())
	return body.Bytes(), "sha256:" + hex.EncodeToString(sum[:])
}

// blobPath is where the registry's filesystem storage keeps a blob.
func (r *testRegistry) blobPath(digest string) string {
	hex := strings.TrimPrefix(digest, "sha256:")
	return filepath.Join(r.storage, "docker/registry/v2/blobs/sha256", hex[:2], hex, "data")
}

// spoil changes one byte of a blob in the registry's storage.
func (r *testRegistry) spoil(t *testing.T, digest string) {
	t.Helper()
	data, err := os.ReadFile(r.blobPath(digest))
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/2] ^= 0x01
	if err := os.WriteFile(r.blobPath(digest), data, 0644); err != nil {
		t.Fatal(err)
	}
}

// imageID is the full ID of an image of d.
func (d *daemon) imageID(t *testing.T, name string) string {
	t.Helper()
	var image struct{ Id string }
	if err := json.Unmarshal([]byte(d.mustRun(t, "inspect", name)), &image); err != nil {
		t.Fatal(err)
	}
	return image.Id
}

// TestE2EPull: images pushed by skopeo come back with their IDs (the config's digest), layers and all,
// run, and a second pull fetches nothing; an index gives the linux/amd64 image; a reference by digest
// pulls too; a layer or a manifest changed by one byte in the registry is refused and nothing of it is
// kept.
func TestE2EPull(t *testing.T) {
	reg := startRegistry(t)
	engine(t, "run", "--name", "pull-source", "base", "sh", "-c", "echo from-layer-2 > /hello; rm /bin/cpio")
	defer engine(t, "rm", "pull-source")
	engine(t, "commit", "pull-source", "pull-source:1")
	defer engine(t, "rmi", "pull-source:1")
	want := shared.imageID(t, "pull-source:1")
	reg.push(t, "pull-source:1", "app:v2s2", false)
	reg.push(t, "pull-source:1", "app:oci", true)

	d, err := startDaemon(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	d.mustRun(t, "rmi", "base") // an empty store: every layer comes from the registry
	out := d.mustRun(t, "pull", reg.addr+"/app:v2s2")
	if strings.Count(out, "Pull complete") != 2 || !strings.Contains(out, "Downloaded newer image for "+reg.addr+"/app:v2s2") {
		t.Errorf("pull of app:v2s2 printed:\n%s", out)
	}
	if got := d.imageID(t, reg.addr+"/app:v2s2"); got != want {
		t.Errorf("pulled image %s, pushed %s", got, want)
	}
	if got := d.mustRun(t, "run", "--rm", reg.addr+"/app:v2s2", "sh", "-c", "cat /hello; test -e /bin/cpio || echo cpio-gone"); got != "from-layer-2\ncpio-gone\n" {
		t.Errorf("the pulled image runs and says %q", got)
	}
	if out := d.mustRun(t, "pull", reg.addr+"/app:v2s2"); !strings.Contains(out, "Image is up to date") || strings.Contains(out, "Pull") && strings.Contains(out, "complete") {
		t.Errorf("a second pull printed:\n%s", out)
	}

	// The OCI form has the same layers and another config: nothing is downloaded but the config.
	out = d.mustRun(t, "pull", "-q", reg.addr+"/app:oci")
	if out != reg.addr+"/app:oci\n" {
		t.Errorf("pull -q printed %q", out)
	}
	ociManifest, ociDigest := reg.manifest(t, "app", "oci")
	ociID := d.imageID(t, reg.addr+"/app:oci")

	// An index with two platforms, and a pull by digest.
	index := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[`+
		`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"arm64","os":"linux"}},`+
		`{"mediaType":%q,"digest":%q,"size":%d,"platform":{"architecture":"amd64","os":"linux"}}]}`,
		mediaOCIIndex, mediaOCIManifest, ociDigest, len(ociManifest), mediaOCIManifest, ociDigest, len(ociManifest))
	req, _ := http.NewRequest("PUT", "http://"+reg.addr+"/v2/app/manifests/index", strings.NewReader(index))
	req.Header.Set("Content-Type", mediaOCIIndex)
	if resp, err := http.DefaultClient.Do(req); err != nil || resp.StatusCode != 201 {
		t.Fatalf("PUT of the index: %v %v", resp, err)
	}
	d.mustRun(t, "pull", reg.addr+"/app:index")
	if got := d.imageID(t, reg.addr+"/app:index"); got != ociID {
		t.Errorf("the index gave %s, want the linux/amd64 image %s", got, ociID)
	}
	if out := d.mustRun(t, "pull", reg.addr+"/app@"+ociDigest); !strings.Contains(out, "Digest: "+ociDigest) {
		t.Errorf("pull by digest printed:\n%s", out)
	}
	// The digests it was pulled by name it: RepoDigests, images --digests, run and rmi by digest.
	var views []struct{ RepoDigests []string }
	byDigest := reg.addr + "/app@" + ociDigest
	if err := json.Unmarshal([]byte("["+d.mustRun(t, "inspect", byDigest)+"]"), &views); err != nil || len(views) != 1 || !slices.Contains(views[0].RepoDigests, byDigest) {
		t.Errorf("inspect %s: RepoDigests %+v (%v)", byDigest, views, err)
	}
	if out := d.mustRun(t, "images", "--digests"); !slices.ContainsFunc(strings.Split(out, "\n"), func(line string) bool {
		fields := strings.Fields(line)
		return len(fields) > 3 && fields[0] == reg.addr+"/app" && fields[1] == "oci" && fields[2] == ociDigest
	}) {
		t.Errorf("images --digests has no line for app:oci with %s:\n%s", ociDigest, out)
	}
	if got := d.mustRun(t, "run", "--rm", "--pull", "never", byDigest, "cat", "/hello"); got != "from-layer-2\n" {
		t.Errorf("run by digest: %q", got)
	}
	if out := d.mustRun(t, "rmi", byDigest); out != "Untagged: "+byDigest+"\n" {
		t.Errorf("rmi by digest printed %q", out)
	}
	if _, stderr, code := d.run("", "tag", "base", byDigest); code == 0 || !strings.Contains(stderr, "digest reference") {
		t.Errorf("tag to a digest reference: exit %d, %q", code, stderr)
	}

	// Spoiled: a new image's top layer, and a manifest.
	engine(t, "run", "--name", "pull-spoiled", "base", "sh", "-c", "echo spoiled > /spoiled")
	defer engine(t, "rm", "pull-spoiled")
	engine(t, "commit", "pull-spoiled", "pull-spoiled:1")
	defer engine(t, "rmi", "pull-spoiled:1")
	reg.push(t, "pull-spoiled:1", "spoiled:layer", false)
	reg.push(t, "pull-source:1", "spoiled:manifest", true)
	manifestBody, _ := reg.manifest(t, "spoiled", "layer")
	var m manifest
	if err := json.Unmarshal(manifestBody, &m); err != nil || len(m.Layers) != 2 {
		t.Fatalf("the manifest of spoiled:layer: %v %s", err, manifestBody)
	}
	reg.spoil(t, m.Layers[1].Digest)
	before := d.mustRun(t, "images", "-a", "-q", "--no-trunc")
	_, stderr, code := d.run("", "pull", reg.addr+"/spoiled:layer")
	if code == 0 || !strings.Contains(stderr, "hash") {
		t.Errorf("pull of a spoiled layer: exit %d, %q", code, stderr)
	}
	_, spoiledDigest := reg.manifest(t, "spoiled", "manifest")
	reg.spoil(t, spoiledDigest)
	_, stderr, code = d.run("", "pull", reg.addr+"/spoiled:manifest")
	if code == 0 || !strings.Contains(stderr, "hash") {
		t.Errorf("pull of a spoiled manifest: exit %d, %q", code, stderr)
	}
	if after := d.mustRun(t, "images", "-a", "-q", "--no-trunc"); after != before {
		t.Errorf("spoiled pulls left images: before\n%s\nafter\n%s", before, after)
	}
	if hidden, _ := filepath.Glob(filepath.Join(d.root, "graph", ".*")); len(hidden) > 0 {
		t.Errorf("spoiled pulls left %v", hidden)
	}
}

// TestE2EPullErrors: what cannot be pulled says why, in one line, and the daemon goes on serving.
func TestE2EPullErrors(t *testing.T) {
	reg := startRegistry(t)
	engineFails(t, 125, "manifest_unknown", "pull", reg.addr+"/nothing:here")
	engineFails(t, 125, "invalid reference format", "pull", reg.addr+"/Upper")
	engineFails(t, 125, "invalid reference format", "pull", "base@sha256:short")
	engine(t, "version")
}

// TestE2EPush: an image of engine's, tagged with a registry's name, is pushed (every blob, then the
// manifest), read back by skopeo with the digest push printed, and pulled by a daemon of its own with
// the same ID; a second push sends no blob again.
func TestE2EPush(t *testing.T) {
	reg := startRegistry(t)
	engine(t, "run", "--name", "push-source", "base", "sh", "-c", "echo pushed > /pushed")
	defer engine(t, "rm", "push-source")
	engine(t, "commit", "push-source", "push-source:1")
	defer engine(t, "rmi", "push-source:1")
	name := reg.addr + "/mine:2"
	engine(t, "tag", "push-source:1", name)
	defer engine(t, "rmi", name)
	want := shared.imageID(t, name)

	out := engine(t, "push", name)
	if strings.Count(out, ": Pushed\n") != 3 || !strings.Contains(out, "2: digest: sha256:") {
		t.Errorf("push printed:\n%s", out)
	}
	digest := out[strings.Index(out, "sha256:"):]
	digest = digest[:len("sha256:")+64]
	inspected, err := exec.Command("skopeo", "inspect", "--tls-verify=false", "docker://"+name).CombinedOutput()
	if err != nil {
		t.Fatalf("skopeo inspect: %v: %s", err, inspected)
	}
	var seen struct {
		Digest string
		Layers []string
	}
	if err := json.Unmarshal(inspected, &seen); err != nil || seen.Digest != digest || len(seen.Layers) != 2 {
		t.Errorf("skopeo sees %+v (%v), push printed %s", seen, err, digest)
	}
	if out := engine(t, "push", name); strings.Contains(out, ": Pushed") || strings.Count(out, "Layer already exists") != 3 {
		t.Errorf("a second push printed:\n%s", out)
	}
	if got := shared.imageID(t, reg.addr+"/mine@"+digest); got != want {
		t.Errorf("the pushed digest names %s, not the image pushed (%s)", got, want)
	}

	d, err := startDaemon(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	d.mustRun(t, "pull", reg.addr+"/mine@"+digest)
	d.mustRun(t, "pull", name)
	if got := d.imageID(t, name); got != want {
		t.Errorf("pulled back %s, pushed %s", got, want)
	}
	if got := d.mustRun(t, "run", "--rm", name, "cat", "/pushed"); got != "pushed\n" {
		t.Errorf("the image pulled back says %q", got)
	}
	engineFails(t, 125, "no such image", "push", reg.addr+"/nothing:1")
}

// TestE2ERunPulls: run pulls an image the store lacks (--pull missing, the default), its progress on
// stderr and the container's output alone on stdout; --pull always pulls again, --pull never does not.
func TestE2ERunPulls(t *testing.T) {
	reg := startRegistry(t)
	engine(t, "run", "--name", "run-pulls", "base", "sh", "-c", "echo pulled-by-run > /said")
	defer engine(t, "rm", "run-pulls")
	engine(t, "commit", "run-pulls", "run-pulls:1")
	defer engine(t, "rmi", "run-pulls:1")
	reg.push(t, "run-pulls:1", "said:1", false)
	name := reg.addr + "/said:1"

	engineFails(t, 125, "no such image: "+name, "run", "--rm", "--pull", "never", name, "cat", "/said")
	stdout, stderr, code := shared.run("", "run", "--rm", name, "cat", "/said")
	defer shared.run("", "rmi", name)
	if code != 0 || stdout != "pulled-by-run\n" || !strings.Contains(stderr, "Unable to find image '"+name+"' locally") || !strings.Contains(stderr, "Downloaded newer image") {
		t.Errorf("run of a missing image: exit %d, stdout %q, stderr %q", code, stdout, stderr)
	}
	if _, stderr, code := shared.run("", "run", "--rm", "--pull", "always", name, "true"); code != 0 || !strings.Contains(stderr, "Image is up to date") {
		t.Errorf("run --pull always: exit %d, stderr %q", code, stderr)
	}
	id, stderr, code := shared.run("", "create", "--pull", "never", name, "true")
	if code != 0 || stderr != "" {
		t.Errorf("create --pull never of an image the store has: exit %d, stderr %q", code, stderr)
	}
	shared.run("", "rm", strings.TrimSpace(id))
	engineFails(t, 125, `invalid --pull "sometimes"`, "run", "--pull", "sometimes", "base", "true")
}

// slowProxy serves a registry's API on a loopback port of its own, sending the bodies of blobs 64 KiB at
// a time, 20 times a second: a pull through it takes long enough to be interrupted.
func slowProxy(t *testing.T, target string) string {
	t.Helper()
	addr := freePort()
	server := &http.Server{Addr: addr, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		req, _ := http.NewRequestWithContext(r.Context(), r.Method, "http://"+target+r.URL.RequestURI(), r.Body)
		req.Header = r.Header.Clone()
		resp, err := http.DefaultTransport.RoundTrip(req)
		if err != nil {
			w.WriteHeader(http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		for key, values := range resp.Header {
			w.Header()[key] = values
		}
		w.WriteHeader(resp.StatusCode)
		for buf := make([]byte, 64<<10); ; {
			n, err := resp.Body.Read(buf)
			if _, werr := w.Write(buf[:n]); werr != nil || err != nil {
				return
			}
			w.(http.Flusher).Flush()
			if strings.Contains(r.URL.Path, "/blobs/") {
				time.Sleep(50 * time.Millisecond)
			}
		}
	})}
	go server.ListenAndServe()
	t.Cleanup(func() { server.Close() })
	for i := 0; i < 100; i++ {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return addr
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatal("the slow proxy does not answer")
	return ""
}

// TestE2EPullClientKilled: a client killed in the middle of a pull takes the pull with it: nothing half
// made stays in the store, nothing is tagged, and the next pull gets the whole image.
func TestE2EPullClientKilled(t *testing.T) {
	reg := startRegistry(t)
	engine(t, "run", "--name", "pull-killed", "base", "sh", "-c", "head -c 8388608 /dev/urandom > /big")
	defer engine(t, "rm", "pull-killed")
	engine(t, "commit", "pull-killed", "pull-killed:1")
	defer engine(t, "rmi", "pull-killed:1")
	reg.push(t, "pull-killed:1", "big:1", false)
	proxy := slowProxy(t, reg.addr) // 8 MiB at 1.25 MiB/s: about 6 s
	d, err := startDaemon(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)

	cmd, _, out := d.background(t, false, "pull", proxy+"/big:1")
	waitFor(t, func() bool { return strings.Contains(out.String(), "Pulling fs layer") })
	time.Sleep(500 * time.Millisecond)
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, func() bool {
		hidden, _ := filepath.Glob(filepath.Join(d.root, "graph", ".pull-*"))
		return len(hidden) == 0
	})
	if out, _, code := d.run("", "inspect", proxy+"/big:1"); code == 0 {
		t.Errorf("the interrupted pull left its tag: %s", out)
	}
	d.mustRun(t, "pull", reg.addr+"/big:1")
	if got := d.mustRun(t, "run", "--rm", reg.addr+"/big:1", "wc", "-c", "/big"); !strings.HasPrefix(strings.TrimSpace(got), "8388608") {
		t.Errorf("the image pulled after the interrupted pull has /big of %q bytes", got)
	}
}

// TestE2EPullOverTLS: a registry on loopback that speaks HTTPS is reached over HTTPS; its certificate is
// not checked unless a CA is given for it in ROOT/certs.d/HOST:PORT, and then it is: a CA that did not
// sign it fails the pull, the one that did lets it through.
func TestE2EPullOverTLS(t *testing.T) {
	ca := newTestCA(t)
	certFile, keyFile := ca.serverFiles(t, t.TempDir())
	reg := startRegistryWith(t, fmt.Sprintf(", tls: {certificate: %s, key: %s}", certFile, keyFile))
	reg.push(t, "base", "tls:1", false)
	d, err := startDaemon(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	name := reg.addr + "/tls:1"
	d.mustRun(t, "pull", name)

	certs := filepath.Join(d.root, "certs.d", reg.addr)
	if err := os.MkdirAll(certs, 0700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(certs, "ca.crt"), newTestCA(t).pem, 0600); err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := d.run("", "pull", name); code == 0 || !strings.Contains(stderr, "certificate") {
		t.Errorf("a pull with a CA that did not sign the registry's certificate: exit %d, %q", code, stderr)
	}
	if err := os.WriteFile(filepath.Join(certs, "ca.crt"), ca.pem, 0600); err != nil {
		t.Fatal(err)
	}
	if out := d.mustRun(t, "pull", name); !strings.Contains(out, "Image is up to date") {
		t.Errorf("a pull with the registry's CA printed:\n%s", out)
	}
}
