// graph.go: the images, stored as a graph of layers.
//
// As in Docker 0.1, an image is one layer (a directory of files) plus metadata and a parent: the image it
// was built on. A container's root filesystem is the image's chain of layers stacked by overlayfs
// (Container.ensureMounted), so LayerPaths walks the chain from the top down.
//
//	ROOT/graph/<id>/json     the Image record below
//	ROOT/graph/<id>/layer/   the layer's files (unpacked by archive.go)
//
// IDs are content addresses: the sha256 of the parent's ID, the layer's DiffID (the sha256 of its
// uncompressed tar, as the OCI image spec defines it) and the config. Nothing else, not even the time,
// goes in, so importing the same tarball twice finds the image it already has. A new image is assembled
// under a hidden name and renamed into place, so no half-imported image is ever visible.
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
	"strings"
	"time"
)

type Image struct {
	ID      string       `json:"id"`
	Parent  string       `json:"parent,omitempty"`
	Created time.Time    `json:"created"`
	Comment string       `json:"comment,omitempty"`
	DiffID  string       `json:"diff_id"`
	Size    int64        `json:"size"`
	Config  *ImageConfig `json:"config,omitempty"`
}

// ImageConfig is what a container of the image runs when `engine run` does not say.
type ImageConfig struct {
	User         string              `json:",omitempty"`
	ExposedPorts map[string]struct{} `json:",omitempty"`
	Env          []string            `json:",omitempty"`
	Entrypoint   []string            `json:",omitempty"`
	Cmd          []string            `json:",omitempty"`
	WorkingDir   string              `json:",omitempty"`
	Labels       map[string]string   `json:",omitempty"`
}

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
	for _, entry := range entries {
		if strings.HasPrefix(entry.Name(), ".") { // an import or removal the daemon did not finish
			os.RemoveAll(filepath.Join(root, entry.Name()))
		}
	}
	return &Graph{root: root}, nil
}

// Import unpacks a layer tarball on top of parent ("" for none) and returns the image, new or existing.
func (g *Graph) Import(tarball io.Reader, parent, comment string, config *ImageConfig) (*Image, error) {
	tmp, err := os.MkdirTemp(g.root, ".import-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed into place
	layer := filepath.Join(tmp, "layer")
	if err := os.Mkdir(layer, 0755); err != nil {
		return nil, err
	}
	diffID, err := Unpack(tarball, layer)
	if err != nil {
		return nil, err
	}
	image := &Image{Parent: parent, Created: time.Now().UTC(), Comment: comment, DiffID: diffID, Config: config}
	image.ID = imageID(image)
	if existing, err := g.Get(image.ID); err == nil {
		return existing, nil
	}
	if image.Size, err = dirSize(layer); err != nil {
		return nil, err
	}
	if err := g.writeRecord(tmp, image); err != nil {
		return nil, err
	}
	if err := os.Rename(tmp, g.dir(image.ID)); err != nil {
		if existing, err := g.Get(image.ID); err == nil { // another import of the same content won
			return existing, nil
		}
		return nil, err
	}
	return image, syncDir(g.root)
}

// imageID is the content address of an image: what it is built on, what its layer holds, how it runs.
func imageID(image *Image) string {
	content, _ := json.Marshal(struct {
		Parent string       `json:"parent"`
		DiffID string       `json:"diff_id"`
		Config *ImageConfig `json:"config"`
	}{image.Parent, image.DiffID, image.Config})
	sum := sha256.Sum256(content)
	return hex.EncodeToString(sum[:])
}

func (g *Graph) dir(id string) string { return filepath.Join(g.root, id) }

func (g *Graph) writeRecord(dir string, image *Image) error {
	data, err := json.MarshalIndent(image, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(dir, "json"), data, 0600)
}

// isFullID tells whether id has the form of an image's or a container's ID: 64 lowercase hex digits.
func isFullID(id string) bool {
	return len(id) == 64 && strings.Trim(id, "0123456789abcdef") == ""
}

// Get reads the image with this full ID.
func (g *Graph) Get(id string) (*Image, error) {
	if !isFullID(id) {
		return nil, fmt.Errorf("no such image: %s", printable(id))
	}
	data, err := os.ReadFile(filepath.Join(g.dir(id), "json"))
	if err != nil {
		return nil, fmt.Errorf("no such image: %s", id)
	}
	var image Image
	if err := json.Unmarshal(data, &image); err != nil {
		return nil, fmt.Errorf("image %s: %w", id, err)
	}
	return &image, nil
}

// Find resolves a full or abbreviated ID ("sha256:" allowed, as Docker prints IDs). An abbreviation
// two images share is an error that names them.
func (g *Graph) Find(ref string) (*Image, error) {
	prefix := strings.TrimPrefix(ref, "sha256:")
	if prefix == "" || strings.Trim(prefix, "0123456789abcdef") != "" {
		return nil, fmt.Errorf("no such image: %s", printable(ref))
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
		return nil, fmt.Errorf("no such image: %s", printable(ref))
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
// order overlayfs wants for lowerdir.
func (g *Graph) LayerPaths(id string) ([]string, error) {
	var paths []string
	for id != "" {
		image, err := g.Get(id)
		if err != nil {
			return nil, err
		}
		paths = append(paths, filepath.Join(g.dir(id), "layer"))
		id = image.Parent
	}
	return paths, nil
}

// Delete removes an image's layer and record. The caller has checked no container or child uses it.
func (g *Graph) Delete(id string) error {
	hidden := filepath.Join(g.root, ".removing-"+id)
	if err := os.Rename(g.dir(id), hidden); err != nil {
		return err
	}
	return os.RemoveAll(hidden)
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
