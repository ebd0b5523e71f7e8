// user_test.go covers user.go: resolveUser against an image's own passwd and group files, and against
// hostile ones: FIFOs and devices in their place, a file too big to read, malformed ids, `-u` numbers
// out of range, and a symlink swapped to a host file while the daemon reads.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func TestResolveUser(t *testing.T) {
	rootfs := specTestRootfs(t, map[string]string{"etc/passwd": specTestPasswd, "etc/group": specTestGroup}, nil)
	tests := []struct {
		spec string
		user User
		home string
	}{
		{"", User{UID: 0, GID: 0}, "/root"},
		{"root", User{UID: 0, GID: 0}, "/root"},
		{"0", User{UID: 0, GID: 0}, "/root"},
		{"daemon", User{UID: 1, GID: 1}, "/usr/sbin"},
		{"alice", User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 50}}, "/home/alice"},
		{"1000", User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 50}}, "/home/alice"},
		{"bob", User{UID: 1001, GID: 1001, AdditionalGids: []uint32{10, 29}}, "/home/bob"},
		{"alice:staff", User{UID: 1000, GID: 50, AdditionalGids: []uint32{10}}, "/home/alice"},
		{"alice:wheel", User{UID: 1000, GID: 10, AdditionalGids: []uint32{50}}, "/home/alice"},
		{"1000:50", User{UID: 1000, GID: 50, AdditionalGids: []uint32{10}}, "/home/alice"},
		{"alice:777", User{UID: 1000, GID: 777, AdditionalGids: []uint32{10, 50}}, "/home/alice"},
		{"bob:root", User{UID: 1001, GID: 0, AdditionalGids: []uint32{10, 29}}, "/home/bob"},
		{":staff", User{UID: 0, GID: 50}, "/root"},
		{"4242:4242", User{UID: 4242, GID: 4242}, "/"}, // a uid the image does not know: home is /
		{"4242", User{UID: 4242, GID: 0}, "/"},         // ... and group 0, as with Docker and runc
	}
	for _, tt := range tests {
		user, home, err := resolveUser(rootfs, tt.spec)
		if err != nil {
			t.Errorf("resolveUser(%q): %v", tt.spec, err)
			continue
		}
		if user.UID != tt.user.UID || user.GID != tt.user.GID || !slices.Equal(user.AdditionalGids, tt.user.AdditionalGids) || home != tt.home {
			t.Errorf("resolveUser(%q) = %+v, %q; want %+v, %q", tt.spec, user, home, tt.user, tt.home)
		}
	}
}

func TestResolveUserErrors(t *testing.T) {
	rootfs := specTestRootfs(t, map[string]string{"etc/passwd": specTestPasswd, "etc/group": specTestGroup}, nil)
	tests := []struct{ spec, want string }{
		{"nobody", "unable to find user nobody"},
		{"Alice", "unable to find user Alice"},
		{"short", "unable to find user short"}, // a passwd line with too few fields names nobody
		{"-1", `invalid user "-1": uids and gids must be in range 0-2147483647`},
		{"alice:nogroup", "unable to find group nogroup"},
		{"1000:-5", `invalid group "-5": uids and gids must be in range 0-2147483647`},
		{"nobody:staff", "unable to find user nobody"},
	}
	for _, tt := range tests {
		if user, _, err := resolveUser(rootfs, tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("resolveUser(%q) = %+v, %v; want %q", tt.spec, user, err, tt.want)
		}
	}
}

// An image without /etc/passwd or /etc/group still runs as root, or as a numeric uid.
func TestResolveUserWithoutPasswd(t *testing.T) {
	rootfs := t.TempDir()
	if user, home, err := resolveUser(rootfs, ""); err != nil || user.UID != 0 || user.GID != 0 || home != "/root" {
		t.Errorf("resolveUser(\"\") = %+v, %q, %v", user, home, err)
	}
	if user, home, err := resolveUser(rootfs, "1000:1000"); err != nil || user.UID != 1000 || user.GID != 1000 || home != "/" {
		t.Errorf("resolveUser(1000:1000) = %+v, %q, %v", user, home, err)
	}
	if _, _, err := resolveUser(rootfs, "alice"); err == nil {
		t.Error("resolveUser(alice) without passwd succeeded")
	}
	if _, _, err := resolveUser(rootfs, "0:wheel"); err == nil {
		t.Error("resolveUser(0:wheel) without group succeeded")
	}
}

// An image's /etc/passwd that is a symlink to a host path is read inside the image, as the kernel
// would read it in the container: the host's file of that name is never consulted.
func TestResolveUserSymlinkedPasswdStaysInRootfs(t *testing.T) {
	host := t.TempDir() // stands for the host's /etc: an absolute path that exists outside the rootfs
	hostPasswd := filepath.Join(host, "passwd")
	hostGroup := filepath.Join(host, "group")
	if err := os.WriteFile(hostPasswd, []byte("alice:x:6666:6666::/host-home:/bin/sh\n"), 0644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(hostGroup, []byte("hostgroup:x:6667:alice\n"), 0644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name         string
		passwdTarget string
		groupTarget  string
	}{
		{"absolute links", hostPasswd, hostGroup},
		{"relative links climbing out", "../../../../../../../../.." + hostPasswd, "../../../../../../../../.." + hostGroup},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rootfs := specTestRootfs(t,
				map[string]string{
					hostPasswd: "alice:x:2000:2000::/inside:/bin/sh\n", // the same path, inside the image
					hostGroup:  "imagegroup:x:2001:alice\n",
				},
				map[string]string{"etc/passwd": tt.passwdTarget, "etc/group": tt.groupTarget})
			user, home, err := resolveUser(rootfs, "alice")
			if err != nil {
				t.Fatal(err)
			}
			if user.UID != 2000 || user.GID != 2000 || home != "/inside" || !slices.Equal(user.AdditionalGids, []uint32{2001}) {
				t.Errorf("resolveUser(alice) = %+v, %q; want the image's alice (2000, /inside, groups [2001])", user, home)
			}
			if _, _, err := resolveUser(rootfs, "alice:hostgroup"); err == nil {
				t.Error("a group of the host's file was found")
			}
		})
	}
}

// A passwd link to a host file with no copy inside the image finds nothing, rather than the host's file.
func TestResolveUserDanglingLinkIgnoresHost(t *testing.T) {
	hostPasswd := filepath.Join(t.TempDir(), "passwd")
	if err := os.WriteFile(hostPasswd, []byte("alice:x:6666:6666::/host-home:/bin/sh\n"), 0644); err != nil {
		t.Fatal(err)
	}
	rootfs := specTestRootfs(t, nil, map[string]string{"etc/passwd": hostPasswd})
	if user, home, err := resolveUser(rootfs, "alice"); err == nil {
		t.Errorf("resolveUser(alice) = %+v, %q from the host's file", user, home)
	}
}

// Two names for one uid: the groups are those of the name given.
func TestResolveUserGroupsOfTheNameGiven(t *testing.T) {
	rootfs := specTestRootfs(t, map[string]string{
		"etc/passwd": "root:x:0:0:root:/root:/bin/sh\ntoor:x:0:0:toor:/root:/bin/sh\n",
		"etc/group":  "root:x:0:\nwheel:x:10:toor\n",
	}, nil)
	user, _, err := resolveUser(rootfs, "toor")
	if err != nil || !slices.Equal(user.AdditionalGids, []uint32{10}) {
		t.Errorf("resolveUser(toor) = %+v, %v; want additional group 10", user, err)
	}
}

// resolveUserWithin runs resolveUser with a deadline, so that a lookup that blocks fails the test
// instead of hanging it.
func resolveUserWithin(t *testing.T, rootfs, spec string) (User, string, error) {
	t.Helper()
	type result struct {
		user User
		home string
		err  error
	}
	done := make(chan result, 1)
	go func() {
		user, home, err := resolveUser(rootfs, spec)
		done <- result{user, home, err}
	}()
	select {
	case r := <-done:
		return r.user, r.home, r.err
	case <-time.After(20 * time.Second):
		t.Fatalf("resolveUser(%q) still blocked after 20s", spec)
		return User{}, "", nil
	}
}

// A FIFO, a device node or a directory where passwd or group should be is refused at once: opening a FIFO
// would block until a writer came (never), and opening a device could read a terminal of the host.
func TestResolveUserRefusesNonRegularFiles(t *testing.T) {
	makers := map[string]func(path string) error{
		"fifo":      func(path string) error { return unix.Mkfifo(path, 0644) },
		"device":    func(path string) error { return unix.Mknod(path, unix.S_IFCHR|0644, int(unix.Mkdev(1, 3))) },
		"directory": func(path string) error { return os.Mkdir(path, 0755) },
	}
	for kind, makeIt := range makers {
		for _, file := range []string{"passwd", "group"} {
			t.Run(kind+" "+file, func(t *testing.T) {
				rootfs := specTestRootfs(t, map[string]string{"etc/passwd": specTestPasswd, "etc/group": specTestGroup}, nil)
				path := filepath.Join(rootfs, "etc", file)
				if err := os.Remove(path); err != nil {
					t.Fatal(err)
				}
				if err := makeIt(path); err != nil {
					t.Fatal(err)
				}
				if kind == "fifo" { // if the lookup does block, a writer releases it when the test ends
					t.Cleanup(func() {
						if fd, err := unix.Open(path, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
							unix.Close(fd)
						}
					})
				}
				user, _, err := resolveUserWithin(t, rootfs, "alice")
				if err == nil || !strings.Contains(err.Error(), "/etc/"+file+": not a regular file") {
					t.Errorf("resolveUser(alice) = %+v, %v; want /etc/%s: not a regular file", user, err, file)
				}
			})
		}
	}
}

// A passwd beyond the size limit is refused after reading at most the limit, and a line beyond the line
// limit is refused after reading that line: the daemon never holds more than a line of it.
func TestResolveUserBoundedRead(t *testing.T) {
	line := "user:x:4000:4000::/home/user:/bin/sh\n"
	big := strings.Repeat(line, maxColonFileSize/len(line)+1)
	rootfs := specTestRootfs(t, map[string]string{"etc/passwd": "alice:x:1000:1000::/home/alice:/bin/sh\n" + big}, nil)
	if user, _, err := resolveUserWithin(t, rootfs, "nobody"); err == nil || !strings.Contains(err.Error(), "/etc/passwd is larger than 16 MiB") {
		t.Errorf("resolveUser(nobody) in a %d-byte passwd = %+v, %v; want a size error", len(big), user, err)
	}
	// A user found before the limit is found: only the lines up to it are read.
	if user, _, err := resolveUserWithin(t, rootfs, "alice"); err != nil || user.UID != 1000 {
		t.Errorf("resolveUser(alice) = %+v, %v", user, err)
	}

	// 300 MB without a newline (a sparse file: no disk is used) ends at the first 64 KiB.
	rootfs = specTestRootfs(t, map[string]string{"etc/passwd": ""}, nil)
	if err := os.Truncate(filepath.Join(rootfs, "etc/passwd"), 300<<20); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if user, _, err := resolveUserWithin(t, rootfs, "nobody"); err == nil || !strings.Contains(err.Error(), "/etc/passwd: a line is longer than 65536 bytes") {
		t.Errorf("resolveUser(nobody) in a 300 MB line = %+v, %v; want a line length error", user, err)
	}
	t.Logf("300 MB passwd refused in %v", time.Since(start))
}

// A passwd entry whose uid or gid is not a plain number from 0 to 2^31-1 is refused when it is the entry
// asked for: parsed loosely, "-2" or "4294967296" would become uid 0.
func TestResolveUserMalformedEntries(t *testing.T) {
	rootfs := specTestRootfs(t, map[string]string{
		"etc/passwd": specTestPasswd +
			"nobody:x:-2:-2:old convention:/:/bin/sh\n" +
			"wrap:x:4294967296:0::/:/bin/sh\n" +
			"minus1:x:4294967295:0::/:/bin/sh\n" +
			"signed:x:2147483648:0::/:/bin/sh\n" +
			"spaced:x: 1000:1000::/:/bin/sh\n" +
			"trailing:x:1000 :1000::/:/bin/sh\n" +
			"plus:x:+5:5::/:/bin/sh\n" +
			"hex:x:0x10:0::/:/bin/sh\n" +
			"empty:x::0::/:/bin/sh\n" +
			"badgid:x:3000:-1::/:/bin/sh\n" +
			"hugegid:x:3001:99999999999::/:/bin/sh\n",
		"etc/group": specTestGroup +
			"nogroup:x:-2:\n" +
			"maxgroup:x:4294967295:\n" +
			"evil:x:-1:bob\n",
	}, nil)
	for _, spec := range []string{"nobody", "wrap", "minus1", "signed", "spaced", "trailing", "plus", "hex", "empty", "badgid", "hugegid",
		"alice:nogroup", "alice:maxgroup", "bob"} {
		user, _, err := resolveUserWithin(t, rootfs, spec)
		if err == nil || !strings.Contains(err.Error(), "uids and gids must be in range 0-2147483647") {
			t.Errorf("resolveUser(%q) = %+v, %v; want a range error", spec, user, err)
		}
	}
	// A malformed line that is not asked for is no one's business.
	if user, _, err := resolveUserWithin(t, rootfs, "alice"); err != nil || user.UID != 1000 || !slices.Equal(user.AdditionalGids, []uint32{10, 50}) {
		t.Errorf("resolveUser(alice) = %+v, %v", user, err)
	}
	// A numeric -u matches entries by value, never a malformed one.
	if user, home, err := resolveUserWithin(t, rootfs, "4294967294"); err == nil {
		t.Errorf("resolveUser(4294967294) = %+v, %q", user, home)
	}
}

// `-u` numbers: ids are 0 to 2^31-1 as runc requires. 4294967295 is (uid_t)-1, which setresuid(2) takes
// for "leave unchanged": it ran the command as root.
func TestResolveUserNumbers(t *testing.T) {
	rootfs := specTestRootfs(t, map[string]string{"etc/passwd": specTestPasswd, "etc/group": specTestGroup}, nil)
	valid := []struct {
		spec string
		user User
	}{
		{"2147483647", User{UID: 2147483647}},
		{"2147483647:2147483647", User{UID: 2147483647, GID: 2147483647}},
		{"0:0", User{}},
		{"01000", User{UID: 1000, GID: 1000, AdditionalGids: []uint32{10, 50}}}, // a number, compared as one
		{":2147483647", User{GID: 2147483647}},
	}
	for _, tt := range valid {
		user, _, err := resolveUser(rootfs, tt.spec)
		if err != nil || user.UID != tt.user.UID || user.GID != tt.user.GID || !slices.Equal(user.AdditionalGids, tt.user.AdditionalGids) {
			t.Errorf("resolveUser(%q) = %+v, %v; want %+v", tt.spec, user, err, tt.user)
		}
	}
	invalid := []struct{ spec, want string }{
		{"4294967295", "uids and gids must be in range 0-2147483647"},
		{"4294967296", "uids and gids must be in range 0-2147483647"},
		{"2147483648", "uids and gids must be in range 0-2147483647"},
		{"99999999999999999999999", "uids and gids must be in range 0-2147483647"},
		{"-1", "uids and gids must be in range 0-2147483647"},
		{"+1", "uids and gids must be in range 0-2147483647"},
		{" 1000", "uids and gids must be in range 0-2147483647"},
		{"1000 ", "uids and gids must be in range 0-2147483647"},
		{"0:4294967295", "uids and gids must be in range 0-2147483647"},
		{"0:-1", "uids and gids must be in range 0-2147483647"},
		{"alice:-5", "uids and gids must be in range 0-2147483647"},
		{"alice:", `invalid user "alice:": want USER[:GROUP]`},
		{":", `invalid user ":": want USER[:GROUP]`},
		{"alice:staff:x", `invalid user "alice:staff:x": want USER[:GROUP]`},
	}
	for _, tt := range invalid {
		if user, _, err := resolveUser(rootfs, tt.spec); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("resolveUser(%q) = %+v, %v; want %q", tt.spec, user, err, tt.want)
		}
	}
}

// The container swaps its /etc/passwd between a file and a symlink to a host file while the daemon
// looks users up: the host's file (here one outside the root, standing for the host's /etc/shadow) is
// never read, whatever the timing.
func TestResolveUserSwappedSymlinkNeverReadsTheHost(t *testing.T) {
	hostShadow := filepath.Join(t.TempDir(), "shadow")
	if err := os.WriteFile(hostShadow, []byte("alice:x:6666:6666::/host:/bin/sh\n"), 0600); err != nil {
		t.Fatal(err)
	}
	rootfs := specTestRootfs(t, map[string]string{"etc/passwd": specTestPasswd, "etc/group": specTestGroup}, nil)
	etc := filepath.Join(rootfs, "etc")
	// Two ready-made entries that rename(2) swaps in atomically, as a container can.
	if err := os.WriteFile(filepath.Join(etc, "passwd.file"), []byte(specTestPasswd), 0644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			link := filepath.Join(etc, fmt.Sprintf("passwd.link%d", i%2))
			os.Remove(link)
			os.Symlink(hostShadow, link)
			os.Rename(link, filepath.Join(etc, "passwd"))
			os.Link(filepath.Join(etc, "passwd.file"), filepath.Join(etc, "passwd.new"))
			os.Rename(filepath.Join(etc, "passwd.new"), filepath.Join(etc, "passwd"))
		}
	}()
	defer wg.Wait()
	defer close(stop)
	found := 0
	for i := 0; i < 4000; i++ {
		user, home, err := resolveUser(rootfs, "alice")
		if err == nil && (user.UID == 6666 || home == "/host") {
			t.Fatalf("lookup %d read the host's file: %+v, %q", i, user, home)
		}
		if err == nil {
			found++
		}
	}
	if found == 0 {
		t.Error("the image's own alice was never found")
	}
}
