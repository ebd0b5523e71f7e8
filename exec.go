// exec.go: running another process in a running container (`engine exec`).
//
// A container's first process was born in its namespaces (container.go, init.go). A process added later
// has to join them, and joining is harder than being born: setns(2) into a mount namespace refuses a
// process whose threads share their filesystem state, which every Go program's threads do, and joining a
// PID namespace only places the caller's future children in it. So, as runc's exec does, it takes two
// processes:
//
//  1. Container.Exec (daemon) starts `engine init exec`, the helper, from the sealed binary (binary.go),
//     passing it a pidfd of the container's first process and that process's root directory, and holds
//     it on a sync pipe, as Start does, while it puts it into the container's cgroup (cgroups.go).
//  2. The helper closes every descriptor it was not meant to have, then, on one locked thread, unshares
//     that thread's filesystem state and setns()es into the container's mount, UTS, IPC, network and PID
//     namespaces at once through the pidfd, which also guarantees that it joins the container's process
//     and not a later one with a reused PID. It chroots into the container's root (setns alone leaves
//     it at the mount namespace's root, the host's when the daemon runs in a chroot), changes to the
//     working directory and checks that it is inside, limits the capability bounding set, sets
//     no_new_privs, installs the seccomp filter init installed (seccomp_bpf.go) and forks the command
//     with the container's user: the child is born in the container's PID namespace with the
//     container's powers, no more.
//  3. The helper reports the child's PID, and the daemon moves the helper back out of the container's
//     cgroup. The helper stays the command's parent, as containerd's shim stays runc's children's: it
//     reaps the command and every child the command gives it with CLONE_PARENT (reapChildren says which
//     orphans go where), reports the command's exit status on the sync pipe, and leaves when no child is
//     left. The daemon waits for that report (ExecProcess.Wait) and collects the helper, a child it knows.
//
// The helper itself never enters the container's PID namespace, and what does (the child, until execve)
// runs from the sealed copy of the binary: nothing in the container can open the host's engine binary.
// With -t the helper also makes the command's terminal in the container's /dev/pts and passes its master
// to the daemon, as init does (console.go); without, the command's output goes through pipes, of which
// the helper keeps no copy. Either way it reaches only the client: an exec's output is not logged, as
// with docker. The start is bounded (execStartTimeout); the command then runs as long as it runs, and
// ends at the latest with the container, whose PID 1's exit kills everything in its PID namespace.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

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

// ExecProcess is a command `engine exec` started, watched through its helper, which stays its parent
// until it ends (see reapChildren).
type ExecProcess struct {
	helper   *exec.Cmd
	syncPipe *os.File
	reports  *json.Decoder // the helper's reports on the sync pipe, the first of which has been read
}

// execStartTimeout bounds the helper's start of the command: joining the namespaces and forking take
// milliseconds, and nothing the container does may hold an exec (or its client) for ever.
const execStartTimeout = 30 * time.Second

// Exec starts config's command in the running container, with the given files as its stdin, stdout and
// stderr, or with a terminal of its own, whose master it then returns. The caller waits for the command
// with ExecProcess.Wait.
func (c *Container) Exec(config *ExecConfig, stdin, stdout, stderr *os.File) (*ExecProcess, *os.File, error) {
	c.settle() // a start in progress first ends, one way or the other (openPidfd)
	pidfd, err := c.openPidfd()
	if err != nil {
		return nil, nil, err
	}
	defer pidfd.Close()
	root, err := c.openRoot(pidfd)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	process, err := c.execProcess(config)
	if err != nil {
		return nil, nil, err
	}
	seccomp, err := c.execSeccomp()
	if err != nil {
		return nil, nil, err
	}
	helper, syncPipe, err := startExecHelper(pidfd, root, stdin, stdout, stderr)
	if err != nil {
		return nil, nil, err
	}
	// Held on the sync pipe, the helper goes into the container's cgroup first: its child, the
	// command, is born there, under the container's limits and device rules.
	if err := c.joinCgroup(helper.Process.Pid); err != nil {
		helper.Process.Kill()
		helper.Wait()
		syncPipe.Close()
		return nil, nil, err
	}
	p, master, err := runExecHelper(helper, syncPipe, execRequest{Process: *process, Seccomp: seccomp})
	if err != nil {
		return nil, nil, err
	}
	// The helper stays on as the command's keeper, which is no part of the container (as containerd's
	// shim is not): it leaves the cgroup, so that it counts against no limit and holds no removal up.
	if err := c.runtime.cgroups.MoveToDaemon(helper.Process.Pid); err != nil {
		fmt.Fprintf(os.Stderr, "engine -d: exec in %s: %v\n", c.ShortName(), err)
	}
	return p, master, nil
}

// Wait waits for the command to end and returns its status, as a shell gives it. The helper may stay a
// while longer, for children the command left it (reapChildren); it is collected in the background.
func (p *ExecProcess) Wait() (int, error) {
	var exited execReport
	err := p.reports.Decode(&exited)
	p.syncPipe.Close()
	go p.helper.Wait()
	if err == nil && !exited.Exited {
		err = errors.New("an unexpected report")
	}
	if err != nil {
		return 0, fmt.Errorf("the exec helper ended before the command did: %w", err)
	}
	return exited.Status, nil
}

// execResult is how an exec ended: the command's status, or what went wrong waiting for it.
type execResult struct {
	status int
	err    error
}

// execWithPipes runs an exec with its output, and with -i its input, relayed to the session through
// pipes, and returns the command's exit status once it has ended and its output has all been sent. A
// client that leaves first is let go at once: the command runs on, as a docker exec does, its output
// read and dropped, its end collected in the background.
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
	} else {
		session.listen() // nothing else reads the client: this is how its leaving is noticed
	}
	relayed := make(chan struct{}, 2)
	go relayOutput(session.Stdout, stdoutR, relayed)
	go relayOutput(session.Stderr, stderrR, relayed)
	exited := make(chan execResult, 1)
	go func() {
		status, err := process.Wait()
		<-relayed
		<-relayed
		exited <- execResult{status, err}
	}()
	select {
	case r := <-exited:
		return r.status, r.err
	case <-session.conn.Gone():
		return 0, errClientLeft
	}
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
	exited := make(chan execResult, 1)
	go func() {
		status, err := process.Wait()
		console.Drain()
		exited <- execResult{status, err}
	}()
	a := attachment{console: console, detachKeys: detachKeys}
	if interactive {
		a.input = console
	}
	relayed := make(chan error, 1)
	go func() { relayed <- session.relay(a) }()
	for {
		select {
		case r := <-exited:
			return r.status, r.err
		case err := <-relayed:
			if err != nil { // detached, or the client is gone: the command runs on, its end collected above
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
// still names that process: from then on, the pidfd cannot name another. The process must have been
// released (exited is set only then): during a start, State names an init still held on its sync pipe,
// whose root is still the host's, and an exec that entered it would run on the host's files.
func (c *Container) openPidfd() (*os.File, error) {
	c.mu.Lock()
	pid, start, running := c.State.Pid, c.State.PidStart, c.State.Running && c.exited != nil
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

// openRoot opens the root directory of the container's first process, which the helper makes its own
// (enterContainerRoot).
func (c *Container) openRoot(pidfd *os.File) (*os.File, error) {
	root, _, err := openProcessFile(pidfd, "root", unix.O_PATH|unix.O_DIRECTORY)
	if errors.Is(err, errProcessGone) {
		return nil, fmt.Errorf("container %s is not running", c.ShortName())
	} else if err != nil {
		return nil, fmt.Errorf("container %s: opening its root: %w", c.ShortName(), err)
	}
	return root, nil
}

// errProcessGone: the process a pidfd stands for has exited.
var errProcessGone = errors.New("the process has exited")

// openProcessFile opens /proc/PID/name of the process a pidfd stands for, and returns it with its path.
// /proc goes by PID, and a PID is reused once its process is reaped; so the pidfd is asked after the
// open whether its process still lives (a pidfd of a reaped process refuses even signal 0): if it
// does, the PID named it, and the file is that process's and no later one's.
func openProcessFile(pidfd *os.File, name string, flags int) (*os.File, string, error) {
	pid, err := pidfdPid(pidfd)
	if err != nil {
		return nil, "", errProcessGone
	}
	path := fmt.Sprintf("/proc/%d/%s", pid, name)
	fd, err := unix.Open(path, flags|unix.O_CLOEXEC, 0)
	if errors.Is(err, unix.ENOENT) { // it is exiting, or has exited
		return nil, "", errProcessGone
	} else if err != nil {
		return nil, "", err
	}
	file := os.NewFile(uintptr(fd), path)
	if err := unix.PidfdSendSignal(int(pidfd.Fd()), 0, nil, 0); err != nil {
		file.Close()
		return nil, "", errProcessGone
	}
	return file, path, nil
}

// pidfdPid is the PID a pidfd stands for, as the kernel shows it in the pidfd's fdinfo (-1 once the
// process has been reaped).
func pidfdPid(pidfd *os.File) (int, error) {
	info, err := os.Open(fmt.Sprintf("/proc/self/fdinfo/%d", pidfd.Fd()))
	if err != nil {
		return 0, err
	}
	defer info.Close()
	lines := bufio.NewScanner(info)
	for lines.Scan() {
		if value, ok := strings.CutPrefix(lines.Text(), "Pid:"); ok {
			pid, err := strconv.Atoi(strings.TrimSpace(value))
			if err != nil || pid <= 0 {
				return 0, fmt.Errorf("pidfd: no process (%q)", value)
			}
			return pid, nil
		}
	}
	return 0, errors.New("pidfd: no Pid in its fdinfo")
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

// startExecHelper starts `engine init exec` with the sync pipe as fd 3, the pidfd as fd 4 and the
// container's root as fd 5.
func startExecHelper(pidfd, root, stdin, stdout, stderr *os.File) (*exec.Cmd, *os.File, error) {
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
		ExtraFiles: []*os.File{child, pidfd, root},
	}
	if err := helper.Start(); err != nil {
		parent.Close()
		return nil, nil, fmt.Errorf("starting the exec helper: %w", err)
	}
	return helper, parent, nil
}

// runExecHelper sends the helper its request and waits, at most execStartTimeout, for its report that
// the command started and, with a terminal, for the terminal's master, which comes first (console.go).
func runExecHelper(helper *exec.Cmd, syncPipe *os.File, request execRequest) (*ExecProcess, *os.File, error) {
	process := &request.Process
	syncPipe.SetDeadline(time.Now().Add(execStartTimeout))
	data, _ := json.Marshal(request)
	_, err := syncPipe.Write(data)
	if err == nil {
		err = shutdownWrite(syncPipe) // the end of the request
	}
	var master *os.File
	var early []byte // what came with the master: the start of the report
	if err == nil && process.Terminal {
		master, early, err = receiveTerminal(syncPipe)
	}
	reports := json.NewDecoder(io.MultiReader(bytes.NewReader(early), syncPipe))
	var report json.RawMessage
	if err == nil {
		err = reports.Decode(&report)
	}
	var started execReport
	if err == nil && json.Unmarshal(report, &started) == nil && started.Pid > 0 && (master != nil) == process.Terminal {
		syncPipe.SetDeadline(time.Time{}) // the command runs as long as it runs
		return &ExecProcess{helper: helper, syncPipe: syncPipe, reports: reports}, master, nil
	}
	if master != nil {
		master.Close()
	}
	helper.Process.Kill() // if it is still there: it did not answer in time
	helper.Wait()
	syncPipe.Close()
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return nil, nil, fmt.Errorf("the exec helper did not start the command within %v", execStartTimeout)
	}
	return nil, nil, syncFailure(report, "the exec helper", helper.ProcessState)
}

// shutdownWrite ends what the daemon sends on a sync pipe, keeping it open for what comes back.
func shutdownWrite(syncPipe *os.File) error {
	conn, err := syncPipe.SyscallConn() // not Fd(), which would end the pipe's deadlines
	if err != nil {
		return err
	}
	var shutdownErr error
	if err := conn.Control(func(fd uintptr) { shutdownErr = unix.Shutdown(int(fd), unix.SHUT_WR) }); err != nil {
		return err
	}
	return shutdownErr
}
