// exec_helper.go: `engine init exec`, the helper that puts an exec'd command into a running container.
//
// exec.go tells the whole story of `engine exec` from the daemon's side; this is steps 2 and 3 as the
// helper lives them. It starts from the sealed binary with the sync pipe as fd 3, a pidfd of the
// container's first process as fd 4 and that process's root as fd 5, reads its execRequest, closes every
// other descriptor, joins the container's namespaces through the pidfd, chroots into the root, checks
// the working directory, limits its powers, installs the container's seccomp filter and forks the
// command. Then it stays: the command's parent and the reaper of every child the command gives it,
// until none is left, reporting the command's PID and then its exit status on the sync pipe.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	execPidfd  = 4 // the container's first process, as a pidfd (fd 3 is the sync pipe)
	execRootFd = 5 // its root directory
)

// execReport is what the helper tells the daemon on the sync pipe: once the command has started, its
// PID; once it has exited, its status as a shell gives it.
type execReport struct {
	Pid    int  `json:"pid,omitempty"`
	Exited bool `json:"exited,omitempty"`
	Status int  `json:"status,omitempty"`
}

// ExecInit is the helper: it starts the requested process inside the container, reports its PID, and
// stays its parent until it and every other child it is given have ended.
func ExecInit() int {
	runtime.LockOSThread() // every step below changes this thread only, and the fork must come from it
	closed := closeInheritedFds(execRootFd + 1)
	pipe := os.NewFile(initPipeFd, "sync")
	var request execRequest
	data, err := io.ReadAll(pipe)
	if err == nil {
		err = json.Unmarshal(data, &request)
	}
	if err == nil {
		err = closed
	}
	var devNull *os.File
	if err == nil { // the helper's stdio once the command has the client's; opened before setns, as the
		// container's /dev/null is whatever the container made of it
		devNull, err = os.OpenFile("/dev/null", os.O_RDWR, 0)
	}
	pid, status := 0, 125
	if err == nil {
		pid, status, err = startInContainer(&request.Process, request.Seccomp)
	}
	if err != nil {
		report, _ := json.Marshal(initError{Status: status, Message: err.Error()})
		pipe.Write(report)
		return status
	}
	report, _ := json.Marshal(execReport{Pid: pid})
	pipe.Write(report)
	// The helper keeps no copy of the command's stdin, stdout and stderr: the client must see the end of
	// its output when the command (and whatever it started) closes them, not when the helper leaves.
	for fd := 0; fd <= 2; fd++ {
		unix.Dup3(int(devNull.Fd()), fd, 0)
	}
	reapChildren(pid, pipe)
	return 0
}

// reapChildren waits for every child of the helper until none is left, and reports the command's exit
// status on the sync pipe as soon as it comes. Which orphans reach which reaper (kernel/exit.c):
//
//   - The command and all it starts are in the container's PID namespace, one level below the helper.
//     A process that dies leaving children passes them to a child subreaper among its ancestors only
//     if that subreaper is at its own level, else to its namespace's init: orphans of the container's
//     processes go to the container's PID 1, never up to the helper or the daemon.
//   - What the helper must reap is what names it as parent: the command, and anything the command
//     clones with CLONE_PARENT (or such a child does in turn). The daemon once took those in as a
//     child subreaper and never waited for them; their zombies then kept the container's PID namespace
//     from ever dying, and stop, rm -f and the daemon's shutdown hung on it.
//   - The helper's children are all at that lower level, so a subreaper flag on the helper would catch
//     nothing. The daemon is no subreaper any more either: if a helper is killed, its children go to
//     the nearest subreaper above the daemon, or to the host's init, which wait for anything.
//
// When the container's PID 1 exits, the kernel kills every process of the namespace and waits until
// all are reaped; the helper reaps those that are its own, and leaves.
func reapChildren(command int, pipe *os.File) {
	for {
		var status syscall.WaitStatus
		pid, err := syscall.Wait4(-1, &status, 0, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil { // ECHILD: no child is left
			return
		}
		if pid == command {
			report, _ := json.Marshal(execReport{Pid: pid, Exited: true, Status: shellStatus(status)})
			pipe.Write(report)
		}
	}
}

// startInContainer joins the container's namespaces, root and working directory and forks the process
// there.
func startInContainer(process *Process, seccomp *LinuxSeccomp) (int, int, error) {
	filter, err := buildSeccompFilter(seccomp)
	if err != nil {
		return 0, 125, err
	}
	// The sync pipe, the pidfd and the root stay with the helper; the command gets stdio only.
	if err := markFdsCloseOnExec(); err != nil {
		return 0, 125, err
	}
	// setns(2) of a mount namespace wants a caller that shares its root and cwd with no other thread.
	if err := unix.Unshare(unix.CLONE_FS); err != nil {
		return 0, 125, fmt.Errorf("unshare(CLONE_FS): %w", err)
	}
	namespaces := unix.CLONE_NEWNS | unix.CLONE_NEWUTS | unix.CLONE_NEWIPC | unix.CLONE_NEWNET | unix.CLONE_NEWPID
	if err := unix.Setns(execPidfd, namespaces); errors.Is(err, unix.ESRCH) {
		return 0, 125, errors.New("the container is not running") // it ended after the daemon looked
	} else if err != nil {
		return 0, 125, fmt.Errorf("joining the container's namespaces: %w", err)
	}
	if err := enterContainerRoot(); err != nil {
		return 0, 125, err
	}
	if err := chdirInside(process.Cwd); err != nil { // the forked command inherits it
		return 0, 125, err
	}
	// Neither a core dump nor another process's ptrace or /proc/PID/mem may reach the helper's memory
	// while it still holds the daemon's privileges (dumpable is reset by execve).
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return 0, 125, err
	}
	if err := limitBoundingSet(process.Capabilities); err != nil {
		return 0, 125, err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return 0, 125, fmt.Errorf("no_new_privs: %w", err)
	}
	return forkCommand(process, filter)
}

// enterContainerRoot makes the container's root this thread's root and working directory, as
// `nsenter --root` does. setns(2) left the thread at the root of the mount namespace, which is the
// container's only if init's pivot_root replaced it: a daemon in a chroot has its container's pivot_root
// replace the chroot's mount, and the namespace's root stays the host's. So the helper enters the root
// of the container's first process (execRootFd, opened by the daemon) and checks that "/" is now that
// very directory.
func enterContainerRoot() error {
	if err := unix.Fchdir(execRootFd); err != nil {
		return fmt.Errorf("entering the container's root: %w", err)
	}
	if err := unix.Chroot("."); err != nil {
		return fmt.Errorf("entering the container's root: %w", err)
	}
	var want, got unix.Stat_t
	if err := unix.Fstat(execRootFd, &want); err != nil {
		return fmt.Errorf("entering the container's root: %w", err)
	}
	if err := unix.Stat("/", &got); err != nil {
		return fmt.Errorf("entering the container's root: %w", err)
	}
	if got.Dev != want.Dev || got.Ino != want.Ino {
		return errors.New("entering the container's root: / is not the container's root")
	}
	return nil
}

// forkCommand forks and execs the command, as the container's user, in the container's PID namespace.
// Path lookup happens in the container's root: it can only find its files. After execve, the kernel
// gives root the bounding set and any other user nothing (capabilities(7)), as init gives them.
func forkCommand(process *Process, seccompFilter []unix.SockFilter) (int, int, error) {
	path, status, err := lookPath(process.Args[0], process.Env)
	if err != nil {
		return 0, status, err
	}
	groups := make([]uint32, len(process.User.AdditionalGids))
	copy(groups, process.User.AdditionalGids)
	files := []uintptr{0, 1, 2}
	sys := &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: process.User.UID, Gid: process.User.GID, Groups: groups},
		Setsid:     true,
	}
	if process.Terminal {
		slave, err := sendConsole(process)
		if err != nil {
			return 0, 125, err
		}
		defer slave.Close() // the helper keeps no copy: the terminal ends with the command's last one
		fd := slave.Fd()    // back in blocking mode: see setupConsole
		files = []uintptr{fd, fd, fd}
		sys.Setctty, sys.Ctty = true, 0 // the child's fd 0
	}
	// The seccomp filter goes on this thread only, last: the child forked from it inherits it, as does
	// what the child execs (no TSYNC is needed, as no other thread of the helper runs container code).
	// What the fork still does here and in the child (clone without namespace flags, setgroups, setuid,
	// dup3, execve), and what the helper does after it on this thread (write, dup3, wait4), Docker's
	// default profile allows; a profile that refuses it fails the exec.
	if err := installSeccompFilter(seccompFilter); err != nil {
		return 0, 125, err
	}
	pid, err := syscall.ForkExec(path, process.Args, &syscall.ProcAttr{
		Env:   process.Env,
		Files: files,
		Sys:   sys,
	})
	if errors.Is(err, syscall.ENOENT) {
		return 0, 127, fmt.Errorf("exec: %q: %w", process.Args[0], err)
	} else if err != nil {
		return 0, 126, fmt.Errorf("exec: %q: %w", process.Args[0], err)
	}
	return pid, 0, nil
}

// sendConsole makes the exec's terminal in the container's /dev/pts, sends its master to the daemon and
// returns the slave, for the command's stdio.
func sendConsole(process *Process) (*os.File, error) {
	master, slave, err := openConsole(*process)
	if err != nil {
		return nil, err
	}
	defer master.Close()
	if err := sendFd(initPipeFd, consoleMarker, master); err != nil {
		slave.Close()
		return nil, fmt.Errorf("sending the terminal to the daemon: %w", err)
	}
	return slave, nil
}
