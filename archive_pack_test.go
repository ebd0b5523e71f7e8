// archive_pack_test.go covers archive_pack.go: what Pack writes is what Unpack reads back, whiteouts
// included, and special files come out as headers without being opened.
package main

import (
	"archive/tar"
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A layer packed and unpacked again is the same tree, entry for entry: modes, owners, times (to the
// second), hard links, symlinks, FIFOs, xattrs, whiteout devices and opaque directories.
func TestPackLayerRoundTrip(t *testing.T) {
	dir, _ := archSetup(t)
	owned := archFile("d/owned", "x", 0o4750)
	owned.hdr.Uid, owned.hdr.Gid = 1000, 2000
	tagged := archFile("tagged", "t", 0o644)
	tagged.hdr.PAXRecords = map[string]string{"SCHILY.xattr.user.note": "hello"}
	layer := archTar(t,
		archDir("d/", 0o711),
		owned,
		archHardlink("d/again", "d/owned"),
		archSymlink("link", "/etc/passwd"),
		archOther(tar.TypeFifo, "fifo"),
		archFile("d/.wh.gone", "", 0o644),
		archFile("opaque/.wh..wh..opq", "", 0o644),
		archFile("opaque/kept", "k", 0o644),
		tagged,
	)
	if _, err := Unpack(bytes.NewReader(layer), dir); err != nil {
		t.Fatal(err)
	}
	var packed bytes.Buffer
	if err := Pack(&packed, dir, "", PackLayer); err != nil {
		t.Fatal(err)
	}
	again := filepath.Join(t.TempDir(), "again")
	if err := os.Mkdir(again, 0o755); err != nil {
		t.Fatal(err)
	}
	diffID, err := Unpack(bytes.NewReader(packed.Bytes()), again)
	if err != nil {
		t.Fatalf("unpacking what Pack wrote: %v", err)
	}
	if before, after := archSnapshot(t, dir), archSnapshot(t, again); dropFirstLine(before) != dropFirstLine(after) {
		t.Errorf("the tree changed in a round trip:\nbefore:\n%s\nafter:\n%s", before, after)
	}
	var second bytes.Buffer
	if err := Pack(&second, again, "", PackLayer); err != nil {
		t.Fatal(err)
	}
	if archDigest(second.Bytes()) != diffID {
		t.Error("packing the same tree twice gave two different streams")
	}
}

func dropFirstLine(s string) string { // the root's own line: made by the test, not by the archive
	_, rest, _ := strings.Cut(s, "\n")
	return rest
}

// With PackFiles, a FIFO and devices come out as headers of their type (opening the FIFO would block:
// the test would hang), a whiteout device stays a device, a symlink stays a link, and names start with
// the given prefix.
func TestPackFilesSpecialFiles(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mkfifo(filepath.Join(dir, "fifo"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(dir, "null"), unix.S_IFCHR|0o666, int(unix.Mkdev(1, 3))); err != nil {
		t.Fatal(err)
	}
	if err := unix.Mknod(filepath.Join(dir, "whiteout"), unix.S_IFCHR, 0); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/", filepath.Join(dir, "root")); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	var packed bytes.Buffer
	go func() { done <- Pack(&packed, dir, "out", PackFiles) }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Pack blocked on a special file")
	}
	want := map[string]string{"out/": "dir", "out/fifo": "fifo", "out/null": "char 1:3", "out/root": "symlink /", "out/whiteout": "char 0:0"}
	got := map[string]string{}
	tr := tar.NewReader(&packed)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got[hdr.Name] = map[byte]string{tar.TypeDir: "dir", tar.TypeFifo: "fifo", tar.TypeSymlink: "symlink " + hdr.Linkname,
			tar.TypeChar: "char " + itoa(hdr.Devmajor) + ":" + itoa(hdr.Devminor)}[hdr.Typeflag]
	}
	for name, kind := range want {
		if got[name] != kind {
			t.Errorf("%s: %q, want %q (all: %v)", name, got[name], kind, got)
		}
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
