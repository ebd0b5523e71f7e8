// e2e_users_test.go: a container's own files that the daemon and init touch (its passwd, group and the
// /etc files mounted over), made hostile by an image or by the running container, and `-u` numbers,
// driven through the real binary (the daemon and helpers are in e2e_test.go).
package main

import (
	"archive/tar"
	"bytes"
	"context"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// runWithin runs one client command on the shared daemon and fails the test if it has not finished in
// a generous minute: these are the commands that used to block for ever.
func runWithin(t *testing.T, args ...string) (string, string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, engineBin, append([]string{"-r", shared.root, "-H", shared.addr}, args...)...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("engine %s still blocked after a minute", strings.Join(args, " "))
	}
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return stdout.String(), stderr.String(), code
}

// failsWithin is engineFails with runWithin's deadline.
func failsWithin(t *testing.T, status int, want string, args ...string) {
	t.Helper()
	_, stderr, code := runWithin(t, args...)
	if code != status || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("engine %s: got exit %d, stderr %q; want exit %d and one line with %q", strings.Join(args, " "), code, stderr, status, want)
	}
}

// A running container replaces its group or its passwd file with a FIFO: the daemon's user lookup for
// `exec -u nobody` refuses it at once instead of blocking in open(2), and `ps` still answers.
func TestE2EUserFilesAreNeverFIFOs(t *testing.T) {
	for _, file := range []string{"/etc/group", "/etc/passwd"} {
		engine(t, "run", "-d", "--name", "fifousers", "base", "sleep", "1000")
		engine(t, "exec", "fifousers", "sh", "-c", "rm "+file+" && mkfifo "+file)
		failsWithin(t, 125, file+": not a regular file", "exec", "-u", "nobody", "fifousers", "id")
		if out, _, code := runWithin(t, "ps"); code != 0 || !strings.Contains(out, "fifousers") {
			t.Errorf("ps: exit %d, %q", code, out)
		}
		engine(t, "rm", "-f", "fifousers")
	}

	// The same from an image: a FIFO at /etc/passwd in the tarball (import accepts FIFOs).
	fifoImage(t, "fifopasswd", "etc/passwd")
	failsWithin(t, 125, "/etc/passwd: not a regular file", "run", "--rm", "-u", "nobody", "fifopasswd", "true")
}

// fifoImage imports an image of a static busybox with FIFOs at the given paths.
func fifoImage(t *testing.T, name string, fifos ...string) {
	t.Helper()
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "bin/", Mode: 0755, Typeflag: tar.TypeDir})
	tw.WriteHeader(&tar.Header{Name: "bin/busybox", Mode: 0755, Size: int64(len(busybox)), Typeflag: tar.TypeReg})
	tw.Write(busybox)
	tw.WriteHeader(&tar.Header{Name: "etc/", Mode: 0755, Typeflag: tar.TypeDir})
	for _, fifo := range fifos {
		tw.WriteHeader(&tar.Header{Name: fifo, Mode: 0644, Typeflag: tar.TypeFifo})
	}
	tw.Close()
	if _, stderr, code := shared.run(layer.String(), "import", "-", name); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	t.Cleanup(func() { shared.run("", "rmi", name) })
}

// An image has FIFOs at /etc/hostname, /etc/hosts and /etc/resolv.conf: init mounts the engine's files
// over them without opening them, so neither run nor restart blocks init, nor the daemon waiting on it.
func TestE2EMountPointFIFOsDoNotBlockStart(t *testing.T) {
	fifoImage(t, "fifoetc", "etc/hostname", "etc/hosts", "etc/resolv.conf")
	out, stderr, code := runWithin(t, "run", "--rm", "-h", "fifobox", "fifoetc", "/bin/busybox", "cat", "/etc/hostname")
	if code != 0 || strings.TrimSpace(out) != "fifobox" {
		t.Errorf("run: exit %d, %q, %s", code, out, stderr)
	}
	engine(t, "run", "-d", "--name", "fifoetc", "fifoetc", "/bin/busybox", "sleep", "1000")
	defer engine(t, "rm", "-f", "fifoetc")
	if _, stderr, code := runWithin(t, "restart", "-t", "0", "fifoetc"); code != 0 {
		t.Fatalf("restart: exit %d: %s", code, stderr)
	}
	if out, stderr, code := runWithin(t, "exec", "fifoetc", "/bin/busybox", "cat", "/etc/hosts"); code != 0 || !strings.Contains(out, "localhost") {
		t.Errorf("after restart: exit %d, %q, %s", code, out, stderr)
	}
	if out, _, code := runWithin(t, "ps"); code != 0 || !strings.Contains(out, "fifoetc") {
		t.Errorf("ps: exit %d, %q", code, out)
	}
}

// `-u` takes uids and gids from 0 to 2^31-1 as runc does: 4294967295 is (uid_t)-1, "leave unchanged" to
// setresuid(2), and ran the command as root. A passwd entry with a malformed uid is refused too.
func TestE2EUserNumbers(t *testing.T) {
	for _, user := range []string{"4294967295", "4294967296", "2147483648", "-1", "0:4294967295", "nobody:-2", " 0"} {
		failsWithin(t, 125, "uids and gids must be in range 0-2147483647", "run", "--rm", "--user="+user, "base", "id")
	}
	failsWithin(t, 125, `invalid user "nobody:"`, "run", "--rm", "-u", "nobody:", "base", "id")
	if out := engine(t, "run", "--rm", "-u", "2147483647:2147483647", "base", "id"); !strings.Contains(out, "uid=2147483647 gid=2147483647") {
		t.Errorf("id as 2147483647: %q", out)
	}

	engine(t, "run", "-d", "--name", "badpasswd", "base", "sleep", "1000")
	defer engine(t, "rm", "-f", "badpasswd")
	failsWithin(t, 125, "uids and gids must be in range 0-2147483647", "exec", "-u", "4294967295", "badpasswd", "id")
	engine(t, "exec", "badpasswd", "sh", "-c", "echo 'old:x:-2:-2:old nobody:/:/bin/sh' >> /etc/passwd && echo 'wrap:x:4294967296:0::/:/bin/sh' >> /etc/passwd")
	failsWithin(t, 125, `/etc/passwd: user old has uid "-2": uids and gids must be in range 0-2147483647`, "exec", "-u", "old", "badpasswd", "id")
	failsWithin(t, 125, `/etc/passwd: user wrap has uid "4294967296"`, "exec", "-u", "wrap", "badpasswd", "id")
	if out := engine(t, "exec", "-u", "nobody", "badpasswd", "id", "-u"); strings.TrimSpace(out) != "65534" {
		t.Errorf("id -u as nobody: %q", out)
	}
}
