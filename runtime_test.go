// runtime_test.go covers runtime.go (with graph.go underneath): finding images and containers, names,
// Create, Destroy, DeleteImage (rmi) and restoring the records after a daemon restart. Nothing runs.
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

func rtNew(t *testing.T, root string) *Runtime {
	t.Helper()
	r, err := NewRuntime(root, "none", "")
	if err != nil {
		t.Fatalf("NewRuntime(%s): %v", root, err)
	}
	return r
}

// rtTarball is a layer holding one file, /content, with the given text.
func rtTarball(t *testing.T, content string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: "content", Mode: 0644, Size: int64(len(content)), ModTime: time.Unix(1_600_000_000, 0)}
	if err := tw.WriteHeader(hdr); err != nil {
		t.Fatal(err)
	}
	if _, err := tw.Write([]byte(content)); err != nil {
		t.Fatal(err)
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// rtImage imports a one-file layer on top of parent (nil for none), and tags it with refs.
func rtImage(t *testing.T, r *Runtime, content string, parent *Image, refs ...string) *Image {
	t.Helper()
	parentID := ""
	if parent != nil {
		parentID = parent.ID
	}
	image, err := r.graph.add(r.graph.Create(bytes.NewReader(rtTarball(t, content)), parentID, ImageMeta{}))
	if err != nil {
		t.Fatalf("Import(%q): %v", content, err)
	}
	for _, ref := range refs {
		if err := r.tags.Set(ref, image.ID); err != nil {
			t.Fatal(err)
		}
	}
	return image
}

// rtCreate creates a container (nothing starts) of the image ref, named name ("" for a random name).
func rtCreate(t *testing.T, r *Runtime, ref, name string) *Container {
	t.Helper()
	c, err := r.Create(&Config{Image: ref, Cmd: []string{"true"}}, &HostConfig{NetworkMode: "none"}, name)
	if err != nil {
		t.Fatalf("Create(%q, %q): %v", ref, name, err)
	}
	return c
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
	withConfig, err := r.graph.add(r.graph.Create(bytes.NewReader(rtTarball(t, "same")), "", ImageMeta{Config: &ImageConfig{Cmd: []string{"sh"}}}))
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

func TestRuntimeCreate(t *testing.T) {
	r := rtNew(t, t.TempDir())
	image := rtImage(t, r, "base", nil, "base")
	c, err := r.Create(&Config{Image: "base", Cmd: []string{"echo", "hi", "there"}}, &HostConfig{NetworkMode: "none"}, "web")
	if err != nil {
		t.Fatal(err)
	}
	if c.Name != "/web" || c.ShortName() != "web" || c.Image != image.ID || c.Path != "echo" || !slices.Equal(c.Args, []string{"hi", "there"}) {
		t.Errorf("container %+v", c)
	}
	if c.State.Status != "created" || c.State.Running || c.Config.Hostname != c.ID[:12] || c.ShortID() != c.ID[:12] || len(c.ID) != 64 {
		t.Errorf("container ID %s, hostname %q, state %+v", c.ID, c.Config.Hostname, c.State)
	}
	for _, file := range []string{"config.json", "stdout.log", "stderr.log"} {
		if _, err := os.Stat(filepath.Join(r.root, "containers", c.ID, file)); err != nil {
			t.Error(err)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(r.root, "containers"))
	if len(entries) != 1 {
		t.Errorf("containers/ holds %d entries, want 1", len(entries))
	}

	second := rtCreate(t, r, image.ID[:12], "")
	if list := r.List(); len(list) != 2 || list[0] != second || list[1] != c {
		t.Errorf("List() = %v, want newest first", list)
	}
	if !strings.Contains(second.ShortName(), "_") {
		t.Errorf("made-up name %q", second.ShortName())
	}
}

func TestRuntimeCreateErrors(t *testing.T) {
	r := rtNew(t, t.TempDir())
	rtImage(t, r, "base", nil, "base")
	withCmd, err := r.graph.add(r.graph.Create(bytes.NewReader(rtTarball(t, "cmd")), "", ImageMeta{Config: &ImageConfig{Cmd: []string{"/bin/sh", "-c", "x"}}}))
	if err != nil {
		t.Fatal(err)
	}
	r.tags.Set("withcmd", withCmd.ID)

	c, err := r.Create(&Config{Image: "withcmd"}, &HostConfig{NetworkMode: "host"}, "")
	if err != nil || c.Path != "/bin/sh" || !slices.Equal(c.Args, []string{"-c", "x"}) {
		t.Errorf("Create without a command on an image with one: %v, %+v", err, c)
	}
	if hostname, _ := os.Hostname(); err == nil && c.Config.Hostname != hostname {
		t.Errorf("a host-network container has hostname %q, want the host's %q", c.Config.Hostname, hostname)
	}
	tests := []struct {
		config  Config
		network string
		name    string
		want    string
	}{
		{Config{Image: "missing", Cmd: []string{"true"}}, "none", "", "no such image"},
		{Config{Image: "base"}, "none", "", "no command specified"},
		{Config{Image: "base", Cmd: []string{"true"}}, "bridge", "", "bridge networking is off"},
		{Config{Image: "base", Cmd: []string{"true"}}, "bridge0", "", "unknown network mode"},
		{Config{Image: "base", Cmd: []string{"true"}}, "none", "-bad", "invalid container name"},
	}
	for _, tt := range tests {
		config := tt.config
		if _, err := r.Create(&config, &HostConfig{NetworkMode: tt.network}, tt.name); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Create(%+v, %q, %q) = %v, want %q", tt.config, tt.network, tt.name, err, tt.want)
		}
	}
	if n := len(r.List()); n != 1 {
		t.Errorf("failed creations left %d containers", n)
	}
}

func TestRuntimeReserveName(t *testing.T) {
	r := rtNew(t, t.TempDir())
	rtImage(t, r, "base", nil, "base")
	web := rtCreate(t, r, "base", "web")
	r.mu.Lock()
	defer r.mu.Unlock()
	for name, want := range map[string]string{
		"db": "db", "/db": "db", "ab": "ab", "A.b_c-1": "A.b_c-1", "0x": "0x", strings.Repeat("n", 255): strings.Repeat("n", 255),
		web.ID: web.ID, // as Docker allows: Get finds IDs first, so the name cannot hide web
	} {
		if got, err := r.reserveName(name); err != nil || got != want {
			t.Errorf("reserveName(%q) = %q, %v; want %q", name, got, err, want)
		}
	}
	for _, name := range []string{"a", "/a", "0", ".hidden", "-flag", "_under", "a b", "a/b", "a:b", "/", "//web", strings.Repeat("n", 256), "é", "a\nb", "ab\x00", "web\n"} {
		if got, err := r.reserveName(name); err == nil || !strings.Contains(err.Error(), "invalid container name") {
			t.Errorf("reserveName(%q) = %q, %v; want an invalid name error", name, got, err)
		}
	}
	for _, name := range []string{"web", "/web"} {
		if _, err := r.reserveName(name); err == nil || !strings.Contains(err.Error(), "already in use by container "+web.ShortID()) {
			t.Errorf("reserveName(%q) = %v, want the name in use by %s", name, err, web.ShortID())
		}
	}
	for i := 0; i < 20; i++ {
		name, err := r.reserveName("")
		adjective, person, ok := strings.Cut(name, "_")
		if err != nil || !ok || adjective == "" || person == "" || name == "web" {
			t.Errorf("reserveName(\"\") = %q, %v", name, err)
		}
	}
}

func TestRuntimeGet(t *testing.T) {
	r := rtNew(t, t.TempDir())
	rtImage(t, r, "base", nil, "base")
	web, db := rtCreate(t, r, "base", "web"), rtCreate(t, r, "base", "db")
	// The attack: containers named like another's full ID, and like another's short ID.
	shadow := rtCreate(t, r, "base", web.ID)
	short := rtCreate(t, r, "base", db.ID[:12])
	tests := []struct {
		ref  string
		want *Container
	}{
		{"web", web}, {"/web", web}, {"db", db},
		{web.ID, web},             // a full ID beats a name
		{db.ID, db},               //
		{"/" + web.ID, shadow},    // "/name" is only ever a name
		{shadow.ID, shadow},       //
		{db.ID[:12], short},       // a name beats an ID prefix, as in Docker
		{db.ID[:13], db},          // a longer prefix is no name
		{web.ID[:12], web},        // no container is named so: web's prefix
		{short.ID[:20], short},    //
		{"/" + db.ID[:12], short}, //
	}
	for _, test := range tests {
		if c, err := r.Get(test.ref); err != nil || c != test.want {
			t.Errorf("Get(%q) = %v, %v; want %s", test.ref, c, err, test.want.ShortName())
		}
	}
	// An ID is lowercase; one of only digits has no uppercase form, so "A" stands in for its first digit.
	upper := "A" + strings.ToUpper(web.ID[1:12])
	for _, ref := range []string{"", "nope", "/", web.ID + "0", "WEB", "web\n", upper} {
		c, err := r.Get(ref)
		if err == nil || !strings.Contains(err.Error(), "no such container") || strings.Contains(err.Error(), "\n") {
			t.Errorf("Get(%q) = %v, %v; want no such container, on one line", ref, c, err)
		}
	}
}

func TestRuntimeGetAmbiguousPrefix(t *testing.T) {
	r := rtNew(t, t.TempDir())
	rtImage(t, r, "base", nil, "base")
	// Among 17 IDs two start with the same hex digit.
	seen := map[byte]bool{}
	var prefix string
	for prefix == "" {
		c := rtCreate(t, r, "base", "")
		if seen[c.ID[0]] {
			prefix = c.ID[:1]
		}
		seen[c.ID[0]] = true
	}
	var candidates []string
	for _, c := range r.containers {
		if strings.HasPrefix(c.ID, prefix) {
			candidates = append(candidates, c.ShortID())
		}
	}
	want := fmt.Sprintf("%q matches more than one container: %s", prefix, strings.Join(candidates, ", "))
	if c, err := r.Get(prefix); err == nil || err.Error() != want {
		t.Errorf("Get(%q) = %v, %v; want %q", prefix, c, err, want)
	}
}

func TestRuntimeDestroy(t *testing.T) {
	r := rtNew(t, t.TempDir())
	rtImage(t, r, "base", nil, "base")
	web, db := rtCreate(t, r, "base", "web"), rtCreate(t, r, "base", "db")
	if err := r.Destroy(web); err != nil {
		t.Fatal(err)
	}
	if list := r.List(); len(list) != 1 || list[0] != db {
		t.Errorf("after Destroy, List() = %v", list)
	}
	if _, err := r.Get("web"); err == nil {
		t.Error("a destroyed container is still found")
	}
	// The directory is renamed away at once and its files removed in the background.
	var entries []os.DirEntry
	for i := 0; i < 100; i++ {
		if entries, _ = os.ReadDir(filepath.Join(r.root, "containers")); len(entries) == 1 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if len(entries) != 1 || entries[0].Name() != db.ID {
		t.Errorf("containers/ holds %d entries, want only %s", len(entries), db.ShortID())
	}
	rtCreate(t, r, "base", "web") // the name is free again
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

func TestRuntimeRestoreContainers(t *testing.T) {
	root := t.TempDir()
	r := rtNew(t, root)
	image := rtImage(t, r, "base", nil, "base")
	web, db := rtCreate(t, r, "base", "web"), rtCreate(t, r, "base", "db")

	again := rtNew(t, root)
	list := again.List()
	if len(list) != 2 || list[0].ID != db.ID || list[1].ID != web.ID {
		t.Fatalf("restored %v, want db then web", list)
	}
	c, err := again.Get("web")
	if err != nil || c.ID != web.ID || c.Image != image.ID || c.State.Status != "created" || c.Path != "true" || c.Config.Image != "base" {
		t.Errorf("restored web = %+v, %v", c, err)
	}
	if img, err := again.LookupImage("base"); err != nil || img.ID != image.ID {
		t.Errorf("restored tag: %v, %v", img, err)
	}
	if _, err := again.Create(&Config{Image: "base", Cmd: []string{"true"}}, &HostConfig{NetworkMode: "none"}, "web"); err == nil {
		t.Error("a restored container's name could be taken again")
	}
}

func TestRuntimeRestoreClearsUnfinished(t *testing.T) {
	quietStderr(t) // restore tells the daemon's log what it discards
	root := t.TempDir()
	r := rtNew(t, root)
	rtImage(t, r, "base", nil, "base")
	kept := rtCreate(t, r, "base", "kept")
	copyRecord := func(dir string) string {
		path := filepath.Join(root, "containers", dir)
		if err := os.Mkdir(path, 0700); err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(kept.root, "config.json"))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(path, "config.json"), data, 0600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	leftovers := []string{
		copyRecord(".new-xyz"),
		copyRecord(".removing-xyz"),
		copyRecord(strings.Repeat("a", 64)), // a record whose ID is not its directory's name
		filepath.Join(root, "graph", ".import-123"),
		filepath.Join(root, "graph", ".removing-"+strings.Repeat("b", 64)),
	}
	for _, dir := range leftovers[3:] {
		if err := os.MkdirAll(filepath.Join(dir, "layer"), 0700); err != nil {
			t.Fatal(err)
		}
	}

	again := rtNew(t, root)
	if list := again.List(); len(list) != 1 || list[0].ID != kept.ID {
		t.Errorf("restored %v, want only %s", list, kept.ShortID())
	}
	for _, dir := range leftovers {
		if _, err := os.Lstat(dir); !os.IsNotExist(err) {
			t.Errorf("%s is still there (%v)", strings.TrimPrefix(dir, root), err)
		}
	}
}

func TestRuntimeRestoreRunningWithoutProcess(t *testing.T) {
	root := t.TempDir()
	r := rtNew(t, root)
	rtImage(t, r, "base", nil, "base")
	c := rtCreate(t, r, "base", "web")
	c.State.setRunning(rtUnusedPID(t), 12345)
	if err := c.toDisk(); err != nil {
		t.Fatal(err)
	}

	again := rtNew(t, root)
	restored, err := again.Get("web")
	if err != nil {
		t.Fatal(err)
	}
	s := restored.State
	if s.Running || s.Status != "exited" || s.ExitCode != 255 || s.Pid != 0 || s.Error == "" || s.FinishedAt.IsZero() {
		t.Errorf("restored state %+v, want exited with 255", s)
	}
	if restored.exitedChan() != nil {
		t.Error("the restored container counts as running")
	}
	// The verdict is on disk: a third daemon reads it as written.
	data, err := os.ReadFile(filepath.Join(root, "containers", c.ID, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var record Container
	if err := json.Unmarshal(data, &record); err != nil {
		t.Fatal(err)
	}
	if record.State.Running || record.State.ExitCode != 255 {
		t.Errorf("record on disk: %+v", record.State)
	}
}

// rtUnusedPID is a PID no process has: the kernel hands out PIDs below pid_max.
func rtUnusedPID(t *testing.T) int {
	t.Helper()
	data, err := os.ReadFile("/proc/sys/kernel/pid_max")
	if err != nil {
		t.Fatal(err)
	}
	pidMax, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		t.Fatal(err)
	}
	return pidMax
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
