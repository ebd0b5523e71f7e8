// terminal_test.go covers terminal.go: cfmakeraw's arithmetic, the window size of what is not a
// terminal, and the engine's messages held back while the terminal is raw.
package main

import (
	"os"
	"testing"

	"github.com/kr/pty"
	"golang.org/x/sys/unix"
)

func TestRawMode(t *testing.T) {
	cooked := unix.Termios{
		Iflag: unix.ICRNL | unix.IXON | unix.BRKINT | unix.IUTF8,
		Oflag: unix.OPOST | unix.ONLCR,
		Cflag: unix.CS7 | unix.PARENB | unix.CREAD,
		Lflag: unix.ECHO | unix.ICANON | unix.ISIG | unix.IEXTEN | unix.ECHOE,
	}
	cooked.Cc[unix.VMIN], cooked.Cc[unix.VTIME], cooked.Cc[unix.VINTR] = 0, 5, 3
	raw := rawMode(cooked)
	checks := []struct {
		name      string
		got, want uint32
	}{
		{"input: no CR→NL, no flow control, no break; UTF-8 kept", raw.Iflag, unix.IUTF8},
		{"output: not post-processed", raw.Oflag &^ unix.ONLCR, 0},
		{"control: 8 bits, no parity, reader kept", raw.Cflag, unix.CS8 | unix.CREAD},
		{"local: no echo, no lines, no signal keys", raw.Lflag, unix.ECHOE},
		{"a read returns at one byte", uint32(raw.Cc[unix.VMIN]), 1},
		{"with no timeout", uint32(raw.Cc[unix.VTIME]), 0},
		{"the interrupt character is left as it was", uint32(raw.Cc[unix.VINTR]), 3},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s: %#x, want %#x", c.name, c.got, c.want)
		}
	}
	if again := rawMode(raw); again != raw {
		t.Error("rawMode of a raw mode changed it")
	}
}

func TestWindowSizeOfNonTerminal(t *testing.T) {
	f, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if rows, cols := windowSize(f); rows != 0 || cols != 0 {
		t.Errorf("size of /dev/null: %dx%d", rows, cols)
	}
	if rows, cols := windowSize(nil); rows != 0 || cols != 0 {
		t.Errorf("size of no stdin: %dx%d", rows, cols)
	}
}

// A real pty stands for the user's terminal: startInput makes it raw only after the terminal frame,
// restore brings back the exact mode and prints what was held back meanwhile.
func TestClientTerminalRawAndRestore(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	defer slave.Close()
	client, _ := frameTestPair(t)
	term := &clientTerminal{conn: client, input: slave}
	before, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if err := term.startInput(); err != nil || term.saved != nil {
		t.Fatalf("startInput without a terminal frame: %v, raw %v", err, term.saved != nil)
	}
	term.tty = true
	if err := term.startInput(); err != nil || term.saved == nil {
		t.Fatalf("startInput: %v", err)
	}
	now, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if *now != rawMode(*before) {
		t.Errorf("the terminal is not in raw mode")
	}
	quietStderr(t)
	term.message([]byte("held\n"))
	if string(term.held) != "held\n" {
		t.Errorf("message printed in raw mode")
	}
	term.restore()
	after, _ := unix.IoctlGetTermios(int(slave.Fd()), unix.TCGETS)
	if *after != *before || term.held != nil {
		t.Errorf("restore: mode back %v, held %q", *after == *before, term.held)
	}
	term.restore() // a second restore, as on several ways out, changes nothing
}
