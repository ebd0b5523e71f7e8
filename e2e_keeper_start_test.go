// e2e_keeper_start_test.go: a daemon that goes away in the middle of a start, an exec that comes in the
// middle of one, and a daemon upgraded under running containers (keeper.go, runtime.go's reconcile).
//
// A start has a moment the tests can hold: init, started by the keeper and put into the container's
// cgroup, waits for its release, then runs until execve tells the keeper its verdict. A cgroup frozen
// before the start (cgroups_freeze.go) stops init there, and the start waits for the verdict until the
// test thaws it. They use the v1 freezer, which this project's machines have.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// frozenCgroup makes the cgroup of the created container id, frozen, so that its next start holds.
func frozenCgroup(t *testing.T, id string) *Cgroup {
	t.Helper()
	cg := containerCgroup(t, id)
	if cg.hierarchy.Unified {
		t.Fatal("holding a start in a frozen cgroup needs cgroup v1 (see the opening of this file)")
	}
	if err := cg.Create(&HostConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := cg.Freeze(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // a test that failed with the start held leaves it; Remove fails while a process runs in it
		cg.Thaw()
		cg.Remove()
	})
	return cg
}

// heldStart starts the container name, whose cgroup is frozen, and returns once the daemon has sent
// init's release and waits for its verdict. The start's exit status comes on the channel.
func heldStart(t *testing.T, d *daemon, name string) chan int {
	t.Helper()
	started := make(chan int, 1)
	go func() { _, _, code := d.run("", "start", name); started <- code }()
	// The record says running just before the release; the release is one write after it.
	waitFor(t, func() bool { return d.state(t, name).Running })
	time.Sleep(300 * time.Millisecond)
	select {
	case code := <-started:
		t.Fatalf("the start of %s did not wait for its frozen init: exit %d", name, code)
	default:
	}
	return started
}

// TestE2EDaemonKilledAfterRelease: the daemon is killed after it released init and before it heard the
// verdict. The keeper's answer then goes nowhere, and the container must run on all the same (the
// record says it runs), and be adopted by the next daemon.
func TestE2EDaemonKilledAfterRelease(t *testing.T) {
	root := keeperRoot(t)
	d := startOn(t, root)
	id := strings.TrimSpace(d.mustRun(t, "create", "--name", "held", "base", "sh", "-c", "echo started; exec sleep 1000"))
	cg := frozenCgroup(t, id)
	started := heldStart(t, d, "held")
	pid := d.inspectPid(t, "held")
	start := processStartTime(pid)
	d.crash()
	<-started // its client ends with the daemon
	if err := cg.Thaw(); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(root, "containers", id, "container.log")
	waitFor(t, func() bool { data, _ := os.ReadFile(log); return strings.Contains(string(data), "started") })
	time.Sleep(200 * time.Millisecond) // a keeper that failed on its answer would be gone by now
	if processStartTime(pid) != start {
		t.Fatal("the container died with its keeper's answer to a dead daemon")
	}

	d = startOn(t, root)
	if state := d.state(t, "held"); !state.Running || state.Pid != pid {
		t.Errorf("after the restart: %+v, want running as pid %d", state, pid)
	}
	if out := d.mustRun(t, "exec", "held", "hostname"); out != id[:12]+"\n" {
		t.Errorf("exec in the adopted container: %q", out)
	}
	if logs, _, _ := d.run("", "logs", "held"); logs != "started\n" {
		t.Errorf("logs: %q", logs)
	}
	removeAll(t, d)
	if err := d.stop(); err != nil {
		t.Error(err)
	}
	checkNothingLeft(t, root, map[string]string{"held": id})
}

// TestE2EExecDuringStart: an exec that comes while a start waits for init's verdict waits for the start
// to end. Before, it entered the held init, whose root was still the host's: the command ran on the
// host's files.
func TestE2EExecDuringStart(t *testing.T) {
	marker := filepath.Join("/tmp", fmt.Sprintf("engine-exec-during-start-%d", time.Now().UnixNano()))
	if err := os.WriteFile(marker, []byte("the host's file\n"), 0644); err != nil {
		t.Fatal(err)
	}
	defer os.Remove(marker)
	id := strings.TrimSpace(engine(t, "create", "--name", "starting", "base", "sleep", "1000"))
	defer shared.run("", "rm", "-f", id)
	cg := frozenCgroup(t, id)
	started := heldStart(t, shared, "starting")
	type result struct {
		stdout string
		code   int
	}
	execed := make(chan result, 1)
	go func() {
		stdout, _, code := shared.run("", "exec", "starting", "cat", marker)
		execed <- result{stdout, code}
	}()
	time.Sleep(time.Second) // the exec has come while the start is held
	if err := cg.Thaw(); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-started:
		if code != 0 {
			t.Errorf("the held start: exit %d", code)
		}
	case <-time.After(time.Minute):
		t.Fatal("the start still waits a minute after the thaw")
	}
	select {
	case r := <-execed:
		if strings.Contains(r.stdout, "host") || r.code == 0 {
			t.Errorf("an exec during the start read the host's %s: exit %d, %q", marker, r.code, r.stdout)
		}
	case <-time.After(time.Minute):
		t.Fatal("the exec still waits a minute after the start")
	}
	if out := engine(t, "exec", "starting", "hostname"); out != id[:12]+"\n" {
		t.Errorf("exec once started: %q", out)
	}
}

// TestE2EDaemonKilledDuringRuns kills the daemon while clients start containers, some of them in the
// middle of their start. After the restart each container is either running for real (exec works in
// it) or not running, and one whose start was cut before its release says that its command never ran.
// No keeper outlives its container, and rm -f leaves no mount or cgroup.
func TestE2EDaemonKilledDuringRuns(t *testing.T) {
	root := keeperRoot(t)
	d := startOn(t, root)
	counts := map[string]int{}
	for round := 0; round < 3; round++ {
		done := make(chan struct{})
		var started atomic.Int32
		for client := 0; client < 6; client++ {
			go func() {
				defer func() { done <- struct{}{} }()
				for i := 0; i < 20; i++ {
					if _, _, code := d.run("", "run", "-d", "base", "sleep", "1000"); code != 0 {
						return // the daemon is gone
					}
					started.Add(1)
				}
			}()
		}
		// The crash comes once a few have started (more each round), whatever the machine's speed: the
		// other clients are then in the middle of theirs.
		if _, ok := waitUntil(60*time.Second, func() bool { return started.Load() > int32(2*round) }); !ok {
			t.Fatal("no container started in 60 s")
		}
		d.crash()
		for client := 0; client < 6; client++ {
			<-done
		}
		d = startOn(t, root)
		ids := strings.Fields(d.mustRun(t, "ps", "-aq", "--no-trunc"))
		running := 0
		for _, id := range ids {
			state := d.state(t, id)
			switch {
			case state.Running:
				running++
				counts["adopted"]++
				if _, stderr, code := d.run("", "exec", id, "true"); code != 0 {
					t.Errorf("%s is shown running, but exec fails: %s", id[:12], stderr)
				}
			case state.Status == "exited" && state.ExitCode == 125:
				counts["never ran"]++
				if !strings.Contains(state.Error, "never ran") {
					t.Errorf("%s: exit 125 without saying why: %+v", id[:12], state)
				}
			case state.Status == "exited" && state.ExitCode == unknownExitStatus:
				counts["keeper gone"]++
			default:
				counts[state.Status]++
			}
		}
		waitFor(t, func() bool { return len(keepersUnder(root)) == running })
		removeAll(t, d)
		if left := mountsUnder(root); len(left) > 0 {
			t.Errorf("round %d: mounts left after rm -f of every container: %v", round, left)
		}
		for _, id := range ids {
			if left := existingDirs(containerCgroup(t, id)); left != nil {
				t.Errorf("round %d: cgroups of %s left: %v", round, id[:12], left)
			}
		}
	}
	t.Logf("after the crashes: %v", counts)
	if counts["adopted"] == 0 {
		t.Error("no container was running at any of the crashes")
	}
}

// TestE2EUpgradeAdopts: an engine built with another version, started on the root of one that stopped
// (SIGTERM), adopts the containers the old one's keepers keep, and drives them: the keepers run the old
// binary, and speak to the new one.
func TestE2EUpgradeAdopts(t *testing.T) {
	next := filepath.Join(t.TempDir(), "engine-next")
	build := exec.Command("go", "build", "-ldflags", "-X main.version=0.1.0-next", "-o", next, ".")
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building the next engine: %v\n%s", err, out)
	}
	root := keeperRoot(t)
	old := startOn(t, root)
	id := strings.TrimSpace(old.mustRun(t, "run", "-d", "--name", "old", "base", "sh", "-c", `trap "echo term; exit 6" TERM; echo before; while true; do sleep 0.1; done`))
	ttyID := strings.TrimSpace(old.mustRun(t, "run", "-d", "-it", "--name", "oldtty", "base", "sh"))
	keeper := keeperOf(t, root, id)
	keeperExe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", keeper))
	if err := old.terminate(); err != nil {
		t.Fatal(err)
	}

	d := newDaemon(root)
	d.cmd = exec.Command(next, "-d", "-r", root, "-H", d.addr, "--bridge", d.bridge)
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	})
	if out := d.mustRun(t, "version"); !strings.Contains(out, "0.1.0-next") {
		t.Fatalf("the new daemon's version:\n%s", out)
	}
	if exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", keeperOf(t, root, id))); exe != keeperExe {
		t.Errorf("the keeper of old changed: it ran %q, now %q", keeperExe, exe)
	}
	if out := d.mustRun(t, "ps"); strings.Count(out, "Up ") != 2 {
		t.Errorf("ps on the new daemon:\n%s", out)
	}
	if out := d.mustRun(t, "exec", "old", "hostname"); out != id[:12]+"\n" {
		t.Errorf("exec through the new daemon: %q", out)
	}
	stdout, _, code := d.run("echo up''graded\nexit 4\n", "attach", "oldtty")
	if code != 4 || !strings.Contains(stdout, "\r\nupgraded\r\n") {
		t.Errorf("attach to the old -t container: %q %d", stdout, code)
	}
	d.mustRun(t, "stop", "old")
	if status := strings.TrimSpace(d.mustRun(t, "wait", "old")); status != "6" {
		t.Errorf("wait old: %s, want the trap's 6", status)
	}
	if logs, _, _ := d.run("", "logs", "old"); logs != "before\nterm\n" {
		t.Errorf("logs of old: %q", logs)
	}
	checkNothingLeft(t, root, map[string]string{"oldtty": ttyID}) // it exited: its run left nothing
}

// TestE2EInitStartedAheadIsTheContainersOwn: the init a spare keeper started before any container asked
// for it (keeper_init.go) becomes the next container's PID 1, in namespaces of its own and in the
// container's cgroup, and it sees the host's mounts as they are when the container starts, not as they
// were when it was started: a directory the host mounts in between is bound with its contents.
func TestE2EInitStartedAheadIsTheContainersOwn(t *testing.T) {
	engine(t, "run", "--rm", "--net", "none", "base", "true") // takes a spare and has the next one started
	var waiting int
	waitFor(t, func() bool { waiting = waitingInit(shared.root); return waiting != 0 })
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	if err := os.WriteFile(filepath.Join(dir, "late"), []byte("mounted after init started\n"), 0644); err != nil {
		t.Fatal(err)
	}
	engine(t, "run", "-d", "--name", "ahead", "-v", dir+":/late", "base", "sleep", "1000")
	defer engine(t, "rm", "-f", "ahead")
	engine(t, "run", "-d", "--name", "ahead-too", "base", "sleep", "1000")
	defer engine(t, "rm", "-f", "ahead-too")
	pid, other := shared.inspectPid(t, "ahead"), shared.inspectPid(t, "ahead-too")
	if pid != waiting {
		t.Errorf("the container's PID 1 is %d, not the init that waited (%d)", pid, waiting)
	}
	if got := engine(t, "exec", "ahead", "cat", "/late/late"); got != "mounted after init started\n" {
		t.Errorf("the bind of a directory mounted after init started shows %q", got)
	}
	for _, ns := range []string{"pid", "net", "uts", "ipc", "mnt"} {
		host, _ := os.Readlink("/proc/self/ns/" + ns)
		mine, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", pid, ns))
		theirs, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/%s", other, ns))
		if mine == "" || mine == host || mine == theirs {
			t.Errorf("%s namespace %q: the host's is %q, the other container's %q", ns, mine, host, theirs)
		}
	}
	dirs := existingDirs(containerCgroup(t, shared.id(t, "ahead")))
	if len(dirs) == 0 {
		t.Fatal("the container has no cgroup")
	}
	for _, dir := range dirs {
		procs, _ := os.ReadFile(filepath.Join(dir, "cgroup.procs"))
		if !slices.Contains(strings.Fields(string(procs)), strconv.Itoa(pid)) {
			t.Errorf("PID 1 (%d) is not in %s: %q", pid, dir, procs)
		}
	}
}

// waitingInit is the PID of the init that the spare keeper of the daemon on root started and holds
// (its working directory is ROOT, where a container's init has the container's bundle), or 0.
func waitingInit(root string) int {
	entries, _ := os.ReadDir("/proc")
	for _, entry := range entries {
		cmdline, _ := os.ReadFile(filepath.Join("/proc", entry.Name(), "cmdline"))
		cwd, _ := os.Readlink(filepath.Join("/proc", entry.Name(), "cwd"))
		if string(cmdline) == "engine\x00init\x00" && cwd == root {
			pid, _ := strconv.Atoi(entry.Name())
			return pid
		}
	}
	return 0
}
