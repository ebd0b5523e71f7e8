// keeper.go: the process that keeps a container, `engine init keeper`: containerd's shim, podman's conmon.
//
// If the daemon were the parent of every container's first process, a daemon that stops (a crash, an
// upgrade, `contrib/setup.sh` run again) would take every container with it: only a process's parent
// learns its exit status, and the daemon would hold the pipes its output goes through. So between the
// daemon and init there is a keeper. Container.Start (container.go) starts it from the sealed binary
// (binary.go), in a session of its own so that nothing aimed at the daemon reaches it, and from then on:
//
//  0. it starts `engine init` as its own child at once, in new namespaces, with pipes for its stdio,
//     held on the sync pipe, before it has a job (keeper_init.go: a Go process's start takes a while),
//     and tells the daemon init's PID, which the daemon needs for the network and the cgroup;
//  1. the keeper reads its job from the daemon (start: the container's directory, terminal, stdin, log
//     options, namespaces), makes that init the job's (or starts one the job's namespaces need, and
//     tells the daemon its PID);
//  2. on the daemon's release it lets init go on in the container's bundle and tells the daemon init's
//     verdict (started, or why not); with -t, init makes the terminal and sends its master here;
//  3. it copies the container's output into the log (logfile.go), serves the daemon on keeper.sock in
//     the container's directory (signals, stdin, terminal sizes, waits: keeper_serve.go), and waits for
//     init;
//  4. when init has exited and its output is all in the log, it writes exit.json (status, time, OOM
//     kill, dropped output) atomically into the container's directory, tells whoever waits, and leaves.
//
// The daemon is the keeper's client, not its master: it may die and come back (runtime_restore.go
// adopts the keepers it finds), and nothing the container does waits for it. If the keeper dies, init
// dies with it (the kernel's parent-death signal, set again by init after it changes user, which clears
// it), and the daemon records that, as containerd does when a shim dies.
//
// One keeper per container, as conmon and containerd's shim v2 do, rather than one for all: a keeper that
// fails takes one container with it, and an upgraded daemon leaves each keeper running the binary that
// started it. The cost is a small Go process per running container (its memory, measured by bench/,
// is mostly pages it shares with every other keeper: they all run the same sealed copy).
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

const (
	keeperSocket   = "keeper.sock" // in the container's directory
	keeperExitFile = "exit.json"   // in the container's directory, written when the container has exited
	keeperFd       = 3             // the keeper's end of its connection to the daemon that started it

	frameReply  byte = 'R' // keeper → daemon: the answer to a request (keeperReply, JSON)
	frameExited byte = 'X' // keeper → daemon: the container has exited (keeperExit, JSON)
)

// keeperJob is what the daemon asks a new keeper to keep.
type keeperJob struct {
	Dir        string    // the container's directory: the log, exit.json and keeper.sock are there
	Tty        bool      // init makes a terminal and sends its master
	OpenStdin  bool      // a pipe for stdin (-i without -t)
	LogConfig  LogConfig // max-size and max-file
	CloneFlags uintptr   // init's new namespaces
	Init       int       // the PID of the init the hello named, taken for the job; 0: start one for it
	OOMFile    string    // the cgroup file whose oom_kill count tells an OOM kill
	// The namespaces init joins (netns.go), which it gets as fds 4, 5, …: their descriptors come right
	// after the job, in one message (SCM_RIGHTS).
	Namespaces int
}

// keeperRequest is what the daemon asks of a keeper, on its first connection or on keeper.sock.
type keeperRequest struct {
	Op         string     // start, release, wait, signal, stdin, resize, status
	Job        *keeperJob `json:",omitempty"`
	Signal     int        `json:",omitempty"`
	CloseStdin bool       `json:",omitempty"` // stdin: the end of this client's input closes the container's
	Rows, Cols uint16     `json:",omitempty"`
}

// keeperReply answers a request: init's identity, what went wrong, and how much output was dropped.
type keeperReply struct {
	Pid        int    `json:",omitempty"`
	PidStart   uint64 `json:",omitempty"`
	Status     int    `json:",omitempty"` // with Error at release: the status of init's failure (126, 127…)
	Error      string `json:",omitempty"`
	LogDropped int64  `json:",omitempty"`
}

// keeperExit is exit.json: how the container's run ended.
type keeperExit struct {
	Pid        int
	PidStart   uint64
	ExitCode   int
	OOMKilled  bool
	FinishedAt time.Time
	LogDropped int64
	Error      string `json:",omitempty"` // why the command never ran, when it did not
}

// keeper is the keeper process's state.
type keeper struct {
	job        keeperJob
	log        *LogWriter
	init       *initProcess // started before the job (keeper_init.go)
	listener   *net.UnixListener
	namespaces []*os.File // another container's namespaces, held for init until it has joined them
	stdin      *os.File   // our end of the container's stdin pipe (-i), or with -t the terminal's master
	master     *os.File   // with -t
	outputs    []*os.File
	copied     sync.WaitGroup

	mu     sync.Mutex
	exit   *keeperExit   // once init has exited and exit.json is written
	ended  chan struct{} // closed then
	waiter []*Conn       // connections that wait for the end
}

// Keep is `engine init keeper`.
func Keep() int {
	// No descriptor is closed here, unlike init: the daemon passed exactly the ones the job lists (it
	// marks all of its own close-on-exec, main.go), and init closes what it must not keep.
	conn, err := net.FileConn(os.NewFile(keeperFd, "daemon"))
	if err != nil {
		return 1
	}
	daemon := &Conn{Conn: conn}
	k := &keeper{ended: make(chan struct{})}
	// Step 0. If init does not start, the hello says PID 0 and the job asks for an init of its own.
	k.init, _ = startInit(pooledFlags, nil)
	hello := keeperReply{}
	if k.init != nil {
		hello = keeperReply{Pid: k.init.pid(), PidStart: k.init.pidStart}
	}
	err = daemon.WriteFrame(frameReply, replyJSON(hello))
	if err == nil {
		err = k.start(daemon)
	}
	if err != nil {
		if k.init != nil {
			k.init.kill()
		}
		daemon.WriteFrame(frameReply, replyJSON(keeperReply{Error: err.Error()}))
		return 1
	}
	k.keepWaiter(daemon)
	go k.serve()
	k.finish()
	return 0
}

func replyJSON(reply keeperReply) []byte {
	data, _ := json.Marshal(reply)
	return data
}

// start does steps 1 and 2: the job, init, the release. Init is killed if anything fails.
func (k *keeper) start(daemon *Conn) error {
	var request keeperRequest
	if err := readKeeperRequest(daemon, &request); err != nil || request.Op != "start" || request.Job == nil {
		return fmt.Errorf("keeper: expected a start request: %v", err)
	}
	k.job = *request.Job
	if err := k.receiveFiles(daemon); err != nil {
		return err
	}
	if err := os.Chdir(k.job.Dir); err != nil {
		return err
	}
	log, err := OpenLogWriter(".", k.job.LogConfig)
	if err != nil {
		return err
	}
	k.log = log
	if err := k.initForJob(); err != nil {
		return err
	}
	reply := keeperReply{Pid: k.init.pid(), PidStart: k.init.pidStart}
	if err := daemon.WriteFrame(frameReply, replyJSON(reply)); err != nil {
		return k.abandon(err)
	}
	// Held until the daemon has done its part (network, config), for at most keeperReleaseTimeout: a
	// daemon that dies meanwhile closes the connection, and init dies unreleased.
	daemon.SetReadDeadline(time.Now().Add(keeperReleaseTimeout))
	err = readKeeperRequest(daemon, &request)
	daemon.SetReadDeadline(time.Time{})
	if err != nil || request.Op != "release" {
		return k.abandonUnreleased(fmt.Errorf("keeper: expected the release: %v", err))
	}
	status, err := k.release()
	closeAll(k.namespaces...) // joined, or never to be: holding them would keep them alive
	if err != nil {
		k.abandon(err)
		daemon.WriteFrame(frameReply, replyJSON(keeperReply{Status: status, Error: err.Error()}))
		return err
	}
	if err := k.listen("."); err != nil {
		return k.abandon(err)
	}
	k.copyOutput()
	// The command runs from here on, whether or not anyone hears of it: a daemon killed since it sent
	// the release reads this reply nowhere, and the next one adopts the container through keeper.sock.
	// Failing the start now would kill a container the daemon's record already calls running.
	daemon.WriteFrame(frameReply, replyJSON(keeperReply{Pid: reply.Pid, PidStart: reply.PidStart}))
	return nil
}

// receiveFiles takes the descriptors the job announces, sent after it in one message.
func (k *keeper) receiveFiles(daemon *Conn) error {
	count := k.job.Namespaces
	if count == 0 {
		return nil
	}
	raw, err := daemon.Conn.(*net.UnixConn).SyscallConn()
	if err != nil {
		return err
	}
	files, err := receiveFds(raw, count)
	if err != nil {
		return fmt.Errorf("keeper: receiving the job's descriptors: %w", err)
	}
	k.namespaces = files
	return nil
}

// receiveFds reads one message of one byte carrying count descriptors (passFiles in keeper_spare.go sends it).
func receiveFds(conn syscall.RawConn, count int) ([]*os.File, error) {
	data, oob := make([]byte, 1), make([]byte, unix.CmsgSpace(4*count))
	var oobn int
	var recvErr error
	err := conn.Read(func(fd uintptr) bool {
		_, oobn, _, _, recvErr = unix.Recvmsg(int(fd), data, oob, unix.MSG_CMSG_CLOEXEC)
		return recvErr != unix.EAGAIN
	})
	if err == nil {
		err = recvErr
	}
	if err != nil {
		return nil, err
	}
	fds, err := parseRights(oob[:oobn])
	if err == nil && len(fds) != count {
		err = fmt.Errorf("%d descriptors came, not %d", len(fds), count)
	}
	if err != nil {
		for _, fd := range fds {
			unix.Close(fd)
		}
		return nil, err
	}
	files := make([]*os.File, count)
	for i, fd := range fds {
		files[i] = os.NewFile(uintptr(fd), "job")
	}
	return files, nil
}

// keeperReleaseTimeout bounds how long a keeper holds an unreleased init: the daemon's side of a start
// takes milliseconds, and its bound on init's verdict (initVerdictTimeout) comes after this.
const keeperReleaseTimeout = 2 * time.Minute

// abandon kills an init that will not run and returns err.
func (k *keeper) abandon(err error) error {
	k.init.cmd.Process.Kill()
	<-k.init.done
	os.Remove(keeperSocket)
	return err
}

// abandonUnreleased is abandon for a start the daemon left before releasing init (it died, or was
// killed, after recording the container as running): the command never ran, and exit.json says so, for
// the next daemon to record instead of a run that ended.
func (k *keeper) abandonUnreleased(err error) error {
	k.abandon(err)
	exit := keeperExit{
		Pid:        k.init.pid(),
		PidStart:   k.init.pidStart,
		ExitCode:   125, // what a start that fails records (Container.Start)
		FinishedAt: k.init.finishedAt,
		Error:      "the daemon went away before the container's command started: it never ran",
	}
	data, _ := json.MarshalIndent(exit, "", "\t")
	writeFileAtomic(keeperExitFile, data, 0600)
	return err
}

// listen opens keeper.sock in the container's directory dir.
func (k *keeper) listen(dir string) error {
	listener, err := onSocketPath(dir, func(path string) (*net.UnixListener, error) {
		os.Remove(path)
		return net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	})
	if err != nil {
		return fmt.Errorf("keeper: %w", err)
	}
	listener.SetUnlinkOnClose(false) // finish removes it, after exit.json is written
	k.listener = listener
	return nil
}

// copyOutput starts a copier per output, each into the log with its stream. One read is one record:
// the buffer bounds what a copier holds, whatever the container writes. It is the size of the pipe, and
// is touched (and resident) only as far as the reads fill it: a quiet container's keeper stays small.
func (k *keeper) copyOutput() {
	streams := []byte{frameStdout, frameStderr}
	for i, output := range k.outputs {
		k.copied.Add(1)
		go func() {
			defer k.copied.Done()
			buf := make([]byte, maxLogChunk)
			for {
				n, err := output.Read(buf)
				if n > 0 {
					k.log.Write(streams[i], buf[:n])
				}
				if err != nil { // EOF, or EIO from a terminal no one holds any more
					return
				}
			}
		}()
	}
}

// outputDrainTimeout bounds the wait for the last output after init has exited. Every process of the
// container dies with init (it was PID 1 of their namespace), and their ends of the pipes with them;
// only a descriptor passed out of the container could keep a pipe open longer, or an attached client
// that does not read, whose reader the log waits for (logfile.go).
const outputDrainTimeout = 5 * time.Second

// finish is step 4: it waits for init, then for its output, and records the end.
func (k *keeper) finish() {
	<-k.init.done
	drained := make(chan struct{})
	go func() { k.copied.Wait(); close(drained) }()
	select {
	case <-drained:
	case <-time.After(outputDrainTimeout):
		k.log.StopWaiting()    // a copier may wait for an attached client that does not read
		closeAll(k.outputs...) // the copiers' reads end
		<-drained
	}
	exit := keeperExit{
		Pid:        k.init.pid(),
		PidStart:   k.init.pidStart,
		ExitCode:   exitStatus(k.init.cmd.ProcessState),
		OOMKilled:  oomKilled(k.job.OOMFile),
		FinishedAt: k.init.finishedAt,
		LogDropped: k.log.Dropped(),
	}
	k.log.Close()
	data, _ := json.MarshalIndent(exit, "", "\t")
	// Written before anyone hears of the end, for a daemon that was away to read. Not flushed to disk:
	// its two fsyncs held every end about 2 ms here, and what they guard against is a power
	// cut, which kills the container and its keeper too; a daemon that then finds exit.json missing or
	// empty records the end as unknown (keeper_client.go), which is the truth after a power cut.
	replaceFile(keeperExitFile, data, 0600, false)
	k.mu.Lock()
	k.exit = &exit
	close(k.ended)
	waiters := k.waiter
	k.waiter = nil
	if k.stdin != nil && k.stdin != k.master {
		k.stdin.Close()
	}
	k.mu.Unlock()
	for _, conn := range waiters {
		conn.SetWriteDeadline(time.Now().Add(time.Second))
		conn.WriteFrame(frameExited, data)
		conn.Close()
	}
	os.Remove(keeperSocket)
	k.listener.Close()
}
