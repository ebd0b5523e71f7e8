// attach.go: a client attached to a running container (`engine run`, `start -a`, `engine attach`).
//
// Output reaches an attached client from the container's log (logs.go), from where it ended when the
// client attached, so any number of clients may attach at once, and each gets every byte. One that
// leaves never holds up the container; one that reads slowly does once it is max-file files behind (the
// keeper waits to delete the file its reader holds: logfile.go), as Docker slows a container for a slow
// attached client. What the client sends goes the other way, read by one goroutine (relay) for as long
// as the client stays: its stdin and resize frames to the container's keeper (keeper.go), which writes
// them to the container's stdin pipe or, with -t, to its terminal's master; signal frames (docker's
// --sig-proxy, without a terminal) to Container.Kill. On a terminal, the detach keys (Ctrl-P Ctrl-Q unless --detach-keys
// says otherwise) end the attachment and leave the container running; the client prints "read escape
// sequence", as docker's does.
//
// Stdin ends as docker's does: the client's EOF (a stdin-closed frame, or the end of its side of the
// connection: a half-close, tcp.go) closes the container's stdin only for a container whose StdinOnce
// is set (`run -i` in the foreground, `create -i`); a container started with -d keeps its stdin open
// for the next client, and a terminal's input is never closed by a client. Either way the output goes
// on to the client until the run ends or the client is gone.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"syscall"
	"time"
)

const defaultDetachKeys = "ctrl-p,ctrl-q"

var ctrlPCtrlQ = []byte{16, 17} // defaultDetachKeys, parsed

// errDetached ends an attachment whose client typed the detach keys; the client exits 0.
var errDetached = errors.New("read escape sequence")

// errClientLeft ends the streaming of output to a client that is gone or detached.
var errClientLeft = errors.New("the client left")

// attachOptions are what the attaching command asked for.
type attachOptions struct {
	stdin      bool   // relay the client's stdin (-i; not --no-stdin), if the container keeps one open
	sigProxy   bool   // pass the client's SIGINT and SIGTERM on (without a terminal)
	detachKeys []byte // on a terminal, the keys that detach
}

// attachment is what a client's frames act on. A container's run is one; a process started by
// `engine exec -t` with its own terminal is another (exec.go).
type attachment struct {
	input      io.Writer                  // where stdin goes; nil: it is not asked for
	closeInput func()                     // called at the client's EOF; nil: nothing is closed
	console    terminal                   // for resizes and detach keys; nil without a terminal
	signal     func(syscall.Signal) error // the signal proxy; nil: signals are not asked for
	detachKeys []byte
}

// terminal is where a client's keystrokes and resizes go: a Console.
type terminal interface {
	io.Writer
	Resize(rows, cols uint16) error
}

// attachment is the container's side of an attached client, as the options ask: its input and its
// terminal go through the container's keeper (keeper_client.go), over a connection of their own, which
// the returned function closes.
func (c *Container) attachment(opts attachOptions) (attachment, func()) {
	a := attachment{detachKeys: opts.detachKeys}
	if opts.sigProxy && !c.Config.Tty {
		a.signal = c.Kill
	}
	wantsInput := opts.stdin && c.Config.OpenStdin
	if !wantsInput && !c.Config.Tty {
		return a, func() {}
	}
	in, err := c.openInput(c.Config.StdinOnce && !c.Config.Tty)
	if err != nil { // the run has just ended, or its stdin is closed: there is nothing to pass on
		return a, func() {}
	}
	if c.Config.Tty {
		a.console = in
	}
	if wantsInput {
		a.input = in
		if c.Config.StdinOnce && !c.Config.Tty {
			a.closeInput = in.CloseInput
		}
	}
	return a, func() { in.Close() }
}

// attach relays the container's output (from the given logs) and the client's frames until the run
// ends or the client leaves. It returns the container's exit status, or errDetached.
func (session *Session) attach(c *Container, logs *containerLogs, opts attachOptions) (int, error) {
	exited := c.exitedChan()
	if exited == nil { // it has already finished
		exited = make(chan struct{})
		close(exited)
	}
	a, closeInput := c.attachment(opts)
	defer closeInput()
	stop := make(chan struct{})
	relayed := make(chan error, 1)
	go func() {
		err := session.relay(a)
		relayed <- err
		if err != nil { // detached, or gone; at the end of its input the client still gets the output
			close(stop)
		}
	}()
	if err := logs.stream(session, exited, stop); err != nil {
		select {
		case relayErr := <-relayed:
			if relayErr != nil {
				err = relayErr
			}
		default:
		}
		return 0, err // errDetached, or the client is gone; either way the container runs on
	}
	return c.Wait(), nil
}

// relay carries a client's frames to what it is attached to, until its input ends (nil), it detaches
// (errDetached) or it is gone (the connection's error).
func (session *Session) relay(a attachment) error {
	frames := session.frames()
	if a.console != nil {
		frames.control.resize = a.console.Resize
	}
	if a.signal != nil {
		frames.control.signal = a.signal
		if err := session.conn.WriteFrame(frameSignal, nil); err != nil {
			return err
		}
	}
	if a.input != nil {
		var err error
		if a.console != nil {
			// Read and Write only: stdinReader's WriteTo goes through io.CopyN, which drops a write
			// error (errDetached) when the write took the whole frame.
			_, err = io.Copy(&detachWriter{out: a.console, keys: a.detachKeys}, struct{ io.Reader }{session.Stdin()})
		} else {
			_, err = io.Copy(a.input, session.Stdin()) // WriteTo: spliced into the stdin pipe
		}
		if errors.Is(err, errDetached) {
			return err
		}
		if a.closeInput != nil {
			a.closeInput()
		}
	}
	return frames.followControl()
}

// askTerminal tells the client that the output is a terminal's and reads the size of the client's
// terminal, which the client sends at once (0x0 if it has none).
func (session *Session) askTerminal() (rows, cols uint16, err error) {
	if err := session.conn.WriteFrame(frameTerminal, nil); err != nil {
		return 0, 0, err
	}
	session.conn.SetReadDeadline(time.Now().Add(requestTimeout))
	defer session.conn.SetReadDeadline(time.Time{})
	kind, length, err := session.conn.ReadHeader()
	if err != nil {
		return 0, 0, fmt.Errorf("reading the client's terminal size: %w", err)
	}
	if kind != frameResize {
		return 0, 0, fmt.Errorf("expected the client's terminal size, got a %q frame", kind)
	}
	payload, err := session.conn.ReadPayload(length)
	if err != nil {
		return 0, 0, err
	}
	return parseResize(payload)
}

// detachWriter passes a client's keystrokes on to a terminal, except the detach keys: a byte that may
// begin them is held back until the keys are complete (errDetached) or broken off, when the held bytes
// are passed on after all.
type detachWriter struct {
	out  io.Writer
	keys []byte
	held []byte // a proper prefix of keys
}

func (w *detachWriter) Write(p []byte) (int, error) {
	pass, detached := w.filter(p)
	if len(pass) > 0 {
		if _, err := w.out.Write(pass); err != nil {
			return 0, err
		}
	}
	if detached {
		return len(p), errDetached
	}
	return len(p), nil
}

// filter returns the bytes of p to pass on and whether the detach keys are complete.
func (w *detachWriter) filter(p []byte) (pass []byte, detached bool) {
	if len(w.held) == 0 && bytes.IndexByte(p, w.keys[0]) < 0 {
		return p, false // the common case: typing that has nothing to do with detaching
	}
	for _, b := range p {
		w.held = append(w.held, b)
		for !bytes.HasPrefix(w.keys, w.held) { // broken off: the oldest held byte was just a key
			pass = append(pass, w.held[0])
			w.held = w.held[1:]
		}
		if len(w.held) == len(w.keys) {
			w.held = nil
			return pass, true
		}
	}
	return pass, false
}

// parseDetachKeys reads docker's --detach-keys: keys separated by commas, each one character ("x") or
// "ctrl-" and one of a-z @ [ \ ] ^ _, which is that character's ASCII control code (ctrl-p is 16).
func parseDetachKeys(spec string) ([]byte, error) {
	var keys []byte
	for _, key := range strings.Split(spec, ",") {
		lower := strings.ToLower(key)
		switch {
		case len(key) == 1:
			keys = append(keys, key[0])
		case len(lower) == 6 && strings.HasPrefix(lower, "ctrl-") && strings.IndexByte("abcdefghijklmnopqrstuvwxyz@[\\]^_", lower[5]) >= 0:
			keys = append(keys, lower[5]&0x1f)
		default:
			return nil, fmt.Errorf("invalid --detach-keys %q: %q is neither one character nor ctrl- and one of a-z @ [ \\ ] ^ _", spec, key)
		}
	}
	return keys, nil
}

func (srv *Server) CmdAttach(session *Session, args []string) error {
	var noStdin bool
	sigProxy, detachKeys := true, defaultDetachKeys
	f := newFlags(session, "attach", "[OPTIONS] CONTAINER", "Attach to a running container's input and output (detach with ctrl-p,ctrl-q on a terminal)")
	f.Bool(&noStdin, "", "no-stdin", "Do not attach STDIN")
	f.String(&detachKeys, "", "detach-keys", "string", "The keys that detach from a container with a terminal (default ctrl-p,ctrl-q)")
	f.Bool(&sigProxy, "", "sig-proxy", "Pass SIGINT and SIGTERM on to the container, without a terminal (default true)")
	names, err := f.Parse(args, 1, 1, true)
	if err != nil {
		return err
	}
	keys, err := parseDetachKeys(detachKeys)
	if err != nil {
		return err
	}
	c, err := srv.runtime.Get(names[0])
	if err != nil {
		return err
	}
	if c.exitedChan() == nil {
		return fmt.Errorf("you cannot attach to a stopped container (%s): start it first", names[0])
	}
	logs, err := c.openLogs()
	if err != nil {
		return err
	}
	defer logs.Close()
	if c.Config.Tty {
		rows, cols, err := session.askTerminal()
		if err != nil {
			return err
		}
		c.keeperCall(keeperRequest{Op: "resize", Rows: rows, Cols: cols}) // a run that just ended has no size to set
	}
	status, err := session.attach(c, logs, attachOptions{stdin: !noStdin, sigProxy: sigProxy, detachKeys: keys})
	if err != nil {
		return err
	}
	if status != 0 {
		return &StatusError{Status: status}
	}
	return nil
}
