// terminal.go: the client's terminal and signals while it is attached (`engine run -it`, `engine attach`).
//
// When the daemon says the output is a terminal's (a 't' frame, tcp.go), the client sends the size of
// its own terminal at once and again on every SIGWINCH; the daemon sets it on the container's pty
// (console.go), whose kernel then tells the shell inside. When the daemon also asks for stdin, the
// client's terminal goes into raw mode: no line editing, no echo, no signals from Ctrl-C or Ctrl-Z, so
// every key travels as a byte to the container's pty, whose own line discipline does all that for the
// shell inside. A raw terminal left behind is unusable, so the mode is restored on every way out: the
// exit frame, an error, a lost connection, a detach, and SIGINT, SIGTERM or SIGHUP sent to the client.
//
// Without a terminal, when the daemon asks for signals (an 's' frame: docker's --sig-proxy), SIGINT and
// SIGTERM are passed on to the container instead of ending the client.
package main

import (
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"github.com/kr/pty"
	"golang.org/x/sys/unix"
)

// clientTerminal is the client's side of a session's terminal and signals.
type clientTerminal struct {
	conn  *Conn
	input *os.File // the client's stdin: the terminal, if it is one

	mu    sync.Mutex
	tty   bool          // the daemon said the output is a terminal's
	saved *unix.Termios // the terminal's mode before raw, while raw
	held  []byte        // the engine's own messages, held back while the terminal is raw
	proxy bool          // pass SIGINT and SIGTERM on to the container
}

// watchSignals takes over SIGINT, SIGTERM and SIGHUP for the client's whole life: they are passed on
// when the daemon asked for that, and otherwise end the client as they would have, after the terminal
// is restored.
func (t *clientTerminal) watchSignals() {
	signals := make(chan os.Signal, 4)
	signal.Notify(signals, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		for sig := range signals {
			sig := sig.(syscall.Signal)
			t.mu.Lock()
			proxy := t.proxy
			t.mu.Unlock()
			if proxy && sig != syscall.SIGHUP {
				t.conn.WriteFrame(frameSignal, signalPayload(sig))
				continue
			}
			t.restore()
			dieOf(sig)
		}
	}()
}

// dieOf ends the client by the signal itself, so the shell that started it sees "killed by SIGINT"
// (a loop in a script stops, as it would for any other command).
func dieOf(sig syscall.Signal) {
	signal.Reset(sig)
	syscall.Kill(os.Getpid(), sig)
	time.Sleep(time.Second) // the signal is on its way; this is only a fallback
	os.Exit(128 + int(sig))
}

// proxySignals is the answer to the daemon's signal frame.
func (t *clientTerminal) proxySignals() {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.proxy = true
}

// announce is the answer to the daemon's terminal frame: our size now, and again whenever it changes.
func (t *clientTerminal) announce() error {
	t.mu.Lock()
	t.tty = true
	t.mu.Unlock()
	changed := make(chan os.Signal, 1)
	signal.Notify(changed, syscall.SIGWINCH)
	go func() {
		for range changed {
			if t.sendSize() != nil {
				return
			}
		}
	}()
	return t.sendSize()
}

func (t *clientTerminal) sendSize() error {
	rows, cols := windowSize(t.input)
	return t.conn.WriteFrame(frameResize, resizePayload(rows, cols))
}

// windowSize is the size of the terminal f, or 0x0 if f is not a terminal.
func windowSize(f *os.File) (rows, cols uint16) {
	if f == nil || !isTerminal(f) {
		return 0, 0
	}
	size, err := pty.GetsizeFull(f)
	if err != nil {
		return 0, 0
	}
	return size.Rows, size.Cols
}

func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}

// startInput is called when the daemon asks for stdin: with a terminal on both sides, ours goes raw.
func (t *clientTerminal) startInput() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.tty || t.saved != nil || t.input == nil || !isTerminal(t.input) {
		return nil
	}
	fd := int(t.input.Fd())
	saved, err := unix.IoctlGetTermios(fd, unix.TCGETS)
	if err != nil {
		return err
	}
	raw := rawMode(*saved)
	if err := unix.IoctlSetTermios(fd, unix.TCSETS, &raw); err != nil {
		return err
	}
	t.saved = saved
	return nil
}

// rawMode is cfmakeraw(3)'s arithmetic: input bytes arrive unchanged (no break, parity or CR/NL
// translation, no XON/XOFF flow control), output is not post-processed (the container's pty already
// turned its newlines into CR LF), no echo, no canonical line editing, no signal keys (Ctrl-C is a
// byte for the container), and 8-bit characters; a read returns as soon as one byte is there.
func rawMode(t unix.Termios) unix.Termios {
	t.Iflag &^= unix.IGNBRK | unix.BRKINT | unix.PARMRK | unix.ISTRIP | unix.INLCR | unix.IGNCR | unix.ICRNL | unix.IXON
	t.Oflag &^= unix.OPOST
	t.Lflag &^= unix.ECHO | unix.ECHONL | unix.ICANON | unix.ISIG | unix.IEXTEN
	t.Cflag &^= unix.CSIZE | unix.PARENB
	t.Cflag |= unix.CS8
	t.Cc[unix.VMIN] = 1
	t.Cc[unix.VTIME] = 0
	return t
}

// message prints one of the engine's own messages (an error frame), or holds it until the terminal is
// restored: in raw mode its newline would not return the cursor.
func (t *clientTerminal) message(text []byte) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.saved != nil {
		t.held = append(t.held, text...)
		return
	}
	os.Stderr.Write(text)
}

// restore puts the terminal back as it was and prints what was held back. It is safe to call on
// every way out, and more than once.
func (t *clientTerminal) restore() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.saved != nil {
		unix.IoctlSetTermios(int(t.input.Fd()), unix.TCSETS, t.saved)
		t.saved = nil
	}
	if len(t.held) > 0 {
		os.Stderr.Write(t.held)
		t.held = nil
	}
}
