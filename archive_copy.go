// archive_copy.go: archive.go's unpacker as `engine cp` uses it (UnpackCopy).
//
// An image layer and a copy are unpacked by the same code, with the same refusals and limits: no "..",
// no entry under a symlink, no device node ("/x" is the copy's x, never the host's). A copy differs in where it goes and whose files
// it makes. It lands in a directory that already holds files (placeCopy in cp.go says which, and under
// what name the copied tree's top entry goes); a ".wh." name is a file like any other; a file never
// replaces a directory, nor a directory a file, as Docker's cp unpacks (NoOverwriteDirNonDir); a hard
// link may only point at a file the same copy wrote. Then, who gets the files:
//
//   - into a container (the helper, cp_helper.go, chrooted in the container's root): they belong to the
//     container's root user, as Docker makes them ("ownership is set to the user and primary group at
//     the destination");
//   - onto the host (the client, client_cp.go, with the user's own permissions): they belong to the user
//     who runs the client. The tar comes from the container, which is hostile: setuid and setgid bits
//     and file capabilities are dropped, so a copy made as root plants no privileged program on the
//     host. Docker's CLI keeps the bits; we refuse to trust them.
package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"

	"golang.org/x/sys/unix"
)

// copyMode is how one copy is unpacked.
type copyMode struct {
	onHost bool
	// The copied tree's top entry is named from in the archive, and takes the name to in the directory
	// it is unpacked into. from is "" when the archive holds what is in a directory ("dir/.", or a tar
	// from "-"); to is "." for that directory itself, "" to keep the archive's names.
	from, to string
	written  map[string]bool // what this copy wrote, under its final names: the only hard link targets
}

// copyPlacer tells UnpackCopy, from the archive's first entry (nil if it has none), the directory to
// unpack into and the rename of the top entry.
type copyPlacer func(first *tar.Header) (dir, from, to string, err error)

// UnpackCopy unpacks a copy's tar stream (plain or gzip-compressed), which must end with tar's
// end-of-archive marker: a stream cut off by a dying sender is an error, not a smaller copy.
func UnpackCopy(r io.Reader, onHost bool, place copyPlacer) error {
	stream, err := openLayerStream(r)
	if err != nil {
		return err
	}
	end := &tarEnd{}
	tee := io.TeeReader(stream, end)
	tr := tar.NewReader(tee)
	first, err := tr.Next()
	if err == io.EOF {
		first = nil
	} else if err != nil {
		return fmt.Errorf("archive: not a tar stream: %w", err)
	}
	dir, from, to, err := place(first)
	if err != nil {
		return err
	}
	u := &unpacker{dir: dir, dirs: newDirTree(), end: end, copy: &copyMode{onHost: onHost, from: from, to: to, written: map[string]bool{}}}
	if err := u.makeContentsHome(); err != nil {
		return err
	}
	if first != nil {
		if err := u.extract(first, tr); err != nil {
			return fmt.Errorf("archive: %q: %w", first.Name, err)
		}
		if err := u.extractAll(tr); err != nil {
			return err
		}
	}
	if !end.complete() {
		return errors.New("archive: truncated tar stream (no end-of-archive marker)")
	}
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return fmt.Errorf("archive: reading end of stream: %w", err)
	}
	return u.finishCopy()
}

// makeContentsHome makes the new directory that a directory's contents are copied to: a directory
// with nothing in it has no entry that would make it.
func (u *unpacker) makeContentsHome() error {
	if u.copy.from != "" || u.copy.to == "" || u.copy.to == "." {
		return nil
	}
	err := os.Mkdir(u.path(u.copy.to), 0o755)
	if errors.Is(err, os.ErrExist) {
		return nil
	}
	return err
}

// finishCopy gives the copy's directories their modes and times, now that their entries are in.
func (u *unpacker) finishCopy() error {
	return u.dirs.walk(func(name string, meta *dirMeta) error {
		if err := unix.Chmod(u.path(name), meta.mode); err != nil {
			return err
		}
		return setTimes(u.path(name), meta.atime, meta.mtime)
	})
}

// rebase gives an entry its name in the directory the copy is unpacked into.
func (m *copyMode) rebase(name string) (string, error) {
	if m.from == "" {
		return path.Join(m.to, name), nil
	}
	if name == m.from {
		return m.to, nil
	}
	if rest, ok := strings.CutPrefix(name, m.from+"/"); ok {
		return path.Join(m.to, rest), nil
	}
	return "", fmt.Errorf("outside the copied %q", m.from)
}

// linkTarget is a hard link's target under its final name, which must be a file the copy wrote:
// otherwise a link could give the copy a second name for a file already at the destination (the
// host's /etc/shadow, when the destination is "/").
func (m *copyMode) linkTarget(target string) (string, error) {
	target, err := m.rebase(target)
	if err != nil {
		return "", err
	}
	if !m.written[target] {
		return "", errors.New("not a file this copy wrote")
	}
	return target, nil
}

// wrote records an entry the copy has written; on a layer's unpacker (nil) it does nothing.
func (m *copyMode) wrote(name string, hdr *tar.Header) {
	if m != nil && hdr.Typeflag != tar.TypeDir {
		m.written[name] = true
	}
}

// metadata is the owner (-1: leave it), mode and PAX records a copied entry gets (see the opening).
func (m *copyMode) metadata(hdr *tar.Header) (uid, gid int, mode uint32, records map[string]string) {
	mode = uint32(hdr.Mode) & 0o7777
	if !m.onHost {
		return 0, 0, mode, hdr.PAXRecords
	}
	if hdr.Typeflag != tar.TypeDir {
		mode &^= unix.S_ISUID | unix.S_ISGID
	}
	records = map[string]string{}
	for key, value := range hdr.PAXRecords {
		if key != "SCHILY.xattr.security.capability" {
			records[key] = value
		}
	}
	return -1, -1, mode, records
}
