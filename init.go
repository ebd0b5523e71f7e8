// init.go: the first process of every container, on the container's side of the fence.
//
// Container.Start execs this binary again as `engine init` (like `runc init`, or Docker 0.1's sysinit)
// with clone flags that put it in new mount, UTS, IPC and PID namespaces, and a new network namespace
// unless the container shares the host's (`--net host`) or joins another's (`--net container:X`,
// which init enters itself, joinNamespaces). Its working directory is the container's OCI bundle, and
// fd 3 is one end of a socket pair shared with the daemon: the sync pipe (with `--net container:X`,
// fd 4 is X's network namespace, held open by the daemon: netns.go). Init then
//
//  1. waits on the sync pipe until the daemon has finished its side (its cgroup, the veth pair, the config);
//  2. follows bundle/config.json (spec.go): another container's network joined, or its own set up (no
//     router advertisements, eth0 and lo, while /proc/sys is still writable), the root's mount
//     propagation, the kernel filesystems and the /etc files mounted under the root, the default
//     devices, pivot_root, read-only and masked kernel files, the terminal with -t (its master goes to
//     the daemon, console.go), hostname, cwd, user, capabilities and no_new_privs;
//  3. installs the seccomp filter (seccomp_bpf.go) and execve()s the user's command, which so becomes
//     PID 1 of the container.
//
// If a step fails, init writes {status, message} to the sync pipe and exits; the daemon turns that into the
// error `engine run` prints (125, or 126/127 when the command cannot be run, as Docker does). When execve
// succeeds, the close-on-exec sync pipe closes and the daemon reads EOF: that is "started".
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

const (
	initPipeEnv = "_ENGINE_INIT_PIPE" // set by the daemon for `engine init`; its value is the fd number
	initPipeFd  = 3
)

// initError is what init reports to the daemon on the sync pipe when it cannot start the command.
type initError struct {
	Status  int    `json:"status"`
	Message string `json:"message"`
}

func Init() int {
	// Everything from here to execve happens on this one OS thread: the credentials set by switchUser are
	// per-thread in the kernel, and execve must come from the thread that has them.
	runtime.LockOSThread()
	pipe := os.NewFile(initPipeFd, "sync")
	if _, err := pipe.Read(make([]byte, 1)); err != nil {
		return 125 // the daemon went away before releasing us: there is no one to report to
	}
	status, err := initContainer()
	report, _ := json.Marshal(initError{Status: status, Message: err.Error()})
	pipe.Write(report)
	return status
}

// initContainer only returns when something failed; on success execve replaces this process.
func initContainer() (int, error) {
	spec, err := readSpec("config.json")
	if err != nil {
		return 125, err
	}
	if err := joinNamespaces(spec); err != nil {
		return 125, err
	}
	if hasNamespace(spec, "network") { // before setupRootfs makes /proc/sys read-only
		if err := setupContainerNetwork(spec); err != nil {
			return 125, err
		}
	}
	if err := setupRootfs(spec); err != nil {
		return 125, err
	}
	if spec.Process.Terminal { // after pivot_root: the pty must come from the container's own devpts
		if err := setupConsole(spec.Process); err != nil {
			return 125, err
		}
	}
	if err := unix.Sethostname([]byte(spec.Hostname)); err != nil && spec.Hostname != "" {
		return 125, fmt.Errorf("sethostname: %w", err)
	}
	if err := enterWorkdir(spec.Process.Cwd); err != nil {
		return 125, err
	}
	if err := limitBoundingSet(spec.Process.Capabilities); err != nil {
		return 125, err
	}
	if err := switchUser(spec.Process.User); err != nil {
		return 125, err
	}
	if err := applyCapabilities(spec.Process.Capabilities); err != nil {
		return 125, err
	}
	if spec.Process.NoNewPrivileges {
		if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
			return 125, fmt.Errorf("no_new_privs: %w", err)
		}
	}
	filter, err := buildSeccompFilter(spec.Linux.Seccomp)
	if err != nil {
		return 125, err
	}
	return execCommand(spec.Process, filter)
}

func readSpec(path string) (*Spec, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var spec Spec
	if err := json.Unmarshal(data, &spec); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if spec.Process.Capabilities == nil { // absent means none, as runc and crun read it
		spec.Process.Capabilities = &Capabilities{}
	}
	return &spec, nil
}

// joinNamespaces enters the namespaces the spec names by path (`--net container:X`). The path is for
// runc and crun; ours is not opened here, where it may by now name another process's namespace, but
// the namespace the daemon opened and checked when it chose X is fd 4 (netns.go). setns(2) of a network
// namespace is per thread, which is enough: this locked thread mounts /sys and execs the command.
func joinNamespaces(spec *Spec) error {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Path == "" {
			continue
		}
		if ns.Type != "network" {
			return fmt.Errorf("joining a %s namespace is not supported", ns.Type)
		}
		err := unix.Setns(joinedNamespaceFd, unix.CLONE_NEWNET) // EINVAL if fd 4 is not a network namespace
		unix.Close(joinedNamespaceFd)
		if err != nil {
			return fmt.Errorf("joining the network namespace of %s: %w", ns.Path, err)
		}
	}
	return nil
}

func hasNamespace(spec *Spec, kind string) bool {
	for _, ns := range spec.Linux.Namespaces {
		if ns.Type == kind && ns.Path == "" {
			return true
		}
	}
	return false
}

// setupRootfs builds the container's mount table and makes the root filesystem "/".
func setupRootfs(spec *Spec) error {
	// Our mount namespace is a copy of the host's; with shared propagation, every mount below would also
	// appear on the host. The spec's rootfsPropagation (private, from generateSpec; slave would still let
	// the host's new mounts in) cuts that link for every mount at once. Shared is refused: it is the link.
	propagation, ok := propagationOptions[spec.Linux.RootfsPropagation]
	if spec.Linux.RootfsPropagation == "" {
		propagation, ok = unix.MS_PRIVATE, true
	}
	if !ok {
		return fmt.Errorf("rootfsPropagation %q is not supported", spec.Linux.RootfsPropagation)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|propagation, ""); err != nil {
		return fmt.Errorf("making / %s: %w", spec.Linux.RootfsPropagation, err)
	}
	rootfs, err := filepath.Abs(spec.Root.Path)
	if err != nil {
		return err
	}
	// pivot_root needs the new root to be a mount point; a bind mount onto itself makes it one.
	if err := unix.Mount(rootfs, rootfs, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind-mounting the root: %w", err)
	}
	for _, m := range spec.Mounts {
		if err := mountInto(rootfs, m); err != nil {
			return fmt.Errorf("mounting %s: %w", m.Destination, err)
		}
	}
	if err := createDevices(rootfs, append(defaultDevices, spec.Linux.Devices...)); err != nil {
		return err
	}
	if err := pivotRoot(rootfs); err != nil {
		return err
	}
	if err := makeReadonly(spec.Linux.ReadonlyPaths); err != nil {
		return err
	}
	if err := maskPaths(spec.Linux.MaskedPaths); err != nil {
		return err
	}
	if spec.Root.Readonly { // `--read-only`: the root itself; /dev, /proc and the /etc files stay as mounted
		return unix.Mount("", "/", "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, "")
	}
	return nil
}

// makeReadonly bind-mounts each path onto itself and remounts the bind read-only: the files stay
// readable, and writing to them fails with EROFS whatever the process's capabilities. A path this kernel
// lacks is skipped, as runc does.
func makeReadonly(paths []string) error {
	for _, path := range paths {
		if _, err := os.Stat(path); errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err := unix.Mount(path, path, "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", path, err)
		}
		if err := unix.Mount("", path, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY|unix.MS_REC, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", path, err)
		}
	}
	return nil
}

// maskPaths hides each path: /dev/null is bind-mounted over a file (it reads as empty), an empty
// read-only tmpfs over a directory. Both are done after pivot_root, on the container's fresh /proc
// and /sys, so no path can lead outside.
func maskPaths(paths []string) error {
	for _, path := range paths {
		info, err := os.Stat(path)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return fmt.Errorf("masking %s: %w", path, err)
		}
		if info.IsDir() {
			err = unix.Mount("tmpfs", path, "tmpfs", unix.MS_RDONLY, "")
		} else {
			err = unix.Mount("/dev/null", path, "", unix.MS_BIND, "")
		}
		if err != nil {
			return fmt.Errorf("masking %s: %w", path, err)
		}
	}
	return nil
}

// mountOptions maps the runtime spec's mount options to mount(2) flags; what is not a flag is passed to
// the filesystem as data (mode=755, size=65536k, newinstance, ...).
var mountOptions = map[string]uintptr{
	"ro": unix.MS_RDONLY, "nosuid": unix.MS_NOSUID, "nodev": unix.MS_NODEV, "noexec": unix.MS_NOEXEC,
	"strictatime": unix.MS_STRICTATIME, "relatime": unix.MS_RELATIME, "noatime": unix.MS_NOATIME,
	"bind": unix.MS_BIND, "rbind": unix.MS_BIND | unix.MS_REC,
}

var propagationOptions = map[string]uintptr{
	"private": unix.MS_PRIVATE, "rprivate": unix.MS_PRIVATE | unix.MS_REC,
	"slave": unix.MS_SLAVE, "rslave": unix.MS_SLAVE | unix.MS_REC,
}

func mountInto(rootfs string, m Mount) error {
	var flags, propagation uintptr
	var data []string
	for _, option := range m.Options {
		if flag, ok := mountOptions[option]; ok {
			flags |= flag
		} else if flag, ok := propagationOptions[option]; ok {
			propagation |= flag
		} else {
			data = append(data, option)
		}
	}
	target, err := securePath(rootfs, m.Destination)
	if err != nil {
		return err
	}
	if err := createMountPoint(target, m); err != nil {
		return err
	}
	if err := unix.Mount(m.Source, target, m.Type, flags&^unix.MS_RDONLY, strings.Join(data, ",")); err != nil {
		return err
	}
	// A bind mount ignores MS_RDONLY on its first mount(2); read-only needs a remount (mount(8) does the same).
	if flags&unix.MS_RDONLY != 0 {
		if err := unix.Mount("", target, "", flags|unix.MS_REMOUNT, ""); err != nil {
			return err
		}
	}
	if propagation != 0 {
		return unix.Mount("", target, "", propagation, "")
	}
	return nil
}

// createMountPoint makes the directory (or, for a bind-mounted file, the empty file) to mount over.
// What the image already has there is never opened (O_EXCL creates or fails): any file that is not a
// directory takes the bind mount of a file, and opening it could block init for ever, the daemon waiting
// on it: an image, or a container before its restart, can leave a FIFO at /etc/hostname.
func createMountPoint(target string, m Mount) error {
	isFile := false
	if m.Type == "bind" {
		if info, err := os.Stat(m.Source); err == nil && !info.IsDir() {
			isFile = true
		}
	}
	if !isFile {
		return os.MkdirAll(target, 0755)
	}
	if err := os.MkdirAll(filepath.Dir(target), 0755); err != nil {
		return err
	}
	fd, err := unix.Open(target, unix.O_CREAT|unix.O_EXCL|unix.O_NOFOLLOW|unix.O_RDONLY|unix.O_CLOEXEC, 0644)
	if errors.Is(err, unix.EEXIST) {
		return nil
	} else if err != nil {
		return &fs.PathError{Op: "create", Path: target, Err: err}
	}
	return unix.Close(fd)
}

// createDevices makes the device nodes of the spec in the container's fresh /dev, and the symlinks every
// Linux userland expects there.
func createDevices(rootfs string, devices []Device) error {
	old := unix.Umask(0)
	defer unix.Umask(old)
	for _, d := range devices {
		path, err := securePath(rootfs, d.Path)
		if err != nil {
			return err
		}
		mode := uint32(d.FileMode.Perm()) | unix.S_IFCHR
		if d.Type == "b" {
			mode = uint32(d.FileMode.Perm()) | unix.S_IFBLK
		}
		if err := unix.Mknod(path, mode, int(unix.Mkdev(uint32(d.Major), uint32(d.Minor)))); err != nil && !errors.Is(err, fs.ErrExist) {
			return fmt.Errorf("mknod %s: %w", d.Path, err)
		}
		if err := os.Lchown(path, int(d.UID), int(d.GID)); err != nil {
			return err
		}
	}
	links := [][2]string{{"/proc/self/fd", "fd"}, {"/proc/self/fd/0", "stdin"}, {"/proc/self/fd/1", "stdout"}, {"/proc/self/fd/2", "stderr"}, {"pts/ptmx", "ptmx"}}
	if _, err := os.Stat("/proc/kcore"); err == nil { // as runc: no dangling link on kernels without it
		links = append(links, [2]string{"/proc/kcore", "core"})
	}
	for _, link := range links {
		if err := os.Symlink(link[0], filepath.Join(rootfs, "dev", link[1])); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
	}
	return nil
}

// pivotRoot makes rootfs "/" and detaches the host's root from this mount namespace, so nothing of the
// host's file system stays reachable. pivot_root(".", ".") stacks the old root on top of the new one;
// unmounting "." then removes just the old root (the trick runc and pivot_root(2)'s man page describe).
func pivotRoot(rootfs string) error {
	if err := unix.Chdir(rootfs); err != nil {
		return err
	}
	if err := unix.PivotRoot(".", "."); err != nil {
		return fmt.Errorf("pivot_root: %w", err)
	}
	if err := unix.Unmount(".", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("detaching the old root: %w", err)
	}
	return unix.Chdir("/")
}

// enterWorkdir changes to the command's working directory, creating it if the image lacks it (`-w`).
// It is resolved after pivot_root, so it can only ever name a place inside the container.
func enterWorkdir(cwd string) error {
	if err := os.MkdirAll(cwd, 0755); err != nil {
		return fmt.Errorf("workdir %s: %w", cwd, err)
	}
	return unix.Chdir(cwd)
}

// switchUser drops from root to the spec's user with the raw, per-thread system calls (Go's
// syscall.Setuid would signal every thread of the runtime to do the same): enough, because the locked
// thread that makes them is the one that calls execve, and execve ends all the others.
func switchUser(user User) error {
	groups := make([]int, len(user.AdditionalGids))
	for i, gid := range user.AdditionalGids {
		groups[i] = int(gid)
	}
	if err := unix.Setgroups(groups); err != nil {
		return fmt.Errorf("setgroups: %w", err)
	}
	gid, uid := uintptr(user.GID), uintptr(user.UID)
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESGID, gid, gid, gid); errno != 0 {
		return fmt.Errorf("setgid: %w", errno)
	}
	if _, _, errno := unix.RawSyscall(unix.SYS_SETRESUID, uid, uid, uid); errno != 0 {
		return fmt.Errorf("setuid: %w", errno)
	}
	return nil
}

// execCommand looks the command up in the container's PATH and execve()s it, under the seccomp filter.
// Like a shell (and Docker), "not found" is 127 and "found but cannot run" is 126.
func execCommand(process Process, seccompFilter []unix.SockFilter) (int, error) {
	path, status, err := lookPath(process.Args[0], process.Env)
	if err != nil {
		return status, err
	}
	if err := markFdsCloseOnExec(); err != nil {
		return 125, err
	}
	// Last (after no_new_privs, which it needs): nothing init does is filtered but the execve itself.
	if err := installSeccompFilter(seccompFilter); err != nil {
		return 125, err
	}
	err = unix.Exec(path, process.Args, process.Env)
	if errors.Is(err, unix.ENOENT) {
		return 127, fmt.Errorf("exec: %q: %w", process.Args[0], err)
	}
	return 126, fmt.Errorf("exec: %q: %w", process.Args[0], err)
}

func lookPath(name string, env []string) (string, int, error) {
	if strings.Contains(name, "/") {
		err := checkExecutable(name)
		if errors.Is(err, fs.ErrNotExist) {
			return "", 127, fmt.Errorf("exec: %q: no such file or directory", name)
		} else if err != nil {
			return "", 126, err
		}
		return name, 0, nil
	}
	for _, dir := range filepath.SplitList(envValue(env, "PATH")) {
		path := filepath.Join(dir, name)
		if checkExecutable(path) == nil {
			return path, 0, nil
		}
	}
	return "", 127, fmt.Errorf("exec: %q: executable file not found in $PATH", name)
}

func checkExecutable(path string) error {
	info, err := os.Stat(path)
	if err != nil {
		return err
	}
	if info.IsDir() || info.Mode().Perm()&0111 == 0 {
		return fmt.Errorf("exec: %q: permission denied", path)
	}
	return nil
}

func envValue(env []string, name string) string {
	for _, kv := range env {
		if key, value, ok := strings.Cut(kv, "="); ok && key == name {
			return value
		}
	}
	return ""
}

// markFdsCloseOnExec makes sure no descriptor but stdio reaches the user's command: the sync pipe must
// close at execve (that is how the daemon learns of success), and no daemon file may leak in
// (CVE-2024-21626 leaked one that pointed at the host's cgroupfs).
func markFdsCloseOnExec() error {
	entries, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return fmt.Errorf("listing fds: %w", err)
	}
	for _, entry := range entries {
		if fd, err := strconv.Atoi(entry.Name()); err == nil && fd > 2 {
			unix.CloseOnExec(fd)
		}
	}
	return nil
}
