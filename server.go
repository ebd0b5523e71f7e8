// server.go: the daemon's front door.
//
// Server.Serve accepts TCP connections; each one carries one command (tcp.go frames the bytes). handle
// reads the request, checks the token, and dispatch finds the method "Cmd" + Title(args[0]) on the Server
// by reflection, as Docker 0.1 did: adding a command to engine is adding a CmdXxx method in commands.go.
// Whatever the command returns becomes the client's exit status; a panic in one command is turned into an
// error for that client only, so the daemon keeps serving the others.
package main

import (
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
		return strings.TrimSpace(string(data)), nil
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

func (srv *Server) Serve() {
	for {
		conn, err := srv.listener.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		go srv.handle(&Conn{Conn: conn})
	}
}

func (srv *Server) handle(conn *Conn) {
	defer conn.Close()
	session := &Session{
		conn:   conn,
		Stdout: frameWriter{conn, frameStdout},
		Stderr: frameWriter{conn, frameStderr},
	}
	status := 125
	if args, err := srv.readRequest(conn); err != nil {
		session.reportError(err)
	} else {
		status = srv.dispatch(session, args)
	}
	conn.WriteFrame(frameExit, exitPayload(status))
}

// requestTimeout bounds how long a connection may take to say what it wants, so idle or half-open
// connections cannot pile up in the daemon.
const requestTimeout = 30 * time.Second

func (srv *Server) readRequest(conn *Conn) ([]string, error) {
	conn.SetReadDeadline(time.Now().Add(requestTimeout))
	defer conn.SetReadDeadline(time.Time{})
	kind, length, err := conn.ReadHeader()
	if err != nil {
		return nil, fmt.Errorf("engine: reading the request: %w", err)
	}
	if kind != frameRequest {
		return nil, fmt.Errorf("engine: the first frame must be a request, not %q", kind)
	}
	payload, err := conn.ReadPayload(length)
	if err != nil {
		return nil, fmt.Errorf("engine: reading the request: %w", err)
	}
	var req Request
	if err := json.Unmarshal(payload, &req); err != nil {
		return nil, fmt.Errorf("engine: malformed request: %w", err)
	}
	if subtle.ConstantTimeCompare([]byte(req.Token), []byte(srv.token)) != 1 {
		return nil, errors.New("engine: permission denied: wrong token")
	}
	if len(req.Args) == 0 {
		return nil, errors.New("engine: no command given")
	}
	return req.Args, nil
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
