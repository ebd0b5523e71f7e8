// e2e_images_test.go: images, bad input, daemon restarts and OCI runtimes, driven through the real binary
// (the daemon and helpers are in e2e_test.go).
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// tarball builds a small root filesystem tar: a static busybox is not needed to import, only to run.
func tarball(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for name, content := range files {
		hdr := &tar.Header{Name: name, Mode: 0644, Size: int64(len(content)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if strings.HasSuffix(name, "/") {
			hdr = &tar.Header{Name: name, Mode: 0755, Typeflag: tar.TypeDir, ModTime: time.Unix(0, 0)}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(content))
	}
	tw.Close()
	return buf.Bytes()
}

func graphEntries(t *testing.T, root string) []string {
	entries, err := os.ReadDir(filepath.Join(root, "graph"))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, entry := range entries {
		names = append(names, entry.Name())
	}
	return names
}

func TestE2EImportTagRmi(t *testing.T) {
	layer := tarball(t, map[string]string{"etc/": "", "etc/motd": "hello\n"})
	first, _, code := shared.run(string(layer), "import", "-", "imp:1.0")
	if code != 0 || !strings.HasPrefix(first, "sha256:") {
		t.Fatalf("import: %q %d", first, code)
	}
	// The same content again, gzipped and from a file the client reads: the same image.
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(layer)
	zw.Close()
	file := filepath.Join(t.TempDir(), "rootfs.tar.gz")
	os.WriteFile(file, gz.Bytes(), 0600)
	if second := engine(t, "import", file, "imp2"); second != first {
		t.Errorf("same content imported twice: %q then %q", first, second)
	}
	images := engine(t, "images")
	for _, want := range []string{"imp ", "1.0", "imp2", "latest", first[7:19]} {
		if !strings.Contains(images, want) {
			t.Errorf("images lacks %q:\n%s", want, images)
		}
	}
	engine(t, "tag", "imp:1.0", "imp3:x")
	if image := inspect(t, "imp3:x"); image["Id"] != strings.TrimSpace(first) || len(image["RepoTags"].([]any)) != 3 {
		t.Errorf("inspect imp3:x: %v", image)
	}
	if out := engine(t, "rmi", "imp2"); out != "Untagged: imp2:latest\n" {
		t.Errorf("rmi of one of several tags: %q", out)
	}
	engine(t, "create", "--name", "user", "imp:1.0", "cat", "/etc/motd")
	engine(t, "rmi", "imp3:x")
	engineFails(t, 125, "container", "rmi", "imp:1.0")
	engine(t, "rm", "user")
	out := engine(t, "rmi", "imp:1.0")
	if out != "Untagged: imp:1.0\nDeleted: "+first {
		t.Errorf("rmi of the last tag: %q", out)
	}
	engineFails(t, 125, "no such image: imp:1.0", "rmi", "imp:1.0")
	engineFails(t, 125, "invalid reference format", "import", "-", "Bad:Name")
}

func TestE2EHostileImport(t *testing.T) {
	before := graphEntries(t, shared.root)
	cases := map[string][]byte{
		"too deep":   nestedDirs(t, 2000),
		"dotdot":     tarball(t, map[string]string{"../evil": "x"}),
		"truncated":  tarball(t, map[string]string{"a": strings.Repeat("x", 4096)})[:1024],
		"not a tar":  []byte("this is not an archive"),
		"empty":      nil,
		"device":     deviceTarball(t),
		"via a link": symlinkEscapeTarball(t),
	}
	for name, data := range cases {
		_, stderr, code := shared.run(string(data), "import", "-", "hostile")
		if code != 125 || !strings.HasPrefix(stderr, "engine: import: ") || strings.Count(stderr, "\n") != 1 {
			t.Errorf("%s: exit %d, stderr %q", name, code, stderr)
		}
	}
	if after := graphEntries(t, shared.root); strings.Join(after, " ") != strings.Join(before, " ") {
		t.Errorf("a refused import left something behind: %v -> %v", before, after)
	}
	if _, err := os.Stat("/evil"); err == nil {
		t.Errorf("an archive wrote /evil")
	}
}

func deviceTarball(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "dev/sda", Typeflag: tar.TypeBlock, Devmajor: 8, Mode: 0600})
	tw.Close()
	return buf.Bytes()
}

func symlinkEscapeTarball(t *testing.T) []byte {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	tw.WriteHeader(&tar.Header{Name: "etc", Typeflag: tar.TypeSymlink, Linkname: "/etc", Mode: 0777})
	tw.WriteHeader(&tar.Header{Name: "etc/engine-evil", Typeflag: tar.TypeReg, Size: 1, Mode: 0644})
	tw.Write([]byte("x"))
	tw.Close()
	return buf.Bytes()
}

func TestE2EBadInput(t *testing.T) {
	engineFails(t, 125, `engine: "frobnicate" is not a command`, "frobnicate")
	engineFails(t, 125, `"Run" is not a command`, "Run")
	engineFails(t, 125, "no such container: nosuch", "stop", "nosuch")
	engineFails(t, 125, "requires exactly 1 argument", "logs")
	engineFails(t, 125, "invalid signal: BOGUS", "kill", "-s", "BOGUS", "nosuch")
	engineFails(t, 125, "invalid filter", "ps", "--filter", "color=red")
	if out, _, code := shared.run("", "run", "--help"); code != 0 || !strings.Contains(out, "Usage:  engine run [OPTIONS] IMAGE") || !strings.Contains(out, "-d, --detach") {
		t.Errorf("run --help: %d %q", code, out)
	}
	if out := engine(t, "help"); !strings.Contains(out, "  run ") || !strings.Contains(out, "  rmi ") {
		t.Errorf("help: %q", out)
	}

	// Raw connections that break the protocol, each answered with an error or closed, never a crash.
	token, _ := os.ReadFile(filepath.Join(shared.root, "engine.token"))
	tokenFrame := frame(frameToken, bytes.TrimSpace(token))
	for name, payload := range map[string][]byte{
		"garbage":         []byte("GET / HTTP/1.1\r\n\r\n"),
		"bad json":        append(tokenFrame, frame(frameRequest, []byte("{not json"))...),
		"wrong token":     append(frame(frameToken, []byte("guess")), frame(frameRequest, []byte(`{"args":["ps"]}`))...),
		"no token":        frame(frameRequest, []byte(`{"args":["ps"]}`)),
		"oversized":       append([]byte{frameRequest, 0xff, 0xff, 0xff, 0xff}, make([]byte, 100)...),
		"oversized token": append([]byte{frameToken, 0, 0, 1, 1}, make([]byte, 257)...),
		"no args":         append(tokenFrame, frame(frameRequest, []byte(`{"args":[]}`))...),
		"wrong kind":      frame(frameStdout, []byte("hi")),
		"half a header":   {frameRequest, 0},
	} {
		reply := rawExchange(t, shared.addr, payload)
		if !bytes.Contains(reply, []byte{frameError}) && name != "half a header" {
			t.Errorf("%s: no error frame in %q", name, reply)
		}
	}
	// A client that goes away in the middle of a run: the container finishes, the daemon serves on.
	client := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "run", "--name", "orphan", "base", "sh", "-c", "sleep 0.5; echo done")
	client.Start()
	time.Sleep(200 * time.Millisecond)
	client.Process.Kill()
	client.Wait()
	if got := engine(t, "wait", "orphan"); got != "0\n" {
		t.Errorf("wait for the orphan: %q", got)
	}
	if logs := engine(t, "logs", "orphan"); logs != "done\n" {
		t.Errorf("orphan's logs: %q", logs)
	}
	engine(t, "rm", "orphan")
	engine(t, "run", "--rm", "base", "true")
}

// requestFrames are the token and request frames a client sends first, for tests that speak the wire
// by hand, as a proxy, a script with nc or a hostile client would.
func (d *daemon) requestFrames(t *testing.T, args ...string) []byte {
	t.Helper()
	token, err := os.ReadFile(filepath.Join(d.root, "engine.token"))
	if err != nil {
		t.Fatal(err)
	}
	request, _ := json.Marshal(Request{Args: args})
	return append(frame(frameToken, bytes.TrimSpace(token)), frame(frameRequest, request)...)
}

// frame is one frame of the wire (tcp.go), as bytes.
func frame(kind byte, payload []byte) []byte {
	header := []byte{kind, 0, 0, 0, 0}
	binary.BigEndian.PutUint32(header[1:], uint32(len(payload)))
	return append(header, payload...)
}

// rawExchange sends bytes on a fresh connection, closes our side for writing, and returns the reply.
func rawExchange(t *testing.T, addr string, payload []byte) []byte {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.Write(payload)
	conn.(*net.TCPConn).CloseWrite()
	conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	var reply bytes.Buffer
	reply.ReadFrom(conn)
	return reply.Bytes()
}

// TestE2EDaemonRestart stops a daemon with SIGTERM and starts it again on the same root: containers,
// their states, exit codes and logs, and images are all still there, and the running one still runs.
func TestE2EDaemonRestart(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{
		{"run", "--name", "three", "base", "sh", "-c", "echo out; echo err >&2; exit 3"},
		{"create", "--name", "fresh", "--label", "a=b", "base", "true"},
		{"run", "-d", "--name", "long", "base", "sleep", "1000"},
	} {
		d.run("", args...)
	}
	before, _, _ := d.run("", "ps", "-a")
	if err := d.terminate(); err != nil {
		t.Fatal(err)
	}
	d, err = startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	after, _, _ := d.run("", "ps", "-a")
	if len(strings.Split(before, "\n")) != len(strings.Split(after, "\n")) {
		t.Errorf("ps -a before the restart:\n%s\nafter:\n%s", before, after)
	}
	if stdout, stderr, _ := d.run("", "logs", "three"); stdout != "out\n" || stderr != "err\n" {
		t.Errorf("logs after restart: %q %q", stdout, stderr)
	}
	for name, want := range map[string]string{"three": "Exited (3)", "fresh": "Created", "long": "Up "} {
		if out, _, _ := d.run("", "ps", "-a", "--filter", "name="+name); !strings.Contains(out, want) {
			t.Errorf("%s after restart: %q, want %q", name, out, want)
		}
	}
	if out, _, code := d.run("", "start", "-a", "three"); out != "out\n" || code != 3 {
		t.Errorf("start -a after restart: %q %d", out, code)
	}
	if out, _, _ := d.run("", "images"); !strings.Contains(out, "base") {
		t.Errorf("images after restart: %q", out)
	}
}

// TestE2EOCIRuntimes runs a container's generated bundle with runc and crun and expects the output our
// own init gave.
func TestE2EOCIRuntimes(t *testing.T) {
	script := "hostname; cat /etc/hostname; echo pid=$$; ls /dev; id; pwd; env | sort; tr '\\0' ' ' </proc/1/cmdline; echo; " +
		"ls /; mount | cut -d' ' -f3,5 | sort; ls /proc/self/fd; ip -o link | cut -d: -f2; grep -E '^(Cap|NoNewPrivs|Seccomp)' /proc/self/status"
	// --net none: the bridge's eth0 is set up from an annotation only our init reads (network.go).
	id := strings.TrimSpace(engine(t, "create", "--net", "none", "base", "sh", "-c", script))
	defer shared.run("", "rm", "-f", id)
	ours := engine(t, "start", "-a", id)
	runBundleWithOCIRuntimes(t, id, "base", ours)
}

// runBundleWithOCIRuntimes runs container id's bundle on a fresh mount of image with runc and with crun,
// and expects each to print what our init printed.
func runBundleWithOCIRuntimes(t *testing.T, id, image, ours string) {
	t.Helper()
	bundle := t.TempDir()
	config, err := os.ReadFile(filepath.Join(shared.root, "containers", id, "bundle", "config.json"))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(bundle, "config.json"), config, 0600)
	unmount := mountImage(t, strings.TrimPrefix(inspect(t, image)["Id"].(string), "sha256:"), filepath.Join(bundle, "rootfs"))
	defer unmount()

	state := t.TempDir()
	defer removeRuntimeCgroupParents()
	runc := exec.Command("runc", "--root", state, "run", "--bundle", bundle, "engine-oci-test-runc")
	if out, err := runc.Output(); err != nil || string(out) != ours {
		t.Errorf("runc (%v) printed:\n%s\nour init printed:\n%s", err, out, ours)
	}
	// crun refuses this VM's hybrid cgroups unless /sys/fs/cgroup/unified is unmounted in a mount
	// namespace of its own.
	crun := exec.Command("unshare", "-m", "sh", "-c", `umount /sys/fs/cgroup/unified 2>/dev/null; exec crun --root "$0" run --bundle "$1" engine-oci-test-crun`, state, bundle)
	out, err := crun.Output()
	if _, statErr := os.Stat("/proc/kcore"); statErr != nil {
		// crun adds /dev/core -> /proc/kcore even where the kernel has no /proc/kcore; runc and we do not.
		out = bytes.Replace(out, []byte("\ncore\n"), []byte("\n"), 1)
	}
	// crun masks files with the host's /dev/null (devtmpfs), runc and we with the container's (tmpfs).
	out = bytes.ReplaceAll(out, []byte(" devtmpfs\n"), []byte(" tmpfs\n"))
	if err != nil || string(out) != ours {
		t.Errorf("crun (%v) printed:\n%s\nour init printed:\n%s", err, out, ours)
	}
}

// mountImage mounts an image's layers read-only-below, writable-above at dir, as the engine does.
func mountImage(t *testing.T, imageID, dir string) func() {
	t.Helper()
	scratch := t.TempDir()
	upper, work := filepath.Join(scratch, "upper"), filepath.Join(scratch, "work")
	for _, d := range []string{dir, upper, work} {
		os.MkdirAll(d, 0755)
	}
	layer := filepath.Join(shared.root, "graph", imageID, "layer")
	options := "lowerdir=" + layer + ",upperdir=" + upper + ",workdir=" + work
	if out, err := exec.Command("mount", "-t", "overlay", "overlay", "-o", options, dir).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v %s", err, out)
	}
	return func() { exec.Command("umount", dir).Run() }
}

// TestE2EDaemonKilled kills the daemon with SIGKILL while imports and creations are under way. The
// restarted daemon shows only whole images and containers, tells the truth about the container that was
// running, and has cleared what was half done.
func TestE2EDaemonKilled(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	d.run("", "run", "-d", "--name", "survivor", "base", "sh", "-c", "echo before; exec sleep 1000")
	d.run("", "run", "--name", "seven", "base", "sh", "-c", "exit 7")
	survivorPid := d.inspectPid(t, "survivor")

	stop := make(chan struct{})
	busy := make(chan struct{})
	for worker := 0; worker < 4; worker++ {
		go func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					busy <- struct{}{}
					return
				default:
				}
				layer := tarball(t, map[string]string{fmt.Sprintf("file-%d-%d", worker, i): strings.Repeat("x", 1<<16)})
				d.run(string(layer), "import", "-", fmt.Sprintf("crash%d:%d", worker, i))
				d.run("", "create", "base", "true")
			}
		}()
	}
	time.Sleep(700 * time.Millisecond)
	d.cmd.Process.Kill()
	d.cmd.Wait()
	close(stop)
	for worker := 0; worker < 4; worker++ {
		<-busy
	}

	d, err = startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	for _, name := range graphEntries(t, root) {
		if strings.HasPrefix(name, ".") {
			t.Errorf("leftover in graph/: %s", name)
		} else if _, err := os.Stat(filepath.Join(root, "graph", name, "layer")); err != nil {
			t.Errorf("image %s has no layer", name)
		}
	}
	images, _, code := d.run("", "images")
	if code != 0 || !strings.Contains(images, "crash") {
		t.Errorf("images after the crash (exit %d):\n%s", code, images)
	}
	ids, _, _ := d.run("", "ps", "-aq")
	for _, id := range strings.Fields(ids) {
		if _, stderr, code := d.run("", "inspect", id); code != 0 {
			t.Errorf("container %s listed but not inspectable: %s", id, stderr)
		}
	}
	if out, _, _ := d.run("", "ps", "-a", "--filter", "name=survivor"); !strings.Contains(out, "Up ") {
		t.Errorf("the container running at the crash: %q", out)
	}
	if out, _, _ := d.run("", "ps", "-a", "--filter", "name=seven"); !strings.Contains(out, "Exited (7)") {
		t.Errorf("the container that had exited: %q", out)
	}
	if logs, _, _ := d.run("", "logs", "survivor"); logs != "before\n" {
		t.Errorf("survivor's logs: %q", logs)
	}
	if processStartTime(survivorPid) == 0 {
		t.Errorf("the survivor's process %d died with the daemon", survivorPid)
	}
	if _, stderr, code := d.run("", "rm", "-f", "survivor"); code != 0 {
		t.Errorf("rm -f of the survivor: %s", stderr)
	}
}

func (d *daemon) inspectPid(t *testing.T, name string) int {
	t.Helper()
	out, _, _ := d.run("", "inspect", name)
	var c struct{ State struct{ Pid int } }
	if err := json.Unmarshal([]byte(out), &c); err != nil || c.State.Pid == 0 {
		t.Fatalf("inspect %s: %v %q", name, err, out)
	}
	return c.State.Pid
}
