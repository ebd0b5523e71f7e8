// logfile.go: a container's log, as its keeper writes it.
//
// What a container writes to its stdout and stderr goes through pipes (or its terminal) to its keeper
// (keeper.go), which appends it to ROOT/containers/<id>/container.log as records:
//
//	stream (1 byte) | length (4 bytes, big endian) | time (8 bytes, big endian: unix nanoseconds) | payload
//
// The stream byte is the frame kind of protocol.go ('o' stdout, 'e' stderr), so a record goes to a client
// as one frame of its kind (logs.go reads the log back). A record is what one read from the pipe gave,
// at most maxLogChunk bytes and never more than max-size allows, never a line: a 100 MB line without a
// newline is many records, and no process ever holds more than one chunk of it. Both streams go into one file in the order the keeper
// reads them, so `engine logs` shows them interleaved as they were written, each chunk with its time.
//
// Rotation, with Docker's options: before a record would take the file past max-size, the file becomes
// container.log.1, the older ones move up one (container.log.2, …), a new container.log begins, and the
// one moved past max-file is deleted. A reader that follows the log holds the file it has open, reads it
// to its end, and then moves on to the one that came after it (logs_scan.go finds it by its inode).
//
// The keeper waits for one kind of reader only: an attached client's, which must get every byte, as
// Docker's attached clients do. Such a reader holds a shared flock(2) on the newest file it has opened
// (logs.go), and the keeper deletes the file past max-file only once it can lock it (removeOnceLetGo):
// a client that falls max-file files behind holds the container's output up until it catches up.
// Otherwise the keeper never waits for the log: a write that fails (the disk is full) drops the record,
// counts its bytes (shown by inspect), and cuts the file back to the last whole record, so that what is
// there stays readable. For the same reason, a log that a killed keeper left with half a record at its
// end is cut back to whole records before the next run appends to it.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
)

const (
	logFileName      = "container.log"
	logHeaderSize    = 13
	maxLogChunk      = 1 << 20 // what one read of a pipe gives at most (keeper.go sizes them so): a record's payload
	logDriver        = "engine"
	defaultLogSize   = 20 << 20 // Docker's "local" driver keeps 5 files of 20 MB: so do we, by default
	defaultLogFiles  = 5
	maxLogFiles      = 100
	minimumLogSize   = 1 << 10 // Docker takes any size; below this a file holds too little to be read
	maximumLogSize   = 1 << 40
	logOptionMaxSize = "max-size"
	logOptionMaxFile = "max-file"
)

// LogConfig is how a container's log is kept, as `docker inspect` shows it under .HostConfig.LogConfig:
// Config holds the --log-opt options, max-size and max-file.
type LogConfig struct {
	Type   string
	Config map[string]string `json:",omitempty"`
}

// logLimits are a LogConfig's options, parsed.
type logLimits struct {
	MaxSize  int64 // bytes a file may hold before it is rotated
	MaxFiles int   // files kept, the one being written included
}

// parseLogOpts adds --log-opt KEY=VALUE options to the ones given (the daemon's defaults) and checks
// the result. It returns a new map.
func parseLogOpts(opts []string, base map[string]string) (map[string]string, error) {
	config := map[string]string{}
	for key, value := range base {
		config[key] = value
	}
	for _, opt := range opts {
		key, value, ok := strings.Cut(opt, "=")
		if !ok || value == "" {
			return nil, fmt.Errorf("invalid --log-opt %q: expected KEY=VALUE", opt)
		}
		config[key] = value
	}
	if _, err := (LogConfig{Type: logDriver, Config: config}).limits(); err != nil {
		return nil, err
	}
	return config, nil
}

// limits parses and checks the options; the ones not given take the defaults.
func (lc LogConfig) limits() (logLimits, error) {
	limits := logLimits{MaxSize: defaultLogSize, MaxFiles: defaultLogFiles}
	for key, value := range lc.Config {
		switch key {
		case logOptionMaxSize:
			size, err := parseSize(value)
			if err != nil || size < minimumLogSize || size > maximumLogSize {
				return limits, fmt.Errorf("invalid --log-opt max-size=%s: a size from 1k to 1t, like 10m", printable(value))
			}
			limits.MaxSize = size
		case logOptionMaxFile:
			files, err := parseDecimal(value, 1, maxLogFiles)
			if err != nil {
				return limits, fmt.Errorf("invalid --log-opt max-file=%s: a number of files from 1 to %d", printable(value), maxLogFiles)
			}
			limits.MaxFiles = files
		default:
			return limits, fmt.Errorf("unknown --log-opt %q (engine knows max-size and max-file)", printable(key))
		}
	}
	return limits, nil
}

// loggingDriver is how `engine info` tells how logs are kept: the driver, and the daemon's --log-opt
// options over the defaults.
func (r *Runtime) loggingDriver() string {
	size, files := strconv.Itoa(defaultLogSize>>20)+"m", strconv.Itoa(defaultLogFiles)
	if value, ok := r.LogDefaults[logOptionMaxSize]; ok {
		size = value
	}
	if value, ok := r.LogDefaults[logOptionMaxFile]; ok {
		files = value
	}
	return fmt.Sprintf("%s (%s, max-size %s, max-file %s)", logDriver, logFileName, size, files)
}

// logPath is the log file number n of the container directory dir: 0 is the one being written, 1 the
// one before it, and so on.
func logPath(dir string, n int) string {
	if n == 0 {
		return filepath.Join(dir, logFileName)
	}
	return filepath.Join(dir, logFileName+"."+strconv.Itoa(n))
}

// logRecord is a record's header.
type logRecord struct {
	Stream byte
	Length int
	Time   time.Time
}

func (r logRecord) encode(h *[logHeaderSize]byte) {
	h[0] = r.Stream
	binary.BigEndian.PutUint32(h[1:5], uint32(r.Length))
	binary.BigEndian.PutUint64(h[5:], uint64(r.Time.UnixNano()))
}

// errBadRecord is a header no keeper writes: the file is not a log, or was damaged.
var errBadRecord = errors.New("not a log record")

func decodeLogRecord(h []byte) (logRecord, error) {
	r := logRecord{Stream: h[0], Length: int(binary.BigEndian.Uint32(h[1:5])), Time: time.Unix(0, int64(binary.BigEndian.Uint64(h[5:])))}
	if (r.Stream != frameStdout && r.Stream != frameStderr) || r.Length > maxLogChunk {
		return r, errBadRecord
	}
	return r, nil
}

// readLogRecord reads the header of the record at off in f. io.EOF: there is none (yet); an error
// wrapping io.ErrUnexpectedEOF: only part of it is there (yet).
func readLogRecord(f io.ReaderAt, off int64) (logRecord, error) {
	var h [logHeaderSize]byte
	n, err := f.ReadAt(h[:], off)
	if n == logHeaderSize {
		return decodeLogRecord(h[:])
	}
	if n == 0 && err == io.EOF {
		return logRecord{}, io.EOF
	}
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	return logRecord{}, err
}

// LogWriter appends records to a container's log and rotates it. Its keeper's two copiers (stdout and
// stderr) share it; a lock makes their records whole and ordered.
type LogWriter struct {
	dir       string
	limits    logLimits
	dropped   atomic.Int64
	impatient chan struct{} // closed by StopWaiting: no more waiting for readers
	stopOnce  sync.Once

	mu   sync.Mutex
	file *os.File
	size int64 // where the next record begins: the file's size after the last whole record
}

// OpenLogWriter opens the log of the container directory dir for appending, after cutting away any
// half record a killed keeper left at its end.
func OpenLogWriter(dir string, config LogConfig) (*LogWriter, error) {
	limits, err := config.limits()
	if err != nil {
		return nil, err
	}
	w := &LogWriter{dir: dir, limits: limits, impatient: make(chan struct{})}
	if err := w.open(); err != nil {
		return nil, err
	}
	return w, nil
}

func (w *LogWriter) open() error {
	f, err := os.OpenFile(logPath(w.dir, 0), os.O_RDWR|os.O_CREATE, 0600)
	if err != nil {
		return fmt.Errorf("opening the log: %w", err)
	}
	end, err := wholeRecordsEnd(f)
	if err == nil {
		err = f.Truncate(end)
	}
	if err != nil {
		f.Close()
		return fmt.Errorf("checking the log: %w", err)
	}
	w.file, w.size = f, end
	return nil
}

// wholeRecordsEnd is where the last whole record of f ends: past it is nothing, or what a keeper killed
// in the middle of a write left.
func wholeRecordsEnd(f *os.File) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	var off int64
	for {
		record, err := readLogRecord(f, off)
		if err != nil || off+logHeaderSize+int64(record.Length) > info.Size() {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, errBadRecord) || err == nil {
				return off, nil
			}
			return 0, err
		}
		off += logHeaderSize + int64(record.Length)
	}
}

// Write appends p as records of the given stream, stamped with the time now. It never fails: what
// cannot be written is counted as dropped. A record fits in a file of MaxSize bytes with its header, so
// that a file is never past max-size and a tiny max-size (1k) still keeps the newest output.
func (w *LogWriter) Write(stream byte, p []byte) {
	now := time.Now()
	most := min(maxLogChunk, int(w.limits.MaxSize-logHeaderSize))
	w.mu.Lock()
	defer w.mu.Unlock()
	for len(p) > 0 {
		chunk := p[:min(len(p), most)]
		p = p[len(chunk):]
		w.append(logRecord{Stream: stream, Length: len(chunk), Time: now}, chunk)
	}
}

// append writes one record with one writev(2), after rotating if the record would not fit. The caller
// holds mu.
func (w *LogWriter) append(record logRecord, payload []byte) {
	length := int64(logHeaderSize + len(payload))
	if w.file != nil && w.size > 0 && w.size+length > w.limits.MaxSize {
		w.rotate()
	}
	if w.file == nil { // a rotation that failed: try again, the disk may have room now
		if w.open() != nil {
			w.dropped.Add(int64(len(payload)))
			return
		}
	}
	var h [logHeaderSize]byte
	record.encode(&h)
	n, err := unix.Pwritev(int(w.file.Fd()), [][]byte{h[:], payload}, w.size)
	if err != nil || int64(n) != length {
		w.dropped.Add(int64(len(payload)))
		w.file.Truncate(w.size) // half a record would make the rest unreadable
		return
	}
	w.size += length
}

// rotate shifts the files up by one, starts a new log and deletes the file shifted past MaxFiles. The
// new file comes before the delete: a reader that holds the old one up moves on to it. The caller holds
// mu.
func (w *LogWriter) rotate() {
	w.file.Close()
	w.file = nil
	unlock := lockLogNames(w.dir, true)
	for n := w.limits.MaxFiles - 1; n >= 0; n-- {
		os.Rename(logPath(w.dir, n), logPath(w.dir, n+1))
	}
	w.open()
	unlock()
	removeOnceLetGo(logPath(w.dir, w.limits.MaxFiles), w.impatient)
}

// logNamesWait bounds how long a reader waits for a rotation's renames to be done.
const logNamesWait = time.Second

// lockLogNames takes a flock(2) on the log's directory: the keeper an exclusive one while a rotation
// renames the files, a reader a shared one while it finds its way by their names (logs_scan.go), so that
// it never sees a rotation half done: a name missing in the middle of the files, or a file that moved
// between two looks. It returns what lets go. Both hold it for a few system calls; a reader that cannot
// have it within logNamesWait (a keeper from a build that took no lock cannot keep it from one) goes
// on without, and finds its way as it can.
func lockLogNames(dir string, exclusive bool) (unlock func()) {
	d, err := os.Open(dir)
	if err != nil {
		return func() {}
	}
	fd := int(d.Fd())
	if exclusive {
		for unix.Flock(fd, unix.LOCK_EX) == unix.EINTR {
		}
		return func() { d.Close() }
	}
	for deadline := time.Now().Add(logNamesWait); ; {
		if err := unix.Flock(fd, unix.LOCK_SH|unix.LOCK_NB); err != unix.EWOULDBLOCK || time.Now().After(deadline) {
			return func() { d.Close() }
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// removeOnceLetGo deletes a log file once no attached client's reader holds it (a shared flock). Until
// then the keeper waits here, with mu held, and the container's writes wait on their full pipes: Docker
// too slows a container for an attached client that reads slowly. The wait lasts until the reader moves
// on, or its client leaves, or the daemon dies (the kernel drops a dead process's locks), or the keeper
// stops waiting (StopWaiting: the container has ended, and its last output would otherwise wait for a
// client that does not read). The lock is waited for by a goroutine of its own, as a flock(2) cannot be
// called off: one that is given up on ends when the lock comes or the keeper does.
func removeOnceLetGo(path string, impatient <-chan struct{}) {
	f, err := os.Open(path)
	if err != nil {
		return
	}
	locked := make(chan struct{})
	go func() {
		defer f.Close()
		for unix.Flock(int(f.Fd()), unix.LOCK_EX) == unix.EINTR { // Go's own signals interrupt the wait
		}
		close(locked)
	}()
	select {
	case <-locked:
	case <-impatient:
	}
	os.Remove(path)
}

// StopWaiting makes the writer wait for no reader from now on (removeOnceLetGo), also in a wait begun
// already.
func (w *LogWriter) StopWaiting() {
	w.stopOnce.Do(func() { close(w.impatient) })
}

// Dropped is how many bytes of output were lost because the log could not be written.
func (w *LogWriter) Dropped() int64 { return w.dropped.Load() }

func (w *LogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.file == nil {
		return nil
	}
	err := w.file.Close()
	w.file = nil
	return err
}
