// archive_pack.go: writing a file tree as a tar stream, the reverse of archive.go's Unpack.
//
// Every way a file leaves engine is a tar stream written here: `engine cp` out of a container and
// `engine export` (PackFiles), `engine commit`, which packs the container's overlay upper dir into a new
// layer, and `engine save` for a layer stored without a record of its tar (PackLayer; layer_split.go). Pack streams: it holds one
// directory's names at a time, never the tree, and never a file's content.
//
// The tree may belong to a hostile container, so Pack only looks and reads: a symlink is stored, never
// followed; a FIFO or a device is written as a header of its type and never opened (opening a FIFO
// nobody writes to would block for ever); a regular file is opened with O_NOFOLLOW|O_NONBLOCK and
// checked to be the file that was looked at. It asks no user database for owner names (archive/tar's
// FileInfoHeader does, and inside a container's root that would read the container's /etc/passwd):
// entries carry numeric owners only, as OCI layers do.
package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// PackMode says what the special files of a tree mean.
type PackMode int

const (
	// PackFiles writes the files as they are (cp, export).
	PackFiles PackMode = iota
	// PackLayer reads a layer directory or an overlay upper dir, where deletions are recorded the way
	// overlayfs records them, and writes them the way OCI layers do (image-spec layer.md): a 0:0
	// character device NAME becomes an empty file .wh.NAME, a directory with the xattr
	// trusted.overlay.opaque=y gets an entry .wh..wh..opq. Unpack turns them back.
	PackLayer
)

// Pack writes the file or tree at src to w as a tar stream whose names start with name; with name ""
// the entries are the contents of the directory src, with no entry for src itself.
func Pack(w io.Writer, src, name string, mode PackMode) error {
	p := &packer{tw: tar.NewWriter(w), mode: mode, links: map[fileID]string{}, buf: make([]byte, 1<<20)}
	if err := p.add(src, name); err != nil {
		return err
	}
	return p.tw.Close()
}

// fileID tells two names of one inode apart from two inodes.
type fileID struct{ dev, ino uint64 }

type packer struct {
	tw    *tar.Writer
	mode  PackMode
	links map[fileID]string // the first name of each file with more than one link
	buf   []byte            // one copy buffer: 1 MiB moves a big file in few system calls
}

// add writes the entry for one path and, for a directory, everything under it, in name order (so the
// same tree always gives the same stream, and a layer the same DiffID).
func (p *packer) add(src, name string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return fmt.Errorf("pack: %w", &os.PathError{Op: "lstat", Path: src, Err: err})
	}
	if name != "" {
		if err := p.writeEntry(src, name, &st); err != nil {
			return fmt.Errorf("pack: %s: %w", src, err)
		}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFDIR {
		return nil
	}
	names, err := readNames(src)
	if err != nil {
		return fmt.Errorf("pack: %w", err)
	}
	for _, child := range names {
		if err := p.add(filepath.Join(src, child), path.Join(name, child)); err != nil {
			return err
		}
	}
	return nil
}

func readNames(dir string) ([]string, error) {
	f, err := os.OpenFile(dir, os.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	sort.Strings(names)
	return names, err
}

// writeEntry writes the header of one path and, for a regular file, its content.
func (p *packer) writeEntry(src, name string, st *unix.Stat_t) error {
	hdr := &tar.Header{
		Name:   name,
		Mode:   int64(st.Mode & 0o7777),
		Uid:    int(st.Uid),
		Gid:    int(st.Gid),
		Format: tar.FormatPAX, // long names, xattrs and big ids fit; USTAR would cut them
		// Seconds only, as Docker writes layers: sub-second times would make the same tree pack
		// differently on filesystems that keep them and ones that do not.
		ModTime: time.Unix(st.Mtim.Sec, 0),
	}
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		hdr.Typeflag, hdr.Name = tar.TypeDir, name+"/"
	case unix.S_IFLNK:
		target, err := os.Readlink(src)
		if err != nil {
			return err
		}
		hdr.Typeflag, hdr.Linkname = tar.TypeSymlink, target
	case unix.S_IFIFO:
		hdr.Typeflag = tar.TypeFifo
	case unix.S_IFCHR, unix.S_IFBLK:
		if p.mode == PackLayer && st.Mode&unix.S_IFMT == unix.S_IFCHR && st.Rdev == 0 {
			return p.writeWhiteout(path.Join(path.Dir(name), ".wh."+path.Base(name)))
		}
		hdr.Typeflag = tar.TypeChar
		if st.Mode&unix.S_IFMT == unix.S_IFBLK {
			hdr.Typeflag = tar.TypeBlock
		}
		hdr.Devmajor, hdr.Devminor = int64(unix.Major(st.Rdev)), int64(unix.Minor(st.Rdev))
	case unix.S_IFREG:
		id := fileID{uint64(st.Dev), st.Ino}
		if first, seen := p.links[id]; seen {
			hdr.Typeflag, hdr.Linkname = tar.TypeLink, first // its content went with the first name
			return p.tw.WriteHeader(hdr)
		}
		if st.Nlink > 1 {
			p.links[id] = name
		}
		hdr.Typeflag, hdr.Size = tar.TypeReg, st.Size
	default:
		return nil // a socket cannot travel in a tar; GNU tar and Docker skip them too
	}
	if err := addXattrs(src, hdr); err != nil {
		return err
	}
	if err := p.tw.WriteHeader(hdr); err != nil {
		return err
	}
	if hdr.Typeflag == tar.TypeReg {
		return p.writeContent(src, st)
	}
	if hdr.Typeflag == tar.TypeDir && p.mode == PackLayer && isOpaque(src) {
		return p.writeWhiteout(path.Join(name, ".wh..wh..opq"))
	}
	return nil
}

// writeWhiteout writes an OCI whiteout: an empty file whose name says what it hides.
func (p *packer) writeWhiteout(name string) error {
	return p.tw.WriteHeader(&tar.Header{Name: name, Typeflag: tar.TypeReg, Mode: 0o600, Format: tar.FormatPAX, ModTime: time.Unix(0, 0)})
}

func isOpaque(dir string) bool {
	value := make([]byte, 1)
	n, err := unix.Lgetxattr(dir, "trusted.overlay.opaque", value)
	return err == nil && n == 1 && value[0] == 'y'
}

// writeContent copies exactly the size the header announced. The file is opened without following a
// symlink and without blocking on a FIFO, then checked to be the inode that was looked at: in a running
// container, anything may be swapped between the lstat and the open. A file that shrinks meanwhile is
// padded with zeros and one that grows is cut, as GNU tar does, so the stream stays well formed.
func (p *packer) writeContent(src string, st *unix.Stat_t) error {
	f, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer f.Close()
	var now unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &now); err != nil {
		return err
	}
	if now.Dev != st.Dev || now.Ino != st.Ino || now.Mode&unix.S_IFMT != unix.S_IFREG {
		return errors.New("replaced while being read")
	}
	n, err := io.CopyBuffer(p.tw, io.LimitReader(f, st.Size), p.buf)
	if err != nil {
		return err
	}
	_, err = io.CopyBuffer(p.tw, io.LimitReader(zeros{}, st.Size-n), p.buf)
	return err
}

type zeros struct{}

func (zeros) Read(b []byte) (int, error) {
	clear(b)
	return len(b), nil
}

// addXattrs records the extended attributes Unpack restores (user.* and file capabilities) as PAX
// records, the GNU tar and Docker convention. A filesystem without xattrs has none to record.
func addXattrs(src string, hdr *tar.Header) error {
	names, err := listXattrs(src)
	if err != nil {
		return err
	}
	for _, attr := range names {
		if !(strings.HasPrefix(attr, "user.") || attr == "security.capability") {
			continue
		}
		value, err := getXattr(src, attr)
		if err != nil {
			return err
		}
		if hdr.PAXRecords == nil {
			hdr.PAXRecords = map[string]string{}
		}
		hdr.PAXRecords["SCHILY.xattr."+attr] = string(value)
	}
	return nil
}

// listXattrs asks for the size first, then the names (listxattr(2)'s two-call protocol).
func listXattrs(src string) ([]string, error) {
	size, err := unix.Llistxattr(src, nil)
	if errors.Is(err, unix.ENOTSUP) {
		return nil, nil
	}
	if err != nil || size == 0 {
		return nil, err
	}
	buf := make([]byte, size)
	if size, err = unix.Llistxattr(src, buf); err != nil {
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(buf[:size]), "\x00"), "\x00"), nil
}

func getXattr(src, attr string) ([]byte, error) {
	size, err := unix.Lgetxattr(src, attr, nil)
	if err != nil {
		return nil, err
	}
	value := make([]byte, size)
	size, err = unix.Lgetxattr(src, attr, value)
	return value[:size], err
}
