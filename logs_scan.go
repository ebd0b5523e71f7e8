// logs_scan.go: finding one's way in a container's log files: their records, their order across a
// rotation, and where the last N lines begin.
//
// A log is container.log and, after rotations, container.log.1 (older), .2, … (logfile.go). The keeper
// rotates while readers read, so a reader never trusts a name for long: it holds the file it reads, and
// to go on to the next one (nextLogFile) it finds where its file has moved to and opens the name just
// below, then checks its own file has not moved meanwhile. `--tail` walks the other way (olderLogFile).
// Each of these looks holds a shared lock on the directory (lockLogNames), which the keeper takes
// exclusively for a rotation's renames, so it sees the names before a rotation or after it.
//
// A record says how long it is only at its front, so a file can be walked forwards only. For --tail,
// tailStart walks the headers once (a few bytes per record; large records are stepped over), notes a
// record every stretch of a file (indexRecords), and then counts newlines backwards stretch by stretch:
// `--tail 10` of a 100 MB log reads its headers and the last stretch, and holds a few offsets per file,
// never its records.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"syscall"
	"time"
)

const (
	scanBufferSize  = 4 << 10  // headers are read in blocks of this size: small records come many to a read
	tailStretch     = 1 << 20  // --tail notes a record at least every this many bytes...
	maxTailMarks    = 4096     // ...and at most this many per file (a larger file has longer stretches)
	countBufferSize = 64 << 10 // payloads are read in blocks of this size to count their newlines
	maxRenameRaces  = 20       // tries to find a file's neighbour while the keeper rotates
)

// recordScanner walks the whole records of a file from an offset up to end, reading headers only.
type recordScanner struct {
	f      *os.File
	off    int64 // where the next record begins
	end    int64 // records past this are not read (the file's size when the scan began)
	buf    [scanBufferSize]byte
	bufOff int64 // the file offset of buf[0]
	bufLen int
}

// next returns the next record and its offset; io.EOF when no whole record begins before end (none
// more, or a torn one that a killed keeper left, or one still being written).
func (s *recordScanner) next() (logRecord, int64, error) {
	if s.off+logHeaderSize > s.end {
		return logRecord{}, 0, io.EOF
	}
	if s.off < s.bufOff || s.off+logHeaderSize > s.bufOff+int64(s.bufLen) {
		n, err := s.f.ReadAt(s.buf[:], s.off)
		if n < logHeaderSize {
			if err == nil || err == io.EOF {
				err = io.EOF
			}
			return logRecord{}, 0, err
		}
		s.bufOff, s.bufLen = s.off, n
	}
	at := s.off - s.bufOff
	record, err := decodeLogRecord(s.buf[at : at+logHeaderSize])
	if err != nil {
		return record, 0, fmt.Errorf("%s at offset %d: %w", s.f.Name(), s.off, err)
	}
	if s.off+logHeaderSize+int64(record.Length) > s.end {
		return logRecord{}, 0, io.EOF
	}
	off := s.off
	s.off += logHeaderSize + int64(record.Length)
	return record, off, nil
}

// fileSize is the size of an open file now.
func fileSize(f *os.File) (int64, error) {
	info, err := f.Stat()
	if err != nil {
		return 0, err
	}
	return info.Size(), nil
}

// indexRecords walks a file's records and returns the offsets of some of them, the first always
// among them, one at least every stretch, and where the last whole record ends.
func indexRecords(f *os.File) (marks []int64, end int64, err error) {
	size, err := fileSize(f)
	if err != nil {
		return nil, 0, err
	}
	stretch := max(tailStretch, size/maxTailMarks)
	s := &recordScanner{f: f, end: size}
	next := int64(0)
	for {
		_, off, err := s.next()
		if errors.Is(err, io.EOF) {
			return marks, s.off, nil
		} else if err != nil {
			return nil, 0, err
		}
		if off >= next {
			marks = append(marks, off)
			next = off + stretch
		}
	}
}

// lineCounter reads the payloads of the records from one offset to another, counting newlines.
type lineCounter struct {
	f   *os.File
	buf []byte
}

// count counts the newlines in the payloads of the records in [from, to).
func (lc *lineCounter) count(from, to int64) (int, error) {
	n := 0
	err := lc.payloads(from, to, func(_ int64, _ int64, p []byte) bool {
		n += bytes.Count(p, []byte{'\n'})
		return true
	})
	return n, err
}

// after finds the k-th newline (from 1) in the payloads of the records in [from, to), and returns the
// record it is in and how many bytes of that record's payload come up to it, the newline included.
func (lc *lineCounter) after(from, to int64, k int) (pos, skip int64, err error) {
	pos, skip = to, 0
	err = lc.payloads(from, to, func(record, at int64, p []byte) bool {
		for i, b := range p {
			if b == '\n' {
				if k--; k == 0 {
					pos, skip = record, at+int64(i)+1
					return false
				}
			}
		}
		return true
	})
	return pos, skip, err
}

// payloads calls each with the record's offset, where the block lies in its payload, and the block,
// for the payloads of the records in [from, to), until each returns false.
func (lc *lineCounter) payloads(from, to int64, each func(record, at int64, p []byte) bool) error {
	if lc.buf == nil {
		lc.buf = make([]byte, countBufferSize)
	}
	s := &recordScanner{f: lc.f, off: from, end: to}
	for {
		record, off, err := s.next()
		if errors.Is(err, io.EOF) {
			return nil
		} else if err != nil {
			return err
		}
		for at := int64(0); at < int64(record.Length); {
			block := lc.buf[:min(int64(len(lc.buf)), int64(record.Length)-at)]
			if _, err := lc.f.ReadAt(block, off+logHeaderSize+at); err != nil {
				return err
			}
			if !each(off, at, block) {
				return nil
			}
			at += int64(len(block))
		}
	}
}

// tailStart finds where the last n lines of the container's log in dir begin: the file they begin in
// (open), the record there and how much of its payload comes before them. A log that does not end with
// a newline ends with a line still being written, which counts as one, as in docker's logs.
func tailStart(dir string, n int) (*os.File, int64, int64, error) {
	f, err := newestLogFile(dir)
	if err != nil {
		return nil, 0, 0, err
	}
	wanted, first := n, true // wanted: the newlines still to find, counted back from the end
	for {
		marks, end, err := indexRecords(f)
		if err != nil || n == 0 {
			return f, end, 0, err
		}
		if first && end > 0 {
			first = false
			if endsWithNewline(f, end) {
				wanted++ // the last newline ends the last line; the one before it begins it
			}
		}
		pos, skip, found, err := findLines(f, marks, end, &wanted)
		if err != nil || found {
			return f, pos, skip, err
		}
		older, err := olderLogFile(dir, f)
		if err != nil || older == nil {
			return f, 0, 0, err // the oldest file: all of it
		}
		f.Close()
		f = older
	}
}

// endsWithNewline tells whether the last record before end ends with a newline.
func endsWithNewline(f *os.File, end int64) bool {
	var b [1]byte
	_, err := f.ReadAt(b[:], end-1)
	return err == nil && b[0] == '\n'
}

// findLines looks backwards through a file's stretches for the wanted-th newline from its end. Found:
// the position just past it. Not found: wanted is what is still to find in older files.
func findLines(f *os.File, marks []int64, end int64, wanted *int) (pos, skip int64, found bool, err error) {
	lc := &lineCounter{f: f}
	to := end
	for i := len(marks) - 1; i >= 0; i-- {
		count, err := lc.count(marks[i], to)
		if err != nil {
			return 0, 0, false, err
		}
		if count >= *wanted {
			pos, skip, err := lc.after(marks[i], to, count-*wanted+1)
			return pos, skip, true, err
		}
		*wanted -= count
		to = marks[i]
	}
	return 0, 0, false, nil
}

// logIndex is the number of the name a log file has now (0: container.log, 1: container.log.1, …),
// or -1 if it has none: rotated away, or its container removed. The names are looked at one by one
// while the keeper may be renaming, and a file moved up twice meanwhile (two rotations) is passed
// over: so a file is taken as gone only when the kernel counts no name for it (st_nlink), and until
// then looked for again. A file that stays unfound is taken as the newest (0): its reader looks
// for what comes after it on its next pass.
func logIndex(dir string, f *os.File) (int, error) {
	for try := 0; try < maxRenameRaces; try++ {
		var held syscall.Stat_t
		if err := syscall.Fstat(int(f.Fd()), &held); err != nil {
			return 0, err
		}
		if held.Nlink == 0 {
			return -1, nil
		}
		for n := 0; n <= maxLogFiles; n++ {
			var st syscall.Stat_t
			if syscall.Stat(logPath(dir, n), &st) == nil && st.Ino == held.Ino && st.Dev == held.Dev {
				return n, nil
			}
		}
	}
	return 0, nil
}

// isLogFile tells whether the file named n in dir is f.
func isLogFile(dir string, n int, f *os.File) bool {
	var held, st syscall.Stat_t
	return syscall.Fstat(int(f.Fd()), &held) == nil && syscall.Stat(logPath(dir, n), &st) == nil &&
		st.Ino == held.Ino && st.Dev == held.Dev
}

// nextLogFile opens the file that follows f in the log: nil while f is container.log, the one the
// keeper writes (or the keeper is between a rotation's renames and its new container.log). A file
// that has lost its name was rotated away before it was read to its end: the reader goes on with the
// oldest file there is.
func nextLogFile(dir string, f *os.File) (*os.File, error) {
	defer lockLogNames(dir, false)()
	for try := 0; try < maxRenameRaces; try++ {
		n, err := logIndex(dir, f)
		if err != nil || n == 0 {
			return nil, err
		}
		if n < 0 {
			return oldestLogFile(dir)
		}
		next, err := neighbourLogFile(dir, f, n, -1)
		if next != nil || err != nil {
			return next, err
		}
		if n == 1 && isLogFile(dir, 1, f) {
			return nil, nil // the keeper has not made the new container.log yet
		}
	}
	return nil, nil // the log rotates faster than it can be looked at: the next pass tries again
}

// olderLogFile opens the file before f in the log, or returns nil if f is the oldest.
func olderLogFile(dir string, f *os.File) (*os.File, error) {
	defer lockLogNames(dir, false)()
	for try := 0; try < maxRenameRaces; try++ {
		n, err := logIndex(dir, f)
		if err != nil || n < 0 || n >= maxLogFiles {
			return nil, err
		}
		older, err := neighbourLogFile(dir, f, n, +1)
		if older != nil || err != nil {
			return older, err
		}
		if isLogFile(dir, n, f) {
			return nil, nil // no file above f, and f has not moved: it is the oldest
		}
	}
	return nil, errors.New("the log rotates faster than it can be read")
}

// neighbourLogFile opens the file next to f, number n, on the side step says (-1 newer, +1 older).
// A rotation renames the oldest file first, so while it runs there is a gap, a name between two files;
// if the name next to n is that gap, the neighbour is one further on. Files only move up, so if f is
// still number n after the open, the file opened was its neighbour at that same moment.
func neighbourLogFile(dir string, f *os.File, n, step int) (*os.File, error) {
	for _, m := range []int{n + step, n + 2*step} {
		if m < 0 || m > maxLogFiles {
			return nil, nil
		}
		next, err := os.Open(logPath(dir, m))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		} else if err != nil {
			return nil, err
		}
		if isLogFile(dir, n, f) {
			return next, nil
		}
		next.Close()
		return nil, nil
	}
	return nil, nil
}

// newestLogFile opens container.log or, if a rotation has just renamed it and not yet made the new
// one, the file it became.
func newestLogFile(dir string) (*os.File, error) {
	defer lockLogNames(dir, false)()
	for try := 0; ; try++ {
		for n := 0; n <= 1; n++ {
			f, err := os.Open(logPath(dir, n))
			if err == nil || !errors.Is(err, fs.ErrNotExist) || try == maxRenameRaces {
				return f, err
			}
		}
		time.Sleep(time.Millisecond) // max-file 1: between the old file's removal and the new one
	}
}

// oldestLogFile opens the oldest file of the log there is; nil if there is none (its container is
// removed, or the keeper is between a rotation's renames with max-file 1).
func oldestLogFile(dir string) (*os.File, error) {
	defer lockLogNames(dir, false)()
	for n := maxLogFiles; n >= 0; n-- {
		f, err := os.Open(logPath(dir, n))
		if err == nil {
			return f, nil
		} else if !errors.Is(err, fs.ErrNotExist) {
			return nil, err
		}
	}
	return nil, nil
}
