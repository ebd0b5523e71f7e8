// spec_test.go covers spec.go: containerEnv, and the parts of generateSpec that come from the
// container's config (the user's ids come from user.go, whose tests share specTestRootfs and the files below).
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
