// archive_load.go: reading a docker-archive, the first half of `engine load`.
//
// A docker-archive (what `docker save` writes, and `skopeo copy … docker-archive:…`) is a tar of files:
// manifest.json lists each image's config and layers by their names in the archive. It reaches the daemon
// as the client's stdin, a stream read once, and its members come in any order: ours put manifest.json
// last, as docker does, and so does skopeo, after the layers it names. So an image can only be assembled
// once the whole archive is read, and load goes in two steps:
//
//  1. readDockerArchive (here) streams the archive once. Small JSON members (manifest.json, the configs)
//     are held in memory, at most 1 MiB each and 8 MiB in all. Every other member is unpacked as it
//     streams, as a layer (Unpack: plain or gzip, by its magic bytes), with its record (layer_split.go),
//     into the load's temp directory ROOT/graph/.load-*/<diffid>: a layer does not depend on the layers
//     below it, so it needs nothing from the manifest to be unpacked. A member that is no layer (skopeo's
//     VERSION files) fails to unpack, which matters only if the manifest names it as a layer. Symlink
//     members (skopeo's <v1id>/layer.tar -> ../<diffid>.tar) are noted as aliases. Member names are only
//     keys, never paths on the host, and still "../x" or "/x" is refused as a bad archive.
//  2. dockerArchive.images (archive_load_images.go) checks every image of the manifest before anything
//     is stored, and dockerArchive.store stores them, moving each unpacked layer into the store.
//
// Nothing reaches the image store until the archive has ended with its end-of-archive marker, so an
// archive cut short, a hostile name or an oversized manifest leaves nothing listed, and the temp directory
// goes with the command (or with the next daemon start, if the daemon dies: NewGraph removes dot names).
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
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
	dir       string            // the load's temp directory, where layers are unpacked
	held      map[string][]byte // small JSON members, by name
	heldBytes int64
	layers    map[string]string // members unpacked as layers, by name: their DiffIDs
	notLayers map[string]error  // members that are not layers, by name: why
	links     map[string]string // symlink members: the member they point to
	sizes     map[string]int64  // DiffID → the size of the layer's tar
	size      int64             // of the whole archive, uncompressed
	stored    map[string]string // DiffID → the image this load stored the layer in (store)
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
	a := &dockerArchive{dir: dir, held: map[string][]byte{}, layers: map[string]string{}, notLayers: map[string]error{},
		links: map[string]string{}, sizes: map[string]int64{}, stored: map[string]string{}}
	stream, err := openLayerStream(r)
	if err != nil {
		return nil, err
	}
	end := &tarEnd{}
	tee := io.TeeReader(stream, end)
	tr := tar.NewReader(tee)
	for members := 0; ; members++ {
		end.beforeHeader()
		hdr, err := tr.Next()
		if err == io.EOF {
			// A stream that stops at the end of a member gives io.EOF too, and the last member, a
			// layer, may itself end in zeros: tarEnd tells a complete archive from a cut one.
			if end.n == 0 {
				return nil, errors.New("no archive: the input is empty")
			}
			if !end.complete() {
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
			return nil, fmt.Errorf("archive member %q: %w", hdr.Name, err)
		}
	}
	// Read to the end: the padding after the marker, and for gzip the checksum, which is checked there.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, fmt.Errorf("reading the end of the archive: %w", err)
	}
	a.size = end.n
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
	return a.unpack(name, member)
}

// addLink notes an alias. Its target is relative to the link's directory and must stay in the archive.
func (a *dockerArchive) addLink(name, target string) error {
	if path.IsAbs(target) {
		return fmt.Errorf("symlink to %q, outside the archive", target)
	}
	resolved := path.Join(path.Dir(name), target)
	if resolved == ".." || strings.HasPrefix(resolved, "../") {
		return fmt.Errorf("symlink to %q, outside the archive", target)
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

// unpack unpacks a member as a layer, with its record, into a directory named by its DiffID.
func (a *dockerArchive) unpack(name string, member io.Reader) error {
	dir, err := os.MkdirTemp(a.dir, "member-")
	if err != nil {
		return err
	}
	if err := os.Mkdir(filepath.Join(dir, "layer"), 0755); err != nil {
		return err
	}
	diffID, err := unpackWithRecord(member, filepath.Join(dir, "layer"), filepath.Join(dir, layerSplitName))
	if err != nil {
		a.notLayers[name] = err
		return os.RemoveAll(dir)
	}
	a.layers[name] = diffID
	if a.sizes[diffID], err = recordedLayerSizeIn(dir); err != nil {
		return err
	}
	final := a.layerDir(diffID)
	if _, err := os.Stat(final); err == nil { // the same layer twice in one archive
		return os.RemoveAll(dir)
	}
	return os.Rename(dir, final)
}

// layerDir is where the layer with this DiffID was unpacked.
func (a *dockerArchive) layerDir(diffID string) string {
	return filepath.Join(a.dir, strings.TrimPrefix(diffID, "sha256:"))
}

// lookup finds a member by its name in the archive, following symlink members, and returns the name
// of the regular member it found.
func (a *dockerArchive) lookup(name string) (found string, ok bool) {
	for hops := 0; hops <= maxArchiveLinks; hops++ {
		if _, held := a.held[name]; held {
			return name, true
		}
		if _, layer := a.layers[name]; layer {
			return name, true
		}
		if _, notLayer := a.notLayers[name]; notLayer {
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
		return "", fmt.Errorf("manifest.json names %q: %w", raw, err)
	}
	found, ok := a.lookup(name)
	if !ok {
		return "", fmt.Errorf("manifest.json names %q, which is not in the archive", raw)
	}
	return found, nil
}

// layer returns the DiffID of a layer the manifest names. A tiny layer whose first byte happened to look
// like JSON was held: it is unpacked now.
func (a *dockerArchive) layer(raw string) (diffID string, err error) {
	name, err := a.member(raw)
	if err != nil {
		return "", err
	}
	if held, ok := a.held[name]; ok {
		delete(a.held, name)
		if err := a.unpack(name, bytes.NewReader(held)); err != nil {
			return "", err
		}
	}
	if err := a.notLayers[name]; err != nil {
		return "", fmt.Errorf("layer %q: %w", raw, err)
	}
	return a.layers[name], nil
}
