// logs.go: getting a container's output to the people who ask for it.
//
// A container writes its stdout and stderr straight into ROOT/containers/<id>/stdout.log and stderr.log
// (Container.openStdio): the daemon never copies those bytes on their way in, and the output survives
// the daemon. With a terminal (-t), the daemon's copier writes stdout.log (console.go). Everyone who
// reads output reads these files: `engine logs` from the start, an attached `engine run`, `start -a` or
// `engine attach` (attach.go) from where the files ended when it started. streamLog sends a file with
// sendfile(2) and, while the container runs, waits for it to grow with inotify(7), like `tail -f`.
//
// As in Docker 0.1, stdout and stderr are two files, so `logs` cannot interleave them exactly as they were
// written; each stream keeps its own order.
package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// containerLogs are a container's two log files, open at the point a reader starts from.
type containerLogs struct {
	stdout, stderr *os.File
}

// openLogs opens both logs, at their start or, with fromEnd, where they end now.
func (c *Container) openLogs(fromEnd bool) (*containerLogs, error) {
	stdout, err := os.Open(c.logPath("stdout"))
	if err != nil {
		return nil, err
	}
	stderr, err := os.Open(c.logPath("stderr"))
	if err != nil {
		stdout.Close()
		return nil, err
	}
	if fromEnd {
		stdout.Seek(0, io.SeekEnd)
		stderr.Seek(0, io.SeekEnd)
	}
	return &containerLogs{stdout, stderr}, nil
}

func (l *containerLogs) Close() {
	l.stdout.Close()
	l.stderr.Close()
}

// stream sends both logs to the session at once. With a follow channel, it goes on until the channel is
// closed (the container's run has ended) and everything written before that has been sent, or until
// the client is gone or stop is closed (an attached client detached): errClientLeft. A follower with
// nothing to write learns that its client is gone only from the connection (tcp.go), so someone must
// be reading it: the relay of an attached client, Session.listen for `logs -f`.
func (l *containerLogs) stream(session *Session, follow, stop <-chan struct{}) error {
	var wg sync.WaitGroup
	var stderrErr error
	wg.Add(1)
	go func() {
		defer wg.Done()
		stderrErr = streamLog(session.conn, frameStderr, l.stderr, follow, stop)
	}()
	err := streamLog(session.conn, frameStdout, l.stdout, follow, stop)
	wg.Wait()
	if err == nil {
		err = stderrErr
	}
	return err
}

func streamLog(conn *Conn, kind byte, f *os.File, follow, stop <-chan struct{}) error {
	var grew <-chan struct{}
	if follow != nil {
		watch, err := watchFile(f)
		if err != nil {
			return err
		}
		defer watch.Close()
		grew = watch.changed
	}
	for {
		// The watch exists before this check, so a write after it is never missed.
		pos, err := f.Seek(0, io.SeekCurrent)
		if err != nil {
			return err
		}
		info, err := f.Stat()
		if err != nil {
			return err
		}
		if n := info.Size() - pos; n > 0 {
			if err := conn.SendFrom(kind, f, n); err != nil {
				return err
			}
			continue
		}
		if follow == nil {
			return nil
		}
		select {
		case <-follow:
			follow = nil // one more pass sends what was written before the end
		case <-grew:
		case <-stop:
			return errClientLeft
		case <-conn.Gone():
			return errClientLeft
		}
	}
}

// fileWatch signals on changed whenever the watched file is written to.
type fileWatch struct {
	inotify *os.File
	changed chan struct{}
}

// watchFile watches an open file. It names the file by its descriptor, not its path: a `run --rm` client
// may still be draining the log of a container that is already removed.
func watchFile(f *os.File) (*fileWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, err
	}
	if _, err := unix.InotifyAddWatch(fd, fmt.Sprintf("/proc/self/fd/%d", f.Fd()), unix.IN_MODIFY); err != nil {
		unix.Close(fd)
		return nil, err
	}
	// A non-blocking fd joins Go's poller, so the reading goroutine ends when Close is called.
	w := &fileWatch{inotify: os.NewFile(uintptr(fd), "inotify"), changed: make(chan struct{}, 1)}
	go w.run()
	return w, nil
}

func (w *fileWatch) run() {
	events := make([]byte, 4096)
	for {
		if _, err := w.inotify.Read(events); err != nil {
			return
		}
		select {
		case w.changed <- struct{}{}:
		default: // a wake-up is already pending; one is enough
		}
	}
}

func (w *fileWatch) Close() { w.inotify.Close() }
