package main

// End-to-end tests of `engine cp`: Docker's rules in both directions and with "-", running and stopped
// containers, and the attacks cp.go's opening names: symlinks that lead out of the container's root,
// swapped in while the copy runs (CVE-2018-15664), FIFOs and devices, a client that dies mid-copy, and
// a tree of 50,000 entries, which must stream through the daemon without being held in its memory.

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// tarNames lists a tar stream's entries as "type name".
func tarNames(t *testing.T, data []byte) []string {
	t.Helper()
	var names []string
	tr := tar.NewReader(bytes.NewReader(data))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return names
		}
		if err != nil {
			t.Fatalf("reading the tar: %v", err)
		}
		names = append(names, string(hdr.Typeflag)+" "+hdr.Name)
	}
}

func readHostFile(t *testing.T, p string) string {
	t.Helper()
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}

func writeHostFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0644); err != nil {
			t.Fatal(err)
		}
	}
}

// startCpContainer runs a container that prepares its files with script and then sleeps.
func startCpContainer(t *testing.T, name, script string) {
	t.Helper()
	engine(t, "run", "-d", "--name", name, "base", "sh", "-c", script+"; touch /ready; exec sleep 1000")
	t.Cleanup(func() { shared.run("", "rm", "-f", name) })
	waitFor(t, func() bool { _, _, code := shared.run("", "exec", name, "test", "-e", "/ready"); return code == 0 })
}

func TestE2ECopyOut(t *testing.T) {
	startCpContainer(t, "cpout", "mkdir -p /data/sub; echo one >/data/a; echo two >/data/sub/b; ln -s /data/a /data/link")
	host := t.TempDir()
	engine(t, "cp", "cpout:/data/a", host+"/a1") // a file under a new name
	engine(t, "cp", "cpout:data/a", host)        // into a directory; relative to the container's root
	engine(t, "cp", "cpout:/data", host+"/d1")   // a directory under a new name
	engine(t, "cp", "cpout:/data/", host+"/d1")  // into the existing one
	if err := os.Mkdir(host+"/d2", 0755); err != nil {
		t.Fatal(err)
	}
	engine(t, "cp", "cpout:/data/.", host+"/d2") // what is in it
	engine(t, "cp", "cpout:/data/link", host+"/l")
	engine(t, "cp", "-L", "cpout:/data/link", host+"/lf")
	for name, want := range map[string]string{"a1": "one\n", "a": "one\n", "d1/a": "one\n", "d1/sub/b": "two\n", "d1/data/sub/b": "two\n", "d2/a": "one\n", "d2/sub/b": "two\n", "lf": "one\n"} {
		if got := readHostFile(t, filepath.Join(host, name)); got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	if target, err := os.Readlink(host + "/l"); err != nil || target != "/data/a" {
		t.Errorf("the symlink came out as %q, %v", target, err)
	}
	// "-": the tar itself.
	stdout, _, code := shared.run("", "cp", "cpout:/data", "-")
	want := []string{"5 data/", "0 data/a", "2 data/link", "5 data/sub/", "0 data/sub/b"}
	if got := tarNames(t, []byte(stdout)); code != 0 || !slices.Equal(got, want) {
		t.Errorf("cp cpout:/data -: %v (exit %d), want %v", got, code, want)
	}
	// The whole root: the container's own files, not the kernel's /proc, /sys and /dev mounted on it
	// (as Docker's cp sees it), which stay where they are for the container.
	stdout, stderr, code := shared.run("", "cp", "cpout:/", "-")
	names := tarNames(t, []byte(stdout))
	if code != 0 || !slices.Contains(names, "5 proc/") || !slices.Contains(names, "0 bin/busybox") || slices.ContainsFunc(names, func(n string) bool { return strings.HasPrefix(n, "0 proc/") }) {
		t.Errorf("cp cpout:/ -: exit %d %s, %d entries", code, stderr, len(names))
	}
	if got := engine(t, "exec", "cpout", "sh", "-c", "tr '\\0' ' ' </proc/1/cmdline"); !strings.HasPrefix(got, "sleep 1000") {
		t.Errorf("the container's /proc after the copy: %q", got)
	}
	engineFails(t, 1, "engine: cp: Could not find the file /nope in container cpout", "cp", "cpout:/nope", host)
	engineFails(t, 1, "cannot copy directory", "cp", "cpout:/data", host+"/a1")
	engineFails(t, 1, "no such directory", "cp", "cpout:/data/a", host+"/new/")
	engineFails(t, 1, "not a directory", "cp", "cpout:/data/a/", host)
	engineFails(t, 1, "stat "+host+"/nodir: no such file or directory", "cp", "cpout:/data/a", host+"/nodir/x")
	engineFails(t, 125, "no such container: nosuch", "cp", "nosuch:/x", host)
	engineFails(t, 125, "copying between containers is not supported", "cp", "cpout:/a", "cpout:/b")
	engineFails(t, 125, "must specify at least one container source", "cp", host+"/a", host+"/b")
}

func TestE2ECopyIn(t *testing.T) {
	startCpContainer(t, "cpin", "echo old >/file; mkdir -p /tmp/clash/x")
	host := t.TempDir()
	writeHostFiles(t, host, map[string]string{"src/x": "x\n", "src/dir/y": "y\n", "src/.wh.z": "not a whiteout\n", "clash/x": "a file\n"})
	if err := os.Symlink("/etc/shadow", host+"/src/link"); err != nil {
		t.Fatal(err)
	}
	engine(t, "cp", host+"/src", "cpin:/tmp/")           // into a directory
	engine(t, "cp", host+"/src/x", "cpin:/tmp/renamed")  // under a new name
	engine(t, "cp", host+"/src/.", "cpin:/tmp/merged")   // what is in it, to a new directory
	engine(t, "cp", host+"/src/x", "cpin:/file")         // over a file
	engine(t, "cp", "-L", host+"/src/x", "cpin:/tmp/lx") // -L on a file is the file
	script := "cat /tmp/src/x /tmp/src/dir/y /tmp/src/.wh.z /tmp/renamed /tmp/merged/dir/y /file; readlink /tmp/src/link; stat -c '%u:%g' /tmp/src/x"
	if got := engine(t, "exec", "cpin", "sh", "-c", script); got != "x\ny\nnot a whiteout\nx\ny\nx\n/etc/shadow\n0:0\n" {
		t.Errorf("inside: %q", got)
	}
	// "-": a tar from stdin, unpacked into a directory.
	stdout, stderr, code := shared.run(string(tarball(t, map[string]string{"t/": "", "t/s": "from stdin\n"})), "cp", "-", "cpin:/tmp")
	if code != 0 || engine(t, "exec", "cpin", "cat", "/tmp/t/s") != "from stdin\n" {
		t.Errorf("cp - cpin:/tmp: %q %q %d", stdout, stderr, code)
	}
	engineFails(t, 1, "Could not find the file /nodir/x in container cpin", "cp", host+"/src/x", "cpin:/nodir/x")
	engineFails(t, 1, "cannot copy directory", "cp", host+"/src", "cpin:/file")
	engineFails(t, 1, "no such file or directory", "cp", host+"/nope", "cpin:/tmp")
	engineFails(t, 1, `would replace directory "clash/x"`, "cp", host+"/clash", "cpin:/tmp/")
	if _, stderr, code := shared.run(string(tarball(t, map[string]string{"s": ""})), "cp", "-", "cpin:/file"); code != 1 || !strings.Contains(stderr, "extraction point is not a directory") {
		t.Errorf("cp - into a file: %q %d", stderr, code)
	}
	// A read-only root stays so.
	engine(t, "run", "-d", "--read-only", "--name", "cpro", "base", "sleep", "1000")
	defer shared.run("", "rm", "-f", "cpro")
	engineFails(t, 1, "read-only file system", "cp", host+"/src/x", "cpro:/tmp/")
}

// A stopped container's root is mounted for the copy and unmounted after.
func TestE2ECopyStopped(t *testing.T) {
	host := t.TempDir()
	writeHostFiles(t, host, map[string]string{"greeting": "hello from the host\n"})
	id := strings.TrimSpace(engine(t, "create", "--name", "cpstopped", "base", "cat", "/greeting"))
	defer shared.run("", "rm", "-f", "cpstopped")
	engine(t, "cp", host+"/greeting", "cpstopped:/")
	engine(t, "cp", "cpstopped:/greeting", host+"/back")
	if got := readHostFile(t, host+"/back"); got != "hello from the host\n" {
		t.Errorf("copied back: %q", got)
	}
	if mounts := mountsUnder(filepath.Join(shared.root, "containers", id)); len(mounts) > 0 {
		t.Errorf("left mounted: %v", mounts)
	}
	if got := engine(t, "start", "-a", "cpstopped"); got != "hello from the host\n" {
		t.Errorf("the container then printed %q", got)
	}
	engine(t, "cp", "cpstopped:/greeting", host+"/again") // exited, this time
}

// hostMarker makes a directory on the host holding one file, and a check that the directory still holds
// exactly that.
func hostMarker(t *testing.T) (dir string, unchanged func() bool) {
	dir = t.TempDir()
	writeHostFiles(t, dir, map[string]string{"marker": "HOST SECRET\n"})
	return dir, func() bool {
		entries, _ := os.ReadDir(dir)
		data, _ := os.ReadFile(filepath.Join(dir, "marker"))
		return len(entries) == 1 && string(data) == "HOST SECRET\n"
	}
}

// Symlinks that lead out of the container's root, as source and as destination, resolve inside it:
// the container has a directory of the same path as the host's marker, and that is what is read and
// written.
func TestE2ECopySymlinksStayInside(t *testing.T) {
	dir, unchanged := hostMarker(t)
	startCpContainer(t, "cplinks", fmt.Sprintf("mkdir -p %[1]s; echo container >%[1]s/marker; ln -s / /rootlink; ln -s ../../.. /uplink; ln -s %[1]s/marker /marklink", dir))
	host := t.TempDir()
	writeHostFiles(t, host, map[string]string{"planted": "planted\n"})
	for _, link := range []string{"/rootlink", "/uplink"} {
		engine(t, "cp", "cplinks:"+link+dir+"/marker", host+"/out")
		if got := readHostFile(t, host+"/out"); got != "container\n" {
			t.Errorf("cp from %s%s/marker read %q", link, dir, got)
		}
		engine(t, "cp", host+"/planted", "cplinks:"+link+dir+"/")
	}
	engine(t, "cp", "-L", "cplinks:/marklink", host+"/out")
	if got := readHostFile(t, host+"/out"); got != "container\n" {
		t.Errorf("cp -L of a link to %s/marker read %q", dir, got)
	}
	if got := engine(t, "exec", "cplinks", "cat", dir+"/planted"); got != "planted\n" {
		t.Errorf("the planted file is not in the container: %q", got)
	}
	// Stopped, its root is mounted in the daemon's mount namespace: the helper's chroot alone keeps
	// the links inside.
	engine(t, "stop", "-t", "0", "cplinks")
	engine(t, "cp", "cplinks:/uplink"+dir+"/marker", host+"/out")
	engine(t, "cp", host+"/planted", "cplinks:/rootlink"+dir+"/again")
	if got := readHostFile(t, host+"/out"); got != "container\n" {
		t.Errorf("cp from a stopped container's /uplink%s/marker read %q", dir, got)
	}
	if !unchanged() {
		t.Errorf("the host's %s changed", dir)
	}
}

// CVE-2018-15664: the container swaps /x between a directory and a symlink to "/" while files are
// copied out of and into /x/<the host marker's directory>, many times. Whatever it wins, the copy
// happens in the container.
func TestE2ECopySymlinkSwapRace(t *testing.T) {
	dir, unchanged := hostMarker(t)
	swap := fmt.Sprintf("mkdir -p %[1]s; echo container-root >%[1]s/marker; "+
		"(while :; do rm -rf /x; mkdir -p /x%[1]s; echo container-dir >/x%[1]s/marker; rm -rf /x; ln -s / /x; done) & true", dir)
	startCpContainer(t, "cpswap", swap)
	host := t.TempDir()
	writeHostFiles(t, host, map[string]string{"planted": "planted\n"})
	seen := map[string]int{}
	for i := 0; i < 200; i++ {
		// Either way, a copy may fail when /x is what it did not expect (exit 1): never reach the host.
		stdout, stderr, code := shared.run("", "cp", "cpswap:/x"+dir+"/marker", "-")
		for _, content := range []string{"HOST SECRET", "container-root", "container-dir"} {
			if code == 0 && strings.Contains(stdout, content) {
				seen[content]++
			}
		}
		if code != 0 && code != 1 {
			t.Errorf("cp out: exit %d: %s", code, stderr)
		}
		if _, stderr, code := shared.run("", "cp", host+"/planted", "cpswap:/x"+dir+"/"); code != 0 && code != 1 {
			t.Errorf("cp in: exit %d: %s", code, stderr)
		}
	}
	t.Logf("read: %v", seen)
	if seen["HOST SECRET"] > 0 || !unchanged() {
		t.Fatalf("the host's %s was read (%d times) or written (unchanged: %v)", dir, seen["HOST SECRET"], unchanged())
	}
	if seen["container-root"]+seen["container-dir"] == 0 {
		t.Errorf("no copy succeeded: the race was not run")
	}
}

// FIFOs and devices come out as headers without being opened, and the client refuses a device on the
// host.
func TestE2ECopySpecialFiles(t *testing.T) {
	startCpContainer(t, "cpspecial", "mkfifo /fifo; mkdir /d; mkfifo /d/fifo; mknod /d/null c 1 3")
	host := t.TempDir()
	run := func(args ...string) ([]byte, string, error) {
		cmd := exec.Command(engineBin, append([]string{"-r", shared.root, "-H", shared.addr}, args...)...)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		timer := time.AfterFunc(30*time.Second, func() { cmd.Process.Kill() })
		defer timer.Stop()
		err := cmd.Wait()
		return stdout.Bytes(), stderr.String(), err
	}
	stdout, stderr, err := run("cp", "cpspecial:/d", "-")
	if want := []string{"5 d/", "6 d/fifo", "3 d/null"}; err != nil || !slices.Equal(tarNames(t, stdout), want) {
		t.Errorf("cp cpspecial:/d -: %v %s %v, want %v", tarNames(t, stdout), stderr, err, want)
	}
	if _, stderr, err := run("cp", "cpspecial:/fifo", host+"/fifo"); err != nil {
		t.Errorf("cp of a FIFO: %v %s", err, stderr)
	} else if info, err := os.Lstat(host + "/fifo"); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO came out as %v, %v", info, err)
	}
	_, stderr, err = run("cp", "cpspecial:/d", host+"/d")
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 || !strings.Contains(stderr, `"d/null": device nodes are not allowed`) {
		t.Errorf("cp of a device to the host: %v %q", err, stderr)
	}
	if _, err := os.Lstat(host + "/d/null"); err == nil {
		t.Errorf("a device node was made on the host")
	}
}

// copyHelpers lists the daemon's `engine init cp-root` children.
func copyHelpers(t *testing.T, daemonPid int) []int {
	t.Helper()
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		var pid int
		if _, err := fmt.Sscanf(e.Name(), "%d", &pid); err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if bytes.HasPrefix(cmdline, []byte("engine\x00init\x00cp")) && strings.Contains(string(status), fmt.Sprintf("\nPPid:\t%d\n", daemonPid)) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// A client killed in the middle of a copy, either way, leaves no helper behind.
func TestE2ECopyClientKilled(t *testing.T) {
	startCpContainer(t, "cpkilled", "dd if=/dev/zero of=/big bs=1M count=64 2>/dev/null")
	for _, args := range [][]string{{"cp", "cpkilled:/big", "-"}, {"cp", "-", "cpkilled:/tmp"}} {
		cmd := exec.Command(engineBin, append([]string{"-r", shared.root, "-H", shared.addr}, args...)...)
		stalled, feed, err := os.Pipe() // never read (the tar out), or fed with half a tar (in)
		if err != nil {
			t.Fatal(err)
		}
		if args[1] == "-" {
			cmd.Stdin = stalled
			feed.Write(tarball(t, map[string]string{"half": strings.Repeat("x", 4096)})[:1024])
		} else {
			cmd.Stdout = feed
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		if _, ok := waitUntil(10*time.Second, func() bool { return len(copyHelpers(t, shared.cmd.Process.Pid)) > 0 }); !ok {
			t.Errorf("%v: no helper showed up", args)
		}
		cmd.Process.Signal(syscall.SIGKILL)
		cmd.Wait()
		closeAll(stalled, feed)
		if _, ok := waitUntil(10*time.Second, func() bool { return len(copyHelpers(t, shared.cmd.Process.Pid)) == 0 }); !ok {
			t.Errorf("%v: helpers left after the client was killed: %v", args, copyHelpers(t, shared.cmd.Process.Pid))
		}
	}
}

// A tree of 50,000 entries goes in and out, and the daemon's memory stays bounded: it relays the
// stream, it does not hold it.
func TestE2ECopyManyEntries(t *testing.T) {
	d, err := startDaemon(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	// On tmpfs, the host's side costs little: the time goes to the container's 50,000 files.
	host, err := os.MkdirTemp("/dev/shm", "engine-cp-test-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(host)
	// 2 KiB each: a tar of some 150 MB, which a daemon that held it would not hold in 60.
	const dirs, files = 50, 1000
	content := bytes.Repeat([]byte("x"), 2048)
	for i := 0; i < dirs; i++ {
		sub := filepath.Join(host, "tree", fmt.Sprintf("d%02d", i))
		if err := os.MkdirAll(sub, 0755); err != nil {
			t.Fatal(err)
		}
		for j := 0; j < files; j++ {
			if err := os.WriteFile(filepath.Join(sub, fmt.Sprintf("f%04d", j)), content, 0644); err != nil {
				t.Fatal(err)
			}
		}
	}
	if _, stderr, code := d.run("", "create", "--name", "many", "base", "true"); code != 0 {
		t.Fatal(stderr)
	}
	if _, stderr, code := d.run("", "cp", host+"/tree", "many:/"); code != 0 {
		t.Fatalf("cp in: %s", stderr)
	}
	if _, stderr, code := d.run("", "cp", "many:/tree", host+"/back"); code != 0 {
		t.Fatalf("cp out: %s", stderr)
	}
	count := 0
	filepath.WalkDir(host+"/back", func(string, os.DirEntry, error) error { count++; return nil })
	if count != 1+dirs+dirs*files {
		t.Errorf("copied back %d entries, want %d", count, 1+dirs+dirs*files)
	}
	if hwm := statusField(t, d.cmd.Process.Pid, "VmHWM"); hwm > 60*1024 {
		t.Errorf("the daemon's peak RSS is %d kB, want < 60 MB", hwm)
	} else {
		t.Logf("the daemon's peak RSS: %d kB", hwm)
	}
}

// A copy reads and writes a container's -v binds and volumes, as the container sees them: running, and
// stopped (the helper mounts them for the copy); a read-only one stays read-only.
func TestE2ECopyVolumes(t *testing.T) {
	bind, readonly, host := t.TempDir(), t.TempDir(), t.TempDir()
	writeHostFiles(t, bind, map[string]string{"there": "on the host\n"})
	writeHostFiles(t, host, map[string]string{"x": "copied\n"})
	engine(t, "create", "--name", "cpvol", "-v", bind+":/bind", "-v", readonly+":/ro:ro", "-v", "cpvolume:/vol", "base", "true")
	defer shared.run("", "volume", "rm", "cpvolume")
	defer shared.run("", "rm", "-f", "cpvol")
	engine(t, "start", "-a", "cpvol") // seeds the volume, and stops
	for round, state := range []string{"stopped", "running"} {
		if state == "running" {
			engine(t, "rm", "cpvol")
			engine(t, "run", "-d", "--name", "cpvol", "-v", bind+":/bind", "-v", readonly+":/ro:ro", "-v", "cpvolume:/vol", "base", "sleep", "1000")
		}
		name := fmt.Sprintf("x%d", round)
		engine(t, "cp", host+"/x", "cpvol:/bind/"+name)
		engine(t, "cp", host+"/x", "cpvol:/vol/"+name)
		engine(t, "cp", "cpvol:/bind/there", host+"/there")
		if got := readHostFile(t, filepath.Join(bind, name)); got != "copied\n" {
			t.Errorf("%s: the bind's source has %q", state, got)
		}
		if got := readHostFile(t, host+"/there"); got != "on the host\n" {
			t.Errorf("%s: copied out of the bind: %q", state, got)
		}
		if got := engine(t, "run", "--rm", "-v", "cpvolume:/v", "base", "cat", "/v/"+name); got != "copied\n" {
			t.Errorf("%s: the volume has %q", state, got)
		}
		engineFails(t, 1, "read-only file system", "cp", host+"/x", "cpvol:/ro/")
	}
	if entries, _ := os.ReadDir(readonly); len(entries) != 0 {
		t.Errorf("the read-only bind's source got %d files", len(entries))
	}
}
