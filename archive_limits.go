// archive_limits.go: how much one layer may ask of the daemon, and how Unpack keeps each entry cheap.
//
// A layer is untrusted input, and a small one can cost a lot: 77 KB of gzip holding 2000 nested
// directories once kept a core busy for more than ten minutes, because every entry's checks walked
// every component of its path, each with a syscall that walked the path again. Unpack (archive.go) now
// refuses what no real image needs, with an error that names the limit, and remembers the directories
// it has checked in a tree, so an entry's checks cost map lookups rather than syscalls. It also stops
// when whoever sent the stream has left (abandonable): a client that gives up takes its import with it.
package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"
)

// The limits of one layer. Real images stay far below them: a full Debian has about 60,000 entries, and
// paths of a few hundred bytes. Unpack names files by their host path, the layer directory's path and
// the entry's, so the kernel refuses (ENAMETOOLONG) a path a little shorter than maxPathLength, as it
// does in Docker's unpacker.
const (
	maxEntries    = 1_000_000 // tar entries, whiteouts included
	maxDepth      = 256       // components in an entry's path ("a/b/c" has 3)
	maxPathLength = 4095      // bytes in an entry's path or a symlink's target: PATH_MAX less its NUL
	maxNameLength = 255       // bytes in one component: NAME_MAX
)

// checkPathLimits checks a clean relative path against the limits above.
func checkPathLimits(name string) error {
	if len(name) > maxPathLength {
		return fmt.Errorf("path longer than %d bytes", maxPathLength)
	}
	parts := strings.Split(name, "/")
	if len(parts) > maxDepth {
		return fmt.Errorf("path deeper than %d directories", maxDepth)
	}
	for _, part := range parts {
		if len(part) > maxNameLength {
			return fmt.Errorf("a name longer than %d bytes", maxNameLength)
		}
	}
	return nil
}

// shortName is an entry's name for an error message: quoted, and cut if long.
func shortName(name string) string {
	const keep = 100
	if len(name) > keep {
		return fmt.Sprintf("%q (%d bytes)", name[:keep]+"...", len(name))
	}
	return fmt.Sprintf("%q", name)
}

// abandonable is a stream whose sender may leave before it ends: Done is closed then. The client's
// stdin is one (Session.Upload).
type abandonable interface {
	Done() <-chan struct{}
}

var errAbandoned = errors.New("archive: stopped: the client is gone")

// abandoned tells Unpack to stop because the stream's sender has left.
func (u *unpacker) abandoned() error {
	select {
	case <-u.done:
		return errAbandoned
	default:
		return nil
	}
}

// stopReader fails every read once done is closed. Unpack reads its stream through one, after the
// decompression: every entry's header is a read, and so is every 32 KiB of a file, so neither many
// small entries nor one huge one outlasts the client by more than a read.
type stopReader struct {
	r    io.Reader
	done <-chan struct{}
}

func (s *stopReader) Read(p []byte) (int, error) {
	select {
	case <-s.done:
		return 0, errAbandoned
	default:
		return s.r.Read(p)
	}
}

// dirTree is the directories of the layer Unpack has made or checked, as a tree of path components
// (so its memory is about the sum of the names, not of whole paths), each with the times its own tar
// entry gave it. A directory stays one once checked (clearPath never replaces a directory), so a
// node is proof enough that its path is a directory of this layer, reached through no symlink.
type dirTree struct {
	root *dirNode
}

type dirNode struct {
	children map[string]*dirNode
	meta     *dirMeta // nil for a directory the archive implied ("a/b" without "a/")
}

// dirMeta is what a directory gets once all its entries are in: its times, and a copy's directory its
// mode too (finishCopy).
type dirMeta struct {
	atime, mtime time.Time
	mode         uint32
}

func newDirTree() *dirTree { return &dirTree{root: &dirNode{}} }

// add returns the child called name, which the caller has checked is a directory.
func (n *dirNode) add(name string) *dirNode {
	if child := n.children[name]; child != nil {
		return child
	}
	if n.children == nil {
		n.children = map[string]*dirNode{}
	}
	child := &dirNode{}
	n.children[name] = child
	return child
}

// record keeps the times and mode a directory's entry gives it (a clean path, "." for the layer's root),
// to be set once all its children are written: creating them would change its mtime again.
func (t *dirTree) record(name string, hdr *tar.Header, mode uint32) {
	node := t.root
	if name != "." {
		for _, part := range strings.Split(name, "/") {
			node = node.add(part)
		}
	}
	atime, mtime := headerTimes(hdr)
	node.meta = &dirMeta{atime, mtime, mode}
}

// restoreDirTimes gives every directory the times of its tar entry, at the end of Unpack.
func (u *unpacker) restoreDirTimes() error {
	return u.dirs.walk(func(name string, meta *dirMeta) error {
		if err := u.abandoned(); err != nil {
			return err
		}
		return setTimes(u.path(name), meta.atime, meta.mtime)
	})
}

// walk calls visit for every directory that had an entry of its own, with its path ("." for the root).
func (t *dirTree) walk(visit func(name string, meta *dirMeta) error) error {
	var walk func(name string, node *dirNode) error
	walk = func(name string, node *dirNode) error {
		if node.meta != nil {
			if err := visit(name, node.meta); err != nil {
				return fmt.Errorf("archive: %s: %w", shortName(name), err)
			}
		}
		for part, child := range node.children {
			if err := walk(path.Join(name, part), child); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(".", t.root)
}
