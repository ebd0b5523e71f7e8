// Tests of seccomp.go and seccomp_bpf.go: the assembled filter, run by a small classic BPF interpreter on
// synthetic system calls; the default profile's resolution by capabilities; Docker's profile format;
// --security-opt and the client's reading of a profile file.
package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// syscallCall is what the kernel gives the filter: struct seccomp_data.
type syscallCall struct {
	nr   uint32
	arch uint32
	args [6]uint64
}

func call(name string, args ...uint64) syscallCall {
	nr, ok := syscallNumbers[name]
	if !ok {
		panic("no system call " + name)
	}
	c := syscallCall{nr: nr, arch: nativeArch}
	copy(c.args[:], args)
	return c
}

// runFilter interprets program on c as the kernel would, checking as it goes what the kernel's
// verifier checks: known instructions, aligned loads inside seccomp_data, jumps inside the program.
func runFilter(t *testing.T, program []unix.SockFilter, c syscallCall) uint32 {
	t.Helper()
	data := make([]byte, 64)
	binary.LittleEndian.PutUint32(data[0:], c.nr)
	binary.LittleEndian.PutUint32(data[4:], c.arch)
	for i, arg := range c.args {
		binary.LittleEndian.PutUint64(data[16+8*i:], arg)
	}
	var a uint32
	for pc := 0; pc < len(program); pc++ {
		in := program[pc]
		jump := func(condition bool) {
			skip := int(in.Jf)
			if condition {
				skip = int(in.Jt)
			}
			if pc+1+skip >= len(program) {
				t.Fatalf("instruction %d jumps out of the program", pc)
			}
			pc += skip
		}
		switch in.Code {
		case unix.BPF_LD | unix.BPF_W | unix.BPF_ABS:
			if in.K%4 != 0 || in.K >= 64 {
				t.Fatalf("instruction %d loads at %d", pc, in.K)
			}
			a = binary.LittleEndian.Uint32(data[in.K:])
		case unix.BPF_ALU | unix.BPF_AND | unix.BPF_K:
			a &= in.K
		case unix.BPF_JMP | unix.BPF_JA:
			if pc+1+int(in.K) >= len(program) {
				t.Fatalf("instruction %d jumps out of the program", pc)
			}
			pc += int(in.K)
		case unix.BPF_JMP | unix.BPF_JEQ | unix.BPF_K:
			jump(a == in.K)
		case unix.BPF_JMP | unix.BPF_JGT | unix.BPF_K:
			jump(a > in.K)
		case unix.BPF_JMP | unix.BPF_JGE | unix.BPF_K:
			jump(a >= in.K)
		case unix.BPF_RET | unix.BPF_K:
			return in.K
		default:
			t.Fatalf("instruction %d: unknown code %#x", pc, in.Code)
		}
	}
	t.Fatal("the program ended without a return")
	return 0
}

const (
	allow = uint32(unix.SECCOMP_RET_ALLOW)
	eperm = unix.SECCOMP_RET_ERRNO | uint32(unix.EPERM)
	enosy = unix.SECCOMP_RET_ERRNO | uint32(unix.ENOSYS)
	kill  = unix.SECCOMP_RET_KILL_PROCESS
)

func defaultFilter(t *testing.T, add, drop []string) []unix.SockFilter {
	t.Helper()
	profile, err := containerSeccomp(nil, containerCapabilities(0, add, drop))
	if err != nil {
		t.Fatal(err)
	}
	program, err := buildSeccompFilter(profile)
	if err != nil {
		t.Fatal(err)
	}
	return program
}

func checkCalls(t *testing.T, program []unix.SockFilter, want map[string]struct {
	c    syscallCall
	want uint32
}) {
	t.Helper()
	for name, test := range want {
		if got := runFilter(t, program, test.c); got != test.want {
			t.Errorf("%s: the filter returned %#x, want %#x", name, got, test.want)
		}
	}
}

type expect = struct {
	c    syscallCall
	want uint32
}

func TestSeccompDefaultProfile(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the expectations below use x86_64's calls") // the engine's CI runs on amd64
	}
	program := defaultFilter(t, nil, nil)
	t.Logf("the default profile assembles into %d instructions", len(program))
	other := call("getpid")
	other.arch = unix.AUDIT_ARCH_I386
	x32 := call("getpid")
	x32.nr |= x32Bit
	minusOne := call("getpid")
	minusOne.nr = 0xffffffff
	beyond := call("getpid")
	beyond.nr = 1000
	checkCalls(t, program, map[string]expect{
		"i386 call":                      {other, kill},
		"x32 call":                       {x32, kill},
		"call -1":                        {minusOne, enosy},
		"call newer than the table":      {beyond, enosy},
		"read":                           {call("read"), allow},
		"execve":                         {call("execve"), allow},
		"exit_group":                     {call("exit_group"), allow},
		"chroot (CAP_SYS_CHROOT)":        {call("chroot"), allow},
		"keyctl":                         {call("keyctl"), eperm},
		"add_key":                        {call("add_key"), eperm},
		"bpf":                            {call("bpf"), eperm},
		"kexec_load":                     {call("kexec_load"), eperm},
		"open_by_handle_at":              {call("open_by_handle_at"), eperm},
		"init_module":                    {call("init_module"), eperm},
		"mount":                          {call("mount"), eperm},
		"unshare":                        {call("unshare"), eperm},
		"userfaultfd":                    {call("userfaultfd"), eperm},
		"socket(AF_INET)":                {call("socket", unix.AF_INET), allow},
		"socket(AF_UNIX)":                {call("socket", unix.AF_UNIX), allow},
		"socket(AF_NETLINK)":             {call("socket", unix.AF_NETLINK), allow},
		"socket(AF_PACKET)":              {call("socket", unix.AF_PACKET), allow},
		"socket(AF_ALG)":                 {call("socket", unix.AF_ALG), eperm},
		"socket(AF_VSOCK)":               {call("socket", unix.AF_VSOCK), eperm},
		"socket(AF_DECnet)":              {call("socket", 12), eperm},
		"socket(AF_INET, high bits)":     {call("socket", 1<<32|unix.AF_INET), eperm},
		"personality(PER_LINUX)":         {call("personality", 0), allow},
		"personality(query)":             {call("personality", 0xffffffff), allow},
		"personality(UNAME26)":           {call("personality", 0x20000), allow},
		"personality(ADDR_NO_RANDOMIZE)": {call("personality", 0x0040000), eperm},
		"personality(READ_IMPLIES_EXEC)": {call("personality", 0x0400000), eperm},
		"personality(-1 as 64 bits)":     {call("personality", 0xffffffffffffffff), eperm},
		"clone(a thread)":                {call("clone", unix.CLONE_VM|unix.CLONE_FS|unix.CLONE_FILES|unix.CLONE_SIGHAND|unix.CLONE_THREAD|unix.CLONE_SYSVSEM|unix.CLONE_SETTLS), allow},
		"clone(fork)":                    {call("clone", uint64(unix.SIGCHLD)), allow},
		"clone(CLONE_NEWNS)":             {call("clone", unix.CLONE_NEWNS|uint64(unix.SIGCHLD)), eperm},
		"clone(CLONE_NEWUSER)":           {call("clone", unix.CLONE_NEWUSER), eperm},
		"clone(CLONE_NEWCGROUP)":         {call("clone", unix.CLONE_NEWCGROUP), eperm},
		"clone3":                         {call("clone3"), enosy},
		"ptrace (kernel 4.8 on)":         {call("ptrace"), allow},
		"reboot":                         {call("reboot"), eperm},
		"arch_prctl (amd64 only)":        {call("arch_prctl"), allow},
		"clock_settime":                  {call("clock_settime"), eperm},
		"setns":                          {call("setns"), eperm},
		"perf_event_open":                {call("perf_event_open"), eperm},
		"process_vm_writev (4.8+)":       {call("process_vm_writev"), allow},
	})
}

// The capability conditions, resolved when the spec is written: a call gated by a capability is allowed
// with it, and clone's namespace flags and clone3 need CAP_SYS_ADMIN.
func TestSeccompProfileFollowsCapabilities(t *testing.T) {
	if runtime.GOARCH != "amd64" {
		t.Skip("the expectations below use x86_64's calls")
	}
	admin := defaultFilter(t, []string{"CAP_SYS_ADMIN"}, nil)
	checkCalls(t, admin, map[string]expect{
		"mount":              {call("mount"), allow},
		"unshare":            {call("unshare"), allow},
		"clone(CLONE_NEWNS)": {call("clone", unix.CLONE_NEWNS), allow},
		"clone3":             {call("clone3"), allow},
		"bpf":                {call("bpf"), allow},
		"keyctl":             {call("keyctl"), eperm},
		"init_module":        {call("init_module"), eperm},
	})
	checkCalls(t, defaultFilter(t, []string{"CAP_DAC_READ_SEARCH", "CAP_SYS_MODULE", "CAP_SYS_TIME"}, nil), map[string]expect{
		"open_by_handle_at": {call("open_by_handle_at"), allow},
		"init_module":       {call("init_module"), allow},
		"clock_settime":     {call("clock_settime"), allow},
		"mount":             {call("mount"), eperm},
	})
	checkCalls(t, defaultFilter(t, nil, []string{"CAP_SYS_CHROOT"}), map[string]expect{
		"chroot": {call("chroot"), eperm},
	})
	checkCalls(t, defaultFilter(t, []string{"ALL"}, nil), map[string]expect{
		"reboot": {call("reboot"), allow},
		"keyctl": {call("keyctl"), eperm}, // no capability allows the keyring
	})
}

// Every comparison, on values that differ in the high word, the low word or both, against what the
// comparison means on 64-bit numbers.
func TestSeccompArgumentComparisons(t *testing.T) {
	values := []uint64{0, 1, 2, 0xfffffffe, 0xffffffff, 1 << 32, 1<<32 | 1, 1<<32 | 0xffffffff, 2 << 32, 0x7fffffff00000000, 0xffffffffffffffff}
	ops := map[string]func(arg, value, valueTwo uint64) bool{
		"SCMP_CMP_EQ":        func(a, v, _ uint64) bool { return a == v },
		"SCMP_CMP_NE":        func(a, v, _ uint64) bool { return a != v },
		"SCMP_CMP_LT":        func(a, v, _ uint64) bool { return a < v },
		"SCMP_CMP_LE":        func(a, v, _ uint64) bool { return a <= v },
		"SCMP_CMP_GT":        func(a, v, _ uint64) bool { return a > v },
		"SCMP_CMP_GE":        func(a, v, _ uint64) bool { return a >= v },
		"SCMP_CMP_MASKED_EQ": func(a, v, v2 uint64) bool { return a&v == v2 },
	}
	for op, holds := range ops {
		for _, value := range values {
			for _, valueTwo := range []uint64{0, 1, 1 << 32} {
				// Arguments 2 and 5, so the offsets of both words of a middle and the last argument count.
				profile := &LinuxSeccomp{DefaultAction: "SCMP_ACT_ALLOW", Syscalls: []LinuxSyscall{{
					Names: []string{"getpid"}, Action: "SCMP_ACT_ERRNO",
					Args: []SeccompArg{{Index: 2, Value: value, ValueTwo: valueTwo, Op: op}, {Index: 5, Value: value, ValueTwo: valueTwo, Op: op}},
				}}}
				program, err := buildSeccompFilter(profile)
				if err != nil {
					t.Fatal(err)
				}
				for _, arg := range values {
					want := allow
					if holds(arg, value, valueTwo) {
						want = eperm
					}
					if got := runFilter(t, program, call("getpid", 0, 0, arg, 0, 0, arg)); got != want {
						t.Errorf("%s(arg %#x, value %#x, valueTwo %#x): %#x, want %#x", op, arg, value, valueTwo, got, want)
					}
					// Both conditions must hold: with argument 5 always 0xdead, the rule matches only when
					// 0xdead satisfies it too.
					if holds(arg, value, valueTwo) && !holds(0xdead, value, valueTwo) {
						if got := runFilter(t, program, call("getpid", 0, 0, arg, 0, 0, 0xdead)); got != allow {
							t.Errorf("%s: a rule matched with its second condition false", op)
						}
					}
				}
			}
		}
	}
}

// A profile with a conditional rule for every call the table knows: the blocks behind the search are
// then thousands of instructions away, further than a conditional jump reaches.
func TestSeccompLargeProfile(t *testing.T) {
	profile := &LinuxSeccomp{DefaultAction: "SCMP_ACT_ERRNO"}
	for name := range syscallNumbers {
		profile.Syscalls = append(profile.Syscalls, LinuxSyscall{
			Names: []string{name}, Action: "SCMP_ACT_ALLOW",
			Args: []SeccompArg{{Index: 0, Value: uint64(syscallNumbers[name]), Op: "SCMP_CMP_EQ"}},
		})
	}
	program, err := buildSeccompFilter(profile)
	if err != nil {
		t.Fatal(err)
	}
	if len(program) < 1000 {
		t.Fatalf("only %d instructions", len(program))
	}
	for name, nr := range syscallNumbers {
		if got := runFilter(t, program, call(name, uint64(nr))); got != allow {
			t.Errorf("%s with its own number: %#x", name, got)
		}
		if got := runFilter(t, program, call(name, uint64(nr)+1)); got != eperm {
			t.Errorf("%s with another number: %#x", name, got)
		}
	}
}

func TestSeccompFilterErrors(t *testing.T) {
	rule := func(s LinuxSyscall) *LinuxSeccomp {
		return &LinuxSeccomp{DefaultAction: "SCMP_ACT_ERRNO", Syscalls: []LinuxSyscall{s}}
	}
	big := uint(5000)
	for name, profile := range map[string]*LinuxSeccomp{
		"unknown default action": {DefaultAction: "SCMP_ACT_MAYBE"},
		"notify":                 rule(LinuxSyscall{Names: []string{"read"}, Action: "SCMP_ACT_NOTIFY"}),
		"unknown op":             rule(LinuxSyscall{Names: []string{"read"}, Action: "SCMP_ACT_ALLOW", Args: []SeccompArg{{Index: 0, Op: "SCMP_CMP_LIKE"}}}),
		"argument 6":             rule(LinuxSyscall{Names: []string{"read"}, Action: "SCMP_ACT_ALLOW", Args: []SeccompArg{{Index: 6, Op: "SCMP_CMP_EQ"}}}),
		"errno too big":          rule(LinuxSyscall{Names: []string{"read"}, Action: "SCMP_ACT_ERRNO", ErrnoRet: &big}),
		"foreign architecture":   {DefaultAction: "SCMP_ACT_ERRNO", Architectures: []string{"SCMP_ARCH_S390X"}},
	} {
		if _, err := buildSeccompFilter(profile); err == nil {
			t.Errorf("%s: assembled", name)
		}
	}
	// Unknown names are skipped, as runc skips them; the rule's other names still count.
	program, err := buildSeccompFilter(rule(LinuxSyscall{Names: []string{"no_such_call", "getpid"}, Action: "SCMP_ACT_ALLOW"}))
	if err != nil {
		t.Fatal(err)
	}
	if got := runFilter(t, program, call("getpid")); got != allow {
		t.Errorf("getpid: %#x", got)
	}
}

func TestParseSeccompProfile(t *testing.T) {
	for name, data := range map[string]string{
		"not JSON":           `{"defaultAction":`,
		"misspelt field":     `{"defaultAction": "SCMP_ACT_ALLOW", "sycalls": []}`,
		"no default action":  `{"syscalls": []}`,
		"flags":              `{"defaultAction": "SCMP_ACT_ALLOW", "flags": ["SECCOMP_FILTER_FLAG_LOG"]}`,
		"unknown arch":       `{"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_Z80"]}`,
		"a rule, no names":   `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"action": "SCMP_ACT_ERRNO"}]}`,
		"unknown rule field": `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "arg": []}]}`,
	} {
		profile, err := parseSeccompProfile(data)
		if err == nil {
			_, err = profile.resolve(defaultCapabilities)
		}
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	// Docker's format: archMap, the old "name", includes and excludes.
	profile, err := parseSeccompProfile(`{"defaultAction": "SCMP_ACT_ALLOW", "defaultErrnoRet": 1,
		"archMap": [{"architecture": "SCMP_ARCH_X86_64", "subArchitectures": ["SCMP_ARCH_X86", "SCMP_ARCH_X32"]}],
		"syscalls": [
			{"name": "mkdir", "action": "SCMP_ACT_ERRNO", "comment": "old style"},
			{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "includes": {"caps": ["CAP_CHOWN"]}},
			{"names": ["chdir"], "action": "SCMP_ACT_ERRNO", "excludes": {"caps": ["CAP_CHOWN"]}},
			{"names": ["link"], "action": "SCMP_ACT_ERRNO", "includes": {"arches": ["` + runtime.GOARCH + `"], "minKernel": "3.0"}},
			{"names": ["unlink"], "action": "SCMP_ACT_ERRNO", "excludes": {"arches": ["` + runtime.GOARCH + `"]}},
			{"names": ["rename"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "3.0"}},
			{"names": ["fsync"], "action": "SCMP_ACT_ERRNO", "excludes": {"minKernel": "99.0"}}
		]}`)
	if err != nil {
		t.Fatal(err)
	}
	resolved, err := profile.resolve([]string{"CAP_CHOWN"})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, rule := range resolved.Syscalls {
		names = append(names, strings.Join(rule.Names, ","))
	}
	if got := strings.Join(names, " "); got != "mkdir rmdir link fsync" {
		t.Errorf("rules kept: %q, want mkdir rmdir link fsync", got)
	}
	if len(resolved.Architectures) != 1 || resolved.Architectures[0] != nativeArchName {
		t.Errorf("architectures %v, want only the native one", resolved.Architectures)
	}
}

func TestKernelVersion(t *testing.T) {
	if ok, err := kernelAtLeast("3.10"); !ok || err != nil {
		t.Errorf("kernelAtLeast(3.10) = %v, %v", ok, err)
	}
	if ok, err := kernelAtLeast("99.0"); ok || err != nil {
		t.Errorf("kernelAtLeast(99.0) = %v, %v", ok, err)
	}
	if _, err := kernelAtLeast("four"); err == nil {
		t.Error("kernelAtLeast(four) succeeded")
	}
}

func TestCheckSecurityOpts(t *testing.T) {
	for _, good := range [][]string{nil, {"seccomp=unconfined"}, {"no-new-privileges"}, {"no-new-privileges=true"},
		{`seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir"],"action":"SCMP_ACT_ERRNO"}]}`}} {
		if err := checkSecurityOpts(&HostConfig{SecurityOpt: good}); err != nil {
			t.Errorf("%q: %v", good, err)
		}
	}
	for _, bad := range []string{"seccomp=/tmp/profile.json", "apparmor=unconfined", "label=disable", "no-new-privileges=false", "seccomp",
		`seccomp={"defaultAction":"SCMP_ACT_NOPE"}`, `seccomp={"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["read"],"action":"SCMP_ACT_ERRNO","args":[{"index":9,"op":"SCMP_CMP_EQ"}]}]}`} {
		if err := checkSecurityOpts(&HostConfig{SecurityOpt: []string{bad}}); err == nil {
			t.Errorf("%q: accepted", bad)
		}
	}
}

// The client sends a profile's content in place of its path, and touches nothing but the flag.
func TestReadSeccompProfileFiles(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "profile.json")
	os.WriteFile(file, []byte("{\n  \"defaultAction\": \"SCMP_ACT_ALLOW\"\n}\n"), 0600)
	content := `seccomp={"defaultAction":"SCMP_ACT_ALLOW"}`
	tests := []struct{ args, want []string }{
		{[]string{"run", "--security-opt", "seccomp=" + file, "base", "echo", "--security-opt", "seccomp=" + file},
			[]string{"run", "--security-opt", content, "base", "echo", "--security-opt", "seccomp=" + file}},
		{[]string{"create", "-l", "--security-opt", "--security-opt=seccomp=" + file, "-it", "base"},
			[]string{"create", "-l", "--security-opt", "--security-opt=" + content, "-it", "base"}},
		{[]string{"run", "--security-opt", "seccomp=unconfined", "base"}, []string{"run", "--security-opt", "seccomp=unconfined", "base"}},
		{[]string{"exec", "x", "--security-opt", "seccomp=" + file}, []string{"exec", "x", "--security-opt", "seccomp=" + file}},
		{[]string{"run", "--bogus", "--security-opt", "seccomp=" + file}, []string{"run", "--bogus", "--security-opt", "seccomp=" + file}},
	}
	for _, test := range tests {
		got, err := readSeccompProfileFiles(test.args)
		if err != nil || fmt.Sprint(got) != fmt.Sprint(test.want) {
			t.Errorf("%q:\n got %q, %v\nwant %q", test.args, got, err, test.want)
		}
	}
	os.WriteFile(filepath.Join(dir, "bad.json"), []byte("{nope"), 0600)
	for _, path := range []string{filepath.Join(dir, "missing.json"), filepath.Join(dir, "bad.json")} {
		if _, err := readSeccompProfileFiles([]string{"run", "--security-opt", "seccomp=" + path, "base"}); err == nil {
			t.Errorf("%s: no error", path)
		} else if errors.Is(err, os.ErrNotExist) != strings.Contains(path, "missing") {
			t.Errorf("%s: %v", path, err)
		}
	}
}

// What a start pays for the profile: resolving Docker's default and assembling it (the daemon does it
// at create and start, init once more).
func BenchmarkSeccompDefaultProfile(b *testing.B) {
	caps := containerCapabilities(0, nil, nil)
	for b.Loop() {
		profile, err := containerSeccomp(nil, caps)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := buildSeccompFilter(profile); err != nil {
			b.Fatal(err)
		}
	}
}
