// server_test.go covers server.go: command lookup, the help table, requests, exit statuses and the token.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

func TestLookupCommand(t *testing.T) {
	srv := &Server{}
	for _, name := range []string{"run", "create", "ps", "rm", "rmi", "import", "help", "version", "info"} {
		if _, ok := lookupCommand(srv, name); !ok {
			t.Errorf("lookupCommand(%q) found nothing", name)
		}
	}
	for _, name := range []string{
		"", "Run", "RUN", "run2", "r-m", "../x", "run ", " run", "readRequest", "readrequest", "dispatch",
		"handle", "serve", "close", "addr", "start2", "cmdrun", "nosuchcommand", "é",
	} {
		if _, ok := lookupCommand(srv, name); ok {
			t.Errorf("lookupCommand(%q) found a method", name)
		}
	}
}

// The table `engine help` prints names exactly the CmdXxx methods: a new command cannot be left out of
// the help, and the help cannot offer a command that does not exist.
func TestCommandsTableNamesEveryCmdMethod(t *testing.T) {
	var methods []string
	serverType := reflect.TypeOf(&Server{})
	for i := 0; i < serverType.NumMethod(); i++ {
		if name, ok := strings.CutPrefix(serverType.Method(i).Name, "Cmd"); ok {
			methods = append(methods, strings.ToLower(name))
		}
	}
	var table []string
	for _, command := range commands {
		table = append(table, command[0])
		if command[1] == "" {
			t.Errorf("command %q has no description", command[0])
		}
		if _, ok := lookupCommand(&Server{}, command[0]); !ok {
			t.Errorf("command %q in the table is not dispatched", command[0])
		}
	}
	sorted := slices.Clone(table)
	sort.Strings(sorted)
	sort.Strings(methods)
	if !slices.Equal(sorted, methods) {
		t.Errorf("commands table names %q,\nthe CmdXxx methods are %q", sorted, methods)
	}
	if len(slices.Compact(sorted)) != len(table) {
		t.Errorf("commands table has duplicates: %q", table)
	}
}

// sessionTestFrames runs fn with a Session whose connection leads to the test, and returns every frame
// the daemon side sent.
func sessionTestFrames(t *testing.T, fn func(*Session)) []testFrame {
	t.Helper()
	client, daemon := frameTestPair(t)
	session := &Session{conn: daemon, Stdout: frameWriter{daemon, frameStdout}, Stderr: frameWriter{daemon, frameStderr}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		fn(session)
		daemon.Close()
	}()
	frames := readAllTestFrames(t, client)
	<-done
	return frames
}

// readAllTestFrames reads frames until the connection ends.
func readAllTestFrames(t *testing.T, conn *Conn) []testFrame {
	t.Helper()
	var frames []testFrame
	for {
		kind, length, err := conn.ReadHeader()
		if errors.Is(err, io.EOF) {
			return frames
		}
		if err != nil {
			t.Fatalf("ReadHeader: %v", err)
		}
		payload, err := conn.ReadPayload(length)
		if err != nil {
			t.Fatalf("ReadPayload: %v", err)
		}
		frames = append(frames, testFrame{kind, payload})
	}
}

// framesOfKind joins the payloads of the frames of one kind.
func framesOfKind(frames []testFrame, kind byte) string {
	var b strings.Builder
	for _, f := range frames {
		if f.kind == kind {
			b.Write(f.payload)
		}
	}
	return b.String()
}

func TestSessionStatus(t *testing.T) {
	tests := []struct {
		name      string
		err       error
		status    int
		errorText string // the error frame's text, "" for none
	}{
		{"success", nil, 0, ""},
		{"container status", &StatusError{Status: 3}, 3, ""},
		{"container status 0", &StatusError{Status: 0}, 0, ""},
		{"wrapped container status", fmt.Errorf("attach: %w", &StatusError{Status: 137}), 137, ""},
		{"status with a message", &StatusError{Status: 127, Err: errors.New("exec: \"nope\": not found")}, 127, "engine: run: exec: \"nope\": not found\n"},
		{"plain error", errors.New("no such container: web"), 125, "engine: run: no such container: web\n"},
		{"first line only", errors.New("line one\nline two"), 125, "engine: run: line one\n"},
		{"help shown", errHelpShown, 0, ""},
		{"help shown, wrapped", fmt.Errorf("parsing: %w", errHelpShown), 0, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var status int
			frames := sessionTestFrames(t, func(s *Session) { status = s.status("run", tt.err) })
			if status != tt.status {
				t.Errorf("status = %d, want %d", status, tt.status)
			}
			if got := framesOfKind(frames, frameError); got != tt.errorText || len(frames) > 1 {
				t.Errorf("frames %q, want one error frame %q", frames, tt.errorText)
			}
		})
	}
}

func TestSessionStatusErrorMessage(t *testing.T) {
	inner := errors.New("boom")
	if got := (&StatusError{Status: 2}).Error(); got != "exit status 2" {
		t.Errorf("Error() = %q", got)
	}
	se := &StatusError{Status: 2, Err: inner}
	if se.Error() != "boom" || !errors.Is(se, inner) {
		t.Errorf("Error() = %q, Is(inner) = %v", se.Error(), errors.Is(se, inner))
	}
}

func TestSessionDispatch(t *testing.T) {
	srv := &Server{}
	var status int
	frames := sessionTestFrames(t, func(s *Session) { status = srv.dispatch(s, []string{"help"}) })
	stdout := framesOfKind(frames, frameStdout)
	if status != 0 || framesOfKind(frames, frameError) != "" {
		t.Errorf("help: status %d, frames %q", status, frames)
	}
	for _, command := range commands {
		if !strings.Contains(stdout, "  "+command[0]+" ") {
			t.Errorf("help does not list %q:\n%s", command[0], stdout)
		}
	}

	frames = sessionTestFrames(t, func(s *Session) { status = srv.dispatch(s, []string{"Frobnicate", "x"}) })
	if want := "engine: \"Frobnicate\" is not a command; see 'engine help'\n"; status != 125 || framesOfKind(frames, frameError) != want {
		t.Errorf("unknown command: status %d, frames %q", status, frames)
	}

	frames = sessionTestFrames(t, func(s *Session) { status = srv.dispatch(s, []string{"version", "--help"}) })
	if status != 0 || framesOfKind(frames, frameError) != "" || !strings.HasPrefix(framesOfKind(frames, frameStdout), "Usage:  engine version") {
		t.Errorf("version --help: status %d, frames %q; want 0 and the usage on stdout", status, frames)
	}

	frames = sessionTestFrames(t, func(s *Session) { status = srv.dispatch(s, []string{"version", "--bogus"}) })
	if errText := framesOfKind(frames, frameError); status != 125 || !strings.Contains(errText, "engine: version: flag provided but not defined: -bogus") {
		t.Errorf("bad flag: status %d, frames %q", status, frames)
	}
}

// A panicking command fails for its client only; the daemon goes on.
func TestSessionDispatchRecoversPanic(t *testing.T) {
	quietStderr(t) // the daemon logs the stack there

	srv := &Server{} // no runtime: `info` dereferences nil
	var status int
	frames := sessionTestFrames(t, func(s *Session) { status = srv.dispatch(s, []string{"info"}) })
	if errText := framesOfKind(frames, frameError); status != 125 || !strings.HasPrefix(errText, "engine: info: internal error: ") {
		t.Errorf("status %d, frames %q; want 125 and an internal error", status, frames)
	}
}

func TestSessionStdin(t *testing.T) {
	client, daemon := frameTestPair(t)
	session := &Session{conn: daemon}
	first, second := session.Stdin(), session.Stdin()
	if first != second {
		t.Error("Stdin() returned two readers")
	}
	if f := readTestFrame(t, client); f.kind != frameStdin || len(f.payload) != 0 {
		t.Errorf("Stdin() sent %q with %q, want an empty stdin frame", f.kind, f.payload)
	}
	sendFrames(client, testFrame{frameStdin, []byte("input")}, testFrame{frameStdinClosed, nil})
	got, err := io.ReadAll(first)
	if err != nil || string(got) != "input" {
		t.Errorf("ReadAll(Stdin()) = %q, %v", got, err)
	}
	// Stdin asked the client once: nothing else was sent.
	daemon.Close()
	if frames := readAllTestFrames(t, client); len(frames) != 0 {
		t.Errorf("extra frames %q", frames)
	}
}

// serverTestRequest sends frames to Server.handle and returns the frames it answered with.
func serverTestRequest(t *testing.T, srv *Server, frames ...testFrame) []testFrame {
	t.Helper()
	client, daemon := frameTestPair(t)
	go srv.handle(daemon, srv.lobby.enter(daemon))
	for _, f := range frames {
		if err := client.WriteFrame(f.kind, f.payload); err != nil {
			t.Fatal(err)
		}
	}
	return readAllTestFrames(t, client)
}

func TestServerHandle(t *testing.T) {
	srv := &Server{token: "secret"}
	request := func(args ...string) testFrame {
		data, _ := json.Marshal(Request{Args: args})
		return testFrame{frameRequest, data}
	}
	token := func(token string) testFrame { return testFrame{frameToken, []byte(token)} }
	tests := []struct {
		name      string
		frames    []testFrame
		status    int32
		stdout    string // a part of it
		errorText string // the error frames, whole
	}{
		{"help", []testFrame{token("secret"), request("help")}, 0, "Commands:", ""},
		{"wrong token", []testFrame{token("wrong"), request("help")}, 125, "", "engine: permission denied: wrong token\n"},
		{"token too short", []testFrame{token("secre"), request("help")}, 125, "", "engine: permission denied: wrong token\n"},
		{"no token", []testFrame{token(""), request("help")}, 125, "", "engine: permission denied: wrong token\n"},
		{"request first", []testFrame{request("help")}, 125, "", "engine: the first frame must be the token, not 'Q' of 17 bytes\n"},
		{"token too long", []testFrame{token(strings.Repeat("s", maxTokenSize+1))}, 125, "", "engine: the first frame must be the token, not 'k' of 257 bytes\n"},
		{"no command", []testFrame{token("secret"), request()}, 125, "", "engine: no command given\n"},
		{"not a request", []testFrame{token("secret"), {frameStdin, nil}}, 125, "", "engine: the token must be followed by a request, not 'i'\n"},
		{"malformed", []testFrame{token("secret"), {frameRequest, []byte("{")}}, 125, "", "engine: malformed request: unexpected end of JSON input\n"},
		{"unknown command", []testFrame{token("secret"), request("nope")}, 125, "", "engine: \"nope\" is not a command; see 'engine help'\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			frames := serverTestRequest(t, srv, tt.frames...)
			if len(frames) == 0 {
				t.Fatal("no frames")
			}
			last := frames[len(frames)-1]
			if last.kind != frameExit || len(last.payload) != 4 {
				t.Fatalf("last frame %q %q, want an exit frame", last.kind, last.payload)
			}
			if status := int32(binary.BigEndian.Uint32(last.payload)); status != tt.status {
				t.Errorf("exit status %d, want %d", status, tt.status)
			}
			if stdout := framesOfKind(frames, frameStdout); !strings.Contains(stdout, tt.stdout) || (tt.stdout == "" && stdout != "") {
				t.Errorf("stdout %q, want it to contain %q", stdout, tt.stdout)
			}
			if got := framesOfKind(frames, frameError); got != tt.errorText {
				t.Errorf("error frames %q, want %q", got, tt.errorText)
			}
		})
	}
}

func TestTokenLoad(t *testing.T) {
	root := t.TempDir()
	token, err := loadToken(root)
	if err != nil {
		t.Fatal(err)
	}
	if len(token) != 64 || strings.Trim(token, "0123456789abcdef") != "" {
		t.Errorf("token %q, want 64 hex digits", token)
	}
	path := filepath.Join(root, "engine.token")
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0600 {
		t.Errorf("%s has mode %v, want 0600", path, perm)
	}
	if data, _ := os.ReadFile(path); string(data) != token+"\n" {
		t.Errorf("file holds %q, want the token and a newline", data)
	}
	again, err := loadToken(root)
	if err != nil || again != token {
		t.Errorf("second loadToken = %q, %v; want the same token %q", again, err, token)
	}
}

func TestTokenKeepsExistingAndReplacesEmpty(t *testing.T) {
	root := t.TempDir()
	path := filepath.Join(root, "engine.token")
	if err := os.WriteFile(path, []byte("  chosen-by-admin \n"), 0600); err != nil {
		t.Fatal(err)
	}
	if token, err := loadToken(root); err != nil || token != "chosen-by-admin" {
		t.Errorf("loadToken with an existing token = %q, %v", token, err)
	}
	if err := os.WriteFile(path, []byte("\n"), 0600); err != nil {
		t.Fatal(err)
	}
	token, err := loadToken(root)
	if err != nil || len(token) != 64 {
		t.Errorf("loadToken with an empty file = %q, %v; want a new token", token, err)
	}
	if data, _ := os.ReadFile(path); strings.TrimSpace(string(data)) != token {
		t.Errorf("the new token was not saved: file holds %q", data)
	}
	if _, err := loadToken(filepath.Join(root, "missing-dir")); err == nil {
		t.Error("loadToken in a missing directory succeeded")
	}
}

// quietStderr sends what the code under test logs to os.Stderr to /dev/null until the test ends.
func quietStderr(t *testing.T) {
	t.Helper()
	devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = devNull
	t.Cleanup(func() { os.Stderr = stderr; devNull.Close() })
}

func TestTokenTooLongRefused(t *testing.T) {
	root := t.TempDir()
	long := strings.Repeat("t", maxTokenSize+1)
	if err := os.WriteFile(filepath.Join(root, "engine.token"), []byte(long+"\n"), 0600); err != nil {
		t.Fatal(err)
	}
	if token, err := loadToken(root); err == nil || !strings.Contains(err.Error(), "longer than 256 bytes") {
		t.Errorf("loadToken of %d bytes = %q, %v; want an error", len(long), token, err)
	}
}

// closingConn is a net.Conn that only tells when it is closed.
type closingConn struct {
	net.Conn
	once   sync.Once
	closed chan struct{}
}

func (c *closingConn) Close() error { c.once.Do(func() { close(c.closed) }); return nil }

func (c *closingConn) isClosed() bool {
	select {
	case <-c.closed:
		return true
	default:
		return false
	}
}

// The lobby holds maxUnauthenticated connections; one more closes the oldest still waiting and gets
// in once that one's handler has left; a connection that left (it showed the token) is never closed.
func TestLobbyPushesOutTheOldest(t *testing.T) {
	var l lobby
	enter := func() *closingConn {
		raw := &closingConn{closed: make(chan struct{})}
		place := l.enter(&Conn{Conn: raw})
		go func() { <-raw.closed; l.leave(place) }() // the handler, whose read fails at the close
		return raw
	}
	first := &closingConn{closed: make(chan struct{})}
	l.leave(l.enter(&Conn{Conn: first})) // authenticated at once
	var raw []*closingConn
	for i := 0; i < maxUnauthenticated; i++ {
		raw = append(raw, enter())
	}
	if first.isClosed() || raw[0].isClosed() {
		t.Fatal("a lobby with room closed a connection")
	}
	entered := make(chan *closingConn)
	go func() { entered <- enter() }()
	select {
	case newcomer := <-entered:
		if !raw[0].isClosed() || raw[1].isClosed() || newcomer.isClosed() || first.isClosed() {
			t.Errorf("a full lobby closed %v, %v, %v, %v; want the oldest waiting only", first.isClosed(), raw[0].isClosed(), raw[1].isClosed(), newcomer.isClosed())
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the newcomer never got in")
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.waiting.Len() != maxUnauthenticated {
		t.Errorf("%d waiting, want %d", l.waiting.Len(), maxUnauthenticated)
	}
}

// failingListener fails every Accept with EMFILE until it is closed.
type failingListener struct {
	net.Listener
	accepts atomic.Int32
	closed  chan struct{}
}

func (l *failingListener) Accept() (net.Conn, error) {
	l.accepts.Add(1)
	select {
	case <-l.closed:
		return nil, net.ErrClosed
	default:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Err: os.NewSyscallError("accept4", syscall.EMFILE)}
	}
}

// Out of descriptors, the accept loop pauses (5 ms doubling) instead of spinning: in 300 ms it tries
// about 6 times, not millions.
func TestServeBacksOffWhenAcceptFails(t *testing.T) {
	quietStderr(t)
	l := &failingListener{closed: make(chan struct{})}
	srv := &Server{listener: l}
	served := make(chan struct{})
	go func() { srv.Serve(); close(served) }()
	time.Sleep(300 * time.Millisecond)
	close(l.closed)
	select {
	case <-served:
	case <-time.After(5 * time.Second):
		t.Fatal("Serve did not return after the listener closed")
	}
	if n := l.accepts.Load(); n > 10 {
		t.Errorf("%d accepts in 300 ms of EMFILE, want a handful", n)
	}
}
