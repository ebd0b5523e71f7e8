// keeper_spare.go: a keeper started before it is needed.
//
// A keeper is a Go process, and a Go process spends about 7 ms starting its runtime before main runs:
// more than the whole of the daemon's own part of a start. Started when a container starts, the keeper
// would put those milliseconds in front of init's own start, which is also a Go process's. So the daemon
// keeps one keeper started and waiting, with no job yet, and its init started and waiting too
// (keeper_init.go): Container.Start takes it (startKeeper) and sends it the container's job, and the
// next spare is started in the background, while the container runs and the client reads its output.
// The first start of a daemon's life starts its keeper on the spot.
//
// A spare costs what an idle keeper and an idle init cost (about a megabyte each; bench/ measures a
// keeper), is no container's and shows nowhere, and leaves when the daemon does: its only connection is
// to the daemon, and its end (EOF) is its signal to exit, its init killed first (and killed by the
// kernel if the keeper is: the parent-death signal). Its job's descriptors (another container's network
// namespace) travel after the job with SCM_RIGHTS, as a terminal's master does (console.go).
package main

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// spareKeeper holds at most one keeper that is started and waits for a job.
type spareKeeper struct {
	dir string // the spare's working directory until its job: ROOT

	mu      sync.Mutex
	next    *startedKeeper // ready for a job, or nil
	closed  bool           // the daemon is leaving: no more spares
	filling sync.WaitGroup // a spare being started in the background
	busy    bool           // the same, for take and refill
	filled  *sync.Cond     // signalled (with mu) when a spare on its way has arrived, or failed to
}

func newSpareKeeper(dir string) *spareKeeper {
	s := &spareKeeper{dir: dir}
	s.filled = sync.NewCond(&s.mu)
	return s
}

// startedKeeper is a keeper process and the daemon's end of its first connection.
type startedKeeper struct {
	conn    *Conn
	process *os.Process
	gone    chan struct{} // closed once the process has exited and been reaped
}

// take returns the spare if one is ready or on its way (it comes sooner than one started now), or else
// a keeper started now, and starts the next spare in the background.
func (s *spareKeeper) take() (*startedKeeper, error) {
	s.mu.Lock()
	for s.next == nil && s.busy {
		s.filled.Wait()
	}
	k := s.next
	s.next = nil
	s.mu.Unlock()
	s.refill()
	if k != nil && k.alive() {
		return k, nil
	}
	return spawnKeeper(s.dir)
}

// refill starts a spare in the background, unless one is ready or on its way, or the daemon is leaving.
func (s *spareKeeper) refill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed || s.busy || s.next != nil {
		return
	}
	s.busy = true
	s.filling.Add(1)
	go func() {
		defer s.filling.Done()
		k, err := spawnKeeper(s.dir)
		if err != nil {
			fmt.Fprintf(os.Stderr, "engine -d: starting a spare keeper: %v\n", err)
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.busy = false
		s.filled.Broadcast()
		if k != nil && s.closed {
			k.dismiss()
		} else if k != nil {
			s.next = k
		}
	}()
}

// close dismisses the spare, and any on its way, when the daemon leaves.
func (s *spareKeeper) close() {
	s.mu.Lock()
	s.closed = true
	k := s.next
	s.next = nil
	s.mu.Unlock()
	if k != nil {
		k.dismiss()
	}
	s.filling.Wait()
}

// spawnKeeper starts a keeper with no job, in its own session: a signal to the daemon's process group
// (a Ctrl-C in the terminal that started it) does not reach it.
func spawnKeeper(dir string) (*startedKeeper, error) {
	binary, err := sealedBinary()
	if err != nil {
		return nil, err
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "keeper"), os.NewFile(uintptr(fds[1]), "keeper")
	defer theirs.Close()
	// One processor is plenty for a keeper that copies and waits, and each processor more costs it the
	// memory of its own allocation caches (bench/ measures a keeper's memory).
	env := []string{fmt.Sprintf("%s=%d", initPipeEnv, keeperFd), "GOMAXPROCS=1"}
	if gorace, ok := os.LookupEnv("GORACE"); ok {
		// An engine built with -race (the e2e tests under `go test -race`): a keeper reports the races
		// it finds where the daemon does, instead of on a stderr nobody reads.
		env = append(env, "GORACE="+gorace)
	}
	cmd := &exec.Cmd{
		Path:        binary, // the sealed copy, never the host's file (binary.go)
		Args:        []string{"engine", "init", "keeper"},
		Env:         env,
		Dir:         dir,
		ExtraFiles:  []*os.File{theirs}, // fd 3
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		ours.Close()
		return nil, fmt.Errorf("starting a keeper: %w", err)
	}
	k := &startedKeeper{process: cmd.Process, gone: make(chan struct{})}
	go func() { cmd.Wait(); close(k.gone) }() // the daemon reaps the keepers it started
	if k.conn, err = fileConn(ours); err != nil {
		k.dismiss()
		return nil, err
	}
	return k, nil
}

// alive tells whether the keeper still runs: a spare may have been killed while it waited.
func (k *startedKeeper) alive() bool {
	select {
	case <-k.gone:
		return false
	default:
		return true
	}
}

// dismiss ends a keeper that has no container (a spare, or one whose start failed): the end of its
// connection makes it leave. It returns once it has, killing it if it has not within killTimeout.
func (k *startedKeeper) dismiss() {
	if k.conn != nil {
		k.conn.Close()
	}
	select {
	case <-k.gone:
	case <-time.After(killTimeout):
		k.process.Kill()
		<-k.gone
	}
}

// fileConn makes a Conn of one end of a socket pair.
func fileConn(f *os.File) (*Conn, error) {
	defer f.Close()
	conn, err := net.FileConn(f)
	if err != nil {
		return nil, fmt.Errorf("keeper: %w", err)
	}
	return &Conn{Conn: conn}, nil
}

// passFiles sends descriptors over a keeper's connection, with one byte of data (SCM_RIGHTS needs one).
func passFiles(conn *Conn, files []*os.File) error {
	raw, err := conn.Conn.(*net.UnixConn).SyscallConn()
	if err != nil {
		return err
	}
	fds := make([]int, len(files))
	for i, f := range files {
		fds[i] = int(f.Fd())
	}
	var sendErr error
	err = raw.Write(func(fd uintptr) bool {
		sendErr = unix.Sendmsg(int(fd), []byte{'F'}, unix.UnixRights(fds...), nil, 0)
		return sendErr != unix.EAGAIN
	})
	if err == nil {
		err = sendErr
	}
	return err
}
