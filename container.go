// container.go: one container, and how it is started, watched and stopped.
//
// The Runtime creates a Container from a Config (runtime.go); `engine start` and `engine run` then call
// Container.Start, which is the heart of the engine:
//
//  1. ensureMounted  overlayfs: the image's layers (graph.go) as lowerdirs, the container's rw dir as upper
//  2. execInit       this binary again as `engine init` in new namespaces (init.go), stdio to the logs
//  3. prepare        the network (network.go) and the OCI runtime config, bundle/config.json (spec.go)
//  4. toDisk         the record says "running", with the process's PID
//  5. release        tell init to go on, and learn from the sync pipe whether execve succeeded
//  6. monitor        a goroutine waits for the process, records its exit, unmounts, applies --rm
//
// The container's stdout and stderr go straight to its log files, so its output never depends on the
// daemon being alive (with -t, a terminal's output passes through the daemon: console.go). Every
// change of state is written to ROOT/containers/<id>/config.json before anyone is told about it.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Config is what the container runs, as `docker inspect` shows it under .Config.
type Config struct {
	Hostname   string
	User       string
	Env        []string
	Cmd        []string
	Image      string // as the user named it
	WorkingDir string
	Labels     map[string]string
	OpenStdin  bool // -i
	StdinOnce  bool // the first attached client's EOF closes stdin (-i, not -d)
	Tty        bool // -t: the command's stdio is a terminal (console.go)
}

// HostConfig is how the container relates to the host (.HostConfig in `docker inspect`).
type HostConfig struct {
	NetworkMode    string
	PortBindings   map[string][]PortBinding // -p, as asked: "80/tcp" → host address and port ("" for any)
	AutoRemove     bool                     // --rm
	CapAdd         []string                 // --cap-add, as CAP_ names (capabilities.go)
	CapDrop        []string                 // --cap-drop
	ReadonlyRootfs bool                     // --read-only
	SecurityOpt    []string                 // --security-opt: seccomp=unconfined or seccomp=<profile JSON> (seccomp.go)

	// The limits of resources.go, applied by the container's cgroup (cgroups.go); Docker's names and units.
	Memory     int64  // -m: bytes, 0 for no limit
	MemorySwap int64  // --memory-swap: memory plus swap in bytes, -1 for unlimited swap
	CpuShares  int64  // -c: relative CPU weight, 1024 being one CPU's default share
	NanoCpus   int64  // --cpus, in billionths of a CPU
	CpusetCpus string // --cpuset-cpus: the CPUs it may run on, "0-2,4"
	PidsLimit  int64  // --pids-limit: at most this many processes, 0 for no limit
}

type Container struct {
	ID              string `json:"Id"`
	Created         time.Time
	Path            string
	Args            []string
	Config          *Config
	HostConfig      *HostConfig
	State           State
	Image           string // the image's ID
	Name            string // with a leading "/", as Docker stores names
	NetworkSettings *NetworkSettings

	root    string // ROOT/containers/<id>
	runtime *Runtime

	mu     sync.Mutex    // guards State and the fields below
	cmd    *exec.Cmd     // the running process
	cgroup *Cgroup       // its cgroup, from start until the monitor removes it
	stdin  *os.File      // our end of the container's stdin pipe (-i)
	exited chan struct{} // closed when the current run has ended and been recorded

	console     *Console // the terminal's master while running with -t (console.go)
	consoleSize *Box     // the size the next start's terminal opens with, if the client has one
}

func (c *Container) ShortID() string { return c.ID[:12] }

func (c *Container) ShortName() string { return strings.TrimPrefix(c.Name, "/") }

func (c *Container) bundle() string { return filepath.Join(c.root, "bundle") }

func (c *Container) rootfs() string { return filepath.Join(c.root, "bundle", "rootfs") }

func (c *Container) logPath(stream string) string { return filepath.Join(c.root, stream+".log") }

// Start runs the container's command. It returns once the command runs (or has failed to start).
func (c *Container) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.State.Running {
		return fmt.Errorf("container %s is already running", c.ShortName())
	}
	err := c.start()
	if err != nil {
		c.removeCgroup()
		c.unmount()
		status := 125
		var se *StatusError
		if errors.As(err, &se) {
			status = se.Status
		}
		// Like Docker, a container whose command never ran keeps its status; the error and the status
		// a shell would give (126, 127) are recorded.
		c.State.ExitCode = status
		c.State.Error = err.Error()
		c.toDisk()
	}
	return err
}

func (c *Container) start() error {
	namespaces, err := c.runtime.network.Namespaces(c, []Namespace{{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}})
	if err != nil {
		return err
	}
	defer closeNamespaceFiles(namespaces) // init has its own copies once it is started
	rootfs, err := c.ensureMounted()
	if err != nil {
		return err
	}
	// The cgroup comes first, with its limits and device rules: init must be in it before it is released.
	c.cgroup = NewCgroup(c.runtime.cgroups, cgroupParent+"/"+c.ID)
	if err := c.cgroup.Create(c.HostConfig); err != nil {
		return err
	}
	// Init is started first and held on the sync pipe, as runc's create comes before its start: while
	// the Go runtime starts up in the child, the daemon prepares the rest of the container.
	cmd, syncPipe, err := c.execInit(namespaces)
	if err != nil {
		return err
	}
	defer syncPipe.Close()
	previous := c.State
	c.State.setRunning(cmd.Process.Pid, processStartTime(cmd.Process.Pid))
	// On v1, moving init into its cgroup waits for an RCU grace period in the kernel (about a
	// millisecond here): it goes on while the rest is prepared, and init is released only once it is in.
	joined := make(chan error, 1)
	go func(cgroup *Cgroup) { joined <- cgroup.Join(cmd.Process.Pid) }(c.cgroup)
	// Recorded as running before init is released: a daemon killed from here on finds the process.
	err = c.prepare(rootfs, namespaces, cmd.Process.Pid)
	if err == nil {
		err = c.toDisk()
	}
	if joinErr := <-joined; err == nil {
		err = joinErr
	}
	if err == nil {
		err = c.release(cmd, syncPipe)
	}
	if err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		c.closeStdin()
		c.runtime.network.Release(c)
		c.NetworkSettings = &NetworkSettings{}
		c.State = previous
		return err
	}
	c.cmd = cmd
	c.exited = make(chan struct{})
	go c.monitor(cmd, c.exited)
	return nil
}

// prepare does the daemon's side of a start while init boots: the network (the veth pair goes into the
// namespace of the process pid), the /etc files and the generated config.
func (c *Container) prepare(rootfs string, namespaces []Namespace, pid int) error {
	var err error
	if c.NetworkSettings, err = c.runtime.network.Allocate(c, pid); err != nil {
		return err
	}
	if err := c.runtime.network.WriteEtcFiles(c); err != nil {
		return err
	}
	spec, err := c.generateSpec(rootfs, namespaces)
	if err != nil {
		return err
	}
	specJSON, _ := json.MarshalIndent(spec, "", "\t")
	return os.WriteFile(filepath.Join(c.bundle(), "config.json"), specJSON, 0600)
}

// execInit starts `engine init` in the container's new namespaces, held on the sync pipe.
func (c *Container) execInit(namespaces []Namespace) (*exec.Cmd, *os.File, error) {
	parent, child, err := newSyncPipe()
	if err != nil {
		return nil, nil, err
	}
	defer child.Close()
	stdin, stdout, stderr, err := c.openStdio()
	if err != nil {
		parent.Close()
		return nil, nil, err
	}
	defer closeAll(stdin, stdout, stderr)
	binary, err := sealedBinary()
	if err != nil {
		parent.Close()
		return nil, nil, err
	}
	cmd := &exec.Cmd{
		Path: binary, // never the host's file: see binary.go

		Args:       []string{"engine", "init"},
		Dir:        c.bundle(),
		Env:        []string{fmt.Sprintf("%s=%d", initPipeEnv, initPipeFd)},
		Stdin:      stdin,
		Stdout:     stdout,
		Stderr:     stderr,
		ExtraFiles: append([]*os.File{child}, namespaceFiles(namespaces)...), // fd 3, then 4: netns.go
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: cloneFlags(namespaces),
			Setsid:     true, // the container is nobody's terminal job, least of all the daemon's
		},
	}
	c.cgroup.SpawnInto(cmd.SysProcAttr)
	if err := cmd.Start(); err != nil {
		parent.Close()
		return nil, nil, fmt.Errorf("starting init: %w", err)
	}
	return cmd, parent, nil
}

// newSyncPipe makes the socket pair that holds a starting process (init, or exec's helper) until the
// daemon releases it, and carries back its terminal and its verdict. A socket, not a pipe: a terminal's
// master can only travel over a unix socket (console.go). The daemon's end is non-blocking, so Go's
// poller serves it and its waits can be given a deadline; the child's end is an ordinary one.
func newSyncPipe() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err == nil {
		err = unix.SetNonblock(fds[1], false)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sync pipe: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync"), nil
}

// openStdio opens the files the container's fds 0, 1 and 2 will be: the log files, appended to directly
// by the container, and a pipe for stdin when the container keeps stdin open (-i).
func (c *Container) openStdio() (stdin, stdout, stderr *os.File, err error) {
	if stdout, err = os.OpenFile(c.logPath("stdout"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0600); err != nil {
		return nil, nil, nil, err
	}
	if stderr, err = os.OpenFile(c.logPath("stderr"), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0600); err != nil {
		stdout.Close()
		return nil, nil, nil, err
	}
	if c.Config.OpenStdin && !c.Config.Tty { // a terminal's input goes through its master instead
		if stdin, c.stdin, err = os.Pipe(); err != nil {
			closeAll(stdout, stderr)
			return nil, nil, nil, err
		}
	}
	return stdin, stdout, stderr, nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// cloneFlags turns the spec's namespaces into clone(2) flags: the kernel creates them with the process.
func cloneFlags(namespaces []Namespace) uintptr {
	flags := map[string]uintptr{
		"pid": unix.CLONE_NEWPID, "ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS,
		"mount": unix.CLONE_NEWNS, "network": unix.CLONE_NEWNET,
	}
	var result uintptr
	for _, ns := range namespaces {
		if ns.Path == "" {
			result |= flags[ns.Type]
		}
	}
	return result
}

// release lets init go on and waits for its verdict: EOF when execve succeeded (the sync pipe is
// close-on-exec), or the error init reported. With a terminal, the pty master comes first (console.go).
func (c *Container) release(cmd *exec.Cmd, syncPipe *os.File) error {
	_, err := syncPipe.Write([]byte{0})
	var report []byte
	if err == nil && c.Config.Tty {
		if report, err = c.receiveConsole(syncPipe); err != nil {
			return err
		}
	}
	rest, _ := io.ReadAll(syncPipe)
	report = append(report, rest...)
	if err == nil && len(report) == 0 {
		if c.Config.Tty && c.console == nil {
			return errNoConsole
		}
		return nil
	}
	c.closeConsole()
	return syncFailure(report, "init", cmd.ProcessState)
}

// syncFailure turns the report a process held on a sync pipe sent before dying (an initError) into the
// error the client sees, with the status a shell would give.
func syncFailure(report []byte, who string, state *os.ProcessState) error {
	var failure initError
	if json.Unmarshal(report, &failure) != nil || failure.Message == "" {
		return fmt.Errorf("%s died before starting the command (%v)", who, state)
	}
	return &StatusError{Status: failure.Status, Err: errors.New(failure.Message)}
}

// monitor waits for the container's process to end and records it, like Docker 0.1's Container.monitor.
func (c *Container) monitor(cmd *exec.Cmd, exited chan struct{}) {
	cmd.Wait()
	c.drainConsole() // every byte written to the terminal is in the log before anyone hears of the end
	c.mu.Lock()
	c.State.setStopped(exitStatus(cmd.ProcessState))
	c.State.OOMKilled = c.cgroup.OOMKilled()
	c.removeCgroup()
	c.cmd = nil
	c.closeStdin()
	c.runtime.network.Release(c)
	c.NetworkSettings = &NetworkSettings{}
	c.unmount()
	remove := c.HostConfig.AutoRemove
	if remove {
		c.runtime.Destroy(c)
	} else {
		c.toDisk()
	}
	c.mu.Unlock()
	close(exited)
}

// exitStatus is the status a shell would report: the exit code, or 128+N for death by signal N.
func exitStatus(state *os.ProcessState) int {
	status := state.Sys().(syscall.WaitStatus)
	if status.Signaled() {
		return 128 + int(status.Signal())
	}
	return status.ExitStatus()
}

// removeCgroup removes the container's cgroup, or the one a killed daemon left for it.
func (c *Container) removeCgroup() {
	cgroup := c.cgroup
	if cgroup == nil {
		cgroup = NewCgroup(c.runtime.cgroups, cgroupParent+"/"+c.ID)
	}
	if err := cgroup.Remove(); err != nil {
		fmt.Fprintf(os.Stderr, "engine -d: %v\n", err)
	}
	c.cgroup = nil
}

func (c *Container) closeStdin() {
	if c.stdin != nil {
		c.stdin.Close()
		c.stdin = nil
	}
}

// closeStdinPipe closes the stdin pipe when its client's input ends, unless a later run replaced it.
func (c *Container) closeStdinPipe(pipe *os.File) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stdin == pipe {
		c.closeStdin()
	}
}

// StdinPipe is where the attached client's input goes, when the container was created with -i.
func (c *Container) StdinPipe() *os.File {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.stdin
}

// Kill sends a signal to the container's first process.
func (c *Container) Kill(sig syscall.Signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.State.Running || c.cmd == nil {
		return fmt.Errorf("container %s is not running", c.ShortName())
	}
	return c.cmd.Process.Signal(sig)
}

// Stop asks the container to stop with SIGTERM and kills it after the timeout, as `docker stop` does.
// The command is PID 1 of its namespace: the kernel drops signals it has no handler for, so a command
// that ignores SIGTERM is only stopped by the SIGKILL.
func (c *Container) Stop(timeout time.Duration) error {
	exited := c.exitedChan()
	if exited == nil {
		return nil
	}
	if err := c.Kill(syscall.SIGTERM); err == nil {
		select {
		case <-exited:
			return nil
		case <-time.After(timeout):
		}
	}
	return c.KillAndWait()
}

// killTimeout bounds the wait for a container after SIGKILL. The kernel kills every process of its PID
// namespace at once, but its PID 1 is gone only once all of them have been reaped; a wait must not
// last for ever if one never is.
const killTimeout = 30 * time.Second

// KillAndWait kills the container's first process (and so its PID namespace) and waits, at most
// killTimeout, for the end of the run to be recorded.
func (c *Container) KillAndWait() error {
	exited := c.exitedChan()
	if exited == nil {
		return nil
	}
	c.Kill(syscall.SIGKILL)
	select {
	case <-exited:
		return nil
	case <-time.After(killTimeout):
		return fmt.Errorf("container %s did not exit within %v of SIGKILL", c.ShortName(), killTimeout)
	}
}

// Wait blocks until the container is not running and returns its exit code.
func (c *Container) Wait() int {
	if exited := c.exitedChan(); exited != nil {
		<-exited
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.State.ExitCode
}

// runningPid is the PID of the container's first process, or 0 if it is not running.
func (c *Container) runningPid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.State.Running {
		return 0
	}
	return c.State.Pid
}

// exitedChan is the channel closed at the end of the current run, or nil if the container is not running.
func (c *Container) exitedChan() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.State.Running {
		return nil
	}
	return c.exited
}

// ensureMounted assembles the root filesystem: overlayfs with the image's layers as read-only lowerdirs
// (top layer first) and the container's own rw dir as the upperdir that takes every write.
func (c *Container) ensureMounted() (string, error) {
	rootfs := c.rootfs()
	if isMountPoint(rootfs) {
		return rootfs, nil
	}
	layers, err := c.runtime.graph.LayerPaths(c.Image)
	if err != nil {
		return "", err
	}
	// The merged root takes its owner and mode from the upper dir: 0755, or only root could use "/".
	// The container's directory itself stays 0700, so host users cannot reach it.
	for _, dir := range []string{"rw", "work", "bundle/rootfs"} {
		if err := os.MkdirAll(filepath.Join(c.root, dir), 0755); err != nil {
			return "", err
		}
	}
	options := fmt.Sprintf("lowerdir=%s,upperdir=%s,workdir=%s", strings.Join(layers, ":"), filepath.Join(c.root, "rw"), filepath.Join(c.root, "work"))
	if err := unix.Mount("overlay", rootfs, "overlay", 0, options); err != nil {
		return "", fmt.Errorf("mounting the root filesystem: %w", err)
	}
	return rootfs, nil
}

func (c *Container) unmount() {
	rootfs := c.rootfs()
	if isMountPoint(rootfs) {
		if unix.Unmount(rootfs, 0) != nil {
			unix.Unmount(rootfs, unix.MNT_DETACH)
		}
	}
}

// isMountPoint tells whether dir is on a different file system than its parent.
func isMountPoint(dir string) bool {
	var self, parent unix.Stat_t
	if unix.Lstat(dir, &self) != nil || unix.Lstat(filepath.Dir(dir), &parent) != nil {
		return false
	}
	return self.Dev != parent.Dev
}

// toDisk writes the container record. The caller holds c.mu.
func (c *Container) toDisk() error {
	data, err := json.MarshalIndent(c, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.root, "config.json"), data, 0600)
}
