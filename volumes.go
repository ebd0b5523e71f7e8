// volumes.go: volumes, the directories a container keeps outside its root filesystem.
//
// `run -v` asks for three kinds, as with docker: a bind mount of a host path (-v /srv/data:/data:ro),
// a named volume (-v cache:/c) and an anonymous one (-v /data). parseVolumeSpec reads them. The
// VolumeStore keeps named and anonymous volumes as ROOT/volumes/<name>/_data, each beside its record
// volume.json; `engine volume` (commands_volume.go) manages them.
//
// Where it sits in `run`: Runtime.Create resolves the -v strings into the container's Mounts
// (runtime_volumes.go; a volume is made on first use). At the container's first start, generateSpec
// (spec.go) fills each volume that is still empty with the image's content at its path, as Docker
// does, and lists the mounts in config.json; init (rootfs.go) mounts them in the container's own mount
// namespace, at targets resolved inside its root (securepath.go). They never appear in the host's
// mount table, so neither commit nor export sees them. `rm -v` and `--rm` remove the container's
// anonymous volumes.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// MountPoint is one -v of a container, resolved at create: what `inspect` shows under Mounts.
type MountPoint struct {
	Type        string // "bind" or "volume"
	Name        string `json:",omitempty"` // the volume's
	Source      string // the bind's host path, or the volume's _data
	Destination string // the path inside the container
	Driver      string `json:",omitempty"` // "local" for a volume
	Mode        string // "ro" or "rw" as given, or ""
	RW          bool
	Propagation string // "rprivate" for a bind, as Docker shows it

	// CopyData: seed the volume from the image at the container's first start, if it is still empty
	// then (Docker's rule; it copies at create). Cleared once done.
	CopyData bool `json:",omitempty"`
}

// maxVolumeSpec bounds one -v string: two paths of PATH_MAX and a mode.
const maxVolumeSpec = 2*4096 + 3

// parseVolumeSpec reads one -v as docker does: [SOURCE:]DESTINATION[:MODE]. A SOURCE starting with "/"
// is a host path to bind; any other is a volume's name; none at all makes an anonymous volume. MODE is
// ro or rw. The host path is cleaned; the container path must be absolute, without "..", and not "/"
// (nor /proc, which runc refuses too: a bind over it would unmask what spec.go masks there).
func parseVolumeSpec(spec string) (MountPoint, error) {
	invalid := func(reason string) (MountPoint, error) {
		return MountPoint{}, fmt.Errorf("invalid volume specification %q: %s", spec, reason)
	}
	if len(spec) > maxVolumeSpec || strings.ContainsRune(spec, 0) {
		return invalid("too long, or it contains a NUL")
	}
	m := MountPoint{Type: "volume", RW: true}
	parts := strings.Split(spec, ":")
	if n := len(parts); n == 3 || n == 2 && (parts[1] == "ro" || parts[1] == "rw") {
		m.Mode, parts = parts[n-1], parts[:n-1]
		if m.Mode != "ro" && m.Mode != "rw" {
			return invalid(fmt.Sprintf("unknown mode %q: only ro or rw", m.Mode))
		}
		m.RW = m.Mode == "rw"
	}
	switch len(parts) {
	case 1:
		m.Destination = parts[0]
	case 2:
		m.Source, m.Destination = parts[0], parts[1]
	default:
		return invalid("expected [SOURCE:]DESTINATION[:ro|rw]")
	}
	if err := checkMountDestination(m.Destination); err != nil {
		return invalid(err.Error())
	}
	m.Destination = filepath.Clean(m.Destination)
	switch {
	case len(parts) == 1:
	case strings.HasPrefix(m.Source, "/"):
		m.Type, m.Source, m.Propagation = "bind", filepath.Clean(m.Source), "rprivate"
	case checkVolumeName(m.Source) != nil:
		return invalid(checkVolumeName(m.Source).Error() + "; a host path to bind must be absolute")
	default:
		m.Name, m.Source = m.Source, ""
	}
	return m, nil
}

func checkMountDestination(path string) error {
	switch {
	case !strings.HasPrefix(path, "/"):
		return errors.New("the container path must be absolute")
	case slices.Contains(strings.Split(path, "/"), ".."):
		return errors.New(`the container path must not contain ".."`)
	case filepath.Clean(path) == "/":
		return errors.New(`the container path must not be "/"`)
	case filepath.Clean(path) == "/proc" || strings.HasPrefix(path, "/proc/"):
		return errors.New("nothing may be mounted over /proc")
	}
	return nil
}

// parseVolumeSpecs parses every -v of one container and refuses two at one destination, as Docker does.
func parseVolumeSpecs(specs []string) ([]MountPoint, error) {
	mounts := []MountPoint{} // inspect shows [], as docker's, for a container without any
	for _, spec := range specs {
		m, err := parseVolumeSpec(spec)
		if err != nil {
			return nil, err
		}
		for _, other := range mounts {
			if other.Destination == m.Destination {
				return nil, fmt.Errorf("duplicate mount point: %q", m.Destination)
			}
		}
		mounts = append(mounts, m)
	}
	return mounts, nil
}

// checkVolumeName applies Docker's rule for volume names, [a-zA-Z0-9][a-zA-Z0-9_.-]*, bounded to 255
// characters: a name is a directory under ROOT/volumes, so no "/", no "..", and no leading "." (the
// store's own unfinished work).
func checkVolumeName(name string) error {
	if !validWord(name, 255) || name[0] == '.' || name[0] == '-' || name[0] == '_' {
		return fmt.Errorf("invalid volume name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-]* is allowed", name)
	}
	return nil
}

// Volume is a volume's record, and what `engine volume inspect` shows, with Docker's names.
type Volume struct {
	CreatedAt  string            // RFC 3339, as Docker shows it
	Driver     string            // "local": a directory on this host
	Labels     map[string]string // an anonymous volume has anonymousLabel, as Docker marks them
	Mountpoint string            // ROOT/volumes/<name>/_data
	Name       string
	Options    map[string]string // always empty: no driver options
	Scope      string            // "local"
}

// anonymousLabel marks a volume made by -v /path, as Docker marks them: `rm -v` removes only those.
const anonymousLabel = "com.docker.volume.anonymous"

func (v *Volume) anonymous() bool { _, ok := v.Labels[anonymousLabel]; return ok }

type VolumeStore struct {
	root    string // ROOT/volumes
	mu      sync.Mutex
	volumes map[string]*Volume
}

// NewVolumeStore reads the volumes under root. Directories starting with "." are creations, seedings or
// removals a killed daemon did not finish: cleared away, so a volume is either whole or absent.
func NewVolumeStore(root string) (*VolumeStore, error) {
	if err := os.MkdirAll(root, 0700); err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(root)
	if err != nil {
		return nil, err
	}
	s := &VolumeStore{root: root, volumes: map[string]*Volume{}}
	for _, entry := range entries {
		path := filepath.Join(root, entry.Name())
		if strings.HasPrefix(entry.Name(), ".") {
			os.RemoveAll(path)
			continue
		}
		v := &Volume{}
		data, err := os.ReadFile(filepath.Join(path, "volume.json"))
		if err == nil {
			err = json.Unmarshal(data, v)
		}
		if err == nil && v.Name != entry.Name() {
			err = errors.New("record does not match its directory")
		}
		if err != nil { // kept: it may hold someone's data
			fmt.Fprintf(os.Stderr, "engine -d: ignoring the volume %s: %v\n", path, err)
			continue
		}
		s.volumes[v.Name] = v
	}
	return s, nil
}

// Create makes the volume name with these labels, or returns it if it exists (created false), as
// `docker volume create` does. An empty name makes an anonymous volume with a random 64-hex name. The
// volume is made under a hidden name and renamed into place once its record is written.
func (s *VolumeStore) Create(name string, labels map[string]string) (v *Volume, created bool, err error) {
	if name == "" {
		name, labels = newID(), map[string]string{anonymousLabel: ""}
	}
	if err := checkVolumeName(name); err != nil {
		return nil, false, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.volumes[name]; v != nil {
		return v, false, nil
	}
	v = &Volume{CreatedAt: time.Now().UTC().Format(time.RFC3339), Driver: "local", Labels: labels,
		Mountpoint: filepath.Join(s.root, name, "_data"), Name: name, Scope: "local"}
	record, _ := json.MarshalIndent(v, "", "\t")
	tmp := filepath.Join(s.root, ".new-"+name)
	err = os.Mkdir(tmp, 0700)
	if err == nil {
		err = os.Mkdir(filepath.Join(tmp, "_data"), 0755)
	}
	if err == nil {
		err = writeFileAtomic(filepath.Join(tmp, "volume.json"), record, 0600)
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(s.root, name))
	}
	if err == nil {
		err = syncDir(s.root)
	}
	if err != nil {
		os.RemoveAll(tmp)
		return nil, false, fmt.Errorf("creating volume %s: %w", name, err)
	}
	s.volumes[name] = v
	return v, true, nil
}

// Get returns the volume name.
func (s *VolumeStore) Get(name string) (*Volume, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if v := s.volumes[name]; v != nil {
		return v, nil
	}
	return nil, fmt.Errorf("no such volume: %s", printable(name))
}

// List returns the volumes in the order of their names.
func (s *VolumeStore) List() []*Volume {
	s.mu.Lock()
	defer s.mu.Unlock()
	list := make([]*Volume, 0, len(s.volumes))
	for _, v := range s.volumes {
		list = append(list, v)
	}
	slices.SortFunc(list, func(a, b *Volume) int { return strings.Compare(a.Name, b.Name) })
	return list
}

// remove forgets a volume and deletes its directory. The rename removes it in one step; its files go
// in the background (a daemon killed meanwhile finishes at NewVolumeStore). The caller has checked that
// no container uses it (runtime_volumes.go).
func (s *VolumeStore) remove(name string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.volumes[name] == nil {
		return fmt.Errorf("no such volume: %s", printable(name))
	}
	hidden := filepath.Join(s.root, ".removing-"+newID()[:16]) // unique: an earlier one may still be going
	if err := os.Rename(filepath.Join(s.root, name), hidden); err != nil {
		return fmt.Errorf("removing volume %s: %w", name, err)
	}
	delete(s.volumes, name)
	go os.RemoveAll(hidden)
	return nil
}

// seed copies the directory src of a container's root (resolved inside it by the caller, while no
// process of the container runs) into the volume name, if the volume is empty, as Docker fills a new
// volume with what the image has at its path. The copy is made in a hidden directory no container can
// reach, then its entries are moved into _data one by one (renameat2 with RENAME_NOREPLACE, relative to
// an open _data): another container may already have the volume mounted, and nothing it does inside
// can redirect a write of ours. The top directory's owner and mode become _data's.
func (s *VolumeStore) seed(name, src string) error {
	info, err := os.Lstat(src)
	if errors.Is(err, fs.ErrNotExist) || (err == nil && !info.IsDir()) {
		return nil // nothing there to copy; a file there makes the mount fail in init
	} else if err != nil {
		return err
	}
	v, err := s.Get(name)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(s.root, ".seed-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	copied := filepath.Join(tmp, "data")
	if err := copyTree(src, copied); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return moveInto(copied, v.Mountpoint)
}

// moveInto moves the entries of dir into the empty directory target and gives target dir's owner and
// mode. A target that is no longer empty is left alone.
func moveInto(dir, target string) error {
	from, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer from.Close()
	to, err := os.OpenFile(target, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer to.Close()
	if _, err := to.Readdirnames(1); err != io.EOF {
		return err // nil: not empty, so not new
	}
	names, err := from.Readdirnames(-1)
	if err != nil {
		return err
	}
	for _, name := range names {
		err := unix.Renameat2(int(from.Fd()), name, int(to.Fd()), name, unix.RENAME_NOREPLACE)
		if err != nil && !errors.Is(err, unix.EEXIST) { // EEXIST: made meanwhile by a container
			return &os.LinkError{Op: "rename", Old: name, New: target, Err: err}
		}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(from.Fd()), &st); err != nil {
		return err
	}
	if err := unix.Fchown(int(to.Fd()), int(st.Uid), int(st.Gid)); err != nil {
		return err
	}
	return unix.Fchmod(int(to.Fd()), st.Mode&07777)
}

// copyTree copies the directory src to dst, which must not exist: directories, regular files (hard
// links kept as links), symlinks (never followed) and FIFOs (never opened), with their owners, modes
// and modification times. Sockets and device nodes are left out, as import refuses them (archive.go).
func copyTree(src, dst string) error {
	c := &treeCopier{links: map[[2]uint64]string{}}
	return c.copy(src, dst)
}

type treeCopier struct {
	links map[[2]uint64]string // device and inode of a file with several links → its first copy
}

func (c *treeCopier) copy(src, dst string) error {
	var st unix.Stat_t
	if err := unix.Lstat(src, &st); err != nil {
		return &fs.PathError{Op: "lstat", Path: src, Err: err}
	}
	var err error
	switch st.Mode & unix.S_IFMT {
	case unix.S_IFDIR:
		err = c.copyDir(src, dst)
	case unix.S_IFREG:
		id := [2]uint64{st.Dev, st.Ino}
		if first, ok := c.links[id]; ok {
			return os.Link(first, dst)
		}
		if st.Nlink > 1 {
			c.links[id] = dst
		}
		err = copyFile(src, dst)
	case unix.S_IFLNK:
		var target string
		if target, err = os.Readlink(src); err == nil {
			err = os.Symlink(target, dst)
		}
	case unix.S_IFIFO:
		err = unix.Mkfifo(dst, 0600)
	default:
		return nil
	}
	if err != nil {
		return err
	}
	return copyAttributes(dst, &st)
}

func (c *treeCopier) copyDir(src, dst string) error {
	if err := os.Mkdir(dst, 0700); err != nil {
		return err
	}
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, entry := range entries {
		if err := c.copy(filepath.Join(src, entry.Name()), filepath.Join(dst, entry.Name())); err != nil {
			return err
		}
	}
	return nil
}

// copyFile copies a regular file's bytes (copy_file_range under io.Copy, so no pass through user space
// where the file system allows). O_NOFOLLOW: src was a regular file when looked at, and stays one.
func copyFile(src, dst string) error {
	in, err := os.OpenFile(src, os.O_RDONLY|unix.O_NOFOLLOW, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// copyAttributes gives dst the owner, mode and times of st; chown first, since it clears set-user-ID.
func copyAttributes(dst string, st *unix.Stat_t) error {
	if err := unix.Lchown(dst, int(st.Uid), int(st.Gid)); err != nil {
		return &fs.PathError{Op: "lchown", Path: dst, Err: err}
	}
	if st.Mode&unix.S_IFMT != unix.S_IFLNK { // a symlink's mode means nothing on Linux
		if err := unix.Chmod(dst, st.Mode&07777); err != nil {
			return &fs.PathError{Op: "chmod", Path: dst, Err: err}
		}
	}
	times := []unix.Timespec{st.Atim, st.Mtim}
	return unix.UtimesNanoAt(unix.AT_FDCWD, dst, times, unix.AT_SYMLINK_NOFOLLOW)
}
