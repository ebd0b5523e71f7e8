// graph.go: the images, stored as a graph of layers.
//
// As in Docker 0.1, an image is one layer (a directory of files) plus metadata and a parent: the image it
// was built on. A container's root filesystem is the image's chain of layers stacked by overlayfs
// (Container.ensureMounted), so LayerPaths walks the chain from the top down.
//
//	ROOT/graph/<id>/config.json      the image's OCI image config, byte for byte; <id> is its sha256
//	ROOT/graph/<id>/json             what only this store knows: the parent, the layer's DiffID and size
//	ROOT/graph/<id>/layer/           the layer's files (unpacked by archive.go)
//	ROOT/graph/<id>/layer.tar-split  the layer's tar minus the files' contents, for save (layer_split.go)
//
// The config is the one the rest of the world uses (OCI image-spec config.md): how the image runs
// (Entrypoint, Cmd, Env, ...), the DiffIDs of all its layers bottom up (each the sha256 of the layer's
// uncompressed tar) and a history line per step. Its sha256 is the image ID, as Docker's image IDs are,
// so an image saved and loaded again, or pulled, keeps its ID. `import` puts no time in it: importing
// the same tarball twice finds the image it already has. A new image (NewImage) is assembled under a
// hidden name and renamed into place by Link, under the store lock (Runtime.AddImage), so no half-made
// image is ever visible, and no rmi comes between an image's arrival and its tag (graph_link.go).
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"
)

// Image is an image as the commands see it: the record in json, with what its config.json says.
type Image struct {
	ID      string    `json:"id"`
	Parent  string    `json:"parent,omitempty"`
	DiffID  string    `json:"diff_id,omitempty"` // "" for an image that adds no layer, only a config
	Size    int64     `json:"size"`              // of this image's own layer
	Created time.Time `json:"created"`           // when the config says, else when it was stored here

	Author    string       `json:"-"`
	Comment   string       `json:"-"` // of the last history line: this image's step
	CreatedBy string       `json:"-"`
	Config    *ImageConfig `json:"-"`
}

// ImageConfig is what a container of the image runs when `engine run` does not say: the "config" of
// an OCI image config, with Docker's field names.
type ImageConfig struct {
	User         string              `json:",omitempty"`
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Env          []string            `json:",omitempty"`
	Entrypoint   []string            `json:",omitempty"`
	Cmd          []string            `json:",omitempty"`
	WorkingDir   string              `json:",omitempty"`
	Labels       map[string]string   `json:",omitempty"`
}

// OCIImage is an OCI image config (image-spec config.md), the file whose digest is the image ID.
type OCIImage struct {
	Created      *time.Time   `json:"created,omitempty"`
	Author       string       `json:"author,omitempty"`
	Architecture string       `json:"architecture"`
	OS           string       `json:"os"`
	Config       *ImageConfig `json:"config,omitempty"`
	RootFS       struct {
		Type    string   `json:"type"`
		DiffIDs []string `json:"diff_ids"`
	} `json:"rootfs"`
	History []ImageHistory `json:"history,omitempty"`
}

// ImageHistory is one step that made the image; EmptyLayer steps changed only the config.
type ImageHistory struct {
	Created    *time.Time `json:"created,omitempty"`
	CreatedBy  string     `json:"created_by,omitempty"`
	Author     string     `json:"author,omitempty"`
	Comment    string     `json:"comment,omitempty"`
	EmptyLayer bool       `json:"empty_layer,omitempty"`
}

// ImageMeta is what a new image says about itself beside its layer. A zero Created leaves the time
// out of the config (import), so that the same content always gives the same ID.
type ImageMeta struct {
	Created                    time.Time
	Author, Comment, CreatedBy string
	Config                     *ImageConfig
}

// maxChainLength bounds the layers of one image: overlayfs stacks at most 500 lowerdirs, and a
// container adds its init layer (Container.initLayer) above the image's.
const maxChainLength = 500 - 1

// maxConfigSize bounds an image config read from the store or an archive: real ones are a few KiB.
const maxConfigSize = 1 << 20

type Graph struct {
	root string
}

func NewGraph(root string) (*Graph, error) {
	if err := os.MkdirAll(root, 0700); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	g := &Graph{root: root}
	for _, entry := range entries {
		if strings.HasPrefix(entry.Name(), ".") { // an import or removal the daemon did not finish
			os.RemoveAll(filepath.Join(root, entry.Name()))
		} else if err := g.upgrade(entry.Name(), 0); err != nil {
			return nil, fmt.Errorf("image %s: %w", entry.Name(), err)
		}
	}
	return g, nil
}

// upgrade gives an image stored before images had a config.json (engine's first layout kept the run
// config in json) a config made from its record, so that it keeps working. Its ID stays what it was,
// the one image whose ID is not its config's digest.
func (g *Graph) upgrade(id string, depth int) error {
	if _, err := os.Stat(filepath.Join(g.dir(id), "config.json")); err == nil || depth > maxChainLength {
		return nil
	}
	data, err := os.ReadFile(filepath.Join(g.dir(id), "json"))
	if err != nil {
		return nil // not an image
	}
	var old struct {
		Parent, Comment string
		DiffID          string       `json:"diff_id"`
		Config          *ImageConfig `json:"config"`
	}
	if err := json.Unmarshal(data, &old); err != nil {
		return err
	}
	config := &OCIImage{Architecture: runtime.GOARCH, OS: "linux", Config: old.Config}
	config.RootFS.Type = "layers"
	if old.Parent != "" {
		if err := g.upgrade(old.Parent, depth+1); err != nil {
			return err
		}
		below, err := g.OCIConfig(old.Parent)
		if err != nil {
			return err
		}
		config.RootFS.DiffIDs, config.History = below.RootFS.DiffIDs, below.History
	}
	config.RootFS.DiffIDs = append(slices.Clip(config.RootFS.DiffIDs), old.DiffID)
	config.History = append(slices.Clip(config.History), ImageHistory{Comment: old.Comment})
	raw, err := json.Marshal(config)
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(g.dir(id), "config.json"), raw, 0600)
}

// Create makes an image from a layer on top of parent ("" for none): its config carries the
// parent's layers and history on and adds this step. A nil layer makes an image that changes only the
// config. The image is not in the graph yet: Runtime.AddImage links it in.
func (g *Graph) Create(layer Layer, parent string, meta ImageMeta) (*NewImage, error) {
	if layer == nil && parent == "" {
		return nil, errors.New("an image needs a layer or a parent")
	}
	config := &OCIImage{Author: meta.Author, Architecture: runtime.GOARCH, OS: "linux", Config: meta.Config}
	config.RootFS.Type = "layers"
	if parent != "" {
		below, err := g.OCIConfig(parent)
		if err != nil {
			return nil, err
		}
		config.RootFS.DiffIDs, config.History = below.RootFS.DiffIDs, below.History
	}
	if len(config.RootFS.DiffIDs) >= maxChainLength {
		return nil, fmt.Errorf("an image has at most %d layers", maxChainLength)
	}
	step := ImageHistory{CreatedBy: meta.CreatedBy, Author: meta.Author, Comment: meta.Comment, EmptyLayer: layer == nil}
	if !meta.Created.IsZero() {
		created := meta.Created.UTC()
		config.Created, step.Created = &created, &created
	}
	config.History = append(slices.Clip(config.History), step)
	return g.store(layer, parent, func(diffID string) ([]byte, error) {
		if diffID != "" {
			config.RootFS.DiffIDs = append(slices.Clip(config.RootFS.DiffIDs), diffID)
		}
		return json.Marshal(config)
	})
}

// Register makes an image whose config comes from elsewhere (load, and later pull) and is kept byte for
// byte, so that its digest, the ID, stays what it was. Its rootfs.diff_ids must be the parent's
// layers plus the one unpacked here: a layer that does not match its config is refused.
func (g *Graph) Register(layer Layer, parent string, config []byte) (*NewImage, error) {
	var below []string
	if parent != "" {
		chain, err := g.DiffIDs(parent)
		if err != nil {
			return nil, err
		}
		below = chain
	}
	return g.store(layer, parent, func(diffID string) ([]byte, error) {
		parsed, err := parseImageConfig(config)
		if err != nil {
			return nil, err
		}
		want := below
		if diffID != "" {
			want = append(slices.Clip(below), diffID)
		}
		if !slices.Equal(parsed.RootFS.DiffIDs, want) {
			return nil, fmt.Errorf("the image config lists layers %v, the layers are %v", parsed.RootFS.DiffIDs, want)
		}
		return config, nil
	})
}

// A Layer is what a new image's own layer is made from. fill puts the layer's files (layer/) and its
// record (layer_split.go) into the image's new directory and returns its DiffID.
type Layer interface {
	fill(imageDir string) (diffID string, err error)
}

// LayerStream is a layer tarball, plain or gzip-compressed (import, commit), unpacked as it is read.
func LayerStream(tarball io.Reader) Layer { return layerStream{tarball} }

type layerStream struct{ tarball io.Reader }

func (s layerStream) fill(imageDir string) (string, error) {
	dir := filepath.Join(imageDir, "layer")
	if err := os.Mkdir(dir, 0755); err != nil {
		return "", err
	}
	return unpackWithRecord(s.tarball, dir, filepath.Join(imageDir, layerSplitName))
}

// unpackedLayer is a layer that load unpacked, with its record, as its archive streamed
// (archive_load.go): it is moved into place rather than unpacked again.
type unpackedLayer struct {
	dir    string // holding layer/ and layer.tar-split
	diffID string
}

func (u *unpackedLayer) fill(imageDir string) (string, error) {
	for _, name := range []string{"layer", layerSplitName} {
		if err := os.Rename(filepath.Join(u.dir, name), filepath.Join(imageDir, name)); err != nil {
			return "", err
		}
	}
	return u.diffID, nil
}

// unpackWithRecord unpacks a layer and keeps its record (layer_split.go) in the file recordPath, so
// that save can write the layer again as the very tar its DiffID names.
func unpackWithRecord(layer io.Reader, dir, recordPath string) (string, error) {
	record, err := os.OpenFile(recordPath, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0600)
	if err != nil {
		return "", err
	}
	diffID, err := UnpackRecorded(layer, dir, record)
	if cerr := record.Close(); err == nil {
		err = cerr
	}
	return diffID, err
}

func parseImageConfig(data []byte) (*OCIImage, error) {
	var config OCIImage
	if len(data) > maxConfigSize {
		return nil, fmt.Errorf("image config of %d bytes (at most %d)", len(data), maxConfigSize)
	}
	if err := json.Unmarshal(data, &config); err != nil {
		return nil, fmt.Errorf("image config: %w", err)
	}
	if len(config.RootFS.DiffIDs) > maxChainLength {
		return nil, fmt.Errorf("image config: %d layers (at most %d)", len(config.RootFS.DiffIDs), maxChainLength)
	}
	if config.RootFS.Type != "layers" {
		return nil, fmt.Errorf("image config: rootfs type %q, want \"layers\"", printable(config.RootFS.Type))
	}
	return &config, nil
}

func (g *Graph) dir(id string) string { return filepath.Join(g.root, id) }

func (g *Graph) writeRecord(dir string, image *Image) error {
	data, err := json.MarshalIndent(image, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "json"), data, 0600)
}

// errNoSuchImage is what every failure to find an image is, so that run can tell it from other failures
// (and pull the image: commands.go's pullFor).
var errNoSuchImage = errors.New("no such image")

// configID is the ID of the image whose config is these bytes: their sha256, as Docker's image IDs are.
func configID(config []byte) string {
	sum := sha256.Sum256(config)
	return hex.EncodeToString(sum[:])
}

// isFullID tells whether id has the form of an image's or a container's ID: 64 lowercase hex digits.
func isFullID(id string) bool {
	return len(id) == 64 && strings.Trim(id, "0123456789abcdef") == ""
}

// Get reads the image with this full ID: its record, and what its config says.
func (g *Graph) Get(id string) (*Image, error) {
	if !isFullID(id) {
		return nil, fmt.Errorf("%w: %s", errNoSuchImage, printable(id))
	}
	data, err := os.ReadFile(filepath.Join(g.dir(id), "json"))
	if err != nil {
		return nil, fmt.Errorf("%w: %s", errNoSuchImage, id)
	}
	var image Image
	if err := json.Unmarshal(data, &image); err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	config, err := g.OCIConfig(id)
	if err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	image.Author, image.Config = config.Author, config.Config
	if config.Created != nil {
		image.Created = *config.Created
	}
	if n := len(config.History); n > 0 {
		image.Comment, image.CreatedBy = config.History[n-1].Comment, config.History[n-1].CreatedBy
	}
	return &image, nil
}

// RawConfig returns the image's config.json as stored: the bytes whose sha256 is the ID.
func (g *Graph) RawConfig(id string) ([]byte, error) {
	if !isFullID(id) {
		return nil, fmt.Errorf("%w: %s", errNoSuchImage, printable(id))
	}
	f, err := os.Open(filepath.Join(g.dir(id), "config.json"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, maxConfigSize+1))
}

// OCIConfig returns the image's config, parsed.
func (g *Graph) OCIConfig(id string) (*OCIImage, error) {
	data, err := g.RawConfig(id)
	if err != nil {
		return nil, err
	}
	return parseImageConfig(data)
}

// DiffIDs lists the image's layers, bottom up, as its config names them.
func (g *Graph) DiffIDs(id string) ([]string, error) {
	config, err := g.OCIConfig(id)
	if err != nil {
		return nil, err
	}
	return config.RootFS.DiffIDs, nil
}

// FindChain finds an image whose own layer is the last of diffIDs and whose layers, bottom up, are
// exactly diffIDs: an image that a new one with these layers below it can stand on, so that a layer
// already stored is never stored twice. It returns nil if there is none.
func (g *Graph) FindChain(diffIDs []string) (*Image, error) {
	if len(diffIDs) == 0 {
		return nil, nil
	}
	images, err := g.List()
	if err != nil {
		return nil, err
	}
	for _, image := range images {
		if image.DiffID != diffIDs[len(diffIDs)-1] {
			continue
		}
		if chain, err := g.DiffIDs(image.ID); err == nil && slices.Equal(chain, diffIDs) {
			return image, nil
		}
	}
	return nil, nil
}

// Find resolves a full or abbreviated ID ("sha256:" allowed, as Docker prints IDs). An abbreviation
// two images share is an error that names them.
func (g *Graph) Find(ref string) (*Image, error) {
	prefix := strings.TrimPrefix(ref, "sha256:")
	if prefix == "" || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("%w: %s", errNoSuchImage, printable(ref))
	}
	images, err := g.List()
	if err != nil {
		return nil, err
	}
	var found *Image
	var matches []string
	for _, image := range images {
		if strings.HasPrefix(image.ID, prefix) {
			found = image
			matches = append(matches, image.ID[:12])
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("%w: %s", errNoSuchImage, printable(ref))
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("%q matches more than one image: %s", ref, candidateList(matches))
}

func (g *Graph) List() ([]*Image, error) {
	entries, err := os.ReadDir(g.root)
	if err != nil {
		return nil, err
	}
	var images []*Image
	for _, entry := range entries {
		if image, err := g.Get(entry.Name()); err == nil {
			images = append(images, image)
		}
	}
	return images, nil
}

// Children lists the images built directly on id.
func (g *Graph) Children(id string) ([]*Image, error) {
	images, err := g.List()
	var children []*Image
	for _, image := range images {
		if image.Parent == id {
			children = append(children, image)
		}
	}
	return children, err
}

// LayerPaths lists the layer directories of an image, its own first, then its parent's, and so on: the
// order overlayfs wants for lowerdir. A layer whose root is opaque hides all the layers below it
// (hidesLowerLayers), so the list ends there.
func (g *Graph) LayerPaths(id string) ([]string, error) {
	var paths []string
	for id != "" {
		image, err := g.Get(id)
		if err != nil {
			return nil, err
		}
		if image.DiffID != "" { // an image that changed only the config has no layer of its own
			layer := filepath.Join(g.dir(id), "layer")
			paths = append(paths, layer)
			if hidesLowerLayers(layer) {
				break
			}
		}
		id = image.Parent
	}
	return paths, nil
}

func dirSize(dir string) (int64, error) {
	var size int64
	err := filepath.WalkDir(dir, func(path string, entry fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if entry.Type().IsRegular() {
			info, err := entry.Info()
			if err != nil {
				return err
			}
			size += info.Size()
		}
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return size, nil
	}
	return size, err
}
