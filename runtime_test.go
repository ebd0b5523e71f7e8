// runtime_test.go covers runtime.go: finding containers, names, Create, Destroy and restoring the records
// after a daemon restart (images: runtime_images_test.go). Nothing runs.
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

	"golang.org/x/sys/unix"
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
	image, err := r.graph.add(r.graph.Create(LayerStream(bytes.NewReader(rtTarball(t, content))), parentID, ImageMeta{}))
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
	for _, file := range []string{"config.json", "container.log"} {
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
	withCmd, err := r.graph.add(r.graph.Create(LayerStream(bytes.NewReader(rtTarball(t, "cmd"))), "", ImageMeta{Config: &ImageConfig{Cmd: []string{"/bin/sh", "-c", "x"}}}))
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
		filepath.Join(root, "graph", ".import-123"),
		filepath.Join(root, "graph", ".removing-"+strings.Repeat("b", 64)),
	}
	for _, dir := range leftovers[2:] {
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
	if n := again.BrokenRecords(); n != 0 {
		t.Errorf("%d broken records, want none: unfinished work is not broken", n)
	}
}

// captureStderr sends the process's stderr (the daemon's log) to a file for the rest of the test, and
// returns a function that reads what was written so far.
func captureStderr(t *testing.T) func() string {
	t.Helper()
	f, err := os.CreateTemp(t.TempDir(), "stderr")
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = f
	t.Cleanup(func() { os.Stderr = stderr; f.Close() })
	return func() string {
		data, _ := os.ReadFile(f.Name())
		return string(data)
	}
}

// TestRuntimeRestoreSetsAsideBroken: records that cannot be loaded (torn, not JSON, missing, or naming
// another container) are moved whole to ROOT/broken, never deleted, each with a line in the log; a name
// already taken there gets a number; the others load as before, and info's count says how many wait.
func TestRuntimeRestoreSetsAsideBroken(t *testing.T) {
	log := captureStderr(t)
	root := t.TempDir()
	r := rtNew(t, root)
	rtImage(t, r, "base", nil, "base")
	kept := rtCreate(t, r, "base", "kept")
	torn, garbage, empty := rtCreate(t, r, "base", "torn"), rtCreate(t, r, "base", "garbage"), rtCreate(t, r, "base", "empty")
	record, err := os.ReadFile(filepath.Join(torn.root, "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(torn.root, "config.json"), record[:len(record)/2], 0600)
	os.WriteFile(filepath.Join(torn.root, "container.log"), []byte("the only copy\n"), 0600)
	os.WriteFile(filepath.Join(garbage.root, "config.json"), []byte("\x00\x00\x00"), 0600)
	os.Remove(filepath.Join(empty.root, "config.json"))
	other := filepath.Join(root, "containers", strings.Repeat("a", 64)) // a record whose ID is not its directory's name
	os.Mkdir(other, 0700)
	os.WriteFile(filepath.Join(other, "config.json"), record, 0600)
	// A directory set aside by an earlier start, with the torn one's name.
	os.MkdirAll(filepath.Join(root, "broken", torn.ID), 0755)

	again := rtNew(t, root)
	if list := again.List(); len(list) != 1 || list[0].ID != kept.ID {
		t.Errorf("restored %v, want only %s", list, kept.ShortID())
	}
	for _, moved := range []string{torn.ID + ".1/container.log", garbage.ID + "/config.json", empty.ID, strings.Repeat("a", 64) + "/config.json"} {
		if _, err := os.Stat(filepath.Join(root, "broken", moved)); err != nil {
			t.Errorf("not set aside: %v", err)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(root, "broken", torn.ID+".1", "container.log")); string(data) != "the only copy\n" {
		t.Errorf("the torn record's log: %q", data)
	}
	if st, err := os.Stat(filepath.Join(root, "broken")); err != nil || st.Mode().Perm() != 0700 {
		t.Errorf("ROOT/broken: %v %v, want mode 0700", st.Mode(), err)
	}
	if n := again.BrokenRecords(); n != 5 { // the four, and the one set aside before
		t.Errorf("BrokenRecords = %d, want 5", n)
	}
	for _, id := range []string{torn.ID, garbage.ID, empty.ID} {
		if !strings.Contains(log(), "container record "+filepath.Join(root, "containers", id)+" cannot be loaded") {
			t.Errorf("no line in the log for %s:\n%s", id[:12], log())
		}
	}
	if _, err := again.Create(&Config{Image: "base", Cmd: []string{"true"}}, &HostConfig{NetworkMode: "none"}, "torn"); err != nil {
		t.Errorf("the set-aside container's name is not free: %v", err)
	}
}

// TestRuntimeRestoreTidies: a daemon killed in the middle of a start left a "Created" record with its
// root mounted, its cgroup and the address and port of the run that never began. The next start takes
// all three away, and writes the record again.
func TestRuntimeRestoreTidies(t *testing.T) {
	root := t.TempDir()
	r := rtNew(t, root)
	rtImage(t, r, "base", nil, "base")
	c := rtCreate(t, r, "base", "halfway")
	rootfs := c.rootfs()
	if err := os.MkdirAll(rootfs, 0755); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mount("tmpfs", rootfs, "tmpfs", 0, ""); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(rootfs, unix.MNT_DETACH)
	cgroup := NewCgroup(r.cgroups, cgroupParent+"/"+c.ID)
	if err := cgroup.Create(c.HostConfig); err != nil {
		t.Fatal(err)
	}
	defer r.cgroups.RemoveParent()
	defer cgroup.Remove()
	c.NetworkSettings = &NetworkSettings{Bridge: "engine0", IPAddress: "172.17.0.2", IPPrefixLen: 16, HostVeth: "vethdead",
		Ports: map[string][]PortBinding{"80/tcp": {{HostIp: "0.0.0.0", HostPort: "8080"}}}}
	if err := c.toDisk(); err != nil {
		t.Fatal(err)
	}

	again := rtNew(t, root)
	if isMountPoint(rootfs) {
		t.Error("the root is still mounted")
	}
	for _, dir := range cgroup.dirs() {
		if _, err := os.Stat(dir); !os.IsNotExist(err) {
			t.Errorf("cgroup %s is still there (%v)", dir, err)
		}
	}
	restored, err := again.Get("halfway")
	if err != nil {
		t.Fatal(err)
	}
	if !restored.NetworkSettings.empty() || restored.State.Status != "created" {
		t.Errorf("restored %+v %+v", restored.State, restored.NetworkSettings)
	}
	var record Container
	data, _ := os.ReadFile(filepath.Join(c.root, "config.json"))
	if err := json.Unmarshal(data, &record); err != nil || !record.NetworkSettings.empty() {
		t.Errorf("the record on disk still shows %+v (%v)", record.NetworkSettings, err)
	}
}

// TestRuntimeShutdownGate: once shutdown has begun, neither a create nor a start goes ahead, and a start
// refused so leaves the container's record as it was.
func TestRuntimeShutdownGate(t *testing.T) {
	r := rtNew(t, t.TempDir())
	rtImage(t, r, "base", nil, "base")
	c := rtCreate(t, r, "base", "late")
	r.BeginShutdown()
	if _, err := r.Create(&Config{Image: "base", Cmd: []string{"true"}}, &HostConfig{NetworkMode: "none"}, "later"); err == nil || err.Error() != "the daemon is shutting down" {
		t.Errorf("Create after BeginShutdown: %v", err)
	}
	if err := c.Start(); err == nil || err.Error() != "the daemon is shutting down" {
		t.Errorf("Start after BeginShutdown: %v", err)
	}
	if c.State.Status != "created" || c.State.Error != "" || c.State.ExitCode != 0 || isMountPoint(c.rootfs()) {
		t.Errorf("a refused start changed the container: %+v", c.State)
	}
	if !r.awaitStarts(time.Second) {
		t.Error("a refused start counts as one in progress")
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
