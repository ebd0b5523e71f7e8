// logs_ahead_test.go: a reader that falls behind the keeper's rotations.
package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// readWhole appends the payloads of f's whole records to out.
func readWhole(f *os.File, out *bytes.Buffer) {
	s := &recordScanner{f: f}
	s.end, _ = fileSize(f)
	for {
		record, off, err := s.next()
		if err != nil {
			return
		}
		payload := make([]byte, record.Length)
		f.ReadAt(payload, off+logHeaderSize)
		out.Write(payload)
	}
}

// A reader whose client is slow reads its first file while the keeper writes three more with max-file 2:
// the first two are deleted before it gets to them. It looked ahead while reading (holdAhead, as send
// does every half file) and holds them, so it reads every byte, in order. Without the files held, the
// reader would go on with the oldest file left and lose the ones in between (the attached client of a
// bench that writes 1 GiB at 20 MB a file once lost 20 MB so).
func TestSlowReaderHoldsFilesAhead(t *testing.T) {
	dir := t.TempDir()
	w := writeLog(t, dir, map[string]string{"max-size": "1k", "max-file": "2"})
	defer w.Close()
	var written string
	write := func(i int) {
		line := fmt.Sprintf("%03d %s\n", i, strings.Repeat("x", 600)) // one record, one file
		w.Write(frameStdout, []byte(line))
		written += line
	}
	write(0)
	l := &containerLogs{dir: dir, file: mustOpen(t, logPath(dir, 0)), maxAhead: 2}
	defer l.Close()
	for i := 1; i < 4; i++ {
		write(i) // a rotation each
		if err := l.holdAhead(); err != nil {
			t.Fatal(err)
		}
	}
	if len(l.ahead) != 2 {
		t.Fatalf("%d files held ahead, want 2 (max-file)", len(l.ahead))
	}
	var out bytes.Buffer
	for {
		readWhole(l.file, &out)
		more, err := l.holdNext()
		if err != nil {
			t.Fatal(err)
		}
		if !more {
			break
		}
		l.advance()
	}
	if out.String() != written {
		t.Errorf("read %d bytes (%.40q…), wrote %d", out.Len(), out.String(), len(written))
	}
}

// A `run --rm` whose command ends at once: the daemon may remove the container's directory (once the end
// is recorded) before the attached client's reader watches it. The reader sends what the file it holds
// has, and no error: before, the client got "engine: run: no such file or directory" from inotify, about
// once in a thousand runs of TestE2ENetworkCleanup.
func TestStreamAfterTheDirectoryIsGone(t *testing.T) {
	dir := t.TempDir()
	w := writeLog(t, dir, nil, "ohello\n")
	w.Close()
	l := &containerLogs{dir: filepath.Join(dir, "removed"), file: mustOpen(t, logPath(dir, 0))}
	defer l.Close()
	end := make(chan struct{})
	close(end)
	client, daemon := frameTestPair(t)
	done := make(chan error, 1)
	go func() { done <- l.stream(&Session{conn: daemon}, end, nil) }()
	if f := readTestFrame(t, client); f.kind != frameStdout || string(f.payload) != "hello\n" {
		t.Errorf("got a %q frame %q", f.kind, f.payload)
	}
	if err := <-done; err != nil {
		t.Errorf("stream: %v", err)
	}
}

// An attached client's reader holds the file it reads: the keeper, rotating with max-file 1, deletes
// it only once the reader has moved on, and until then its writes wait (the container's with them).
// The reader thus reads every byte, in order, however far behind it is.
func TestAttachedReaderHoldsUpTheDelete(t *testing.T) {
	dir := t.TempDir()
	w := writeLog(t, dir, map[string]string{"max-size": "1k", "max-file": "1"})
	defer w.Close()
	line := func(i int) string { return fmt.Sprintf("%03d %s\n", i, strings.Repeat("x", 600)) } // one file each
	w.Write(frameStdout, []byte(line(0)))
	l := &containerLogs{dir: dir, file: mustOpen(t, logPath(dir, 0)), attached: true}
	defer l.Close()
	l.lockNewest(nil)
	wrote := make(chan struct{})
	go func() {
		w.Write(frameStdout, []byte(line(1))) // rotates: file 0 is past max-file
		w.Write(frameStdout, []byte(line(2))) // rotates again
		close(wrote)
	}()
	select {
	case <-wrote:
		t.Fatal("the keeper deleted the file an attached reader holds")
	case <-time.After(200 * time.Millisecond):
	}
	var out bytes.Buffer
	start := time.Now()
	for { // as sendAll goes on: hold the next file (locked), read this one to its end, let it go
		more, err := l.holdNext()
		if err != nil {
			t.Fatal(err)
		}
		if !more { // the keeper's container.log: read it once the keeper is done
			select {
			case <-wrote:
				readWhole(l.file, &out)
			case <-time.After(time.Millisecond):
				if time.Since(start) > 10*time.Second {
					t.Fatal("the keeper still waits after the reader let go")
				}
				continue
			}
			break
		}
		readWhole(l.file, &out) // the keeper has gone on to the next: this file is whole
		l.advance()
	}
	if want := line(0) + line(1) + line(2); out.String() != want {
		t.Errorf("read %d bytes (%.40q…), wrote %d", out.Len(), out.String(), len(want))
	}
}

// The file after the one being read, once held (holdNext), is the newest held: a look ahead made
// while the old file is read to its end (send does one every half file) goes on after it. When it
// went on from the old file instead, it held the same file twice, and an attached client got a
// 13-byte record twice about once in twenty runs (TestE2EAttachedSlowClientGetsEveryByte).
func TestHoldNextThenLookAheadHoldsNoFileTwice(t *testing.T) {
	dir := t.TempDir()
	w := writeLog(t, dir, map[string]string{"max-size": "1k", "max-file": "3"})
	defer w.Close()
	line := func(i int) []byte { return []byte(fmt.Sprintf("%03d %s\n", i, strings.Repeat("x", 600))) }
	w.Write(frameStdout, line(0))
	l := &containerLogs{dir: dir, file: mustOpen(t, logPath(dir, 0)), maxAhead: 3}
	defer l.Close()
	w.Write(frameStdout, line(1)) // a rotation: the file read is container.log.1 now
	if more, err := l.holdNext(); err != nil || !more {
		t.Fatalf("holdNext: %v, %v", more, err)
	}
	if err := l.holdAhead(); err != nil {
		t.Fatal(err)
	}
	if len(l.ahead) != 1 {
		t.Errorf("%d files held ahead after one rotation, want 1", len(l.ahead))
	}
}

// The keeper stops waiting for an attached client that does not read once its container has ended
// (StopWaiting, after the output drain's bound): the rotation that waited goes on and deletes the file.
func TestStopWaitingEndsTheWaitForAReader(t *testing.T) {
	dir := t.TempDir()
	w := writeLog(t, dir, map[string]string{"max-size": "1k", "max-file": "1"})
	defer w.Close()
	line := []byte(strings.Repeat("x", 600) + "\n") // one file each
	w.Write(frameStdout, line)
	l := &containerLogs{dir: dir, file: mustOpen(t, logPath(dir, 0)), attached: true}
	defer l.Close()
	l.lockNewest(nil) // and never reads on
	wrote := make(chan struct{})
	go func() { w.Write(frameStdout, line); close(wrote) }()
	select {
	case <-wrote:
		t.Fatal("the keeper did not wait for the attached reader")
	case <-time.After(100 * time.Millisecond):
	}
	w.StopWaiting()
	select {
	case <-wrote:
	case <-time.After(10 * time.Second):
		t.Fatal("the keeper still waits after StopWaiting")
	}
	if _, err := os.Stat(logPath(dir, 1)); !os.IsNotExist(err) {
		t.Errorf("the file past max-file is still there: %v", err)
	}
}
