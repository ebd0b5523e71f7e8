// keeper_client.go: the daemon's side of a container's keeper (keeper.go).
//
// Container.Start starts a keeper with startKeeper and gets init's PID back while init is held; it
// releases init with Keeper.Release once the network and the config are ready. The connection the keeper
// was started with then waits for the end (Keeper.Wait, the monitor's in container_stop.go). Everything
// else goes over keeper.sock in the container's directory, one connection per request (keeperCall):
// signals (Container.Kill), terminal sizes, and attached clients' input (openInput, for attach.go).
//
// After a restart the daemon finds keepers it did not start: adoptKeeper connects to keeper.sock with a
// wait request, and the keeper answers with init's identity, which must be the one the record holds
// (so a PID that now belongs to another process is never taken for the container).
//
// Every call has a bound: a keeper is ours and answers in microseconds, but it is no reason for a
// command to hang.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Keeper is the daemon's handle on a running container's keeper.
type Keeper struct {
	dir      string // the container's directory
	conn     *Conn  // the connection that hears of the end
	Pid      int    // init's, then the command's: the container's PID 1, as the host sees it
	PidStart uint64
	started  *startedKeeper // the keeper's process, if this daemon started it; nil if adopted
	// jobReplyDue: the keeper's answer to the start is still to be read, at the release. Set when the
	// container takes the init the keeper started ahead, whose PID its hello told.
	jobReplyDue bool
}

// unknownExitStatus is the status of a container whose keeper died without saying how it ended (or a host
// that rebooted under it): 255, as containerd and Docker record it.
const unknownExitStatus = 255

// keeperCallTimeout bounds a request to a keeper.
const keeperCallTimeout = 5 * time.Second

// startKeeper gives c's start to a keeper (a spare: keeper_spare.go), whose init, held on the sync
// pipe, becomes the container's (keeper_init.go). It returns once init is the container's.
func (c *Container) startKeeper(namespaces []Namespace, cgroup *Cgroup) (*Keeper, error) {
	job := &keeperJob{
		Dir:        c.root,
		Tty:        c.Config.Tty,
		OpenStdin:  c.Config.OpenStdin && !c.Config.Tty, // a terminal's input goes through its master
		LogConfig:  c.HostConfig.LogConfig,
		CloneFlags: cloneFlags(namespaces),
		OOMFile:    cgroup.oomFile(),
	}
	files := namespaceFiles(namespaces) // sent after the job
	job.Namespaces = len(files)
	started, err := c.runtime.spare.take()
	if err != nil {
		return nil, err
	}
	k := &Keeper{dir: c.root, conn: started.conn, started: started}
	k.conn.SetDeadline(time.Now().Add(keeperCallTimeout))
	defer k.conn.SetDeadline(time.Time{})
	// The hello: the init the keeper started ahead. A spare's came long ago and waits to be read.
	hello, err := readReply(k.conn)
	if err == nil && hello.Pid != 0 && fitsAhead(job.CloneFlags, len(files)) {
		// Its PID is all the daemon needs to go on, so the keeper's reply to the job is read at the
		// release (Release), and meanwhile the keeper makes the log while the daemon makes the network.
		job.Init, k.Pid, k.PidStart, k.jobReplyDue = hello.Pid, hello.Pid, hello.PidStart, true
	}
	if err == nil {
		err = writeRequest(k.conn, keeperRequest{Op: "start", Job: job})
	}
	if err == nil && len(files) > 0 {
		err = passFiles(k.conn, files)
	}
	if err == nil && !k.jobReplyDue {
		var reply keeperReply
		reply, err = readReply(k.conn)
		k.Pid, k.PidStart = reply.Pid, reply.PidStart
	}
	if err != nil {
		k.abort()
		return nil, fmt.Errorf("keeper: %w", err)
	}
	return k, nil
}

// request sends a request on the keeper's first connection and reads the answer, within bound.
func (k *Keeper) request(request keeperRequest, bound time.Duration) (keeperReply, error) {
	k.conn.SetDeadline(time.Now().Add(bound))
	defer k.conn.SetDeadline(time.Time{})
	return exchange(k.conn, request)
}

// exchange writes a request and reads the keeper's reply.
func exchange(conn *Conn, request keeperRequest) (keeperReply, error) {
	if err := writeRequest(conn, request); err != nil {
		return keeperReply{}, err
	}
	return readReply(conn)
}

func writeRequest(conn *Conn, request keeperRequest) error {
	data, _ := json.Marshal(request)
	return conn.WriteFrame(frameRequest, data)
}

// readReply reads the keeper's reply; one that reports an error is that error.
func readReply(conn *Conn) (keeperReply, error) {
	var reply keeperReply
	kind, length, err := conn.ReadHeader()
	if err != nil {
		return reply, err
	}
	if kind != frameReply {
		return reply, fmt.Errorf("expected the keeper's reply, got a %q frame", kind)
	}
	payload, err := conn.ReadPayload(length)
	if err == nil {
		err = json.Unmarshal(payload, &reply)
	}
	if err == nil && reply.Error != "" {
		err = errors.New(reply.Error)
	}
	return reply, err
}

// Release lets init go on and returns its verdict: nil once the command runs, or why it does not (a
// StatusError with the status a shell would give, when init said). On an error the keeper is on its
// way out, and init with it.
func (k *Keeper) Release() error {
	var reply keeperReply
	var err error
	if k.jobReplyDue {
		k.conn.SetDeadline(time.Now().Add(keeperCallTimeout))
		_, err = readReply(k.conn)
		k.jobReplyDue = false
	}
	if err == nil {
		reply, err = k.request(keeperRequest{Op: "release"}, initVerdictTimeout+keeperCallTimeout)
	}
	if err != nil {
		k.abort()
		if reply.Status != 0 {
			return &StatusError{Status: reply.Status, Err: err}
		}
		return err
	}
	return nil
}

// abort ends a start: closing the first connection before the release makes the keeper kill init and
// leave. It returns once the keeper is gone (a keeper that does not go in killTimeout is killed, and
// init with it: the parent-death signal).
func (k *Keeper) abort() {
	k.started.dismiss()
}

// Wait waits, as long as the container runs, for the keeper to say how it ended. A keeper that died
// without saying it is read from exit.json if it wrote that first; otherwise the container died with
// it (see keeper.go), which Wait makes sure of, and its status is unknown.
func (k *Keeper) Wait() (keeperExit, string) {
	for {
		kind, length, err := k.conn.ReadHeader()
		if err != nil {
			break
		}
		payload, err := k.conn.ReadPayload(length)
		if err != nil {
			break
		}
		var exit keeperExit
		if kind == frameExited && json.Unmarshal(payload, &exit) == nil {
			k.conn.Close()
			return exit, ""
		}
	}
	k.conn.Close()
	return k.exitWithoutKeeper()
}

// exitWithoutKeeper is the end of a container whose keeper is gone: what exit.json says, if the keeper
// wrote it for this run (with why the command never ran, if it did not), or else a death by SIGKILL,
// made sure of.
func (k *Keeper) exitWithoutKeeper() (keeperExit, string) {
	if exit, err := readKeeperExit(k.dir); err == nil && exit.Pid == k.Pid && exit.PidStart == k.PidStart {
		return exit, exit.Error
	}
	killProcess(k.Pid, k.PidStart)
	return keeperExit{Pid: k.Pid, PidStart: k.PidStart, ExitCode: unknownExitStatus, FinishedAt: time.Now().UTC()},
		"the container's keeper is gone: its exit status is unknown"
}

// readKeeperExit reads the exit.json of a container's directory.
func readKeeperExit(dir string) (keeperExit, error) {
	var exit keeperExit
	data, err := os.ReadFile(filepath.Join(dir, keeperExitFile))
	if err == nil {
		err = json.Unmarshal(data, &exit)
	}
	return exit, err
}

// killProcess kills the process pid if it is still the one that started at start (a PID may have been
// given to another process since), and waits a while for it to go.
func killProcess(pid int, start uint64) {
	if pid <= 0 || processStartTime(pid) != start {
		return
	}
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 100 && processStartTime(pid) == start; i++ {
		time.Sleep(10 * time.Millisecond)
	}
}

// dialKeeper connects to the keeper.sock of a container's directory.
func dialKeeper(dir string) (*Conn, error) {
	conn, err := onSocketPath(dir, func(path string) (net.Conn, error) {
		return net.DialTimeout("unix", path, keeperCallTimeout)
	})
	if err != nil {
		return nil, err
	}
	return &Conn{Conn: conn}, nil
}

// onSocketPath calls use with the path of keeper.sock in dir, a path through a descriptor of dir
// (/proc/self/fd/N/keeper.sock): a socket's path may be at most 108 bytes, and
// ROOT/containers/<64 hex digits>/keeper.sock alone can be longer.
func onSocketPath[T any](dir string, use func(path string) (T, error)) (T, error) {
	fd, err := unix.Open(dir, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		var none T
		return none, err
	}
	defer unix.Close(fd)
	return use(fmt.Sprintf("/proc/self/fd/%d/%s", fd, keeperSocket))
}

// keeperCall makes one request of the running container's keeper.
func (c *Container) keeperCall(request keeperRequest) (keeperReply, error) {
	conn, err := dialKeeper(c.root)
	if err != nil {
		return keeperReply{}, fmt.Errorf("container %s: its keeper: %w", c.ShortName(), err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(keeperCallTimeout))
	return exchange(conn, request)
}

// adoptKeeper finds the keeper of a container recorded as running, after a restart: nil if there is
// none that keeps the process the record names.
func (c *Container) adoptKeeper() *Keeper {
	conn, err := dialKeeper(c.root)
	if err != nil {
		return nil
	}
	conn.SetDeadline(time.Now().Add(keeperCallTimeout))
	reply, err := exchange(conn, keeperRequest{Op: "wait"})
	conn.SetDeadline(time.Time{})
	if err != nil || reply.Pid != c.State.Pid || reply.PidStart != c.State.PidStart {
		conn.Close()
		return nil
	}
	return &Keeper{dir: c.root, conn: conn, Pid: reply.Pid, PidStart: reply.PidStart}
}

// refreshLogDropped asks a running container's keeper how much output its log has dropped so far (the
// record has the count of the last run that ended). A keeper that does not answer leaves it as it was.
func (c *Container) refreshLogDropped() {
	if c.exitedChan() == nil {
		return
	}
	if reply, err := c.keeperCall(keeperRequest{Op: "status"}); err == nil {
		c.mu.Lock()
		c.LogDropped = reply.LogDropped
		c.mu.Unlock()
	}
}

// keeperInput is an attached client's way into the container, through its keeper: stdin and, with a
// terminal, its size (attach.go).
type keeperInput struct {
	conn *Conn
}

// openInput opens a stdin stream to the container's keeper. closeStdin: the end of this client's input
// closes the container's stdin (StdinOnce).
func (c *Container) openInput(closeStdin bool) (*keeperInput, error) {
	conn, err := dialKeeper(c.root)
	if err != nil {
		return nil, err
	}
	conn.SetDeadline(time.Now().Add(keeperCallTimeout))
	if _, err := exchange(conn, keeperRequest{Op: "stdin", CloseStdin: closeStdin}); err != nil {
		conn.Close()
		return nil, err
	}
	conn.SetDeadline(time.Time{})
	return &keeperInput{conn: conn}, nil
}

func (in *keeperInput) Write(p []byte) (int, error) {
	return frameWriter{in.conn, frameStdin}.Write(p)
}

func (in *keeperInput) Resize(rows, cols uint16) error {
	return in.conn.WriteFrame(frameResize, resizePayload(rows, cols))
}

// CloseInput says the client's input has ended.
func (in *keeperInput) CloseInput() { in.conn.WriteFrame(frameStdinClosed, nil) }

func (in *keeperInput) Close() error { return in.conn.Close() }
