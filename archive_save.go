// archive_save.go: writing a docker-archive, for `engine save`.
//
// `engine save -o img.tar web:2` ends here (CmdSave in commands_archive.go): the images go out as the
// tar `docker save` writes and `docker load`, `skopeo copy docker-archive:…` and our own load
// (archive_load.go) read:
//
//	<diffid-hex>/layer.tar   each layer once, uncompressed: the very tar its DiffID is the sha256 of
//	<image-id-hex>.json      each image's config, byte for byte: its sha256 is the image ID
//	manifest.json            [{"Config":"<id>.json","RepoTags":["web:2"],"Layers":["<diffid>/layer.tar",…]}]
//	repositories             {"web":{"2":"<diffid-hex of the top layer>"}}, the legacy index older tools read
//
// Layers are named by DiffID, so images that share layers (an image and the one it was committed from)
// carry them once. A layer is written from its record (layer_split.go) and its stored files; one stored
// before records were kept is packed afresh (Pack, PackLayer) into a temp file first. Either way its
// sha256 is checked against the DiffID while it is written, and a layer that no longer matches fails the
// save rather than giving an archive whose config lies. Docker's legacy <v1id>/json and VERSION files are
// not written: every loader of the last ten years reads manifest.json.
package main

import (
	"archive/tar"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// archiveWriter writes one docker-archive.
type archiveWriter struct {
	graph        *Graph
	tw           *tar.Writer
	layers       map[string]bool // DiffIDs written so far
	manifest     []archiveManifestEntry
	repositories map[string]map[string]string
}

func newArchiveWriter(graph *Graph, w io.Writer) *archiveWriter {
	return &archiveWriter{graph: graph, tw: tar.NewWriter(w), layers: map[string]bool{}, repositories: map[string]map[string]string{}}
}

// add writes an image's layers and config, and notes it for manifest.json under its tags
// ("repository:tag").
func (a *archiveWriter) add(id string, tags []string) error {
	config, err := a.graph.RawConfig(id)
	if err != nil {
		return err
	}
	layers, err := a.graph.layerChain(id)
	if err != nil {
		return err
	}
	entry := archiveManifestEntry{Config: id + ".json", RepoTags: tags, Layers: []string{}}
	for _, layer := range layers {
		name := layerMemberName(layer.DiffID)
		if err := a.writeLayer(layer, name); err != nil {
			return fmt.Errorf("image %s: layer %s: %w", id[:12], layer.DiffID, err)
		}
		entry.Layers = append(entry.Layers, name)
	}
	if err := a.writeFile(entry.Config, config); err != nil {
		return err
	}
	a.manifest = append(a.manifest, entry)
	if len(layers) > 0 {
		top := strings.TrimPrefix(layers[len(layers)-1].DiffID, "sha256:")
		for _, tag := range tags {
			i := strings.LastIndexByte(tag, ':')
			if a.repositories[tag[:i]] == nil {
				a.repositories[tag[:i]] = map[string]string{}
			}
			a.repositories[tag[:i]][tag[i+1:]] = top
		}
	}
	return nil
}

func layerMemberName(diffID string) string {
	return strings.TrimPrefix(diffID, "sha256:") + "/layer.tar"
}

// layerChain lists the images of id's chain that have a layer of their own, bottom up, and checks that
// their DiffIDs are the ones id's config lists.
func (g *Graph) layerChain(id string) ([]*Image, error) {
	var layers []*Image
	for below := id; below != ""; {
		image, err := g.Get(below)
		if err != nil {
			return nil, err
		}
		if image.DiffID != "" {
			layers = append(layers, image)
		}
		below = image.Parent
	}
	slices.Reverse(layers)
	want, err := g.DiffIDs(id)
	if err != nil {
		return nil, err
	}
	var have []string
	for _, layer := range layers {
		have = append(have, layer.DiffID)
	}
	if !slices.Equal(have, want) {
		return nil, fmt.Errorf("image %s: its config lists layers %v, its chain has %v", id[:12], want, have)
	}
	return layers, nil
}

// writeLayer writes a layer once per archive, checking its sha256 against its DiffID as it goes.
func (a *archiveWriter) writeLayer(layer *Image, name string) error {
	if a.layers[layer.DiffID] {
		return nil
	}
	dir := a.graph.dir(layer.ID)
	record, err := os.Open(filepath.Join(dir, layerSplitName))
	if errors.Is(err, os.ErrNotExist) {
		return a.writePackedLayer(layer, name)
	}
	if err != nil {
		return err
	}
	defer record.Close()
	size, err := recordedLayerSize(record)
	if err != nil {
		return err
	}
	if _, err := record.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := a.writeHeader(name, size); err != nil {
		return err
	}
	hash := sha256.New()
	if _, err := writeRecordedLayer(io.MultiWriter(a.tw, hash), record, filepath.Join(dir, "layer")); err != nil {
		return err
	}
	return a.checkLayer(layer, hash)
}

// writePackedLayer packs a layer that has no record into a temp file, since a tar member's size goes
// before its content, and writes it if it is still the tar its DiffID names.
func (a *archiveWriter) writePackedLayer(layer *Image, name string) error {
	tmp, err := os.CreateTemp(a.graph.root, ".save-")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	hash := sha256.New()
	if err := Pack(io.MultiWriter(tmp, hash), filepath.Join(a.graph.dir(layer.ID), "layer"), "", PackLayer); err != nil {
		return err
	}
	if err := a.checkLayer(layer, hash); err != nil {
		return fmt.Errorf("%w (it was stored without a record of its tar, and packing it again gives another tar)", err)
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err == nil {
		_, err = tmp.Seek(0, io.SeekStart)
	}
	if err == nil {
		err = a.writeHeader(name, size)
	}
	if err == nil {
		_, err = io.Copy(a.tw, tmp)
	}
	return err
}

func (a *archiveWriter) checkLayer(layer *Image, hash hash.Hash) error {
	if got := "sha256:" + hex.EncodeToString(hash.Sum(nil)); got != layer.DiffID {
		return fmt.Errorf("the layer's tar has sha256 %s, not its DiffID", got)
	}
	a.layers[layer.DiffID] = true
	return nil
}

// writeHeader starts a member, with its directory entry first as docker writes it. Members are
// owned by root, with the time of the epoch: the archive says nothing about the machine that wrote it.
func (a *archiveWriter) writeHeader(name string, size int64) error {
	if dir := filepath.Dir(name); dir != "." {
		if err := a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: dir + "/", Mode: 0755, ModTime: time.Unix(0, 0)}); err != nil {
			return err
		}
	}
	return a.tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: 0644, Size: size, ModTime: time.Unix(0, 0)})
}

func (a *archiveWriter) writeFile(name string, data []byte) error {
	if err := a.writeHeader(name, int64(len(data))); err != nil {
		return err
	}
	_, err := a.tw.Write(data)
	return err
}

// close writes manifest.json and repositories, and ends the archive.
func (a *archiveWriter) close() error {
	manifest, err := json.Marshal(a.manifest)
	if err != nil {
		return err
	}
	if err := a.writeFile("manifest.json", manifest); err != nil {
		return err
	}
	repositories, err := json.Marshal(a.repositories)
	if err != nil {
		return err
	}
	if err := a.writeFile("repositories", repositories); err != nil {
		return err
	}
	return a.tw.Close()
}
