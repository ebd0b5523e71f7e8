package main

import (
	"archive/tar"
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// copyInto is a placer that unpacks into dir, renaming the top entry from → to.
func copyInto(dir, from, to string) copyPlacer {
	return func(*tar.Header) (string, string, string, error) { return dir, from, to, nil }
}

// TestUnpackCopyHostile: what a hostile container can put in the tar the client unpacks on the host.
// Every defence of a layer's unpacking holds, in a destination that is not empty, plus a copy's own.
func TestUnpackCopyHostile(t *testing.T) {
	for _, tc := range []struct {
		name    string
		entries func(outside string) []archEntry
		want    string
	}{
		{"dotdot name", func(string) []archEntry { return []archEntry{archFile("../outside/secret", "pwned", 0o644)} }, `".."`},
		{"file through a symlink", func(o string) []archEntry {
			return []archEntry{archSymlink("lnk", o), archFile("lnk/secret", "pwned", 0o644)}
		}, "path escapes through symlink"},
		{"file through a relative symlink", func(string) []archEntry {
			return []archEntry{archSymlink("lnk", "../outside"), archFile("lnk/secret", "pwned", 0o644)}
		}, "path escapes through symlink"},
		{"device", func(string) []archEntry { return []archEntry{archOther(tar.TypeChar, "null")} }, "device nodes are not allowed"},
		{"hard link to a file already there", func(string) []archEntry {
			return []archEntry{archHardlink("stolen", "old")}
		}, "not a file this copy wrote"},
		{"hard link out through the destination", func(string) []archEntry {
			return []archEntry{archHardlink("stolen", "../outside/secret")}
		}, `".."`},
		{"directory over a file", func(string) []archEntry { return []archEntry{archDir("old/", 0o755)} }, "would replace non-directory"},
		{"file over a directory", func(string) []archEntry { return []archEntry{archFile("olddir", "x", 0o644)} }, "would replace directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir, outside := archSetup(t)
			os.WriteFile(filepath.Join(dir, "old"), []byte("mine"), 0o600)
			os.Mkdir(filepath.Join(dir, "olddir"), 0o755)
			before, mine := archSnapshot(t, outside), archSnapshot(t, dir)
			err := UnpackCopy(bytes.NewReader(archTar(t, tc.entries(outside)...)), true, copyInto(dir, "", ""))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			}
			if after := archSnapshot(t, outside); after != before {
				t.Errorf("outside changed:\n%s\nwant:\n%s", after, before)
			}
			if after := archSnapshot(t, dir); !strings.HasPrefix(after, mine[:strings.Index(mine, "\n")]) || !strings.Contains(after, "old mode=100600 owner=0:0 nlink=1") {
				t.Errorf("the destination's own files changed:\n%s", after)
			}
		})
	}
}

// TestUnpackCopyAbsoluteName: an absolute name is a path in the copy, as in a layer ("/x" is x), never
// the host's.
func TestUnpackCopyAbsoluteName(t *testing.T) {
	dir, outside := archSetup(t)
	before := archSnapshot(t, outside)
	if err := UnpackCopy(bytes.NewReader(archTar(t, archFile(filepath.Join(outside, "secret"), "mine", 0o644))), true, copyInto(dir, "", "")); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(filepath.Join(dir, outside, "secret")); err != nil || string(got) != "mine" {
		t.Errorf("the absolute name in the destination: %q, %v", got, err)
	}
	if after := archSnapshot(t, outside); after != before {
		t.Errorf("outside changed:\n%s\nwant:\n%s", after, before)
	}
}

// TestUnpackCopyRebase: the copied tree takes its name at the destination, and may hold nothing else.
func TestUnpackCopyRebase(t *testing.T) {
	dir, _ := archSetup(t)
	data := archTar(t, archDir("log/", 0o750), archFile("log/a", "A", 0o644), archHardlink("log/b", "log/a"), archFile("log/.wh.c", "", 0o644))
	if err := UnpackCopy(bytes.NewReader(data), true, copyInto(dir, "log", "logs")); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{"logs/a": "A", "logs/b": "A", "logs/.wh.c": ""} {
		if got, err := os.ReadFile(filepath.Join(dir, name)); err != nil || string(got) != want {
			t.Errorf("%s: %q, %v", name, got, err)
		}
	}
	if st := archStat(t, filepath.Join(dir, "logs")); st.Mode&0o7777 != 0o750 {
		t.Errorf("logs: mode %o, want 750 (set once its entries are in)", st.Mode&0o7777)
	}
	outside := archTar(t, archFile("log/a", "A", 0o644), archFile("other", "x", 0o644))
	if err := UnpackCopy(bytes.NewReader(outside), true, copyInto(dir, "log", "x")); err == nil || !strings.Contains(err.Error(), `outside the copied "log"`) {
		t.Errorf("an entry beside the copied tree: %v", err)
	}
	// A directory's contents make their new directory even when there are none.
	if err := UnpackCopy(bytes.NewReader(archTar(t)), true, copyInto(dir, "", "empty")); err != nil {
		t.Fatal(err)
	}
	if st := archStat(t, filepath.Join(dir, "empty")); st.Mode&unix.S_IFMT != unix.S_IFDIR {
		t.Errorf("empty: not made")
	}
}

// TestUnpackCopyOwners: on the host the files are the user's and lose setuid bits and capabilities; in
// a container they are its root's.
func TestUnpackCopyOwners(t *testing.T) {
	entry := archFile("tool", "#!", 0o6755)
	entry.hdr.Uid, entry.hdr.Gid = 1234, 5678
	entry.hdr.PAXRecords = map[string]string{"SCHILY.xattr.security.capability": "\x01\x00\x00\x02\x00\x20\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"}
	for _, onHost := range []bool{true, false} {
		dir, _ := archSetup(t)
		if err := UnpackCopy(bytes.NewReader(archTar(t, entry)), onHost, copyInto(dir, "", "")); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(dir, "tool")
		st := archStat(t, p)
		capability := make([]byte, 64)
		n, err := unix.Lgetxattr(p, "security.capability", capability)
		if err != nil {
			n = 0
		}
		wantMode, wantCap := uint32(0o755), 0
		if !onHost {
			wantMode, wantCap = 0o6755, 20
		}
		if st.Uid != 0 || st.Gid != 0 || st.Mode&0o7777 != wantMode || n != wantCap {
			t.Errorf("onHost=%v: owner %d:%d mode %o capability %d bytes; want 0:0 %o %d", onHost, st.Uid, st.Gid, st.Mode&0o7777, n, wantMode, wantCap)
		}
	}
}

func TestUnpackCopyTruncated(t *testing.T) {
	dir, _ := archSetup(t)
	data := archTar(t, archFile("a", strings.Repeat("x", 2048), 0o644), archFile("b", "y", 0o644))
	cut := data[:512+2048] // a's header and content, then nothing: a sender that died
	if err := UnpackCopy(bytes.NewReader(cut), true, copyInto(dir, "", "")); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Errorf("a stream cut between entries: %v", err)
	}
}
