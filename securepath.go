// securepath.go: reaching a path inside a container's root filesystem without escaping it.
//
// An image is untrusted input, and so is a running container: its /etc/passwd, /proc or /etc/hostname
// may be symlinks to "/etc/shadow" or "../../..", FIFOs or device nodes. Two ways in, for two moments:
//   - securePath resolves a path as the kernel would if root were "/" (chroot semantics: absolute
//     symlinks start again at root, ".." stops at root) and returns a host path. init uses it before
//     pivot_root to place mount points and devices (init.go); no process of the container runs yet, so
//     nothing can change the tree between the resolving and the use.
//   - openInRoot opens a file for the daemon while the container may be running (its passwd and group
//     files, user.go): the kernel resolves and opens in one step, so there is no path string for the
//     container to swap a symlink under, and only a regular file is ever opened.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const maxSymlinks = 255 // as the kernel's ELOOP limit for one path walk (40) would be too tight for chains

func securePath(root, unsafePath string) (string, error) {
	resolved := "/"
	remaining := unsafePath
	links := 0
	for remaining != "" {
		var part string
		part, remaining, _ = strings.Cut(strings.TrimLeft(remaining, "/"), "/")
		switch part {
		case "", ".":
			continue
		case "..":
			resolved = filepath.Dir(resolved)
			continue
		}
		next := filepath.Join(resolved, part)
		info, err := os.Lstat(filepath.Join(root, next))
		if errors.Is(err, fs.ErrNotExist) || (err == nil && info.Mode()&fs.ModeSymlink == 0) {
			resolved = next
			continue
		}
		if err != nil {
			return "", err
		}
		if links++; links > maxSymlinks {
			return "", fmt.Errorf("%s: too many levels of symbolic links", unsafePath)
		}
		target, err := os.Readlink(filepath.Join(root, next))
		if err != nil {
			return "", err
		}
		if filepath.IsAbs(target) {
			resolved = "/"
		}
		remaining = target + "/" + remaining
	}
	return filepath.Join(root, resolved), nil
}

// openInRoot opens the regular file at path inside root for reading. openat2(2) with RESOLVE_IN_ROOT
// resolves every symlink and ".." as if root were "/", and RESOLVE_NO_MAGICLINKS refuses /proc/PID/fd-like
// links, which could point anywhere; the result is a descriptor, not a path the container could change
// before we open it (it did: a symlink swapped in between securePath and open(2) led to the host's
// /etc/shadow). The file is first opened with O_PATH, which opens nothing, and opened for reading through
// /proc/self/fd, as runc reopens, only when fstat says it is a regular file: opening a FIFO blocks until
// a writer comes, and opening a device node the container made (a pty is in its allow-list) would reach
// the host's device from the daemon, outside the container's cgroup.
func openInRoot(root, path string) (*os.File, error) {
	rootFd, err := unix.Open(root, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: root, Err: err}
	}
	defer unix.Close(rootFd)
	how := &unix.OpenHow{Flags: unix.O_PATH | unix.O_CLOEXEC, Resolve: unix.RESOLVE_IN_ROOT | unix.RESOLVE_NO_MAGICLINKS}
	fd, err := unix.Openat2(rootFd, path, how)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: path, Err: err}
	}
	defer unix.Close(fd)
	var stat unix.Stat_t
	if err := unix.Fstat(fd, &stat); err != nil {
		return nil, &fs.PathError{Op: "stat", Path: path, Err: err}
	}
	if stat.Mode&unix.S_IFMT != unix.S_IFREG {
		return nil, fmt.Errorf("%s: not a regular file", path)
	}
	f, err := os.Open("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return nil, fmt.Errorf("reopening %s: %w", path, err)
	}
	return f, nil
}
