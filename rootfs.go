// rootfs.go: the container's mount table, built by init (init.go) inside its new mount namespace.
//
// Step 2 of init, as config.json (spec.go) describes it: cut the propagation link to the host's mounts,
// make the overlay root a mount point, mount the kernel filesystems, /dev, the -v binds and volumes
// (volumes.go) and the /etc files under it (each target resolved inside the root by securepath.go, and
// a file that is already there never opened), make the default device nodes, pivot_root into it and
// detach the host's root, then make the kernel's dangerous files read-only or hide them. After this,
// "/" is the container's and nothing of the host's filesystem can be reached by a path.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// setupRootfs builds the container's mount table and makes the root filesystem "/".
func setupRootfs(spec *Spec) error {
	// Our mount namespace is a copy of the host's; with shared propagation, every mount below would also
	// appear on the host. The spec's rootfsPropagation (private, from generateSpec; slave would still let
	// the host's new mounts in) cuts that link for every mount at once. Shared is refused: it is the link.
	propagation, ok := propagationOptions[spec.Linux.RootfsPropagation]
	if spec.Linux.RootfsPropagation == "" {
		propagation, ok = unix.MS_PRIVATE, true
	}
	if !ok {
		return fmt.Errorf("rootfsPropagation %q is not supported", spec.Linux.RootfsPropagation)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|propagation, ""); err != nil {
		return fmt.Errorf("making / %s: %w", spec.Linux.RootfsPropagation, err)
	}
	rootfs, err := filepath.Abs(spec.Root.Path)
	if err != nil {
		return fmt.Errorf("the root's path: %w", err)
	}
	// pivot_root needs the new root to be a mount point; a bind mount onto itself makes it one.
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting the root: %w", err)
	}
	for _, m := range spec.Mounts {
		if err := mountInto(rootfs, m); err != nil {
			return fmt.Errorf("mounting %s: %w", m.Destination, err)
		}
	}
	if err := createDevices(rootfs, append(defaultDevices, spec.Linux.Devices...)); err != nil {
		return fmt.Errorf("devices: %w", err)
	}
	if err := pivotRoot(rootfs); err != nil {
		return err
	}
	if err := makeReadonly(spec.Linux.ReadonlyPaths); err != nil {
		return fmt.Errorf("read-only paths: %w", err)
	}
	if err := maskPaths(spec.Linux.MaskedPaths); err != nil {
		return fmt.Errorf("masked paths: %w", err)
	}
	if spec.Root.Readonly { // `--read-only`: the root itself; /dev, /proc and the /etc files stay as mounted
		if err := unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only root: %w", err)
		}
	}
	return nil
}

// makeReadonly bind-mounts each path onto itself and remounts the bind read-only: the files stay
// readable, and writing to them fails with EROFS whatever the process's capabilities. A path this kernel
// lacks is skipped, as runc does.
func makeReadonly(paths []string) error {
	for _, path := range paths {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", path, err)
		}
		if err := unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", path, err)
		}
	}
	return nil
}

// maskPaths hides each path: /dev/null is bind-mounted over a file (it reads as empty), an empty
// read-only tmpfs over a directory. Both are done after pivot_root, on the container's fresh /proc
// and /sys, so no path can lead outside.
func maskPaths(paths []string) error {
	for _, path := range paths {
		info, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("masking %s: %w", path, err)
		}
		if info.IsDir() {
			err = unix.Mount("tmpfs", path, "tmpfs", unix.MS_RDONLY, "")
		} else {
			err = unix.Mount("/dev/null", path, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("masking %s: %w", path, err)
		}
	}
	return nil
}

// mountOptions maps the runtime spec's mount options to mount(2) flags; what is not a flag is passed to
// the filesystem as data (mode=755, size=65536k, newinstance, ...).
var mountOptions = map[string]uintptr{
	"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
	"strictatime": unix.MS_STRICTATIME, "relatime": unix.MS_RELATIME, "noatime": unix.MS_NOATIME,
	"bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
}

var propagationOptions = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
}

// mountInto mounts m at its destination resolved inside rootfs. Besides mount(2)'s flags it knows "rro"
// (the runtime spec's, as runc: read-only recursively, submounts too), which needs mount_setattr(2)
// (Linux 5.12): a remount with MS_RDONLY changes only the top mount, so a host directory with a tmpfs
// inside, bound with -v :ro, would leave the tmpfs writable.
func mountInto(rootfs string, m Mount) error {
	var flags, propagation uintptr
	var data []string
	recursiveReadonly := false
	for _, option := range m.Options {
		if option == "rro" {
			recursiveReadonly = true
		} else if flag, ok := mountOptions[option]; ok {
			flags |= flag
		} else if flag, ok := propagationOptions[option]; ok {
			propagation |= flag
		} else {
			data = append(data, option)
		}
	}
	target, err := securePath(rootfs, m.Destination)
	if err != nil {
		return err
	}
	if target == rootfs { // an image's /data -> ../.. would put a volume over the whole root
		return errors.New("it resolves to the container's root")
	}
	if err := createMountPoint(target, m); err != nil {
		return err
	}
	if err := unix.Mount(m.Source, target, m.Type, flags&^unix.MS_RDONLY, strings.Join(data, ",")); err != nil {
		return err
	}
	// A bind mount ignores MS_RDONLY on its first mount(2); read-only needs a remount (mount(8) does the same).
	if flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, ""); err != nil {
			return err
		}
	}
	if recursiveReadonly {
		attr := &unix.MountAttr{Attr_set: unix.MOUNT_ATTR_RDONLY}
		if err := unix.MountSetattr(unix.AT_FDCWD, target, unix.AT_RECURSIVE, attr); err != nil {
			return fmt.Errorf("making it read-only recursively (mount_setattr, Linux 5.12): %w", err)
		}
	}
	if propagation != 0 {
		return unix.Mount("", target, "", propagation, "")
	}
	return nil
}

// createMountPoint makes the directory (or, for a bind-mounted file, the empty file) to mount over.
// What the image already has there is never opened (O_EXCL creates or fails): any file that is not a
// directory takes the bind mount of a file, and opening it could block init for ever, the daemon waiting
// on it: an image, or a container before its restart, can leave a FIFO at /etc/hostname.
func createMountPoint(target string, m Mount) error {
	isFile := false
	if m.Type == "bind" {
		if info, err := os.Stat(m.Source); err == nil && !info.IsDir() {
			isFile = true
		}
	}
	if !isFile {
		return os.MkdirAll(target, 0755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0755); err != nil {
		return err
	}
	fd, err := unix.Open(target, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0644)
	if errors.Is(err, unix.EEXIST) {
		return nil
	} else if err != nil {
		return &fs.PathError{Op: "create", Path: target, Err: err}
	}
	return unix.Close(fd)
}

// createDevices makes the device nodes of the spec in the container's fresh /dev, and the symlinks every
// Linux userland expects there.
func createDevices(rootfs string, devices []Device) error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devices {
		path, err := securePath(rootfs, d.Path)
		if err != nil {
			return err
		}
		mode := uint32(d.FileMode.Perm()) | unix.S_IFCHR
		if d.Type == "b" {
			mode = uint32(d.FileMode.Perm()) | unix.S_IFBLK
		}
		if err := unix.Mknod(path, mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("mknod %s: %w", d.Path, err)
		}
		if err := os.Lchown(path, int(d.UID), int(d.GID)); err != nil {
			return err
		}
	}
	links := [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}}
	if _, err := os.Stat("/proc/kcore"); err == nil { // as runc: no dangling link on kernels without it
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, link := range links {
		if err := os.Symlink(link[0], filepath.Join(rootfs, "dev", link[1])); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// pivotRoot makes rootfs "/" and detaches the host's root from this mount namespace, so nothing of the
// host's file system stays reachable. pivot_root(".", ".") stacks the old root on top of the new one;
// unmounting "." then removes just the old root (the trick runc and pivot_root(2)'s man page describe).
func pivotRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return fmt.Errorf("chdir %s: %w", rootfs, err)
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	if err := unix.Chdir("/"); err != nil {
		return fmt.Errorf("chdir /: %w", err)
	}
	return nil
}
