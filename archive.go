// archive.go: unpacking image layers, safely.
//
// An image is a stack of layers, and each layer travels as a tar stream.
// `engine import rootfs.tar name` calls Graph.Create (through
// Runtime.AddImage), which creates an empty layer directory and hands the
// stream to Unpack; so does `engine commit`, whose stream Pack writes from the
// container's rw dir (commit.go), and so does each layer of `engine load`.
// Unpack is meant to stay the one place that unpacks a layer; the graph also
// keeps the layer's record (UnpackRecorded, layer_split.go), so that `engine
// save` can write the same tar again. Once unpacked, the layer directory
// becomes an overlayfs lowerdir under the containers that run on the image.
// `engine cp` unpacks with the same unpacker, in its copy mode (UnpackCopy,
// archive_copy.go), with the same refusals and limits.
//
// A tarball is untrusted input: it may try to write outside the layer
// directory, plant device nodes, clobber files through symlinks, or cost the
// daemon hours of work. Unpack refuses such archives outright rather than
// quietly "fixing" them, so a bad image fails loudly at import time and never
// half-works. Its limits (depth, entries, name lengths) and the directory
// tree that keeps each entry's checks cheap are in archive_limits.go; OCI
// whiteouts become overlayfs ones in archive_whiteout.go.
package main

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Unpack reads a tar stream (plain or gzip-compressed, detected by its magic
// bytes, never by name) and writes its files under dir, which must exist and
// be empty. It returns the layer's DiffID: "sha256:<hex>" of the uncompressed
// tar stream. On error the caller removes dir.
//
// A stream whose sender may leave (the client's stdin, Session.Upload) says
// so with a Done channel; Unpack then stops at its next read once it is
// closed, even if the rest of the stream is already in the daemon's buffers.
func Unpack(r io.Reader, dir string) (diffID string, err error) {
	return UnpackRecorded(r, dir, nil)
}

// UnpackRecorded is Unpack that also writes the layer's record to record (if not nil): the tar minus
// its files' contents, from which `engine save` puts the same tar back together (layer_split.go).
func UnpackRecorded(r io.Reader, dir string, record io.Writer) (diffID string, err error) {
	if err := requireEmptyDir(dir); err != nil {
		return "", err
	}
	stream, err := openLayerStream(r)
	if err != nil {
		return "", err
	}
	hash, end := sha256.New(), &tarEnd{}
	u := &unpacker{dir: dir, dirs: newDirTree(), whiteouts: map[string]bool{}, end: end}
	if source, ok := r.(abandonable); ok {
		u.done = source.Done()
		stream = &stopReader{stream, u.done}
	}
	// The OCI image spec defines a DiffID as the digest of the uncompressed
	// tar, so hash exactly the bytes the tar reader consumes, as it reads.
	sinks := []io.Writer{hash, end}
	var recorder *layerRecorder
	if record != nil {
		recorder = newLayerRecorder(record)
		sinks = append(sinks, recorder)
	}
	u.recorder = recorder
	tee := io.TeeReader(stream, io.MultiWriter(sinks...))
	if err := u.extractAll(tar.NewReader(tee)); err != nil {
		return "", err
	}
	if !end.complete() {
		return "", errors.New("archive: truncated tar stream (no end-of-archive marker)")
	}
	// The digest must also cover any record padding after the end marker,
	// where the tar reader stops. For gzip, reading to the end also verifies
	// the trailing checksum.
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return "", fmt.Errorf("archive: reading end of stream: %w", err)
	}
	if recorder != nil {
		if err := recorder.close(); err != nil {
			return "", fmt.Errorf("archive: recording the layer: %w", err)
		}
	}
	if err := u.restoreDirTimes(); err != nil {
		return "", err
	}
	return "sha256:" + hex.EncodeToString(hash.Sum(nil)), nil
}

// requireEmptyDir checks Unpack's precondition, which the symlink checks
// below rely on: every path in dir was created by this archive.
func requireEmptyDir(dir string) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("archive: %w", err)
	}
	if len(entries) > 0 {
		return fmt.Errorf("archive: %s is not empty", dir)
	}
	return nil
}

// openLayerStream sniffs the gzip magic number (RFC 1952), so a layer
// unpacks whatever its file happens to be called.
func openLayerStream(r io.Reader) (io.Reader, error) {
	br := bufio.NewReader(r)
	if magic, _ := br.Peek(2); !bytes.Equal(magic, []byte{0x1f, 0x8b}) {
		return br, nil
	}
	gz, err := gzip.NewReader(br)
	if err != nil {
		return nil, fmt.Errorf("archive: not a tar or gzip stream: %w", err)
	}
	return gz, nil
}

// tarEnd watches the bytes the tar reader consumes. archive/tar takes a
// stream that stops between two entries for a normal end, so a cut-off
// download would import as a smaller image. A complete archive ends with two
// zero blocks (POSIX ustar), so that is what we look for, among the bytes the
// reader took while looking for a header: the last file may end in zeros too.
type tarEnd struct{ n, zeros, header int64 }

// beforeHeader marks where the tar reader starts to look for the next header.
func (e *tarEnd) beforeHeader() { e.header = e.n }

// Write counts the bytes and the zeros at the end of them. Only the last two blocks can tell, so each write is looked at from its end, 1024 bytes at most: a
// layer of zero-filled files (database and disk images) would otherwise be scanned byte by byte.
func (e *tarEnd) Write(p []byte) (int, error) {
	tail := p[max(0, len(p)-1024):]
	i := len(tail) - 1
	for i >= 0 && tail[i] == 0 {
		i--
	}
	switch {
	case i >= 0:
		e.zeros = int64(len(tail) - 1 - i)
	case len(tail) < len(p):
		e.zeros = int64(len(tail)) // 1024: all complete needs to know
	default:
		e.zeros += int64(len(p))
	}
	e.n += int64(len(p))
	return len(p), nil
}

func (e *tarEnd) complete() bool {
	return e.n%512 == 0 && e.zeros >= 1024 && e.n-e.header >= 1024
}

// unpacker holds the state of one Unpack call.
type unpacker struct {
	dir       string          // the layer directory everything must stay under
	dirs      *dirTree        // the directories made so far, and the times to give them at the end
	whiteouts map[string]bool // names this layer whited out: a directory made there is opaque (makeDir)
	done      <-chan struct{} // closed when whoever sent the stream has gone; nil if it cannot go
	copy      *copyMode       // `engine cp` (archive_copy.go); nil for an image layer

	recorder *layerRecorder // nil, or where the tar minus its files' contents goes (layer_split.go)
	end      *tarEnd        // the bytes the tar reader took, to find the end-of-archive marker
}

func (u *unpacker) path(name string) string { return filepath.Join(u.dir, name) }

func (u *unpacker) extractAll(tr *tar.Reader) error {
	for entries := 0; ; entries++ {
		u.end.beforeHeader()
		hdr, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil && entries == 0 {
			return fmt.Errorf("archive: not a tar or gzip stream: %w", err)
		}
		if err != nil {
			return fmt.Errorf("archive: reading tar: %w", err)
		}
		if entries == maxEntries {
			return fmt.Errorf("archive: more than %d entries (a layer's limit)", maxEntries)
		}
		name, _ := cleanEntryName(hdr.Name) // extract refuses a bad name before it reads any content
		if err := u.extract(hdr, u.recorder.contentOf(name, tr)); err != nil {
			return fmt.Errorf("archive: %s: %w", shortName(hdr.Name), err)
		}
	}
}

// extract writes one entry; any refusal aborts the whole import.
func (u *unpacker) extract(hdr *tar.Header, data io.Reader) error {
	switch hdr.Typeflag {
	case tar.TypeReg, tar.TypeDir, tar.TypeSymlink, tar.TypeLink, tar.TypeFifo:
	case tar.TypeXGlobalHeader:
		return nil // archive-wide PAX metadata (e.g. git archive's commit id), not a file
	case tar.TypeChar, tar.TypeBlock:
		// A device node in an image would give containers (and anyone who
		// can read the layer dir) raw access to host hardware. Containers
		// get their /dev from the engine instead.
		return errors.New("device nodes are not allowed")
	default:
		return fmt.Errorf("unsupported entry type %q", hdr.Typeflag)
	}
	name, err := cleanEntryName(hdr.Name)
	if err != nil {
		return err
	}
	if u.copy != nil { // cp copies files: a .wh. name is one too
		if name, err = u.copy.rebase(name); err != nil {
			return err
		}
	} else if strings.HasPrefix(path.Base(name), ".wh.") {
		return u.whiteout(name)
	}
	if err := u.checkParents(name, true); err != nil {
		return err
	}
	dirExists, err := u.clearPath(name, hdr.Typeflag == tar.TypeDir)
	if err != nil {
		return err
	}
	p := u.path(name)
	switch hdr.Typeflag {
	case tar.TypeDir:
		if !dirExists {
			err = u.makeDir(name, 0o700) // applyMetadata sets the real mode
		}
	case tar.TypeReg:
		err = writeFile(p, data)
	case tar.TypeSymlink:
		// Any target is fine: it is never followed while unpacking, only
		// resolved later inside the container's root.
		if len(hdr.Linkname) > maxPathLength {
			return fmt.Errorf("symlink target longer than %d bytes", maxPathLength)
		}
		err = os.Symlink(hdr.Linkname, p)
	case tar.TypeLink:
		// A hardlink shares its target's inode, so it has no metadata of its
		// own to apply.
		return u.makeHardlink(p, hdr.Linkname)
	case tar.TypeFifo:
		err = unix.Mkfifo(p, 0o600)
	}
	if err != nil {
		return err
	}
	u.copy.wrote(name, hdr)
	return u.applyMetadata(name, hdr)
}

// cleanEntryName turns an archive name into a clean path relative to the
// layer dir, "." being the dir itself. "x", "./x" and "/x" are one path, as
// GNU tar and Docker take them: a layer's names are relative to its root,
// whatever their prefix. ".." components, the classic "tar slip" escape, are
// refused even where they would stay inside ("a/../b"). The limits of
// archive_limits.go keep each entry's work bounded.
func cleanEntryName(raw string) (string, error) {
	for _, part := range strings.Split(raw, "/") {
		if part == ".." {
			return "", errors.New(`path contains ".."`)
		}
	}
	name := strings.TrimPrefix(path.Clean("/"+raw), "/") // "/" becomes ""
	if name == "" {
		return ".", nil
	}
	return name, checkPathLimits(name)
}

// checkParents refuses a path whose parents go through a symlink, which an
// earlier entry could have pointed at "/etc" or "../..". With create, it
// also makes missing parents, since archives may list "a/b/c" before, or
// without, "a/".
//
// Lstat on each component is enough; openat2(RESOLVE_BENEATH) is not needed:
// dir started empty and only we write to it, so every symlink in it comes
// from this archive, and nothing can change between the check and the use.
// A directory once checked stays one (clearPath never replaces a directory),
// so the tree of checked ones (u.dirs) spares the syscalls next time.
func (u *unpacker) checkParents(name string, create bool) error {
	node, cur := u.dirs.root, ""
	for _, part := range strings.Split(path.Dir(name), "/") {
		if part == "." {
			continue
		}
		cur = path.Join(cur, part)
		if child := node.children[part]; child != nil {
			node = child
			continue
		}
		fi, err := os.Lstat(u.path(cur))
		switch {
		case errors.Is(err, fs.ErrNotExist) && create:
			err = u.makeDir(cur, 0o755)
		case err == nil && fi.Mode()&fs.ModeCharDevice != 0 && create:
			// Only whiteouts are devices here ("a/.wh.b" then "a/b/c"):
			// this layer's b replaces the one below.
			if err = os.Remove(u.path(cur)); err == nil {
				err = u.makeDir(cur, 0o755)
			}
		case err != nil: // returned below
		case fi.Mode()&fs.ModeSymlink != 0:
			err = fmt.Errorf("path escapes through symlink %q", cur)
		case !fi.IsDir():
			err = fmt.Errorf("parent %q is not a directory", cur)
		}
		if err != nil {
			return err
		}
		node = node.add(part)
	}
	return nil
}

// makeDir makes a directory with exactly this mode, whatever the umask. If
// this layer whited the name out, the directory replaces the one below
// rather than merging with it, so it is made opaque.
func (u *unpacker) makeDir(name string, mode uint32) error {
	if err := os.Mkdir(u.path(name), 0o700); err != nil {
		return err
	}
	if err := unix.Chmod(u.path(name), mode); err != nil {
		return err
	}
	if u.whiteouts[name] {
		return u.makeOpaque(name)
	}
	return nil
}

// clearPath makes room for a new entry. As in tar, a later entry replaces an
// earlier one of the same name, so an old file, symlink or fifo is removed;
// removing a symlink, rather than opening it, is what keeps us from writing
// through it. An existing directory is kept for a directory entry (tar merges
// them) and never replaced by anything else, which would silently drop
// everything under it.
func (u *unpacker) clearPath(name string, isDir bool) (dirExists bool, err error) {
	fi, err := os.Lstat(u.path(name))
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, err
	case fi.IsDir() && isDir:
		return true, nil
	case fi.IsDir():
		return false, fmt.Errorf("would replace directory %q", name)
	case isDir && u.copy != nil: // as Docker's cp, which unpacks with NoOverwriteDirNonDir
		return false, fmt.Errorf("would replace non-directory %q with a directory", name)
	}
	return false, os.Remove(u.path(name))
}

// writeFile creates a regular file. clearPath removed whatever was there;
// O_EXCL|O_NOFOLLOW make sure we fail, rather than follow a symlink, if
// something is there anyway.
func writeFile(p string, data io.Reader) error {
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		return err
	}
	buf := unpackBuffers.Get().(*[]byte)
	_, err = io.CopyBuffer(plainWriter{f}, data, *buf) // plainWriter: os.File's ReadFrom would take 32 KiB at a time
	unpackBuffers.Put(buf)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}

// unpackBuffers lend writeFile 1 MiB, so that a big file is written in few system calls.
var unpackBuffers = sync.Pool{New: func() any { buf := make([]byte, 1<<20); return &buf }}

// makeHardlink links p to an earlier entry. The target is a path in the
// layer like an entry's name ("/etc/passwd" is the layer's etc/passwd, as
// GNU tar reads it) and gets the same checks, or a link could pull a host
// file such as /etc/shadow into the layer. Directories cannot be hardlinked.
// A target that is itself a symlink is fine: link(2) links the symlink, not
// what it points to.
func (u *unpacker) makeHardlink(p, linkname string) error {
	target, err := cleanEntryName(linkname)
	if err == nil && u.copy != nil {
		target, err = u.copy.linkTarget(target)
	}
	if err == nil {
		err = u.checkParents(target, false)
	}
	var fi fs.FileInfo
	if err == nil {
		fi, err = os.Lstat(u.path(target))
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("hardlink target %s does not exist", shortName(linkname))
	case err != nil:
		return fmt.Errorf("hardlink target %s: %w", shortName(linkname), err)
	case fi.IsDir():
		return fmt.Errorf("hardlink target %s is a directory", shortName(linkname))
	}
	return os.Link(u.path(target), p)
}

// applyMetadata gives a new entry the owner, mode, xattrs and times recorded
// in the archive. Chown comes first because it clears setuid/setgid bits and
// file capabilities.
func (u *unpacker) applyMetadata(name string, hdr *tar.Header) error {
	p := u.path(name)
	uid, gid, mode, records := hdr.Uid, hdr.Gid, uint32(hdr.Mode)&0o7777, hdr.PAXRecords
	if u.copy != nil {
		uid, gid, mode, records = u.copy.metadata(hdr)
	}
	if uid >= 0 {
		if err := os.Lchown(p, uid, gid); err != nil {
			return err
		}
	}
	// Symlinks have no mode of their own, and chmod would follow them. A copy's directories get theirs
	// at the end (finishCopy), or a read-only one could not take its own entries.
	if hdr.Typeflag != tar.TypeSymlink && !(hdr.Typeflag == tar.TypeDir && u.copy != nil) {
		if err := unix.Chmod(p, mode); err != nil {
			return err
		}
	}
	if err := restoreXattrs(p, records); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeDir {
		// Creating the children would change the directory's mtime again.
		u.dirs.record(name, hdr, mode)
		return nil
	}
	return restoreTimes(p, hdr)
}

// restoreXattrs restores extended attributes carried as PAX records
// "SCHILY.xattr.<name>" (the GNU tar and Docker convention). Only user.* and
// security.capability are honoured: trusted.* would let an image forge
// overlayfs metadata, and other security.* names set LSM labels. It is best
// effort: filesystems without xattrs (ENOTSUP) and user.* on symlinks
// (EPERM) are skipped.
func restoreXattrs(p string, records map[string]string) error {
	for key, value := range records {
		attr, ok := strings.CutPrefix(key, "SCHILY.xattr.")
		if !ok || !(strings.HasPrefix(attr, "user.") || attr == "security.capability") {
			continue
		}
		err := unix.Lsetxattr(p, attr, []byte(value), 0)
		if err != nil && !errors.Is(err, unix.ENOTSUP) && !errors.Is(err, unix.EPERM) {
			return fmt.Errorf("setting xattr %s: %w", attr, err)
		}
	}
	return nil
}

// restoreTimes gives an entry the times its header records.
func restoreTimes(p string, hdr *tar.Header) error {
	atime, mtime := headerTimes(hdr)
	return setTimes(p, atime, mtime)
}

func headerTimes(hdr *tar.Header) (atime, mtime time.Time) {
	if hdr.AccessTime.IsZero() {
		return hdr.ModTime, hdr.ModTime // plain ustar headers carry no atime
	}
	return hdr.AccessTime, hdr.ModTime
}

// setTimes sets atime and mtime without following a symlink, so that a
// symlink gets its own times and never touches its target's.
func setTimes(p string, atime, mtime time.Time) error {
	ts := []unix.Timespec{unix.NsecToTimespec(atime.UnixNano()), unix.NsecToTimespec(mtime.UnixNano())}
	return unix.UtimesNanoAt(unix.AT_FDCWD, p, ts, unix.AT_SYMLINK_NOFOLLOW)
}
