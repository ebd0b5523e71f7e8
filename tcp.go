// tcp.go: the wire between `engine COMMAND` (the client) and `engine -d` (the daemon).
//
// Docker 0.1 sent the command line as JSON and then copied raw bytes both ways; that lost exit codes and
// mixed stderr into stdout. We keep its simplicity and add framing: every message, in both directions,
// is a frame of protocol.go. This file says which frames the client and the daemon exchange, and in what
// order.
//
// The client's first frame is the token from ROOT/engine.token, at most maxTokenSize bytes, so that the
// daemon reads it into a buffer of fixed size and allocates nothing more for a connection that has not
// shown it (server.go). Its second frame is the request (JSON: the arguments). Then the daemon sends
// stdout, stderr and error frames and, last, one exit frame with the status the client exits with. If
// the command wants input, the daemon sends an (empty) stdin frame; only then does the client read its
// own stdin and send it as stdin frames, closed by stdin-closed. So `engine ps` inside a shell loop
// never swallows the loop's input.
//
// Two more requests work the same way, an empty frame from the daemon that the client answers for as
// long as the command lasts. A terminal frame ('t': the output is a terminal's) asks for resize frames:
// one at once with the size of the client's terminal, then one on every SIGWINCH; and when stdin is
// asked for too, the client puts its terminal in raw mode, so every key reaches the container's pty
// (terminal.go). A signal frame ('s') asks the client to pass on its SIGINT and SIGTERM as signal frames
// (docker's --sig-proxy), which the daemon turns into Container.Kill (attach.go). A credentials frame
// ('a', naming a registry) asks once for the user and password the client has for that registry
// (registry_auth.go, client_auth.go): the client answers with one credentials frame, empty if it has
// none.
//
// The end of the client's input is not the end of the client. A client that shuts its write side (as
// `nc -N`, socat and proxies pass on the end of their own input) has only said it has nothing more to
// send: as with docker, that ends the container's stdin, and the output and the exit status still go
// to it. A client that died looks the same from the reading side, so once the input has ended the
// daemon probes (Conn.probe): a live client reads an empty stdout frame every probeInterval, a dead
// one's kernel answers it with a reset. A daemon busy with an upload it has already received (import,
// Session.Upload) probes too, as it reads nothing more, and so does one that pulls or pushes. A write or a read that fails is a client gone:
// Conn.Gone is closed, and whatever was streaming to it, waiting for it or unpacking its upload
// (logs.go, attach.go, `exec -t`, `wait`, archive.go) stops and gives back its files and watches. Our
// own client never half-closes; it closes the connection after the exit frame, or dies.
//
// The daemon sends a log's bytes with io.CopyN from the file to the socket, which Go turns into
// sendfile(2): they never pass through the daemon's memory. The client copies them out through one
// buffer (see receive in client.go, which holds the client's side of all this).
package main

import (
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"
)

// Request is the frame after the token: what the client asks for.
type Request struct {
	Args []string `json:"args"`
}

// probeInterval is how often the daemon probes a client it reads nothing from.
const probeInterval = 500 * time.Millisecond

// probe starts the probes that tell a live client from one that died, when reading cannot (its input
// has ended, or is all read already): every probeInterval, an empty stdout frame, which a client takes
// as no output at all. A live client reads it; a dead one's kernel answers it with a reset, and the
// write after that fails.
func (c *Conn) probe() {
	c.goneMu.Lock()
	defer c.goneMu.Unlock()
	if c.probing {
		return
	}
	c.probing = true
	go func() {
		tick := time.NewTicker(probeInterval)
		defer tick.Stop()
		for {
			select {
			case <-c.Gone():
				return
			case <-tick.C:
				c.WriteFrame(frameStdout, nil) // a failure closes Gone
			}
		}
	}()
}

// closeGently closes a connection whose client may still be sending (the request after a wrong token):
// our side's FIN first, then what the client sent is read and dropped, for up to a second, until it
// closes too. Closing a socket with unread bytes sends a reset, which can overtake the frames just
// written and lose the client its error message (net/http's closeWriteAndWait does the same).
func (c *Conn) closeGently() {
	if tcp, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		tcp.CloseWrite()
	}
	c.SetReadDeadline(time.Now().Add(time.Second))
	io.CopyN(io.Discard, c.Conn, 2*(frameHeaderSize+maxPayload))
	c.Close()
}

// stdinReader reads the client's stdin frames on the daemon side, until stdin-closed. Its WriteTo moves
// each payload from the socket straight into the destination (splice into a container's stdin pipe).
// Resize and signal frames met on the way go to control.
type stdinReader struct {
	conn      *Conn
	remaining int64 // payload bytes of the current frame not yet read
	closed    bool
	control   clientControl
}

// clientControl is what an attached client's resize and signal frames act on; nil ignores them.
type clientControl struct {
	resize func(rows, cols uint16) error
	signal func(syscall.Signal) error
}

// nextFrame skips to the next stdin frame with a payload; it returns io.EOF at stdin-closed.
func (r *stdinReader) nextFrame() error {
	for r.remaining == 0 {
		if r.closed {
			return io.EOF
		}
		kind, length, err := r.conn.ReadHeader()
		if err != nil {
			return err
		}
		switch kind {
		case frameStdin:
			r.remaining = length
		case frameStdinClosed:
			r.closed = true
		default:
			if err := r.controlFrame(kind, length); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *stdinReader) controlFrame(kind byte, length int64) error {
	if kind != frameResize && kind != frameSignal {
		return fmt.Errorf("unexpected frame %q from client", kind)
	}
	payload, err := r.conn.ReadPayload(length)
	if err != nil {
		return err
	}
	if kind == frameResize {
		rows, cols, err := parseResize(payload)
		if err == nil && r.control.resize != nil {
			r.control.resize(rows, cols) // a terminal already gone has no size to set
		}
		return err
	}
	sig, err := parseSignalFrame(payload)
	if err == nil && r.control.signal != nil {
		r.control.signal(sig) // the container may just have ended
	}
	return err
}

// followControl reads the client's frames after its stdin (or when stdin was never asked for), acting
// on resizes and signals, until the client's input ends (nil; the probes then watch for the client's
// end) or the connection fails (the error; the client is gone). Stdin data that still comes is not
// wanted.
func (r *stdinReader) followControl() error {
	err := r.readControl()
	if err == io.EOF {
		r.conn.probe()
		return nil
	}
	r.conn.lost()
	return err
}

// readControl is followControl's loop. It returns io.EOF only at a frame's boundary: the end of the
// input inside a frame is a client cut off.
func (r *stdinReader) readControl() error {
	if _, err := io.CopyN(io.Discard, r.conn.Conn, r.remaining); err != nil { // the rest of a stdin frame
		return cutOff(err)
	}
	r.remaining = 0
	for {
		kind, length, err := r.conn.ReadHeader()
		if err != nil {
			return err
		}
		switch kind {
		case frameStdin:
			_, err = io.CopyN(io.Discard, r.conn.Conn, length)
		case frameStdinClosed:
		default:
			err = r.controlFrame(kind, length)
		}
		if err != nil {
			return cutOff(err)
		}
	}
}

// cutOff is the error of a read inside a frame: there, the end of the input is unexpected.
func cutOff(err error) error {
	if err == io.EOF {
		return io.ErrUnexpectedEOF
	}
	return err
}

// Done is closed once the client is gone, which makes the stream abandonable (archive_limits.go).
func (r *stdinReader) Done() <-chan struct{} { return r.conn.Gone() }

// errClientGone ends the reading of a client's input that is still in the daemon's buffers when the
// client is known to be gone: nobody waits for what would be made of it.
var errClientGone = errors.New("the client is gone")

func (r *stdinReader) Read(p []byte) (int, error) {
	select {
	case <-r.conn.Gone():
		return 0, errClientGone
	default:
	}
	if err := r.nextFrame(); err != nil {
		return 0, err
	}
	n, err := r.conn.Read(p[:min(int64(len(p)), r.remaining)])
	r.remaining -= int64(n)
	if r.remaining > 0 {
		err = cutOff(err)
	}
	return n, err
}

func (r *stdinReader) WriteTo(w io.Writer) (int64, error) {
	var total int64
	for {
		if err := r.nextFrame(); err == io.EOF {
			return total, nil
		} else if err != nil {
			return total, err
		}
		n, err := io.CopyN(w, r.conn.Conn, r.remaining)
		total += n
		r.remaining -= n
		if err != nil {
			return total, cutOff(err)
		}
	}
}
