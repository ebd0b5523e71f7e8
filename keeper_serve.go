// keeper_serve.go: the keeper's side of keeper.sock (keeper.go, step 3).
//
// Once the container's command runs, everything the daemon asks of its keeper comes over keeper.sock in
// the container's directory, one connection per request (keeper_client.go's keeperCall): a signal, a
// terminal's size, the status (init's identity, the output the log dropped), an attached client's stdin,
// or a wait, which stays open until the end. A daemon started after the one that started the keeper (a
// restart, an upgrade) adopts it with a wait on this socket: the keeper serves whichever daemon connects,
// and only root can, the container's directory being closed to everyone else (runtime.go).
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"syscall"
	"time"

	"github.com/kr/pty"
)

// serve answers the daemon's connections to keeper.sock, each in its own goroutine: a client that
// blocks (its stdin to a container that does not read it) holds up no other.
func (k *keeper) serve() {
	for {
		conn, err := k.listener.AcceptUnix()
		if err != nil {
			return
		}
		go k.handle(&Conn{Conn: conn})
	}
}

// keeperRequestTimeout bounds how long a connection may take to say what it wants.
const keeperRequestTimeout = 5 * time.Second

// handle serves one connection: one request, and for stdin the stream that follows it.
func (k *keeper) handle(conn *Conn) {
	var request keeperRequest
	conn.SetReadDeadline(time.Now().Add(keeperRequestTimeout))
	err := readKeeperRequest(conn, &request)
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		conn.Close()
		return
	}
	if request.Op == "wait" {
		k.addWaiter(conn) // closed by finish
		return
	}
	defer conn.Close()
	reply := keeperReply{Pid: k.init.pid(), PidStart: k.init.pidStart, LogDropped: k.log.Dropped()}
	switch request.Op {
	case "status":
	case "signal":
		err = k.init.cmd.Process.Signal(syscall.Signal(request.Signal))
	case "resize":
		err = k.resize(request.Rows, request.Cols)
	case "stdin":
		err = k.relayStdin(conn, request.CloseStdin)
		if err == nil {
			return // the stream is over
		}
	default:
		err = fmt.Errorf("unknown request %q", request.Op)
	}
	if err != nil {
		reply.Error = err.Error()
	}
	conn.WriteFrame(frameReply, replyJSON(reply))
}

// addWaiter answers a wait: init's identity at once, the end when it comes (or now, if it has come).
func (k *keeper) addWaiter(conn *Conn) {
	k.mu.Lock()
	defer k.mu.Unlock()
	conn.WriteFrame(frameReply, replyJSON(keeperReply{Pid: k.init.pid(), PidStart: k.init.pidStart}))
	if k.exit == nil {
		k.keepWaiterLocked(conn)
		return
	}
	data, _ := json.Marshal(k.exit)
	conn.WriteFrame(frameExited, data)
	conn.Close()
}

// keepWaiter adds conn to those that hear of the end.
func (k *keeper) keepWaiter(conn *Conn) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.keepWaiterLocked(conn)
}

// keepWaiterLocked is keepWaiter for a caller that holds mu. A waiter says nothing more after its request,
// so a read that ends is a daemon that has gone: its connection is dropped then, or a container whose
// daemon restarts again and again would hold one more descriptor in its keeper for every restart.
func (k *keeper) keepWaiterLocked(conn *Conn) {
	k.waiter = append(k.waiter, conn)
	go func() {
		io.Copy(io.Discard, conn.Conn)
		k.mu.Lock()
		defer k.mu.Unlock()
		for i, other := range k.waiter {
			if other == conn { // not yet taken by finish, which closes those it takes
				k.waiter = append(k.waiter[:i], k.waiter[i+1:]...)
				conn.Close()
				return
			}
		}
	}()
}

// relayStdin passes an attached client's input to the container: stdin frames to its stdin pipe or its
// terminal, resize frames to its terminal. It answers first, so the daemon knows the input is taken.
// The end of the client's input (a stdin-closed frame) closes the container's stdin if asked (docker's
// StdinOnce).
func (k *keeper) relayStdin(conn *Conn, closeStdin bool) error {
	k.mu.Lock()
	in := k.stdin
	k.mu.Unlock()
	if in == nil {
		return errors.New("the container's stdin is closed")
	}
	if err := conn.WriteFrame(frameReply, replyJSON(keeperReply{Pid: k.init.pid()})); err != nil {
		return nil
	}
	input := &stdinReader{conn: conn, control: clientControl{resize: k.resize}}
	// Only the daemon's stdin-closed frame is the client's EOF: a connection that just ends is a daemon
	// that died, and the container's stdin stays open for the next daemon's clients, as it would with
	// containerd's shim.
	if _, err := io.Copy(in, input); err == nil && input.closed && closeStdin && in != k.master {
		k.mu.Lock()
		if k.stdin == in {
			k.stdin.Close()
			k.stdin = nil
		}
		k.mu.Unlock()
	}
	return nil
}

// resize sets the terminal's size; the kernel tells the foreground process group with SIGWINCH.
func (k *keeper) resize(rows, cols uint16) error {
	if k.master == nil {
		return errors.New("the container has no terminal")
	}
	if rows == 0 || cols == 0 {
		return nil
	}
	return pty.Setsize(k.master, &pty.Winsize{Rows: rows, Cols: cols})
}

// readKeeperRequest reads one request frame.
func readKeeperRequest(conn *Conn, request *keeperRequest) error {
	kind, length, err := conn.ReadHeader()
	if err != nil {
		return err
	}
	if kind != frameRequest {
		return fmt.Errorf("expected a request, not a %q frame", kind)
	}
	payload, err := conn.ReadPayload(length)
	if err != nil {
		return err
	}
	return json.Unmarshal(payload, request)
}
