// logs.go: `engine logs`, and getting a container's output to everyone who asks for it.
//
// A container's keeper (keeper.go) writes its stdout and stderr into one log, ROOT/containers/<id>/
// container.log, as records in the order written, each with its stream and time (logfile.go); the
// daemon never copies those bytes on their way in, and the output survives the daemon. Everyone who
// reads output reads this log: `engine logs` from the start (or its last lines, --tail), an attached
// `engine run`, `start -a` or `engine attach` (attach.go) from where the log ended when it started.
// containerLogs sends each record as a frame of its stream, with sendfile(2); with -t it reads the
// record and puts the time before each line, as `docker logs -t` does. While the container runs, a
// follower waits for the log to change with inotify(7), like `tail -F`: when the keeper rotates the log,
// the reader finishes the file it holds and goes on in the next one (logs_scan.go finds it). An attached
// client gets every byte: its reader holds a shared flock(2) on the newest file it has opened, which the
// keeper does not delete until it is let go (logfile.go), as Docker slows a container for a slow attached
// client; a `logs -f` never holds the container up. What part of the log to show is a logView
// (logs_view.go).
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"golang.org/x/sys/unix"
)

const stampedFrameSize = 32 << 10 // with -t, lines are sent in frames of about this size

func (srv *Server) CmdLogs(session *Session, args []string) error {
	view, name, err := parseLogsFlags(session, args)
	if err != nil {
		return err
	}
	c, err := srv.runtime.Get(name)
	if err != nil {
		return err
	}
	logs, err := c.viewLogs(view)
	if err != nil {
		return err
	}
	defer logs.Close()
	var until <-chan struct{}
	if view.follow {
		until = c.exitedChan() // nil if it is not running: nothing to follow
		session.listen()       // to notice a client that leaves while the log is quiet
	}
	return logs.stream(session, until, nil)
}

// containerLogs is a reader of a container's log: the file it is in and where.
type containerLogs struct {
	dir  string
	view logView
	file *os.File
	pos  int64 // where the next record begins in file
	skip int64 // how much of that record's payload is not to be sent (a --tail that begins in it)
	size int64 // how much of file there was when last looked at: records past it are not whole yet

	// A reader that falls behind the keeper holds the newer files it has not read yet, so that a
	// rotation that deletes them (past max-file) takes nothing from it: a deleted file stays readable
	// while it is open. It looks for them at each pass and whenever it has read half a file's worth
	// (checkEvery), and holds at most maxLogFiles of them: slow clients cost the disk at most that many
	// files of max-size more (the readers of a container hold the same files, so this bounds them all
	// together) and the daemon that many descriptors each. A reader further behind than that, or one
	// that does not look for as long as max-file rotations take (its client stopped reading), loses
	// what the log no longer keeps, unless it is an attached client's: the keeper waits for that one.
	ahead      []*os.File
	maxAhead   int
	attached   bool // the newest file held is locked (lockNewest): the keeper does not delete it
	checkEvery int64
	unchecked  int64 // bytes sent since the last look

	atLineStart [256]bool // with -t, by stream: the next byte begins a line and gets a time
	in, out     []byte    // with -t, the record being read and the frame being made
}

// openLogs opens a container's log for an attached client: where the last whole record ends now.
func (c *Container) openLogs() (*containerLogs, error) {
	l, err := c.viewLogs(logView{tail: 0})
	if err != nil {
		return nil, err
	}
	l.attached = true
	l.lockNewest(nil)
	return l, nil
}

// lockNewest moves an attached reader's lock to the newest file it holds, from the one that was newest
// before (nil: none). The new lock comes first, so the files the reader has yet to read are never all
// unlocked: the keeper deletes files oldest first, and none after a locked one. Taking the lock never
// waits: a file the keeper holds (it is deleting it, which only happens to the file a client attached
// to a running container opens in the very instant of a rotation) is read whole all the same.
func (l *containerLogs) lockNewest(before *os.File) {
	if !l.attached {
		return
	}
	newest := l.file
	if len(l.ahead) > 0 {
		newest = l.ahead[len(l.ahead)-1]
	}
	if newest == before {
		return
	}
	unix.Flock(int(newest.Fd()), unix.LOCK_SH|unix.LOCK_NB)
	if before != nil {
		unix.Flock(int(before.Fd()), unix.LOCK_UN)
	}
}

// viewLogs opens a container's log where the view begins: the oldest file's start, or the last lines.
func (c *Container) viewLogs(view logView) (*containerLogs, error) {
	l := &containerLogs{dir: c.root, view: view}
	if limits, err := c.HostConfig.LogConfig.limits(); err == nil {
		l.maxAhead, l.checkEvery = maxLogFiles, limits.MaxSize/2
	}
	var err error
	if view.tail >= 0 {
		l.file, l.pos, l.skip, err = tailStart(c.root, view.tail)
	} else if l.file, err = oldestLogFile(c.root); err == nil && l.file == nil {
		err = fmt.Errorf("%s: no log", c.ShortID())
	}
	if err != nil {
		return nil, err
	}
	for i := range l.atLineStart {
		l.atLineStart[i] = true
	}
	return l, nil
}

func (l *containerLogs) Close() {
	closeAll(l.file)
	closeAll(l.ahead...)
}

// stream sends the log's records to the session, each as a frame of its stream. With a follow channel,
// it goes on until the channel is closed (the container's run has ended) and everything written before
// that has been sent, or until the client is gone or stop is closed (an attached client detached):
// errClientLeft. A follower with nothing to write learns that its client is gone only from the
// connection (tcp.go), so someone must be reading it: the relay of an attached client, Session.listen
// for `logs -f`. --until ends a follower when its time comes.
func (l *containerLogs) stream(session *Session, follow, stop <-chan struct{}) error {
	var changed <-chan struct{}
	var untilTime <-chan time.Time
	if follow != nil {
		watch, err := watchDir(l.dir)
		if err == nil {
			defer watch.Close()
			changed = watch.changed
		} else if ended(follow) {
			// A `run --rm` whose command ended at once: its directory may be gone already (it is
			// removed once the end is recorded), and one pass over the files held is all there is.
			follow = nil
		} else {
			return err
		}
		if !l.view.until.IsZero() {
			timer := time.NewTimer(time.Until(l.view.until))
			defer timer.Stop()
			untilTime = timer.C
		}
	}
	for {
		// The watch exists before this pass, so a write or a rotation after it is never missed.
		past, err := l.sendAll(session.conn)
		if err != nil || past || follow == nil {
			return err
		}
		select {
		case <-follow:
			follow = nil // one more pass sends what was written before the end
		case <-untilTime:
			follow = nil
		case <-changed:
		case <-stop:
			return errClientLeft
		case <-session.conn.Gone():
			return errClientLeft
		}
	}
}

// sendAll sends the whole records there are now, going on from file to file across rotations. past:
// a record after --until was reached, so nothing more is to be sent.
func (l *containerLogs) sendAll(conn *Conn) (past bool, err error) {
	if err := l.holdAhead(); err != nil { // files begun while the reader waited
		return false, err
	}
	for {
		if past, err := l.send(conn); err != nil || past {
			return past, err
		}
		more, err := l.holdNext()
		if err != nil || !more {
			return false, err // the file is still the one the keeper writes: all there is is sent
		}
		// The keeper wrote its last record into the old file before it renamed it: read to its end.
		if past, err := l.send(conn); err != nil || past {
			return past, err
		}
		l.advance()
	}
}

// holdNext makes sure the file that follows the one being read is held, first of those ahead, and tells
// whether there is one (none while the one being read is still the one the keeper writes). Held, it is
// the newest file held until holdAhead finds more, so a look ahead made while the old file is read to
// its end goes on from it, never opening it a second time.
func (l *containerLogs) holdNext() (bool, error) {
	if len(l.ahead) > 0 {
		return true, nil
	}
	next, err := nextLogFile(l.dir, l.file)
	if err != nil || next == nil {
		return false, err
	}
	l.ahead = append(l.ahead, next)
	l.lockNewest(l.file)
	return true, nil
}

// advance lets go of the file read to its end and goes on with the first one held ahead.
func (l *containerLogs) advance() {
	l.file.Close()
	l.file, l.ahead = l.ahead[0], l.ahead[1:]
	l.pos, l.skip, l.size = 0, 0, 0
}

// holdAhead opens the files the keeper has begun since the newest one held (or the one being read), up
// to maxAhead of them. If that newest one was deleted meanwhile, every file there is came after it.
func (l *containerLogs) holdAhead() error {
	l.unchecked = 0
	for len(l.ahead) < l.maxAhead {
		newest := l.file
		if len(l.ahead) > 0 {
			newest = l.ahead[len(l.ahead)-1]
		}
		n, err := logIndex(l.dir, newest)
		if err != nil || n == 0 {
			return err // it is the one the keeper writes: nothing to hold after it
		}
		var next *os.File
		if n < 0 {
			next, err = oldestLogFile(l.dir)
		} else {
			next, err = nextLogFile(l.dir, newest)
		}
		if err != nil || next == nil {
			return err
		}
		l.ahead = append(l.ahead, next)
		l.lockNewest(newest)
	}
	return nil
}

// send sends the whole records of the file from pos on that the view shows.
func (l *containerLogs) send(conn *Conn) (past bool, err error) {
	for {
		record, err := l.nextRecord()
		if err == io.EOF {
			return false, nil // no whole record (yet)
		} else if err != nil {
			return false, err
		}
		if l.view.past(record.Time) {
			return true, nil
		}
		payload := l.pos + logHeaderSize + l.skip
		length := int64(record.Length) - l.skip
		if l.view.shows(record.Time) && length > 0 {
			if l.view.timestamps {
				err = l.sendStamped(conn, record, payload, length)
			} else if _, err = l.file.Seek(payload, io.SeekStart); err == nil {
				err = conn.SendFrom(record.Stream, l.file, length)
			}
			if err != nil {
				return false, err
			}
		}
		l.pos, l.skip = payload+length, 0
		if l.unchecked += length; l.checkEvery > 0 && l.unchecked >= l.checkEvery {
			if err := l.holdAhead(); err != nil {
				return false, err
			}
		}
	}
}

// nextRecord reads the header of the record at pos: io.EOF if there is no whole record there (yet).
// The file's size is looked at again only when a record seems to go past it.
func (l *containerLogs) nextRecord() (logRecord, error) {
	for looked := false; ; looked = true {
		record, err := readLogRecord(l.file, l.pos)
		if err == io.EOF || err == nil && l.pos+logHeaderSize+int64(record.Length) <= l.size {
			return record, err
		}
		if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
			return record, fmt.Errorf("%s at offset %d: %w", l.file.Name(), l.pos, err)
		}
		if looked {
			return record, io.EOF // half a record: the keeper is writing it, or was killed doing so
		}
		if l.size, err = fileSize(l.file); err != nil {
			return record, err
		}
	}
}

// sendStamped sends length bytes of a record's payload from off, with the record's time before each
// line that begins in it, as `docker logs -t` prints it. A stream's lines may be cut across records; a
// line gets the time of the record it began in.
func (l *containerLogs) sendStamped(conn *Conn, record logRecord, off, length int64) error {
	if l.in == nil {
		l.in, l.out = make([]byte, stampedFrameSize), make([]byte, 0, 2*stampedFrameSize+len(timestampFormat)+1)
	}
	stamp := record.Time.UTC().Format(timestampFormat) + " "
	for length > 0 {
		block := l.in[:min(length, int64(len(l.in)))]
		if _, err := l.file.ReadAt(block, off); err != nil {
			return err
		}
		off, length = off+int64(len(block)), length-int64(len(block))
		for len(block) > 0 {
			if l.atLineStart[record.Stream] {
				l.out = append(l.out, stamp...)
			}
			line := block
			if i := bytes.IndexByte(block, '\n'); i >= 0 {
				line = block[:i+1]
			}
			l.out, block = append(l.out, line...), block[len(line):]
			l.atLineStart[record.Stream] = line[len(line)-1] == '\n'
			if len(l.out) >= stampedFrameSize {
				if err := l.flush(conn, record.Stream); err != nil {
					return err
				}
			}
		}
	}
	return l.flush(conn, record.Stream)
}

func (l *containerLogs) flush(conn *Conn, stream byte) error {
	if len(l.out) == 0 {
		return nil
	}
	err := conn.WriteFrame(stream, l.out)
	l.out = l.out[:0]
	return err
}

// ended tells whether a channel that is closed at an end is closed already.
func ended(done <-chan struct{}) bool {
	select {
	case <-done:
		return true
	default:
		return false
	}
}

// dirWatch signals on changed whenever something in a directory changes: a log file written to,
// renamed or made by a rotation (and, harmlessly, the container's other files).
type dirWatch struct {
	inotify *os.File
	changed chan struct{}
}

// watchDir watches a container's directory. If the container is removed meanwhile (a `run --rm` client
// may still be draining the log), the watch ends, and so do the changes: the files the reader holds
// open are still there to be read to their end.
func watchDir(dir string) (*dirWatch, error) {
	fd, err := unix.InotifyInit1(unix.IN_NONBLOCK | unix.IN_CLOEXEC)
	if err != nil {
		return nil, fmt.Errorf("inotify: %w", err)
	}
	events := uint32(unix.IN_MODIFY | unix.IN_CREATE | unix.IN_MOVED_TO | unix.IN_MOVED_FROM | unix.IN_DELETE)
	if _, err := unix.InotifyAddWatch(fd, dir, events); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("watching the log in %s: %w", dir, err)
	}
	// A non-blocking fd joins Go's poller, so the reading goroutine ends when Close is called.
	w := &dirWatch{inotify: os.NewFile(uintptr(fd), "inotify"), changed: make(chan struct{}, 1)}
	go w.run()
	return w, nil
}

func (w *dirWatch) run() {
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

func (w *dirWatch) Close() { w.inotify.Close() }
