// container_cp.go: a Container's side of `engine cp`: the helper run on its root.
//
// CmdCp (cp.go) hands a copy to Container.copyFiles, which finds the container's root (withRoot:
// through a pidfd of its first process while it runs; mounted for the copy, with its volumes, under
// the lifecycle lock while it is stopped), starts the helper there (`engine init cp`, cp_helper.go)
// with one end of a pipe as its stdout or stdin, and moves the tar between the other end and the
// client until the helper reports how the copy ended. A client that leaves, or a stream that stops
// moving (copyStallTimeout), has the helper killed; the helper ends with the daemon, whose pipes it
// loses; each wait for its reports has a bound.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

// copyFiles runs the helper on the container's root with request and moves the tar between it and
// the client with stream, which gets the daemon's end of the helper's stdout (Pack) or stdin.
func (c *Container) copyFiles(session *Session, request copyRequest, stream func(tar io.ReadWriter) error) error {
	return c.withRoot(func(pidfd, root *os.File) error {
		if pidfd == nil {
			request.Mounts = c.stoppedMounts()
		}
		ours, theirs, err := copyPipe(request.Pack)
		if err != nil {
			return err
		}
		defer ours.Close()
		helper, err := startCopyHelper(request, pidfd, root, theirs)
		theirs.Close()
		if err != nil {
			return err
		}
		if err := helper.ready(); err != nil {
			return err
		}
		tar, done := &copyStream{file: ours}, make(chan struct{})
		defer close(done)
		streamed := make(chan error, 1)
		go func() {
			err := stream(tar)
			ours.Close() // a helper reading the tar sees its end
			streamed <- err
		}()
		select {
		case err = <-streamed:
		case <-session.conn.Gone():
			helper.kill()
			return errClientLeft
		case <-tar.stalled(done):
			helper.kill()
			return fmt.Errorf("the copy stalled: nothing moved for %v", copyStallTimeout)
		}
		// Its end of the pipe closed, the helper ends either way: with the stream, or at once if the
		// stream broke off (a truncated tar, a closed pipe). What it says is the better explanation.
		if finished := helper.finish(); finished != nil || err == nil {
			return finished
		}
		return err
	})
}

// copyStallTimeout ends a copy whose stream has not moved for so long. A copy of a stopped container
// holds its lifecycle lock (withRoot), for which its start, stop and removal and the daemon's
// shutdown wait: a client that neither reads nor sends nor leaves must not hold them for ever. A
// variable, so that a test can shorten it.
var copyStallTimeout = time.Minute

// copyStream is the daemon's end of the helper's pipe, counting the bytes that pass.
type copyStream struct {
	file  *os.File
	moved atomic.Int64
}

func (s *copyStream) Read(p []byte) (int, error) {
	n, err := s.file.Read(p)
	s.moved.Add(int64(n))
	return n, err
}

func (s *copyStream) Write(p []byte) (int, error) {
	n, err := s.file.Write(p)
	s.moved.Add(int64(n))
	return n, err
}

// stalled is closed once nothing has passed for copyStallTimeout, unless done is closed first.
func (s *copyStream) stalled(done <-chan struct{}) <-chan struct{} {
	stalled := make(chan struct{})
	go func() {
		tick := time.NewTicker(copyStallTimeout / 10)
		defer tick.Stop()
		last, since := s.moved.Load(), time.Now()
		for {
			select {
			case <-done:
				return
			case now := <-tick.C:
				if moved := s.moved.Load(); moved != last {
					last, since = moved, now
				} else if now.Sub(since) >= copyStallTimeout {
					close(stalled)
					return
				}
			}
		}
	}()
	return stalled
}

// copyPipe makes the pipe between the daemon and the helper, of 1 MiB so that each read fills a whole
// frame: the helper's end is its stdout when it packs, its stdin when it unpacks.
func copyPipe(pack bool) (ours, theirs *os.File, err error) {
	r, w, err := os.Pipe()
	if err != nil {
		return nil, nil, err
	}
	unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, maxPayload) // a smaller pipe only costs more frames
	if pack {
		return r, w, nil
	}
	return w, r, nil
}

// withRoot calls fn with the container's root: while it runs, the root of its first process, with a
// pidfd of that process; stopped, its root filesystem, mounted for the copy and unmounted after under
// the lifecycle lock, so that no start can mount it, or unmount it, meanwhile. A container that starts
// or ends just as it is looked at is looked at again.
func (c *Container) withRoot(fn func(pidfd, root *os.File) error) error {
	for attempt := 0; attempt < 100; attempt++ {
		if pidfd, err := c.openPidfd(); err == nil {
			defer pidfd.Close()
			root, err := c.openRoot(pidfd)
			if err != nil {
				return err
			}
			defer root.Close()
			return fn(pidfd, root)
		}
		if done, err := c.withStoppedRoot(fn); done {
			return err
		}
		time.Sleep(10 * time.Millisecond) // it is starting, or its monitor has not recorded its end yet
	}
	return fmt.Errorf("container %s is starting or stopping; try again", c.ShortName())
}

// withStoppedRoot is withRoot for a container that does not run: done is false if it does.
func (c *Container) withStoppedRoot(fn func(pidfd, root *os.File) error) (done bool, err error) {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.removed {
		return true, fmt.Errorf("container %s was removed", c.ShortName())
	}
	if c.exited != nil {
		return false, nil
	}
	if !isMountPoint(c.rootfs()) {
		defer c.unmount()
	}
	rootfs, err := c.ensureMounted()
	if err != nil {
		return true, err
	}
	fd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return true, fmt.Errorf("container %s: opening its root: %w", c.ShortName(), err)
	}
	root := os.NewFile(uintptr(fd), rootfs)
	defer root.Close()
	return true, fn(nil, root)
}

// stoppedMounts are the -v binds and volumes the helper mounts on a stopped container's root, as
// Docker's cp mounts them, so that a copy reads and writes what the container will see there. A
// volume not yet seeded from the image (CopyData) is left out: what a copy puts at its path is then
// in the root filesystem, and seeds the volume at the first start, as it would have with Docker,
// which seeds at create. The caller holds lifecycle.
func (c *Container) stoppedMounts() []Mount {
	c.mu.Lock()
	defer c.mu.Unlock()
	var mounts []Mount
	for _, m := range c.Mounts {
		if !m.CopyData {
			mounts = append(mounts, m.specMount())
		}
	}
	sortMounts(mounts)
	return mounts
}

// copyStartTimeout bounds the helper's start: joining the namespace and looking at one path take
// milliseconds. copyFinishTimeout bounds its last words once the stream has ended: setting the times of
// the directories it made.
const (
	copyStartTimeout  = 30 * time.Second
	copyFinishTimeout = 2 * time.Minute
)

// copyHelper is a running `engine init cp`.
type copyHelper struct {
	cmd      *exec.Cmd
	syncPipe *os.File
	reports  *json.Decoder
}

// startCopyHelper starts `engine init cp` with the sync pipe as fd 3, the pidfd (nil for a stopped
// container) as fd 4 and the root as fd 5, as exec's helper has them, and the tar's pipe as its stdout
// (Pack) or stdin, and sends it the request. It ends with the daemon without a Pdeathsig (which
// fires when the daemon's thread that started it ends, not the daemon): its pipes break, and a helper
// that writes to a broken pipe or reads a tar cut short leaves.
func startCopyHelper(request copyRequest, pidfd, root, tar *os.File) (*copyHelper, error) {
	binary, err := sealedBinary()
	if err != nil {
		return nil, err
	}
	parent, child, err := newSyncPipe()
	if err != nil {
		return nil, err
	}
	defer child.Close()
	cmd := &exec.Cmd{
		Path:       binary,
		Args:       []string{"engine", "init", "cp"},
		Env:        []string{fmt.Sprintf("%s=%d", initPipeEnv, initPipeFd)},
		ExtraFiles: []*os.File{child, pidfd, root},
	}
	if pidfd != nil {
		cmd.Args = append(cmd.Args, "running")
	}
	if request.Pack {
		cmd.Stdout = tar
	} else {
		cmd.Stdin = tar
	}
	if err := cmd.Start(); err != nil {
		parent.Close()
		return nil, fmt.Errorf("starting the copy helper: %w", err)
	}
	h := &copyHelper{cmd: cmd, syncPipe: parent, reports: json.NewDecoder(parent)}
	parent.SetDeadline(time.Now().Add(copyStartTimeout))
	data, _ := json.Marshal(request)
	if _, err := parent.Write(data); err != nil {
		h.kill()
		return nil, fmt.Errorf("starting the copy helper: %w", err)
	}
	shutdownWrite(parent)
	return h, nil
}

// ready waits for the helper's first report: it has found the path and is about to stream.
func (h *copyHelper) ready() error {
	report, err := h.report(copyStartTimeout)
	if err == nil && !report.Ready {
		err = errors.New("the copy helper did not get ready")
	}
	if err != nil {
		h.kill()
	}
	return err
}

// finish waits for the helper's last report and for the helper.
func (h *copyHelper) finish() error {
	report, err := h.report(copyFinishTimeout)
	if err == nil && !report.Done {
		err = errors.New("the copy helper did not finish")
	}
	if err != nil {
		h.kill()
		return err
	}
	h.syncPipe.Close()
	h.cmd.Wait()
	return nil
}

// report reads the helper's next report, for at most bound; a failure it reports is the error.
func (h *copyHelper) report(bound time.Duration) (copyReport, error) {
	h.syncPipe.SetDeadline(time.Now().Add(bound))
	var report copyReport
	err := h.reports.Decode(&report)
	switch {
	case errors.Is(err, os.ErrDeadlineExceeded):
		return report, fmt.Errorf("the copy helper did not answer within %v", bound)
	case err != nil:
		return report, errors.New("the copy helper ended early")
	case report.Message != "":
		return report, &StatusError{Status: max(report.Status, 1), Err: errors.New(report.Message)}
	}
	return report, nil
}

// kill ends the helper, if it still runs, and collects it.
func (h *copyHelper) kill() {
	h.cmd.Process.Kill()
	h.cmd.Wait()
	h.syncPipe.Close()
}
