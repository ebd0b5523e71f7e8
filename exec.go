// exec.go: running another process in a running container (`engine exec`).
//
// A container's first process was born in its namespaces (container.go, init.go). A process added later
// has to join them, and joining is harder than being born: setns(2) into a mount namespace refuses a
// process whose threads share their filesystem state, which every Go program's threads do, and joining a
// PID namespace only places the caller's future children in it. So, as runc's exec does, it takes two
// processes:
//
//  1. Container.Exec (daemon) starts `engine init exec`, the helper, from the sealed binary (binary.go),
//     passing it a pidfd of the container's first process, and holds it on a sync pipe, as Start does,
//     while it puts it into the container's cgroup (cgroups.go).
//  2. The helper, on one locked thread, unshares that thread's filesystem state, then setns()es into the
//     container's mount, UTS, IPC, network and PID namespaces at once through the pidfd, which also
//     guarantees that it joins the container's process and not a later one with a reused PID. Its root
//     and working directory are now the container's. It limits the capability bounding set, sets
//     no_new_privs, installs the seccomp filter init installed (seccomp_bpf.go) and forks the command
//     with the container's user: the child is born in the container's PID namespace with the
//     container's powers, no more.
//  3. The helper reports the child's PID and exits. The daemon is a child subreaper
//     (PR_SET_CHILD_SUBREAPER), so the orphaned command becomes the daemon's own child, which it waits
//     for as the monitor waits for init; containerd's shim plays the same part for runc.
//
// The helper itself never enters the container's PID namespace, and what does (the child, until execve)
// runs from the sealed copy of the binary: nothing in the container can open the host's engine binary.
// With -t the helper also makes the command's terminal in the container's /dev/pts and passes its master
// to the daemon, as init does (console.go); without, the command's output goes through pipes. Either way
// it reaches only the client: an exec's output is not logged, as with docker.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"

	"golang.org/x/sys/unix"
)

// ExecConfig is what `engine exec` runs, under the names Docker's exec API uses.
type ExecConfig struct {
	User        string
	WorkingDir  string
	Env         []string
	Cmd         []string
	Tty         bool
	ConsoleSize *Box // the client's terminal's, with Tty
}

// execRequest is what the daemon sends the helper on the sync pipe: the process to start, and the
// seccomp profile the container's init installed, to install for it too.
type execRequest struct {
	Process Process       `json:"process"`
	Seccomp *LinuxSeccomp `json:"seccomp,omitempty"`
}

// execReport is the helper's answer when the command started.
type execReport struct {
	Pid int `json:"pid"`
}

// Exec starts config's command in the running container, with the given files as its stdin, stdout and
// stderr, or with a terminal of its own, whose master it then returns. The process is a child of the
// daemon, for the caller to wait for.
func (c *Container) Exec(config *ExecConfig, stdin, stdout, stderr *os.File) (*os.Process, *os.File, error) {
	pidfd, err := c.openPidfd()
	if err != nil {
		return nil, nil, err
	}
	defer pidfd.Close()
	process, err := c.execProcess(config)
	if err != nil {
		return nil, nil, err
	}
	seccomp, err := c.execSeccomp()
	if err != nil {
		return nil, nil, err
	}
	helper, syncPipe, err := startExecHelper(pidfd, stdin, stdout, stderr)
	if err != nil {
		return nil, nil, err
	}
	defer syncPipe.Close()
	// Held on the sync pipe, the helper goes into the container's cgroup first: its child, the
	// command, is born there, under the container's limits and device rules.
	if err := c.joinCgroup(helper.Process.Pid); err != nil {
		helper.Process.Kill()
		helper.Wait()
		return nil, nil, err
	}
	pid, master, err := runExecHelper(helper, syncPipe, execRequest{Process: *process, Seccomp: seccomp})
	if err != nil {
		return nil, nil, err
	}
	p, err := os.FindProcess(pid)
	return p, master, err
}

// execWithPipes runs an exec with its output, and with -i its input, relayed to the session through
// pipes, and returns the command's exit status once it has ended and its output has all been sent.
func (c *Container) execWithPipes(session *Session, config *ExecConfig, interactive bool) (int, error) {
	stdoutR, stdoutW, err := os.Pipe()
	if err != nil {
		return 0, err
	}
	stderrR, stderrW, err := os.Pipe()
	if err != nil {
		closeAll(stdoutR, stdoutW)
		return 0, err
	}
	var stdinR, stdinW *os.File
	if interactive {
		if stdinR, stdinW, err = os.Pipe(); err != nil {
			closeAll(stdoutR, stdoutW, stderrR, stderrW)
			return 0, err
		}
	}
	process, _, err := c.Exec(config, stdinR, stdoutW, stderrW)
	closeAll(stdinR, stdoutW, stderrW) // the command has its own copies now
	if err != nil {
		closeAll(stdinW, stdoutR, stderrR)
		return 0, err
	}
	if interactive {
		go func() {
			io.Copy(stdinW, session.Stdin())
			stdinW.Close()
		}()
	}
	relayed := make(chan struct{}, 2)
	go relayOutput(session.Stdout, stdoutR, relayed)
	go relayOutput(session.Stderr, stderrR, relayed)
	state, err := process.Wait()
	<-relayed
	<-relayed
	if err != nil {
		return 0, err
	}
	return exitStatus(state), nil
}

// execWithTerminal runs an exec on a terminal of its own (`exec -t`): its output goes straight from the
// pty master to the client, the client's keystrokes (with -i) and resizes go back, and the detach keys
// leave the command running, as with `run -it`.
func (c *Container) execWithTerminal(session *Session, config *ExecConfig, interactive bool, detachKeys []byte) (int, error) {
	rows, cols, err := session.askTerminal()
	if err != nil {
		return 0, err
	}
	config.ConsoleSize = &Box{Height: uint(rows), Width: uint(cols)}
	process, master, err := c.Exec(config, nil, nil, nil)
	if err != nil {
		return 0, err
	}
	console := newConsole(master, session.Stdout)
	exited := make(chan *os.ProcessState, 1)
	go func() {
		state, _ := process.Wait()
		console.Drain()
		exited <- state
	}()
	a := attachment{console: console, detachKeys: detachKeys}
	if interactive {
		a.input = console
	}
	relayed := make(chan error, 1)
	go func() { relayed <- session.relay(a) }()
	for {
		select {
		case state := <-exited:
			return exitStatus(state), nil
		case err := <-relayed:
			if err != nil { // detached, or the client is gone: the command runs on, and is reaped above
				return 0, err
			}
			relayed = nil // the end of the client's input (tcp.go): the output still goes to it
		case <-session.conn.Gone(): // found by the probes that follow the end of the input
			return 0, errClientLeft
		}
	}
}

// relayOutput copies a pipe to the client. If the client has gone, it reads on and drops the output, so
// the command never blocks on a pipe nobody empties.
func relayOutput(to io.Writer, from *os.File, done chan<- struct{}) {
	if _, err := io.Copy(to, from); err != nil {
		io.Copy(io.Discard, from)
	}
	from.Close()
	done <- struct{}{}
}

// execDetached starts an exec with no streams (`exec -d`) and collects its exit in the background.
func (c *Container) execDetached(config *ExecConfig) error {
	process, master, err := c.Exec(config, nil, nil, nil)
	if err != nil {
		return err
	}
	if master != nil { // -dt: a terminal nobody reads
		newConsole(master, io.Discard)
	}
	go process.Wait()
	return nil
}

func (c *Container) joinCgroup(pid int) error {
	c.mu.Lock()
	cgroup := c.cgroup
	c.mu.Unlock()
	if cgroup == nil {
		return fmt.Errorf("container %s is not running", c.ShortName())
	}
	return cgroup.Add(pid)
}

// openPidfd opens a pidfd of the container's first process, checking by its start time that the PID
// still names that process: from then on, the pidfd cannot name another.
func (c *Container) openPidfd() (*os.File, error) {
	c.mu.Lock()
	pid, start, running := c.State.Pid, c.State.PidStart, c.State.Running
	c.mu.Unlock()
	if !running {
		return nil, fmt.Errorf("container %s is not running", c.ShortName())
	}
	fd, err := unix.PidfdOpen(pid, 0)
	if err != nil {
		return nil, fmt.Errorf("container %s is not running: %w", c.ShortName(), err)
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	if processStartTime(pid) != start {
		pidfd.Close()
		return nil, fmt.Errorf("container %s is not running", c.ShortName())
	}
	return pidfd, nil
}

// execProcess is the runtime-spec process an exec runs: the container's environment, user and
// capabilities, with the exec's own additions.
func (c *Container) execProcess(config *ExecConfig) (*Process, error) {
	user, home, err := resolveUser(c.rootfs(), config.User)
	if err != nil {
		return nil, err
	}
	env := containerEnv(c.Config.Env, c.Config.Hostname, home)
	for _, kv := range config.Env {
		env = setEnv(env, kv)
	}
	cwd := config.WorkingDir
	if cwd == "" {
		cwd = c.Config.WorkingDir
	}
	if cwd == "" {
		cwd = "/"
	}
	return &Process{
		Terminal:        config.Tty,
		ConsoleSize:     config.ConsoleSize,
		User:            user,
		Args:            config.Cmd,
		Env:             env,
		Cwd:             cwd,
		Capabilities:    containerCapabilities(user.UID, c.HostConfig.CapAdd, c.HostConfig.CapDrop),
		NoNewPrivileges: true,
	}, nil
}

// startExecHelper starts `engine init exec` with the sync pipe as fd 3 and the pidfd as fd 4.
func startExecHelper(pidfd, stdin, stdout, stderr *os.File) (*exec.Cmd, *os.File, error) {
	binary, err := sealedBinary()
	if err != nil {
		return nil, nil, err
	}
	parent, child, err := newSyncPipe()
	if err != nil {
		return nil, nil, err
	}
	defer child.Close()
	helper := &exec.Cmd{
		Path:       binary,
		Args:       []string{"engine", "init", "exec"},
		Env:        []string{fmt.Sprintf("%s=%d", initPipeEnv, initPipeFd)},
		Stdin:      stdin,
		Stdout:     stdout,
		Stderr:     stderr,
		ExtraFiles: []*os.File{child, pidfd},
	}
	if err := helper.Start(); err != nil {
		parent.Close()
		return nil, nil, fmt.Errorf("starting the exec helper: %w", err)
	}
	return helper, parent, nil
}

// runExecHelper sends the helper its process and returns the PID of the command it started and, with a
// terminal, the terminal's master, which comes first (console.go).
func runExecHelper(helper *exec.Cmd, syncPipe *os.File, request execRequest) (int, *os.File, error) {
	process := &request.Process
	data, _ := json.Marshal(request)
	_, err := syncPipe.Write(data)
	if err == nil {
		unix.Shutdown(int(syncPipe.Fd()), unix.SHUT_WR) // the end of the request
	}
	var master *os.File
	var report []byte
	if err == nil && process.Terminal {
		master, report, err = receiveTerminal(syncPipe)
	}
	rest, _ := io.ReadAll(syncPipe)
	report = append(report, rest...)
	helper.Wait()
	var started execReport
	if err == nil && json.Unmarshal(report, &started) == nil && started.Pid > 0 && (master != nil) == process.Terminal {
		return started.Pid, master, nil
	}
	if master != nil {
		master.Close()
	}
	return 0, nil, syncFailure(report, "the exec helper", helper.ProcessState)
}

// The helper's side, `engine init exec`.

const execPidfd = 4 // the container's first process, as a pidfd (fd 3 is the sync pipe)

// ExecInit is the helper: it starts the requested process inside the container and reports its PID.
func ExecInit() int {
	runtime.LockOSThread() // every step below changes this thread only, and the fork must come from it
	pipe := os.NewFile(initPipeFd, "sync")
	var request execRequest
	data, err := io.ReadAll(pipe)
	if err == nil {
		err = json.Unmarshal(data, &request)
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
	return 0
}

// startInContainer joins the container's namespaces and forks the process there.
func startInContainer(process *Process, seccomp *LinuxSeccomp) (int, int, error) {
	filter, err := buildSeccompFilter(seccomp)
	if err != nil {
		return 0, 125, err
	}
	if err := markFdsCloseOnExec(); err != nil { // the sync pipe and the pidfd stay with the helper
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

// forkCommand forks and execs the command, as the container's user, in the container's PID namespace.
// Path lookup and cwd happen in the container's mount namespace: they can only find its files. After
// execve, the kernel gives root the bounding set and any other user nothing (capabilities(7)), as init
// gives them.
func forkCommand(process *Process, seccompFilter []unix.SockFilter) (int, int, error) {
	path, status, err := lookPath(process.Args[0], process.Env)
	if err != nil {
		return 0, status, err
	}
	if info, err := os.Stat(process.Cwd); err != nil || !info.IsDir() {
		return 0, 125, fmt.Errorf("workdir %s: not a directory in the container", process.Cwd)
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
		defer slave.Close()
		fd := slave.Fd() // back in blocking mode: see setupConsole
		files = []uintptr{fd, fd, fd}
		sys.Setctty, sys.Ctty = true, 0 // the child's fd 0
	}
	// The seccomp filter goes on this thread only, last: the child forked from it inherits it, as does
	// what the child execs (no TSYNC is needed, as no other thread of the helper runs container code).
	// What the fork still does here and in the child (clone without namespace flags, setgroups, setuid,
	// dup3, chdir, execve) Docker's default profile allows; a profile that refuses it fails the exec.
	if err := installSeccompFilter(seccompFilter); err != nil {
		return 0, 125, err
	}
	pid, err := syscall.ForkExec(path, process.Args, &syscall.ProcAttr{
		Dir:   process.Cwd,
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
