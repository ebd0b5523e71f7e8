// console_test.go covers console.go on the daemon's side: a descriptor across a unix socket, and the
// Console's copier, drain and resize, on a pty of the host's.
package main

import (
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/kr/pty"
	"golang.org/x/sys/unix"
)

func socketPair(t *testing.T) (*os.File, *os.File) {
	t.Helper()
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	a, b := os.NewFile(uintptr(fds[0]), "a"), os.NewFile(uintptr(fds[1]), "b")
	t.Cleanup(func() { a.Close(); b.Close() })
	return a, b
}

func TestSendAndReceiveFd(t *testing.T) {
	sender, receiver := socketPair(t)
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	defer w.Close()
	if err := sendFd(int(sender.Fd()), consoleMarker, w); err != nil {
		t.Fatal(err)
	}
	got, data, err := receiveFd(receiver)
	if err != nil || got == nil || string(data) != string(consoleMarker) {
		t.Fatalf("receiveFd = %v, %q, %v", got, data, err)
	}
	defer got.Close()
	if flags, _ := unix.FcntlInt(got.Fd(), unix.F_GETFD, 0); flags&unix.FD_CLOEXEC == 0 {
		t.Error("the received descriptor is not close-on-exec")
	}
	got.Write([]byte("through"))
	buf := make([]byte, 16)
	if n, _ := r.Read(buf); string(buf[:n]) != "through" {
		t.Errorf("the received descriptor is not the pipe: read %q", buf[:n])
	}
	// A message without a descriptor, as init's failure report: only data.
	sender.Write([]byte(`{"status":127}`))
	if got, data, err := receiveFd(receiver); got != nil || string(data) != `{"status":127}` || err != nil {
		t.Errorf("receiveFd of a report = %v, %q, %v", got, data, err)
	}
}

// daemonPty opens a pty of the host's and hands its master over a unix socket, as init hands the
// daemon a container's: what comes out of receiveFd is non-blocking, so a Close interrupts a pending
// read. (pty.Open's own master is blocking, and a copier already reading it could never be ended.)
func daemonPty(t *testing.T) (master, slave *os.File) {
	t.Helper()
	ptmx, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer ptmx.Close()
	sender, receiver := socketPair(t)
	if err := sendFd(int(sender.Fd()), consoleMarker, ptmx); err != nil {
		t.Fatal(err)
	}
	if master, _, err = receiveFd(receiver); err != nil || master == nil {
		t.Fatalf("receiving the master: %v", err)
	}
	return master, slave
}

func TestConsoleCopiesAndDrains(t *testing.T) {
	master, slave := daemonPty(t)
	logPath := filepath.Join(t.TempDir(), "output")
	out, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	console := newConsole(master, out)
	if err := console.Resize(30, 100); err != nil {
		t.Fatal(err)
	}
	if rows, cols, _ := pty.Getsize(slave); rows != 30 || cols != 100 {
		t.Errorf("size after Resize: %dx%d", rows, cols)
	}
	console.Resize(0, 0) // unknown: ignored
	if rows, cols, _ := pty.Getsize(slave); rows != 30 || cols != 100 {
		t.Errorf("size after Resize(0, 0): %dx%d", rows, cols)
	}
	console.Write([]byte("typed\n"))
	buf := make([]byte, 64)
	if n, _ := slave.Read(buf); string(buf[:n]) != "typed\n" {
		t.Errorf("the command read %q", buf[:n])
	}
	slave.Write([]byte("line one\nline two\n"))
	slave.Close() // the last slave descriptor: the copier reads EIO and ends
	console.Drain()
	data, _ := os.ReadFile(logPath)
	// The pty echoes what was typed, and its ONLCR turns each newline into CR LF, as a terminal shows it.
	if string(data) != "typed\r\nline one\r\nline two\r\n" {
		t.Errorf("log: %q", data)
	}
}

func TestConsoleCloseEndsTheCopier(t *testing.T) {
	master, slave := daemonPty(t)
	defer slave.Close() // still open: only Close can end the copier's read
	console := newConsole(master, io.Discard)
	time.Sleep(50 * time.Millisecond) // let the copier block in its read: the case a blocking master hangs
	closed := make(chan struct{})
	go func() {
		console.Close()
		close(closed)
	}()
	select {
	case <-closed:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not end the copier's read")
	}
}
