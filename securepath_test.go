// securepath_test.go covers securePath and openInRoot: symlinks and ".." are resolved as if root were "/",
// never above it, and openInRoot opens regular files only.
package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
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

// openInRoot reads regular files inside root, through any symlink the image holds, and nothing else:
// not a host file a link names, not a FIFO (opening one would block), not a directory.
func TestOpenInRoot(t *testing.T) {
	host := filepath.Join(t.TempDir(), "shadow") // a file outside the root, standing for the host's
	if err := os.WriteFile(host, []byte("host"), 0600); err != nil {
		t.Fatal(err)
	}
	root := secureTestRoot(t, []string{"etc", "a/b"}, []string{"etc/shadow"}, map[string]string{
		"etc/passwd": "/etc/shadow",
		"a/b/up":     "../../../../../etc/shadow",
		"etc/host":   host,
		"etc/climb":  "../../../../../../.." + host,
	})
	if err := unix.Mkfifo(filepath.Join(root, "etc/fifo"), 0644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{"/etc/shadow", "etc/passwd", "/a/b/up", "/../../etc/shadow"} {
		f, err := openInRoot(root, path)
		if err != nil {
			t.Errorf("openInRoot(%q): %v", path, err)
			continue
		}
		data, err := io.ReadAll(f)
		f.Close()
		if err != nil || string(data) != "etc/shadow" {
			t.Errorf("openInRoot(%q) read %q, %v; want the root's etc/shadow", path, data, err)
		}
	}
	for path, want := range map[string]string{
		"/etc/host":  "no such file or directory",
		"/etc/climb": "no such file or directory",
		"/etc/fifo":  "/etc/fifo: not a regular file",
		"/etc":       "/etc: not a regular file",
	} {
		if f, err := openInRoot(root, path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("openInRoot(%q) = %v, %v; want %q", path, f, err, want)
			if f != nil {
				f.Close()
			}
		}
	}
}
