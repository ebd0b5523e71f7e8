// e2e_store_test.go: the image store as users (and abusers) drive it: imports, tags and removals racing
// each other, the clean-up commands, an import whose client leaves, a daemon killed mid-import. The
// daemon and helpers are in e2e_test.go.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// storeConsistent checks that every tag in the daemon's repositories.json names an image in its graph.
func storeConsistent(t *testing.T, d *daemon) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(d.root, "repositories.json"))
	if err != nil {
		t.Fatal(err)
	}
	var repositories map[string]map[string]string
	if err := json.Unmarshal(data, &repositories); err != nil {
		t.Fatal(err)
	}
	for repository, tags := range repositories {
		for tag, id := range tags {
			if _, err := os.Stat(filepath.Join(d.root, "graph", id, "config.json")); err != nil {
				t.Errorf("%s:%s names image %s, which is not in the graph", repository, tag, id[:12])
			}
		}
	}
}

// imageID is the ID ref names, "" if none.
func imageID(t *testing.T, d *daemon, ref string) string {
	t.Helper()
	out, _, code := d.run("", "inspect", ref)
	var image struct{ Id string }
	if code != 0 || json.Unmarshal([]byte(out), &image) != nil {
		return ""
	}
	return strings.TrimPrefix(image.Id, "sha256:")
}

// both runs two client commands at once and returns their stdouts and exit statuses.
func both(d *daemon, stdin1 string, args1 []string, stdin2 string, args2 []string) (out1 string, code1 int, out2 string, code2 int) {
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); out1, _, code1 = d.run(stdin1, args1...) }()
	go func() { defer wg.Done(); out2, _, code2 = d.run(stdin2, args2...) }()
	wg.Wait()
	return
}

// TestE2EStoreImportRacesRmi imports content while the image it makes is removed under another tag:
// whichever wins, each command's answer is true and no tag names a missing image. Without the store
// lock, 29 of 100 tries left a tag on a deleted image.
func TestE2EStoreImportRacesRmi(t *testing.T) {
	layer := string(tarball(t, map[string]string{"race": "import against rmi"}))
	for i := 0; i < 100; i++ {
		if _, stderr, code := shared.run(layer, "import", "-", "race:old"); code != 0 {
			t.Fatalf("import: %s", stderr)
		}
		imported, importCode, removed, rmiCode := both(shared, layer, []string{"import", "-", "race:new"}, "", []string{"rmi", "race:old"})
		if rmiCode != 0 || !strings.HasPrefix(removed, "Untagged: race:old\n") {
			t.Fatalf("try %d: rmi race:old: exit %d, %q", i, rmiCode, removed)
		}
		if importCode != 0 {
			t.Fatalf("try %d: import: exit %d", i, importCode)
		}
		if id := imageID(t, shared, "race:new"); "sha256:"+id+"\n" != imported {
			t.Fatalf("try %d: import said %q, but race:new is %q", i, imported, id)
		}
		storeConsistent(t, shared)
		if _, stderr, code := shared.run("", "rmi", "race:new"); code != 0 {
			t.Fatalf("try %d: rmi race:new: %s", i, stderr)
		}
	}
}

// TestE2EStoreTagRacesRmi tags an image while its only tag is removed: either the tag comes first and
// rmi only untags, or rmi deletes the image and tag says there is no such image.
func TestE2EStoreTagRacesRmi(t *testing.T) {
	layer := string(tarball(t, map[string]string{"race": "tag against rmi"}))
	for i := 0; i < 150; i++ {
		if _, stderr, code := shared.run(layer, "import", "-", "tagrace:old"); code != 0 {
			t.Fatalf("import: %s", stderr)
		}
		_, tagCode, removed, rmiCode := both(shared, "", []string{"tag", "tagrace:old", "tagrace:copy"}, "", []string{"rmi", "tagrace:old"})
		if rmiCode != 0 {
			t.Fatalf("try %d: rmi: exit %d", i, rmiCode)
		}
		_, _, inspectCode := shared.run("", "inspect", "tagrace:copy")
		switch {
		case tagCode == 0 && inspectCode != 0:
			t.Fatalf("try %d: tag succeeded, rmi said %q, and tagrace:copy names nothing", i, removed)
		case tagCode != 0 && !strings.Contains(removed, "Deleted:"):
			t.Fatalf("try %d: tag failed although rmi only untagged (%q)", i, removed)
		}
		storeConsistent(t, shared)
		if tagCode == 0 {
			shared.run("", "rmi", "tagrace:copy")
		}
	}
}

// TestE2ERmiDanglingTag removes a tag whose image went missing (its directory removed by hand, as a
// store from before the store lock could have it): the tag must not be stuck for ever.
func TestE2ERmiDanglingTag(t *testing.T) {
	layer := string(tarball(t, map[string]string{"ghost": fmt.Sprint("dangling")}))
	id, stderr, code := shared.run(layer, "import", "-", "ghost:1")
	if code != 0 {
		t.Fatal(stderr)
	}
	if err := os.RemoveAll(filepath.Join(shared.root, "graph", strings.TrimSpace(strings.TrimPrefix(id, "sha256:")))); err != nil {
		t.Fatal(err)
	}
	if out := engine(t, "rmi", "ghost:1"); out != "Untagged: ghost:1\n" {
		t.Errorf("rmi of a dangling tag: %q", out)
	}
	engineFails(t, 125, "no such object", "inspect", "ghost:1")
}
