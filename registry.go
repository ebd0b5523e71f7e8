// registry.go: a client of a registry, the OCI distribution API v2 that Docker Hub, GHCR, Quay and a
// company's own registry all serve. It is plain HTTP requests, and that is the lesson:
//
//	GET /v2/<path>/manifests/<tag or digest>   what an image is made of: a manifest, or an index of them
//	GET /v2/<path>/blobs/<digest>              a config or a layer, named by the sha256 of its bytes
//
// Everything a registry sends is named by its digest, so everything is checked against it: a manifest
// fetched by digest must hash to that digest (and one fetched by tag to the digest the registry says it
// has), a blob to the digest the manifest gives. Nothing the registry sends is trusted to be small
// either: a manifest or a config is read up to a limit, a layer up to the size its manifest gives, and
// every request gives up when the registry stops sending for registryStallTimeout.
//
// How the daemon reaches a registry (HTTPS, which CA, or plain HTTP for an insecure one) is in
// registry_config.go. pull.go uses this to pull, push.go to push.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The media types of manifests, all four of which a pull must ask for: a registry answers 404 for an
// OCI manifest to a client that does not list the OCI types, and converts a Docker one to the long-gone
// schema 1 for a client that lists nothing.
const (
	mediaOCIIndex       = "application/vnd.oci.image.index.v1+json"
	mediaOCIManifest    = "application/vnd.oci.image.manifest.v1+json"
	mediaDockerList     = "application/vnd.docker.distribution.manifest.list.v2+json"
	mediaDockerManifest = "application/vnd.docker.distribution.manifest.v2+json"
)

var manifestAccept = strings.Join([]string{mediaOCIIndex, mediaOCIManifest, mediaDockerList, mediaDockerManifest}, ", ")

const (
	maxManifestSize      = 4 << 20 // bytes of a manifest or an index, Docker's limit too
	registryStallTimeout = 60 * time.Second
)

// Registry is a client of one registry (registry_config.go makes it).
type Registry struct {
	domain   string // as references name it: docker.io, 127.0.0.1:5000
	base     string // scheme://host[:port] of its API, once Ping has found the scheme
	insecure bool   // plain HTTP allowed, and HTTPS without checking the certificate (no CA given)
	client   *http.Client

	// Who asks (registry_auth.go): the challenge Ping met, the scope of this command, the header that
	// answers them (under authMu: layers go up and down a few at once), and the client's credentials
	// once asked for (under askMu).
	challenge      challenge
	scope          string
	authMu         sync.Mutex
	authorization  string
	credentials    Credentials
	askMu          sync.Mutex
	asked          bool
	user, password string
}

// descriptor points at a blob or a manifest: its type, digest and size (OCI image-spec descriptor.md).
type descriptor struct {
	MediaType string    `json:"mediaType"`
	Digest    string    `json:"digest"`
	Size      int64     `json:"size"`
	Platform  *platform `json:"platform,omitempty"`
}

type platform struct {
	Architecture string `json:"architecture"`
	OS           string `json:"os"`
	Variant      string `json:"variant,omitempty"`
}

// manifest is an image manifest (config and layers) or an index (manifests, one per platform).
type manifest struct {
	SchemaVersion int          `json:"schemaVersion"`
	MediaType     string       `json:"mediaType,omitempty"`
	Config        descriptor   `json:"config"`
	Layers        []descriptor `json:"layers,omitempty"`
	Manifests     []descriptor `json:"manifests,omitempty"`
}

// isIndex tells an index from an image manifest, by the Content-Type the registry sent, else by the
// document's own mediaType, else by its shape (umoci writes no mediaType).
func (m *manifest) isIndex(contentType string) bool {
	for _, t := range []string{contentType, m.MediaType} {
		switch t {
		case mediaOCIIndex, mediaDockerList:
			return true
		case mediaOCIManifest, mediaDockerManifest:
			return false
		}
	}
	return len(m.Manifests) > 0
}

// Manifest fetches the manifest or index that reference (a tag or a digest) names in the repository
// path, and checks its digest. It returns the document, its raw bytes, their digest and Content-Type.
func (r *Registry) Manifest(ctx context.Context, path, reference string) (*manifest, []byte, string, string, error) {
	resp, err := r.get(ctx, "/v2/"+path+"/manifests/"+reference, manifestAccept)
	if err != nil {
		return nil, nil, "", "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxManifestSize+1))
	if err != nil {
		return nil, nil, "", "", fmt.Errorf("manifest %s: %w", reference, err)
	}
	if len(body) > maxManifestSize {
		return nil, nil, "", "", fmt.Errorf("manifest %s is larger than %d bytes", reference, maxManifestSize)
	}
	sum := sha256.Sum256(body)
	digest := "sha256:" + hex.EncodeToString(sum[:])
	want := resp.Header.Get("Docker-Content-Digest")
	if strings.HasPrefix(reference, "sha256:") {
		want = reference
	}
	if want != "" && want != digest {
		return nil, nil, "", "", fmt.Errorf("manifest %s: its bytes hash to %s, not %s", reference, digest, want)
	}
	var m manifest // a new one for every document: Unmarshal keeps fields a reused one had
	if err := json.Unmarshal(body, &m); err != nil {
		return nil, nil, "", "", fmt.Errorf("manifest %s: %w", reference, err)
	}
	return &m, body, digest, resp.Header.Get("Content-Type"), nil
}

// Blob opens the blob a descriptor names. Its reader fails if the blob is longer than the descriptor
// says, and Close (via verify) tells whether what was read hashes to the digest.
func (r *Registry) Blob(ctx context.Context, path string, d descriptor) (*blobReader, error) {
	if !validDigest(d.Digest) {
		return nil, fmt.Errorf("blob digest %q is not sha256: and 64 hex digits", d.Digest)
	}
	if d.Size < 0 {
		return nil, fmt.Errorf("blob %s: size %d", d.Digest, d.Size)
	}
	resp, err := r.get(ctx, "/v2/"+path+"/blobs/"+d.Digest, "")
	if err != nil {
		return nil, err
	}
	return &blobReader{body: resp.Body, limit: io.LimitReader(resp.Body, d.Size+1), hash: sha256.New(), want: d}, nil
}

// blobReader reads a blob and hashes what it reads.
type blobReader struct {
	body  io.ReadCloser
	limit io.Reader
	hash  hash.Hash
	n     int64
	want  descriptor
}

func (b *blobReader) Read(p []byte) (int, error) {
	n, err := b.limit.Read(p)
	b.hash.Write(p[:n])
	if b.n += int64(n); b.n > b.want.Size {
		return n, fmt.Errorf("blob %s is longer than its %d bytes", b.want.Digest, b.want.Size)
	}
	return n, err
}

// verify reads what is left of the blob (a gzip stream may end before its last bytes are read) and
// checks its size and digest.
func (b *blobReader) verify() error {
	if _, err := io.Copy(io.Discard, b); err != nil {
		return err
	}
	if b.n != b.want.Size {
		return fmt.Errorf("blob %s has %d bytes, not %d", b.want.Digest, b.n, b.want.Size)
	}
	if got := "sha256:" + hex.EncodeToString(b.hash.Sum(nil)); got != b.want.Digest {
		return fmt.Errorf("blob %s: its bytes hash to %s", b.want.Digest, got)
	}
	return nil
}

func (b *blobReader) Close() error { return b.body.Close() }

// get sends a GET and returns a 200's response; any other status is an error with the registry's
// message. The request is cancelled when ctx ends or the body stops coming for registryStallTimeout.
func (r *Registry) get(ctx context.Context, path, accept string) (*http.Response, error) {
	ctx, cancel := context.WithCancel(ctx)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+path, nil)
	if err != nil {
		cancel()
		return nil, err
	}
	if accept != "" {
		req.Header.Set("Accept", accept)
	}
	resp, err := r.do(req)
	if err != nil {
		cancel()
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		defer cancel()
		defer resp.Body.Close()
		return nil, registryError(r.domain, path, resp)
	}
	resp.Body = newStallGuard(resp.Body, cancel)
	return resp, nil
}

// registryError turns a registry's error answer ({"errors":[{"code","message"}]}) into one line.
func registryError(domain, path string, resp *http.Response) error {
	var answer struct {
		Errors []struct{ Code, Message string }
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 64<<10))
	if json.Unmarshal(body, &answer) == nil && len(answer.Errors) > 0 {
		e := answer.Errors[0]
		return fmt.Errorf("%s%s: %s: %s", domain, path, strings.ToLower(e.Code), printable(e.Message))
	}
	return fmt.Errorf("%s%s: %s", domain, path, resp.Status)
}

// stallGuard cancels a request whose body stops moving: a registry may send its headers and then
// nothing, or stop taking what a push sends, and neither may hold the daemon forever.
type stallGuard struct {
	io.ReadCloser
	timer  *time.Timer
	cancel context.CancelFunc
}

func newStallGuard(body io.ReadCloser, cancel context.CancelFunc) *stallGuard {
	return &stallGuard{ReadCloser: body, timer: time.AfterFunc(registryStallTimeout, cancel), cancel: cancel}
}

// HasBlob asks whether the repository has a blob (HEAD): a push skips what is there.
func (r *Registry) HasBlob(ctx context.Context, path, digest string) (bool, error) {
	ctx, cancel := context.WithTimeout(ctx, registryStallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, r.base+"/v2/"+path+"/blobs/"+digest, nil)
	if err != nil {
		return false, err
	}
	resp, err := r.do(req)
	if err != nil {
		return false, err
	}
	resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
		return true, nil
	case http.StatusNotFound:
		return false, nil
	}
	return false, fmt.Errorf("%s/v2/%s/blobs/%s: %s", r.domain, path, digest, resp.Status)
}

// UploadBlob uploads a blob of size bytes whose sha256 is digest: POST opens an upload and answers with
// where to send it (Location, which may be relative, and whose query the registry needs back as it
// is), and one PUT there with ?digest= sends the bytes and closes it. (A single POST with the body is
// in the spec, but distribution 2.8 ignores its body.)
func (r *Registry) UploadBlob(ctx context.Context, path, digest string, size int64, body io.Reader) error {
	resp, err := r.send(ctx, http.MethodPost, "/v2/"+path+"/blobs/uploads/", "", nil, 0, http.StatusAccepted)
	if err != nil {
		return err
	}
	location, err := resp.Location()
	resp.Body.Close()
	if err != nil {
		return fmt.Errorf("%s: the upload has no Location: %w", r.domain, err)
	}
	query := location.Query()
	query.Set("digest", digest)
	location.RawQuery = query.Encode()
	resp, err = r.send(ctx, http.MethodPut, location.String(), "application/octet-stream", body, size, http.StatusCreated)
	if err != nil {
		return err
	}
	resp.Body.Close()
	return nil
}

// PutManifest stores a manifest under reference (a tag) and returns the digest the registry gives it.
func (r *Registry) PutManifest(ctx context.Context, path, reference, mediaType string, body []byte) (string, error) {
	resp, err := r.send(ctx, http.MethodPut, "/v2/"+path+"/manifests/"+reference, mediaType, bytes.NewReader(body), int64(len(body)), http.StatusCreated)
	if err != nil {
		return "", err
	}
	resp.Body.Close()
	return resp.Header.Get("Docker-Content-Digest"), nil
}

// send sends a request with a body (target is a path of the API, or a URL the registry gave) and
// returns the response if its status is want. The request is called off when the registry takes
// nothing of the body, or sends nothing back, for registryStallTimeout.
func (r *Registry) send(ctx context.Context, method, target, contentType string, body io.Reader, size int64, want int) (*http.Response, error) {
	if strings.HasPrefix(target, "/") {
		target = r.base + target
	} else if !strings.HasPrefix(target, "http://") && !strings.HasPrefix(target, "https://") {
		return nil, fmt.Errorf("%s: a Location that is not a URL: %q", r.domain, printable(target))
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(registryStallTimeout, cancel)
	defer timer.Stop()
	var moving io.Reader = http.NoBody
	if body != nil {
		moving = &movingReader{body, timer}
	}
	req, err := http.NewRequestWithContext(ctx, method, target, moving)
	if err != nil {
		return nil, err
	}
	req.ContentLength = size
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := r.do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != want {
		defer resp.Body.Close()
		return nil, registryError(r.domain, req.URL.Path, resp)
	}
	return resp, nil
}

func (g *stallGuard) Read(p []byte) (int, error) {
	n, err := g.ReadCloser.Read(p)
	g.timer.Reset(registryStallTimeout)
	if errors.Is(err, context.Canceled) {
		err = fmt.Errorf("the registry sent nothing for %v, or the pull was called off", registryStallTimeout)
	}
	return n, err
}

func (g *stallGuard) Close() error {
	g.timer.Stop()
	g.cancel()
	return g.ReadCloser.Close()
}

// movingReader puts off a timer at every read: the body of a request that the registry takes.
type movingReader struct {
	io.Reader
	timer *time.Timer
}

func (m *movingReader) Read(p []byte) (int, error) {
	m.timer.Reset(registryStallTimeout)
	return m.Reader.Read(p)
}
