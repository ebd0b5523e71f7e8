package main

import (
	"errors"
	"testing"
)

func TestSplitCpArg(t *testing.T) {
	for arg, want := range map[string][2]string{
		"web:/etc/hosts":  {"web", "/etc/hosts"},
		"web:relative":    {"web", "relative"},
		"/abs/a:b":        {"", "/abs/a:b"},
		"./file:name.txt": {"", "./file:name.txt"},
		"plain":           {"", "plain"},
		"-":               {"", "-"},
	} {
		if c, p := splitCpArg(arg); c != want[0] || p != want[1] {
			t.Errorf("splitCpArg(%q) = %q, %q; want %q, %q", arg, c, p, want[0], want[1])
		}
	}
}

func TestContainerPathAndSource(t *testing.T) {
	for in, want := range map[string]struct {
		path, clean, name string
		contents, wantDir bool
	}{
		"etc":        {"/etc", "/etc", "etc", false, false},
		"/etc/":      {"/etc/", "/etc", "etc", false, true},
		"/etc/.":     {"/etc/.", "/etc", "", true, true},
		".":          {"/", "/", "", true, true},
		"/":          {"/", "/", "", true, true},
		"..":         {"/", "/", "", true, true},
		"a/../b/":    {"/b/", "/b", "b", false, true},
		"/x/../../y": {"/y", "/y", "y", false, false},
	} {
		p := containerPath(in)
		src := parseCopySource(p)
		if p != want.path || src.path != want.clean || src.name != want.name || src.contents != want.contents || src.wantDir != want.wantDir {
			t.Errorf("%q: containerPath %q, source %+v; want %+v", in, p, src, want)
		}
	}
}

// TestPlaceCopy is Docker's table (the `docker cp` reference's "behaviour" list).
func TestPlaceCopy(t *testing.T) {
	file, dir, contents := parseCopySource("/src/f"), parseCopySource("/src/d"), parseCopySource("/src/d/.")
	for _, tt := range []struct {
		what     string
		dst      copyDestination
		src      copySource
		srcIsDir bool
		dir      string
		name     string
		err      error
	}{
		{"file to a new name", copyDestination{path: "/a/new"}, file, false, "/a", "new", nil},
		{"file to a new dir/", copyDestination{path: "/a/new/"}, file, false, "", "", errDirNotExists},
		{"file over a file", copyDestination{path: "/a/g", exists: true}, file, false, "/a", "g", nil},
		{"file into a dir", copyDestination{path: "/a/d/", exists: true, isDir: true}, file, false, "/a/d", "f", nil},
		{"dir to a new name", copyDestination{path: "/a/new/"}, dir, true, "/a", "new", nil},
		{"dir over a file", copyDestination{path: "/a/g", exists: true}, dir, true, "", "", errCopyDir},
		{"dir into a dir", copyDestination{path: "/a/d", exists: true, isDir: true}, dir, true, "/a/d", "d", nil},
		{"contents into a dir", copyDestination{path: "/a/d", exists: true, isDir: true}, contents, true, "/a/d", ".", nil},
		{"contents to a new name", copyDestination{path: "/a/new"}, contents, true, "/a", "new", nil},
		{"into the root", copyDestination{path: "/", exists: true, isDir: true}, file, false, "/", "f", nil},
	} {
		d, name, err := placeCopy(tt.dst, tt.src, tt.srcIsDir)
		if d != tt.dir || name != tt.name || !errors.Is(err, tt.err) {
			t.Errorf("%s: placeCopy = %q, %q, %v; want %q, %q, %v", tt.what, d, name, err, tt.dir, tt.name, tt.err)
		}
	}
}
