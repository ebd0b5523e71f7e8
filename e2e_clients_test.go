// e2e_clients_test.go: hostile and careless clients at the daemon's front door (server.go, tcp.go).
//
// A flood of connections that never show the token must leave the daemon's fds and memory bounded and
// `ps` answering; clients killed while following a log or attached must give back everything they held;
// a client that half-closes its connection (as `nc -N`, socat and proxies do at the end of their input)
// still gets its output and exit status. The daemon's resources are read from /proc/PID.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// fdCount is how many descriptors the process has open.
func fdCount(t *testing.T, pid int) int {
	t.Helper()
	entries, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// inotifyWatches counts the process's inotify instances and the watches they hold (fdinfo's
// "inotify wd:" lines).
func inotifyWatches(t *testing.T, pid int) (instances, watches int) {
	t.Helper()
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if target, _ := os.Readlink(filepath.Join(dir, e.Name())); target != "anon_inode:inotify" {
			continue
		}
		instances++
		info, _ := os.ReadFile(fmt.Sprintf("/proc/%d/fdinfo/%s", pid, e.Name()))
		watches += strings.Count(string(info), "inotify wd:")
	}
	return instances, watches
}

// statusField reads a number from /proc/PID/status ("VmRSS", in kB; "Threads").
func statusField(t *testing.T, pid int, field string) int {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if value, ok := strings.CutPrefix(line, field+":"); ok {
			n, _ := strconv.Atoi(strings.Fields(value)[0])
			return n
		}
	}
	t.Fatalf("no %s in /proc/%d/status", field, pid)
	return 0
}

// waitUntil polls condition every 50 ms for up to limit and reports how long it took to hold.
func waitUntil(limit time.Duration, condition func() bool) (time.Duration, bool) {
	start := time.Now()
	for {
		if condition() {
			return time.Since(start), true
		}
		if time.Since(start) > limit {
			return time.Since(start), false
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// 5,000 connections that say nothing and 500 that announce a 1 MiB request and never finish it: the
// daemon keeps its fds and memory bounded, `ps` keeps answering, and the fds come back afterwards.
func TestE2EUnauthenticatedFlood(t *testing.T) {
	d, err := startDaemon(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	}()
	pid := d.cmd.Process.Pid
	checkNofileRaised(t, pid)
	baseFds, baseRSS := fdCount(t, pid), statusField(t, pid, "VmRSS")

	var mu sync.Mutex
	var flood []net.Conn
	defer func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range flood {
			c.Close()
		}
	}()
	floodDone := make(chan error, 1)
	go func() {
		// All of the request but its last byte: memory only counts once it is written to.
		almost := append(binary.BigEndian.AppendUint32([]byte{frameRequest}, 1<<20), make([]byte, 1<<20-1)...)
		for i := 0; i < 5500; i++ {
			c, err := net.DialTimeout("tcp", d.addr, 10*time.Second)
			if err != nil {
				floodDone <- err
				return
			}
			if i >= 5000 {
				c.SetWriteDeadline(time.Now().Add(10 * time.Second))
				c.Write(almost) // the daemon may close the connection as soon as it sees the header
			}
			mu.Lock()
			flood = append(flood, c)
			mu.Unlock()
		}
		floodDone <- nil
	}()
	// While the flood comes, and for a while after it is all open: ps answers, fds and RSS stay low.
	maxFds, maxRSS, slowest := 0, 0, time.Duration(0)
	var floodErr error
	for flooding, after := true, 0; flooding || after < 5; {
		select {
		case floodErr = <-floodDone:
			flooding = false
		default:
		}
		if !flooding {
			after++
		}
		start := time.Now()
		_, stderr, code := d.run("", "ps")
		took := time.Since(start)
		slowest = max(slowest, took)
		if code != 0 {
			t.Errorf("ps during the flood: exit %d, %s", code, stderr)
		}
		maxFds, maxRSS = max(maxFds, fdCount(t, pid)), max(maxRSS, statusField(t, pid, "VmRSS"))
		time.Sleep(100 * time.Millisecond)
	}
	if floodErr != nil {
		t.Fatalf("opening the flood: %v", floodErr)
	}
	mu.Lock()
	opened := len(flood)
	mu.Unlock()
	t.Logf("%d connections; daemon fds %d before, at most %d during; VmRSS %d kB before, at most %d kB during; slowest ps %v",
		opened, baseFds, maxFds, baseRSS, maxRSS, slowest)
	if slowest > 5*time.Second {
		t.Errorf("ps took %v during the flood", slowest)
	}
	if maxFds > baseFds+maxUnauthenticated+20 { // the lobby, ps, and a few to spare
		t.Errorf("the daemon held %d fds during the flood (%d before)", maxFds, baseFds)
	}
	if maxRSS > 200*1024 {
		t.Errorf("the daemon's RSS reached %d kB during the flood", maxRSS)
	}
	mu.Lock()
	for _, c := range flood {
		c.Close()
	}
	flood = nil
	mu.Unlock()
	if took, ok := waitUntil(10*time.Second, func() bool { return fdCount(t, pid) <= baseFds+5 }); !ok {
		t.Errorf("after the flood the daemon holds %d fds, %d before", fdCount(t, pid), baseFds)
	} else {
		t.Logf("fds back to %d within %v of the flood's end", fdCount(t, pid), took)
	}
}

// checkNofileRaised checks that the daemon may open as many files as its hard limit allows: Go's
// runtime raises the soft RLIMIT_NOFILE at start (since Go 1.19), to the hard limit less one.
func checkNofileRaised(t *testing.T, pid int) {
	t.Helper()
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); strings.HasPrefix(line, "Max open files") && len(fields) >= 5 {
			soft, _ := strconv.Atoi(fields[3])
			hard, _ := strconv.Atoi(fields[4])
			if soft < hard-1 {
				t.Errorf("the daemon's RLIMIT_NOFILE is %d, its hard limit %d", soft, hard)
			}
			return
		}
	}
	t.Errorf("no open files limit in /proc/%d/limits", pid)
}

// 30 `logs -f`, 30 `attach` and 10 `wait` clients of a container that writes nothing, killed with
// SIGKILL: the daemon gives back their connections, log files and inotify watches within seconds.
func TestE2EVanishedClientsReleaseEverything(t *testing.T) {
	d, err := startDaemon(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	}()
	if _, stderr, code := d.run("", "run", "-d", "--name", "quiet", "base", "sleep", "1000"); code != 0 {
		t.Fatalf("run -d: %s", stderr)
	}
	defer d.run("", "rm", "-f", "quiet")
	pid := d.cmd.Process.Pid
	baseFds := fdCount(t, pid)
	baseInstances, baseWatches := inotifyWatches(t, pid)

	var clients []*exec.Cmd
	for i := 0; i < 70; i++ {
		command := []string{"logs", "-f", "quiet"}
		if i >= 60 {
			command = []string{"wait", "quiet"}
		} else if i%2 == 1 {
			command = []string{"attach", "quiet"}
		}
		cmd := exec.Command(engineBin, append([]string{"-r", d.root, "-H", d.addr}, command...)...)
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cmd)
	}
	// Each follower holds its connection, the log, an inotify instance and a watch on the log.
	if _, ok := waitUntil(20*time.Second, func() bool {
		_, watches := inotifyWatches(t, pid)
		return watches >= baseWatches+60
	}); !ok {
		_, watches := inotifyWatches(t, pid)
		t.Fatalf("60 followers hold %d inotify watches, want %d", watches-baseWatches, 60)
	}
	if _, ok := waitUntil(20*time.Second, func() bool { return fdCount(t, pid) >= baseFds+60*3+10 }); !ok {
		t.Fatalf("70 clients, and the daemon holds %d fds (%d before)", fdCount(t, pid), baseFds)
	}
	during := fdCount(t, pid)
	for _, cmd := range clients {
		cmd.Process.Kill()
		cmd.Wait()
	}
	took, ok := waitUntil(5*time.Second, func() bool {
		instances, watches := inotifyWatches(t, pid)
		return fdCount(t, pid) <= baseFds && instances <= baseInstances && watches <= baseWatches
	})
	instances, watches := inotifyWatches(t, pid)
	t.Logf("daemon fds: %d before, %d with 70 clients, %d %v after they were killed", baseFds, during, fdCount(t, pid), took)
	if !ok {
		t.Errorf("5 s after 70 clients were killed the daemon holds %d fds (%d before), %d inotify instances (%d) and %d watches (%d)",
			fdCount(t, pid), baseFds, instances, baseInstances, watches, baseWatches)
	}
	if _, stderr, code := d.run("", "ps"); code != 0 {
		t.Errorf("ps after the followers left: %s", stderr)
	}
}

// rawClient speaks the wire by hand, as a proxy or a script with nc would: the token, the request,
// then whatever stdin it was given, and then it shuts its write side (a half-close). It returns what
// came back on stdout and the exit status, and every error frame as an error. The extra frames go
// after the request: stdin, or the terminal size a command with -t asks for.
func rawClient(t *testing.T, d *daemon, extra []testFrame, args ...string) (string, int, error) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", d.addr, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	nc.SetDeadline(time.Now().Add(30 * time.Second))
	conn := &Conn{Conn: nc}
	if _, err := nc.Write(d.requestFrames(t, args...)); err != nil {
		t.Fatal(err)
	}
	for _, f := range extra {
		if err := conn.WriteFrame(f.kind, f.payload); err != nil {
			t.Fatal(err)
		}
	}
	if err := nc.(*net.TCPConn).CloseWrite(); err != nil {
		t.Fatal(err)
	}
	var stdout strings.Builder
	var errs []error
	for {
		kind, length, err := conn.ReadHeader()
		if err != nil {
			return stdout.String(), 0, fmt.Errorf("no exit frame: %w (errors: %v)", err, errs)
		}
		payload, err := conn.ReadPayload(length)
		if err != nil {
			return stdout.String(), 0, err
		}
		switch kind {
		case frameStdout:
			stdout.Write(payload)
		case frameError:
			errs = append(errs, errors.New(string(payload)))
		case frameExit:
			return stdout.String(), int(int32(binary.BigEndian.Uint32(payload))), errors.Join(errs...)
		}
	}
}

// A client that half-closes after its request and stdin gets everything back, as docker's does: the
// end of its input is the end of the container's stdin, not the end of the client.
func TestE2EHalfClosedClient(t *testing.T) {
	stdin := []testFrame{{frameStdin, []byte("one\ntwo\n")}}
	stdout, status, err := rawClient(t, shared, stdin, "run", "-i", "--rm", "base", "sh", "-c", "cat; echo done")
	if stdout != "one\ntwo\ndone\n" || status != 0 || err != nil {
		t.Errorf("run -i with a half-close: %q, exit %d, %v; want the input, done, exit 0", stdout, status, err)
	}
	stdout, status, err = rawClient(t, shared, nil, "run", "--rm", "base", "sh", "-c", "sleep 1; echo hi")
	if stdout != "hi\n" || status != 0 || err != nil {
		t.Errorf("run with a half-close after the request: %q, exit %d, %v; want hi, exit 0", stdout, status, err)
	}
	stdout, status, err = rawClient(t, shared, nil, "run", "--rm", "base", "sh", "-c", "exit 3")
	if status != 3 || err != nil {
		t.Errorf("run with a half-close: %q, exit %d, %v; want exit 3", stdout, status, err)
	}
	// exec -t, whose client answers the terminal frame with its size before it half-closes.
	engine(t, "run", "-d", "--name", "halfexec", "base", "sleep", "100")
	defer shared.run("", "rm", "-f", "halfexec")
	size := []testFrame{{frameResize, resizePayload(24, 80)}}
	stdout, status, err = rawClient(t, shared, size, "exec", "-t", "halfexec", "sh", "-c", "sleep 1; echo tty; exit 4")
	if stdout != "tty\r\n" || status != 4 || err != nil {
		t.Errorf("exec -t with a half-close: %q, exit %d, %v; want tty, exit 4", stdout, status, err)
	}
}

// connectionsTo counts the TCP connections whose local end is addr (the daemon's side of its clients'
// connections) and that the daemon still holds open: established, or closed by the client only
// (CLOSE_WAIT), from the kernel's table.
func connectionsTo(t *testing.T, addr string) int {
	t.Helper()
	_, port, _ := net.SplitHostPort(addr)
	n, _ := strconv.Atoi(port)
	data, err := os.ReadFile("/proc/net/tcp")
	if err != nil {
		t.Fatal(err)
	}
	count := 0
	for _, line := range strings.Split(string(data), "\n")[1:] {
		fields := strings.Fields(line)
		if len(fields) > 3 && strings.HasSuffix(fields[1], fmt.Sprintf(":%04X", n)) && (fields[3] == "01" || fields[3] == "08") {
			count++
		}
	}
	return count
}

// An exec whose client is killed runs on, as docker's does, but the daemon lets go of the client's
// connection at once: nothing else reads it, so without listening for the client the connection (and
// the goroutine serving it) stayed until the command ended.
func TestE2EVanishedExecClientsLetGo(t *testing.T) {
	engine(t, "run", "-d", "--name", "execd", "base", "sleep", "1000")
	defer engine(t, "rm", "-f", "execd")
	before := connectionsTo(t, shared.addr)
	var clients []*exec.Cmd
	for i := 0; i < 10; i++ {
		cmd := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "exec", "execd", "sleep", "1000")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		clients = append(clients, cmd)
	}
	if _, ok := waitUntil(20*time.Second, func() bool { return strings.Count(engine(t, "exec", "execd", "ps"), "sleep 1000") == 11 }); !ok {
		t.Fatalf("the 10 execs did not start:\n%s", engine(t, "exec", "execd", "ps"))
	}
	for _, cmd := range clients {
		cmd.Process.Kill()
		cmd.Wait()
	}
	if _, ok := waitUntil(5*time.Second, func() bool { return connectionsTo(t, shared.addr) <= before }); !ok {
		t.Errorf("5 s after 10 exec clients were killed the daemon holds %d connections (%d before)", connectionsTo(t, shared.addr), before)
	}
	if got := strings.Count(engine(t, "exec", "execd", "ps"), "sleep 1000"); got != 11 {
		t.Errorf("after their clients left, %d of the 10 exec'd commands run, want all", got-1)
	}
}
