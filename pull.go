// pull.go: `engine pull`, an image from a registry into the store (registry.go speaks to the registry).
//
//  1. resolve: the manifest the reference names; an index (a manifest list) gives the manifest for
//     this machine's platform, linux and runtime.GOARCH, fetched by its digest;
//  2. the config blob, checked against its digest, which is the image ID, as Docker's is: an image the
//     store has already is only tagged;
//  3. the layers the store lacks (it keeps the longest chain of the config's diff_ids it has, so a layer
//     already present is not fetched again), downloaded a few at a time, each unpacked as it streams in
//     (archive.go) into a directory of its own, its compressed bytes checked against the manifest's
//     digest and its tar against the config's diff_id;
//  4. stored bottom up as the chain of images the store keeps, one layer each, under the store lock (as
//     load stores them: archive_load_images.go), the top one with the config byte for byte, and tagged.
//
// A pull that fails, or whose client leaves, discards what it has not verified and stored; the layers it
// had stored stay, and the next pull starts above them.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// maxConcurrentDownloads is how many layers download at once, Docker's default too.
const maxConcurrentDownloads = 3

// puller is one pull.
type puller struct {
	runtime  *Runtime
	registry *Registry
	ref      Reference
	out      io.Writer // progress, a line per step
	dir      string    // where layers are unpacked until they are stored
}

// Pull fetches the image ref names and returns it, stored and tagged (unless ref has only a digest), and
// with the digest it was pulled by as one of its RepoDigests. creds answers a registry that asks who
// we are.
func (r *Runtime) Pull(ctx context.Context, ref Reference, out io.Writer, creds Credentials) (*Image, error) {
	dir, err := os.MkdirTemp(r.graph.root, ".pull-") // hidden: NewGraph removes what a crash leaves
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	registry, err := r.Registries.reach(ctx, ref, "pull", creds)
	if err != nil {
		return nil, err
	}
	p := &puller{runtime: r, registry: registry, ref: ref, out: out, dir: dir}
	return p.pull(ctx)
}

func (p *puller) pull(ctx context.Context) (*Image, error) {
	reference := p.ref.Digest
	if reference == "" {
		reference = p.ref.Tag
		fmt.Fprintf(p.out, "%s: Pulling from %s\n", p.ref.Tag, p.ref.Path)
	}
	m, digest, err := p.resolve(ctx, reference)
	if err != nil {
		return nil, err
	}
	config, diffIDs, err := p.config(ctx, m)
	if err != nil {
		return nil, err
	}
	refs := []string{p.ref.Name() + "@" + digest} // the registry's name for it: RepoDigests
	if p.ref.Tag != "" {
		refs = append(refs, p.ref.Name()+":"+p.ref.Tag)
	}
	image, fresh, err := p.store(ctx, m, config, diffIDs, refs)
	if err != nil {
		return nil, err
	}
	fmt.Fprintf(p.out, "Digest: %s\n", digest)
	if fresh {
		fmt.Fprintf(p.out, "Status: Downloaded newer image for %s\n", p.ref)
	} else {
		fmt.Fprintf(p.out, "Status: Image is up to date for %s\n", p.ref)
	}
	return image, nil
}

// resolve fetches the manifest reference names, through an index if it names one.
func (p *puller) resolve(ctx context.Context, reference string) (*manifest, string, error) {
	m, _, digest, contentType, err := p.registry.Manifest(ctx, p.ref.Path, reference)
	if err != nil {
		return nil, "", err
	}
	if !m.isIndex(contentType) {
		return m, digest, nil
	}
	entry, err := pickPlatform(m.Manifests)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", p.ref, err)
	}
	child, _, _, contentType, err := p.registry.Manifest(ctx, p.ref.Path, entry.Digest)
	if err != nil {
		return nil, "", err
	}
	if child.isIndex(contentType) {
		return nil, "", fmt.Errorf("%s: the index for %s/%s names another index", p.ref, runtime.GOOS, runtime.GOARCH)
	}
	return child, digest, nil // the digest a user pulls by is the index's
}

// pickPlatform chooses the manifest for linux and this machine's architecture.
func pickPlatform(entries []descriptor) (descriptor, error) {
	var offered []string
	for _, e := range entries {
		if e.Platform == nil {
			continue
		}
		if e.Platform.OS == "linux" && e.Platform.Architecture == runtime.GOARCH {
			return e, nil
		}
		offered = append(offered, e.Platform.OS+"/"+e.Platform.Architecture)
	}
	return descriptor{}, fmt.Errorf("no image for linux/%s (the index has %s)", runtime.GOARCH, strings.Join(offered, ", "))
}

// config fetches and checks the image's config: its digest, and one diff_id for each layer.
func (p *puller) config(ctx context.Context, m *manifest) ([]byte, []string, error) {
	if m.Config.Size > maxConfigSize {
		return nil, nil, fmt.Errorf("image config of %d bytes (at most %d)", m.Config.Size, maxConfigSize)
	}
	blob, err := p.registry.Blob(ctx, p.ref.Path, m.Config)
	if err != nil {
		return nil, nil, err
	}
	defer blob.Close()
	config, err := io.ReadAll(blob)
	if err == nil {
		err = blob.verify()
	}
	if err != nil {
		return nil, nil, fmt.Errorf("image config: %w", err)
	}
	parsed, err := parseImageConfig(config)
	if err != nil {
		return nil, nil, err
	}
	if len(parsed.RootFS.DiffIDs) != len(m.Layers) {
		return nil, nil, fmt.Errorf("the manifest has %d layers, the config %d", len(m.Layers), len(parsed.RootFS.DiffIDs))
	}
	for _, layer := range m.Layers {
		if strings.Contains(layer.MediaType, "zstd") {
			return nil, nil, fmt.Errorf("layer %s is compressed with zstd, which engine does not read (gzip or plain tar only)", layer.Digest)
		}
	}
	return config, parsed.RootFS.DiffIDs, nil
}

// store stores the image under refs, fetching the layers the store lacks. It tells whether anything was
// new, the references included: docker says "Image is up to date" only when they named it already.
func (p *puller) store(ctx context.Context, m *manifest, config []byte, diffIDs, refs []string) (*Image, bool, error) {
	r, g := p.runtime, p.runtime.graph
	if image, err := g.Get(configID(config)); err == nil { // only the references may be new
		fresh := false
		for _, ref := range refs {
			fresh = fresh || r.tags.Lookup(ref) != image.ID
			if err := r.TagImage(image.ID, ref); err != nil {
				return nil, false, err
			}
		}
		return image, fresh, nil
	}
	parent, stored, err := g.longestChain(diffIDs)
	if err != nil {
		return nil, false, err
	}
	for i := 0; i < stored; i++ {
		fmt.Fprintf(p.out, "%s: Already exists\n", shortDigest(m.Layers[i].Digest))
	}
	if err := p.download(ctx, m.Layers[stored:], diffIDs[stored:], stored); err != nil {
		return nil, false, err
	}
	if stored == len(diffIDs) { // every layer is there: the image only adds its config
		image, err := r.AddImage(func() (*NewImage, error) { return g.Register(nil, parent, config) }, refs...)
		return image, true, err
	}
	var image *Image
	for i := stored; i < len(diffIDs); i++ {
		layer := &unpackedLayer{dir: p.layerDir(i), diffID: diffIDs[i]}
		if i < len(diffIDs)-1 {
			image, err = r.AddImage(func() (*NewImage, error) { return g.Create(layer, parent, ImageMeta{}) })
		} else {
			image, err = r.AddImage(func() (*NewImage, error) { return g.Register(layer, parent, config) }, refs...)
		}
		if err != nil {
			return nil, false, fmt.Errorf("layer %s: %w", m.Layers[i].Digest, err)
		}
		parent = image.ID
	}
	return image, true, nil
}

func (p *puller) layerDir(i int) string { return filepath.Join(p.dir, fmt.Sprint(i)) }

// download fetches and unpacks layers (the first of which is layer first of the image), at most
// maxConcurrentDownloads at once.
func (p *puller) download(ctx context.Context, layers []descriptor, diffIDs []string, first int) error {
	return eachLayer(ctx, len(layers), maxConcurrentDownloads, func(i int) string { return layers[i].Digest },
		func(ctx context.Context, i int) error {
			return p.fetchLayer(ctx, layers[i], diffIDs[i], p.layerDir(first+i))
		})
}

// eachLayer runs work for layers 0 to n-1, at most limit at once (push.go uses it too): a layer's work
// waits on the network or takes a core, and a machine has more than one of each. The first failure calls
// the others off; it is returned with the name of its layer.
func eachLayer(ctx context.Context, n, limit int, name func(i int) string, work func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	slots := make(chan struct{}, limit)
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			if errs[i] = work(ctx, i); errs[i] != nil {
				cancel()
			}
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil && !errors.Is(err, context.Canceled) {
			return fmt.Errorf("layer %s: %w", name(i), err)
		}
	}
	return ctx.Err()
}

// fetchLayer downloads one layer into dir, unpacking it as it comes, and checks both its digests.
func (p *puller) fetchLayer(ctx context.Context, layer descriptor, diffID, dir string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	fmt.Fprintf(p.out, "%s: Pulling fs layer\n", shortDigest(layer.Digest))
	blob, err := p.registry.Blob(ctx, p.ref.Path, layer)
	if err != nil {
		return err
	}
	defer blob.Close()
	if err := os.MkdirAll(filepath.Join(dir, "layer"), 0755); err != nil {
		return err
	}
	got, err := unpackWithRecord(blob, filepath.Join(dir, "layer"), filepath.Join(dir, layerSplitName))
	// The digest is checked even when the unpacking failed: bytes other than the digest's are the
	// likelier cause of a broken tar, and the one to name.
	if verr := blob.verify(); verr != nil {
		if ctx.Err() != nil {
			return ctx.Err() // called off: the reads failed for that
		}
		return verr
	}
	if err != nil {
		return err
	}
	if got != diffID {
		return fmt.Errorf("its tar hashes to %s, but the config says %s", got, diffID)
	}
	fmt.Fprintf(p.out, "%s: Pull complete\n", shortDigest(layer.Digest))
	return nil
}

// shortDigest is the 12 hex digits docker pull shows for a layer.
func shortDigest(digest string) string {
	hex := strings.TrimPrefix(digest, "sha256:")
	return hex[:min(12, len(hex))]
}
