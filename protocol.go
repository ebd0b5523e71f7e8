// protocol.go: the frames every engine conversation is made of.
//
// Two conversations use them: the client's with the daemon over TCP (tcp.go says what travels there and
// in which order), and the daemon's with a container's keeper over the keeper's unix socket
// (keeper.go). Every message, in both directions, is a frame:
//
//	kind (1 byte) | length (4 bytes, big endian) | payload (length bytes, at most maxPayload)
//
// Kinds are letters, so a frame is readable in a hex dump. The payloads of stdout and stderr frames are
// a container's output; a container's log file (logfile.go) keeps the same two kinds for its records, so
// what the log holds goes out as frames of the kind it was written with. Payloads are bounded: a peer
// that sends a longer one, or a kind the reader does not expect, is an error, never a crash.
package main

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

const (
	frameToken       byte = 'k' // client → daemon, first: the token (tcp.go)
	frameRequest     byte = 'Q'
	frameStdin       byte = 'i'
	frameStdinClosed byte = 'c'
	frameResize      byte = 'r' // client → daemon: rows, cols (uint16 each, big endian)
	frameTerminal    byte = 't' // daemon → client: the output is a terminal's; send your size
	frameSignal      byte = 's' // daemon → client: send me your signals; client → daemon: a signal (uint32)
	frameStdout      byte = 'o'
	frameStderr      byte = 'e'
	frameExit        byte = 'x'
	frameError       byte = '!'
	frameCredentials byte = 'a' // daemon → client: a registry (host[:port]) asks who we are; client → daemon: base64 user:password, or nothing

	frameHeaderSize = 5
	maxPayload      = 1 << 20
	maxTokenSize    = 256 // loadToken makes 64 hex digits
)

// Conn is one client connection, seen from either side. Writes of whole frames are serialised, so the
// goroutines streaming a container's stdout and stderr can share one connection. On the daemon's side,
// Gone is closed once the client is known to be gone (see the opening).
type Conn struct {
	net.Conn
	writeMu sync.Mutex

	goneMu  sync.Mutex
	gone    chan struct{} // made on first use, so a Conn{} is ready to use
	probing bool
}

// Gone is closed once the client is gone: a write or a read failed, or the connection was closed.
func (c *Conn) Gone() <-chan struct{} {
	c.goneMu.Lock()
	defer c.goneMu.Unlock()
	return c.goneChan()
}

// goneChan is Gone's channel; the caller holds goneMu.
func (c *Conn) goneChan() chan struct{} {
	if c.gone == nil {
		c.gone = make(chan struct{})
	}
	return c.gone
}

// lost records that the client is gone.
func (c *Conn) lost() {
	c.goneMu.Lock()
	defer c.goneMu.Unlock()
	gone := c.goneChan()
	select {
	case <-gone:
	default:
		close(gone)
	}
}

func (c *Conn) Close() error {
	c.lost()
	return c.Conn.Close()
}

func (c *Conn) writeHeader(kind byte, length int) error {
	var h [frameHeaderSize]byte
	h[0] = kind
	binary.BigEndian.PutUint32(h[1:], uint32(length))
	_, err := c.Conn.Write(h[:])
	return err
}

// WriteFrame sends one frame. Longer payloads must be split by the caller (see frameWriter).
func (c *Conn) WriteFrame(kind byte, payload []byte) error {
	if len(payload) > maxPayload {
		return fmt.Errorf("frame of %d bytes exceeds %d", len(payload), maxPayload)
	}
	c.writeMu.Lock()
	defer c.writeMu.Unlock()
	err := c.writeHeader(kind, len(payload))
	if err == nil {
		_, err = c.Conn.Write(payload)
	}
	if err != nil {
		c.lost()
	}
	return err
}

// SendFrom sends n bytes of f as frames of the given kind. The payload goes from the file to the socket
// inside the kernel (sendfile), which is what lets a container's log reach a client at memory speed.
func (c *Conn) SendFrom(kind byte, f *os.File, n int64) error {
	for n > 0 {
		chunk := min(n, maxPayload)
		c.writeMu.Lock()
		err := c.writeHeader(kind, int(chunk))
		if err == nil {
			_, err = io.CopyN(c.Conn, f, chunk)
		}
		c.writeMu.Unlock()
		if err != nil {
			c.lost()
			return err
		}
		n -= chunk
	}
	return nil
}

// ReadHeader reads the next frame's kind and length; the caller then reads exactly length payload
// bytes from the connection (ReadPayload, or io.CopyN straight into a file or pipe).
func (c *Conn) ReadHeader() (kind byte, length int64, err error) {
	var h [frameHeaderSize]byte
	if _, err := io.ReadFull(c.Conn, h[:]); err != nil {
		return 0, 0, err
	}
	length = int64(binary.BigEndian.Uint32(h[1:]))
	if length > maxPayload {
		return 0, 0, fmt.Errorf("frame of %d bytes exceeds %d", length, maxPayload)
	}
	return h[0], length, nil
}

func (c *Conn) ReadPayload(length int64) ([]byte, error) {
	buf := make([]byte, length)
	_, err := io.ReadFull(c.Conn, buf)
	return buf, err
}

// frameWriter is an io.Writer whose bytes become frames of one kind: a command's stdout or stderr.
type frameWriter struct {
	conn *Conn
	kind byte
}

func (w frameWriter) Write(p []byte) (int, error) {
	written := 0
	for len(p) > 0 {
		chunk := p[:min(len(p), maxPayload)]
		if err := w.conn.WriteFrame(w.kind, chunk); err != nil {
			return written, err
		}
		written += len(chunk)
		p = p[len(chunk):]
	}
	return written, nil
}

func exitPayload(status int) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(int32(status)))
}

func resizePayload(rows, cols uint16) []byte {
	return binary.BigEndian.AppendUint16(binary.BigEndian.AppendUint16(nil, rows), cols)
}

func parseResize(payload []byte) (rows, cols uint16, err error) {
	if len(payload) != 4 {
		return 0, 0, fmt.Errorf("bad resize frame of %d bytes", len(payload))
	}
	return binary.BigEndian.Uint16(payload), binary.BigEndian.Uint16(payload[2:]), nil
}

func signalPayload(sig syscall.Signal) []byte {
	return binary.BigEndian.AppendUint32(nil, uint32(sig))
}

func parseSignalFrame(payload []byte) (syscall.Signal, error) {
	if len(payload) != 4 {
		return 0, fmt.Errorf("bad signal frame of %d bytes", len(payload))
	}
	sig := binary.BigEndian.Uint32(payload)
	if sig == 0 || sig > 64 {
		return 0, fmt.Errorf("bad signal %d", sig)
	}
	return syscall.Signal(sig), nil
}
