package main

// End-to-end tests of commit (commit.go, commands_commit.go) and of run obeying an image's config
// (imageconfig.go): what a container changed becomes an image that runs with the same files. Diff,
// export and history are in e2e_export_test.go.

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// treeListing prints, for the parts of the tree a test changes, each path's type, mode and owner and
// each regular file's checksum: two roots with the same listing hold the same files.
const treeListing = `find /bin /etc /home /root /tmp /usr /var | grep -v -e '^/etc/hosts$' -e '^/etc/hostname$' -e '^/etc/resolv.conf$' |
sort | while read -r f; do stat -c '%n %F %a %u' "$f"; [ -f "$f" ] && [ ! -L "$f" ] && md5sum "$f"; done; true`

// commitScript adds, changes and deletes files, empties a directory the image fills (overlayfs makes
// it opaque) and makes a FIFO and a symlink, then lists the tree.
const commitScript = `set -e
mkdir -p /tmp/d && echo new > /tmp/d/x
echo changed >> /etc/passwd
rm /etc/group
rm -rf /var && mkdir /var && echo v > /var/new
ln -s /tmp/d/x /tmp/link
mkfifo /tmp/fifo
set +e
` + treeListing

func TestE2ECommit(t *testing.T) {
	t.Cleanup(func() { shared.run("", "rm", "-f", "committer"); shared.run("", "rmi", "committed:1") })
	before := engine(t, "run", "--name", "committer", "--net", "none", "base", "sh", "-c", commitScript)
	id := strings.TrimSpace(engine(t, "commit", "-a", "A. U. Thor <a@example.com>", "-m", "the message", "committer", "committed:1"))
	if !strings.HasPrefix(id, "sha256:") || len(id) != 71 {
		t.Fatalf("commit printed %q, want sha256:<id>", id)
	}
	after := engine(t, "run", "--rm", "--net", "none", "committed:1", "sh", "-c", treeListing)
	if after != before {
		t.Errorf("a container of the new image sees another tree:\n%s\nthe committed container saw:\n%s", after, before)
	}
	for _, want := range []string{"/tmp/d/x regular file", "/tmp/fifo fifo", "/tmp/link symbolic link", "/var/new regular file"} {
		if !strings.Contains(after, want) {
			t.Errorf("the new image lacks %q:\n%s", want, after)
		}
	}
	if strings.Contains(after, "/etc/group ") || strings.Contains(after, "/var/www") {
		t.Errorf("what the container deleted is back:\n%s", after)
	}

	// The new layer holds only the changes, deletions as overlayfs reads them from a lowerdir.
	layer := filepath.Join(shared.root, "graph", strings.TrimPrefix(id, "sha256:"), "layer")
	var st unix.Stat_t
	if err := unix.Lstat(filepath.Join(layer, "etc/group"), &st); err != nil || st.Mode&unix.S_IFMT != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("etc/group in the layer: %v, mode %o rdev %d; want a whiteout (0:0 char device)", err, st.Mode, st.Rdev)
	}
	if !isOpaque(filepath.Join(layer, "var")) {
		t.Error("var in the layer is not opaque")
	}
	if _, err := os.Lstat(filepath.Join(layer, "bin")); err == nil {
		t.Error("the layer holds /bin, which the container did not change")
	}
	for _, name := range []string{"etc/hosts", "proc"} {
		if _, err := os.Lstat(filepath.Join(layer, name)); err == nil {
			t.Errorf("the layer holds the engine's mount point /%s", name)
		}
	}

	image := inspect(t, "committed:1")
	baseID := inspect(t, "base")["Id"]
	if image["Author"] != "A. U. Thor <a@example.com>" || image["Comment"] != "the message" || image["Parent"] != baseID {
		t.Errorf("inspect: Author %q, Comment %q, Parent %q (base %q)", image["Author"], image["Comment"], image["Parent"], baseID)
	}
	if created, _ := time.Parse(time.RFC3339Nano, image["Created"].(string)); time.Since(created) > time.Minute {
		t.Errorf("Created %v", image["Created"])
	}
	if layers := image["RootFS"].(map[string]any)["Layers"].([]any); len(layers) != 2 {
		t.Errorf("RootFS.Layers %v, want base's and the new one", layers)
	}
	engineFails(t, 125, "no such container", "commit", "nosuch")
	engineFails(t, 125, "invalid", "commit", "committer", "Bad:Name")
}

func TestE2ECommitChanges(t *testing.T) {
	t.Cleanup(func() {
		shared.run("", "rm", "-f", "changer")
		shared.run("", "rmi", "changed", "envimg")
	})
	engine(t, "run", "--name", "changer", "--net", "none", "base", "true")
	engine(t, "commit",
		"-c", `ENTRYPOINT ["echo", "ep"]`, "-c", `CMD ["default"]`, "-c", `ENV A=1 B="two words"`, "-c", "WORKDIR /tmp",
		"-c", "USER nobody", "-c", "LABEL team=core", "--change", "EXPOSE 8080/udp", "changer", "changed")
	var config ImageConfig
	raw, _ := json.Marshal(inspect(t, "changed")["Config"])
	json.Unmarshal(raw, &config)
	want := ImageConfig{
		Entrypoint: []string{"echo", "ep"}, Cmd: []string{"default"}, Env: []string{"A=1", "B=two words"}, WorkingDir: "/tmp",
		User: "nobody", Labels: map[string]string{"team": "core"}, ExposedPorts: map[string]struct{}{"8080/udp": {}},
	}
	if !jsonEqual(config, want) {
		t.Errorf("inspect changed: Config %s, want %+v", raw, want)
	}
	images := engine(t, "images", "-q")
	engineFails(t, 125, "only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR", "commit", "-c", "RUN rm -rf /", "changer", "nope")
	engineFails(t, 125, "invalid port", "commit", "-c", "EXPOSE 99999", "changer")
	if now := engine(t, "images", "-q"); now != images {
		t.Errorf("a refused commit made an image:\n%s\nbefore:\n%s", now, images)
	}
}

// TestE2EImageConfig: `run IMAGE` runs the image's Entrypoint + Cmd, a command replaces Cmd only,
// --entrypoint replaces both ("" clears the image's), and Env, WorkingDir and User are defaults.
func TestE2EImageConfig(t *testing.T) {
	t.Cleanup(func() {
		shared.run("", "rm", "-f", "cfgsrc", "cfgrun")
		shared.run("", "rmi", "cfg:ep", "cfg:env")
	})
	engine(t, "run", "--name", "cfgsrc", "--net", "none", "base", "true")
	engine(t, "commit", "-c", `ENTRYPOINT ["echo", "ep"]`, "-c", `CMD ["default"]`, "cfgsrc", "cfg:ep")
	engine(t, "commit", "-c", "ENV A=image B=image", "-c", "WORKDIR /tmp", "-c", "USER nobody",
		"-c", `CMD ["sh", "-c", "echo $A $B; pwd; id -u"]`, "cfgsrc", "cfg:env")
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"cfg:ep"}, "ep default\n"},
		{[]string{"cfg:ep", "x", "y"}, "ep x y\n"},
		{[]string{"--entrypoint", "echo", "cfg:ep"}, "\n"}, // the image's Cmd was for its own entrypoint
		{[]string{"--entrypoint", "echo", "cfg:ep", "hi"}, "hi\n"},
		{[]string{"--entrypoint", "", "cfg:ep", "echo", "z"}, "z\n"},
		{[]string{"cfg:env"}, "image image\n/tmp\n65534\n"},
		{[]string{"-e", "A=flag", "-w", "/", "-u", "root", "cfg:env"}, "flag image\n/\n0\n"},
	} {
		args := append([]string{"run", "--rm", "--net", "none"}, tt.args...)
		if got := engine(t, args...); got != tt.want {
			t.Errorf("engine %s: %q, want %q", strings.Join(args, " "), got, tt.want)
		}
	}
	engineFails(t, 125, "no command specified", "run", "--rm", "--entrypoint", "", "cfg:ep")
	engine(t, "create", "--name", "cfgrun", "--net", "none", "cfg:ep")
	c := inspect(t, "cfgrun")
	config := c["Config"].(map[string]any)
	if !jsonEqual(config["Entrypoint"], []string{"echo", "ep"}) || !jsonEqual(config["Cmd"], []string{"default"}) ||
		c["Path"] != "echo" || !jsonEqual(c["Args"], []string{"ep", "default"}) {
		t.Errorf("inspect cfgrun: Entrypoint %v, Cmd %v, Path %v, Args %v", config["Entrypoint"], config["Cmd"], c["Path"], c["Args"])
	}
}

func jsonEqual(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

// TestE2ECommitFreezes commits a container that counts into a file as fast as it can (a new file
// renamed over the old, so that the file always holds a whole number), behind 256 MiB
// that make the packing take a while: while the commit runs its cgroup is frozen and the counter stands
// still, the image holds the value it stood at, and the container counts on afterwards. With
// --pause=false it never stops.
func TestE2ECommitFreezes(t *testing.T) {
	t.Cleanup(func() {
		shared.run("", "rm", "-f", "counter", "counter2")
		shared.run("", "rmi", "frozen", "unfrozen")
	})
	id := strings.TrimSpace(engine(t, "run", "-d", "--name", "counter", "--net", "none", "base", "sh", "-c",
		`dd if=/dev/zero of=/big bs=1M count=256 2>/dev/null; i=0; while :; do i=$((i+1)); echo $i > /tmp/c.new; mv /tmp/c.new /tmp/c; done`))
	counterFile := filepath.Join(shared.root, "containers", id, "rw", "tmp", "c")
	read := func() string { data, _ := os.ReadFile(counterFile); return strings.TrimSpace(string(data)) }
	awaitChange(t, read, "before the commit")
	frozen := freezerReader(t, id)

	samples := sampleDuring(t, read, frozen, "commit", "counter", "frozen")
	var values []string
	for _, s := range samples {
		if s.frozen && s.counter != "" && !slices.Contains(values, s.counter) {
			values = append(values, s.counter)
		}
	}
	if len(values) != 1 {
		t.Fatalf("while frozen the counter read %q (%d samples); want one value", values, len(samples))
	}
	if got := strings.TrimSpace(engine(t, "run", "--rm", "--net", "none", "frozen", "cat", "/tmp/c")); got != values[0] {
		t.Errorf("the image holds counter %q, the container was frozen at %q", got, values[0])
	}
	if frozen() {
		h, _ := DetectCgroups()
		NewCgroup(h, cgroupParent+"/"+id).Thaw() // or nothing could stop it
		t.Fatal("the container is still frozen after the commit")
	}
	awaitChange(t, read, "after the commit")
	if state := inspect(t, "counter")["State"].(map[string]any); state["Running"] != true {
		t.Errorf("the container stopped: %v", state)
	}

	// Unfrozen, a file replaced between Pack's look and its open would fail the commit ("replaced while
	// being read"): this counter rewrites its file in place instead.
	id = strings.TrimSpace(engine(t, "run", "-d", "--name", "counter2", "--net", "none", "base", "sh", "-c",
		`dd if=/dev/zero of=/big bs=1M count=256 2>/dev/null; `+counterScript, "sh", "/tmp/c"))
	counterFile = filepath.Join(shared.root, "containers", id, "rw", "tmp", "c")
	awaitChange(t, read, "before the second commit")
	frozen = freezerReader(t, id)
	samples = sampleDuring(t, read, frozen, "commit", "--pause=false", "counter2", "unfrozen")
	values = nil
	for _, s := range samples {
		if s.frozen {
			t.Fatal("commit --pause=false froze the container")
		}
		if s.counter != "" && !slices.Contains(values, s.counter) {
			values = append(values, s.counter)
		}
	}
	if len(values) < 2 {
		t.Errorf("with --pause=false the counter read %q during the commit; want it moving", values)
	}
}

type freezeSample struct {
	frozen  bool
	counter string
}

// sampleDuring runs an engine command and reads the counter and the freezer until it has finished.
func sampleDuring(t *testing.T, read func() string, frozen func() bool, args ...string) []freezeSample {
	t.Helper()
	done := make(chan string, 1)
	go func() {
		_, stderr, code := shared.run("", args...)
		if code != 0 {
			stderr = "failed: " + stderr
		}
		done <- stderr
	}()
	var samples []freezeSample
	for {
		select {
		case stderr := <-done:
			if strings.HasPrefix(stderr, "failed") {
				t.Fatalf("engine %s: %s", strings.Join(args, " "), stderr)
			}
			return samples
		default:
		}
		f := frozen()
		samples = append(samples, freezeSample{f, read()})
		if f2 := frozen(); f2 != f { // the counter was read across a freeze or a thaw: drop it
			samples = samples[:len(samples)-1]
		}
	}
}

// freezerReader tells whether the container's cgroup is frozen, from the kernel's own file.
func freezerReader(t *testing.T, id string) func() bool {
	h, err := DetectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	cg := NewCgroup(h, cgroupParent+"/"+id)
	if h.Unified {
		return func() bool {
			events, _ := os.ReadFile(filepath.Join(cg.path(""), "cgroup.events"))
			return strings.Contains(string(events), "frozen 1")
		}
	}
	return func() bool {
		state, _ := os.ReadFile(filepath.Join(cg.path("freezer"), "freezer.state"))
		return strings.TrimSpace(string(state)) == "FROZEN"
	}
}

// TestE2EDaemonKilledWhileFrozen: a daemon killed with -9 in the middle of a commit leaves the
// container frozen. The next daemon adopts it and thaws it: it runs on, and stops as any other (on v1
// a frozen task would not even die of SIGKILL until thawed).
func TestE2EDaemonKilledWhileFrozen(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	out, stderr, _ := d.run("", "run", "-d", "--name", "icy", "--net", "none", "base", "sleep", "1000")
	id := strings.TrimSpace(out)
	if len(id) != 64 {
		t.Fatalf("run -d: %q %s", out, stderr)
	}
	pid := d.inspectPid(t, "icy")
	h, _ := DetectCgroups()
	cg := NewCgroup(h, cgroupParent+"/"+id)
	if err := cg.Freeze(); err != nil { // as Runtime.Commit does
		t.Fatal(err)
	}
	d.cmd.Process.Kill()
	d.cmd.Wait()

	d, err = startDaemon(root)
	if err != nil {
		cg.Thaw()
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	if frozen := freezerReader(t, id); frozen() {
		cg.Thaw()
		t.Error("the adopted container is still frozen")
	}
	if _, stderr, code := d.run("", "stop", "-t", "1", "icy"); code != 0 {
		t.Errorf("stop: %s", stderr)
	}
	if processStartTime(pid) != 0 {
		t.Errorf("the container's process %d outlived its stop", pid)
	}
	for _, dir := range cg.dirs() {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("its cgroup %s is left", dir)
		}
	}
	if out, _, _ := d.run("", "ps", "-a", "--filter", "name=icy"); !strings.Contains(out, "Exited (137)") {
		t.Errorf("ps: %q", out)
	}
}

// TestE2ECommitDaemonKilled kills the daemon with -9 in the middle of a real commit, its layer half
// unpacked: after the restart, no half-made image is listed and no hidden layer directory is left, as
// for an import (TestE2EImportDaemonKilled), and the container commits whole.
func TestE2ECommitDaemonKilled(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	d.run("", "run", "--name", "big", "--net", "none", "base", "sh", "-c", "for i in $(seq 2000); do head -c 262144 /dev/zero > /f$i; done")
	images, _, _ := d.run("", "images", "-a", "-q")
	client := exec.Command(engineBin, "-r", root, "-H", d.addr, "commit", "big", "half")
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	defer client.Wait()
	waitFor(t, func() bool {
		hidden := hiddenInGraph(t, root)
		if len(hidden) == 0 {
			return false
		}
		_, err := os.Stat(filepath.Join(root, "graph", hidden[0], "layer", "f1000"))
		return err == nil
	})
	d.cmd.Process.Kill()
	d.cmd.Wait()
	if hidden := hiddenInGraph(t, root); len(hidden) == 0 {
		t.Fatal("the daemon was not killed mid-commit: nothing half-made to clear")
	}

	d, err = startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	if hidden := hiddenInGraph(t, root); len(hidden) > 0 {
		t.Errorf("left after the restart: %v", hidden)
	}
	if now, _, _ := d.run("", "images", "-a", "-q"); now != images {
		t.Errorf("images after the crash:\n%s\nbefore:\n%s", now, images)
	}
	if out, _, code := d.run("", "commit", "big", "whole"); code != 0 {
		t.Errorf("a commit after the restart: %d %s", code, out)
	}
	d.run("", "rm", "big")
}

// TestE2ECommitRefusedThaws: a commit that fails (the container made a device node, which no image may
// hold: archive.go) fails with one clear line, leaves no image, and thaws the container.
func TestE2ECommitRefusedThaws(t *testing.T) {
	t.Cleanup(func() { shared.run("", "rm", "-f", "devmaker") })
	id := strings.TrimSpace(engine(t, "run", "-d", "--name", "devmaker", "--net", "none", "base", "sh", "-c", "mknod /tmp/null c 1 3; echo ok > /tmp/ready; sleep 1000"))
	waitFor(t, func() bool {
		out, _, _ := shared.run("", "exec", "devmaker", "cat", "/tmp/ready")
		return out == "ok\n"
	})
	images := engine(t, "images", "-q")
	engineFails(t, 125, "device nodes are not allowed", "commit", "devmaker", "devimg")
	if freezerReader(t, id)() {
		h, _ := DetectCgroups()
		NewCgroup(h, cgroupParent+"/"+id).Thaw() // or nothing could stop it
		t.Fatal("the failed commit left the container frozen")
	}
	if out, _, code := shared.run("", "exec", "devmaker", "echo", "alive"); code != 0 || out != "alive\n" {
		t.Errorf("exec after the failed commit: %d %q", code, out)
	}
	if now := engine(t, "images", "-q"); now != images {
		t.Errorf("the failed commit left an image:\n%s", now)
	}
	if entries, _ := os.ReadDir(filepath.Join(shared.root, "graph")); slices.ContainsFunc(entries, func(e os.DirEntry) bool { return strings.HasPrefix(e.Name(), ".") }) {
		t.Error("the failed commit left a hidden directory in graph/")
	}
}

// TestE2ECommitLeavesVolumesOut: what a container writes into a volume is the volume's, not its
// image's: a commit has the mount point, empty.
func TestE2ECommitLeavesVolumesOut(t *testing.T) {
	t.Cleanup(func() {
		shared.run("", "rm", "-f", "-v", "volwriter")
		shared.run("", "rmi", "volimg")
	})
	engine(t, "run", "--name", "volwriter", "--net", "none", "-v", "/vol", "base", "sh", "-c", "echo secret > /vol/in-volume; echo mine > /tmp/mine")
	engine(t, "commit", "volwriter", "volimg")
	if got := engine(t, "run", "--rm", "--net", "none", "volimg", "sh", "-c", "cat /tmp/mine; ls -A /vol"); got != "mine\n" {
		t.Errorf("a container of the committed image: %q, want the container's file and an empty /vol", got)
	}
}
