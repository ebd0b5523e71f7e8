// archive_load_images.go: the second half of `engine load`, from the archive read (archive_load.go) to
// images in the store.
//
// Every image manifest.json lists is checked before any is stored, as docker load checks them: its
// config's digest is its ID, each layer the manifest names is in the archive, the layers' DiffIDs are
// the config's rootfs.diff_ids in order, and its tags are valid. Then each image is stored on the
// longest chain of its layers the store already has (Graph.FindChain), so a layer is never stored twice.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

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
	return images, a.checkReuse(images)
}

// checkReuse bounds what a load may unpack beyond its archive. A layer named again, by a second image on
// another chain or twice by one image, is put back together from the store and unpacked again
// (layerSource), which costs bytes no member paid for: a small archive naming one big layer a hundred
// times would fill the disk. So the layers named again may add up to the archive's own size at most
// (docker's empty layer, 1 KiB, is the one a real image repeats).
func (a *dockerArchive) checkReuse(images []*archiveImage) error {
	seen := map[string]bool{}
	var again int64
	for _, image := range images {
		for _, diffID := range image.DiffIDs {
			if seen[diffID] {
				again += a.sizes[diffID]
			}
			seen[diffID] = true
		}
	}
	if again > a.size {
		return fmt.Errorf("the archive names its layers again for %d bytes, more than its own %d", again, a.size)
	}
	return nil
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
		return nil, fmt.Errorf("config %q: not a JSON file of at most %d bytes", entry.Config, maxArchiveJSON)
	}
	parsed, err := parseImageConfig(config)
	if err != nil {
		return nil, fmt.Errorf("config %q: %w", entry.Config, err)
	}
	diffIDs := parsed.RootFS.DiffIDs
	if len(diffIDs) != len(entry.Layers) {
		return nil, fmt.Errorf("config %q lists %d layers, manifest.json %d", entry.Config, len(diffIDs), len(entry.Layers))
	}
	if len(diffIDs) > maxChainLength {
		return nil, fmt.Errorf("config %q: %d layers, more than %d", entry.Config, len(diffIDs), maxChainLength)
	}
	for i, layer := range entry.Layers {
		diffID, err := a.layer(layer)
		if err != nil {
			return nil, err
		}
		if diffID != diffIDs[i] {
			return nil, fmt.Errorf("layer %q: its DiffID is %s, but the config's rootfs.diff_ids[%d] is %q", layer, diffID, i, diffIDs[i])
		}
	}
	image := &archiveImage{Config: config, DiffIDs: diffIDs}
	image.ID = configID(config)
	for _, tag := range entry.RepoTags {
		repository, version, err := ParseReference(familiarName(tag))
		if err != nil {
			return nil, fmt.Errorf("manifest.json: tag %q: %w", tag, err)
		}
		image.Tags = append(image.Tags, repository+":"+version)
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
// found by FindChain. The image itself is Registered with its config byte for byte, so its ID is the one
// it was saved with, and tagged with its tags under the store lock (Runtime.AddImage, or TagImage if
// the store has it already). gone stops the work when the client leaves.
func (a *dockerArchive) store(r *Runtime, image *archiveImage, gone <-chan struct{}) error {
	g := r.graph
	if _, err := g.Get(image.ID); err == nil {
		for _, tag := range image.Tags {
			if err := r.TagImage(image.ID, tag); err != nil {
				return err
			}
		}
		return nil
	}
	parent, stored, err := g.longestChain(image.DiffIDs)
	if err != nil {
		return err
	}
	n := len(image.DiffIDs)
	if stored == n { // every layer is stored already: the image only adds its config
		_, err = r.AddImage(func() (*NewImage, error) { return g.Register(nil, parent, image.Config) }, image.Tags...)
		return err
	}
	for i := stored; i < n; i++ {
		select {
		case <-gone:
			return errors.New("the client is gone")
		default:
		}
		if parent, err = a.storeLayer(r, image, i, parent, gone); err != nil {
			return fmt.Errorf("layer %s: %w", image.DiffIDs[i], err)
		}
	}
	return nil
}

// storeLayer stores the image's layer i on parent: the image itself for its top layer, else an image of
// the chain below it. It returns the new image's ID.
func (a *dockerArchive) storeLayer(r *Runtime, image *archiveImage, i int, parent string, gone <-chan struct{}) (string, error) {
	g := r.graph
	diffID := image.DiffIDs[i]
	layer, done, err := a.layerSource(g, diffID, gone)
	if err != nil {
		return "", err
	}
	defer done()
	var made *Image
	if i < len(image.DiffIDs)-1 {
		made, err = r.AddImage(func() (*NewImage, error) { return g.Create(layer, parent, ImageMeta{}) })
	} else {
		made, err = r.AddImage(func() (*NewImage, error) { return g.Register(layer, parent, image.Config) }, image.Tags...)
	}
	if err != nil {
		return "", err
	}
	if made.DiffID != diffID {
		return "", fmt.Errorf("stored as %s", made.DiffID)
	}
	a.stored[diffID] = made.ID
	return made.ID, nil
}

// layerSource is the layer with this DiffID, for Create or Register: the directory it was unpacked in,
// which the store moves into place. A layer that an earlier image of this archive took, or that one image
// has twice (docker's empty layer can be), is put back together from the store, as save does, and unpacked
// again.
func (a *dockerArchive) layerSource(g *Graph, diffID string, gone <-chan struct{}) (Layer, func(), error) {
	dir := a.layerDir(diffID)
	if _, err := os.Stat(filepath.Join(dir, "layer")); err == nil {
		return &unpackedLayer{dir: dir, diffID: diffID}, func() {}, nil
	}
	id, ok := a.stored[diffID]
	if !ok {
		return nil, nil, errors.New("not unpacked")
	}
	tar := g.layerTar(id)
	return LayerStream(cancelOnGone(tar, gone)), func() { tar.Close() }, nil
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
	return &stopReader{r, gone} // archive_limits.go
}
