// e2e_test.go: the engine as a user drives it.
//
// TestMain builds the binary, starts `engine -d` on a temporary root and a free loopback port, and makes
// the busybox `base` image with contrib/mkimage-busybox.sh. Every TestE2E* then runs the real client
// against it and runs real containers, so these tests need root, overlayfs and busybox-static; they fail
// (never skip) without them. Tests that restart a daemon start one of their own.
//
// Under `go test -race` the binary is race-enabled (e2e_race_test.go) and its processes report races to
// files under raceLogs (GORACE); the run fails if any report is there at the end (e2e_daemon_test.go).
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

var (
	engineBin string  // the binary under test
	shared    *daemon // the daemon most tests use
	raceLogs  string  // where a race-enabled engine's processes write their reports
)

func TestMain(m *testing.M) {
	os.Exit(runTests(m))
}

func runTests(m *testing.M) int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "e2e tests run real containers: run them as root (contrib/test.sh does)")
		return 1
	}
	dir, err := os.MkdirTemp("", "engine-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer os.RemoveAll(dir)
	engineBin = filepath.Join(dir, "engine")
	build := exec.Command("go", append(append([]string{"build"}, engineBuild.flags...), "-o", engineBin, ".")...)
	build.Env = append(os.Environ(), engineBuild.env...)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building engine: %v\n%s", err, out)
		return 1
	}
	raceLogs = filepath.Join(dir, "race")
	if err := os.Mkdir(raceLogs, 0o700); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	os.Setenv("GORACE", gorace(filepath.Join(raceLogs, "client"))) // the clients' (daemons get their own)
	// An engine/ parent that is already empty now belongs to a daemon outside the tests (the one
	// contrib/setup.sh starts keeps its own while it runs): only those the tests leave count.
	before := cgroupParentsLeft()
	shared, err = startDaemon(filepath.Join(dir, "root"))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	status := m.Run()
	if err := shared.stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		status = 1
	}
	if left := slices.DeleteFunc(cgroupParentsLeft(), func(dir string) bool { return slices.Contains(before, dir) }); len(left) > 0 {
		fmt.Fprintf(os.Stderr, "empty cgroup parents left behind: %v\n", left)
		status = 1
	}
	if leftover := mountsUnder(dir); len(leftover) > 0 {
		fmt.Fprintf(os.Stderr, "mounts left behind: %v\n", leftover)
		status = 1
	}
	if reports := raceReports(raceLogs); reports != "" {
		fmt.Fprintf(os.Stderr, "data races found by the race-enabled engine:\n%s", reports)
		status = 1
	}
	return status
}

// engine runs a command on the shared daemon and fails the test unless it exits 0.
func engine(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := shared.run("", args...)
	if code != 0 {
		t.Fatalf("engine %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

// engineFails runs a command that must fail with the given status and one line on stderr.
func engineFails(t *testing.T, status int, want string, args ...string) {
	t.Helper()
	_, stderr, code := shared.run("", args...)
	if code != status || !strings.Contains(stderr, want) || strings.Count(stderr, "\n") != 1 {
		t.Errorf("engine %s: got exit %d, stderr %q; want exit %d and one line with %q", strings.Join(args, " "), code, stderr, status, want)
	}
}

func inspect(t *testing.T, name string) map[string]any {
	t.Helper()
	var result map[string]any
	if err := json.Unmarshal([]byte(engine(t, "inspect", name)), &result); err != nil {
		t.Fatal(err)
	}
	return result
}

func mountsUnder(dir string) []string {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	var found []string
	for _, line := range strings.Split(string(data), "\n") {
		if fields := strings.Fields(line); len(fields) > 4 && strings.HasPrefix(fields[4], dir) {
			found = append(found, fields[4])
		}
	}
	return found
}

func TestE2ERunEcho(t *testing.T) {
	stdout, stderr, code := shared.run("", "run", "base", "echo", "hi")
	if stdout != "hi\n" || stderr != "" || code != 0 {
		t.Fatalf("got %q %q %d", stdout, stderr, code)
	}
}

func TestE2EExitStatusAndStderr(t *testing.T) {
	stdout, stderr, code := shared.run("", "run", "base", "sh", "-c", "echo out; echo oops >&2; exit 3")
	if stdout != "out\n" || stderr != "oops\n" || code != 3 {
		t.Fatalf("got %q %q %d", stdout, stderr, code)
	}
	// A container killed from outside: the attached client exits 128+9, as a shell reports it.
	done := make(chan int)
	go func() { _, _, code := shared.run("", "run", "--name", "victim", "base", "sleep", "100"); done <- code }()
	waitFor(t, func() bool { _, _, code := shared.run("", "kill", "victim"); return code == 0 })
	if code := <-done; code != 137 {
		t.Errorf("run of a killed container: exit %d, want 137", code)
	}
	engine(t, "rm", "victim")
	engineFails(t, 127, `exec: "nosuch": executable file not found in $PATH`, "run", "base", "nosuch")
	engineFails(t, 126, "permission denied", "run", "base", "/etc/passwd")
	engineFails(t, 125, "engine: run: no such image: nosuchimage", "run", "--pull", "never", "nosuchimage", "true")
}

func TestE2EStdin(t *testing.T) {
	if stdout, _, code := shared.run("hello\n", "run", "-i", "base", "cat"); stdout != "hello\n" || code != 0 {
		t.Errorf("run -i cat: %q %d", stdout, code)
	}
	big := strings.Repeat("0123456789abcdef", 1<<16) // 1 MiB: several stdin frames
	if stdout, _, code := shared.run(big, "run", "-i", "base", "wc", "-c"); strings.TrimSpace(stdout) != "1048576" || code != 0 {
		t.Errorf("1 MiB through stdin: %q %d", stdout, code)
	}
	// Without -i the container's stdin is empty, and the client never reads its own.
	if stdout, _, code := shared.run("ignored", "run", "base", "cat"); stdout != "" || code != 0 {
		t.Errorf("run cat without -i: %q %d", stdout, code)
	}
	// A client without any stdin at all (fd 0 closed), as some CI jobs run.
	cmd := exec.Command("sh", "-c", `"$0" -r "$1" -H "$2" run -i base echo ok <&-`, engineBin, shared.root, shared.addr)
	if out, err := cmd.CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Errorf("client with closed stdin: %q %v", out, err)
	}
}

func TestE2EDetachedLifecycle(t *testing.T) {
	id := strings.TrimSpace(engine(t, "run", "-d", "--name", "web", "--label", "k=v", "base", "sh", "-c", "echo started; exec sleep 1000"))
	defer shared.run("", "rm", "-f", "web")
	if len(id) != 64 {
		t.Fatalf("run -d printed %q, want a 64-hex ID", id)
	}
	for _, args := range [][]string{{"ps"}, {"ps", "--filter", "name=web"}, {"ps", "--filter", "label=k=v"}, {"ps", "-a", "--filter", "label=k"}, {"ps", "--filter", "status=running"}} {
		if !strings.Contains(engine(t, args...), "web") {
			t.Errorf("%v does not list web", args)
		}
	}
	for _, args := range [][]string{{"ps", "--filter", "label=k=w"}, {"ps", "--filter", "status=exited"}, {"ps", "--filter", "name=nosuch"}} {
		if strings.Contains(engine(t, args...), "web") {
			t.Errorf("%v lists web", args)
		}
	}
	if got := strings.TrimSpace(engine(t, "ps", "-q", "--filter", "name=web")); got != id[:12] {
		t.Errorf("ps -q: %q", got)
	}
	state := inspect(t, "web")["State"].(map[string]any)
	pid := int(state["Pid"].(float64))
	if state["Status"] != "running" || pid <= 0 || syscall.Kill(pid, 0) != nil {
		t.Fatalf("inspect: %v", state)
	}
	waitFor(t, func() bool { return engine(t, "logs", "web") == "started\n" })

	start := time.Now()
	engine(t, "stop", "-t", "1", "web") // sleep as PID 1 ignores SIGTERM: stopped by SIGKILL after 1s
	if elapsed := time.Since(start); elapsed < time.Second {
		t.Errorf("stop -t 1 took %v", elapsed)
	}
	if code := inspect(t, "web")["State"].(map[string]any)["ExitCode"]; code != 137.0 {
		t.Errorf("exit code after stop: %v", code)
	}
	if !strings.Contains(engine(t, "ps", "-a", "--filter", "status=exited"), "Exited (137)") {
		t.Errorf("ps -a does not show Exited (137)")
	}
	engine(t, "start", "web")
	engine(t, "restart", "-t", "1", "web")
	// restart returns once sh runs, perhaps before its echo: the third line comes soon after.
	waitFor(t, func() bool { return engine(t, "logs", "web") == "started\nstarted\nstarted\n" })
	engine(t, "kill", "-s", "TERM", "web") // ignored by PID 1, as in docker
	engineFails(t, 125, "is running", "rm", "web")
	engine(t, "kill", "web")
	if got := engine(t, "wait", "web"); got != "137\n" {
		t.Errorf("wait: %q", got)
	}
	engine(t, "rm", "web")
	engineFails(t, 125, "no such object: web", "inspect", "web")
}

func TestE2ELogsFollow(t *testing.T) {
	engine(t, "run", "-d", "--name", "follow", "base", "sh", "-c", "echo a; echo e >&2; sleep 1; echo b")
	defer shared.run("", "rm", "-f", "follow")
	stdout, stderr, code := shared.run("", "logs", "-f", "follow")
	if stdout != "a\nb\n" || stderr != "e\n" || code != 0 {
		t.Errorf("logs -f: %q %q %d", stdout, stderr, code)
	}
}

func TestE2ECreateStartAttach(t *testing.T) {
	id := strings.TrimSpace(engine(t, "create", "--name", "cs", "base", "sh", "-c", "echo from create; exit 4"))
	defer shared.run("", "rm", "-f", "cs")
	if status := inspect(t, id)["State"].(map[string]any)["Status"]; status != "created" {
		t.Errorf("status after create: %v", status)
	}
	stdout, _, code := shared.run("", "start", "-a", "cs")
	if stdout != "from create\n" || code != 4 {
		t.Errorf("start -a: %q %d", stdout, code)
	}
	if stdout, _, code := shared.run("in\n", "run", "-i", "--rm", "base", "cat"); stdout != "in\n" || code != 0 {
		t.Errorf("run -i --rm: %q %d", stdout, code)
	}
}

func TestE2EAutoRemove(t *testing.T) {
	engine(t, "run", "--rm", "--name", "gone", "base", "true")
	engineFails(t, 125, "no such container: gone", "logs", "gone")
	engineFails(t, 127, "executable file not found", "run", "--rm", "--name", "gone2", "base", "nosuch")
	engineFails(t, 125, "no such container: gone2", "logs", "gone2")
}

func TestE2EConfigFlags(t *testing.T) {
	out := engine(t, "run", "--rm", "-e", "A=1", "-e", "PATH=/bin", "-w", "/work/dir", "-u", "nobody", "-h", "box", "base",
		"sh", "-c", `echo "$A $PATH $HOME $(pwd) $(id -u) $(hostname) $HOSTNAME"`)
	if out != "1 /bin /home /work/dir 65534 box box\n" {
		t.Errorf("got %q", out)
	}
	if out := engine(t, "run", "--rm", "-u", "1000:1", "base", "id"); out != "uid=1000 gid=1(daemon)\n" {
		t.Errorf("-u 1000:1: %q", out)
	}
	engineFails(t, 125, "unable to find user bob", "run", "--rm", "-u", "bob", "base", "true")
	engineFails(t, 125, "flag provided but not defined: -bogus", "run", "--bogus", "base", "true")
	engineFails(t, 125, "requires at least 1 argument", "run")
	engineFails(t, 125, `unknown network mode "bridge0"`, "run", "--net", "bridge0", "base", "true")
	engineFails(t, 125, "invalid container name", "run", "--name", "no/slash", "base", "true")
}

func TestE2EIsolation(t *testing.T) {
	marker, err := os.CreateTemp("", "engine-host-only-")
	if err != nil {
		t.Fatal(err)
	}
	marker.Close()
	defer os.Remove(marker.Name())
	hostMounts := mountCount()
	// CAP_SYS_ADMIN, which containers lack by default, so that the mount inside succeeds: it must stay inside.
	id := strings.TrimSpace(engine(t, "create", "--net", "none", "--cap-add", "SYS_ADMIN", "base", "sh", "-c", strings.Join([]string{
		"hostname", "cat /etc/hostname", "ps -o pid | wc -l", "tr '\\0' ' ' </proc/1/cmdline; echo",
		"test -e " + marker.Name() + " && echo host-visible || echo host-invisible",
		"mkdir /mnt && mount -t tmpfs none /mnt && echo mounted", "touch /sys/x 2>/dev/null && echo sys-writable || echo sys-readonly",
		"ls /dev | tr '\\n' ' '; echo", "ip -o link | wc -l", "grep -c ^ /proc/net/dev",
	}, "; ")))
	defer shared.run("", "rm", "-f", id)
	out := strings.Split(engine(t, "start", "-a", id), "\n")
	// Line by line: hostname, /etc/hostname, processes (nothing of the host's), ..., network devices (lo).
	checks := map[int]string{0: id[:12], 1: id[:12], 4: "host-invisible", 5: "mounted",
		6: "sys-readonly", 7: "core fd full mqueue null ptmx pts random shm stderr stdin stdout tty urandom zero ",
		8: "1", 9: "3"}
	if _, err := os.Stat("/proc/kcore"); err != nil {
		checks[7] = strings.TrimPrefix(checks[7], "core ")
	}
	for line, expected := range checks {
		if line >= len(out) || out[line] != expected {
			t.Errorf("line %d: got %q, want %q (all: %q)", line, safeLine(out, line), expected, out)
		}
	}
	// The header, sh and the pipeline (ps, wc, perhaps a forked sh): a handful, where the host has many.
	if n, _ := strconv.Atoi(safeLine(out, 2)); n < 3 || n > 5 {
		t.Errorf("ps inside lists %q lines", safeLine(out, 2))
	}
	if !strings.HasPrefix(out[3], "sh -c hostname;") {
		t.Errorf("/proc/1/cmdline is %q, want the command", out[3])
	}
	if mountCount() != hostMounts {
		t.Errorf("the container's mount reached the host")
	}
}

func safeLine(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<missing>"
}

func mountCount() int {
	data, _ := os.ReadFile("/proc/self/mountinfo")
	return strings.Count(string(data), "\n")
}

func TestE2ENetworkModes(t *testing.T) {
	if out := engine(t, "run", "--rm", "--net", "none", "base", "ip", "-o", "link"); strings.Count(out, "\n") != 1 || !strings.Contains(out, "lo:") || !strings.Contains(out, "UP") {
		t.Errorf("--net none: %q, want only lo, up", out)
	}
	hostLinks, _ := net.Interfaces()
	out := engine(t, "run", "--rm", "--net", "host", "base", "ip", "-o", "link")
	if strings.Count(out, "\n") != len(hostLinks) {
		t.Errorf("--net host sees %d links, the host has %d", strings.Count(out, "\n"), len(hostLinks))
	}
	hostname, _ := os.Hostname()
	if out := engine(t, "run", "--rm", "--net", "host", "base", "hostname"); out != hostname+"\n" {
		t.Errorf("--net host hostname %q, want %q", out, hostname)
	}
}

func waitFor(t *testing.T, condition func() bool) {
	t.Helper()
	for i := 0; i < 100; i++ {
		if condition() {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("condition not met in 5s")
}
