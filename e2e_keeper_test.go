// e2e_keeper_test.go: containers outlive their daemon, and the next daemon adopts them (keeper.go,
// runtime.go's reconcile).
//
// Each test runs a daemon of its own, kills it as a crash would (SIGKILL: no clean-up of its own) and
// starts another on the same root. The containers that ran on must be shown running and be driven as
// if nothing had happened (stop, kill, logs -f, attach with and without a terminal, exec, wait, stats,
// rm -f); those that ended meanwhile must show the end their keeper wrote down. Then the keeper's own
// death, a recycled PID, an upgrade to another binary, and a daemon killed in the middle of a start.
// The harness's stop (e2e_test.go) checks that nothing is left: keepers, bridge, rules; the tests
// check mounts and cgroups.
package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// crash kills the daemon with SIGKILL: what a crash, the OOM killer or `kill -9` does.
func (d *daemon) crash() {
	d.cmd.Process.Kill()
	d.cmd.Wait()
}

// startOn starts a daemon on root. At the end of the test the daemon of the moment, if the test did
// not crash it, is stopped with the harness's checks.
func startOn(t *testing.T, root string) *daemon {
	t.Helper()
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil { // still running
			if err := d.stop(); err != nil {
				t.Error(err)
			}
		}
	})
	return d
}

// keeperRoot is a root for a test that crashes daemons. Whatever the test's outcome, no keeper and no
// mount of it is left at its end (a test that fails between a crash and a restart would leave them).
func keeperRoot(t *testing.T) string {
	root := filepath.Join(t.TempDir(), "root")
	t.Cleanup(func() {
		for _, pid := range keepersUnder(root) {
			syscall.Kill(pid, syscall.SIGKILL) // init dies with its keeper
		}
		for _, mount := range mountsUnder(root) {
			syscall.Unmount(mount, syscall.MNT_DETACH)
		}
	})
	return root
}

// containerState is .State of `engine inspect`.
type containerState struct {
	Status                string
	Running, OOMKilled    bool
	Pid, ExitCode         int
	Error                 string
	StartedAt, FinishedAt time.Time
}

func (d *daemon) state(t *testing.T, name string) containerState {
	t.Helper()
	out, stderr, code := d.run("", "inspect", name)
	var c struct{ State containerState }
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil {
		t.Fatalf("inspect %s: exit %d: %s", name, code, stderr)
	}
	return c.State
}

func (d *daemon) id(t *testing.T, name string) string {
	t.Helper()
	out, stderr, code := d.run("", "inspect", name)
	var c struct{ Id string }
	if code != 0 || json.Unmarshal([]byte(out), &c) != nil || c.Id == "" {
		t.Fatalf("inspect %s: exit %d: %s", name, code, stderr)
	}
	return c.Id
}

// mustRun runs a client command and fails the test unless it exits 0.
func (d *daemon) mustRun(t *testing.T, args ...string) string {
	t.Helper()
	stdout, stderr, code := d.run("", args...)
	if code != 0 {
		t.Fatalf("engine %s: exit %d: %s", strings.Join(args, " "), code, stderr)
	}
	return stdout
}

// background starts a client of d that runs while the test goes on, its stdout collected; input is
// its stdin, which the client's end closes (nil without input).
func (d *daemon) background(t *testing.T, withInput bool, args ...string) (*exec.Cmd, io.WriteCloser, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(engineBin, append([]string{"-r", d.root, "-H", d.addr}, args...)...)
	var input io.WriteCloser
	if withInput {
		var err error
		if input, err = cmd.StdinPipe(); err != nil {
			t.Fatal(err)
		}
	}
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, input, out
}

// exitOf waits for a background client to exit, for at most 20 seconds (it is then killed), and
// returns its exit status.
func exitOf(t *testing.T, cmd *exec.Cmd) int {
	t.Helper()
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
		return cmd.ProcessState.ExitCode()
	case <-time.After(20 * time.Second):
		cmd.Process.Kill()
		<-done
		t.Errorf("engine %s still runs after 20s", strings.Join(cmd.Args[5:], " "))
		return -1
	}
}

// keeperOf is the PID of the keeper of container id (a keeper works in its container's directory).
func keeperOf(t *testing.T, root, id string) int {
	t.Helper()
	for _, pid := range keepersUnder(root) {
		if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); cwd == filepath.Join(root, "containers", id) {
			return pid
		}
	}
	t.Fatalf("container %s has no keeper", id)
	return 0
}

// awaitGone waits until the process pid that started at start has exited.
func awaitGone(t *testing.T, what string, pid int, start uint64) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); processStartTime(pid) == start; {
		if time.Now().After(deadline) {
			t.Fatalf("%s (pid %d) still runs after 10s", what, pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// trigger makes the file /tmp/go in the running container whose first process is pid, from the host,
// while no daemon runs: the containers below wait for it to do what they must do with no daemon there.
func trigger(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/root/tmp/go", pid), nil, 0644); err != nil {
		t.Fatal(err)
	}
}

const waitForGo = `while [ ! -e /tmp/go ]; do sleep 0.05; done; `

// TestE2EAdoptAfterKill: containers detached, attached, with a terminal and with limits run on through a
// kill -9 of their daemon, and the next daemon drives them all; the two that ended while no daemon ran
// (one by exit 7, one by the OOM killer) show the status, time and OOM kill their keepers wrote down.
func TestE2EAdoptAfterKill(t *testing.T) {
	root := keeperRoot(t)
	d := startOn(t, root)
	d.mustRun(t, "run", "-d", "--name", "det", "base", "sh", "-c", `trap "echo term; exit 5" TERM; echo before; while true; do sleep 0.1; done`)
	d.mustRun(t, "run", "-d", "-m", "32m", "--pids-limit", "64", "--name", "lim", "base", "sleep", "1000")
	d.mustRun(t, "run", "-d", "-it", "--name", "tty", "base", "sh")
	d.mustRun(t, "run", "-d", "--name", "exit7", "base", "sh", "-c", waitForGo+"echo bye; exit 7")
	d.mustRun(t, "run", "-d", "-m", "16m", "--name", "oom", "base", "sh", "-c", waitForGo+`x=$(head -c 67108864 /dev/zero | tr '\0' a); echo ${#x}`)
	attached, attachedInput, attachedOut := d.background(t, true, "run", "-i", "--name", "att", "base", "sh", "-c", `while read l; do echo got $l; done`)
	waitFor(t, func() bool {
		fmt.Fprintln(attachedInput, "one")
		return strings.Contains(attachedOut.String(), "got one")
	})
	pids := map[string]int{}
	for _, name := range []string{"det", "lim", "tty", "att", "exit7", "oom"} {
		pids[name] = d.inspectPid(t, name)
	}

	d.crash()
	// The attached client loses its daemon and ends; its container does not.
	if code := exitOf(t, attached); code == 0 {
		t.Errorf("run's client exited 0 when its daemon was killed")
	}
	exitedAt := time.Now().UTC()
	for _, name := range []string{"exit7", "oom"} {
		start := processStartTime(pids[name])
		trigger(t, pids[name])
		awaitGone(t, name, pids[name], start)
	}
	time.Sleep(100 * time.Millisecond) // the keepers write exit.json once the output is in the log
	restartedAt := time.Now().UTC()

	d = startOn(t, root)
	for _, name := range []string{"det", "lim", "tty", "att"} {
		if state := d.state(t, name); !state.Running || state.Pid != pids[name] {
			t.Errorf("%s after the restart: %+v, want running as pid %d", name, state, pids[name])
		}
	}
	if out := d.mustRun(t, "ps"); strings.Count(out, "Up ") != 4 {
		t.Errorf("ps after the restart:\n%s", out)
	}
	exit7 := d.state(t, "exit7")
	if exit7.Running || exit7.ExitCode != 7 || exit7.OOMKilled || exit7.Error != "" ||
		exit7.FinishedAt.Before(exitedAt.Add(-time.Second)) || exit7.FinishedAt.After(restartedAt) {
		t.Errorf("exit7, which exited while no daemon ran (between %v and %v): %+v", exitedAt, restartedAt, exit7)
	}
	if logs, _, _ := d.run("", "logs", "exit7"); logs != "bye\n" {
		t.Errorf("logs of exit7: %q", logs)
	}
	if oom := d.state(t, "oom"); oom.Running || oom.ExitCode != 137 || !oom.OOMKilled {
		t.Errorf("oom, killed by the OOM killer while no daemon ran: %+v", oom)
	}

	// logs -f follows the adopted container's log, and stop ends it through its keeper.
	follower, _, followed := d.background(t, false, "logs", "-f", "det")
	waitFor(t, func() bool { return followed.String() == "before\n" })
	d.mustRun(t, "stop", "-t", "10", "det")
	if code := exitOf(t, follower); code != 0 || followed.String() != "before\nterm\n" {
		t.Errorf("logs -f of det across its stop: exit %d, %q", code, followed.String())
	}
	if status := strings.TrimSpace(d.mustRun(t, "wait", "det")); status != "5" {
		t.Errorf("wait det: %s, want the trap's 5", status)
	}

	// exec runs inside the adopted container, its cgroup included; stats reads that cgroup.
	if out := d.mustRun(t, "exec", "lim", "cat", "/proc/self/cgroup"); !execInContainerCgroup(out, d.id(t, "lim")) {
		t.Errorf("exec in the adopted lim ran outside its cgroups:\n%s", out)
	}
	if out := d.mustRun(t, "stats", "--no-stream", "lim"); !strings.Contains(out, "lim") || !strings.Contains(out, "32MiB") {
		t.Errorf("stats of the adopted lim:\n%s", out)
	}
	d.mustRun(t, "kill", "lim")
	if status := strings.TrimSpace(d.mustRun(t, "wait", "lim")); status != "137" {
		t.Errorf("wait lim after kill: %s", status)
	}

	// attach passes input to the adopted container; the end of it closes its stdin (run -i's StdinOnce).
	attach, input, attachOut := d.background(t, true, "attach", "att")
	waitFor(t, func() bool {
		fmt.Fprintln(input, "two")
		return strings.Contains(attachOut.String(), "got two")
	})
	input.Close()
	if code := exitOf(t, attach); code != 0 {
		t.Errorf("attach to att: exit %d, output %q", code, attachOut.String())
	}

	// A real terminal attaches to the adopted -t container.
	tm := newTmux(t, 100, 30)
	tm.typeLine(fmt.Sprintf("%s -r %s -H %s attach tty; echo rc=$?", engineBin, root, d.addr))
	tm.typeLine("echo $((6*7))")
	tm.waitScreen("\n42\n")
	tm.typeLine("exit 3")
	tm.waitScreen("rc=3\n")

	ids := map[string]string{}
	for _, name := range []string{"det", "lim", "tty", "att", "exit7", "oom"} {
		ids[name] = d.id(t, name)
	}
	removeAll(t, d)
	if err := d.stop(); err != nil {
		t.Error(err)
	}
	checkNothingLeft(t, root, ids)
}

// removeAll removes every container of d with rm -f and checks that their veth pairs went with them:
// the host's ends leave the bridge (the kernel deletes a pair with the namespace of its other end).
func removeAll(t *testing.T, d *daemon) {
	t.Helper()
	if ids := strings.Fields(d.mustRun(t, "ps", "-aq")); len(ids) > 0 {
		d.mustRun(t, append([]string{"rm", "-f"}, ids...)...)
	}
	ports := func() []os.DirEntry {
		entries, _ := os.ReadDir(filepath.Join("/sys/class/net", d.bridge, "brif"))
		return entries
	}
	for deadline := time.Now().Add(5 * time.Second); len(ports()) > 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Errorf("veths left on %s after rm -f of every container: %v", d.bridge, ports())
			return
		}
	}
}

// execInContainerCgroup tells whether /proc/self/cgroup, read by an exec, shows the container's own
// cgroups for the memory, pids and devices controllers (containers have no cgroup namespace: "/" would
// be the host's root cgroup).
func execInContainerCgroup(procCgroup, id string) bool {
	found := 0
	for _, line := range strings.Split(procCgroup, "\n") {
		fields := strings.SplitN(line, ":", 3)
		if len(fields) != 3 {
			continue
		}
		switch fields[1] {
		case "memory", "pids", "devices", "": // "" is v2's single hierarchy
			if fields[2] != "/"+cgroupParent+"/"+id {
				if fields[1] == "" && fields[2] == "/" { // v1's empty unified line
					continue
				}
				return false
			}
			found++
		}
	}
	return found > 0
}

// checkNothingLeft checks that the containers ids left no mount and no cgroup behind.
func checkNothingLeft(t *testing.T, root string, ids map[string]string) {
	t.Helper()
	if left := mountsUnder(root); len(left) > 0 {
		t.Errorf("mounts left: %v", left)
	}
	for name, id := range ids {
		if left := existingDirs(containerCgroup(t, id)); left != nil {
			t.Errorf("cgroups of %s left: %v", name, left)
		}
	}
}

// TestE2EKeeperKilled: a keeper killed with SIGKILL takes its container's process with it, and the end
// is recorded as unknown (255), with the daemon there and with no daemon there; nothing of the
// container's run is left.
func TestE2EKeeperKilled(t *testing.T) {
	root := keeperRoot(t)
	d := startOn(t, root)
	ids := map[string]string{}
	for _, name := range []string{"alive", "down"} {
		ids[name] = strings.TrimSpace(d.mustRun(t, "run", "-d", "--name", name, "base", "sleep", "1000"))
	}
	// With the daemon there: its monitor hears the keeper go.
	pid := d.inspectPid(t, "alive")
	start := processStartTime(pid)
	syscall.Kill(keeperOf(t, root, ids["alive"]), syscall.SIGKILL)
	awaitGone(t, "the container of a killed keeper", pid, start)
	waitFor(t, func() bool { return !d.state(t, "alive").Running })
	if state := d.state(t, "alive"); state.ExitCode != unknownExitStatus || !strings.Contains(state.Error, "keeper is gone") {
		t.Errorf("a container whose keeper was killed: %+v", state)
	}
	if left := mountsUnder(filepath.Join(root, "containers", ids["alive"])); len(left) > 0 {
		t.Errorf("mounts of the container whose keeper was killed: %v", left)
	}
	if left := existingDirs(containerCgroup(t, ids["alive"])); left != nil {
		t.Errorf("cgroups of the container whose keeper was killed: %v", left)
	}

	// With no daemon there: the next one finds neither the keeper nor an exit.json.
	pid = d.inspectPid(t, "down")
	start = processStartTime(pid)
	d.crash()
	syscall.Kill(keeperOf(t, root, ids["down"]), syscall.SIGKILL)
	awaitGone(t, "the container of a killed keeper", pid, start)
	d = startOn(t, root)
	if state := d.state(t, "down"); state.Running || state.ExitCode != unknownExitStatus || !strings.Contains(state.Error, "keeper is gone") {
		t.Errorf("a container whose keeper was killed while no daemon ran: %+v", state)
	}
	if out, _, _ := d.run("", "ps", "-a"); strings.Contains(out, "Up ") {
		t.Errorf("ps after the keepers were killed:\n%s", out)
	}
	removeAll(t, d)
	if err := d.stop(); err != nil {
		t.Error(err)
	}
	checkNothingLeft(t, root, ids)
}

// TestE2EPidReuse: the record of a container whose keeper died while no daemon ran names a PID that now
// belongs to an unrelated process (as a recycled PID would). The next daemon neither adopts nor kills
// that process: the record's start time is not the process's.
func TestE2EPidReuse(t *testing.T) {
	root := keeperRoot(t)
	d := startOn(t, root)
	id := strings.TrimSpace(d.mustRun(t, "run", "-d", "--name", "victim", "base", "sleep", "1000"))
	pid := d.inspectPid(t, "victim")
	start := processStartTime(pid)
	d.crash()
	syscall.Kill(keeperOf(t, root, id), syscall.SIGKILL)
	awaitGone(t, "the container of a killed keeper", pid, start)

	unrelated := exec.Command("sleep", "1000")
	if err := unrelated.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { unrelated.Process.Kill(); unrelated.Wait() }()
	unrelatedStart := processStartTime(unrelated.Process.Pid)
	recordPid(t, filepath.Join(root, "containers", id, "config.json"), unrelated.Process.Pid)

	d = startOn(t, root)
	if state := d.state(t, "victim"); state.Running || state.ExitCode != unknownExitStatus {
		t.Errorf("a record naming a recycled PID was taken for a running container: %+v", state)
	}
	if _, _, code := d.run("", "kill", "victim"); code == 0 {
		t.Error("kill of the container whose PID was recycled succeeded")
	}
	d.mustRun(t, "rm", "-f", "victim")
	if processStartTime(unrelated.Process.Pid) != unrelatedStart {
		t.Errorf("the unrelated process %d that had the container's PID was killed", unrelated.Process.Pid)
	}
}

// recordPid edits a stopped daemon's record of a container so that its PID is pid, its start time left.
func recordPid(t *testing.T, path string, pid int) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var record map[string]any
	if err := json.Unmarshal(data, &record); err != nil {
		t.Fatal(err)
	}
	record["State"].(map[string]any)["Pid"] = pid
	data, _ = json.Marshal(record)
	if err := os.WriteFile(path, data, 0600); err != nil {
		t.Fatal(err)
	}
}

// TestE2EKeeperOutlivesRestarts: a keeper adopted by one daemon after another holds no more descriptors
// for it: each dead daemon's connection is dropped. The container's end still reaches the last one.
func TestE2EKeeperOutlivesRestarts(t *testing.T) {
	root := keeperRoot(t)
	d := startOn(t, root)
	id := strings.TrimSpace(d.mustRun(t, "run", "-d", "--name", "long", "base", "sh", "-c", waitForGo+"exit 9"))
	keeper := keeperOf(t, root, id)
	descriptors := func() int {
		entries, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", keeper))
		return len(entries)
	}
	before := descriptors()
	for restart := 0; restart < 4; restart++ {
		d.crash()
		d = startOn(t, root)
	}
	waitFor(t, func() bool { return descriptors() == before })
	trigger(t, d.inspectPid(t, "long"))
	if status := strings.TrimSpace(d.mustRun(t, "wait", "long")); status != "9" {
		t.Errorf("wait after four restarts: %s, want 9", status)
	}
}
