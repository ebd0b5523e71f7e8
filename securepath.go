// securepath.go: joining a path from a container onto its root filesystem without escaping it.
//
// An image is untrusted input: its /etc/passwd, /proc or /etc/hostname may be symlinks to "/etc/shadow"
// or "../../..". Whenever the daemon or init touches a path inside a container's root (reading passwd
// in spec.go, creating mount points in init.go), it first resolves the path here, the way the kernel would
// if root were "/" (chroot semantics): absolute symlinks start again at root, ".." stops at root.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
