package main

// Unit tests of volumes.go: the -v parser, the volume name rule, the store's records (and what a killed
// daemon leaves), and the seeding copy.

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

func TestParseVolumeSpec(t *testing.T) {
	for spec, want := range map[string]MountPoint{
		"/data":               {Type: "volume", Destination: "/data", RW: true},
		"/data:ro":            {Type: "volume", Destination: "/data", Mode: "ro"},
		"/data/:rw":           {Type: "volume", Destination: "/data", Mode: "rw", RW: true},
		"cache:/c":            {Type: "volume", Name: "cache", Destination: "/c", RW: true},
		"my.cache-1_x:/c:ro":  {Type: "volume", Name: "my.cache-1_x", Destination: "/c", Mode: "ro"},
		"/srv/data:/data":     {Type: "bind", Source: "/srv/data", Destination: "/data", RW: true, Propagation: "rprivate"},
		"/srv//a/../b/:/d:ro": {Type: "bind", Source: "/srv/b", Destination: "/d", Mode: "ro", Propagation: "rprivate"},
		"/:/host":             {Type: "bind", Source: "/", Destination: "/host", RW: true, Propagation: "rprivate"},
		"c:/x//y/":            {Type: "volume", Name: "c", Destination: "/x/y", RW: true},
	} {
		got, err := parseVolumeSpec(spec)
		if err != nil || got != want {
			t.Errorf("parseVolumeSpec(%q) = %+v, %v; want %+v", spec, got, err, want)
		}
	}
}

func TestParseVolumeSpecRefuses(t *testing.T) {
	for spec, reason := range map[string]string{
		"":                         "must be absolute",
		"data":                     "must be absolute",
		"/":                        `must not be "/"`,
		"/x:/":                     `must not be "/"`,
		"//":                       `must not be "/"`,
		"v:/a/../..":               `must not contain ".."`,
		"/x:/a/..":                 `must not contain ".."`,
		"/x:../etc":                "must be absolute",
		"/proc":                    "over /proc",
		"/x:/proc/sys":             "over /proc",
		"/x:/y:z":                  `unknown mode "z"`,
		"/x:/y:ro,z":               `unknown mode "ro,z"`,
		"/x:/y:":                   `unknown mode ""`,
		"/x:/y:ro:rw":              "expected [SOURCE:]DESTINATION",
		"./x:/y":                   `invalid volume name "./x"`,
		"x/y:/y":                   `invalid volume name "x/y"`,
		"..:/y":                    `invalid volume name ".."`,
		".hidden:/y":               `invalid volume name ".hidden"`,
		"-v:/y":                    `invalid volume name "-v"`,
		":/y":                      `invalid volume name ""`,
		"a\x00b:/y":                "NUL",
		"/x:/a\x00b":               "NUL",
		strings.Repeat("/a", 5000): "too long",
	} {
		_, err := parseVolumeSpec(spec)
		if err == nil || !strings.Contains(err.Error(), reason) || !strings.HasPrefix(err.Error(), "invalid volume specification") {
			t.Errorf("parseVolumeSpec(%q): %v; want an error with %q", spec, err, reason)
		}
		if err != nil && strings.Contains(err.Error(), "\n") {
			t.Errorf("parseVolumeSpec(%q): a message of several lines: %q", spec, err)
		}
	}
	if _, err := parseVolumeSpec(strings.Repeat("a", 256) + ":/y"); err == nil {
		t.Errorf("a volume name of 256 characters was accepted")
	}
}

func TestParseVolumeSpecsDuplicates(t *testing.T) {
	if _, err := parseVolumeSpecs([]string{"/a:/data", "v:/data/:ro"}); err == nil || err.Error() != `duplicate mount point: "/data"` {
		t.Errorf("two mounts at /data: %v", err)
	}
	if mounts, err := parseVolumeSpecs([]string{"v:/a", "v:/b", "/a/b"}); err != nil || len(mounts) != 3 {
		t.Errorf("one volume at two paths: %v %v", mounts, err)
	}
}

func TestVolumeStore(t *testing.T) {
	root := filepath.Join(t.TempDir(), "volumes")
	s, err := NewVolumeStore(root)
	if err != nil {
		t.Fatal(err)
	}
	v, created, err := s.Create("cache", map[string]string{"k": "v"})
	if err != nil || !created || v.Name != "cache" || v.Driver != "local" || v.Scope != "local" || v.Mountpoint != filepath.Join(root, "cache", "_data") || v.anonymous() {
		t.Fatalf("Create: %+v %v %v", v, created, err)
	}
	if _, created, _ := s.Create("cache", nil); created {
		t.Errorf("a second Create of cache made another")
	}
	anon, _, err := s.Create("", nil)
	if err != nil || len(anon.Name) != 64 || !anon.anonymous() {
		t.Fatalf("anonymous: %+v %v", anon, err)
	}
	if _, _, err := s.Create("../x", nil); err == nil {
		t.Errorf("Create(../x) succeeded")
	}
	if info, err := os.Stat(v.Mountpoint); err != nil || !info.IsDir() {
		t.Errorf("_data: %v", err)
	}
	// What a daemon killed in the middle of a create, a seed or a removal leaves is cleared at start;
	// a directory whose record is unreadable is kept (it may be someone's data) but not listed.
	for _, dir := range []string{".new-half", ".seed-123", ".removing-old", "broken/_data"} {
		os.MkdirAll(filepath.Join(root, dir), 0700)
	}
	s, err = NewVolumeStore(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, v := range s.List() {
		names = append(names, v.Name)
	}
	if want := slices.Sorted(slices.Values([]string{"cache", anon.Name})); !slices.Equal(names, want) {
		t.Errorf("after a restart: %v, want %v", names, want)
	}
	if v, _ := s.Get("cache"); v == nil || v.Labels["k"] != "v" {
		t.Errorf("the record was not read back: %+v", v)
	}
	entries, _ := os.ReadDir(root)
	for _, entry := range entries {
		if strings.HasPrefix(entry.Name(), ".") {
			t.Errorf("left behind: %s", entry.Name())
		}
	}
	if _, err := os.Stat(filepath.Join(root, "broken")); err != nil {
		t.Errorf("a volume without a record was deleted")
	}
	if err := s.remove("cache"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get("cache"); err == nil || err.Error() != "no such volume: cache" {
		t.Errorf("Get after remove: %v", err)
	}
	if err := s.remove("cache"); err == nil {
		t.Errorf("a second remove succeeded")
	}
}

// The seed copies a tree with owners, modes, symlinks (not followed), FIFOs and hard links, gives the
// top directory's owner and mode to _data, and fills a volume only while it is empty.
func TestVolumeSeed(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	os.MkdirAll(filepath.Join(src, "sub"), 0750)
	os.WriteFile(filepath.Join(src, "sub", "file"), []byte("data"), 0640)
	os.Chown(filepath.Join(src, "sub", "file"), 1000, 2000)
	os.WriteFile(filepath.Join(src, "suid"), nil, 0755)
	os.Chmod(filepath.Join(src, "suid"), 0755|os.ModeSetuid)
	os.Link(filepath.Join(src, "sub", "file"), filepath.Join(src, "hardlink"))
	os.Symlink("/etc/shadow", filepath.Join(src, "abs-link"))
	os.Symlink("../..", filepath.Join(src, "sub", "up"))
	unix.Mkfifo(filepath.Join(src, "fifo"), 0620)
	os.Chmod(filepath.Join(src, "fifo"), 0620)
	os.Chown(src, 33, 44)
	os.Chmod(src, 0710)

	s, err := NewVolumeStore(filepath.Join(dir, "volumes"))
	if err != nil {
		t.Fatal(err)
	}
	v, _, _ := s.Create("seeded", nil)
	if err := s.seed("seeded", src); err != nil {
		t.Fatal(err)
	}
	data := v.Mountpoint
	check := func(path string, mode os.FileMode, uid, gid uint32) {
		t.Helper()
		info, err := os.Lstat(filepath.Join(data, path))
		if err != nil {
			t.Errorf("%s: %v", path, err)
			return
		}
		st := info.Sys().(*syscall.Stat_t)
		if info.Mode() != mode || st.Uid != uid || st.Gid != gid {
			t.Errorf("%s: %v %d:%d, want %v %d:%d", path, info.Mode(), st.Uid, st.Gid, mode, uid, gid)
		}
	}
	check("", os.ModeDir|0710, 33, 44)
	check("sub", os.ModeDir|0750, 0, 0)
	check("sub/file", 0640, 1000, 2000)
	check("suid", 0755|os.ModeSetuid, 0, 0)
	check("fifo", os.ModeNamedPipe|0620, 0, 0)
	if content, _ := os.ReadFile(filepath.Join(data, "hardlink")); string(content) != "data" {
		t.Errorf("hardlink: %q", content)
	}
	var a, b unix.Stat_t
	unix.Stat(filepath.Join(data, "hardlink"), &a)
	unix.Stat(filepath.Join(data, "sub", "file"), &b)
	if a.Ino != b.Ino {
		t.Errorf("the hard link became a second file")
	}
	for path, target := range map[string]string{"abs-link": "/etc/shadow", "sub/up": "../.."} {
		if got, err := os.Readlink(filepath.Join(data, path)); got != target {
			t.Errorf("%s: %q %v, want the link %q", path, got, err, target)
		}
	}
	// Not empty any more: a second seed leaves it as it is.
	os.WriteFile(filepath.Join(src, "new"), nil, 0644)
	os.Remove(filepath.Join(data, "fifo"))
	if err := s.seed("seeded", src); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Lstat(filepath.Join(data, "new")); err == nil {
		t.Errorf("a volume that was not empty was seeded again")
	}
	// Nothing at the path, or a file there: nothing to copy.
	w, _, _ := s.Create("nothing", nil)
	for _, path := range []string{filepath.Join(dir, "nosuch"), filepath.Join(src, "suid")} {
		if err := s.seed("nothing", path); err != nil {
			t.Errorf("seed from %s: %v", path, err)
		}
	}
	if entries, _ := os.ReadDir(w.Mountpoint); len(entries) != 0 {
		t.Errorf("seeded from nothing: %v", entries)
	}
	if entries, _ := os.ReadDir(s.root); len(entries) != 2 {
		t.Errorf("the seed left %v", entries)
	}
}
