// e2e_cgroups_test.go: resource limits on real containers, read back from the kernel's cgroup files.
//
// The limits given to `run` must be in the container's cgroup while it runs (v1 or v2 file names, as the
// host has them), a container that outgrows its memory dies by the OOM killer with 137 and OOMKilled, a
// fork bomb stops at its pids limit, devices outside the allow-list cannot be made or opened, `stats`
// shows the numbers, and no cgroup outlives its container, even when a test fails.
package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

func hostCgroups(t *testing.T) *CgroupHierarchy {
	t.Helper()
	h, err := DetectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// containerCgroup is the cgroup the engine gives the container id.
func containerCgroup(t *testing.T, id string) *Cgroup {
	return NewCgroup(hostCgroups(t), cgroupParent+"/"+id)
}

// existingDirs lists which of the container's cgroup directories exist.
func existingDirs(cg *Cgroup) []string {
	var found []string
	for _, dir := range cg.dirs() {
		if _, err := os.Stat(dir); err == nil {
			found = append(found, dir)
		}
	}
	return found
}

// runLimited starts a detached container and, whatever the test's outcome, removes it at the end and
// checks that its cgroup went with it.
func runLimited(t *testing.T, args ...string) string {
	t.Helper()
	id := strings.TrimSpace(engine(t, append([]string{"run", "-d"}, args...)...))
	t.Cleanup(func() {
		shared.run("", "rm", "-f", id)
		if left := existingDirs(containerCgroup(t, id)); left != nil {
			t.Errorf("cgroups left after rm: %v", left)
		}
	})
	return id
}

// cgroupValue reads one interface file of a container's cgroup, by its v1 or v2 name.
func cgroupValue(t *testing.T, cg *Cgroup, controller, v1Name, v2Name string) string {
	name := v1Name
	if cg.hierarchy.Unified {
		name = v2Name
	}
	data, err := os.ReadFile(filepath.Join(cg.path(controller), name))
	if err != nil {
		t.Errorf("reading %s: %v", name, err)
	}
	return strings.TrimSpace(string(data))
}

func TestE2ECgroupLimits(t *testing.T) {
	id := runLimited(t, "--name", "limited", "-m", "32m", "--memory-swap", "64m", "-c", "512", "--cpus", "0.5",
		"--cpuset-cpus", "0", "--pids-limit", "50", "base", "sleep", "1000")
	cg := containerCgroup(t, id)
	v2 := cg.hierarchy.Unified
	for _, f := range []struct{ controller, v1, v2, want1, want2 string }{
		{"memory", "memory.limit_in_bytes", "memory.max", "33554432", "33554432"},
		{"memory", "memory.memsw.limit_in_bytes", "memory.swap.max", "67108864", "33554432"},
		{"cpu", "cpu.shares", "cpu.weight", "512", "20"},
		{"cpu", "cpu.cfs_quota_us", "cpu.max", "50000", "50000 100000"},
		{"cpuset", "cpuset.cpus", "cpuset.cpus", "0", "0"},
		{"pids", "pids.max", "pids.max", "50", "50"},
	} {
		want := f.want1
		if v2 {
			want = f.want2
		}
		if got := cgroupValue(t, cg, f.controller, f.v1, f.v2); got != want {
			t.Errorf("%s: %q, want %q", f.v1, got, want)
		}
	}
	own, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", shared.inspectPid(t, "limited")))
	if !strings.Contains(string(own), "/engine/"+id+"\n") {
		t.Errorf("the container's process is in:\n%s", own)
	}

	var record struct{ HostConfig HostConfig }
	json.Unmarshal([]byte(engine(t, "inspect", id)), &record)
	want := HostConfig{Memory: 32 << 20, MemorySwap: 64 << 20, CpuShares: 512, NanoCpus: 5e8, CpusetCpus: "0", PidsLimit: 50}
	if got := record.HostConfig; got.Memory != want.Memory || got.MemorySwap != want.MemorySwap || got.CpuShares != want.CpuShares ||
		got.NanoCpus != want.NanoCpus || got.CpusetCpus != want.CpusetCpus || got.PidsLimit != want.PidsLimit {
		t.Errorf("inspect HostConfig %+v", got)
	}
	var spec Spec
	config, _ := os.ReadFile(filepath.Join(shared.root, "containers", id, "bundle", "config.json"))
	if json.Unmarshal(config, &spec); spec.Linux.Resources == nil || spec.Linux.Resources.Memory == nil ||
		spec.Linux.Resources.Memory.Limit != 32<<20 || spec.Linux.CgroupsPath != "/engine/"+id {
		t.Errorf("config.json linux: %s", config)
	}

	stats := engine(t, "stats", "--no-stream", "limited")
	if lines := strings.Split(strings.TrimSpace(stats), "\n"); len(lines) != 2 || !strings.Contains(lines[1], "limited") ||
		!strings.Contains(lines[1], " / 32MiB") || !strings.HasPrefix(lines[0], "CONTAINER ID") {
		t.Errorf("stats --no-stream:\n%s", stats)
	}

	engine(t, "stop", "-t", "1", "limited")
	if left := existingDirs(cg); left != nil {
		t.Errorf("cgroups left after the container stopped: %v", left)
	}
}

func TestE2EOOMKilled(t *testing.T) {
	// The shell itself holds the 64 MiB it reads, so it is the process the OOM killer picks.
	stdout, _, code := shared.run("", "run", "--name", "oom", "-m", "16m", "base", "sh", "-c",
		`x=$(head -c 67108864 /dev/zero | tr '\0' a); echo ${#x}`)
	defer shared.run("", "rm", "-f", "oom")
	if code != 137 || stdout != "" {
		t.Errorf("exit %d, output %q; want 137 and nothing", code, stdout)
	}
	state := inspect(t, "oom")["State"].(map[string]any)
	if state["OOMKilled"] != true || state["ExitCode"] != 137.0 {
		t.Errorf("State %v; want OOMKilled and 137", state)
	}
	if left := existingDirs(containerCgroup(t, inspect(t, "oom")["Id"].(string))); left != nil {
		t.Errorf("cgroups left after the container exited: %v", left)
	}
	// 137 alone is no OOM: a container killed by SIGKILL otherwise is not OOMKilled.
	engine(t, "run", "-d", "--name", "killed", "-m", "16m", "base", "sleep", "1000")
	defer shared.run("", "rm", "-f", "killed")
	engine(t, "kill", "killed")
	status := strings.TrimSpace(engine(t, "wait", "killed"))
	if state := inspect(t, "killed")["State"].(map[string]any); status != "137" || state["OOMKilled"] != false {
		t.Errorf("engine kill under a memory limit: exit %s, State %v", status, state)
	}
}

func TestE2EPidsLimit(t *testing.T) {
	id := runLimited(t, "--name", "bomb", "--pids-limit", "20", "base", "sh", "-c", "bomb() { bomb | bomb & }; bomb; sleep 1000")
	cg := containerCgroup(t, id)
	// Count the processes until the kernel has refused forks for a second (pids.events "max" counts
	// the refusals), however slowly a busy machine lets the bomb grow.
	most, refusedSince := 0, time.Time{}
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		procs, _ := os.ReadFile(filepath.Join(cg.path("pids"), "cgroup.procs"))
		most = max(most, len(strings.Fields(string(procs))))
		if refused, _ := readCgroupKey(filepath.Join(cg.path("pids"), "pids.events"), "max"); refused > 0 && refusedSince.IsZero() {
			refusedSince = time.Now()
		}
		if !refusedSince.IsZero() && time.Since(refusedSince) > time.Second {
			break
		}
	}
	if refusedSince.IsZero() {
		t.Error("pids.events counts no fork refused: the bomb never reached the limit")
	}
	if most > 20 || most == 0 {
		t.Errorf("at most %d processes in the container; want up to the limit of 20", most)
	}
	if err := exec.Command("sh", "-c", "true").Run(); err != nil {
		t.Errorf("the host cannot fork: %v", err)
	}
	engine(t, "stop", "-t", "1", "bomb")
	if left := existingDirs(cg); left != nil {
		t.Errorf("cgroups left after the bomb stopped: %v", left)
	}
}

// TestE2EDevices: the container cannot make device nodes outside the allow-list, and cannot open the
// host's root disk even when a node of it is in its file system (put there from the host).
func TestE2EDevices(t *testing.T) {
	var root unix.Stat_t
	unix.Stat("/", &root)
	script := `mknod /tmp/sda b 8 0 2>&1; mknod /tmp/mem c 1 1 2>&1; mknod /tmp/null c 1 3 && echo null-made
head -c1 /tmp/null >/dev/null && echo null-opened; head -c1 /hostdisk 2>&1 >/dev/null; head -c1 /dev/zero | wc -c`
	id := strings.TrimSpace(engine(t, "create", "--net", "none", "base", "sh", "-c", script))
	defer shared.run("", "rm", "-f", id)
	rw := filepath.Join(shared.root, "containers", id, "rw")
	os.MkdirAll(rw, 0755)
	if err := unix.Mknod(filepath.Join(rw, "hostdisk"), unix.S_IFBLK|0600, int(root.Dev)); err != nil {
		t.Fatal(err)
	}
	want := "mknod: /tmp/sda: Operation not permitted\nmknod: /tmp/mem: Operation not permitted\nnull-made\nnull-opened\n" +
		"head: /hostdisk: Operation not permitted\n1\n"
	if got := engine(t, "start", "-a", id); got != want {
		t.Errorf("got:\n%s\nwant:\n%s", got, want)
	}
}

func TestE2EStatsStream(t *testing.T) {
	runLimited(t, "--name", "spinner", "--cpus", "0.5", "base", "sh", "-c", "while :; do :; done")
	cmd := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "stats")
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4096)
	var screens string
	for deadline := time.Now().Add(10 * time.Second); strings.Count(screens, "\033[2J") < 3 && time.Now().Before(deadline); {
		n, err := out.Read(buf)
		if err != nil {
			break
		}
		screens += string(buf[:n])
	}
	cmd.Process.Kill() // the client goes away; the daemon's next write fails and the command ends
	cmd.Wait()
	frames := strings.Split(screens, "\033[2J\033[H")
	if len(frames) < 3 {
		t.Fatalf("stats printed %q", screens)
	}
	for _, line := range strings.Split(frames[2], "\n") {
		if fields := strings.Fields(line); len(fields) > 2 && fields[1] == "spinner" {
			cpu, _ := strconv.ParseFloat(strings.TrimSuffix(fields[2], "%"), 64)
			// The quota caps it at 50%; a busy machine may give it less, but not nothing.
			if cpu < 1 || cpu > 60 {
				t.Errorf("CPU %% of a spinning container limited to half a CPU: %s", line)
			}
			return
		}
	}
	t.Errorf("spinner not in the second frame:\n%s", frames[2])
}

func TestE2EBadResourceFlags(t *testing.T) {
	for _, tt := range []struct {
		want string
		args []string
	}{
		{"invalid --memory", []string{"-m", "abc"}},
		{"invalid --memory", []string{"-m", "-5m"}},
		{"minimum memory limit allowed is 6MB", []string{"-m", "1m"}},
		{"--memory-swap needs --memory", []string{"--memory-swap", "64m"}},
		{"must be at least --memory", []string{"-m", "64m", "--memory-swap", "32m"}},
		{"invalid --memory-swap", []string{"-m", "64m", "--memory-swap", "lots"}},
		{"invalid --cpus", []string{"--cpus", "abc"}},
		{"invalid --cpus", []string{"--cpus", "-1"}},
		{"range of CPUs is from 0.01", []string{"--cpus", "1000"}},
		{"requested CPUs are not available", []string{"--cpuset-cpus", "1000"}},
		{"invalid --cpuset-cpus", []string{"--cpuset-cpus", "0-x"}},
		{`invalid value "-5" for flag -c: a whole number from 0 to 262144`, []string{"-c", "-5"}},
		{"invalid --cpu-shares", []string{"-c", "1"}},
		{"invalid value", []string{"--pids-limit", "many"}},
	} {
		engineFails(t, 125, tt.want, append(append([]string{"create"}, tt.args...), "base", "true")...)
	}
	if out := engine(t, "ps", "-a", "-q", "--filter", "status=created"); strings.Count(out, "\n") > 10 {
		t.Errorf("rejected creations left containers:\n%s", out)
	}
}

// TestE2ECgroupsAfterDaemonKilled: a container still running when its daemon was killed keeps running
// in its cgroup, which the restarted daemon removes when the container is removed.
func TestE2ECgroupsAfterDaemonKilled(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := d.run("", "run", "-d", "-m", "32m", "base", "sleep", "1000")
	if code != 0 {
		t.Fatalf("run: %s", stderr)
	}
	cg := containerCgroup(t, strings.TrimSpace(stdout))
	t.Cleanup(func() { cg.Remove() })
	d.cmd.Process.Kill()
	d.cmd.Wait()
	if existingDirs(cg) == nil {
		t.Error("the cgroup of the running container vanished with the daemon")
	}
	if d, err = startDaemon(root); err != nil {
		t.Fatal(err)
	}
	if existingDirs(cg) == nil {
		t.Error("the cgroup of the adopted container vanished with the restart")
	}
	if err := d.stop(); err != nil { // rm -f of every container first
		t.Error(err)
	}
	if left := existingDirs(cg); left != nil {
		t.Errorf("cgroups left after the container's removal: %v", left)
	}
}

// cgroupMounts lists every mounted cgroup hierarchy, v1 and v2, whether the engine uses it or not.
func cgroupMounts() []string {
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	var mounts []string
	for line := range strings.Lines(string(mountinfo)) {
		before, after, _ := strings.Cut(line, " - ")
		fields := strings.Fields(before)
		if (strings.HasPrefix(after, "cgroup ") || strings.HasPrefix(after, "cgroup2 ")) && len(fields) > 4 {
			mounts = append(mounts, fields[4])
		}
	}
	return mounts
}

// removeRuntimeCgroupParents removes the empty engine/ directories runc and crun leave in every
// hierarchy (blkio, freezer, name=systemd and the unified one too) after running one of our bundles,
// whose cgroupsPath is /engine/<id>: they delete the container's cgroup but not its parent.
func removeRuntimeCgroupParents() {
	for _, mount := range cgroupMounts() {
		unix.Rmdir(filepath.Join(mount, cgroupParent))
	}
}

// cgroupParentsLeft lists the engine/ directories, in any hierarchy, that hold no container's cgroup:
// the daemon removes them when it stops. (One that holds cgroups belongs to another daemon, still
// running.)
func cgroupParentsLeft() []string {
	var left []string
	for _, mount := range cgroupMounts() {
		dir := filepath.Join(mount, cgroupParent)
		entries, err := os.ReadDir(dir)
		children := 0
		for _, entry := range entries {
			if entry.IsDir() {
				children++
			}
		}
		if err == nil && children == 0 {
			left = append(left, dir)
		}
	}
	return left
}

// TestE2ECgroupV2InVM runs the engine on a kernel with cgroup v1 switched off, in a virtual machine
// (contrib/cgroup2-vm.sh): this host's controllers are all bound to v1, so only there can the v2 side
// of cgroups.go meet real memory, cpu, cpuset and pids controllers.
func TestE2ECgroupV2InVM(t *testing.T) {
	out, err := exec.Command("sh", "contrib/cgroup2-vm.sh", engineBin).CombinedOutput()
	if err != nil {
		t.Fatalf("cgroup v2 in a VM: %v\n%s", err, out)
	}
	if strings.Count(string(out), " ok\n") < 15 {
		t.Errorf("too few checks ran:\n%s", out)
	}
}
