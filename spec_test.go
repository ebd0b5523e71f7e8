// spec_test.go covers spec.go: resolveUser against an image's own passwd and group files (never the
// host's), containerEnv, and the parts of generateSpec that come from the container's config.
package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const specTestPasswd = `root:x:0:0:root:/root:/bin/sh
daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
# a comment
alice:x:1000:1000:Alice:/home/alice:/bin/sh
bob:x:1001:1001::/home/bob:/bin/sh
short:x:7
`

const specTestGroup = `root:x:0:
daemon:x:1:
wheel:x:10:alice,bob
staff:x:50:alice
audio:x:29:bob
alice:x:1000:
bob:x:1001:
`

// specTestRootfs makes a root filesystem with the given files (path → content) and symlinks.
func specTestRootfs(t *testing.T, files, links map[string]string) string {
	t.Helper()
	rootfs := t.TempDir()
	for name, content := range files {
		path := filepath.Join(rootfs, name)
		if err := os.MkdirAll(filepath.Dir(path), 0755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0644); err != nil {
			t.Fatal(err)
		}
	}
	for name, target := range links {
		path := filepath.Join(rootfs, name)
		if err := os.MkdirAll(filepath.Dir(path), 0755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, path); err != nil {
			t.Fatal(err)
		}
	}
	return rootfs
}

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
		{"-1", "unable to find user -1"},
		{"alice:nogroup", "unable to find group nogroup"},
		{"1000:-5", "unable to find group -5"},
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

func TestEnvContainer(t *testing.T) {
	tests := []struct {
		name           string
		env            []string
		hostname, home string
		want           []string
	}{
		{"defaults", nil, "abc", "/root", []string{defaultPath, "HOSTNAME=abc", "HOME=/root"}},
		{"no home", nil, "abc", "", []string{defaultPath, "HOSTNAME=abc"}},
		{"user variables follow", []string{"A=1", "B="}, "h", "/", []string{defaultPath, "HOSTNAME=h", "HOME=/", "A=1", "B="}},
		{"user PATH wins", []string{"PATH=/opt/bin"}, "h", "/root", []string{"PATH=/opt/bin", "HOSTNAME=h", "HOME=/root"}},
		{"user HOSTNAME wins", []string{"HOSTNAME=mine"}, "h", "/root", []string{defaultPath, "HOSTNAME=mine", "HOME=/root"}},
		{"user HOME wins", []string{"HOME=/data"}, "h", "/root", []string{defaultPath, "HOSTNAME=h", "HOME=/data"}},
		{"user HOME without a passwd home", []string{"HOME=/data"}, "h", "", []string{defaultPath, "HOSTNAME=h", "HOME=/data"}},
		{"last of a repeated variable wins", []string{"A=1", "A=2"}, "h", "", []string{defaultPath, "HOSTNAME=h", "A=2"}},
		{"names are whole", []string{"PATHX=1", "PAT=2"}, "h", "", []string{defaultPath, "HOSTNAME=h", "PATHX=1", "PAT=2"}},
		{"values may hold =", []string{"OPTS=a=b"}, "h", "", []string{defaultPath, "HOSTNAME=h", "OPTS=a=b"}},
	}
	for _, tt := range tests {
		env := slices.Clone(tt.env)
		if got := containerEnv(env, tt.hostname, tt.home); !slices.Equal(got, tt.want) {
			t.Errorf("%s: containerEnv(%q, %q, %q) = %q, want %q", tt.name, tt.env, tt.hostname, tt.home, got, tt.want)
		}
		if !slices.Equal(env, tt.env) {
			t.Errorf("%s: containerEnv changed the user's environment to %q", tt.name, env)
		}
	}
}

func TestSpecGenerate(t *testing.T) {
	rootfs := specTestRootfs(t, map[string]string{"etc/passwd": specTestPasswd, "etc/group": specTestGroup}, nil)
	newContainer := func(config *Config, network string) *Container {
		return &Container{
			ID: strings.Repeat("c", 64), Path: config.Cmd[0], Args: config.Cmd[1:], Config: config,
			HostConfig: &HostConfig{NetworkMode: network},
			root:       "/var/lib/engine/containers/" + strings.Repeat("c", 64),
			runtime:    &Runtime{network: &NetworkManager{}},
		}
	}

	generate := func(c *Container) (*Spec, error) {
		namespaces, err := c.runtime.network.Namespaces(c, []Namespace{{Type: "pid"}, {Type: "mount"}})
		if err != nil {
			return nil, err
		}
		return c.generateSpec(rootfs, namespaces)
	}
	c := newContainer(&Config{Hostname: "box", User: "alice", Env: []string{"X=1"}, Cmd: []string{"sh", "-c", "echo hi"}}, "none")
	spec, err := generate(c)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Version != ociVersion || spec.Root.Path != "rootfs" || spec.Hostname != "box" {
		t.Errorf("version %q, root %q, hostname %q", spec.Version, spec.Root.Path, spec.Hostname)
	}
	p := spec.Process
	if !slices.Equal(p.Args, []string{"sh", "-c", "echo hi"}) || p.Cwd != "/" || p.User.UID != 1000 || p.User.GID != 1000 {
		t.Errorf("process %+v", p)
	}
	if want := []string{defaultPath, "HOSTNAME=box", "HOME=/home/alice", "X=1"}; !slices.Equal(p.Env, want) {
		t.Errorf("env %q, want %q", p.Env, want)
	}
	if !specHasNamespace(spec, "network") || !specHasNamespace(spec, "pid") || !specHasNamespace(spec, "mount") {
		t.Errorf("namespaces %+v", spec.Linux.Namespaces)
	}
	destinations := map[string]string{}
	for _, m := range spec.Mounts {
		destinations[m.Destination] = m.Source
	}
	for _, dest := range []string{"/proc", "/dev", "/sys", "/etc/hosts", "/etc/hostname", "/etc/resolv.conf"} {
		if _, ok := destinations[dest]; !ok {
			t.Errorf("no mount on %s", dest)
		}
	}
	if got := destinations["/etc/hostname"]; got != filepath.Join(c.root, "hostname") {
		t.Errorf("/etc/hostname comes from %s", got)
	}

	host := newContainer(&Config{Hostname: "h", WorkingDir: "/srv", Cmd: []string{"true"}}, "host")
	spec, err = generate(host)
	if err != nil {
		t.Fatal(err)
	}
	if spec.Process.Cwd != "/srv" || specHasNamespace(spec, "network") || spec.Process.User.UID != 0 {
		t.Errorf("host network: cwd %q, namespaces %+v, user %+v", spec.Process.Cwd, spec.Linux.Namespaces, spec.Process.User)
	}

	if _, err := generate(newContainer(&Config{User: "nobody", Cmd: []string{"true"}}, "none")); err == nil {
		t.Error("generateSpec with an unknown user succeeded")
	}
}

func specHasNamespace(spec *Spec, kind string) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == kind {
			return true
		}
	}
	return false
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
