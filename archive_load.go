// archive_load.go: reading a docker-archive, the first half of `engine load`.
//
// A docker-archive (what `docker save` writes, and `skopeo copy … docker-archive:…`) is a tar of files:
// manifest.json lists each image's config and layers by their names in the archive. It reaches the daemon
// as the client's stdin, a stream read once, and its members come in any order: ours put manifest.json
// last, as docker does, and so does skopeo, after the layers it names. So an image can only be assembled
// once the whole archive is read, and load goes in two steps:
//
//  1. readDockerArchive (here) streams the archive once. Small JSON members (manifest.json, the configs)
//     are held in memory, at most 1 MiB each and 8 MiB in all. Every other member is decompressed if it
//     is gzip (by its magic bytes, as Unpack does) and spooled, never held, to a file of the load's temp
//     directory (ROOT/graph/.load-*) named by its sha256: for a layer, its DiffID. Symlink members
//     (skopeo's <v1id>/layer.tar -> ../<diffid>.tar) are noted as aliases. Member names are only keys in
//     these maps, never paths on the host, and still "../x" or "/x" is refused as a bad archive.
//  2. dockerArchive.images checks every image of the manifest before anything is stored: each layer the
//     manifest names is in the archive, its DiffID is the config's rootfs.diff_ids entry at its place,
//     and the tags are valid. Then dockerArchive.store stores them, the layers from the spool.
//
// Nothing reaches the image store until the archive has ended with its end-of-archive marker, so an
// archive cut short, a hostile name or an oversized manifest leaves nothing listed, and the temp directory
// goes with the command (or with the next daemon start, if the daemon dies: NewGraph removes dot names).
// The spool costs disk once more than the layers while loading, bounded by the archive's size.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
)

// The bounds of one archive (an image has at most maxChainLength layers; skopeo writes three members
// per layer).
const (
	maxArchiveJSON    = 1 << 20 // manifest.json and each config
	maxArchiveHeld    = 8 << 20 // all the JSON members held together
	maxArchiveMembers = 4096
	maxArchiveImages  = 100
	maxArchiveLinks   = 8 // symlinks followed from one name
)

// archiveManifestEntry is one image of manifest.json, in docker's field names.
type archiveManifestEntry struct {
	Config   string
	RepoTags []string
	Layers   []string
}

// dockerArchive is what readDockerArchive kept of an archive.
type dockerArchive struct {
	dir       string            // the load's temp directory, where members are spooled
	held      map[string][]byte // small JSON members, by name
	heldBytes int64
	spooled   map[string]string // other regular members, by name: the sha256 of their (gunzipped) content
	links     map[string]string // symlink members: the member they point to
}

// readArchive streams an archive into a temp directory of the graph's, which the caller removes
// (dockerArchive.remove) once the images are stored.
func (g *Graph) readArchive(r io.Reader) (*dockerArchive, error) {
	dir, err := os.MkdirTemp(g.root, ".load-")
	if err != nil {
		return nil, err
	}
	archive, err := readDockerArchive(r, dir)
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	return archive, nil
}

func (a *dockerArchive) remove() error { return os.RemoveAll(a.dir) }

// readDockerArchive streams an archive (plain or gzipped as a whole, as docker load takes it) into dir,
// which must exist.
func readDockerArchive(r io.Reader, dir string) (*dockerArchive, error) {
	a := &dockerArchive{dir: dir, held: map[string][]byte{}, spooled: map[string]string{}, links: map[string]string{}}
	stream, err := openLayerStream(r)
	if err != nil {
		return nil, err
	}
	end := &tarEnd{}
	tee := io.TeeReader(stream, end)
	tr := tar.NewReader(tee)
	for members := 0; ; members++ {
		before := end.n
		hdr, err := tr.Next()
		if err == io.EOF {
			// The end-of-archive marker is two zero blocks, which Next reads as headers. A stream that
			// stops at the end of a member gives io.EOF too, and the last member, a layer, may itself
			// end in zeros: only the bytes Next consumed tell a complete archive from a cut one.
			if consumed := end.n - before; consumed < 1024 || end.zeros < consumed {
				return nil, errors.New("the archive is truncated (no end-of-archive marker)")
			}
			break
		}
		if err != nil && members == 0 {
			return nil, fmt.Errorf("not a docker-archive (not a tar or gzip stream): %w", err)
		}
		if err != nil {
			return nil, fmt.Errorf("reading the archive: %w", err)
		}
		if members == maxArchiveMembers {
			return nil, fmt.Errorf("the archive has more than %d members", maxArchiveMembers)
		}
		if err := a.add(hdr, tr); err != nil {
			return nil, fmt.Errorf("archive member %q: %w", printable(hdr.Name), err)
		}
	}
	// Read to the end: the padding after the marker, and for gzip the checksum, which is checked there.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, fmt.Errorf("reading the end of the archive: %w", err)
	}
	return a, nil
}

// add keeps one member: directories mean nothing in a docker-archive, symlinks are aliases.
func (a *dockerArchive) add(hdr *tar.Header, data io.Reader) error {
	name, err := cleanEntryName(hdr.Name)
	if err != nil {
		return err
	}
	switch hdr.Typeflag {
	case tar.TypeDir, tar.TypeXGlobalHeader:
		return nil
	case tar.TypeReg, tar.TypeSymlink:
	default:
		return fmt.Errorf("unsupported member type %q", hdr.Typeflag)
	}
	if _, found := a.lookup(name); found || a.links[name] != "" {
		return errors.New("the archive has two members of this name")
	}
	if hdr.Typeflag == tar.TypeSymlink {
		return a.addLink(name, hdr.Linkname)
	}
	member := bufio.NewReader(data)
	if first, _ := member.Peek(1); len(first) == 1 && (first[0] == '{' || first[0] == '[') && hdr.Size <= maxArchiveJSON {
		return a.hold(name, member)
	}
	if name == "manifest.json" {
		return fmt.Errorf("not a JSON file of at most %d bytes", maxArchiveJSON)
	}
	return a.spool(name, member)
}

// addLink notes an alias. Its target is relative to the link's directory and must stay in the archive.
func (a *dockerArchive) addLink(name, target string) error {
	if path.IsAbs(target) {
		return fmt.Errorf("symlink to %q, outside the archive", printable(target))
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("symlink to %q, outside the archive", printable(target))
	}
	a.links[name] = resolved
	return nil
}

func (a *dockerArchive) hold(name string, member io.Reader) error {
	data, err := io.ReadAll(io.LimitReader(member, maxArchiveJSON+1)) // the tar reader stops at the member's size
	if err != nil {
		return err
	}
	if a.heldBytes += int64(len(data)); a.heldBytes > maxArchiveHeld {
		return fmt.Errorf("the archive's JSON files are more than %d bytes in all", maxArchiveHeld)
	}
	a.held[name] = data
	return nil
}

// spool writes a member's content, gunzipped if it is gzip, to a file named by its sha256, hashing as it
// writes. Two members with the same content share one file.
func (a *dockerArchive) spool(name string, member io.Reader) error {
	content, err := openLayerStream(member)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(a.dir, "spool-")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name()) // a no-op once renamed
	hash := sha256.New()
	_, err = io.Copy(io.MultiWriter(f, hash), content)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	digest := hex.EncodeToString(hash.Sum(nil))
	if err := os.Rename(f.Name(), filepath.Join(a.dir, digest)); err != nil {
		return err
	}
	a.spooled[name] = "sha256:" + digest
	return nil
}

// lookup finds a member by its name in the archive, following symlink members, and returns the name
// of the regular member it found.
func (a *dockerArchive) lookup(name string) (found string, ok bool) {
	for hops := 0; hops <= maxArchiveLinks; hops++ {
		if _, held := a.held[name]; held {
			return name, true
		}
		if _, spooled := a.spooled[name]; spooled {
			return name, true
		}
		if name, ok = a.links[name]; !ok {
			break
		}
	}
	return "", false
}

// member resolves a name manifest.json gives to a regular member, or an error.
func (a *dockerArchive) member(raw string) (string, error) {
	name, err := cleanEntryName(raw)
	if err != nil {
		return "", fmt.Errorf("manifest.json names %q: %w", printable(raw), err)
	}
	found, ok := a.lookup(name)
	if !ok {
		return "", fmt.Errorf("manifest.json names %q, which is not in the archive", printable(raw))
	}
	return found, nil
}

// layer returns the DiffID of a layer the manifest names. A tiny layer whose first byte happened to look
// like JSON was held: it is spooled now, as a layer.
func (a *dockerArchive) layer(raw string) (diffID string, err error) {
	name, err := a.member(raw)
	if err != nil {
		return "", err
	}
	if held, ok := a.held[name]; ok {
		delete(a.held, name)
		if err := a.spool(name, bytes.NewReader(held)); err != nil {
			return "", err
		}
	}
	return a.spooled[name], nil
}

// open opens the spooled layer with this DiffID: its uncompressed tar.
func (a *dockerArchive) open(diffID string) (*os.File, error) {
	return os.Open(filepath.Join(a.dir, strings.TrimPrefix(diffID, "sha256:")))
}

// archiveImage is one image of an archive, checked: its config (kept byte for byte; its sha256 is the
// image's ID), the DiffIDs of its layers, bottom up, and its tags.
type archiveImage struct {
	ID      string
	Config  []byte
	DiffIDs []string
	Tags    []string
}

// images reads manifest.json and checks every image it lists, before any is stored.
func (a *dockerArchive) images() ([]*archiveImage, error) {
	data, ok := a.held["manifest.json"]
	if !ok {
		return nil, errors.New("no manifest.json in the archive (is it a docker-archive?)")
	}
	var entries []archiveManifestEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		return nil, fmt.Errorf("manifest.json: %w", err)
	}
	if len(entries) == 0 || len(entries) > maxArchiveImages {
		return nil, fmt.Errorf("manifest.json lists %d images (1 to %d allowed)", len(entries), maxArchiveImages)
	}
	var images []*archiveImage
	for _, entry := range entries {
		image, err := a.image(entry)
		if err != nil {
			return nil, err
		}
		images = append(images, image)
	}
	return images, nil
}

// image checks one manifest entry against its config, as docker load does: the config's rootfs.diff_ids
// are the DiffIDs of the layers listed, in order.
func (a *dockerArchive) image(entry archiveManifestEntry) (*archiveImage, error) {
	name, err := a.member(entry.Config)
	if err != nil {
		return nil, err
	}
	config, ok := a.held[name]
	if !ok {
		return nil, fmt.Errorf("config %q: not a JSON file of at most %d bytes", printable(entry.Config), maxArchiveJSON)
	}
	var parsed struct {
		RootFS struct {
			Type    string   `json:"type"`
			DiffIDs []string `json:"diff_ids"`
		} `json:"rootfs"`
	}
	if err := json.Unmarshal(config, &parsed); err != nil {
		return nil, fmt.Errorf("config %q: %w", printable(entry.Config), err)
	}
	diffIDs := parsed.RootFS.DiffIDs
	if parsed.RootFS.Type != "layers" || len(diffIDs) != len(entry.Layers) {
		return nil, fmt.Errorf("config %q: its rootfs has %d diff_ids of type %q, manifest.json lists %d layers", printable(entry.Config), len(diffIDs), printable(parsed.RootFS.Type), len(entry.Layers))
	}
	if len(diffIDs) > maxChainLength {
		return nil, fmt.Errorf("config %q: %d layers, more than %d", printable(entry.Config), len(diffIDs), maxChainLength)
	}
	for i, layer := range entry.Layers {
		diffID, err := a.layer(layer)
		if err != nil {
			return nil, err
		}
		if diffID != diffIDs[i] {
			return nil, fmt.Errorf("layer %q: its DiffID is %s, but the config's rootfs.diff_ids[%d] is %s", printable(layer), diffID, i, printable(diffIDs[i]))
		}
	}
	image := &archiveImage{Config: config, DiffIDs: diffIDs}
	sum := sha256.Sum256(config)
	image.ID = hex.EncodeToString(sum[:])
	for _, tag := range entry.RepoTags {
		ref := familiarName(tag)
		if _, _, err := ParseReference(ref); err != nil {
			return nil, fmt.Errorf("manifest.json: tag %q: %w", printable(tag), err)
		}
		image.Tags = append(image.Tags, ref)
	}
	return image, nil
}

// familiarName drops the registry and namespace docker and skopeo write for Docker Hub's images
// ("docker.io/library/busybox:1" is "busybox:1"), as docker's CLI shows them.
func familiarName(ref string) string {
	ref = strings.TrimPrefix(ref, "docker.io/")
	if rest, ok := strings.CutPrefix(ref, "library/"); ok && !strings.Contains(rest, "/") {
		return rest
	}
	return ref
}

// store stores one checked image. As in Docker 0.1 each image of the store has one layer, so the layers
// below its top one that the store lacks become images of their own, untagged and made by Create (whose
// config only carries the chain on, so loading the same layers again finds them); those it has are
// found by FindChain and never stored twice. The image itself is Registered with its config byte for
// byte, so its ID is the one it was saved with. gone stops the work when the client leaves.
func (a *dockerArchive) store(g *Graph, image *archiveImage, gone <-chan struct{}) error {
	if _, err := g.Get(image.ID); err == nil {
		return nil
	}
	parent, stored, err := g.longestChain(image.DiffIDs)
	if err != nil {
		return err
	}
	n := len(image.DiffIDs)
	for i := stored; i < n; i++ {
		select {
		case <-gone:
			return errors.New("the client is gone")
		default:
		}
		layer, err := a.open(image.DiffIDs[i])
		if err != nil {
			return err
		}
		var made *Image
		if i < n-1 {
			made, err = g.Create(cancelOnGone(layer, gone), parent, ImageMeta{})
		} else {
			made, err = g.Register(cancelOnGone(layer, gone), parent, image.Config)
		}
		layer.Close()
		if err != nil {
			return fmt.Errorf("layer %s: %w", image.DiffIDs[i], err)
		}
		if made.DiffID != image.DiffIDs[i] {
			return fmt.Errorf("layer %s was stored as %s", image.DiffIDs[i], made.DiffID)
		}
		parent = made.ID
	}
	if stored == n { // every layer is stored already: the image only adds its config
		_, err = g.Register(nil, parent, image.Config)
	}
	return err
}

// longestChain finds the stored image whose layers are the longest prefix of diffIDs, and how many
// of them it has.
func (g *Graph) longestChain(diffIDs []string) (id string, n int, err error) {
	for n = len(diffIDs); n > 0; n-- {
		image, err := g.FindChain(diffIDs[:n])
		if err != nil {
			return "", 0, err
		}
		if image != nil {
			return image.ID, n, nil
		}
	}
	return "", 0, nil
}

// cancelOnGone fails a read once gone is closed: a layer being unpacked stops when its client leaves.
func cancelOnGone(r io.Reader, gone <-chan struct{}) io.Reader {
	return &goneReader{r, gone}
}

type goneReader struct {
	r    io.Reader
	gone <-chan struct{}
}

func (g *goneReader) Read(p []byte) (int, error) {
	select {
	case <-g.gone:
		return 0, errors.New("the client is gone")
	default:
		return g.r.Read(p)
	}
}
