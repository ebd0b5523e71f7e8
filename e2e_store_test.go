// e2e_store_test.go: the image store as users (and abusers) drive it: imports, tags and removals racing
// each other, the clean-up commands, an import whose client leaves, a daemon killed mid-import. The
// daemon and helpers are in e2e_test.go.
package main

import (
	"archive/tar"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
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
	layer := string(tarball(t, map[string]string{"ghost": "dangling"}))
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

// TestE2EImagesCleanup drives the image listing as people use it, on a daemon of its own so that the
// listing is known: the filters, the columns, and the clean-up idiom.
func TestE2EImagesCleanup(t *testing.T) {
	d, err := startDaemon(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	run := func(stdin string, args ...string) string {
		t.Helper()
		out, stderr, code := d.run(stdin, args...)
		if code != 0 {
			t.Fatalf("engine %v: exit %d: %s", args, code, stderr)
		}
		return out
	}
	tagged := run(string(tarball(t, map[string]string{"a": "tagged"})), "import", "-", "keep:1")
	run("", "tag", "keep:1", "keep:2")
	var dangling []string
	for i := 0; i < 3; i++ {
		id := run(string(tarball(t, map[string]string{"a": fmt.Sprint("dangling ", i)})), "import", "-")
		dangling = append(dangling, strings.TrimSpace(id)[7:19])
	}
	if out := run("", "images", "-f", "dangling=true", "-q"); !sameSet(strings.Fields(out), dangling) {
		t.Errorf("images -f dangling=true -q = %q, want %v", out, dangling)
	}
	if out := run("", "images", "-f", "reference=keep:2"); !strings.Contains(out, "keep ") || strings.Contains(out, " 1 ") || strings.Count(out, "\n") != 2 {
		t.Errorf("images -f reference=keep:2:\n%s", out)
	}
	if out := run("", "images", "--digests", "-f", "reference=k*"); !strings.HasPrefix(strings.Join(strings.Fields(out), " "), "REPOSITORY TAG DIGEST IMAGE ID CREATED SIZE keep 1 <none>") || strings.Count(out, "<none>") != 2 {
		t.Errorf("images --digests:\n%s", out)
	}
	if out := run("", "images", "-q", "--no-trunc", "-f", "dangling=false", "-f", "reference=keep"); out != tagged {
		t.Errorf("images -q --no-trunc of keep = %q, want %q", out, tagged)
	}
	for _, filter := range []string{"bogus=1", "dangling=yes"} {
		if _, stderr, code := d.run("", "images", "-f", filter); code != 125 || !strings.HasPrefix(stderr, "engine: images: invalid filter") {
			t.Errorf("images -f %s: exit %d, %q", filter, code, stderr)
		}
	}
	idiom := exec.Command("sh", "-c", `"$ENGINE" images -f dangling=true -q | xargs -r "$ENGINE" rmi`)
	idiom.Env = append(os.Environ(), "ENGINE="+engineBin, "ENGINE_ROOT="+d.root, "ENGINE_HOST="+d.addr)
	if out, err := idiom.CombinedOutput(); err != nil || strings.Count(string(out), "Deleted: ") != 3 {
		t.Errorf("the clean-up idiom: %v\n%s", err, out)
	}
	if out := run("", "images", "-q", "-f", "dangling=true"); out != "" {
		t.Errorf("dangling images left: %q", out)
	}
	if out := run("", "images", "-q"); strings.Count(out, "\n") != 2 { // base and keep
		t.Errorf("images after the clean-up: %q", out)
	}
	storeConsistent(t, d)
}

func sameSet(a, b []string) bool {
	return strings.Join(sortedCopy(a), " ") == strings.Join(sortedCopy(b), " ")
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}

// deepLayer writes a gzipped layer within every limit that still costs the daemon a long unpack:
// files at the bottom of 250 nested directories, each entry a path the kernel walks component by
// component (about a millisecond each here). It returns the file's path.
func deepLayer(t *testing.T, files int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "deep.tar.gz")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zw, _ := gzip.NewWriterLevel(f, gzip.BestSpeed)
	tw := tar.NewWriter(zw)
	dir := strings.Repeat("d/", 249)
	for i := 0; i < files; i++ {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: fmt.Sprintf("%sf%07d", dir, i), Mode: 0o644, ModTime: time.Unix(1e9, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return path
}

// processCPU is the CPU time a process has used so far.
func processCPU(t *testing.T, pid int) time.Duration {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		t.Fatal(err)
	}
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	utime, _ := strconv.ParseInt(fields[11], 10, 64)
	stime, _ := strconv.ParseInt(fields[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// hiddenInGraph lists the hidden (unfinished) entries of a daemon's graph.
func hiddenInGraph(t *testing.T, root string) []string {
	var hidden []string
	for _, name := range graphEntries(t, root) {
		if strings.HasPrefix(name, ".") {
			hidden = append(hidden, name)
		}
	}
	return hidden
}

// TestE2EImportCancelled kills the client of an import that the daemon has all received and is busy
// unpacking (a small gzip, a long unpack): the daemon must notice, stop within a few seconds rather
// than unpack on alone, and leave nothing behind. Before, 77 KB kept a core busy for over ten minutes.
func TestE2EImportCancelled(t *testing.T) {
	layer := deepLayer(t, 30000) // about 30 s of unpacking here, from 0.8 MB
	client := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "import", layer, "cancelled")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	defer client.Process.Kill() // if the test fails before it does
	waitFor(t, func() bool { return len(hiddenInGraph(t, shared.root)) > 0 })
	time.Sleep(2 * time.Second) // well into the unpack, with the whole upload received
	client.Process.Kill()
	client.Wait()
	killed := time.Now()

	pid := shared.cmd.Process.Pid
	var idle time.Duration
	for deadline := killed.Add(15 * time.Second); idle == 0; {
		before := processCPU(t, pid)
		time.Sleep(time.Second)
		if processCPU(t, pid)-before < 100*time.Millisecond && len(hiddenInGraph(t, shared.root)) == 0 {
			idle = time.Since(killed)
		} else if time.Now().After(deadline) {
			t.Fatalf("15 s after its client was killed, the daemon still works on the import (graph: %v)", hiddenInGraph(t, shared.root))
		}
	}
	t.Logf("the daemon was idle and clean %v after the client was killed", idle.Round(100*time.Millisecond))
	if out := engine(t, "images"); strings.Contains(out, "cancelled") {
		t.Errorf("the cancelled import made an image:\n%s", out)
	}
}

// TestE2EImportDaemonKilled kills the daemon with SIGKILL in the middle of a large import: the
// restarted daemon lists only whole images and has removed the half-unpacked layer. Commit and load
// make their images the same way (Graph.store, then Link).
func TestE2EImportDaemonKilled(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	first := d
	defer func() {
		if first.cmd.ProcessState == nil { // the test failed before the kill
			first.stop()
		}
	}()
	layer := deepLayer(t, 30000)
	client := exec.Command(engineBin, "-r", root, "-H", d.addr, "import", layer, "half")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	defer client.Wait()
	waitFor(t, func() bool {
		hidden := hiddenInGraph(t, root)
		if len(hidden) == 0 {
			return false
		}
		_, err := os.Stat(filepath.Join(root, "graph", hidden[0], "layer", "d"))
		return err == nil
	})
	time.Sleep(time.Second)
	d.cmd.Process.Kill()
	d.cmd.Wait()
	if hidden := hiddenInGraph(t, root); len(hidden) == 0 {
		t.Fatal("the daemon was not killed mid-import: nothing half-made to clear")
	}

	d, err = startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	if hidden := hiddenInGraph(t, root); len(hidden) > 0 {
		t.Errorf("left after the restart: %v", hidden)
	}
	for _, name := range graphEntries(t, root) {
		for _, part := range []string{"json", "config.json", "layer"} {
			if _, err := os.Stat(filepath.Join(root, "graph", name, part)); err != nil {
				t.Errorf("image %s is missing its %s", name, part)
			}
		}
	}
	if out, _, _ := d.run("", "images"); strings.Contains(out, "half") || strings.Count(out, "\n") != 2 {
		t.Errorf("images after the crash:\n%s", out)
	}
	storeConsistent(t, d)
}

// TestE2ERmiInUse removes images that containers use, running and stopped: refused without -f (by tag
// and by ID), a tag among several just goes, -f takes the tags and leaves the image to its container.
func TestE2ERmiInUse(t *testing.T) {
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	importFiles(t, shared, "inuse:1", map[string][]byte{"bin/busybox": busybox})
	id := imageID(t, shared, "inuse:1")
	engine(t, "run", "-d", "--name", "rmi-running", "inuse:1", "/bin/busybox", "sleep", "1000")
	defer shared.run("", "rm", "-f", "rmi-running")
	engineFails(t, 125, "container", "rmi", "inuse:1")
	engineFails(t, 125, "container", "rmi", id[:12])

	engine(t, "tag", "inuse:1", "inuse:2")
	if out := engine(t, "rmi", "inuse:1"); out != "Untagged: inuse:1\n" {
		t.Errorf("rmi of one of two tags: %q", out)
	}
	if out := engine(t, "rmi", "-f", "inuse:2"); out != "Untagged: inuse:2\n" {
		t.Errorf("rmi -f of an image in use: %q", out)
	}
	if imageID(t, shared, id) != id {
		t.Fatal("rmi -f removed the image of a running container")
	}
	if state := inspect(t, "rmi-running")["State"].(map[string]any); state["Running"] != true {
		t.Errorf("the container stopped: %v", state)
	}
	engine(t, "rm", "-f", "rmi-running")
	engine(t, "run", "--name", "rmi-stopped", id, "/bin/busybox", "true")
	engineFails(t, 125, "container", "rmi", id)
	engine(t, "rm", "rmi-stopped")
	if out := engine(t, "rmi", id); out != "Deleted: sha256:"+id+"\n" {
		t.Errorf("rmi once no container uses it: %q", out)
	}
	storeConsistent(t, shared)
}
