// runtime_images_test.go covers runtime_images.go (with graph.go and tags.go underneath): finding an
// image as Docker does (full ID, tag, unique prefix), removing one (rmi) while keeping what a tag, a
// child or a container still needs, and the store lock that keeps graph and tags consistent under
// concurrent imports, tags and removals (a new image cannot land on a parent removed meanwhile, and a
// tag on a missing image can be removed).
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// rtAdd adds a one-file image as import does, tagged refs.
func rtAdd(t *testing.T, r *Runtime, content, parent string, refs ...string) (*Image, error) {
	return r.AddImage(func() (*NewImage, error) {
		return r.graph.Create(LayerStream(bytes.NewReader(rtTarball(t, content))), parent, ImageMeta{})
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
		n, err := r.graph.Create(LayerStream(bytes.NewReader(rtTarball(t, "child"))), parent.ID, ImageMeta{})
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

// rtImageExists tells whether the graph still holds an image, record and layer.
func rtImageExists(r *Runtime, id string) bool {
	_, err := r.graph.Get(id)
	_, statErr := os.Stat(filepath.Join(r.root, "graph", id, "layer"))
	return err == nil && statErr == nil
}

func rtDeleteImage(t *testing.T, r *Runtime, ref string, force bool, want ...string) {
	t.Helper()
	messages, err := r.DeleteImage(ref, force)
	if err != nil {
		t.Fatalf("DeleteImage(%q, %v): %v", ref, force, err)
	}
	if !slices.Equal(messages, want) {
		t.Errorf("DeleteImage(%q, %v) = %q, want %q", ref, force, messages, want)
	}
}

func TestRuntimeImportIsContentAddressed(t *testing.T) {
	r := rtNew(t, t.TempDir())
	first := rtImage(t, r, "same", nil)
	second := rtImage(t, r, "same", nil)
	if first.ID != second.ID {
		t.Errorf("the same tarball imported twice gave %s and %s", first.ID, second.ID)
	}
	entries, err := os.ReadDir(filepath.Join(r.root, "graph"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 1 || entries[0].Name() != first.ID {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("graph/ holds %q, want only %s", names, first.ID)
	}
	if other := rtImage(t, r, "different", nil); other.ID == first.ID {
		t.Error("different content gave the same ID")
	}
	if child := rtImage(t, r, "same", first); child.ID == first.ID || child.Parent != first.ID {
		t.Errorf("the same layer on a parent: ID %s, parent %s", child.ID, child.Parent)
	}
	withConfig, err := r.graph.add(r.graph.Create(LayerStream(bytes.NewReader(rtTarball(t, "same"))), "", ImageMeta{Config: &ImageConfig{Cmd: []string{"sh"}}}))
	if err != nil || withConfig.ID == first.ID {
		t.Errorf("the same layer with a config: %v, ID %s", err, withConfig.ID)
	}
}

func TestRuntimeLookupImage(t *testing.T) {
	r := rtNew(t, t.TempDir())
	base := rtImage(t, r, "base", nil, "base:1.0", "alias")
	other := rtImage(t, r, "other", nil)
	for ref, want := range map[string]*Image{
		"base:1.0":                base,
		"alias":                   base,
		"alias:latest":            base,
		base.ID:                   base,
		base.ID[:12]:              base,
		"sha256:" + base.ID:       base,
		"sha256:" + base.ID[:12]:  base,
		other.ID[:12]:             other,
		"sha256:" + other.ID[:20]: other,
		other.ID:                  other,
	} {
		image, err := r.LookupImage(ref)
		if err != nil || image.ID != want.ID {
			t.Errorf("LookupImage(%q) = %v, %v; want %s", ref, image, err, want.ID)
		}
	}
	for _, ref := range []string{"base", "base:2", "nothing", "", "sha256:", "sha256:zz", "sha256:" + base.ID + "0", base.ID + "0"} {
		if image, err := r.LookupImage(ref); err == nil {
			t.Errorf("LookupImage(%q) = %s, want an error", ref, image.ID)
		} else if !strings.Contains(err.Error(), "no such image") {
			t.Errorf("LookupImage(%q) = %v, want no such image", ref, err)
		}
	}
}

// A tag named like an image's ID: a short one wins over the ID prefix, as in Docker; a full one (which
// ParseReference now refuses, but an older repositories.json may hold) never hides the image.
func TestRuntimeLookupImageShadowing(t *testing.T) {
	r := rtNew(t, t.TempDir())
	base := rtImage(t, r, "base", nil, "base")
	other := rtImage(t, r, "other", nil)
	r.tags.Repositories[other.ID] = map[string]string{"latest": base.ID}
	r.tags.Repositories["sha256"] = map[string]string{other.ID[:12]: base.ID}
	r.tags.Repositories[other.ID[:12]] = map[string]string{"latest": base.ID}
	for _, test := range []struct {
		ref  string
		want *Image
	}{
		{other.ID, other},
		{"sha256:" + other.ID, other},
		{"sha256:" + other.ID[:12], other},
		{other.ID[:12], base},
		{other.ID[:13], other},
	} {
		if image, err := r.LookupImage(test.ref); err != nil || image.ID != test.want.ID {
			t.Errorf("LookupImage(%q) = %v, %v; want %s", test.ref, image, err, test.want.ID[:12])
		}
	}
}

func TestRuntimeLookupImageAmbiguousPrefix(t *testing.T) {
	r := rtNew(t, t.TempDir())
	// Among 17 IDs two start with the same hex digit.
	seen := map[byte]bool{}
	var prefix string
	for i := 0; prefix == ""; i++ {
		image := rtImage(t, r, "image "+strconv.Itoa(i), nil)
		if seen[image.ID[0]] {
			prefix = image.ID[:1]
		}
		seen[image.ID[0]] = true
	}
	if _, err := r.LookupImage(prefix); err == nil {
		t.Errorf("LookupImage(%q) matched one of several images", prefix)
	}
	var candidates []string
	images, _ := r.graph.List()
	for _, image := range images {
		if strings.HasPrefix(image.ID, prefix) {
			candidates = append(candidates, image.ID[:12])
		}
	}
	want := fmt.Sprintf("%q matches more than one image: %s", prefix, strings.Join(candidates, ", "))
	if _, err := r.graph.Find(prefix); err == nil || err.Error() != want {
		t.Errorf("Find(%q) = %v, want %q", prefix, err, want)
	}
}

func TestRuntimeDeleteImageUntagsWhileOtherTagsRemain(t *testing.T) {
	r := rtNew(t, t.TempDir())
	image := rtImage(t, r, "base", nil, "base:1", "base:2")
	rtDeleteImage(t, r, "base:1", false, "Untagged: base:1")
	if !rtImageExists(r, image.ID) || r.tags.Lookup("base:2") != image.ID {
		t.Fatal("untagging one of two tags removed the image or the other tag")
	}
	rtDeleteImage(t, r, "base:2", false, "Untagged: base:2", "Deleted: sha256:"+image.ID)
	if rtImageExists(r, image.ID) {
		t.Error("the image survived the removal of its last tag")
	}
	if _, err := r.DeleteImage("base:2", false); err == nil || !strings.Contains(err.Error(), "no such image") {
		t.Errorf("DeleteImage of a removed image = %v", err)
	}
}

func TestRuntimeDeleteImageByID(t *testing.T) {
	r := rtNew(t, t.TempDir())
	image := rtImage(t, r, "base", nil, "base:1", "base:2")
	_, err := r.DeleteImage(image.ID[:12], false)
	if err == nil || !strings.Contains(err.Error(), "referenced in 2 tags") || !rtImageExists(r, image.ID) {
		t.Fatalf("DeleteImage by ID of an image with two tags = %v", err)
	}
	rtDeleteImage(t, r, "sha256:"+image.ID[:12], true, "Untagged: base:1", "Untagged: base:2", "Deleted: sha256:"+image.ID)

	untagged := rtImage(t, r, "untagged", nil)
	rtDeleteImage(t, r, untagged.ID, false, "Deleted: sha256:"+untagged.ID)
	if rtImageExists(r, untagged.ID) {
		t.Error("the untagged image survived")
	}
}

func TestRuntimeDeleteImageInUse(t *testing.T) {
	r := rtNew(t, t.TempDir())
	image := rtImage(t, r, "base", nil, "x")
	c := rtCreate(t, r, "x", "web")
	for _, ref := range []string{"x", image.ID[:12]} {
		_, err := r.DeleteImage(ref, false)
		if err == nil || !strings.Contains(err.Error(), "container "+c.ShortID()+" is using it") {
			t.Errorf("DeleteImage(%q) of an image in use = %v", ref, err)
		}
	}
	if !rtImageExists(r, image.ID) || r.tags.Lookup("x") != image.ID {
		t.Fatal("a refused rmi changed something")
	}

	// With another tag, removing one tag of the used image is fine.
	r.tags.Set("y", image.ID)
	rtDeleteImage(t, r, "y", false, "Untagged: y:latest")

	// Forced: the tags go, the image stays for the container.
	rtDeleteImage(t, r, "x", true, "Untagged: x:latest")
	if !rtImageExists(r, image.ID) || len(r.tags.TagsOf(image.ID)) != 0 {
		t.Fatalf("after rmi -f: image exists %v, tags %q", rtImageExists(r, image.ID), r.tags.TagsOf(image.ID))
	}

	// Once the container is gone, the untagged image can go too.
	if err := r.Destroy(c); err != nil {
		t.Fatal(err)
	}
	rtDeleteImage(t, r, image.ID, false, "Deleted: sha256:"+image.ID)
}

func TestRuntimeDeleteImageParents(t *testing.T) {
	r := rtNew(t, t.TempDir())
	// base ← mid ← top, untagged but for top: removing top removes the whole chain, top first.
	base := rtImage(t, r, "base", nil)
	mid := rtImage(t, r, "mid", base)
	top := rtImage(t, r, "top", mid, "top")
	rtDeleteImage(t, r, "top", false, "Untagged: top:latest", "Deleted: sha256:"+top.ID, "Deleted: sha256:"+mid.ID, "Deleted: sha256:"+base.ID)
	for _, image := range []*Image{base, mid, top} {
		if rtImageExists(r, image.ID) {
			t.Errorf("image %s survived", image.ID[:12])
		}
	}

	// A tagged parent stays.
	tagged := rtImage(t, r, "tagged", nil, "tagged")
	child := rtImage(t, r, "child", tagged, "child")
	rtDeleteImage(t, r, "child", false, "Untagged: child:latest", "Deleted: sha256:"+child.ID)
	if !rtImageExists(r, tagged.ID) {
		t.Error("removing a child removed its tagged parent")
	}

	// A parent with another child stays; removing the last child then removes it.
	shared := rtImage(t, r, "shared", nil)
	left := rtImage(t, r, "left", shared, "left")
	right := rtImage(t, r, "right", shared, "right")
	rtDeleteImage(t, r, "left", false, "Untagged: left:latest", "Deleted: sha256:"+left.ID)
	if !rtImageExists(r, shared.ID) || !rtImageExists(r, right.ID) {
		t.Fatal("removing one child removed the parent another child needs")
	}
	rtDeleteImage(t, r, "right", false, "Untagged: right:latest", "Deleted: sha256:"+right.ID, "Deleted: sha256:"+shared.ID)

	// A parent a container uses stays.
	used := rtImage(t, r, "used", nil, "used")
	onUsed := rtImage(t, r, "on-used", used, "onused")
	rtCreate(t, r, "used", "")
	rtDeleteImage(t, r, "used", true, "Untagged: used:latest")
	rtDeleteImage(t, r, "onused", false, "Untagged: onused:latest", "Deleted: sha256:"+onUsed.ID)
	if !rtImageExists(r, used.ID) {
		t.Error("removing a child removed a parent a container uses")
	}
}

// By ID, an image other images are built on cannot be deleted, forced or not.
func TestRuntimeDeleteImageWithChildren(t *testing.T) {
	r := rtNew(t, t.TempDir())
	parent := rtImage(t, r, "parent", nil)
	rtImage(t, r, "child", parent, "child:1")
	for _, force := range []bool{false, true} {
		if _, err := r.DeleteImage(parent.ID, force); err == nil || !strings.Contains(err.Error(), "dependent child images") {
			t.Errorf("DeleteImage(parent, force=%v) = %v, want a conflict", force, err)
		}
	}
	if !rtImageExists(r, parent.ID) {
		t.Error("the parent was deleted")
	}
}
