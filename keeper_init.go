// keeper_init.go: the keeper's child, `engine init`, started before its container is known.
//
// Init is a Go process, and a Go process spends about 7 ms starting its runtime before main runs. A
// keeper therefore starts its init as soon as it starts itself, before any job: while the keeper waits
// as the daemon's spare (keeper_spare.go), so does its init, runtime started, held on the sync pipe. A
// `run` then finds a booted init waiting, and those milliseconds are spent while nobody waits for them.
//
// An init started so early can only have what every container gets: its own PID, IPC, UTS and network
// namespaces (pooledFlags), which clone(2) makes empty, so nothing of another container can be in them.
// Everything that depends on the container comes later:
//   - the cgroup: the daemon moves init into it by its cgroup.procs (Cgroup.Add) before the release;
//   - the bundle: the release message names it, and init reads config.json from there (init.go);
//   - the mount namespace: init makes it itself at its release (unshare), so that it copies the host's
//     mounts as they are then, the container's root among them, not as they were when init started;
//   - stdin and the terminal: the pipes are made with init, and fitted to the job (fitStdio).
//
// A job that needs other namespaces (`--net host`, `--net container:X`, which init joins by the
// descriptors that come with the job) gets an init started for it, and the waiting one is killed.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// pooledFlags are the namespaces an init started ahead of its job is made in: those of every container
// on the bridge or with `--net none`. The mount namespace comes at the release, as the opening says.
const pooledFlags = unix.CLONE_NEWPID | unix.CLONE_NEWIPC | unix.CLONE_NEWUTS | unix.CLONE_NEWNET

// initProcess is the keeper's child, from its start to its reaping.
type initProcess struct {
	cmd        *exec.Cmd
	flags      uintptr // the namespaces it was started in
	pidStart   uint64
	syncPipe   *os.File      // our end
	stdin      *os.File      // the writing end of its stdin pipe
	outputs    []*os.File    // the reading ends of its stdout and stderr pipes
	done       chan struct{} // closed once it has exited and been reaped, at finishedAt
	finishedAt time.Time
}

func (p *initProcess) pid() int { return p.cmd.Process.Pid }

// exited tells whether init has exited: a waiting one may have been killed.
func (p *initProcess) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// kill ends an init that will not run, and returns once it is reaped.
func (p *initProcess) kill() {
	p.cmd.Process.Kill()
	<-p.done
	closeAll(p.syncPipe, p.stdin)
	closeAll(p.outputs...)
}

// initForJob makes the waiting init the job's, when the daemon took it (its PID is the job's Init), or
// else starts one for the job, and fits its stdio to the job. The daemon decides (Container.startKeeper),
// since it has already used the PID of the init it took.
func (k *keeper) initForJob() error {
	if k.job.Init != 0 {
		if k.init == nil || k.init.pid() != k.job.Init || k.init.exited() {
			return fmt.Errorf("keeper: the init it started ahead (PID %d) is gone", k.job.Init)
		}
		k.fitStdio()
		return nil
	}
	if k.init != nil {
		k.init.kill()
	}
	p, err := startInit(k.job.CloneFlags&^unix.CLONE_NEWNS, k.namespaces) // the mount namespace: at the release
	k.init = p
	if err != nil {
		return err
	}
	k.fitStdio()
	return nil
}

// fitsAhead tells whether an init started ahead, in pooledFlags, can be the init of a container in
// these namespaces: new ones only, and the same (its mount namespace comes at its release).
func fitsAhead(flags uintptr, joined int) bool {
	return flags&^unix.CLONE_NEWNS == pooledFlags && joined == 0
}

// fitStdio gives the job the ends of init's stdio it needs. Without -i, the writing end of stdin is
// closed: the command reads EOF, as from /dev/null. With a terminal, the pipes only stand in until init
// replaces all three with the terminal it makes, and nobody reads the output pipes.
func (k *keeper) fitStdio() {
	if k.job.OpenStdin {
		k.stdin = k.init.stdin
	} else {
		k.init.stdin.Close()
	}
	k.init.stdin = nil
	if k.job.Tty {
		closeAll(k.init.outputs...)
	} else {
		k.outputs = k.init.outputs
	}
	k.init.outputs = nil
}

// startInit starts `engine init` in new namespaces (flags) and, if given, with the namespaces it is to
// join, held on the sync pipe. It runs on a thread that stays locked until init has exited: the
// parent-death signal fires when the thread that started the child ends, not the process (prctl(2)), and
// the Go runtime may end a thread that is not locked to a goroutine.
func startInit(flags uintptr, namespaces []*os.File) (*initProcess, error) {
	p := &initProcess{flags: flags, done: make(chan struct{})}
	started := make(chan error)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with the goroutine, after init is reaped
		err := p.spawn(namespaces)
		started <- err
		if err == nil {
			awaitExit(p.pid())
			p.cmd.Wait()
			p.finishedAt = time.Now().UTC()
			close(p.done)
		}
	}()
	if err := <-started; err != nil {
		return nil, err
	}
	return p, nil
}

// awaitExit returns once the child pid has exited, without reaping it. A goroutine blocked in a wait
// system call keeps the keeper's one processor (GOMAXPROCS=1) until the runtime's monitor thread takes it
// back, which may be milliseconds later: every other goroutine (the reply to the daemon, the copiers)
// waits that long. A pidfd becomes readable when its process exits, so the runtime's poller can wait
// for it, as it waits for a socket, holding nothing.
func awaitExit(pid int) {
	fd, err := unix.PidfdOpen(pid, unix.PIDFD_NONBLOCK)
	if err != nil {
		return // the caller's Wait still waits, the slow way
	}
	pidfd := os.NewFile(uintptr(fd), "pidfd")
	defer pidfd.Close()
	raw, err := pidfd.SyscallConn()
	if err != nil {
		return
	}
	raw.Read(func(fd uintptr) bool {
		var info unix.Siginfo
		err := unix.Waitid(unix.P_PIDFD, int(fd), &info, unix.WEXITED|unix.WNOHANG|unix.WNOWAIT, nil)
		return err != unix.EAGAIN && (err != nil || info.Signo != 0)
	})
}

func (p *initProcess) spawn(namespaces []*os.File) error {
	parent, child, err := newSyncPipe()
	if err != nil {
		return err
	}
	defer child.Close()
	stdio, err := p.makeStdio()
	if err != nil {
		parent.Close()
		return err
	}
	defer closeAll(stdio...)
	p.cmd = &exec.Cmd{
		// The keeper runs from the daemon's sealed copy of the binary, so its own /proc/self/exe is that
		// copy: init runs from it too, never from the host's file (binary.go).
		Path:       "/proc/self/exe",
		Args:       []string{"engine", "init"},
		Env:        []string{fmt.Sprintf("%s=%d", initPipeEnv, initPipeFd)},
		Stdin:      stdio[0],
		Stdout:     stdio[1],
		Stderr:     stdio[2],
		ExtraFiles: append([]*os.File{child}, namespaces...), // fd 3, then 4…: netns.go
		SysProcAttr: &syscall.SysProcAttr{
			Cloneflags: p.flags,
			Setsid:     true,            // the container is nobody's terminal job
			Pdeathsig:  syscall.SIGKILL, // if the keeper dies, so does the container (init sets it again: init.go)
		},
	}
	if err := p.cmd.Start(); err != nil {
		parent.Close()
		closeAll(p.stdin)
		closeAll(p.outputs...)
		return fmt.Errorf("starting init: %w", err)
	}
	p.syncPipe = parent
	p.pidStart = processStartTime(p.pid())
	return nil
}

// makeStdio makes the container's fds 0, 1 and 2: pipes whose other ends the keeper keeps, never a file
// of the host.
func (p *initProcess) makeStdio() ([]*os.File, error) {
	stdio := make([]*os.File, 3)
	r, w, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	stdio[0], p.stdin = r, w
	for i := 1; i <= 2; i++ {
		r, w, err := os.Pipe()
		if err != nil {
			closeAll(stdio...)
			closeAll(p.stdin)
			closeAll(p.outputs...)
			return nil, err
		}
		stdio[i] = w
		// A pipe of maxLogChunk (1 MiB) rather than the default 64 KiB: a container that writes in
		// large blocks is read a sixteenth as often, and each read is one record, so the log has a
		// sixteenth of the records to write and to send back, and every process on the way wakes
		// up that much less often; a wake-up (a switch between processes) is what costs most here.
		// Measured (bench/ -only stdout, and 4 GiB by hand): 256 KiB pipes and records gave about
		// 575 MB/s to an attached client, 1 MiB about 710. The pages are the kernel's, taken as
		// the pipe fills. If the kernel refuses, the pipe keeps its default size.
		unix.FcntlInt(r.Fd(), unix.F_SETPIPE_SZ, maxLogChunk)
		p.outputs = append(p.outputs, r)
	}
	return stdio, nil
}

// release lets init go on in the container's bundle and waits for its verdict: EOF when execve
// succeeded (the sync pipe is close-on-exec), or init's report. With a terminal, the master comes first.
func (k *keeper) release() (int, error) {
	syncPipe := k.init.syncPipe
	defer syncPipe.Close()
	if err := syncPipe.SetDeadline(time.Now().Add(initVerdictTimeout)); err != nil {
		return 125, err
	}
	_, err := syncPipe.Write(releaseMessage(k.job.Dir))
	var report []byte
	if err == nil && k.job.Tty {
		var master *os.File
		master, report, err = receiveTerminal(syncPipe)
		if master != nil {
			k.master, k.stdin = master, master
			k.outputs = append(k.outputs, master)
		}
	}
	if err != nil {
		return 125, verdictOverdue(err)
	}
	rest, err := io.ReadAll(syncPipe)
	report = append(report, rest...)
	if err != nil {
		return 125, verdictOverdue(err)
	}
	if len(report) > 0 {
		<-k.init.done
		var se *StatusError
		if err := syncFailure(report, "init", k.init.cmd.ProcessState); errors.As(err, &se) {
			return se.Status, se.Err
		} else {
			return 125, err
		}
	}
	if k.job.Tty && k.master == nil {
		return 125, errNoConsole
	}
	return 0, nil
}
