// server.go: the daemon's front door.
//
// Server.Serve accepts TCP connections; each one carries one command (tcp.go frames the bytes). handle
// checks the token, reads the request, and dispatch finds the method "Cmd" + Title(args[0]) on the Server
// by reflection, as Docker 0.1 did: adding a command to engine is adding a CmdXxx method in commands.go.
// Whatever the command returns becomes the client's exit status; a panic in one command is turned into an
// error for that client only, so the daemon keeps serving the others.
//
// Anyone who can reach the port can connect, so until a connection has shown the token it costs the
// daemon little and not for long: a buffer of fixed size for the token, requestTimeout to send token and
// request, and a place in the lobby, which holds at most maxUnauthenticated of them. The accept loop backs
// off when the daemon runs out of descriptors instead of spinning. (The daemon may open as many files as
// its hard RLIMIT_NOFILE allows: since Go 1.19 the runtime raises the soft limit to it at start, and
// gives the processes it starts the original soft limit back.)
package main

import (
	"container/list"
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"reflect"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

type Server struct {
	runtime  *Runtime
	listener net.Listener
	token    string
	lobby    lobby
}

// Listen opens the daemon's address and reads (or makes) the token clients must present.
func Listen(addr string, runtime *Runtime) (*Server, error) {
	token, err := loadToken(runtime.root)
	if err != nil {
		return nil, err
	}
	listener, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	return &Server{runtime: runtime, listener: listener, token: token}, nil
}

// loadToken returns the secret in ROOT/engine.token, creating it (mode 0600) on first start. TCP carries
// no user identity, so this file's permissions are what decides who may drive the daemon.
func loadToken(root string) (string, error) {
	path := filepath.Join(root, "engine.token")
	if data, err := os.ReadFile(path); err == nil && len(strings.TrimSpace(string(data))) > 0 {
		token := strings.TrimSpace(string(data))
		if len(token) > maxTokenSize {
			return "", fmt.Errorf("the token in %s is longer than %d bytes", path, maxTokenSize)
		}
		return token, nil
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	token := hex.EncodeToString(secret)
	if err := writeFileAtomic(path, []byte(token+"\n"), 0600); err != nil {
		return "", fmt.Errorf("writing the token: %w", err)
	}
	return token, nil
}

func (srv *Server) Addr() net.Addr { return srv.listener.Addr() }
func (srv *Server) Close() error   { return srv.listener.Close() }

// Serve accepts connections until the listener is closed.
func (srv *Server) Serve() {
	var pause time.Duration
	for {
		conn, err := srv.listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// Out of descriptors (EMFILE, ENFILE) or another passing failure: the connection waits in the
			// kernel's backlog while we pause, 5 ms doubling to 1 s as net/http's Server does, rather than
			// spin on an error only a closing connection can clear.
			pause = min(max(2*pause, 5*time.Millisecond), time.Second)
			fmt.Fprintf(os.Stderr, "engine -d: accept: %v; retrying in %v\n", err, pause)
			time.Sleep(pause)
			continue
		}
		pause = 0
		c := &Conn{Conn: conn}
		go srv.handle(c, srv.lobby.enter(c))
	}
}

// handle serves one connection, from its place in the lobby.
func (srv *Server) handle(conn *Conn, place *list.Element) {
	defer conn.Close()
	session := &Session{
		conn:   conn,
		Stdout: frameWriter{conn, frameStdout},
		Stderr: frameWriter{conn, frameStderr},
	}
	if args, ok := srv.admit(session, place); ok {
		conn.WriteFrame(frameExit, exitPayload(srv.dispatch(session, args)))
	}
}

// admit reads a new connection's token and request, then lets it out of the lobby. One that fails is
// answered in the lobby, with the error and status 125, and closed.
func (srv *Server) admit(session *Session, place *list.Element) ([]string, bool) {
	defer srv.lobby.leave(place)
	args, err := srv.readRequest(session.conn)
	if err != nil {
		session.reportError(err)
		session.conn.WriteFrame(frameExit, exitPayload(125))
		session.conn.closeGently()
		return nil, false
	}
	return args, true
}

// requestTimeout bounds how long a connection may take to show the token and say what it wants. The
// client sends both as soon as it is connected; idle connections are closed after it.
const requestTimeout = 5 * time.Second

// readRequest reads a new connection's token and then its request.
func (srv *Server) readRequest(conn *Conn) ([]string, error) {
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	defer conn.SetReadDeadline(time.Time{})
	if err := srv.authenticate(conn); err != nil {
		return nil, err
	}
	kind, length, err := conn.ReadHeader()
	if err != nil {
		return nil, fmt.Errorf("engine: reading the request: %w", err)
	}
	if kind != frameRequest {
		return nil, fmt.Errorf("engine: the token must be followed by a request, not %q", kind)
	}
	payload, err := conn.ReadPayload(length)
	if err != nil {
		return nil, fmt.Errorf("engine: reading the request: %w", err)
	}
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("engine: malformed request: %w", err)
	}
	if len(req.Args) == 0 {
		return nil, errors.New("engine: no command given")
	}
	return req.Args, nil
}

// authenticate reads the connection's first frame, which must be the token, into a buffer of fixed
// size.
func (srv *Server) authenticate(conn *Conn) error {
	kind, length, err := conn.ReadHeader()
	if err != nil {
		return fmt.Errorf("engine: reading the token: %w", err)
	}
	if kind != frameToken || length > maxTokenSize {
		return fmt.Errorf("engine: the first frame must be the token, not %q of %d bytes", kind, length)
	}
	var token [maxTokenSize]byte
	if _, err := io.ReadFull(conn, token[:length]); err != nil {
		return fmt.Errorf("engine: reading the token: %w", err)
	}
	if subtle.ConstantTimeCompare(token[:length], []byte(srv.token)) != 1 {
		return errors.New("engine: permission denied: wrong token")
	}
	return nil
}

// maxUnauthenticated is how many connections may wait in the lobby at once.
const maxUnauthenticated = 512

// lobby holds the connections that have not shown the token yet. When one more comes and the lobby is
// full, the one that has waited longest is closed. A client that knows the token sends it the moment it
// is connected and stays for microseconds, so a flood of connections that say nothing only pushes out
// its own; refusing the newcomer instead, or leaving it in the kernel's backlog, would let a few hundred
// idle connections, renewed every requestTimeout, lock every client out.
type lobby struct {
	mu      sync.Mutex
	left    sync.Cond // signalled when a connection leaves; its L is mu
	waiting list.List // of *Conn, the oldest first
}

// enter makes room for a connection and lets it in. The accept loop calls it, so while it waits for
// room new connections wait in the kernel's backlog. A closed connection stays until its handler
// leaves: Go closes the descriptor only once the read blocked on it has returned, and counting it
// until then is what bounds the daemon's descriptors.
func (l *lobby) enter(conn *Conn) *list.Element {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.left.L = &l.mu
	for l.waiting.Len() >= maxUnauthenticated {
		l.waiting.Front().Value.(*Conn).Close() // its handler's read fails, and it leaves
		l.left.Wait()
	}
	return l.waiting.PushBack(conn)
}

// leave takes a connection out of the lobby.
func (l *lobby) leave(place *list.Element) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.waiting.Remove(place)
	l.left.Broadcast()
}

// dispatch runs args[0] as a command and returns the exit status for the client.
func (srv *Server) dispatch(session *Session, args []string) (status int) {
	name := args[0]
	method, ok := lookupCommand(srv, name)
	if !ok {
		session.reportError(fmt.Errorf("engine: %q is not a command; see 'engine help'", name))
		return 125
	}
	defer func() {
		if p := recover(); p != nil {
			fmt.Fprintf(os.Stderr, "engine -d: panic in %s: %v\n%s", name, p, debug.Stack())
			session.reportError(fmt.Errorf("engine: %s: internal error: %v", name, p))
			status = 125
		}
	}()
	result := method.Call([]reflect.Value{reflect.ValueOf(session), reflect.ValueOf(args[1:])})
	err, _ := result[0].Interface().(error)
	return session.status(name, err)
}

// lookupCommand finds the CmdXxx method for a command name. Only lower-case letters are accepted, so
// a request cannot reach a method that is not a command.
func lookupCommand(srv *Server, name string) (reflect.Value, bool) {
	if name == "" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz") != "" {
		return reflect.Value{}, false
	}
	method := reflect.ValueOf(srv).MethodByName("Cmd" + strings.ToUpper(name[:1]) + name[1:])
	if !method.IsValid() {
		return reflect.Value{}, false
	}
	if _, ok := method.Interface().(func(*Session, []string) error); !ok {
		return reflect.Value{}, false
	}
	return method, true
}

// Session is one client's connection as a command sees it: its streams, and a way to ask for its stdin.
type Session struct {
	conn      *Conn
	Stdout    io.Writer
	Stderr    io.Writer
	stdinOnce sync.Once
	stdin     *stdinReader
}

// Stdin asks the client for its standard input and returns it as a stream that ends at the client's EOF.
func (s *Session) Stdin() io.Reader {
	s.stdinOnce.Do(func() {
		s.conn.WriteFrame(frameStdin, nil)
	})
	return s.frames()
}

// Upload is the client's stdin for a command that works on it for long (import, load): the daemon may
// have all of it in its buffers and still be busy unpacking when the client gives up. Probes (see
// Conn.probe) find out that the client is gone even then; the stream's reads fail from that moment,
// and its Done, which Unpack watches past any decompression, closes, so the work stops with the client.
func (s *Session) Upload() io.Reader {
	s.conn.probe()
	return s.Stdin()
}

// listen reads the client's frames in the background, for a command that streams or waits without
// asking for input (`logs -f`, `wait`): with nothing to write, it is how the daemon learns that the
// client is gone (Conn.Gone).
func (s *Session) listen() {
	go s.frames().followControl()
}

// frames is the reader of everything the client sends after its request: stdin, resizes, signals.
func (s *Session) frames() *stdinReader {
	if s.stdin == nil {
		s.stdin = &stdinReader{conn: s.conn}
	}
	return s.stdin
}

// StatusError ends a command with an exit status (a container's) and, if Err is set, a message.
type StatusError struct {
	Status int
	Err    error
}

func (e *StatusError) Error() string {
	if e.Err == nil {
		return fmt.Sprintf("exit status %d", e.Status)
	}
	return e.Err.Error()
}

func (e *StatusError) Unwrap() error { return e.Err }

// status turns a command's result into an exit status, telling the client why when it failed.
func (s *Session) status(name string, err error) int {
	if err == nil || errors.Is(err, errHelpShown) {
		return 0
	}
	if errors.Is(err, errDetached) { // the client left on purpose; the container runs on
		s.reportError(err)
		return 0
	}
	var se *StatusError
	if errors.As(err, &se) {
		if se.Err != nil {
			s.reportError(fmt.Errorf("engine: %s: %w", name, se.Err))
		}
		return se.Status
	}
	s.reportError(fmt.Errorf("engine: %s: %w", name, err))
	return 125
}

func (s *Session) reportError(err error) {
	s.conn.WriteFrame(frameError, []byte(firstLine(err.Error())+"\n"))
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
