// archive_whiteout.go: OCI whiteouts, turned into the overlayfs ones a lowerdir holds.
//
// A layer deletes what the layers below it hold with whiteouts (image-spec layer.md): an empty file
// ".wh.NAME" deletes NAME, and ".wh..wh..opq" in a directory hides everything the layers below put in
// it. A whiteout applies only to the layers below: this layer's own entries stay, whether they come
// before or after it in the tar. Unpack (archive.go) hands every ".wh." entry to whiteout here, and
// calls makeOpaque when a directory of this layer takes the place of a whited-out name, so that the
// layer reads the same whatever order its entries come in. An opaque mark on the layer's root is the
// one overlayfs ignores: Graph.LayerPaths heeds it (hidesLowerLayers).
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// whiteout turns one whiteout into the form overlayfs reads in a lowerdir. ".wh.NAME" becomes a 0:0
// character device NAME, which overlayfs shows as "no such file"; ".wh..wh..opq" becomes the xattr
// trusted.overlay.opaque=y on its directory, which hides the lower layers' entries there but not the
// directory's own. The .wh. file itself is never written.
func (u *unpacker) whiteout(name string) error {
	const prefix, meta, opaque = ".wh.", ".wh..wh.", ".wh..wh..opq"
	// This also creates name's directory, which an opaque marker may imply.
	if err := u.checkParents(name, true); err != nil {
		return err
	}
	dir, base := path.Split(name)
	if base == opaque {
		return u.makeOpaque(dir)
	}
	if strings.HasPrefix(base, meta) {
		return nil // other ".wh..wh." names are aufs bookkeeping, meaningless here
	}
	hidden := strings.TrimPrefix(base, prefix)
	if hidden == "" || hidden == "." || hidden == ".." {
		return fmt.Errorf("invalid whiteout name %q", base)
	}
	target := path.Join(dir, hidden)
	u.whiteouts[target] = true // a directory made here later replaces the lower one (makeDir)
	fi, err := os.Lstat(u.path(target))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return unix.Mknod(u.path(target), unix.S_IFCHR, 0)
	case err != nil:
		return err
	case fi.IsDir():
		// This layer's directory replaces the one below instead of merging with it.
		return u.makeOpaque(target)
	}
	return nil // this layer's file already hides the lower one
}

// hidesLowerLayers tells whether a layer's root is opaque (".wh..wh..opq" at the top of its tar).
// overlayfs heeds the mark on a directory of a lowerdir but not on its root, so Graph.LayerPaths leaves
// the layers below such a one out of the mount instead.
func hidesLowerLayers(layer string) bool {
	value := make([]byte, 1)
	n, err := unix.Lgetxattr(layer, "trusted.overlay.opaque", value)
	return err == nil && n == 1 && value[0] == 'y'
}

// makeOpaque marks a directory of the layer so that overlayfs shows none of the lower layers' entries
// in it.
func (u *unpacker) makeOpaque(dir string) error {
	return unix.Lsetxattr(u.path(dir), "trusted.overlay.opaque", []byte("y"), 0)
}
