package main

import (
	"bufio"
	"crypto/rand"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

func TestCheckResources(t *testing.T) {
	v1 := &CgroupHierarchy{Mounts: map[string]string{"memory": "/m", "cpu": "/c", "cpuacct": "/c", "cpuset": "/s", "pids": "/p", "devices": "/d"}, Swap: true}
	hc := &HostConfig{Memory: 64 << 20}
	if err := checkResources(hc, v1); err != nil || hc.MemorySwap != 128<<20 {
		t.Errorf("-m 64m: %v, MemorySwap %d; want twice the memory", err, hc.MemorySwap)
	}
	noSwap := &CgroupHierarchy{Mounts: v1.Mounts}
	hc = &HostConfig{Memory: 64 << 20}
	if err := checkResources(hc, noSwap); err != nil || hc.MemorySwap != -1 {
		t.Errorf("-m 64m without swap accounting: %v, MemorySwap %d; want -1", err, hc.MemorySwap)
	}
	good := []HostConfig{
		{}, {Memory: 6 << 20}, {Memory: 64 << 20, MemorySwap: 64 << 20}, {Memory: 64 << 20, MemorySwap: -1},
		{CpuShares: 2}, {CpuShares: 262144}, {NanoCpus: 1e7}, {NanoCpus: int64(runtime.NumCPU()) * 1e9},
		{CpusetCpus: "0"}, {CpusetCpus: "0-" + strconv.Itoa(runtime.NumCPU()-1)}, {PidsLimit: 1},
	}
	for _, hc := range good {
		if err := checkResources(&hc, v1); err != nil {
			t.Errorf("%+v: %v", hc, err)
		}
	}
	bad := map[string]struct {
		hc        HostConfig
		hierarchy *CgroupHierarchy
	}{
		"minimum memory":          {HostConfig{Memory: 6<<20 - 1}, v1},
		"needs --memory":          {HostConfig{MemorySwap: 64 << 20}, v1},
		"must be at least":        {HostConfig{Memory: 64 << 20, MemorySwap: 32 << 20}, v1},
		"does not account swap":   {HostConfig{Memory: 64 << 20, MemorySwap: 128 << 20}, noSwap},
		"invalid --cpu-shares 1":  {HostConfig{CpuShares: 1}, v1},
		"invalid --cpu-shares -5": {HostConfig{CpuShares: -5}, v1},
		"range of CPUs":           {HostConfig{NanoCpus: int64(runtime.NumCPU())*1e9 + 1}, v1},
		"from 0.01":               {HostConfig{NanoCpus: 1e6}, v1},
		"not available":           {HostConfig{CpusetCpus: "4000"}, v1},
		"invalid --cpuset-cpus":   {HostConfig{CpusetCpus: "1-0"}, v1},
		"needs the pids cgroup":   {HostConfig{PidsLimit: 5}, &CgroupHierarchy{Mounts: map[string]string{"memory": "/m"}}},
	}
	for want, tt := range bad {
		err := checkResources(&tt.hc, tt.hierarchy)
		if err == nil || !strings.Contains(err.Error(), strings.Fields(want)[0]) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%+v: got %v, want one line with %q", tt.hc, err, want)
		}
	}
	if cpus, err := parseCPUList("0-2,5,7-7"); err != nil || !slices.Equal(cpus, []int{0, 1, 2, 5, 7}) {
		t.Errorf("parseCPUList = %v, %v", cpus, err)
	}
}

func TestCpuConversions(t *testing.T) {
	for shares, weight := range map[int64]int64{2: 1, 1024: 39, 262144: 10000} {
		if got := cpuWeight(shares); got != weight {
			t.Errorf("cpuWeight(%d) = %d, want %d", shares, got, weight)
		}
	}
	if got := cpuQuota(1500000000); got != 150000 {
		t.Errorf("cpuQuota(1.5 CPUs) = %d, want 150000", got)
	}
}

// The OCI config describes the same limits and device rules, in the runtime spec's units.
func TestSpecResources(t *testing.T) {
	hc := limitsForTest
	r := specResources(&hc)
	if r.Memory == nil || r.Memory.Limit != 64<<20 || r.Memory.Swap != 96<<20 {
		t.Errorf("memory %+v", r.Memory)
	}
	if r.CPU == nil || r.CPU.Shares != 512 || r.CPU.Quota != 150000 || r.CPU.Period != 100000 || r.CPU.Cpus != "0" {
		t.Errorf("cpu %+v", r.CPU)
	}
	if r.Pids == nil || r.Pids.Limit != 30 {
		t.Errorf("pids %+v", r.Pids)
	}
	if len(r.Devices) != 10 || r.Devices[0].Allow || r.Devices[0].Type != "" || r.Devices[0].Access != "rwm" {
		t.Fatalf("devices %+v: want deny all, then 9 allowed", r.Devices)
	}
	if pts := r.Devices[9]; !pts.Allow || pts.Type != "c" || *pts.Major != 136 || pts.Minor != nil {
		t.Errorf("the pts rule %+v, want c 136:*", pts)
	}
	if none := specResources(&HostConfig{}); none.Memory != nil || none.CPU != nil || none.Pids != nil || len(none.Devices) != 10 {
		t.Errorf("no limits: %+v", none)
	}
}

func TestCgroupV1Mounts(t *testing.T) {
	mountinfo := `30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
31 30 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime - cgroup cgroup rw,cpu,cpuacct
33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset
34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw
41 30 0:38 / /mnt/second/memory rw,relatime - cgroup cgroup rw,memory
`
	want := map[string]string{"cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct", "cpuset": "/sys/fs/cgroup/cpuset", "memory": "/sys/fs/cgroup/memory", "freezer": "/sys/fs/cgroup/freezer"}
	got := cgroupV1Mounts(mountinfo)
	if len(got) != len(want) {
		t.Errorf("got %v, want %v", got, want)
	}
	for controller, mount := range want {
		if got[controller] != mount {
			t.Errorf("%s: got %q, want %q", controller, got[controller], mount)
		}
	}
	// Co-mounted controllers share one directory: it is made, joined and removed once.
	cg := NewCgroup(&CgroupHierarchy{Mounts: got}, "engine/x")
	if dirs := cg.dirs(); len(dirs) != 4 {
		t.Errorf("dirs %q, want one for cpu,cpuacct, cpuset, memory and freezer", dirs)
	}
}

var limitsForTest = HostConfig{Memory: 64 << 20, MemorySwap: 96 << 20, CpuShares: 512, NanoCpus: 1500000000, CpusetCpus: "0", PidsLimit: 30}

// TestCgroupV2Files writes a container's limits into a temporary directory laid out as a v2 hierarchy:
// the kernel makes the interface files, here the test does.
// The daemon's own cgroups, where exec's helper goes back once the command is born (MoveToDaemon).
func TestCgroupDirsOf(t *testing.T) {
	v1 := &CgroupHierarchy{Mounts: map[string]string{
		"memory": "/sys/fs/cgroup/memory", "cpu": "/sys/fs/cgroup/cpu,cpuacct", "cpuacct": "/sys/fs/cgroup/cpu,cpuacct",
		"pids": "/sys/fs/cgroup/pids",
	}}
	own := "12:pids:/user.slice\n5:cpu,cpuacct:/\n4:memory:/user.slice/user-0.slice\n1:name=systemd:/user.slice\n0::/user.slice\n"
	want := []string{"/sys/fs/cgroup/pids/user.slice", "/sys/fs/cgroup/cpu,cpuacct", "/sys/fs/cgroup/memory/user.slice/user-0.slice"}
	if got := v1.dirsOf(own); !slices.Equal(got, want) {
		t.Errorf("v1: %q, want %q", got, want)
	}
	v2 := &CgroupHierarchy{Unified: true, Root: "/sys/fs/cgroup"}
	if got := v2.dirsOf("0::/system.slice/engine.service\n"); !slices.Equal(got, []string{"/sys/fs/cgroup/system.slice/engine.service"}) {
		t.Errorf("v2: %q", got)
	}
	if got := v2.dirsOf("0::/\n"); !slices.Equal(got, []string{"/sys/fs/cgroup"}) {
		t.Errorf("v2 at the root: %q", got)
	}
}

func TestCgroupV2Files(t *testing.T) {
	root := t.TempDir()
	h := &CgroupHierarchy{Unified: true, Root: root}
	cg := NewCgroup(h, "engine/abc")
	interfaceFiles := []string{"cgroup.controllers", "cgroup.subtree_control", "cgroup.procs", "memory.max", "memory.swap.max", "cpu.weight", "cpu.max", "cpuset.cpus", "pids.max"}
	for _, dir := range []string{root, filepath.Join(root, "engine"), cg.path("")} {
		os.MkdirAll(dir, 0755)
		for _, name := range interfaceFiles {
			os.WriteFile(filepath.Join(dir, name), nil, 0644)
		}
		os.WriteFile(filepath.Join(dir, "cgroup.controllers"), []byte("cpuset cpu io memory hugetlb pids rdma misc\n"), 0644)
	}
	hc := limitsForTest
	for _, level := range []string{root, filepath.Join(root, "engine")} {
		if err := enableControllers(level, v2Controllers(&hc)); err != nil {
			t.Fatal(err)
		}
		if got, _ := os.ReadFile(filepath.Join(level, "cgroup.subtree_control")); string(got) != "+cpu +cpuset +memory +pids" {
			t.Errorf("%s/cgroup.subtree_control = %q", level, got)
		}
	}
	if err := cg.writeFiles(v2Files(&hc)); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]string{
		"memory.max": "67108864", "memory.swap.max": "33554432", "cpu.weight": "20",
		"cpu.max": "150000 100000", "cpuset.cpus": "0", "pids.max": "30",
	} {
		if got, _ := os.ReadFile(filepath.Join(cg.path(""), name)); string(got) != want {
			t.Errorf("%s = %q, want %q", name, got, want)
		}
	}

	// Without limits only the accounting controllers are switched on, and none is required.
	os.WriteFile(filepath.Join(root, "cgroup.controllers"), []byte("cpu io\n"), 0644)
	if err := enableControllers(root, v2Controllers(&HostConfig{})); err != nil {
		t.Errorf("no limits, no memory controller: %v", err)
	}
	if err := enableControllers(root, v2Controllers(&HostConfig{PidsLimit: 5})); err == nil || !strings.Contains(err.Error(), "pids controller is not available") {
		t.Errorf("--pids-limit without the pids controller: %v", err)
	}
}

// TestDeviceFilterProgram runs the assembled program on every kind of device in a small interpreter of
// the instructions it uses; the kernel runs it for real in TestCgroupV2Unified.
func TestDeviceFilterProgram(t *testing.T) {
	program := deviceFilterProgram(allowedDevices())
	run := func(deviceType, major, minor uint32) int64 {
		context := []uint32{unix.BPF_DEVCG_ACC_READ<<16 | deviceType, major, minor}
		var registers [11]int64
		for pc := 0; pc < len(program); pc++ {
			in := program[pc]
			dst := in.Registers & 0xf
			switch in.Opcode {
			case unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W:
				if in.Registers>>4 != regContext {
					t.Fatalf("instruction %d loads from r%d, not the context", pc, in.Registers>>4)
				}
				registers[dst] = int64(context[in.Offset/4])
			case unix.BPF_ALU64 | unix.BPF_AND | unix.BPF_K:
				registers[dst] &= int64(in.Immediate)
			case unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K:
				registers[dst] = int64(in.Immediate)
			case unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K:
				if registers[dst] != int64(in.Immediate) {
					pc += int(in.Offset)
				}
			case unix.BPF_JMP | unix.BPF_EXIT:
				return registers[regResult]
			default:
				t.Fatalf("instruction %d: unexpected opcode %#x", pc, in.Opcode)
			}
		}
		t.Fatal("the program ran off its end")
		return -1
	}
	char, block := uint32(unix.BPF_DEVCG_DEV_CHAR), uint32(unix.BPF_DEVCG_DEV_BLOCK)
	for _, tt := range []struct {
		deviceType, major, minor uint32
		allowed                  int64
	}{
		{char, 1, 3, 1}, {char, 1, 5, 1}, {char, 1, 7, 1}, {char, 1, 8, 1}, {char, 1, 9, 1},
		{char, 5, 0, 1}, {char, 5, 1, 1}, {char, 5, 2, 1}, {char, 136, 0, 1}, {char, 136, 4242, 1},
		{char, 1, 1, 0}, {char, 1, 4, 0}, {char, 10, 200, 0}, {char, 4, 0, 0}, {char, 137, 0, 0},
		{block, 1, 3, 0}, {block, 8, 0, 0}, {block, 136, 0, 0}, {block, 7, 0, 0},
	} {
		if got := run(tt.deviceType, tt.major, tt.minor); got != tt.allowed {
			t.Errorf("type %d %d:%d: the program returns %d, want %d", tt.deviceType, tt.major, tt.minor, got, tt.allowed)
		}
	}
}

// testCgroupName is a cgroup of the test's own under the root of the hierarchies, removed at the end.
func testCgroupName(t *testing.T, h *CgroupHierarchy) string {
	b := make([]byte, 6)
	rand.Read(b)
	parent := "engine-test-" + hex.EncodeToString(b)
	t.Cleanup(func() {
		NewCgroup(h, parent+"/c").Remove()
		NewCgroup(h, parent).Remove()
	})
	return parent + "/c"
}

// deviceNodes makes a directory with a node of an allowed device (null, 1:3) and of a denied one
// (mem, 1:1), made outside the cgroup so that only opening them is in question.
func deviceNodes(t *testing.T) string {
	dir := t.TempDir()
	for name, dev := range map[string]int{"null": int(unix.Mkdev(1, 3)), "mem": int(unix.Mkdev(1, 1))} {
		if err := unix.Mknod(filepath.Join(dir, name), unix.S_IFCHR|0600, dev); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// deviceScript tries, inside the cgroup, to open the two nodes and to make a block and a char node;
// the allowed ones print "ok".
const deviceScript = `cd "$1"
head -c1 null >/dev/null && echo open-null-ok
head -c1 mem >/dev/null 2>&1 || echo open-mem-denied
mknod sda b 8 0 2>/dev/null || echo mknod-sda-denied
mknod zero c 1 5 && echo mknod-zero-ok
echo done`

const deviceScriptWant = "open-null-ok\nopen-mem-denied\nmknod-sda-denied\nmknod-zero-ok\ndone\n"

// startHelper starts sh -c script and moves it into the cgroup; a script that begins with `read line` is
// held there until its first line of stdin (as init is held on the sync pipe). It returns the helper
// with its stdin and stdout.
func startHelper(t *testing.T, cg *Cgroup, script string, args ...string) (*exec.Cmd, io.WriteCloser, *bufio.Reader) {
	cmd := exec.Command("sh", append([]string{"-c", script, "sh"}, args...)...)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	if err := cg.Add(cmd.Process.Pid); err != nil {
		t.Fatal(err)
	}
	return cmd, stdin, bufio.NewReader(stdout)
}

func readUntil(t *testing.T, r *bufio.Reader, last string) string {
	var out strings.Builder
	for {
		line, err := r.ReadString('\n')
		out.WriteString(line)
		if err != nil || line == last+"\n" {
			return out.String()
		}
	}
}

// unifiedHierarchy is the host's cgroup v2 tree: /sys/fs/cgroup itself, or on a hybrid host like this
// test VM the cgroup2 mount beside the v1 ones, where device filters and the tree's mechanics work
// though the controllers are on v1.
func unifiedHierarchy(t *testing.T) *CgroupHierarchy {
	h, err := DetectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	if h.Unified {
		return h
	}
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	for line := range strings.Lines(string(mountinfo)) {
		before, after, _ := strings.Cut(line, " - ")
		if fields := strings.Fields(before); strings.HasPrefix(after, "cgroup2 ") && len(fields) > 4 {
			return &CgroupHierarchy{Unified: true, Root: fields[4]}
		}
	}
	t.Fatal("no cgroup2 file system is mounted")
	return nil
}

// TestCgroupV2Unified makes a v2 cgroup for real: the child is moved into it (cgroup.procs), it is
// "populated" while the child lives, the device filter lets it use null but not mem, nor mknod a disk,
// and it is removed with its parent at the end.
func TestCgroupV2Unified(t *testing.T) {
	h := unifiedHierarchy(t)
	name := testCgroupName(t, h)
	cg := NewCgroup(h, name)
	if !h.Has("memory") {
		if err := cg.Create(&HostConfig{Memory: 64 << 20}); err == nil || !strings.Contains(err.Error(), "memory controller is not available") {
			t.Errorf("a memory limit where v2 has no memory controller: %v", err)
		}
		if _, err := os.Stat(cg.path("")); err == nil {
			t.Error("the failed Create left its cgroup")
		}
	}
	if err := cg.Create(&HostConfig{}); err != nil {
		t.Fatal(err)
	}
	cmd, stdin, stdout := startHelper(t, cg, "read line\n"+deviceScript+"\nread line", deviceNodes(t))
	stdin.Write([]byte("go\n"))
	if got := readUntil(t, stdout, "done"); got != deviceScriptWant {
		t.Errorf("inside the cgroup:\n%s\nwant:\n%s", got, deviceScriptWant)
	}
	procs, _ := os.ReadFile(filepath.Join(cg.path(""), "cgroup.procs"))
	if strings.TrimSpace(string(procs)) != strconv.Itoa(cmd.Process.Pid) {
		t.Errorf("cgroup.procs %q, want the helper's PID %d", procs, cmd.Process.Pid)
	}
	if populated, _ := readCgroupKey(filepath.Join(cg.path(""), "cgroup.events"), "populated"); populated != 1 {
		t.Errorf("populated %d while the helper runs", populated)
	}
	if stats, err := cg.Stats(); err != nil || stats.CPU <= 0 {
		t.Errorf("Stats = %+v, %v; want some CPU time", stats, err)
	}
	stdin.Close()
	cmd.Wait()
	if populated, _ := readCgroupKey(filepath.Join(cg.path(""), "cgroup.events"), "populated"); populated != 0 {
		t.Errorf("populated %d after the helper exited", populated)
	}
	if err := cg.Remove(); err != nil {
		t.Fatal(err)
	}
	if err := NewCgroup(h, filepath.Dir(name)).Remove(); err != nil {
		t.Errorf("removing the emptied parent: %v", err)
	}
	if _, err := os.Stat(cg.path("")); err == nil {
		t.Errorf("%s is still there", cg.path(""))
	}
}

// TestCgroupV1 makes a v1 cgroup with every limit on this host, moves a held process into it as
// Container.start moves init, and reads the limits back from the kernel.
func TestCgroupV1(t *testing.T) {
	h, err := DetectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	if h.Unified {
		t.Skip("this host has no cgroup v1 hierarchies; TestCgroupV2Unified tests its v2 tree")
	}
	name := testCgroupName(t, h)
	cg := NewCgroup(h, name)
	hc := limitsForTest
	if !h.Swap {
		hc.MemorySwap = -1
	}
	if err := cg.Create(&hc); err != nil {
		t.Fatal(err)
	}
	for file, want := range map[string]string{
		"memory/memory.limit_in_bytes": "67108864", "cpu/cpu.shares": "512", "cpu/cpu.cfs_quota_us": "150000",
		"cpu/cpu.cfs_period_us": "100000", "cpuset/cpuset.cpus": "0", "pids/pids.max": "30",
		"devices/devices.list": "c 1:3 rwm\nc 1:5 rwm\nc 1:7 rwm\nc 1:8 rwm\nc 1:9 rwm\nc 5:0 rwm\nc 5:1 rwm\nc 5:2 rwm\nc 136:* rwm",
	} {
		controller, name, _ := strings.Cut(file, "/")
		if got, _ := os.ReadFile(filepath.Join(cg.path(controller), name)); strings.TrimSpace(string(got)) != want {
			t.Errorf("%s = %q, want %q", file, got, want)
		}
	}
	if mems, _ := os.ReadFile(filepath.Join(cg.path("cpuset"), "cpuset.mems")); strings.TrimSpace(string(mems)) == "" {
		t.Error("cpuset.mems is empty: no process could join")
	}
	if got, _ := os.ReadFile(filepath.Join(cg.path("memory"), "memory.memsw.limit_in_bytes")); h.Swap && strings.TrimSpace(string(got)) != "100663296" {
		t.Errorf("memory.memsw.limit_in_bytes = %q", got)
	}

	cmd, stdin, stdout := startHelper(t, cg, "read line\n"+deviceScript+"\nread line", deviceNodes(t))
	own, _ := os.ReadFile("/proc/" + strconv.Itoa(cmd.Process.Pid) + "/cgroup")
	joined := map[string]string{} // controller → the helper's cgroup in its hierarchy
	for line := range strings.Lines(string(own)) {
		if fields := strings.SplitN(strings.TrimSpace(line), ":", 3); len(fields) == 3 {
			for _, controller := range strings.Split(fields[1], ",") {
				joined[controller] = fields[2]
			}
		}
	}
	for _, controller := range cgroupV1Controllers {
		if joined[controller] != "/"+name {
			t.Errorf("the helper is in %s's %q, want /%s", controller, joined[controller], name)
		}
	}
	stdin.Write([]byte("go\n"))
	if got := readUntil(t, stdout, "done"); got != deviceScriptWant {
		t.Errorf("inside the cgroup:\n%s\nwant:\n%s", got, deviceScriptWant)
	}
	stats, err := cg.Stats()
	if err != nil || stats.CPU <= 0 || stats.Pids != 1 || stats.MemoryLimit != 64<<20 {
		t.Errorf("Stats = %+v, %v; want CPU time, 1 process, the 64m limit", stats, err)
	}
	stdin.Close()
	cmd.Wait()
	if cg.OOMKilled() {
		t.Error("OOMKilled without an OOM")
	}
	if err := cg.Remove(); err != nil {
		t.Fatal(err)
	}
	for _, dir := range cg.dirs() {
		if _, err := os.Stat(dir); err == nil {
			t.Errorf("%s is still there", dir)
		}
	}
	if err := NewCgroup(h, filepath.Dir(name)).Remove(); err != nil {
		t.Errorf("removing the emptied parent: %v", err)
	}
}
