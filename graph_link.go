// graph_link.go: how an image comes into the graph and goes out of it.
//
// Making an image takes as long as its layer is big: Graph.Create and Graph.Register (graph.go) unpack
// it under a hidden name into a NewImage, which nobody sees yet. Putting it in the graph is a rename
// (Link), and so is taking one out (Delete, whose slow removal comes after): quick enough to be done
// under the store lock (runtime_images.go), so that an image never arrives, or goes, between a
// command's look at the graph and its change to the tags. A daemon killed at any moment leaves at most
// a hidden directory, which NewGraph clears at the next start.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// NewImage is an image made but not yet in the graph: its layer, config and record sit in a hidden
// directory of the graph, which Link renames into place (or Discard removes). Unpacking takes as long
// as the layer is big; linking is a rename, quick enough to be done under the store lock
// (Runtime.AddImage), so that no rmi can come between an image's arrival and its tag.
type NewImage struct {
	tmp   string
	image *Image
}

// Discard removes a new image that was not linked in.
func (n *NewImage) Discard() { os.RemoveAll(n.tmp) }

// store unpacks the layer into a hidden directory and writes there the config that goes with its
// DiffID, and the record. The image's ID is the config's digest.
func (g *Graph) store(layer Layer, parent string, makeConfig func(diffID string) ([]byte, error)) (*NewImage, error) {
	tmp, err := os.MkdirTemp(g.root, ".import-")
	if err != nil {
		return nil, err
	}
	n := &NewImage{tmp: tmp, image: &Image{Parent: parent, Created: time.Now().UTC()}}
	if err := g.fill(n, layer, makeConfig); err != nil {
		n.Discard()
		return nil, err
	}
	return n, nil
}

func (g *Graph) fill(n *NewImage, layer Layer, makeConfig func(diffID string) ([]byte, error)) error {
	image := n.image
	if layer != nil {
		var err error
		if image.DiffID, err = layer.fill(n.tmp); err != nil {
			return err
		}
		if image.Size, err = dirSize(filepath.Join(n.tmp, "layer")); err != nil {
			return err
		}
	}
	config, err := makeConfig(image.DiffID)
	if err != nil {
		return err
	}
	image.ID = configID(config)
	if err := writeFileAtomic(filepath.Join(n.tmp, "config.json"), config, 0600); err != nil {
		return err
	}
	return g.writeRecord(n.tmp, image)
}

// Link renames a new image into place and returns it, or the image already stored under its ID (the
// same content came before). The caller holds the store lock (Runtime.AddImage), so the parent it
// checks cannot go before the new image stands on it.
func (g *Graph) Link(n *NewImage) (*Image, error) {
	defer n.Discard() // a no-op once renamed into place
	if n.image.Parent != "" {
		if _, err := g.Get(n.image.Parent); err != nil {
			return nil, fmt.Errorf("the parent image %s was removed meanwhile", n.image.Parent[:12])
		}
	}
	if existing, err := g.Get(n.image.ID); err == nil {
		return existing, nil
	}
	if err := os.Rename(n.tmp, g.dir(n.image.ID)); err != nil {
		return nil, err
	}
	if err := syncDir(g.root); err != nil {
		return nil, err
	}
	return g.Get(n.image.ID)
}

// Delete takes an image out of the graph: its directory is renamed to a hidden name at once, and the
// returned remove deletes it, which takes as long as the layer is big, so the caller runs it after
// letting go of the store lock. A daemon killed in between leaves the hidden directory, which NewGraph
// clears. The caller has checked no container or child uses the image.
func (g *Graph) Delete(id string) (remove func(), err error) {
	hidden, err := os.MkdirTemp(g.root, ".removing-") // unique: the same ID may come and go again meanwhile
	if err != nil {
		return nil, err
	}
	if err := os.Rename(g.dir(id), filepath.Join(hidden, id)); err != nil {
		os.Remove(hidden)
		return nil, err
	}
	return func() { os.RemoveAll(hidden) }, nil
}
