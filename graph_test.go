// graph_test.go covers graph.go: an image's ID is the digest of its OCI config, the config carries the
// chain's layers and history, a given config is kept byte for byte, and a stored chain is found again.
package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func graphNew(t *testing.T) *Graph {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking layers needs root")
	}
	g, err := NewGraph(filepath.Join(t.TempDir(), "graph"))
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// add links a new image in, as Runtime.AddImage does without a tag.
func (g *Graph) add(n *NewImage, err error) (*Image, error) {
	if err != nil {
		return nil, err
	}
	return g.Link(n)
}

func TestGraphIDIsConfigDigest(t *testing.T) {
	g := graphNew(t)
	base, err := g.add(g.Create(LayerStream(bytes.NewReader(rtTarball(t, "base"))), "", ImageMeta{Comment: "imported"}))
	if err != nil {
		t.Fatal(err)
	}
	created := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	child, err := g.add(g.Create(LayerStream(bytes.NewReader(rtTarball(t, "child"))), base.ID, ImageMeta{Created: created, Author: "ann", Comment: "add", CreatedBy: "engine commit", Config: &ImageConfig{Cmd: []string{"sh"}}}))
	if err != nil {
		t.Fatal(err)
	}
	for _, image := range []*Image{base, child} {
		raw, err := g.RawConfig(image.ID)
		if err != nil {
			t.Fatal(err)
		}
		if sum := sha256.Sum256(raw); hex.EncodeToString(sum[:]) != image.ID {
			t.Errorf("image %s is not the sha256 of its config %s", image.ID, raw)
		}
	}
	config, err := g.OCIConfig(child.ID)
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{base.DiffID, child.DiffID}; !slices.Equal(config.RootFS.DiffIDs, want) {
		t.Errorf("diff_ids %v, want %v", config.RootFS.DiffIDs, want)
	}
	if len(config.History) != 2 || config.History[0].Comment != "imported" || config.History[1].CreatedBy != "engine commit" {
		t.Errorf("history %+v", config.History)
	}
	if child.Author != "ann" || child.Comment != "add" || !child.Created.Equal(created) || child.Config.Cmd[0] != "sh" {
		t.Errorf("Get gave %+v (config %+v)", child, child.Config)
	}
	again, err := g.add(g.Create(LayerStream(bytes.NewReader(rtTarball(t, "base"))), "", ImageMeta{Comment: "imported"}))
	if err != nil || again.ID != base.ID {
		t.Errorf("the same import twice: %v, %v; want the image %s", again, err, base.ID)
	}
}

// Register keeps a config from elsewhere byte for byte (so the ID survives save and load), refuses one
// whose layers are not the ones given, and FindChain finds the stored chain again.
func TestGraphRegisterAndFindChain(t *testing.T) {
	g := graphNew(t)
	base, err := g.add(g.Create(LayerStream(bytes.NewReader(rtTarball(t, "base"))), "", ImageMeta{}))
	if err != nil {
		t.Fatal(err)
	}
	layer := rtTarball(t, "top")
	topDiffID := archDigest(layer)
	config := []byte(`{"architecture":"amd64","os":"linux",  "config":{"Cmd":["top"]},"rootfs":{"type":"layers","diff_ids":["` + base.DiffID + `","` + topDiffID + `"]}}`)
	image, err := g.add(g.Register(LayerStream(bytes.NewReader(layer)), base.ID, config))
	if err != nil {
		t.Fatal(err)
	}
	if raw, _ := g.RawConfig(image.ID); !bytes.Equal(raw, config) {
		t.Errorf("stored config %s, want %s", raw, config)
	}
	if sum := sha256.Sum256(config); hex.EncodeToString(sum[:]) != image.ID {
		t.Error("the ID is not the digest of the given config")
	}
	wrong := bytes.Replace(config, []byte(topDiffID), []byte("sha256:"+strings.Repeat("0", 64)), 1)
	if _, err := g.add(g.Register(LayerStream(bytes.NewReader(layer)), base.ID, wrong)); err == nil || !strings.Contains(err.Error(), "lists layers") {
		t.Errorf("a config naming other layers: %v", err)
	}
	for _, test := range []struct {
		chain []string
		want  string
	}{{[]string{base.DiffID}, base.ID}, {[]string{base.DiffID, topDiffID}, image.ID}, {[]string{topDiffID}, ""}, {nil, ""}} {
		found, err := g.FindChain(test.chain)
		if err != nil || (found == nil) != (test.want == "") || found != nil && found.ID != test.want {
			t.Errorf("FindChain(%v) = %v, %v; want %q", test.chain, found, err, test.want)
		}
	}
}

// An image that changes only the config has no layer of its own: its containers stand on its parent's.
func TestGraphConfigOnlyImage(t *testing.T) {
	g := graphNew(t)
	base, err := g.add(g.Create(LayerStream(bytes.NewReader(rtTarball(t, "base"))), "", ImageMeta{}))
	if err != nil {
		t.Fatal(err)
	}
	image, err := g.add(g.Create(nil, base.ID, ImageMeta{Config: &ImageConfig{Env: []string{"A=1"}}}))
	if err != nil {
		t.Fatal(err)
	}
	paths, err := g.LayerPaths(image.ID)
	if err != nil || !slices.Equal(paths, []string{filepath.Join(g.dir(base.ID), "layer")}) {
		t.Errorf("LayerPaths = %v, %v", paths, err)
	}
	config, _ := g.OCIConfig(image.ID)
	data, _ := json.Marshal(config.History)
	if len(config.RootFS.DiffIDs) != 1 || !config.History[1].EmptyLayer {
		t.Errorf("config %+v, history %s", config.RootFS, data)
	}
	if _, err := g.add(g.Create(nil, "", ImageMeta{})); err == nil {
		t.Error("an image with neither layer nor parent was made")
	}
}

// An image stored by the first layout (no config.json; the run config in json) keeps working, with its
// ID, its command and its parent's layers.
func TestGraphUpgradesFirstLayout(t *testing.T) {
	g := graphNew(t)
	old := map[string]string{
		strings.Repeat("a", 64): `{"id":"` + strings.Repeat("a", 64) + `","created":"2026-01-01T00:00:00Z","diff_id":"sha256:1","size":1}`,
		strings.Repeat("b", 64): `{"id":"` + strings.Repeat("b", 64) + `","parent":"` + strings.Repeat("a", 64) + `","created":"2026-01-01T00:00:00Z","comment":"old","diff_id":"sha256:2","size":1,"config":{"Cmd":["sh"]}}`,
	}
	for id, record := range old {
		if err := os.MkdirAll(filepath.Join(g.dir(id), "layer"), 0700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(g.dir(id), "json"), []byte(record), 0600); err != nil {
			t.Fatal(err)
		}
	}
	g, err := NewGraph(g.root)
	if err != nil {
		t.Fatal(err)
	}
	image, err := g.Get(strings.Repeat("b", 64))
	if err != nil || image.Comment != "old" || image.Config == nil || image.Config.Cmd[0] != "sh" {
		t.Fatalf("Get = %+v, %v", image, err)
	}
	if chain, _ := g.DiffIDs(image.ID); !slices.Equal(chain, []string{"sha256:1", "sha256:2"}) {
		t.Errorf("diff_ids %v", chain)
	}
}
