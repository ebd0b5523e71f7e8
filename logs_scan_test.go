// logs_scan_test.go covers the parsing of logs' options (logs_view.go) and the walking of log files
// (logs_scan.go): the last lines of a log, across files and records, a torn last record, and a reader
// that goes from file to file while the writer rotates.
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseTail(t *testing.T) {
	for text, want := range map[string]int{"all": -1, "0": 0, "10": 10} {
		if n, err := parseTail(text); err != nil || n != want {
			t.Errorf("--tail %s: %d, %v", text, n, err)
		}
	}
	for _, bad := range []string{"", "-1", "ten", "0x10", "1e3", "99999999999"} {
		if _, err := parseTail(bad); err == nil || !strings.Contains(err.Error(), "--tail") {
			t.Errorf("--tail %q: %v", bad, err)
		}
	}
}

func TestParseLogTime(t *testing.T) {
	now := time.Date(2026, 12, 1, 18, 0, 0, 0, time.UTC)
	local := func(s string) time.Time {
		t, _ := time.ParseInLocation("2006-01-02T15:04:05", s, time.Local)
		return t
	}
	for text, want := range map[string]time.Time{
		"10m":                            now.Add(-10 * time.Minute),
		"1h30m":                          now.Add(-90 * time.Minute),
		"-5s":                            now.Add(5 * time.Second),
		"0":                              time.Unix(0, 0),
		"1700000000":                     time.Unix(1700000000, 0),
		"1700000000.5":                   time.Unix(1700000000, 500000000),
		"1700000000.000000001":           time.Unix(1700000000, 1),
		"2013-01-02T13:23:37Z":           time.Date(2013, 1, 2, 13, 23, 37, 0, time.UTC),
		"2013-01-02T13:23:37.123456789Z": time.Date(2013, 1, 2, 13, 23, 37, 123456789, time.UTC),
		"2013-01-02T13:23:37+02:00":      time.Date(2013, 1, 2, 11, 23, 37, 0, time.UTC),
		"2013-01-02T13:23:37-02:00":      time.Date(2013, 1, 2, 15, 23, 37, 0, time.UTC),
		"2013-01-02T13:23Z":              time.Date(2013, 1, 2, 13, 23, 0, 0, time.UTC),
		"2013-01-02T13Z":                 time.Date(2013, 1, 2, 13, 0, 0, 0, time.UTC),
		"2013-01-02Z":                    time.Date(2013, 1, 2, 0, 0, 0, 0, time.UTC),
		"2013-01-02T13:23:37":            local("2013-01-02T13:23:37"),
		"2013-01-02T13:23":               local("2013-01-02T13:23:00"),
		"2013-01-02":                     local("2013-01-02T00:00:00"),
	} {
		got, err := parseLogTime("since", text, now)
		if err != nil || !got.Equal(want) {
			t.Errorf("--since %s: %v, %v; want %v", text, got, err, want)
		}
	}
	if got, err := parseLogTime("since", "", now); err != nil || !got.IsZero() {
		t.Errorf("no --since: %v %v", got, err)
	}
	for _, bad := range []string{"yesterday", "2013-13-02", "2013-01-02T25:00:00Z", "17e8", "1700000000.1234567891", "-1", "1.2.3", "10x", "2013-01-02\nX"} {
		_, err := parseLogTime("until", bad, now)
		if err == nil || !strings.HasPrefix(err.Error(), "invalid --until") || strings.Contains(err.Error(), "\n") {
			t.Errorf("--until %q: %v", bad, err)
		}
	}
}

func TestLogViewShows(t *testing.T) {
	base := time.Unix(1000, 0)
	v := logView{since: base, until: base.Add(time.Second)}
	if v.shows(base.Add(-1)) || !v.shows(base) || !v.shows(base.Add(time.Second)) || v.shows(base.Add(time.Second+1)) {
		t.Error("since and until are bounds that count")
	}
	if !v.past(base.Add(time.Second+1)) || v.past(base) || (logView{}).past(base) {
		t.Error("past")
	}
}

// writeLog writes records of the given stream and payload with one writer, one after the other.
func writeLog(t *testing.T, dir string, opts map[string]string, records ...string) *LogWriter {
	t.Helper()
	w, err := OpenLogWriter(dir, LogConfig{Type: logDriver, Config: opts})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range records {
		w.Write(r[0], []byte(r[1:]))
	}
	return w
}

// readFrom reads a log, as a reader placed at (f, pos, skip) would send it, all streams together.
func readFrom(t *testing.T, dir string, f *os.File, pos, skip int64) string {
	t.Helper()
	var out bytes.Buffer
	for {
		s := &recordScanner{f: f, off: pos}
		s.end, _ = fileSize(f)
		for {
			record, off, err := s.next()
			if err == io.EOF {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			payload := make([]byte, int64(record.Length)-skip)
			f.ReadAt(payload, off+logHeaderSize+skip)
			out.Write(payload)
			skip = 0
		}
		next, err := nextLogFile(dir, f)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		if next == nil {
			return out.String()
		}
		f, pos = next, 0
	}
}

func TestTailStart(t *testing.T) {
	dir := t.TempDir()
	// Lines cut across records and streams: "one\n" "two\n" "thr"+"ee\n" "fo"+"ur" (no newline at the end).
	writeLog(t, dir, nil, "oone\ntwo\nthr", "eerr\n", "oee\nfo", "oour").Close()
	all := "one\ntwo\nthrerr\nee\nfoour"
	for n, want := range map[int]string{0: "", 1: "foour", 2: "ee\nfoour", 3: "threrr\nee\nfoour", 4: "two\nthrerr\nee\nfoour", 5: all, 6: all, 100: all} {
		f, pos, skip, err := tailStart(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		if got := readFrom(t, dir, f, pos, skip); got != want {
			t.Errorf("--tail %d: %q, want %q", n, got, want)
		}
	}
	// With a newline at the end, the last line is the one it ends.
	dir = t.TempDir()
	writeLog(t, dir, nil, "oa\nb\n", "ec\n").Close()
	for n, want := range map[int]string{1: "c\n", 2: "b\nc\n", 3: "a\nb\nc\n"} {
		f, pos, skip, _ := tailStart(dir, n)
		if got := readFrom(t, dir, f, pos, skip); got != want {
			t.Errorf("--tail %d: %q, want %q", n, got, want)
		}
	}
}

// TestTailAcrossFilesAndStretches: the last lines of a log of many files, each of several stretches,
// are found; the count goes back through the older files.
func TestTailAcrossFilesAndStretches(t *testing.T) {
	dir := t.TempDir()
	w := writeLog(t, dir, map[string]string{"max-size": "3m", "max-file": "4"})
	var lines []string
	for i := 0; i < 600000; i++ {
		line := fmt.Sprintf("line %d\n", i)
		w.Write(frameStdout, []byte(line))
		lines = append(lines, line)
	}
	w.Close()
	if _, err := os.Stat(logPath(dir, 1)); err != nil {
		t.Fatal("the test wants rotated files")
	}
	kept := readFrom(t, dir, mustOpen(t, logPath(dir, 3)), 0, 0)
	keptLines := strings.SplitAfter(kept, "\n")
	keptLines = keptLines[:len(keptLines)-1]
	if !strings.HasSuffix(kept, lines[len(lines)-1]) {
		t.Fatal("the log does not end with the last line")
	}
	for _, n := range []int{1, 10, 50000, 150000, len(keptLines) - 1, len(keptLines), len(keptLines) + 5} {
		f, pos, skip, err := tailStart(dir, n)
		if err != nil {
			t.Fatal(err)
		}
		want := strings.Join(keptLines[max(0, len(keptLines)-n):], "")
		if got := readFrom(t, dir, f, pos, skip); got != want {
			t.Errorf("--tail %d: %d bytes, want %d", n, len(got), len(want))
		}
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

// TestScannerStopsAtTornRecord: half a record at the end (a keeper killed while writing, or one still
// being written) is not read, neither by the scanner, nor by a tail, nor counted as a line.
func TestScannerStopsAtTornRecord(t *testing.T) {
	dir := t.TempDir()
	writeLog(t, dir, nil, "oa\n", "ob\n").Close()
	f, err := os.OpenFile(logPath(dir, 0), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	var h [logHeaderSize]byte
	logRecord{Stream: frameStdout, Length: 100, Time: time.Now()}.encode(&h)
	f.Write(append(h[:], "torn\n"...))
	f.Close()
	marks, end, err := indexRecords(mustOpen(t, logPath(dir, 0)))
	if err != nil || len(marks) != 1 || end != 2*(logHeaderSize+2) {
		t.Errorf("marks %v, end %d, %v", marks, end, err)
	}
	f2, pos, skip, err := tailStart(dir, 1)
	if err != nil {
		t.Fatal(err)
	}
	if got := readFrom(t, dir, f2, pos, skip); got != "b\n" {
		t.Errorf("--tail 1 with a torn record: %q", got)
	}
	// A header no keeper writes is an error that says where, not a silent end.
	os.WriteFile(logPath(dir, 0), []byte("this is not a log at all"), 0600)
	if _, _, err := indexRecords(mustOpen(t, logPath(dir, 0))); err == nil || !strings.Contains(err.Error(), "offset 0") {
		t.Errorf("a file that is not a log: %v", err)
	}
}

// TestNextLogFileAcrossRotations: a reader holding the oldest file follows the chain to the newest
// while the writer rotates under it, and sees every byte once, in order. With max-file 1 the file it
// holds has no name left after a rotation, and the one that follows it is the new container.log.
func TestNextLogFileAcrossRotations(t *testing.T) {
	for _, files := range []string{"3", "1"} {
		followRotations(t, files)
	}
}

func followRotations(t *testing.T, files string) {
	dir := t.TempDir()
	w := writeLog(t, dir, map[string]string{"max-size": "1k", "max-file": files}, "ostart\n")
	f := mustOpen(t, logPath(dir, 0))
	var out bytes.Buffer
	var pos int64
	written := "start\n"
	for i := 0; i < 40; i++ {
		// Two rotations at a time at most: the reader keeps up with max-file 3.
		line := fmt.Sprintf("%03d %s\n", i, strings.Repeat("x", 600))
		w.Write(frameStdout, []byte(line))
		written += line
		for {
			s := &recordScanner{f: f, off: pos}
			s.end, _ = fileSize(f)
			for {
				record, off, err := s.next()
				if err != nil {
					break
				}
				payload := make([]byte, record.Length)
				f.ReadAt(payload, off+logHeaderSize)
				out.Write(payload)
			}
			pos = s.off
			next, err := nextLogFile(dir, f)
			if err != nil {
				t.Fatal(err)
			}
			if next == nil {
				break
			}
			f.Close()
			f, pos = next, 0
		}
	}
	w.Close()
	f.Close()
	if out.String() != written {
		t.Errorf("max-file %s: read %d bytes, wrote %d", files, out.Len(), len(written))
	}
}

// TestRecordsFitMaxSize: with a tiny max-size, a big write is cut into records that each fit a file.
func TestRecordsFitMaxSize(t *testing.T) {
	dir := t.TempDir()
	w := writeLog(t, dir, map[string]string{"max-size": "1k", "max-file": "2"})
	w.Write(frameStdout, bytes.Repeat([]byte("y"), 10000))
	w.Close()
	for n := 0; n < 2; n++ {
		info, err := os.Stat(logPath(dir, n))
		if err != nil || info.Size() > 1024 || info.Size() == 0 {
			t.Errorf("file %d: %v %v", n, info, err)
		}
	}
	if w.Dropped() != 0 {
		t.Errorf("dropped %d", w.Dropped())
	}
}
