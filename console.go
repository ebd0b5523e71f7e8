// console.go: a container's terminal (`run -t`), from both sides of the fence.
//
// The pty is made inside the container, as runc does with its console socket. Init (init.go), once
// pivot_root has made the container's /dev its own, opens the pair with kr/pty: /dev/ptmx there is the
// container's private devpts instance (spec.go mounts it with newinstance), so the slave is
// /dev/pts/0 of that instance, `tty` inside prints that name, and no host pty is used up or visible.
// Init makes the slave its fds 0, 1 and 2 and its controlling terminal, and hands the master over the
// sync pipe with SCM_RIGHTS to the container's keeper (keeper.go): a file descriptor cannot be named
// across a mount namespace, it can only be passed over a unix socket (unix(7)).
//
// The keeper holds the master for as long as the container runs: it copies what the command writes to
// its terminal into the log (a terminal has one stream, so it is all stdout, as in docker's logs of a tty
// container), writes attached clients' keystrokes to it and sets its size when they resize. So the
// terminal outlives the daemon, as the container does. The daemon holds a master only for `exec -t`,
// whose process's terminal it relays straight to the client: a Console, below.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/kr/pty"
	"golang.org/x/sys/unix"
)

// consoleMarker is the one data byte that carries the master across the sync pipe (SCM_RIGHTS needs at
// least one byte of data to travel with).
const consoleMarker = 'T'

// errNoConsole is a start whose init closed the sync pipe without sending the terminal.
var errNoConsole = errors.New("init sent no terminal")

// Console is the daemon's end of an `exec -t` process's terminal: the pty master.
type Console struct {
	master *os.File
	copied chan struct{} // closed when the copier has seen the end of the output
}

// newConsole copies the terminal's output to out (closing out afterwards if it is a file) until the
// read ends with EIO, once the last slave descriptor is closed: the kernel's way of saying "no one will
// write to this terminal any more".
func newConsole(master *os.File, out io.Writer) *Console {
	console := &Console{master: master, copied: make(chan struct{})}
	go func() {
		defer close(console.copied)
		if _, err := io.Copy(out, master); err != nil && !errors.Is(err, unix.EIO) {
			io.Copy(io.Discard, master) // out failed (a client gone): the command must not block
		}
		if f, ok := out.(*os.File); ok {
			f.Close()
		}
	}()
	return console
}

// Write sends keystrokes to the terminal, as if typed on it.
func (con *Console) Write(p []byte) (int, error) { return con.master.Write(p) }

// Resize sets the terminal's size; the kernel then sends SIGWINCH to its foreground process group,
// which is how a shell or an editor inside learns of it. A size of 0x0 means "unknown" and is ignored.
func (con *Console) Resize(rows, cols uint16) error {
	if rows == 0 || cols == 0 {
		return nil
	}
	return pty.Setsize(con.master, &pty.Winsize{Rows: rows, Cols: cols})
}

// Drain waits until everything written to the terminal has been copied, then closes the master: once
// the command has exited, before anyone is told it ended.
func (con *Console) Drain() {
	<-con.copied
	con.master.Close()
}

// Close drops the terminal at once: the master is pollable, so closing it also ends the copier's read.
func (con *Console) Close() {
	con.master.Close()
	<-con.copied
}

// receiveFd reads one message from a unix socket and returns the descriptor it carried, if any, and its
// data. The descriptor arrives close-on-exec and is made non-blocking, so Go's poller serves it and a
// Close interrupts a pending read. `engine exec -t` receives its process's master the same way.
func receiveFd(socket *os.File) (*os.File, []byte, error) {
	conn, err := socket.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	data, oob := make([]byte, 4096), make([]byte, unix.CmsgSpace(4))
	var n, oobn int
	var recvErr error
	err = conn.Read(func(fd uintptr) bool {
		n, oobn, _, _, recvErr = unix.Recvmsg(int(fd), data, oob, unix.MSG_CMSG_CLOEXEC)
		return recvErr != unix.EAGAIN
	})
	if err == nil {
		err = recvErr
	}
	if err != nil {
		return nil, nil, err
	}
	fds, err := parseRights(oob[:oobn])
	if err != nil || len(fds) == 0 {
		return nil, data[:n], err
	}
	for _, extra := range fds[1:] { // one was sent; anything more is not ours to keep
		unix.Close(extra)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		return nil, nil, err
	}
	return os.NewFile(uintptr(fds[0]), "pty master"), data[:n], nil
}

func parseRights(oob []byte) ([]int, error) {
	messages, err := unix.ParseSocketControlMessage(oob)
	if err != nil {
		return nil, err
	}
	var fds []int
	for i := range messages {
		rights, err := unix.ParseUnixRights(&messages[i])
		if err != nil {
			return nil, err
		}
		fds = append(fds, rights...)
	}
	return fds, nil
}

// sendFd sends a descriptor over a unix socket, with the one data byte marker.
func sendFd(socket int, marker byte, f *os.File) error {
	return unix.Sendmsg(socket, []byte{marker}, unix.UnixRights(int(f.Fd())), nil, 0)
}

// receiveTerminal reads the first message on a sync pipe when a terminal is expected: the master, or
// no master and the start of a failure report. Init and exec's helper send it the same way.
func receiveTerminal(syncPipe *os.File) (*os.File, []byte, error) {
	master, data, err := receiveFd(syncPipe)
	if err != nil {
		return nil, nil, fmt.Errorf("receiving the terminal: %w", err)
	}
	if master == nil {
		return nil, data, nil
	}
	return master, data[1:], nil // after the marker
}

// setConsoleSize records the size the next start's terminal opens with (the spec's consoleSize).
func (c *Container) setConsoleSize(rows, cols uint16) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.consoleSize = nil
	if rows > 0 && cols > 0 {
		c.consoleSize = &Box{Height: uint(rows), Width: uint(cols)}
	}
}

// The container's side, in init.

// setupConsole makes init's terminal: after pivot_root, so /dev/ptmx is the container's own. The slave
// is made fds 0, 1, 2 and the controlling terminal of init's session (init is a session leader: the
// keeper started it with setsid), and the master goes to the keeper. The shell that init execs
// inherits all of it, so its job control works.
func setupConsole(process Process) error {
	master, slave, err := openConsole(process)
	if err != nil {
		return err
	}
	defer master.Close() // the keeper has its own copy once sent; init keeps none
	defer slave.Close()
	// Fd puts the slave back in blocking mode (os.OpenFile made it non-blocking for Go's poller): the
	// command must get an ordinary terminal, not one whose reads fail with EAGAIN.
	fd := int(slave.Fd())
	for stdio := 0; stdio <= 2; stdio++ {
		if err := unix.Dup3(fd, stdio, 0); err != nil {
			return fmt.Errorf("making the terminal fd %d: %w", stdio, err)
		}
	}
	if err := unix.IoctlSetInt(0, unix.TIOCSCTTY, 0); err != nil {
		return fmt.Errorf("making the terminal controlling: %w", err)
	}
	if err := sendFd(initPipeFd, consoleMarker, master); err != nil {
		return fmt.Errorf("sending the terminal to the keeper: %w", err)
	}
	return nil
}

// openConsole opens a pty pair in the container's /dev/pts, sized as the client's terminal, the slave
// given to the process's user (its group stays tty, as the devpts mount's gid=5 made it and as runc
// leaves it). Init and the exec helper (exec_helper.go) both make their terminals here.
func openConsole(process Process) (master, slave *os.File, err error) {
	master, slave, err = pty.Open()
	if err != nil {
		return nil, nil, fmt.Errorf("opening a terminal: %w", err)
	}
	if size := process.ConsoleSize; size != nil && size.Height > 0 && size.Width > 0 {
		err = pty.Setsize(slave, &pty.Winsize{Rows: uint16(size.Height), Cols: uint16(size.Width)})
	}
	if err == nil {
		err = slave.Chown(int(process.User.UID), -1)
	}
	if err != nil {
		closeAll(master, slave)
		return nil, nil, fmt.Errorf("setting up the terminal: %w", err)
	}
	return master, slave, nil
}
