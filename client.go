// client.go: the client's side of the wire (tcp.go), all of `engine COMMAND` but the terminal
// (terminal.go), the local files of `engine cp` (client_cp.go) and the credentials of `engine login`
// (client_auth.go). Client reads the token, dials the daemon, sends the token and the request, and then
// does what the daemon's frames ask: it copies stdout (into the file of `export -o`, outputSide) and
// stderr out, sends its stdin, its terminal's size, its signals and a registry's credentials when
// asked, and exits with the status of the exit frame.
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
	"strings"

	"golang.org/x/sys/unix"
)

// Client runs one command against the daemon at addr and returns the exit status to leave with.
func Client(addr, root string, args []string) int {
	if args[0] == "logout" { // the user's own file, and nothing else (client_auth.go)
		return logout(args)
	}
	token, err := os.ReadFile(filepath.Join(root, "engine.token"))
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine: cannot read the daemon's token (is `engine -d -r %s` running, and may you read its root?): %v\n", root, err)
		return 125
	}
	args, err = readSeccompProfileFiles(args) // --security-opt seccomp=FILE is the user's file (seccomp.go)
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine: %s: %v\n", args[0], err)
		return 125
	}
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine: cannot reach the daemon at %s (is `engine -d` running?): %v\n", addr, err)
		return 125
	}
	conn := &Conn{Conn: nc}
	defer conn.Close()
	side, err := localSideOf(args, conn)
	if err != nil {
		return localFailure(args[0], err)
	}
	defer side.input.Close()
	req, _ := json.Marshal(Request{Args: side.args})
	err = conn.WriteFrame(frameToken, []byte(strings.TrimSpace(string(token))))
	if err == nil {
		err = conn.WriteFrame(frameRequest, req)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine: sending the request: %v\n", err)
		return 125
	}
	term := &clientTerminal{conn: conn, input: side.input}
	term.watchSignals()
	if side.credentials == nil {
		side.credentials = savedAuth
	}
	status, err := receive(conn, term, side.output, side.credentials)
	term.restore()
	if side.finish != nil {
		var local error
		if status, local = side.finish(status, err); local != nil {
			return localFailure(args[0], local)
		}
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine: lost the connection to the daemon: %v\n", err)
		return 125
	}
	return status
}

// localFailure reports an error of the client's own part of a command (a local file), and gives the
// status to exit with: the error's, or 125.
func localFailure(command string, err error) int {
	fmt.Fprintf(os.Stderr, "engine: %s: %v\n", command, err)
	var se *StatusError
	if errors.As(err, &se) {
		return se.Status
	}
	return 125
}

// receive copies the daemon's frames to output (our stdout, or the local side of a copy) and stderr
// until the exit frame, through one buffer of the largest payload, and answers the daemon's requests
// for stdin, terminal size and signals.
func receive(conn *Conn, term *clientTerminal, output io.Writer, credentials func(domain string) string) (int, error) {
	if f, ok := output.(*os.File); ok {
		// When our stdout is a pipe (`engine run … | cmd`), one of 1 MiB rather than the default
		// 64 KiB: a frame of a container's output (up to 1 MiB, a record of its log) goes in with one
		// write, and the reader on the other side wakes once for it, not sixteen times. Measured with
		// 4 GiB and `dd bs=1M` reading: about 710 MB/s before, 815 after. It only makes the pipe's
		// buffer larger; on a terminal or a file the call fails and changes nothing.
		unix.FcntlInt(f.Fd(), unix.F_SETPIPE_SZ, maxPayload)
	}
	sendingStdin := false
	buf := make([]byte, maxPayload)
	for {
		kind, length, err := conn.ReadHeader()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		switch kind {
		case frameStdout:
			_, err = io.CopyBuffer(plainWriter{output}, io.LimitReader(conn.Conn, length), buf)
		case frameStderr:
			_, err = io.CopyBuffer(plainWriter{os.Stderr}, io.LimitReader(conn.Conn, length), buf)
		case frameError:
			var message []byte
			if message, err = conn.ReadPayload(length); err == nil {
				term.message(message)
			}
		case frameTerminal:
			err = term.announce()
		case frameCredentials: // a registry asks the daemon who we are (client_auth.go)
			var domain []byte
			if domain, err = conn.ReadPayload(length); err == nil {
				answer := ""
				if credentials != nil {
					answer = credentials(string(domain))
				}
				err = conn.WriteFrame(frameCredentials, []byte(answer))
			}
		case frameSignal:
			term.proxySignals()
		case frameStdin:
			if !sendingStdin {
				sendingStdin = true
				if err = term.startInput(); err == nil {
					go sendStdin(conn, term.input)
				}
			}
		case frameExit:
			payload, err := conn.ReadPayload(length)
			if err != nil || len(payload) != 4 {
				return 0, fmt.Errorf("bad exit frame")
			}
			return int(int32(binary.BigEndian.Uint32(payload))), nil
		default:
			return 0, fmt.Errorf("unexpected frame %q", kind)
		}
		if err != nil && !errors.Is(err, io.EOF) {
			// Our stdout went away (a closed pipe): the daemon's side ends with the connection.
			return 0, err
		}
	}
}

// sendStdin streams our input to the daemon. A stdin that is closed or unreadable (a CI job, `<&-`)
// counts as empty.
func sendStdin(conn *Conn, input *os.File) {
	buf := make([]byte, 64*1024)
	for {
		n, err := input.Read(buf)
		if n > 0 {
			if conn.WriteFrame(frameStdin, buf[:n]) != nil {
				return
			}
		}
		if err != nil {
			conn.WriteFrame(frameStdinClosed, nil)
			return
		}
	}
}

// importSource is one of the places the client looks at a command (the others are `--security-opt
// seccomp=FILE`, readSeccompProfileFiles in seccomp.go, `engine cp`, client_cp.go, and `export -o FILE`
// and `save -o FILE`, outputSide in client_files.go): `engine import FILE` opens FILE here, with the
// user's permissions and relative to the user's directory, and sends it as stdin ("-"), as docker's CLI
// uploads the file rather than asking the daemon to read it; so does `engine load -i FILE` (loadSource,
// client_files.go). Every other command reads os.Stdin.
func importSource(args []string) ([]string, *os.File, error) {
	if args[0] == "load" {
		return loadSource(args)
	}
	if args[0] != "import" {
		return args, os.Stdin, nil
	}
	for i := 1; i < len(args); i++ {
		switch arg := args[i]; {
		case arg == "-m" || arg == "--message":
			i++ // its value
		case arg == "-":
			return args, os.Stdin, nil
		case arg == "--" && i+1 < len(args) && args[i+1] != "-":
			i++
			fallthrough // what follows "--" is the file, even if it starts with "-"
		case !strings.HasPrefix(args[i], "-"):
			file, err := os.Open(args[i])
			if err != nil {
				return nil, nil, err
			}
			rewritten := append(append(append([]string{}, args[:i]...), "-"), args[i+1:]...)
			return rewritten, file, nil
		}
	}
	return args, os.Stdin, nil
}

// plainWriter hides os.File's ReadFrom, so io.CopyBuffer really copies through our buffer. Go would
// otherwise splice(2) from the socket to a pipe: fewer copies, yet measured 1.3 times slower here
// (many small splices, each toggling interrupts in the kernel).
type plainWriter struct{ io.Writer }
