// spec.go: the container's generated config, in the OCI runtime-spec format.
//
// Docker 0.1 generated an LXC config file for every container and handed it to lxc-start. We generate an
// OCI runtime bundle instead (ROOT/containers/<id>/bundle/config.json, runtime-spec 1.x) and hand it to
// our own init (init.go), which follows it: namespaces, mounts (the kernel's file systems, the -v binds
// and volumes, the /etc files), devices, hostname, user, cwd, env, args, capabilities, and the seccomp
// profile (seccomp.go).
// Because it is the standard format, `runc run` or `crun run` can start the very same bundle; a test does.
//
// Flow: Container.Start → prepare → generateSpec (here) → bundle/config.json → release → Init reads it.
// Only the fields we honour are defined: a field present here is a field our init obeys.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

const ociVersion = "1.0.2"

type Spec struct {
	Version  string  `json:"ociVersion"`
	Process  Process `json:"process"`
	Root     Root    `json:"root"`
	Hostname string  `json:"hostname,omitempty"`
	Mounts   []Mount `json:"mounts"`
	Linux    Linux   `json:"linux"`

	// Annotations carry what the runtime spec has no field for: how init sets up eth0 (network.go).
	Annotations map[string]string `json:"annotations,omitempty"`
}

type Process struct {
	Terminal     bool          `json:"terminal,omitempty"`    // -t: init makes a pty (console.go)
	ConsoleSize  *Box          `json:"consoleSize,omitempty"` // the client's terminal's, at start
	User         User          `json:"user"`
	Args         []string      `json:"args"`
	Env          []string      `json:"env"`
	Cwd          string        `json:"cwd"`
	Capabilities *Capabilities `json:"capabilities,omitempty"`

	// NoNewPrivileges sets the kernel's no_new_privs bit: no execve can gain privileges any more, not
	// through a setuid binary nor file capabilities (PR_SET_NO_NEW_PRIVS in prctl(2)).
	NoNewPrivileges bool `json:"noNewPrivileges,omitempty"`
}

// Box is a terminal's size in character cells.
type Box struct {
	Height uint `json:"height"`
	Width  uint `json:"width"`
}

type User struct {
	UID            uint32   `json:"uid"`
	GID            uint32   `json:"gid"`
	AdditionalGids []uint32 `json:"additionalGids,omitempty"`
}

type Root struct {
	Path     string `json:"path"`
	Readonly bool   `json:"readonly,omitempty"`
}

type Mount struct {
	Destination string   `json:"destination"`
	Type        string   `json:"type"`
	Source      string   `json:"source"`
	Options     []string `json:"options,omitempty"`
}

type Linux struct {
	Namespaces        []Namespace   `json:"namespaces"`
	Devices           []Device      `json:"devices,omitempty"` // beyond defaultDevices, which are implied
	RootfsPropagation string        `json:"rootfsPropagation,omitempty"`
	MaskedPaths       []string      `json:"maskedPaths,omitempty"`
	ReadonlyPaths     []string      `json:"readonlyPaths,omitempty"`
	Seccomp           *LinuxSeccomp `json:"seccomp,omitempty"` // nil: unconfined (seccomp.go)

	// Resources and CgroupsPath describe the container's cgroup (resources.go) so that runc or crun
	// would make the same one. Our init does not read them: the daemon makes the cgroup and puts init in
	// it before releasing it (cgroups.go).
	Resources   *LinuxResources `json:"resources,omitempty"`
	CgroupsPath string          `json:"cgroupsPath,omitempty"`
}

type Namespace struct {
	Type string `json:"type"`
	Path string `json:"path,omitempty"`

	file *os.File // with Path, the namespace itself, held by the daemon for our init (netns.go)
}

type Device struct {
	Path     string      `json:"path"`
	Type     string      `json:"type"`
	Major    int64       `json:"major"`
	Minor    int64       `json:"minor"`
	FileMode os.FileMode `json:"fileMode"`
	UID      uint32      `json:"uid"`
	GID      uint32      `json:"gid"`
}

// defaultDevices is the minimal /dev the runtime spec requires every runtime to supply without being
// asked ("Default Devices"), so the generated config does not list them; a container sees no other
// device node of the host.
var defaultDevices = []Device{
	{Path: "/dev/null", Type: "c", Major: 1, Minor: 3, FileMode: 0666},
	{Path: "/dev/zero", Type: "c", Major: 1, Minor: 5, FileMode: 0666},
	{Path: "/dev/full", Type: "c", Major: 1, Minor: 7, FileMode: 0666},
	{Path: "/dev/random", Type: "c", Major: 1, Minor: 8, FileMode: 0666},
	{Path: "/dev/urandom", Type: "c", Major: 1, Minor: 9, FileMode: 0666},
	{Path: "/dev/tty", Type: "c", Major: 5, Minor: 0, FileMode: 0666},
}

// defaultMounts are the kernel filesystems every container gets, with Docker's options: a fresh /proc for
// the new PID namespace, a tmpfs /dev holding only defaultDevices, a private devpts instance (so the
// container's ptys are not the host's), and /sys read-only.
func defaultMounts() []Mount {
	return []Mount{
		{Destination: "/proc", Type: "proc", Source: "proc", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/dev", Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "strictatime", "mode=755", "size=65536k"}},
		{Destination: "/dev/pts", Type: "devpts", Source: "devpts", Options: []string{"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"}},
		{Destination: "/dev/shm", Type: "tmpfs", Source: "shm", Options: []string{"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}},
		{Destination: "/dev/mqueue", Type: "mqueue", Source: "mqueue", Options: []string{"nosuid", "noexec", "nodev"}},
		{Destination: "/sys", Type: "sysfs", Source: "sysfs", Options: []string{"nosuid", "noexec", "nodev", "ro"}},
	}
}

// defaultMaskedPaths and defaultReadonlyPaths are Docker's: kernel files a container could use to read
// the host's memory, keys or timing secrets (masked: /dev/null over a file, an empty read-only tmpfs over
// a directory), or to change the host's kernel settings (read-only: /proc/sys is not namespaced, so
// writing there would set the host's sysctls; /proc/sysrq-trigger could reboot the host).
var defaultMaskedPaths = []string{
	"/proc/asound", "/proc/acpi", "/proc/interrupts", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
	"/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
	"/sys/devices/virtual/powercap",
}

var defaultReadonlyPaths = []string{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"}

const defaultPath = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

// generateSpec builds the runtime config of a container whose root filesystem is mounted at rootfs.
func (c *Container) generateSpec(rootfs string, namespaces []Namespace) (*Spec, error) {
	user, home, err := resolveUser(rootfs, c.Config.User) // user.go
	if err != nil {
		return nil, err
	}
	volumes, err := c.volumeMounts(rootfs)
	if err != nil {
		return nil, err
	}
	spec := &Spec{
		Version: ociVersion,
		Process: Process{
			User: user,
			Args: append([]string{c.Path}, c.Args...),
			Env:  containerEnv(c.Config.Env, c.Config.Hostname, home),
			Cwd:  c.Config.WorkingDir,

			Capabilities:    containerCapabilities(user.UID, c.HostConfig.CapAdd, c.HostConfig.CapDrop),
			NoNewPrivileges: true,
		},
		Root:     Root{Path: "rootfs", Readonly: c.HostConfig.ReadonlyRootfs},
		Hostname: c.Config.Hostname,
		Mounts:   slices.Concat(defaultMounts(), volumes, c.etcMounts()),
		Linux: Linux{
			Namespaces:        namespaces,
			RootfsPropagation: "private",
			MaskedPaths:       defaultMaskedPaths,
			ReadonlyPaths:     defaultReadonlyPaths,
			Resources:         specResources(c.HostConfig),
			CgroupsPath:       "/" + cgroupParent + "/" + c.ID,
		},
		Annotations: c.runtime.network.Annotations(c),
	}
	if spec.Process.Cwd == "" {
		spec.Process.Cwd = "/"
	}
	if spec.Linux.Seccomp, err = containerSeccomp(c.HostConfig.SecurityOpt, spec.Process.Capabilities); err != nil {
		return nil, err
	}
	spec.Process.Terminal, spec.Process.ConsoleSize = c.Config.Tty, c.consoleSize
	return spec, nil
}

// volumeMounts are the container's -v binds and volumes (volumes.go), parents before children as Docker
// sorts them, read-only recursively with :ro ("rro", rootfs.go). At the first start, each volume is
// first seeded with what the image has at its path, if it is still empty (VolumeStore.seed), as Docker
// does at create: init is held and no process of the container runs yet, so the path, resolved inside
// the root, cannot change under the copy.
func (c *Container) volumeMounts(rootfs string) ([]Mount, error) {
	var mounts []Mount
	for i, m := range c.Mounts {
		if m.CopyData {
			src, err := securePath(rootfs, m.Destination)
			if err == nil && src == rootfs {
				err = errors.New("it resolves to the container's root")
			}
			if err == nil {
				err = c.runtime.volumes.seed(m.Name, src)
			}
			if err != nil {
				return nil, fmt.Errorf("seeding volume %s from %s: %w", m.Name, m.Destination, err)
			}
			c.mu.Lock()
			c.Mounts[i].CopyData = false // recorded by the toDisk that follows prepare
			c.mu.Unlock()
		}
		mounts = append(mounts, m.specMount())
	}
	sortMounts(mounts)
	return mounts, nil
}

// specMount is a -v bind or volume as the runtime spec mounts it.
func (m MountPoint) specMount() Mount {
	options := []string{"rbind", "rprivate"}
	if !m.RW {
		options = append(options, "rro")
	}
	return Mount{Destination: m.Destination, Type: "bind", Source: m.Source, Options: options}
}

// sortMounts puts parents before children, as Docker sorts them.
func sortMounts(mounts []Mount) {
	slices.SortStableFunc(mounts, func(a, b Mount) int {
		return strings.Count(a.Destination, "/") - strings.Count(b.Destination, "/")
	})
}

// etcMounts bind-mounts the files the engine writes for the container over its /etc/hosts,
// /etc/hostname and /etc/resolv.conf, as Docker does, so the image's own copies stay untouched; as
// Docker, not where the user mounts something of their own (-v /srv/hosts:/etc/hosts).
func (c *Container) etcMounts() []Mount {
	var mounts []Mount
	for _, name := range []string{"hosts", "hostname", "resolv.conf"} {
		if slices.ContainsFunc(c.Mounts, func(m MountPoint) bool { return m.Destination == "/etc/"+name }) {
			continue
		}
		mounts = append(mounts, Mount{Destination: "/etc/" + name, Type: "bind", Source: filepath.Join(c.root, name), Options: []string{"rbind", "rprivate"}})
	}
	return mounts
}

// containerEnv is the user's environment plus what Docker always provides: PATH, HOSTNAME and HOME,
// unless the user set them.
func containerEnv(env []string, hostname, home string) []string {
	result := []string{defaultPath, "HOSTNAME=" + hostname}
	if home != "" {
		result = append(result, "HOME="+home)
	}
	for _, kv := range env {
		result = setEnv(result, kv)
	}
	return result
}

func setEnv(env []string, kv string) []string {
	name, _, _ := strings.Cut(kv, "=")
	for i, existing := range env {
		if existingName, _, _ := strings.Cut(existing, "="); existingName == name {
			env[i] = kv
			return env
		}
	}
	return append(env, kv)
}
