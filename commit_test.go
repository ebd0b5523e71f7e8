// commit_test.go covers commit.go's Container.Changes: docker diff's rules, read from an rw dir laid out
// by hand as overlayfs lays it out, over image layers with whiteouts of their own.
package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// layerTarball is a layer of directories (names ending in "/"), symlinks ("name->target") and files,
// all with the time when.
func layerTarball(t *testing.T, when time.Time, names ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, name := range names {
		hdr := &tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0644, ModTime: when}
		if name[len(name)-1] == '/' {
			hdr.Typeflag, hdr.Mode = tar.TypeDir, 0755
		}
		if link, target, ok := strings.Cut(name, "->"); ok {
			hdr.Name, hdr.Typeflag, hdr.Linkname, hdr.Mode = link, tar.TypeSymlink, target, 0777
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	return buf.Bytes()
}

func TestContainerChanges(t *testing.T) {
	r := rtNew(t, t.TempDir())
	long := time.Unix(1_500_000_000, 0)
	parent, err := r.graph.add(r.graph.Create(LayerStream(bytes.NewReader(layerTarball(t, long,
		"etc/", "etc/passwd", "etc/motd", "gone", "home/", "var/", "var/www/", "var/www/index", "var2/", "var2/old", "sym->/"))), "", ImageMeta{}))
	if err != nil {
		t.Fatal(err)
	}
	// The image on top deletes /gone and empties /var2: a container that makes them again adds them.
	image, err := r.graph.add(r.graph.Create(LayerStream(bytes.NewReader(layerTarball(t, long, ".wh.gone", "var2/", "var2/.wh..wh..opq"))), parent.ID, ImageMeta{}))
	if err != nil {
		t.Fatal(err)
	}
	r.tags.Set("layered", image.ID)
	c := rtCreate(t, r, "layered", "")
	if changes, err := c.Changes(); err != nil || len(changes) != 0 {
		t.Errorf("a container never started: %v, %v; want no changes", changes, err)
	}

	rw := filepath.Join(c.root, "rw")
	// /sym/etc: the image's /sym is a symlink to the host's "/", which must not make the host's /etc
	// look like the image's.
	mkdirs(t, rw, "etc", "home", "sym", "tmp", "var", "var2")
	writeFiles(t, rw, "etc/passwd", "gone", "home/n", "sym/etc", "tmp/x", "var/new", "var/www", "var2/old")
	if err := unix.Mknod(filepath.Join(rw, "etc/motd"), unix.S_IFCHR, 0); err != nil { // overlayfs's whiteout
		t.Fatal(err)
	}
	if err := unix.Setxattr(filepath.Join(rw, "var"), "trusted.overlay.opaque", []byte("y"), 0); err != nil {
		t.Fatal(err)
	}
	// /home was copied up as it was, only to hold the new /home/n: same mode, same time.
	os.Chmod(filepath.Join(rw, "home"), 0755)
	os.Chtimes(filepath.Join(rw, "home"), long, long)

	changes, err := c.Changes()
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, change := range changes {
		got = append(got, change.String())
	}
	want := []string{
		"C /etc", "D /etc/motd", "C /etc/passwd",
		"A /gone", // the image deleted it
		"C /home", "A /home/n",
		"C /sym", "A /sym/etc", // the image's /sym is a symlink: nothing is below it
		"A /tmp", "A /tmp/x",
		"C /var", "A /var/new", "A /var/www", // opaque: all it holds is new
		"C /var2", "A /var2/old", // the image's own opaque /var2 hides the parent's old
	}
	if !slices.Equal(got, want) {
		t.Errorf("Changes:\n got %q\nwant %q", got, want)
	}
}

func mkdirs(t *testing.T, root string, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		if err := os.MkdirAll(filepath.Join(root, dir), 0755); err != nil {
			t.Fatal(err)
		}
	}
}

func writeFiles(t *testing.T, root string, files ...string) {
	t.Helper()
	for _, file := range files {
		if err := os.WriteFile(filepath.Join(root, file), []byte(file), 0644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestPackInRoot: the tree is packed from inside dir, where an absolute symlink stays a symlink and
// "/" is dir; the daemon's own threads keep the host's root.
func TestPackInRoot(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, "x")
	os.Symlink("/", filepath.Join(dir, "up"))
	for range 200 { // more than the threads the runtime keeps around, and likely once on the main one
		var stream bytes.Buffer
		if err := packInRoot(&stream, dir, PackFiles); err != nil {
			t.Fatal(err)
		}
		var names []string
		tr := tar.NewReader(&stream)
		for hdr, err := tr.Next(); err == nil; hdr, err = tr.Next() {
			names = append(names, hdr.Name)
		}
		if !slices.Equal(names, []string{"up", "x"}) {
			t.Fatalf("packInRoot: entries %q, want up and x", names)
		}
	}
	if _, err := os.Stat(dir); err != nil {
		t.Errorf("after packInRoot, this thread no longer sees %s: %v", dir, err)
	}
	// The process's root, which /proc/self shows (mountinfo is read through it), is still the host's.
	if root, err := os.Readlink("/proc/self/root"); err != nil || root != "/" {
		t.Errorf("after packInRoot, /proc/self/root is %q (%v)", root, err)
	}
}
