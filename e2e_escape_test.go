// e2e_escape_test.go: ways out of a container through the engine's own processes, tried for real.
//
// Each test stages an attack on init or on exec's helper (init.go, exec.go) against a daemon of its own
// or the shared one: descriptors the daemon inherited and passed on (CVE-2024-21626), an exec that lands
// in the host's root when the daemon runs in a chroot, and children an exec'd command gives its parent
// with CLONE_PARENT (testdata/cloneparent), whose zombies once hung stop, rm -f and the daemon's exit.
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestE2EInheritedFdsStayOutside starts a daemon as a careless parent would, with fds 3 to 7 open on
// the host's directories and files, and tries every `-w /proc/self/fd/N` on run and exec. Each must fail
// with one clear line or run inside the container; none may list the host directory (its marker file),
// which the deep directory's ../../.. also is. pid 1 and an exec'd process have only stdio open.
func TestE2EInheritedFdsStayOutside(t *testing.T) {
	host := t.TempDir()
	marker := "host-marker-" + strconv.Itoa(os.Getpid())
	deep := filepath.Join(host, "a", "b", "c")
	if err := os.MkdirAll(deep, 0755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(host, marker), []byte("host\n"), 0644); err != nil {
		t.Fatal(err)
	}
	var inherited []*os.File
	for _, path := range []string{host, deep, deep, host, filepath.Join(host, marker)} { // fds 3..7
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		inherited = append(inherited, f)
	}
	d := newDaemon(filepath.Join(t.TempDir(), "root"))
	d.cmd = exec.Command(engineBin, "-d", "-r", d.root, "-H", d.addr, "--bridge", d.bridge)
	d.cmd.ExtraFiles = inherited
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	}()
	if _, stderr, code := d.run("", "run", "-d", "--name", "fdx", "base", "sleep", "1000"); code != 0 {
		t.Fatalf("run: %s", stderr)
	}
	defer d.run("", "rm", "-f", "fdx")

	ran := map[string][]int{}
	for fd := 3; fd <= 20; fd++ {
		workdir := "/proc/self/fd/" + strconv.Itoa(fd)
		for _, args := range [][]string{
			{"run", "--rm", "-w", workdir, "base", "sh", "-c", "ls -a . ../../.."},
			{"exec", "-w", workdir, "fdx", "sh", "-c", "ls -a . ../../.."},
		} {
			stdout, stderr, code := d.run("", args...)
			if strings.Contains(stdout+stderr, marker) {
				t.Errorf("engine %s: the host's directory is listed: %q %q", strings.Join(args, " "), stdout, stderr)
			}
			if code == 0 {
				ran[args[0]] = append(ran[args[0]], fd)
			} else if code != 125 || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, "workdir") {
				t.Errorf("engine %s: exit %d, stderr %q; want 0, or 125 and one line about the workdir", strings.Join(args, " "), code, stderr)
			}
		}
	}
	t.Logf("working directories that ran (inside the container): %v", ran)

	if stdout, _, _ := d.run("", "exec", "fdx", "ls", "/proc/1/fd"); stdout != "0\n1\n2\n" {
		t.Errorf("pid 1's open fds: %q, want 0 1 2", stdout)
	}
	// ls's own directory is the lowest free fd: 3, if stdio is all the process had.
	if stdout, _, _ := d.run("", "exec", "fdx", "ls", "/proc/self/fd"); stdout != "0\n1\n2\n3\n" {
		t.Errorf("an exec'd process's open fds, with ls's directory: %q, want 0 1 2 3", stdout)
	}
}

// TestE2EExecSeesTheContainer: what an exec sees of the file system is the container's, with the
// shared daemon (outside any chroot).
func TestE2EExecSeesTheContainer(t *testing.T) {
	checkExecSeesTheContainer(t, shared, "execview", nil)
}

// TestE2EExecInChrootedDaemon runs the daemon as a fresh-machine check or a build system would: chrooted
// into a directory bind-mounted onto itself, in a private mount namespace. setns(2) into a container's
// mount namespace puts a process at the namespace's root, which the container's pivot_root never
// replaced there: an exec must still see the container's files, and neither the chroot's nor the host's.
func TestE2EExecInChrootedDaemon(t *testing.T) {
	dir := t.TempDir()
	chrootMarker := "chroot-marker-" + strconv.Itoa(os.Getpid())
	if err := os.WriteFile(filepath.Join(dir, chrootMarker), nil, 0644); err != nil {
		t.Fatal(err)
	}
	d := startChrootedDaemon(t, dir)
	defer func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	}()
	chroot, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var chrootNames []string
	for _, entry := range chroot {
		chrootNames = append(chrootNames, entry.Name())
	}
	checkExecSeesTheContainer(t, d, "chrooted", chrootNames)
}

// checkExecSeesTheContainer runs a container that writes /marker, and checks that exec finds it, and
// that its / holds nothing that is in the host's root (or in extra) but not in the image's.
func checkExecSeesTheContainer(t *testing.T, d *daemon, name string, extra []string) {
	t.Helper()
	image, _, code := d.run("", "run", "--rm", "base", "ls", "-a", "/")
	if code != 0 {
		t.Fatalf("run ls /: exit %d", code)
	}
	inImage := strings.Fields(image)
	host, err := os.ReadDir("/")
	if err != nil {
		t.Fatal(err)
	}
	var outside []string // names in the host's root (or the chroot's) that the container does not have
	for _, entry := range host {
		extra = append(extra, entry.Name())
	}
	for _, entry := range extra {
		if !slices.Contains(inImage, entry) && !slices.Contains(outside, entry) {
			outside = append(outside, entry)
		}
	}
	if len(outside) == 0 {
		t.Fatal("the host's root has nothing the image lacks: the test proves nothing")
	}
	if _, stderr, code := d.run("", "run", "-d", "--name", name, "base", "sh", "-c", "echo made > /marker; exec sleep 1000"); code != 0 {
		t.Fatalf("run: %s", stderr)
	}
	defer d.run("", "rm", "-f", name)
	for i := 0; ; i++ {
		stdout, stderr, _ := d.run("", "exec", name, "cat", "/marker")
		if stdout == "made\n" {
			break
		}
		if i == 100 {
			t.Fatalf("exec cat /marker: %q %q", stdout, stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	for _, args := range [][]string{{"ls", "-a", "/"}, {"ls", "-a", "/.."}, {"sh", "-c", "cd /; ls -a ../../.."}} {
		stdout, stderr, code := d.run("", append([]string{"exec", name}, args...)...)
		seen := strings.Fields(stdout)
		if code != 0 || !slices.Contains(seen, "marker") {
			t.Errorf("exec %s: exit %d, %q %q: the container's /marker is missing", strings.Join(args, " "), code, stdout, stderr)
		}
		for _, entry := range outside {
			if slices.Contains(seen, entry) {
				t.Errorf("exec %s sees %q, which is outside the container: %q", strings.Join(args, " "), entry, stdout)
			}
		}
	}
}

// startChrootedDaemon starts the engine chrooted into dir: unshare(1) makes a private mount namespace,
// in which dir is bind-mounted onto itself and given the host's /proc, /sys, /dev, /usr and /etc (for
// iptables) and a /run of its own; chroot(1) then starts the engine binary copied in. The daemon's
// root, as the test's client sees it, is dir/engine-root.
func startChrootedDaemon(t *testing.T, dir string) *daemon {
	t.Helper()
	binary, err := os.ReadFile(engineBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "engine"), binary, 0755); err != nil {
		t.Fatal(err)
	}
	var binds []string
	for _, name := range []string{"proc", "sys", "dev", "usr", "etc", "run", "tmp", "bin", "sbin", "lib", "lib64"} {
		target, err := os.Readlink("/" + name)
		if err == nil { // merged /usr: /bin -> usr/bin
			if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
				t.Fatal(err)
			}
			continue
		}
		if _, err := os.Stat("/" + name); err != nil {
			continue
		}
		if err := os.Mkdir(filepath.Join(dir, name), 0755); err != nil {
			t.Fatal(err)
		}
		if name != "run" && name != "tmp" {
			binds = append(binds, name)
		}
	}
	script := `set -e
root=$1
mount --bind "$root" "$root"
for name in ` + strings.Join(binds, " ") + `; do mount --rbind "/$name" "$root/$name"; done
mount -t tmpfs tmpfs "$root/run"
mount -t tmpfs tmpfs "$root/tmp"
shift
exec chroot "$root" /engine -d "$@"`
	d := newDaemon(filepath.Join(dir, "engine-root"))
	d.cmd = exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", script, "sh", dir,
		"-r", "/engine-root", "-H", d.addr, "--bridge", d.bridge)
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	return d
}

// TestE2EDaemonRefusesAPlainChroot: in a chroot whose root is no mount point, no container could be
// started (making / private fails with EINVAL); the daemon says so and does not start.
func TestE2EDaemonRefusesAPlainChroot(t *testing.T) {
	dir := t.TempDir()
	binary, err := os.ReadFile(engineBin)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "engine"), binary, 0755); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "/engine", "-d", "-r", "/root", "-H", freePort(), "--bridge", "etplain")
	cmd.SysProcAttr = &syscall.SysProcAttr{Chroot: dir}
	out, err := cmd.CombinedOutput()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 1 || !strings.Contains(string(out), "engine -d: / is not a mount point") {
		t.Errorf("the daemon in a plain chroot: %v, %q; want exit 1 and that / is not a mount point", err, out)
	}
}

// TestE2EExecReapsCloneParent: an exec'd command that clones children with CLONE_PARENT (they exit at
// once) must leave no zombie behind: stop, rm -f and restart of its container, and the daemon's own
// shutdown, all finish, well within 20 s each.
func TestE2EExecReapsCloneParent(t *testing.T) {
	d, err := startDaemon(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	stopped := false
	defer func() {
		if !stopped {
			d.stop()
		}
	}()
	program := buildStatic(t, "./testdata/cloneparent")
	importFiles(t, d, "cloneparent", map[string][]byte{"cloneparent": program})
	within := func(args ...string) string {
		t.Helper()
		type result struct {
			stdout, stderr string
			code           int
		}
		done := make(chan result, 1)
		go func() { stdout, stderr, code := d.run("", args...); done <- result{stdout, stderr, code} }()
		select {
		case r := <-done:
			if r.code != 0 {
				t.Fatalf("engine %s: exit %d: %s", strings.Join(args, " "), r.code, r.stderr)
			}
			return r.stdout
		case <-time.After(20 * time.Second):
			t.Fatalf("engine %s: still waiting after 20 s", strings.Join(args, " "))
			return ""
		}
	}
	attack := func(name string) {
		t.Helper()
		if out := within("exec", name, "/cloneparent", "5"); out != "cloned 5\n" {
			t.Fatalf("exec /cloneparent: %q", out)
		}
		within("exec", "-d", name, "/cloneparent", "5")
		within("exec", "-t", name, "/cloneparent", "5")
	}
	running := func(name string) bool {
		var record struct{ State struct{ Running bool } }
		if err := json.Unmarshal([]byte(within("inspect", name)), &record); err != nil {
			t.Fatal(err)
		}
		return record.State.Running
	}

	within("run", "-d", "--name", "cp", "cloneparent", "/cloneparent", "sleep")
	attack("cp")
	within("stop", "-t", "1", "cp")
	if running("cp") {
		t.Error("cp still runs after stop")
	}
	within("start", "cp")
	attack("cp")
	within("restart", "-t", "1", "cp")
	if !running("cp") {
		t.Error("cp does not run after restart")
	}
	attack("cp")
	within("rm", "-f", "cp")
	within("run", "-d", "--name", "cp2", "cloneparent", "/cloneparent", "sleep")
	attack("cp2")
	waitFor(t, func() bool { return zombiesUnder(d.cmd.Process.Pid) == "" })
	stopped = true
	start := time.Now()
	if err := d.stop(); err != nil { // SIGTERM: stops cp2, and must finish
		t.Error(err)
	}
	t.Logf("the daemon's shutdown took %v", time.Since(start).Round(time.Millisecond))
}

// zombiesUnder lists the zombies among a process's children and their children.
func zombiesUnder(pid int) string {
	out, _ := exec.Command("ps", "-e", "-o", "pid=,ppid=,stat=,comm=").Output()
	parents := map[string]bool{strconv.Itoa(pid): true}
	var found []string
	for range 2 {
		for _, line := range strings.Split(string(out), "\n") {
			fields := strings.Fields(line)
			if len(fields) < 4 || !parents[fields[1]] {
				continue
			}
			parents[fields[0]] = true
			if strings.HasPrefix(fields[2], "Z") && !slices.Contains(found, line) {
				found = append(found, line)
			}
		}
	}
	return strings.Join(found, "; ")
}

// importFiles imports an image made of the given files, each executable, into a daemon.
func importFiles(t *testing.T, d *daemon, name string, files map[string][]byte) {
	t.Helper()
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for path, data := range files {
		tw.WriteHeader(&tar.Header{Name: path, Mode: 0755, Size: int64(len(data)), Typeflag: tar.TypeReg})
		tw.Write(data)
	}
	tw.Close()
	if _, stderr, code := d.run(layer.String(), "import", "-", name); code != 0 {
		t.Fatalf("import %s: %s", name, stderr)
	}
}
