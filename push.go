// push.go: `engine push`, an image of the store into a registry (registry.go speaks to the registry).
//
//  1. the image's chain of layers, bottom up (as save walks it: archive_save.go), and its config, byte
//     for byte, so that the image keeps its ID wherever it is pulled;
//  2. each layer compressed with gzip into a temp file, which gives the blob's digest and size (the tar
//     is checked against its diff_id as it goes by); a blob the repository has already (HEAD) is not
//     sent again, any other is uploaded. Go's gzip writes the same bytes for the same tar, so a layer
//     pushed once is found again the next time. A few layers at once: compressing takes a core;
//  3. the config, the same way;
//  4. the manifest, in Docker's schema 2, which every registry takes, PUT under the tag once every blob
//     it names is there (the registry checks): the registry answers with its digest, which push prints.
package main

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
)

// The media types of what push sends: Docker's schema 2.
const (
	mediaDockerConfig = "application/vnd.docker.container.image.v1+json"
	mediaDockerLayer  = "application/vnd.docker.image.rootfs.diff.tar.gzip"
)

// maxConcurrentUploads is how many layers are compressed and sent at once (Docker's default is 5).
const maxConcurrentUploads = 3

// pusher is one push.
type pusher struct {
	runtime  *Runtime
	registry *Registry
	ref      Reference
	out      io.Writer // progress, a line per step
}

// Push sends the image the store has under ref's name and tag, and returns the manifest's digest. creds
// answers a registry that asks who we are.
func (r *Runtime) Push(ctx context.Context, ref Reference, out io.Writer, creds Credentials) (string, error) {
	if ref.Digest != "" || ref.Tag == "" {
		return "", fmt.Errorf("%s: push takes a name and a tag, not a digest", ref)
	}
	local := ref.Name() + ":" + ref.Tag
	image, err := r.LookupImage(local)
	if err != nil {
		return "", err
	}
	registry, err := r.Registries.reach(ctx, ref, "pull,push", creds)
	if err != nil {
		return "", err
	}
	p := &pusher{runtime: r, registry: registry, ref: ref, out: out}
	fmt.Fprintf(out, "The push refers to repository [%s/%s]\n", ref.Domain, ref.Path)
	return p.push(ctx, image.ID)
}

func (p *pusher) push(ctx context.Context, id string) (string, error) {
	g := p.runtime.graph
	chain, err := g.layerChain(id)
	if err != nil {
		return "", err
	}
	config, err := g.RawConfig(id)
	if err != nil {
		return "", err
	}
	m := manifest{SchemaVersion: 2, MediaType: mediaDockerManifest, Layers: make([]descriptor, len(chain))}
	if err := p.pushLayers(ctx, chain, m.Layers); err != nil {
		return "", err
	}
	m.Config = descriptor{MediaType: mediaDockerConfig, Digest: "sha256:" + id, Size: int64(len(config))}
	if err := p.pushBlob(ctx, m.Config, func() (io.Reader, error) { return bytes.NewReader(config), nil }); err != nil {
		return "", fmt.Errorf("image config: %w", err)
	}
	body, err := json.MarshalIndent(m, "", "   ")
	if err != nil {
		return "", err
	}
	digest, err := p.registry.PutManifest(ctx, p.ref.Path, p.ref.Tag, mediaDockerManifest, body)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(p.out, "%s: digest: %s size: %d\n", p.ref.Tag, digest, len(body))
	if validDigest(digest) { // the registry's name for the image: one of its RepoDigests
		if err := p.runtime.TagImage(id, p.ref.Name()+"@"+digest); err != nil {
			return "", err
		}
	}
	return digest, nil
}

// pushLayers pushes the layers of chain, maxConcurrentUploads at a time (compressing takes a core), and
// fills in their descriptors.
func (p *pusher) pushLayers(ctx context.Context, chain []*Image, descriptors []descriptor) error {
	return eachLayer(ctx, len(chain), maxConcurrentUploads, func(i int) string { return chain[i].DiffID },
		func(ctx context.Context, i int) (err error) {
			descriptors[i], err = p.pushLayer(ctx, chain[i])
			return err
		})
}

// pushLayer compresses a layer into a temp file and pushes it, unless the repository has it.
func (p *pusher) pushLayer(ctx context.Context, layer *Image) (descriptor, error) {
	tmp, err := os.CreateTemp(p.runtime.graph.root, ".push-") // hidden: NewGraph removes what a crash leaves
	if err != nil {
		return descriptor{}, err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	d, err := compressLayer(p.runtime.graph, layer, tmp)
	if err != nil {
		return descriptor{}, err
	}
	err = p.pushBlob(ctx, d, func() (io.Reader, error) {
		_, err := tmp.Seek(0, io.SeekStart)
		return tmp, err
	})
	return d, err
}

// compressLayer writes the layer's tar, gzipped, into w and returns the blob's descriptor. The tar
// must still be the one its DiffID names.
func compressLayer(g *Graph, layer *Image, w io.Writer) (descriptor, error) {
	tar := g.layerTar(layer.ID)
	defer tar.Close()
	blobHash, tarHash := sha256.New(), sha256.New()
	counter := &countingWriter{w: io.MultiWriter(w, blobHash)}
	// The fastest level: a push compresses every layer while the user waits, and on bytes that do not
	// shrink (compressed files, binaries' data) the default level manages 41 MB/s here, level 1 340.
	// Text shrinks a little less. The same tar still gives the same blob, so a second push finds it.
	gz, _ := gzip.NewWriterLevel(counter, gzip.BestSpeed)
	if _, err := io.Copy(io.MultiWriter(gz, tarHash), tar); err != nil {
		return descriptor{}, err
	}
	if err := gz.Close(); err != nil {
		return descriptor{}, err
	}
	if got := "sha256:" + hex.EncodeToString(tarHash.Sum(nil)); got != layer.DiffID {
		return descriptor{}, fmt.Errorf("the stored layer's tar hashes to %s: the store is damaged", got)
	}
	return descriptor{MediaType: mediaDockerLayer, Digest: "sha256:" + hex.EncodeToString(blobHash.Sum(nil)), Size: counter.n}, nil
}

// pushBlob uploads a blob unless the repository has it; open gives its bytes.
func (p *pusher) pushBlob(ctx context.Context, d descriptor, open func() (io.Reader, error)) error {
	has, err := p.registry.HasBlob(ctx, p.ref.Path, d.Digest)
	if err != nil {
		return err
	}
	if has {
		fmt.Fprintf(p.out, "%s: Layer already exists\n", shortDigest(d.Digest))
		return nil
	}
	body, err := open()
	if err != nil {
		return err
	}
	if err := p.registry.UploadBlob(ctx, p.ref.Path, d.Digest, d.Size, body); err != nil {
		return err
	}
	fmt.Fprintf(p.out, "%s: Pushed\n", shortDigest(d.Digest))
	return nil
}

// countingWriter counts what goes through it.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}
