// commit.go: what a container changed, made into an image (commit), listed (diff) or streamed (export).
//
// Everything a container writes lands in its overlay upper dir, ROOT/containers/<id>/rw
// (Container.ensureMounted): new and changed files as themselves, a deleted file as a 0:0 character
// device (a whiteout), a directory whose old content is gone as a directory with the xattr
// trusted.overlay.opaque=y. That dir is the container's own layer, so:
//
//   - Runtime.Commit packs it as an OCI layer (Pack with PackLayer turns the overlay marks into .wh.
//     entries) and streams it through a pipe into Graph.Create, which unpacks and hashes it as it reads
//     (Runtime.AddImage then links the image in and tags it): the layer is written once and never read
//     again. The new image stands on the container's image
//     and runs what the container ran, changed by --change (imageconfig.go). A running container is
//     frozen meanwhile (cgroups_freeze.go), so the layer is one moment of it.
//   - Container.Changes reads it as `docker diff` does: A, C or D for each path, comparing with the
//     image's layers below.
//   - Container.Export packs the merged root instead (PackFiles), where deleted files are simply
//     absent: a flat tarball of the container's file system, which `engine import` takes back.
//
// A running container may change its tree while it is packed, to lead the packer out of it: both
// packings run on a thread chrooted into the tree (packInRoot).
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// CommitOptions are commit's flags.
type CommitOptions struct {
	Author  string   // -a
	Comment string   // -m
	Changes []string // -c: Dockerfile instructions applied to the config (imageconfig.go)
	Pause   bool     // freeze a running container while its layer is packed (--pause, default true)
}

// Commit makes an image of the container: its image plus a layer of what it changed, tagged refs (as
// import, through Runtime.AddImage: the tags are set with the image under the store lock). It holds the
// container's lifecycle lock throughout, so no start, stop or removal changes the rw dir or the cgroup
// under it; the wait is on our own reading and writing, never on the container.
func (r *Runtime) Commit(c *Container, opts CommitOptions, refs ...string) (*Image, error) {
	config, err := commitConfig(c.Config, opts.Changes)
	if err != nil {
		return nil, err
	}
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.removed {
		return nil, fmt.Errorf("container %s was removed", c.ShortName())
	}
	rw := filepath.Join(c.root, "rw")
	if err := os.MkdirAll(rw, 0755); err != nil { // a container never started has changed nothing yet
		return nil, err
	}
	thaw := func() {}
	if c.exited != nil && opts.Pause {
		if err := c.cgroup.Freeze(); err != nil {
			return nil, err
		}
		thaw = sync.OnceFunc(func() {
			if err := c.cgroup.Thaw(); err != nil {
				fmt.Fprintf(os.Stderr, "engine -d: commit: %v\n", err)
			}
		})
		defer thaw() // whatever happens below
	}
	layer, packed := packLayer(rw, thaw)
	// Read in MiB: each read from the pipe wakes the packing thread, a thread of its own (packInRoot).
	image, err := r.AddImage(func() (*NewImage, error) {
		return r.graph.Create(LayerStream(bufio.NewReaderSize(layer, 1<<20)), c.Image, ImageMeta{
			Created:   time.Now().UTC(),
			Author:    opts.Author,
			Comment:   opts.Comment,
			CreatedBy: strings.Join(append([]string{c.Path}, c.Args...), " "),
			Config:    config,
		})
	}, refs...)
	layer.CloseWithError(errCommitEnded) // a Create that failed early stops the packing
	if packErr := <-packed; packErr != nil && !errors.Is(packErr, errCommitEnded) {
		return nil, fmt.Errorf("packing the container's changes: %w", packErr) // the cause of Create's error
	}
	return image, err
}

var errCommitEnded = errors.New("the commit ended")

// packLayer packs dir as a layer into a pipe, from a goroutine; done runs as soon as the last byte is
// packed (it thaws the container), and the channel gets Pack's error once the goroutine ends.
func packLayer(dir string, done func()) (*io.PipeReader, chan error) {
	reader, writer := io.Pipe()
	packed := make(chan error, 1)
	go func() {
		err := packInRoot(writer, dir, PackLayer)
		done()
		writer.CloseWithError(err)
		packed <- err
	}()
	return reader, packed
}

// packInRoot packs the tree at root from an OS thread whose root directory is root (unshare(CLONE_FS),
// then chroot), so that no path Pack looks up leads out of it, whatever a running container swaps in
// meanwhile: a directory it turns into a symlink to "/" between Pack's listing and its lstat would
// otherwise take Pack into the host's /etc (docker cp's CVE-2018-15664 is this race). The thread is
// locked and never unlocked, so the Go runtime ends it with the goroutine instead of reusing it, and
// starts no thread from it (since Go 1.10 it starts them from a clean template thread).
func packInRoot(w io.Writer, root string, mode PackMode) error {
	packed := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		if unix.Gettid() == unix.Getpid() {
			// The main thread stands for the process in /proc/self (/proc/self/root, and the paths of
			// /proc/self/mountinfo are relative to its root), and the runtime keeps it when the
			// goroutine ends: never chroot it. Held by this goroutine, it cannot run the next one,
			// which gets a thread of its own.
			defer runtime.UnlockOSThread()
			packed <- packInRoot(w, root, mode)
			return
		}
		packed <- packChrooted(w, root, mode)
	}()
	return <-packed
}

// packChrooted is packInRoot's work on its own thread.
func packChrooted(w io.Writer, root string, mode PackMode) error {
	err := unix.Unshare(unix.CLONE_FS)
	if err == nil {
		err = unix.Chroot(root)
	}
	if err == nil {
		err = unix.Chdir("/")
	}
	if err == nil {
		err = Pack(w, "/", "", mode)
	}
	return err
}

// Change is one line of `engine diff`.
type Change struct {
	Kind byte   // 'A' added, 'C' changed, 'D' deleted
	Path string // absolute, inside the container
}

func (ch Change) String() string { return fmt.Sprintf("%c %s", ch.Kind, ch.Path) }

// Changes lists what the container changed, in docker diff's order and by its rules (moby's
// pkg/archive changes(), as used for overlay): the upper dir walked in name order; a whiteout is D;
// anything else is C if a layer below has the path and A if none has; a directory the layers below have
// with the same size, mode and time is left out, since it is only there to hold a change further down,
// and that change then names it C. An opaque directory is C, and everything in it A: it was emptied and
// filled again.
func (c *Container) Changes() ([]Change, error) {
	layers, err := c.runtime.graph.LayerPaths(c.Image)
	if err != nil {
		return nil, err
	}
	layers = append([]string{filepath.Join(c.root, "init")}, layers...) // made by the first start
	rw := filepath.Join(c.root, "rw")
	var changes []Change
	changedDirs := map[string]bool{"/": true}
	var opaque []string // the opaque directories met so far: everything in them is new
	err = filepath.WalkDir(rw, func(host string, entry fs.DirEntry, err error) error {
		if errors.Is(err, fs.ErrNotExist) && host == rw {
			return filepath.SkipDir // never started: nothing changed
		}
		if err != nil || host == rw {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(host, &st); err != nil {
			return err
		}
		path := "/" + filepath.ToSlash(strings.TrimPrefix(host, rw+"/"))
		change := Change{Kind: 'A', Path: path}
		switch {
		case isWhiteout(&st):
			change.Kind = 'D'
		case entry.IsDir() && isOpaque(host):
			change.Kind = 'C'
			opaque = append(opaque, path+"/")
		case insideAny(path, opaque):
		default:
			below, found := lookBelow(layers, path)
			if found && entry.IsDir() && below.Mode&unix.S_IFMT == unix.S_IFDIR && sameDir(&st, below) {
				return nil // unchanged: here only for what changed inside it
			}
			if found {
				change.Kind = 'C'
			}
		}
		if entry.IsDir() {
			changedDirs[path] = true
		}
		if parent := filepath.Dir(path); change.Kind != 'C' && !changedDirs[parent] {
			changes = append(changes, Change{Kind: 'C', Path: parent})
			changedDirs[parent] = true
		}
		changes = append(changes, change)
		return nil
	})
	return changes, err
}

// isWhiteout tells an overlay whiteout: a character device 0:0.
func isWhiteout(st *unix.Stat_t) bool {
	return st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0
}

func insideAny(path string, dirs []string) bool {
	for _, dir := range dirs {
		if strings.HasPrefix(path, dir) {
			return true
		}
	}
	return false
}

// lookBelow finds path in the image's layers (top first) as overlayfs would: the first layer that has
// it decides, unless that layer deletes it (a whiteout). A directory on the way that is opaque hides it
// in the layers further down; one that is not a directory at all (a whiteout, a file, a symlink) hides
// it here too. The way is checked before the path is looked up, so that no symlink of the image is
// followed: one to "/" would make a host file seem to be the image's.
func lookBelow(layers []string, path string) (*unix.Stat_t, bool) {
	for _, layer := range layers {
		hidden := false
		for dir := filepath.Dir(path); dir != "/"; dir = filepath.Dir(dir) {
			var up unix.Stat_t
			if unix.Lstat(filepath.Join(layer, dir), &up) != nil {
				continue
			}
			if up.Mode&unix.S_IFMT != unix.S_IFDIR {
				return nil, false
			}
			hidden = hidden || isOpaque(filepath.Join(layer, dir))
		}
		var st unix.Stat_t
		if unix.Lstat(filepath.Join(layer, path), &st) == nil {
			return &st, !isWhiteout(&st)
		}
		if hidden {
			return nil, false
		}
	}
	return nil, false
}

// sameDir is docker's test of a directory copied up but not itself changed: same size, mode and
// modification time (seconds only when either side has no nanoseconds).
func sameDir(a, b *unix.Stat_t) bool {
	sameTime := a.Mtim.Sec == b.Mtim.Sec && (a.Mtim.Nsec == b.Mtim.Nsec || a.Mtim.Nsec == 0 || b.Mtim.Nsec == 0)
	return a.Size == b.Size && a.Mode == b.Mode && sameTime
}

// Export writes the container's merged root as a tar stream: the files as the container sees them
// (deleted ones absent), without what the engine mounts inside it (/proc, /sys, /dev, /etc/hosts, and
// volumes), which exist only in the container's mount namespace. No lock is held while the stream goes
// out: a slow client delays only itself.
func (c *Container) Export(w io.Writer) error {
	rootfs, err := c.holdRootfs()
	if err != nil {
		return err
	}
	defer c.releaseRootfs()
	// Pack writes each header on its own; to a client each write is a frame (tcp.go), so small ones
	// are gathered. A file's content passes straight through, in Pack's 1 MiB pieces.
	buffered := bufio.NewWriterSize(w, 1<<20)
	if err := packInRoot(buffered, rootfs, PackFiles); err != nil {
		return err
	}
	return buffered.Flush()
}

// holdRootfs mounts the root filesystem if the container is stopped and counts one more export
// reading it, so that a container stopping meanwhile keeps it mounted.
func (c *Container) holdRootfs() (string, error) {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.removed {
		return "", fmt.Errorf("container %s was removed", c.ShortName())
	}
	rootfs, err := c.ensureMounted()
	if err == nil {
		c.exports++
	}
	return rootfs, err
}

// releaseRootfs ends an export; the last one unmounts the root of a container that is not running.
func (c *Container) releaseRootfs() {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	c.exports--
	if c.exited == nil {
		c.unmountUnused()
	}
}
