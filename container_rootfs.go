// container_rootfs.go: the container's root filesystem, as the daemon assembles it.
//
// Container.Start (container.go) calls ensureMounted first: overlayfs stacks, from the top, the
// container's rw dir (the upperdir, which takes every write), its init layer (the mount points the
// engine needs, made here once) and the image's layers (graph.go), at bundle/rootfs. init (init.go,
// rootfs.go) then mounts /proc, /dev and the /etc files over it inside the container's own mount
// namespace and pivots into it. The monitor (container_stop.go) unmounts it when the run ends, unless an
// export still reads it (commit.go), which mounts the root of a stopped container too.
package main

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/sys/unix"
)

// ensureMounted assembles the root filesystem: overlayfs with the container's init layer and the image's
// layers as read-only lowerdirs (top layer first) and the container's own rw dir as the upperdir that
// takes every write.
func (c *Container) ensureMounted() (string, error) {
	rootfs := c.rootfs()
	if isMountPoint(rootfs) {
		return rootfs, nil
	}
	// The merged root takes its owner and mode from the upper dir: 0755, or only root could use "/".
	// The container's directory itself stays 0700, so host users cannot reach it.
	for _, dir := range []string{"rw", "work", "bundle/rootfs"} {
		if err := os.MkdirAll(filepath.Join(c.root, dir), 0755); err != nil {
			return "", err
		}
	}
	layers, err := c.runtime.graph.LayerPaths(c.Image)
	if err != nil {
		return "", err
	}
	init, err := c.initLayer(layers)
	if err != nil {
		return "", fmt.Errorf("the init layer: %w", err)
	}
	layers = append([]string{init}, layers...)
	// redirect_dir and metacopy off, whatever the kernel's defaults: with them, a renamed directory or a
	// chmod-ed file would be only a pointer into the layers below in the rw dir, and the rw dir must
	// hold the container's changes whole, to be a layer of its own (commit.go), as Docker's overlay2
	// makes sure of too.
	options := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s,redirect_dir=off,metacopy=off",
		strings.Join(layers, ":"), filepath.Join(c.root, "rw"), filepath.Join(c.root, "work"))
	if err := unix.Mount("overlay", rootfs, "overlay", 0, options); err != nil {
		return "", fmt.Errorf("mounting the root filesystem: %w", err)
	}
	return rootfs, nil
}

// initMountPoints are what init mounts over at the top of the root (spec.go's defaultMounts and
// etcMounts), directories and files.
var initMountPoints = map[string]bool{"/proc": true, "/sys": true, "/dev": true, "/etc": true, "/etc/hosts": false, "/etc/hostname": false, "/etc/resolv.conf": false}

// initLayer makes the container's init layer, ROOT/containers/<id>/init, as Docker makes its "-init"
// layer: the mount points the engine needs, so that init finds them and never creates them in the rw
// dir, where diff and commit would take them for the container's own changes. A directory the image
// has keeps the image's owner, mode and time here, since the init layer's copy is the one the merged
// root shows.
func (c *Container) initLayer(image []string) (string, error) {
	dir := filepath.Join(c.root, "init")
	if _, err := os.Stat(dir); err == nil {
		return dir, nil
	}
	tmp := filepath.Join(c.root, ".init")
	os.RemoveAll(tmp) // a daemon stopped half-way
	paths := slices.Sorted(maps.Keys(initMountPoints))
	for _, path := range paths {
		host := filepath.Join(tmp, path)
		var err error
		if initMountPoints[path] {
			err = os.MkdirAll(host, 0755)
		} else {
			err = os.WriteFile(host, nil, 0644)
		}
		if err != nil {
			return "", err
		}
	}
	for _, path := range slices.Backward(paths) { // a directory's time after its contents
		below, found := lookBelow(image, path)
		if !found || below.Mode&unix.S_IFMT != unix.S_IFDIR || !initMountPoints[path] {
			continue
		}
		host := filepath.Join(tmp, path)
		err := unix.Lchown(host, int(below.Uid), int(below.Gid))
		if err == nil {
			err = unix.Chmod(host, below.Mode&0o7777)
		}
		if err == nil {
			err = unix.UtimesNano(host, []unix.Timespec{below.Atim, below.Mtim})
		}
		if err != nil {
			return "", err
		}
	}
	return dir, os.Rename(tmp, dir)
}

func (c *Container) unmount() {
	rootfs := c.rootfs()
	if isMountPoint(rootfs) {
		if unix.Unmount(rootfs, 0) != nil {
			unix.Unmount(rootfs, unix.MNT_DETACH)
		}
	}
}

// unmountUnused unmounts the root filesystem unless an export is reading it: the last export
// unmounts it then (Container.releaseRootfs). The caller holds lifecycle.
func (c *Container) unmountUnused() {
	if c.exports == 0 {
		c.unmount()
	}
}

// isMountPoint tells whether dir is on a different file system than its parent.
func isMountPoint(dir string) bool {
	var self, parent unix.Stat_t
	if unix.Lstat(dir, &self) != nil || unix.Lstat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return self.Dev != parent.Dev
}
