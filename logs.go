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
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// containerLogs is a container's log, open at the point a reader starts from.
type containerLogs struct {
	files []*os.File // oldest first; the last is the one the keeper writes
	pos   int64      // where the next record begins in files[0]
}

// openLogs opens the log files, at their start or, with fromEnd, where the last whole record ends now.
func (c *Container) openLogs(fromEnd bool) (*containerLogs, error) {
	l := &containerLogs{}
	for n := maxLogFiles; n >= 0; n-- {
		if n > 0 && fromEnd {
			continue
		}
		f, err := os.Open(logPath(c.root, n))
		if errors.Is(err, fs.ErrNotExist) && n > 0 {
			continue
		} else if err != nil {
			l.Close()
			return nil, err
		}
		l.files = append(l.files, f)
	}
	if fromEnd {
		end, err := wholeRecordsEnd(l.files[0])
		if err != nil {
			l.Close()
			return nil, err
		}
		l.pos = end
	}
	return l, nil
}

func (l *containerLogs) Close() {
	closeAll(l.files...)
}

// stream sends the log's records to the session, each as a frame of its stream. With a follow channel,
// it goes on until the channel is closed (the container's run has ended) and everything written before
// that has been sent, or until the client is gone or stop is closed (an attached client detached):
// errClientLeft. A follower with nothing to write learns that its client is gone only from the
// connection (tcp.go), so someone must be reading it: the relay of an attached client, Session.listen
// for `logs -f`.
func (l *containerLogs) stream(session *Session, follow, stop <-chan struct{}) error {
	for len(l.files) > 1 {
		if err := l.send(session.conn); err != nil {
			return err
		}
		l.files[0].Close()
		l.files, l.pos = l.files[1:], 0
	}
	var grew <-chan struct{}
	if follow != nil {
		watch, err := watchFile(l.files[0])
		if err != nil {
			return err
		}
		defer watch.Close()
		grew = watch.changed
	}
	for {
		// The watch exists before this pass, so a write after it is never missed.
		if err := l.send(session.conn); err != nil {
			return err
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
		case <-session.conn.Gone():
			return errClientLeft
		}
	}
}

// send sends the whole records of files[0] from pos on.
func (l *containerLogs) send(conn *Conn) error {
	f := l.files[0]
	for {
		record, err := readLogRecord(f, l.pos)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			return nil // no record, or not all of it yet
		} else if err != nil {
			return err
		}
		info, err := f.Stat()
		if err != nil {
			return err
		}
		payload := l.pos + logHeaderSize
		if payload+int64(record.Length) > info.Size() {
			return nil
		}
		if _, err := f.Seek(payload, io.SeekStart); err != nil {
			return err
		}
		if err := conn.SendFrom(record.Stream, f, int64(record.Length)); err != nil {
			return err
		}
		l.pos = payload + int64(record.Length)
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
