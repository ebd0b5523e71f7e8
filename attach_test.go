// attach_test.go covers attach.go's pure parts: the detach-key filter and --detach-keys parsing, and the
// daemon's relay of control frames.
package main

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"syscall"
	"testing"
)

func TestParseDetachKeys(t *testing.T) {
	for _, tt := range []struct {
		spec string
		want []byte
	}{
		{defaultDetachKeys, ctrlPCtrlQ},
		{"ctrl-a,x", []byte{1, 'x'}},
		{"CTRL-P,Ctrl-Q", []byte{16, 17}},
		{"ctrl-@,ctrl-[,ctrl-\\,ctrl-],ctrl-^,ctrl-_", []byte{0, 27, 28, 29, 30, 31}},
		{"a,b,c", []byte("abc")},
	} {
		got, err := parseDetachKeys(tt.spec)
		if err != nil || !bytes.Equal(got, tt.want) {
			t.Errorf("parseDetachKeys(%q) = %v, %v; want %v", tt.spec, got, err, tt.want)
		}
	}
	for _, bad := range []string{"", "ctrl-", "ctrl-1", "ctrl-pq", "alt-x", "ctrl-p,,ctrl-q", "é", "ab", ","} {
		if got, err := parseDetachKeys(bad); err == nil || !strings.Contains(err.Error(), "invalid --detach-keys") {
			t.Errorf("parseDetachKeys(%q) = %v, %v; want an error", bad, got, err)
		}
	}
}

// writeAll feeds the chunks to a detachWriter one Write each, as reads from the client would come.
func writeAll(keys string, chunks ...string) (passed string, detached bool) {
	var out bytes.Buffer
	w := &detachWriter{out: &out, keys: []byte(keys)}
	for _, chunk := range chunks {
		if _, err := w.Write([]byte(chunk)); errors.Is(err, errDetached) {
			return out.String(), true
		}
	}
	return out.String(), false
}

func TestDetachWriter(t *testing.T) {
	for _, tt := range []struct {
		name     string
		keys     string
		chunks   []string
		passed   string
		detached bool
	}{
		{"no keys typed", "\x10\x11", []string{"ls -l\r", "exit\r"}, "ls -l\rexit\r", false},
		{"keys in one read", "\x10\x11", []string{"ls\r\x10\x11after"}, "ls\r", true},
		{"keys split across reads", "\x10\x11", []string{"ls\x10", "\x11"}, "ls", true},
		{"broken prefix passed on", "\x10\x11", []string{"a\x10", "b"}, "a\x10b", false},
		{"broken prefix in one read", "\x10\x11", []string{"\x10x\x11"}, "\x10x\x11", false},
		{"prefix held at the end", "\x10\x11", []string{"abc\x10"}, "abc", false},
		{"repeated first key", "\x10\x11", []string{"\x10", "\x10", "\x11"}, "\x10", true},
		{"overlapping sequence", "aab", []string{"a", "a", "a", "b"}, "a", true},
		{"three keys split", "\x01xy", []string{"\x01", "x", "z"}, "\x01xz", false},
		{"one key", "\x1d", []string{"ab\x1dcd"}, "ab", true},
	} {
		passed, detached := writeAll(tt.keys, tt.chunks...)
		if passed != tt.passed || detached != tt.detached {
			t.Errorf("%s: passed %q, detached %v; want %q, %v", tt.name, passed, detached, tt.passed, tt.detached)
		}
	}
}

func TestDetachWriterReportsWriteErrors(t *testing.T) {
	w := &detachWriter{out: failingWriter{}, keys: []byte{16, 17}}
	if _, err := w.Write([]byte("x")); err == nil || errors.Is(err, errDetached) {
		t.Errorf("Write to a closed terminal: %v, want its error", err)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, io.ErrClosedPipe }

// The relay of a tty attachment: keystrokes reach the terminal through the filter, resizes and (for
// a plain container) signals reach their handlers, and the detach keys end it with errDetached even
// when they fill a whole frame (io.CopyN would otherwise drop the error).
func TestSessionRelayDetach(t *testing.T) {
	client, daemon := frameTestPair(t)
	session := &Session{conn: daemon}
	console := &recordingConsole{}
	done := make(chan error, 1)
	go func() {
		done <- session.relay(attachment{input: console, console: console, detachKeys: []byte{16, 17}})
	}()
	if f := readTestFrame(t, client); f.kind != frameStdin {
		t.Fatalf("the relay asked for %q, want stdin", f.kind)
	}
	sendFrames(client, testFrame{frameStdin, []byte("ls\r")}, testFrame{frameResize, resizePayload(30, 100)}, testFrame{frameStdin, []byte{16}}, testFrame{frameStdin, []byte{17}})
	if err := <-done; !errors.Is(err, errDetached) {
		t.Fatalf("relay ended with %v, want errDetached", err)
	}
	if console.typed.String() != "ls\r" || len(console.sizes) != 1 || console.sizes[0] != [2]uint16{30, 100} {
		t.Errorf("typed %q, resizes %v", console.typed.String(), console.sizes)
	}
}

// Without a terminal, the relay asks for signals, passes them on, and after stdin's EOF closes the
// input (StdinOnce) and goes on reading signals until the client's input ends.
func TestSessionRelaySignals(t *testing.T) {
	client, daemon := frameTestPair(t)
	session := &Session{conn: daemon}
	var input bytes.Buffer
	var signals []syscall.Signal
	closed := false
	done := make(chan error, 1)
	go func() {
		done <- session.relay(attachment{input: &input, closeInput: func() { closed = true },
			signal: func(sig syscall.Signal) error { signals = append(signals, sig); return nil }})
	}()
	for _, want := range []byte{frameSignal, frameStdin} {
		if f := readTestFrame(t, client); f.kind != want {
			t.Fatalf("the relay sent %q, want %q", f.kind, want)
		}
	}
	if err := <-sendFrames(client, testFrame{frameStdin, []byte("data")}, testFrame{frameStdinClosed, nil}, testFrame{frameSignal, signalPayload(syscall.SIGTERM)}); err != nil {
		t.Fatal(err)
	}
	client.Close() // the daemon still reads what was sent before the end

	if err := <-done; err != nil {
		t.Fatalf("relay ended with %v, want nil: the end of the client's input", err)
	}
	if input.String() != "data" || !closed || len(signals) != 1 || signals[0] != syscall.SIGTERM {
		t.Errorf("input %q, closed %v, signals %v", input.String(), closed, signals)
	}
}

type recordingConsole struct {
	typed bytes.Buffer
	sizes [][2]uint16
}

func (c *recordingConsole) Write(p []byte) (int, error) { return c.typed.Write(p) }

func (c *recordingConsole) Resize(rows, cols uint16) error {
	c.sizes = append(c.sizes, [2]uint16{rows, cols})
	return nil
}

func TestStdinReaderControlFrames(t *testing.T) {
	client, daemon := frameTestPair(t)
	var signals []syscall.Signal
	var sizes [][2]uint16
	r := &stdinReader{conn: daemon, control: clientControl{
		resize: func(rows, cols uint16) error { sizes = append(sizes, [2]uint16{rows, cols}); return nil },
		signal: func(sig syscall.Signal) error { signals = append(signals, sig); return nil },
	}}
	sent := sendFrames(client, testFrame{frameStdin, []byte("ab")}, testFrame{frameSignal, signalPayload(syscall.SIGINT)},
		testFrame{frameResize, resizePayload(24, 80)}, testFrame{frameStdin, []byte("cd")}, testFrame{frameStdinClosed, nil},
		testFrame{frameStdin, []byte("unwanted")}, testFrame{frameSignal, signalPayload(syscall.SIGTERM)})
	got, err := io.ReadAll(r)
	if string(got) != "abcd" || err != nil {
		t.Fatalf("stdin %q, %v", got, err)
	}
	if err := <-sent; err != nil {
		t.Fatal(err)
	}
	client.Close() // followControl then ends with the client's input
	if err := r.followControl(); err != nil {
		t.Errorf("followControl ended with %v, want nil", err)
	}
	if len(signals) != 2 || signals[0] != syscall.SIGINT || signals[1] != syscall.SIGTERM || len(sizes) != 1 || sizes[0] != [2]uint16{24, 80} {
		t.Errorf("signals %v, sizes %v", signals, sizes)
	}
}

func TestStdinReaderRejectsBadControlFrames(t *testing.T) {
	for _, f := range []testFrame{{frameSignal, []byte{0, 0, 0, 0}}, {frameSignal, []byte{0, 0, 0, 99}}, {frameSignal, []byte{9}}, {frameResize, []byte{0, 24}}} {
		client, daemon := frameTestPair(t)
		sendFrames(client, f)
		r := &stdinReader{conn: daemon, control: clientControl{signal: func(syscall.Signal) error { t.Error("bad frame delivered"); return nil }}}
		if _, err := io.ReadAll(r); err == nil {
			t.Errorf("frame %q %v accepted", f.kind, f.payload)
		}
	}
}
