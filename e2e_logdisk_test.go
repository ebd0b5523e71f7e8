// e2e_logdisk_test.go: a container whose output fills the disk its log is on.
package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// A container that writes more than the disk holds is not blocked: the keeper drops what the log cannot
// take and counts it, inspect shows the count, and the daemon goes on serving. (Before the keeper, pid 1
// wrote the log file itself and would have got ENOSPC on its own stdout.)
func TestE2ELogOnAFullDisk(t *testing.T) {
	disk := t.TempDir()
	if err := syscall.Mount("tmpfs", disk, "tmpfs", 0, "size=24m,mode=0700"); err != nil {
		t.Fatal(err)
	}
	defer syscall.Unmount(disk, syscall.MNT_DETACH)
	d, err := startDaemon(filepath.Join(disk, "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	// 64 MiB of output, on a disk of 24 MiB that already holds the image: most of it cannot be kept.
	_, stderr, code := d.run("", "run", "-d", "--name", "filler", "base", "sh", "-c", "head -c 64m /dev/zero; echo the end")
	if code != 0 {
		t.Fatalf("run: exit %d: %s", code, stderr)
	}
	if out, stderr, code := d.run("", "wait", "filler"); code != 0 || out != "0\n" {
		t.Fatalf("wait: %q, exit %d: %s (the container must end though its log is full)", out, code, stderr)
	}
	out, stderr, code := d.run("", "inspect", "filler")
	if code != 0 {
		t.Fatalf("inspect: exit %d: %s", code, stderr)
	}
	var record struct {
		LogDropped int64
		State      struct{ Status string }
	}
	if err := json.Unmarshal([]byte(out), &record); err != nil {
		t.Fatalf("inspect: %v: %s", err, out)
	}
	t.Logf("dropped %d", record.LogDropped)
	if record.State.Status != "exited" || record.LogDropped < 40<<20 {
		t.Errorf("status %q, %d bytes dropped: want exited and at least 40 MiB dropped", record.State.Status, record.LogDropped)
	}
	if _, stderr, code := d.run("", "ps", "-a"); code != 0 {
		t.Errorf("ps after a full disk: exit %d: %s", code, stderr)
	}
	// Room again: the record and the log are whole, and a new container runs and logs.
	if _, stderr, code := d.run("", "rm", "filler"); code != 0 {
		t.Fatalf("rm: exit %d: %s", code, stderr)
	}
	if out, stderr, code := d.run("", "run", "--rm", "base", "echo", "room again"); code != 0 || strings.TrimSpace(out) != "room again" {
		t.Errorf("run after the disk was freed: %q, exit %d: %s", out, code, stderr)
	}
}
