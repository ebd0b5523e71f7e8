// logs_ahead_test.go: a reader that falls behind the keeper's rotations.
package main

import (
	"bytes"
	"fmt"
	"os"
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
	for l.file != nil {
		readWhole(l.file, &out)
		next, err := l.next()
		if err != nil {
			t.Fatal(err)
		}
		l.file.Close()
		l.file = next
	}
	if out.String() != written {
		t.Errorf("read %d bytes (%.40q…), wrote %d", out.Len(), out.String(), len(written))
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
	l.lockFile(l.file)
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
	for { // as sendAll goes on: read the file to its end, lock the next, let go of this one
		next, err := l.next()
		if err != nil {
			t.Fatal(err)
		}
		if next == nil { // the keeper's container.log: read it once the keeper is done
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
		readWhole(l.file, &out) // the keeper has gone on to next: this file is whole
		l.lockFile(next)
		l.file.Close()
		l.file = next
	}
	if want := line(0) + line(1) + line(2); out.String() != want {
		t.Errorf("read %d bytes (%.40q…), wrote %d", out.Len(), out.String(), len(want))
	}
}
