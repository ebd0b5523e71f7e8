// runtime_images_test.go covers runtime_images.go: the store lock keeps graph and tags consistent
// under concurrent imports, tags and removals, a new image cannot land on a parent removed meanwhile,
// and a tag on a missing image can be removed.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// rtAdd adds a one-file image as import does, tagged refs.
func rtAdd(t *testing.T, r *Runtime, content, parent string, refs ...string) (*Image, error) {
	return r.AddImage(func() (*NewImage, error) {
		return r.graph.Create(bytes.NewReader(rtTarball(t, content)), parent, ImageMeta{})
	}, refs...)
}

// rtStoreConsistent checks that every tag names an image in the graph, and every image's parent is there.
func rtStoreConsistent(t *testing.T, r *Runtime) {
	t.Helper()
	for repository, tags := range r.tags.Repositories {
		for tag, id := range tags {
			if _, err := r.graph.Get(id); err != nil {
				t.Errorf("%s:%s names a missing image: %v", repository, tag, err)
			}
		}
	}
	images, _ := r.graph.List()
	for _, image := range images {
		if _, err := r.graph.Get(image.Parent); image.Parent != "" && err != nil {
			t.Errorf("image %s stands on a missing parent", image.ID[:12])
		}
	}
}

func TestRuntimeStoreRaces(t *testing.T) {
	r := rtNew(t, t.TempDir())
	base, err := rtAdd(t, r, "base", "", "base")
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for worker := 0; worker < 4; worker++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 30; i++ {
				// Every worker makes the same images, so that each one's removal races the others' adds.
				if _, err := rtAdd(t, r, "same", "", "race:a"); err != nil {
					t.Errorf("AddImage: %v", err)
				}
				rtAdd(t, r, "child", base.ID, "race:child")
				r.TagImage("race:a", fmt.Sprintf("race:w%d", worker))
				r.DeleteImage("race:a", false)
				r.DeleteImage(fmt.Sprintf("race:w%d", worker), false)
				r.DeleteImage("race:child", false)
			}
		}()
	}
	wg.Wait()
	r.images.Lock()
	rtStoreConsistent(t, r)
	r.images.Unlock()
}

func TestRuntimeAddImageParentRemoved(t *testing.T) {
	r := rtNew(t, t.TempDir())
	parent, err := rtAdd(t, r, "parent", "", "parent")
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.AddImage(func() (*NewImage, error) {
		n, err := r.graph.Create(bytes.NewReader(rtTarball(t, "child")), parent.ID, ImageMeta{})
		r.DeleteImage("parent", false) // while the child was unpacked
		return n, err
	}, "child")
	if err == nil || !strings.Contains(err.Error(), "removed meanwhile") {
		t.Errorf("a child on a parent removed meanwhile: %v", err)
	}
	if entries, _ := os.ReadDir(filepath.Join(r.root, "graph")); len(entries) != 0 {
		t.Errorf("left in the graph: %v", entries)
	}
	if r.tags.Lookup("child") != "" {
		t.Error("the child was tagged")
	}
}

func TestRuntimeDeleteDanglingTag(t *testing.T) {
	r := rtNew(t, t.TempDir())
	missing := strings.Repeat("ab", 32)
	if err := r.tags.Set("ghost:1", missing); err != nil {
		t.Fatal(err)
	}
	rtDeleteImage(t, r, "ghost:1", false, "Untagged: ghost:1")
	if r.tags.Lookup("ghost:1") != "" {
		t.Error("the dangling tag is still there")
	}
}
