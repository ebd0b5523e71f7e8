// securepath_test.go covers securePath: symlinks and ".." are resolved as if root were "/", never above it.
package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// secureTestRoot makes a root filesystem with the given directories, files and symlinks (name → target).
func secureTestRoot(t *testing.T, dirs, files []string, links map[string]string) string {
	t.Helper()
	root := t.TempDir()
	for _, dir := range dirs {
		if err := os.MkdirAll(filepath.Join(root, dir), 0755); err != nil {
			t.Fatal(err)
		}
	}
	for _, file := range files {
		if err := os.WriteFile(filepath.Join(root, file), []byte(file), 0644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(root, name)); err != nil {
			t.Fatal(err)
		}
	}
	return root
}

func TestSecurePathResolves(t *testing.T) {
	root := secureTestRoot(t,
		[]string{"etc", "usr/lib", "a/b/c", "data"},
		[]string{"etc/shadow", "usr/lib/os-release", "data/file"},
		map[string]string{
			"etc/passwd":     "/etc/shadow",             // absolute: starts again at root
			"etc/os-release": "../usr/lib/os-release",   // relative, from the link's directory
			"a/b/c/up":       "../../../../../../../..", // climbs past root
			"a/b/abs-up":     "/../../..",
			"a/b/escape":     "../../../../../etc/shadow",
			"lib":            "usr/lib", // a symlinked directory in the middle of a path
			"chain1":         "chain2",
			"chain2":         "/chain3",
			"chain3":         "etc/passwd",
			"dangling":       "/no/such/place",
			"dot":            ".",
		})
	tests := []struct {
		path, want string
	}{
		{"", "/"},
		{"/", "/"},
		{".", "/"},
		{"..", "/"},
		{"/../../..", "/"},
		{"../etc/shadow", "/etc/shadow"},
		{"/etc/../../../etc/shadow", "/etc/shadow"},
		{"//etc///shadow/", "/etc/shadow"},
		{"/etc/passwd", "/etc/shadow"},
		{"etc/passwd", "/etc/shadow"},
		{"/etc/os-release", "/usr/lib/os-release"},
		{"/lib/os-release", "/usr/lib/os-release"},
		{"/lib/../etc/shadow", "/usr/etc/shadow"}, // ".." applies to the link's target (/usr/lib), as in the kernel
		{"/a/b/c/up", "/"},
		{"/a/b/c/up/etc/passwd", "/etc/shadow"},
		{"/a/b/abs-up/data", "/data"},
		{"/a/b/escape", "/etc/shadow"},
		{"/chain1", "/etc/shadow"},
		{"/dot/dot/data/file", "/data/file"},
		{"/no/such/file", "/no/such/file"},
		{"/data/missing/deeper", "/data/missing/deeper"},
		{"/dangling", "/no/such/place"},
		{"/dangling/below", "/no/such/place/below"},
	}
	for _, tt := range tests {
		got, err := securePath(root, tt.path)
		if err != nil {
			t.Errorf("securePath(%q): %v", tt.path, err)
			continue
		}
		if want := filepath.Join(root, tt.want); got != want {
			t.Errorf("securePath(%q) = %q, want %q", tt.path, strings.TrimPrefix(got, root), tt.want)
		}
	}
}

func TestSecurePathSymlinkLoops(t *testing.T) {
	root := secureTestRoot(t, []string{"d"}, nil, map[string]string{
		"self": "self",
		"a":    "/b",
		"b":    "a",
		"d/up": "../d/up",
	})
	for _, path := range []string{"/self", "/a", "/b/x", "/d/up", "d/up/../x"} {
		got, err := securePath(root, path)
		if err == nil || !strings.Contains(err.Error(), "too many levels of symbolic links") {
			t.Errorf("securePath(%q) = %q, %v; want a symlink loop error", path, got, err)
		}
	}
}

// Whatever an image holds, the result is root itself or a path below it.
func TestSecurePathStaysUnderRoot(t *testing.T) {
	root := secureTestRoot(t, []string{"x/y"}, nil, map[string]string{
		"x/y/rel":  "../../../../..",
		"x/abs":    "/",
		"x/host":   "/etc",
		"x/parent": "..",
	})
	for _, path := range []string{
		"../../../..", "x/y/rel/..", "x/y/rel/../..", "x/abs/..", "x/host/passwd", "x/parent/../../..",
		"/x/y/rel/x/y/rel/x/abs/../x/parent/..", "x/y/../../../../tmp",
	} {
		got, err := securePath(root, path)
		if err != nil {
			t.Errorf("securePath(%q): %v", path, err)
			continue
		}
		if got != root && !strings.HasPrefix(got, root+"/") {
			t.Errorf("securePath(%q) = %q, outside %q", path, got, root)
		}
	}
}
