package main

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestUnpackWhiteouts(t *testing.T) {
	dir, _ := archSetup(t)
	data := archTar(t,
		archDir("d/", 0o755),
		archFile("d/.wh.gone", "", 0o644),
		archFile("e/.wh..wh..opq", "", 0o644), // implicit dir e
		archFile("kept", "mine", 0o644),
		archFile(".wh.kept", "", 0o644), // only hides lower layers
		archFile(".wh.later", "", 0o644),
		archFile("later", "replaces the whiteout", 0o644),
		archFile("f/.wh..wh.plnk", "", 0o644), // aufs bookkeeping: skipped
	)
	if _, err := Unpack(bytes.NewReader(data), dir); err != nil {
		t.Fatal(err)
	}
	if st := archStat(t, filepath.Join(dir, "d/gone")); st.Mode != unix.S_IFCHR || st.Rdev != 0 {
		t.Errorf("d/gone: mode %o rdev %d, want a 0:0 char device", st.Mode, st.Rdev)
	}
	for _, name := range []string{"d/.wh.gone", "e/.wh..wh..opq", ".wh.kept", "f/.wh..wh.plnk"} {
		if _, err := os.Lstat(filepath.Join(dir, name)); err == nil {
			t.Errorf("%s was written", name)
		}
	}
	buf := make([]byte, 8)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "e"), "trusted.overlay.opaque", buf); err != nil || string(buf[:n]) != "y" {
		t.Errorf("e: trusted.overlay.opaque = %q, %v", buf[:n], err)
	}
	for name, want := range map[string]string{"kept": "mine", "later": "replaces the whiteout"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
}

// TestUnpackWhiteoutsOverlay unpacks two layers and mounts them as the engine does, with overlayfs: what
// the container sees is what the OCI spec says, whatever the order of the upper layer's entries.
func TestUnpackWhiteoutsOverlay(t *testing.T) {
	lower := archTar(t,
		archFile("keep/a", "a", 0o644),
		archFile("opaque-first/old", "", 0o644),
		archFile("opaque-last/old", "", 0o644),
		archFile("gone", "", 0o644),
		archFile("gone-dir/old", "", 0o644),
		archFile("redo-implied/old", "", 0o644),
		archFile("redo-dir-first/old", "", 0o644),
		archFile("redo-whiteout-first/old", "", 0o644),
		archFile("redo-file", "old", 0o644),
		archFile("file-becomes-dir", "old", 0o644),
	)
	upper := archTar(t,
		archFile("opaque-first/.wh..wh..opq", "", 0o644), // the marker before this layer's entries
		archFile("opaque-first/mine", "", 0o644),
		archFile("opaque-last/mine", "", 0o644), // and after them
		archFile("opaque-last/.wh..wh..opq", "", 0o644),
		archFile(".wh.gone", "", 0o644),
		archFile(".wh.gone-dir", "", 0o644),
		archFile(".wh.redo-implied", "", 0o644), // then a directory this layer only implies
		archFile("redo-implied/new", "", 0o644),
		archDir("redo-dir-first/", 0o755), // this layer's directory, then the whiteout of the lower one
		archFile("redo-dir-first/new", "", 0o644),
		archFile(".wh.redo-dir-first", "", 0o644),
		archFile(".wh.redo-whiteout-first", "", 0o644),
		archDir("redo-whiteout-first/", 0o755),
		archFile("redo-whiteout-first/new", "", 0o644),
		archFile(".wh.redo-file", "", 0o644),
		archFile("redo-file", "new", 0o644),
		archFile(".wh.file-becomes-dir", "", 0o644),
		archFile("file-becomes-dir/new", "", 0o644),
	)
	merged := mountLayers(t, lower, upper)
	want := []string{
		"file-becomes-dir", "file-becomes-dir/new", "keep", "keep/a", "opaque-first", "opaque-first/mine",
		"opaque-last", "opaque-last/mine", "redo-dir-first", "redo-dir-first/new", "redo-file",
		"redo-implied", "redo-implied/new", "redo-whiteout-first", "redo-whiteout-first/new",
	}
	if got := treeNames(t, merged); strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("the container sees:\n%v\nwant:\n%v", got, want)
	}
	if b, err := os.ReadFile(filepath.Join(merged, "redo-file")); err != nil || string(b) != "new" {
		t.Errorf("redo-file = %q, %v", b, err)
	}
}

// mountLayers unpacks each layer (the lowest first) and mounts them read-only with overlayfs, as a
// container's image is mounted; it returns the mount point.
func mountLayers(t *testing.T, layers ...[]byte) string {
	t.Helper()
	var lowerdirs []string
	for _, data := range layers {
		dir, _ := archSetup(t)
		if _, err := Unpack(bytes.NewReader(data), dir); err != nil {
			t.Fatal(err)
		}
		lowerdirs = append([]string{dir}, lowerdirs...) // overlayfs wants the top layer first
	}
	merged := t.TempDir()
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(lowerdirs, ":")); err != nil {
		t.Fatalf("mounting the layers: %v", err)
	}
	t.Cleanup(func() { unix.Unmount(merged, unix.MNT_DETACH) })
	return merged
}

// treeNames lists every path under root, sorted.
func treeNames(t *testing.T, root string) []string {
	t.Helper()
	var names []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root {
			rel, _ := filepath.Rel(root, p)
			names = append(names, rel)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// TestWhiteoutOpaqueRoot stacks a layer whose root is opaque on one with a file: overlayfs ignores the
// mark on a lowerdir's root, so the graph leaves the layer below out of the image's mount.
func TestWhiteoutOpaqueRoot(t *testing.T) {
	g := graphNew(t)
	base, err := g.add(g.Create(LayerStream(bytes.NewReader(archTar(t, archFile("old", "", 0o644)))), "", ImageMeta{}))
	if err != nil {
		t.Fatal(err)
	}
	top, err := g.add(g.Create(LayerStream(bytes.NewReader(archTar(t, archFile("new", "", 0o644), archFile("./.wh..wh..opq", "", 0o644)))), base.ID, ImageMeta{}))
	if err != nil {
		t.Fatal(err)
	}
	paths, err := g.LayerPaths(top.ID)
	if err != nil {
		t.Fatal(err)
	}
	merged := t.TempDir()
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_RDONLY, "lowerdir="+strings.Join(append(paths, t.TempDir()), ":")); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(merged, unix.MNT_DETACH)
	if got := treeNames(t, merged); strings.Join(got, " ") != "new" {
		t.Errorf("the image shows %v, want only new", got)
	}
}
