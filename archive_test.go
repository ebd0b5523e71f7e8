package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"math/rand"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// archEntry is one tar entry for the in-memory test archives.
type archEntry struct {
	hdr  tar.Header
	body string
}

func archFile(name, body string, mode int64) archEntry {
	return archEntry{tar.Header{Typeflag: tar.TypeReg, Name: name, Mode: mode}, body}
}

func archDir(name string, mode int64) archEntry {
	return archEntry{hdr: tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: mode}}
}

func archSymlink(name, target string) archEntry {
	return archEntry{hdr: tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777}}
}

func archHardlink(name, target string) archEntry {
	return archEntry{hdr: tar.Header{Typeflag: tar.TypeLink, Name: name, Linkname: target}}
}

func archOther(typ byte, name string) archEntry {
	return archEntry{hdr: tar.Header{Typeflag: typ, Name: name, Mode: 0o644}}
}

// archTar builds a tarball in memory; entries without a time get a fixed one.
func archTar(t testing.TB, entries ...archEntry) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, e := range entries {
		hdr := e.hdr
		hdr.Size = int64(len(e.body))
		if hdr.ModTime.IsZero() && hdr.Typeflag != tar.TypeXGlobalHeader {
			hdr.ModTime = time.Unix(1_600_000_000, 0)
		}
		if err := tw.WriteHeader(&hdr); err != nil {
			t.Fatalf("WriteHeader %q: %v", hdr.Name, err)
		}
		if _, err := tw.Write([]byte(e.body)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func archGzip(t testing.TB, data []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	zw.Write(data)
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// archSetup returns an empty layer dir and a sibling "outside" dir holding a
// file, which hostile archives aim at.
func archSetup(t *testing.T) (dir, outside string) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("unpacking needs root (chown, mknod, trusted xattrs)")
	}
	root := t.TempDir()
	dir, outside = filepath.Join(root, "layer"), filepath.Join(root, "outside")
	for _, d := range []string{dir, outside} {
		if err := os.Mkdir(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(outside, "secret"), []byte("original"), 0o600); err != nil {
		t.Fatal(err)
	}
	return dir, outside
}

// archSnapshot describes every path under root (type, mode, owner, link
// count, xattrs, content or link target), to prove an unpack left it alone.
func archSnapshot(t *testing.T, root string) string {
	t.Helper()
	var sb strings.Builder
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		var st unix.Stat_t
		if err := unix.Lstat(p, &st); err != nil {
			return err
		}
		xattrs := make([]byte, 4096)
		n, _ := unix.Llistxattr(p, xattrs)
		rel, _ := filepath.Rel(root, p)
		fmt.Fprintf(&sb, "%s mode=%o owner=%d:%d nlink=%d mtime=%d xattrs=%q", rel, st.Mode, st.Uid, st.Gid, st.Nlink, st.Mtim.Sec, xattrs[:n])
		switch {
		case d.Type().IsRegular():
			b, _ := os.ReadFile(p)
			sb.WriteString(" " + string(b))
		case d.Type()&fs.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			sb.WriteString(" -> " + l)
		}
		sb.WriteString("\n")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return sb.String()
}

func archStat(t *testing.T, p string) unix.Stat_t {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Lstat(p, &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func archDigest(b []byte) string {
	sum := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(sum[:])
}

func TestUnpackTree(t *testing.T) {
	dir, _ := archSetup(t)
	t1, t2 := time.Unix(1_500_000_000, 0), time.Unix(1_400_000_000, 0)
	own := func(e archEntry, uid, gid int) archEntry { e.hdr.Uid, e.hdr.Gid = uid, gid; return e }
	at := func(e archEntry, tm time.Time) archEntry { e.hdr.ModTime = tm; return e }
	xattrs := archFile("./xattrs", "", 0o644)
	xattrs.hdr.PAXRecords = map[string]string{
		"SCHILY.xattr.user.comment":          "hello",
		"SCHILY.xattr.trusted.overlay.redir": "/evil", // must be ignored
	}
	data := archTar(t,
		own(archDir("./", 0o750), 0, 1000),
		at(archDir("./bin/", 0o755), t1),
		at(own(archFile("./bin/sh", "#!shell", 0o4755), 0, 0), t2),
		archHardlink("./bin/bash", "./bin/sh"),
		at(archSymlink("./bin/sh.lnk", "sh"), t1),
		archSymlink("./abs", "/etc/passwd"),
		archSymlink("./up", "../../../x"),
		own(archFile("etc/passwd", "root:x:0:0", 0o644), 1, 2), // implicit etc/, no "./"
		archFile("./usr/local/lib/x.so", "ELF", 0o755),         // deep implicit parents
		archDir("./tmp/", 0o1777),
		own(archDir("./shared/", 0o2775), 0, 50),
		archOther(tar.TypeFifo, "./run/fifo"),
		xattrs,
	)
	id, err := Unpack(bytes.NewReader(data), dir)
	if err != nil {
		t.Fatal(err)
	}
	if id != archDigest(data) {
		t.Errorf("DiffID %s, want %s", id, archDigest(data))
	}

	for name, want := range map[string]string{"bin/sh": "#!shell", "bin/bash": "#!shell", "etc/passwd": "root:x:0:0", "usr/local/lib/x.so": "ELF"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s: %q, %v; want %q", name, b, err, want)
		}
	}
	modes := map[string]uint32{
		".": unix.S_IFDIR | 0o750, "bin": unix.S_IFDIR | 0o755, "bin/sh": unix.S_IFREG | 0o4755,
		"etc": unix.S_IFDIR | 0o755, "usr/local": unix.S_IFDIR | 0o755, "tmp": unix.S_IFDIR | 0o1777,
		"shared": unix.S_IFDIR | 0o2775, "run/fifo": unix.S_IFIFO | 0o644, "bin/sh.lnk": unix.S_IFLNK | 0o777,
	}
	for name, want := range modes {
		if st := archStat(t, filepath.Join(dir, name)); st.Mode != want {
			t.Errorf("%s: mode %o, want %o", name, st.Mode, want)
		}
	}
	for name, want := range map[string][2]uint32{".": {0, 1000}, "etc/passwd": {1, 2}, "shared": {0, 50}} {
		if st := archStat(t, filepath.Join(dir, name)); st.Uid != want[0] || st.Gid != want[1] {
			t.Errorf("%s: owner %d:%d, want %d:%d", name, st.Uid, st.Gid, want[0], want[1])
		}
	}
	for name, want := range map[string]time.Time{"bin": t1, "bin/sh": t2, "bin/sh.lnk": t1} {
		if st := archStat(t, filepath.Join(dir, name)); st.Mtim.Sec != want.Unix() {
			t.Errorf("%s: mtime %d, want %d", name, st.Mtim.Sec, want.Unix())
		}
	}
	for name, want := range map[string]string{"bin/sh.lnk": "sh", "abs": "/etc/passwd", "up": "../../../x"} {
		if got, err := os.Readlink(filepath.Join(dir, name)); err != nil || got != want {
			t.Errorf("%s -> %q, %v; want %q", name, got, err, want)
		}
	}
	if sh, bash := archStat(t, filepath.Join(dir, "bin/sh")), archStat(t, filepath.Join(dir, "bin/bash")); sh.Ino != bash.Ino {
		t.Errorf("bin/bash is not a hardlink of bin/sh")
	}
	buf := make([]byte, 64)
	if n, err := unix.Lgetxattr(filepath.Join(dir, "xattrs"), "user.comment", buf); err != nil || string(buf[:n]) != "hello" {
		t.Errorf("user.comment = %q, %v", buf[:n], err)
	}
	if _, err := unix.Lgetxattr(filepath.Join(dir, "xattrs"), "trusted.overlay.redir", buf); err == nil {
		t.Errorf("trusted.* xattr from the archive was applied")
	}
}

// git archive starts with a PAX global header; it is metadata, not a file.
func TestUnpackGlobalHeader(t *testing.T) {
	dir, _ := archSetup(t)
	global := archEntry{hdr: tar.Header{Typeflag: tar.TypeXGlobalHeader, PAXRecords: map[string]string{"comment": "0123abcd"}}}
	data := archTar(t, global, archFile("a", "x", 0o644))
	if _, err := Unpack(bytes.NewReader(data), dir); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "a" {
		t.Errorf("layer holds %v, want just a", entries)
	}
}

func TestUnpackGzipAndDiffID(t *testing.T) {
	plain := archTar(t, archFile("a", "hello", 0o644), archDir("d/", 0o755))
	// Real tar tools pad to a 10 KiB record; the DiffID must cover it too.
	padded := append(append([]byte{}, plain...), make([]byte, 10240-len(plain)%10240)...)
	want := archDigest(padded)
	for _, in := range []struct {
		name string
		data []byte
	}{{"plain", padded}, {"gzip", archGzip(t, padded)}, {"plain again", padded}} {
		dir, _ := archSetup(t)
		id, err := Unpack(bytes.NewReader(in.data), dir)
		if err != nil {
			t.Fatalf("%s: %v", in.name, err)
		}
		if id != want {
			t.Errorf("%s: DiffID %s, want %s", in.name, id, want)
		}
		if b, err := os.ReadFile(filepath.Join(dir, "a")); err != nil || string(b) != "hello" {
			t.Errorf("%s: a = %q, %v", in.name, b, err)
		}
	}
}

// "x", "./x" and "/x" are one path, as GNU tar and Docker read them: an
// absolute name is the layer's own, never the host's.
func TestUnpackOnePath(t *testing.T) {
	dir, outside := archSetup(t)
	before := archSnapshot(t, outside)
	data := archTar(t,
		archDir("/etc/", 0o755),
		archFile("./etc/a", "first", 0o644),
		archFile("/etc/a", "second", 0o644),
		archFile("etc/a", "third", 0o644),
		archFile("//etc//b", "b", 0o600),
		archFile(filepath.Join(outside, "secret"), "the layer's", 0o644),
		archHardlink("etc/c", "/etc/b"),
		archDir("/", 0o711),
	)
	if _, err := Unpack(bytes.NewReader(data), dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"etc/a": "third", "etc/b": "b", "etc/c": "b", filepath.Join(outside, "secret"): "the layer's"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if st := archStat(t, dir); st.Mode != unix.S_IFDIR|0o711 {
		t.Errorf("the layer's root (entry \"/\"): mode %o", st.Mode)
	}
	if after := archSnapshot(t, outside); after != before {
		t.Errorf("outside changed:\n%s\nwant:\n%s", after, before)
	}
}

// Replacing an entry is legal, but must never write through the old one.
func TestUnpackReplace(t *testing.T) {
	dir, outside := archSetup(t)
	before := archSnapshot(t, outside)
	data := archTar(t,
		archSymlink("f", filepath.Join(outside, "secret")),
		archFile("f", "new", 0o644),
		archSymlink("g", "../outside/secret"),
		archFile("g", "new", 0o644),
		archFile("h", "file first", 0o644),
		archDir("h/", 0o755),
		archFile("h/child", "x", 0o644),
		archDir("h/", 0o700), // a directory is merged, not replaced
	)
	if _, err := Unpack(bytes.NewReader(data), dir); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"f": "new", "g": "new", "h/child": "x"} {
		if b, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(b) != want {
			t.Errorf("%s = %q, %v; want %q", name, b, err, want)
		}
	}
	if st := archStat(t, filepath.Join(dir, "h")); st.Mode != unix.S_IFDIR|0o700 {
		t.Errorf("h: mode %o", st.Mode)
	}
	if after := archSnapshot(t, outside); after != before {
		t.Errorf("outside changed:\n%s\nwant:\n%s", after, before)
	}
}

func TestUnpackHostile(t *testing.T) {
	dev := func(typ byte) archEntry {
		e := archOther(typ, "dev/sda")
		e.hdr.Devmajor, e.hdr.Devminor = 8, 0
		return e
	}
	tests := []struct {
		name    string
		entries func(outside string) []archEntry
		want    string
	}{
		{"dotdot name", func(o string) []archEntry {
			return []archEntry{archFile("../outside/secret", "pwned", 0o644)}
		}, `".."`},
		{"dotdot inside name", func(o string) []archEntry {
			return []archEntry{archFile("a/../../outside/new", "pwned", 0o644)}
		}, `".."`},
		{"file through absolute symlink", func(o string) []archEntry {
			return []archEntry{archSymlink("lnk", o), archFile("lnk/secret", "pwned", 0o644)}
		}, `path escapes through symlink "lnk"`},
		{"file through relative symlink", func(o string) []archEntry {
			return []archEntry{archSymlink("lnk", "../outside"), archFile("lnk/new", "pwned", 0o644)}
		}, `path escapes through symlink "lnk"`},
		{"dir through nested symlink", func(o string) []archEntry {
			return []archEntry{archDir("a/", 0o755), archSymlink("a/lnk", o), archDir("a/lnk/sub/", 0o755)}
		}, `path escapes through symlink "a/lnk"`},
		{"symlink through symlink", func(o string) []archEntry {
			return []archEntry{archSymlink("lnk", o), archSymlink("lnk/secret", "/etc/shadow")}
		}, "path escapes through symlink"},
		{"whiteout through symlink", func(o string) []archEntry {
			return []archEntry{archSymlink("lnk", o), archFile("lnk/.wh.secret", "", 0o644)}
		}, "path escapes through symlink"},
		{"opaque marker through symlink", func(o string) []archEntry {
			return []archEntry{archSymlink("lnk", o), archFile("lnk/.wh..wh..opq", "", 0o644)}
		}, "path escapes through symlink"},
		{"dotdot whiteout", func(o string) []archEntry {
			return []archEntry{archFile("d/.wh...", "", 0o644)}
		}, "invalid whiteout"},
		{"dot whiteout", func(o string) []archEntry {
			return []archEntry{archFile("d/.wh..", "", 0o644)}
		}, "invalid whiteout"},
		{"parent is a file", func(o string) []archEntry {
			return []archEntry{archFile("f", "", 0o644), archFile("f/x", "", 0o644)}
		}, "not a directory"},
		{"directory replaced by file", func(o string) []archEntry {
			return []archEntry{archDir("d/", 0o755), archFile("d/keep", "x", 0o644), archFile("d", "", 0o644)}
		}, "would replace directory"},
		{"directory replaced by symlink", func(o string) []archEntry {
			return []archEntry{archDir("d/", 0o755), archSymlink("d", o)}
		}, "would replace directory"},
		{"root replaced by symlink", func(o string) []archEntry {
			return []archEntry{archSymlink("./", o)}
		}, "would replace directory"},
		{"hardlink absolute target", func(o string) []archEntry {
			return []archEntry{archHardlink("h", filepath.Join(o, "secret"))} // the layer's own path
		}, "does not exist"},
		{"hardlink dotdot target", func(o string) []archEntry {
			return []archEntry{archHardlink("h", "../outside/secret")}
		}, `".."`},
		{"hardlink through symlink", func(o string) []archEntry {
			return []archEntry{archSymlink("lnk", o), archHardlink("h", "lnk/secret")}
		}, "path escapes through symlink"},
		{"hardlink to missing target", func(o string) []archEntry {
			return []archEntry{archHardlink("h", "nope")}
		}, "does not exist"},
		{"hardlink to directory", func(o string) []archEntry {
			return []archEntry{archDir("d/", 0o755), archHardlink("h", "d")}
		}, "is a directory"},
		{"hardlink replaces directory", func(o string) []archEntry {
			return []archEntry{archFile("f", "", 0o644), archDir("d/", 0o755), archHardlink("d", "f")}
		}, "would replace directory"},
		{"char device", func(o string) []archEntry { return []archEntry{dev(tar.TypeChar)} }, "device nodes are not allowed"},
		{"block device", func(o string) []archEntry { return []archEntry{dev(tar.TypeBlock)} }, "device nodes are not allowed"},
		{"char device as whiteout", func(o string) []archEntry {
			return []archEntry{archOther(tar.TypeChar, "x")}
		}, "device nodes are not allowed"},
		{"unknown type", func(o string) []archEntry {
			return []archEntry{archOther('Q', "weird")}
		}, "unsupported entry type"},
		{"contiguous file type", func(o string) []archEntry {
			return []archEntry{archOther(tar.TypeCont, "cont")}
		}, "unsupported entry type"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, outside := archSetup(t)
			before := archSnapshot(t, outside)
			data := archTar(t, tc.entries(outside)...)
			_, err := Unpack(bytes.NewReader(data), dir)
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "archive: ") {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
			if after := archSnapshot(t, outside); after != before {
				t.Errorf("outside changed:\n%s\nwant:\n%s", after, before)
			}
		})
	}
}

func TestUnpackHardlinkToSymlink(t *testing.T) {
	// link(2) links the symlink itself, so this stays inside the layer.
	dir, outside := archSetup(t)
	before := archSnapshot(t, outside)
	data := archTar(t, archSymlink("lnk", filepath.Join(outside, "secret")), archHardlink("h", "lnk"))
	if _, err := Unpack(bytes.NewReader(data), dir); err != nil {
		t.Fatal(err)
	}
	if st := archStat(t, filepath.Join(dir, "h")); st.Mode&unix.S_IFMT != unix.S_IFLNK {
		t.Errorf("h: mode %o, want a symlink", st.Mode)
	}
	if after := archSnapshot(t, outside); after != before {
		t.Errorf("outside changed:\n%s\nwant:\n%s", after, before)
	}
}

func TestUnpackRequiresEmptyDir(t *testing.T) {
	dir, _ := archSetup(t)
	os.WriteFile(filepath.Join(dir, "old"), nil, 0o644)
	if _, err := Unpack(bytes.NewReader(archTar(t)), dir); err == nil {
		t.Error("unpacking into a non-empty dir succeeded")
	}
}

func TestUnpackGarbage(t *testing.T) {
	dir, _ := archSetup(t)
	reset := func() {
		os.RemoveAll(dir)
		os.Mkdir(dir, 0o755)
	}
	mustFail := func(what string, data []byte) {
		t.Helper()
		reset()
		if _, err := Unpack(bytes.NewReader(data), dir); err == nil {
			t.Errorf("%s (%d bytes): no error", what, len(data))
		}
	}
	mustFail("empty input", nil)
	rng := rand.New(rand.NewSource(1))
	for _, n := range []int{1, 2, 511, 512, 1024, 4096} {
		junk := make([]byte, n)
		rng.Read(junk)
		mustFail("random bytes", junk)
		mustFail("gzip magic then random bytes", append([]byte{0x1f, 0x8b}, junk...))
	}
	plain := archTar(t, archDir("d/", 0o755), archFile("d/f", strings.Repeat("x", 700), 0o644), archSymlink("l", "d"))
	// Cuts between entries (n%512 == 0) must fail too: archive/tar alone
	// would take them for a shorter archive.
	for n := 1; n < len(plain); n++ {
		mustFail("truncated tar", plain[:n])
	}
	// A last file ending in zeros, cut right after it, must fail too: its zeros are no end marker.
	zeroEnded := archTar(t, archFile("zeros", strings.Repeat("\x00", 4096), 0o644))
	for n := 512 + 1024; n < len(zeroEnded); n += 512 {
		mustFail("a tar cut after a file of zeros", zeroEnded[:n])
	}
	// gzip carries a length and checksum, so every cut must fail.
	zipped := archGzip(t, plain)
	for n := 1; n < len(zipped); n++ {
		mustFail("truncated gzip", zipped[:n])
	}
	corrupt := bytes.Clone(zipped)
	corrupt[len(corrupt)-5] ^= 0xff // inside the CRC32/size trailer
	mustFail("gzip with bad checksum", corrupt)
}

// FuzzUnpack checks that no input panics or writes outside the layer dir.
func FuzzUnpack(f *testing.F) {
	f.Add([]byte{})
	f.Add([]byte{0x1f, 0x8b, 0, 0})
	f.Add(archTar(f, archFile("a", "b", 0o644), archSymlink("l", "/"), archHardlink("h", "a")))
	f.Add(archTar(f, archSymlink("l", ".."), archFile("l/x", "", 0o644)))
	f.Add(archGzip(f, archTar(f, archSymlink("l", "../outside"), archFile("l/.wh.secret", "", 0o644))))
	f.Fuzz(func(t *testing.T, data []byte) {
		dir, outside := archSetup(t)
		before := archSnapshot(t, outside)
		Unpack(bytes.NewReader(data), dir)
		if after := archSnapshot(t, outside); after != before {
			t.Errorf("outside changed:\n%s\nwant:\n%s", after, before)
		}
	})
}

// TestTarEndZeros: the zeros at the end are counted across writes of any size, and a write of zeros
// longer than two blocks is not scanned to its start.
func TestTarEndZeros(t *testing.T) {
	for _, tt := range []struct {
		writes   []string // "z:N" N zeros, "x:N" N bytes ending in a non-zero one
		complete bool
	}{
		{[]string{"x:512", "z:1024"}, true},
		{[]string{"x:512", "z:512", "z:512"}, true},
		{[]string{"x:512", "z:300", "z:300", "z:424"}, true},
		{[]string{"x:512", "z:1023"}, false},
		{[]string{"z:4096", "x:512"}, false},
		{[]string{"x:512", "z:1<<20"}, true},
		{[]string{"z:1<<20", "x:1536", "z:512"}, false},
		{[]string{"x:1536", "z:512", "z:512"}, true},
		{[]string{"x:100", "z:1024"}, false}, // not a whole number of blocks
	} {
		var e tarEnd
		for _, w := range tt.writes {
			kind, size, _ := strings.Cut(w, ":")
			n := map[string]int{"1<<20": 1 << 20}[size]
			if n == 0 {
				n, _ = strconv.Atoi(size)
			}
			p := make([]byte, n)
			if kind == "x" {
				p[n-1] = 1
			}
			e.Write(p)
		}
		if e.complete() != tt.complete {
			t.Errorf("writes %v: complete %v, want %v", tt.writes, e.complete(), tt.complete)
		}
	}
}
