// tcp_test.go covers tcp.go: frames, frameWriter, SendFrom, stdinReader, exit, resize and signal payloads
// and importSource.
package main

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"testing/iotest"
	"time"
)

// frameTestPair is the two ends of one loopback TCP connection: what the client writes, the daemon
// reads. (net.Pipe would not do: an empty write on it waits for a reader, where TCP's returns at once.)
func frameTestPair(t *testing.T) (client, daemon *Conn) {
	t.Helper()
	listener, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer listener.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := listener.Accept()
		accepted <- c
	}()
	a, err := net.Dial("tcp", listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	b := <-accepted
	if b == nil {
		a.Close()
		t.Fatal("accept failed")
	}
	deadline := time.Now().Add(10 * time.Second) // a bug blocks a test for seconds, not forever
	a.SetDeadline(deadline)
	b.SetDeadline(deadline)
	t.Cleanup(func() { a.Close(); b.Close() })
	return &Conn{Conn: a}, &Conn{Conn: b}
}

// sendFrames writes frames from a goroutine (large ones wait for the reader) and reports the
// first write error on the returned channel once all are written.
func sendFrames(conn *Conn, frames ...testFrame) <-chan error {
	done := make(chan error, 1)
	go func() {
		for _, f := range frames {
			if err := conn.WriteFrame(f.kind, f.payload); err != nil {
				done <- err
				return
			}
		}
		done <- nil
	}()
	return done
}

type testFrame struct {
	kind    byte
	payload []byte
}

func readTestFrame(t *testing.T, conn *Conn) testFrame {
	t.Helper()
	kind, length, err := conn.ReadHeader()
	if err != nil {
		t.Fatalf("ReadHeader: %v", err)
	}
	payload, err := conn.ReadPayload(length)
	if err != nil {
		t.Fatalf("ReadPayload(%d): %v", length, err)
	}
	return testFrame{kind, payload}
}

func TestFrameRoundTrip(t *testing.T) {
	frames := []testFrame{
		{frameToken, []byte("t")},
		{frameRequest, []byte(`{"args":["ps"]}`)},
		{frameStdout, []byte("hello\n")},
		{frameStderr, nil},
		{frameError, bytes.Repeat([]byte{0, 0xff}, 1000)},
		{frameExit, exitPayload(7)},
		{frameStdout, bytes.Repeat([]byte("x"), maxPayload)},
	}
	client, daemon := frameTestPair(t)
	done := sendFrames(client, frames...)
	for i, want := range frames {
		got := readTestFrame(t, daemon)
		if got.kind != want.kind || !bytes.Equal(got.payload, want.payload) {
			t.Errorf("frame %d = %q with %d bytes, want %q with %d bytes", i, got.kind, len(got.payload), want.kind, len(want.payload))
		}
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestFrameWriterSplitsLargePayloads(t *testing.T) {
	client, daemon := frameTestPair(t)
	data := make([]byte, 2*maxPayload+10)
	for i := range data {
		data[i] = byte(i % 251)
	}
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, err := frameWriter{client, frameStderr}.Write(data)
		done <- result{n, err}
	}()
	var lengths []int
	var got []byte
	for len(got) < len(data) {
		f := readTestFrame(t, daemon)
		if f.kind != frameStderr {
			t.Fatalf("frame kind %q, want stderr", f.kind)
		}
		lengths = append(lengths, len(f.payload))
		got = append(got, f.payload...)
	}
	if r := <-done; r.err != nil || r.n != len(data) {
		t.Errorf("Write = %d, %v; want %d, nil", r.n, r.err, len(data))
	}
	if want := []int{maxPayload, maxPayload, 10}; !slices.Equal(lengths, want) {
		t.Errorf("frame lengths = %v, want %v", lengths, want)
	}
	if !bytes.Equal(got, data) {
		t.Error("payload changed on the way")
	}
}

func TestFrameWriteFrameRejectsOversize(t *testing.T) {
	client, _ := frameTestPair(t)
	err := client.WriteFrame(frameStdout, make([]byte, maxPayload+1))
	if err == nil || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("WriteFrame(maxPayload+1) = %v, want a size error", err)
	}
}

func TestFrameReadHeaderRejectsOversize(t *testing.T) {
	tests := []struct {
		length uint32
		ok     bool
	}{{0, true}, {maxPayload, true}, {maxPayload + 1, false}, {1<<32 - 1, false}}
	for _, tt := range tests {
		client, daemon := frameTestPair(t)
		header := binary.BigEndian.AppendUint32([]byte{frameStdout}, tt.length)
		go client.Conn.Write(header)
		kind, length, err := daemon.ReadHeader()
		if tt.ok && (err != nil || kind != frameStdout || length != int64(tt.length)) {
			t.Errorf("ReadHeader of length %d = %q, %d, %v", tt.length, kind, length, err)
		}
		if !tt.ok && (err == nil || !strings.Contains(err.Error(), "exceeds")) {
			t.Errorf("ReadHeader of length %d = %v, want a size error", tt.length, err)
		}
	}
}

func TestFrameReadHeaderShortInput(t *testing.T) {
	client, daemon := frameTestPair(t)
	go func() {
		client.Conn.Write([]byte{frameStdout, 0, 0})
		client.Close()
	}()
	if _, _, err := daemon.ReadHeader(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("ReadHeader of a cut header = %v, want ErrUnexpectedEOF", err)
	}
}

func TestFrameSendFrom(t *testing.T) {
	data := bytes.Repeat([]byte("log line\n"), maxPayload/9+100) // a little over maxPayload
	path := filepath.Join(t.TempDir(), "stdout.log")
	if err := os.WriteFile(path, data, 0600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	client, daemon := frameTestPair(t)
	done := make(chan error, 1)
	go func() { done <- daemon.SendFrom(frameStdout, f, int64(len(data))) }()
	first, second := readTestFrame(t, client), readTestFrame(t, client)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if len(first.payload) != maxPayload || first.kind != frameStdout || second.kind != frameStdout {
		t.Errorf("frames %q of %d bytes and %q of %d bytes", first.kind, len(first.payload), second.kind, len(second.payload))
	}
	if !bytes.Equal(append(first.payload, second.payload...), data) {
		t.Error("payload changed on the way")
	}
}

// stdinTestFrames is what a client sends for the input "hello world": several stdin frames, an empty one,
// a resize frame (ignored without a terminal), then stdin-closed.
var stdinTestFrames = []testFrame{
	{frameStdin, []byte("hel")},
	{frameResize, []byte{0, 24, 0, 80}},
	{frameStdin, nil},
	{frameStdin, []byte("lo ")},
	{frameStdin, []byte("world")},
	{frameStdinClosed, nil},
}

func TestStdinReaderRead(t *testing.T) {
	client, daemon := frameTestPair(t)
	done := sendFrames(client, stdinTestFrames...)
	r := &stdinReader{conn: daemon}
	got, err := io.ReadAll(iotest.OneByteReader(r)) // one byte at a time, across frame boundaries
	if err != nil || string(got) != "hello world" {
		t.Errorf("ReadAll = %q, %v; want hello world", got, err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read after stdin-closed = %d, %v; want 0, EOF", n, err)
	}
}

func TestStdinReaderWriteTo(t *testing.T) {
	client, daemon := frameTestPair(t)
	done := sendFrames(client, stdinTestFrames...)
	r := &stdinReader{conn: daemon}
	var buf bytes.Buffer
	n, err := r.WriteTo(&buf)
	if err != nil || n != 11 || buf.String() != "hello world" {
		t.Errorf("WriteTo = %d, %v, %q; want 11, nil, hello world", n, err, buf.String())
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n, err := r.WriteTo(&buf); n != 0 || err != nil {
		t.Errorf("WriteTo after stdin-closed = %d, %v; want 0, nil", n, err)
	}
}

// A partly read frame is finished by WriteTo: the two ways of reading mix.
func TestStdinReaderReadThenWriteTo(t *testing.T) {
	client, daemon := frameTestPair(t)
	done := sendFrames(client, stdinTestFrames...)
	r := &stdinReader{conn: daemon}
	first := make([]byte, 2)
	if _, err := io.ReadFull(r, first); err != nil {
		t.Fatal(err)
	}
	var rest bytes.Buffer
	if _, err := r.WriteTo(&rest); err != nil {
		t.Fatal(err)
	}
	if got := string(first) + rest.String(); got != "hello world" {
		t.Errorf("read %q", got)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func TestStdinReaderUnexpectedFrame(t *testing.T) {
	client, daemon := frameTestPair(t)
	sendFrames(client, testFrame{frameStdin, []byte("ok")}, testFrame{frameStdout, []byte("??")})
	r := &stdinReader{conn: daemon}
	got, err := io.ReadAll(r)
	if string(got) != "ok" || err == nil || !strings.Contains(err.Error(), "unexpected frame") {
		t.Errorf("ReadAll = %q, %v; want ok and an unexpected frame error", got, err)
	}
}

// A client that goes away without stdin-closed ends the input too.
func TestStdinReaderClientGone(t *testing.T) {
	client, daemon := frameTestPair(t)
	go func() {
		client.WriteFrame(frameStdin, []byte("partial"))
		client.Close()
	}()
	got, err := io.ReadAll(&stdinReader{conn: daemon})
	if string(got) != "partial" || err != nil {
		t.Errorf("ReadAll = %q, %v; want partial, nil", got, err)
	}
}

// An upload (import, load) stops with its client, even though what it sent is still to be read here:
// the probes find the client gone, and the next read fails.
func TestStdinReaderUploadOfClientGone(t *testing.T) {
	client, daemon := frameTestPair(t)
	for i := 0; i < 3; i++ {
		client.WriteFrame(frameStdin, bytes.Repeat([]byte("x"), 1000))
	}
	r := (&Session{conn: daemon}).Upload()
	if _, err := io.ReadFull(r, make([]byte, 10)); err != nil {
		t.Fatal(err)
	}
	client.Close()
	select {
	case <-r.(abandonable).Done():
	case <-time.After(5 * probeInterval):
		t.Fatal("the probes did not find the client gone")
	}
	if n, err := r.Read(make([]byte, 10)); n != 0 || !errors.Is(err, errClientGone) {
		t.Errorf("Read of a gone client's buffered input = %d, %v", n, err)
	}
}

func TestFrameExitPayload(t *testing.T) {
	tests := []struct {
		status int
		wire   []byte
	}{
		{0, []byte{0, 0, 0, 0}},
		{1, []byte{0, 0, 0, 1}},
		{125, []byte{0, 0, 0, 125}},
		{255, []byte{0, 0, 0, 255}},
		{256, []byte{0, 0, 1, 0}},
		{-1, []byte{0xff, 0xff, 0xff, 0xff}},
		{-2, []byte{0xff, 0xff, 0xff, 0xfe}},
	}
	for _, tt := range tests {
		if got := exitPayload(tt.status); !bytes.Equal(got, tt.wire) {
			t.Errorf("exitPayload(%d) = % x, want % x", tt.status, got, tt.wire)
		}
		// The client reads the status back from an exit frame.
		client, daemon := frameTestPair(t)
		sendFrames(daemon, testFrame{frameExit, exitPayload(tt.status)})
		if got, err := receive(client, &clientTerminal{conn: client}, os.Stdout, nil); err != nil || got != tt.status {
			t.Errorf("receive(exit frame of %d) = %d, %v", tt.status, got, err)
		}
	}
}

func TestFrameResizeAndSignalPayloads(t *testing.T) {
	if got := resizePayload(24, 80); !bytes.Equal(got, []byte{0, 24, 0, 80}) {
		t.Errorf("resizePayload(24, 80) = %v", got)
	}
	if rows, cols, err := parseResize(resizePayload(1000, 65535)); rows != 1000 || cols != 65535 || err != nil {
		t.Errorf("parseResize round trip: %d %d %v", rows, cols, err)
	}
	if _, _, err := parseResize([]byte{0, 24, 0}); err == nil {
		t.Error("a short resize frame was accepted")
	}
	if got := signalPayload(syscall.SIGTERM); !bytes.Equal(got, []byte{0, 0, 0, 15}) {
		t.Errorf("signalPayload(SIGTERM) = %v", got)
	}
	if sig, err := parseSignalFrame(signalPayload(syscall.SIGINT)); sig != syscall.SIGINT || err != nil {
		t.Errorf("parseSignalFrame round trip: %v %v", sig, err)
	}
	for _, bad := range [][]byte{{0, 0, 0, 0}, {0, 0, 0, 65}, {0, 0, 15}, {1, 0, 0, 15}} {
		if _, err := parseSignalFrame(bad); err == nil {
			t.Errorf("parseSignalFrame(%v) accepted", bad)
		}
	}
}

// A client that half-closes is not gone: after the end of its input it is probed with empty stdout
// frames, which it reads, and Gone stays open. Once it closes for good, a probe fails and Gone closes.
func TestConnProbesAfterTheInputEnds(t *testing.T) {
	client, daemon := frameTestPair(t)
	r := &stdinReader{conn: daemon}
	client.Conn.(*net.TCPConn).CloseWrite()
	if err := r.followControl(); err != nil {
		t.Fatalf("followControl at a half-close = %v, want nil", err)
	}
	for i := 0; i < 3; i++ {
		if f := readTestFrame(t, client); f.kind != frameStdout || len(f.payload) != 0 {
			t.Fatalf("probe %d: %q %q, want an empty stdout frame", i, f.kind, f.payload)
		}
	}
	select {
	case <-daemon.Gone():
		t.Fatal("a half-closed client was taken for gone")
	default:
	}
	client.Close()
	select {
	case <-daemon.Gone():
	case <-time.After(5 * probeInterval):
		t.Fatal("a closed client was not found gone")
	}
}

// A reset or a failed write is a client gone at once; so is a frame cut short.
func TestConnGoneOnFailure(t *testing.T) {
	client, daemon := frameTestPair(t)
	client.Conn.(*net.TCPConn).SetLinger(0) // Close sends a reset
	client.Close()
	if err := (&stdinReader{conn: daemon}).followControl(); err == nil {
		t.Error("followControl after a reset = nil")
	}
	select {
	case <-daemon.Gone():
	default:
		t.Error("a reset did not make the client gone")
	}

	client, daemon = frameTestPair(t)
	go func() {
		client.Write([]byte{frameSignal, 0, 0, 0, 4, 0}) // 1 byte of 4
		client.Conn.(*net.TCPConn).CloseWrite()
	}()
	if err := (&stdinReader{conn: daemon}).followControl(); !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Errorf("followControl of a frame cut short = %v, want ErrUnexpectedEOF", err)
	}
	<-daemon.Gone()
}
