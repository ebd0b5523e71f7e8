// init.go: the first process of every container, on the container's side of the fence.
//
// The container's keeper execs this binary again as `engine init` (like `runc init`, or Docker 0.1's
// sysinit), usually before the container is even known (keeper_init.go), with clone flags that put it
// in new UTS, IPC and PID namespaces, and a new network namespace unless the container shares the
// host's (`--net host`) or joins another's (`--net container:X`, which init enters itself,
// joinNamespaces). Fd 3 is one end of a socket pair shared with the keeper: the sync pipe (with
// `--net container:X`, fd 4 is X's network namespace, held open for it: netns.go). Init then
//
//  1. closes every descriptor but stdio, the sync pipe and X's namespace, before anything could chdir
//     through one (CVE-2024-21626), and waits on the sync pipe for its release, which comes once the
//     daemon has finished its side (the cgroup, the veth pair, the config) and names the container's
//     OCI bundle;
//  2. follows bundle/config.json (spec.go): another container's network joined, or its own set up (no
//     router advertisements, eth0 and lo, while /proc/sys is still writable), a mount namespace of its
//     own, copied from the host's as it is now, with the container's root mounted, the mount table
//     (rootfs.go: the root's mount propagation, the kernel filesystems and the /etc files mounted
//     under the root, the default devices, pivot_root, read-only and masked kernel files), the
//     terminal with -t (its master goes to the daemon, console.go), hostname, cwd (checked to be
//     inside the root), user, capabilities and no_new_privs;
//  3. installs the seccomp filter (seccomp_bpf.go) and execve()s the user's command, which so becomes
//     PID 1 of the container.
//
// If a step fails, init writes {status, message} to the sync pipe and exits; the daemon turns that into the
// error `engine run` prints (125, or 126/127 when the command cannot be run, as Docker does). When execve
// succeeds, the close-on-exec sync pipe closes and the keeper reads EOF: that is "started".
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
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
	// First of all, before any chdir can follow /proc/self/fd/N out of the container: init keeps stdio,
	// the sync pipe and X's network namespace if it has one (netns.go), nothing else (closeInheritedFds).
	closed := closeInheritedFds(joinedNamespaceFd + 1)
	if closed == nil {
		closed = closeUnlessNamespace(joinedNamespaceFd)
	}
	pipe := os.NewFile(initPipeFd, "sync")
	bundle, err := readRelease(pipe)
	if err != nil {
		return 125 // the keeper went away before releasing us: there is no one to report to
	}
	status, err := 125, closed
	if err == nil {
		status, err = initContainer(bundle)
	}
	report, _ := json.Marshal(initError{Status: status, Message: err.Error()})
	pipe.Write(report)
	return status
}

// releaseMessage releases an init held on its sync pipe: the path of the container's bundle (in the
// container's directory dir), ended by a newline.
func releaseMessage(dir string) []byte {
	return []byte(filepath.Join(dir, "bundle") + "\n")
}

// readRelease waits on the sync pipe for the release and returns the bundle it names.
func readRelease(pipe *os.File) (string, error) {
	var message []byte
	buf := make([]byte, 512)
	for len(message) <= unix.PathMax {
		n, err := pipe.Read(buf)
		message = append(message, buf[:n]...)
		if line, _, found := bytes.Cut(message, []byte("\n")); found {
			return string(line), nil
		}
		if err != nil {
			return "", err
		}
	}
	return "", errors.New("the release names no bundle")
}

// initContainer only returns when something failed; on success execve replaces this process.
func initContainer(bundle string) (int, error) {
	if err := unix.Chdir(bundle); err != nil {
		return 125, fmt.Errorf("the bundle: %w", err)
	}
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
	if err := unshareMounts(); err != nil {
		return 125, err
	}
	if err := setupRootfs(spec); err != nil {
		return 125, err
	}
	if spec.Process.Terminal { // after pivot_root: the pty must come from the container's own devpts
		if err := setupConsole(spec.Process); err != nil {
			return 125, fmt.Errorf("terminal: %w", err)
		}
	}
	if err := unix.Sethostname([]byte(spec.Hostname)); err != nil && spec.Hostname != "" {
		return 125, fmt.Errorf("sethostname: %w", err)
	}
	if err := enterWorkdir(spec.Process.Cwd); err != nil {
		return 125, err
	}
	if err := limitBoundingSet(spec.Process.Capabilities); err != nil {
		return 125, fmt.Errorf("capabilities: %w", err)
	}
	if err := switchUser(spec.Process.User); err != nil {
		return 125, err
	}
	if err := dieWithKeeper(); err != nil {
		return 125, err
	}
	if err := applyCapabilities(spec.Process.Capabilities); err != nil {
		return 125, fmt.Errorf("capabilities: %w", err)
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

// unshareMounts gives init a mount namespace of its own, a copy of the host's as it is now: with the
// container's root, which the daemon mounted after init had started (keeper_init.go). Made for this
// thread only: unshare(CLONE_NEWNS) implies CLONE_FS, so the thread's root and working directory become
// its own too. That is enough, and it is what a Go program can do: this locked thread mounts, pivots and
// calls execve, which ends every other thread, and the runtime makes new threads from a thread of its
// own, never from a locked one. Every container has its mount namespace, whatever config.json says: the
// mounts that follow must never be the host's.
func unshareMounts() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("a mount namespace: %w", err)
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

// enterWorkdir changes to the command's working directory, creating it if the image lacks it (`-w`).
// It is resolved after pivot_root, so a path can only name a place inside the container, but a magic
// link can lead anywhere an open descriptor does: `-w /proc/self/fd/N` is how CVE-2024-21626 left the
// container. No such descriptor is left open by now (closeInheritedFds), and chdirInside makes sure.
func enterWorkdir(cwd string) error {
	if err := os.MkdirAll(cwd, 0755); err != nil {
		return fmt.Errorf("workdir %s: %w", cwd, err)
	}
	return chdirInside(cwd)
}

// chdirInside changes to cwd and makes sure the working directory is then inside the process's root,
// as runc does since CVE-2024-21626: getcwd(2) prefixes a directory the root cannot reach with
// "(unreachable)". Init and exec's helper both go through it: a magic link such as /proc/1/cwd or
// /proc/self/fd/N may lead anywhere a container process has been or a descriptor points.
func chdirInside(cwd string) error {
	if err := unix.Chdir(cwd); err != nil {
		return fmt.Errorf("workdir %s: %w", cwd, err)
	}
	buf := make([]byte, unix.PathMax)
	n, err := unix.Getcwd(buf)
	if err != nil {
		return fmt.Errorf("workdir %s: %w", cwd, err)
	}
	if n == 0 || buf[0] != '/' {
		return fmt.Errorf("workdir %s: outside the container", cwd)
	}
	return nil
}

// closeInheritedFds closes every descriptor from first up, with close_range(2). Called first thing in
// init and in exec's helper, it closes only what the daemon passed on: nothing of the Go runtime's is
// open yet (its poller's epoll descriptor comes with the first file the program opens). The daemon
// marks what it inherited close-on-exec when it starts (main.go); this makes sure even so.
func closeInheritedFds(first int) error {
	if err := unix.CloseRange(uint(first), ^uint(0), 0); err != nil {
		return fmt.Errorf("closing inherited descriptors: %w", err)
	}
	return nil
}

// closeUnlessNamespace closes fd unless it is a namespace (nsfs), which no chdir can enter.
func closeUnlessNamespace(fd int) error {
	var fs unix.Statfs_t
	if err := unix.Fstatfs(fd, &fs); err == unix.EBADF {
		return nil // not open
	} else if err != nil {
		return fmt.Errorf("fd %d: %w", fd, err)
	}
	if fs.Type != unix.NSFS_MAGIC {
		return unix.Close(fd)
	}
	return nil
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

// dieWithKeeper sets the parent-death signal again: the keeper started init with it (if the keeper dies,
// so does the container), but the kernel clears it when a process changes its user (prctl(2)), as
// switchUser just did. A keeper that died in between has closed its end of the sync pipe: then init
// leaves at once, as the signal would have made it.
func dieWithKeeper() error {
	if err := unix.Prctl(unix.PR_SET_PDEATHSIG, uintptr(unix.SIGKILL), 0, 0, 0); err != nil {
		return fmt.Errorf("prctl PR_SET_PDEATHSIG: %w", err)
	}
	fds := []unix.PollFd{{Fd: initPipeFd, Events: unix.POLLRDHUP}}
	if n, _ := unix.Poll(fds, 0); n > 0 && fds[0].Revents&(unix.POLLRDHUP|unix.POLLHUP) != 0 {
		os.Exit(125)
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

// markFdsCloseOnExec makes sure no descriptor but stdio reaches the program execve()d next: the user's
// command from init, where the sync pipe must close at execve (that is how the daemon learns of
// success), or anything the daemon starts, which must not pass on what the daemon inherited; no daemon
// file may leak into a container (CVE-2024-21626 leaked one that pointed at the host's cgroupfs).
func markFdsCloseOnExec() error {
	if err := unix.CloseRange(3, ^uint(0), unix.CLOSE_RANGE_CLOEXEC); err != nil {
		return fmt.Errorf("marking descriptors close-on-exec: %w", err)
	}
	return nil
}
