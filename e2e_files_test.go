package main

// End-to-end tests of the engine's own files: ROOT is closed to other local users (runtime.go's
// makePrivateRoot, the 0600 records, logs and token), the files bind-mounted into a container stay
// readable by the container's own users, and the daemon keeps one identity (ROOT/engine-id).

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// asNobody runs a host command as the unprivileged user nobody, with no groups.
func asNobody(args ...string) ([]byte, error) {
	cmd := exec.Command("setpriv", append([]string{"--reuid=65534", "--regid=65534", "--clear-groups", "--"}, args...)...)
	return cmd.CombinedOutput()
}

func fileMode(t *testing.T, path string) os.FileMode {
	t.Helper()
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return info.Mode().Perm()
}

func TestE2EFilesArePrivate(t *testing.T) {
	id := strings.TrimSpace(engine(t, "run", "-d", "base", "sh", "-c", "echo secret; sleep 100"))
	defer engine(t, "rm", "-f", id)
	dir := filepath.Join(shared.root, "containers", id)
	for path, want := range map[string]os.FileMode{
		shared.root: 0700,
		filepath.Join(shared.root, "engine.token"): 0600,
		filepath.Join(dir, "config.json"):          0600,
		filepath.Join(dir, "container.log"):        0600,
	} {
		if got := fileMode(t, path); got != want {
			t.Errorf("%s: mode %o, want %o", path, got, want)
		}
	}
	// A local user who is not root can neither look in nor drive the daemon.
	for _, args := range [][]string{
		{"ls", filepath.Join(shared.root, "containers")},
		{"cat", filepath.Join(dir, "container.log")},
		{engineBin, "-r", shared.root, "-H", shared.addr, "ps"},
	} {
		if out, err := asNobody(args...); err == nil {
			t.Errorf("as nobody, %v succeeded: %s", args, out)
		}
	}
	// Inside, the generated /etc files are the container's users' to read: names still resolve.
	out := engine(t, "run", "--rm", "-u", "nobody", "-h", "box", "base", "sh", "-c", "cat /etc/hosts /etc/hostname /etc/resolv.conf >/dev/null && hostname -i")
	if strings.TrimSpace(out) == "" || strings.Contains(out, "127.0.0.1") {
		t.Errorf("-u nobody: hostname -i printed %q, want the container's address", out)
	}
}

// A root made with looser bits (by an older engine, or by hand) is closed at daemon start, and the
// daemon's identity is made once and kept across restarts.
func TestE2ERootTightenedAndEngineID(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	if err := os.MkdirAll(root, 0755); err != nil {
		t.Fatal(err)
	}
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	if got := fileMode(t, root); got != 0700 {
		t.Errorf("root: mode %o after daemon start, want 700", got)
	}
	info, _, code := d.run("", "info")
	match := regexp.MustCompile(`(?m)^ID: ([0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12})$`).FindStringSubmatch(info)
	if code != 0 || match == nil {
		d.stop()
		t.Fatalf("info: exit %d, no random UUID as ID:\n%s", code, info)
	}
	stored, _ := os.ReadFile(filepath.Join(root, "engine-id"))
	if strings.TrimSpace(string(stored)) != match[1] {
		t.Errorf("engine-id holds %q, info says %q", stored, match[1])
	}
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if d, err = startDaemon(root); err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	if again, _, _ := d.run("", "info"); !strings.Contains(again, "ID: "+match[1]+"\n") {
		t.Errorf("after a restart the ID changed:\n%s", again)
	}
}
