// seccomp_bpf.go: a seccomp profile assembled into the kernel's classic BPF, and installed.
//
// seccomp(2) takes a program of classic BPF (the packet filter's language, linux/filter.h), which the
// kernel runs at every system call with struct seccomp_data as its input:
//
//	struct seccomp_data { int nr; u32 arch; u64 instruction_pointer; u64 args[6]; };
//
// and whose return value says what happens: allow the call, fail it with an errno, kill the process...
// (SECCOMP_RET_* in linux/seccomp.h). buildSeccompFilter assembles that program by hand from the
// runtime spec's profile, as devicefilter.go assembles the device filter's eBPF, without libseccomp:
//
//  1. the architecture comes first: a call through another system call table (a 32-bit program's int
//     0x80, or x32's numbers with bit 30 set) would mean other numbers, so it kills the process, like
//     libseccomp's default action for an architecture a filter does not cover;
//  2. a call numbered above every call the profile names gets ENOSYS, as runc's filters give it: a
//     program built for a newer kernel then falls back, as it would on an older kernel;
//  3. a binary search over the numbers the profile names (at most ~20 instructions run per call);
//  4. for each such number, its rules in order: the first whose argument conditions all hold decides;
//     if none does, the profile's default action.
//
// init installs the program just before execve (init.go) and exec's helper just before it forks the
// command (exec_helper.go). A filter cannot be removed, and it is inherited by every child and kept across
// execve, so everything in the container runs under it.
package main

import (
	"fmt"
	"runtime"
	"slices"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Offsets into struct seccomp_data. Both tables the engine knows are little-endian, so an argument's
// low 32 bits come first.
const (
	seccompNrOffset   = 0
	seccompArchOffset = 4
	seccompArgsOffset = 16
)

// The classic BPF instructions the filter uses.
func loadData(offset uint32) unix.SockFilter { // A = *(u32 *)(seccomp_data + offset)
	return unix.SockFilter{Code: unix.BPF_LD | unix.BPF_W | unix.BPF_ABS, K: offset}
}

func andConstant(k uint32) unix.SockFilter { // A &= k
	return unix.SockFilter{Code: unix.BPF_ALU | unix.BPF_AND | unix.BPF_K, K: k}
}

// jumpIf compares A with k (op: BPF_JEQ, BPF_JGT, BPF_JGE) and skips ifTrue or ifFalse instructions.
func jumpIf(op uint16, k uint32, ifTrue, ifFalse uint8) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | op | unix.BPF_K, K: k, Jt: ifTrue, Jf: ifFalse}
}

func jumpAlways(skip uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_JMP | unix.BPF_JA, K: skip}
}

func returnAction(action uint32) unix.SockFilter {
	return unix.SockFilter{Code: unix.BPF_RET | unix.BPF_K, K: action}
}

// maxFilterLength is the kernel's limit on a program (BPF_MAXINSNS).
const maxFilterLength = 4096

// buildSeccompFilter assembles profile; nil (unconfined) gives no program.
func buildSeccompFilter(profile *LinuxSeccomp) ([]unix.SockFilter, error) {
	if profile == nil {
		return nil, nil
	}
	if nativeArch == 0 {
		return nil, fmt.Errorf("seccomp: the engine has no system call table for %s (run with --security-opt seccomp=unconfined)", runtime.GOARCH)
	}
	for _, arch := range profile.Architectures {
		if arch != nativeArchName {
			return nil, fmt.Errorf("seccomp: architecture %s is not supported, only %s", arch, nativeArchName)
		}
	}
	defaultAction, err := seccompAction(profile.DefaultAction, profile.DefaultErrnoRet)
	if err != nil {
		return nil, err
	}
	blocks, err := syscallBlocks(profile, defaultAction)
	if err != nil {
		return nil, err
	}
	numbers := make([]uint32, 0, len(blocks))
	for nr := range blocks {
		numbers = append(numbers, nr)
	}
	slices.Sort(numbers)

	program := filterPreamble(profile.DefaultAction, numbers)
	jumps := map[uint32][]int{} // where the search jumps to a block that follows it
	program = appendSearchTree(program, numbers, blocks, defaultAction, jumps)
	for _, nr := range numbers {
		if len(jumps[nr]) == 0 {
			continue // inlined in the search
		}
		for _, at := range jumps[nr] {
			program[at].K = uint32(len(program) - at - 1)
		}
		program = append(program, blocks[nr]...)
	}
	if len(program) > maxFilterLength {
		return nil, fmt.Errorf("seccomp: the profile needs %d instructions, more than the kernel's %d", len(program), maxFilterLength)
	}
	return program, nil
}

// filterPreamble checks the architecture and the number's range (steps 1 and 2 above), and leaves the
// call's number in A.
func filterPreamble(defaultAction string, numbers []uint32) []unix.SockFilter {
	program := []unix.SockFilter{
		loadData(seccompArchOffset),
		jumpIf(unix.BPF_JEQ, nativeArch, 1, 0),
		returnAction(unix.SECCOMP_RET_KILL_PROCESS),
		loadData(seccompNrOffset),
	}
	if x32Bit != 0 {
		// x32's numbers are x32Bit plus a small number. Anything from 0x80000000 up (such as -1) is no
		// call at all: the range check below, or the kernel, answers it with ENOSYS.
		program = append(program,
			jumpIf(unix.BPF_JGE, 0x80000000, 2, 0),
			jumpIf(unix.BPF_JGE, x32Bit, 0, 1),
			returnAction(unix.SECCOMP_RET_KILL_PROCESS))
	}
	// Not when unknown calls are allowed anyway (runc leaves out allow, log and trace too).
	if len(numbers) > 0 && defaultAction != "SCMP_ACT_ALLOW" && defaultAction != "SCMP_ACT_LOG" && defaultAction != "SCMP_ACT_TRACE" {
		program = append(program,
			jumpIf(unix.BPF_JGT, numbers[len(numbers)-1], 0, 1),
			returnAction(unix.SECCOMP_RET_ERRNO|uint32(unix.ENOSYS)))
	}
	return program
}

// appendSearchTree emits a binary search for A among numbers (sorted). Each inner node is
//
//	jge pivot, 0, 1 ; ja <right half> ; <left half> ; <right half>
//
// so that no conditional jump reaches further than the next instruction but one: a conditional jump
// can skip at most 255 instructions, an unconditional one any number. A leaf compares A with up to
// three numbers; a number's block is inlined when it is one instruction (a plain allow), and reached
// by a ja otherwise, whose position goes into jumps for the caller to patch.
func appendSearchTree(program []unix.SockFilter, numbers []uint32, blocks map[uint32][]unix.SockFilter, defaultAction uint32, jumps map[uint32][]int) []unix.SockFilter {
	if len(numbers) <= 3 {
		for _, nr := range numbers {
			program = append(program, jumpIf(unix.BPF_JEQ, nr, 0, 1))
			if block := blocks[nr]; len(block) == 1 {
				program = append(program, block[0])
			} else {
				jumps[nr] = append(jumps[nr], len(program))
				program = append(program, jumpAlways(0))
			}
		}
		return append(program, returnAction(defaultAction))
	}
	middle := len(numbers) / 2
	program = append(program, jumpIf(unix.BPF_JGE, numbers[middle], 0, 1), jumpAlways(0))
	toRight := len(program) - 1
	program = appendSearchTree(program, numbers[:middle], blocks, defaultAction, jumps)
	program[toRight].K = uint32(len(program) - toRight - 1)
	return appendSearchTree(program, numbers[middle:], blocks, defaultAction, jumps)
}

// syscallBlocks assembles, for each call number the profile names, the rules that apply to it, in the
// profile's order, ending with the default action. A name this architecture lacks is skipped.
func syscallBlocks(profile *LinuxSeccomp, defaultAction uint32) (map[uint32][]unix.SockFilter, error) {
	blocks := make(map[uint32][]unix.SockFilter, len(syscallNumbers))
	decided := make(map[uint32]bool, len(syscallNumbers)) // by a rule without conditions: any rule after it would never run
	for _, rule := range profile.Syscalls {
		code, err := assembleRule(rule)
		if err != nil {
			return nil, err
		}
		for _, name := range rule.Names {
			if nr, ok := syscallNumbers[name]; ok && !decided[nr] {
				blocks[nr] = append(blocks[nr], code...)
				decided[nr] = len(code) == 1
			}
		}
	}
	for nr := range blocks {
		if !decided[nr] {
			blocks[nr] = append(blocks[nr], returnAction(defaultAction))
		}
	}
	return blocks, nil
}

// toNextRule marks a jump to the end of the rule being assembled, patched once its length is known.
const toNextRule = 0xff

// assembleRule emits one rule: its conditions, each jumping past the rule when it fails, then the return
// of its action.
func assembleRule(rule LinuxSyscall) ([]unix.SockFilter, error) {
	action, err := seccompAction(rule.Action, rule.ErrnoRet)
	if err != nil {
		return nil, err
	}
	var code []unix.SockFilter
	for _, arg := range rule.Args {
		condition, err := compareArgument(arg)
		if err != nil {
			return nil, fmt.Errorf("seccomp rule for %v: %w", rule.Names, err)
		}
		code = append(code, condition...)
	}
	code = append(code, returnAction(action))
	if len(code) > 255 {
		return nil, fmt.Errorf("seccomp rule for %v: too many conditions", rule.Names)
	}
	for at := range code {
		if code[at].Jt == toNextRule {
			code[at].Jt = uint8(len(code) - at - 1)
		}
		if code[at].Jf == toNextRule {
			code[at].Jf = uint8(len(code) - at - 1)
		}
	}
	return code, nil
}

// compareArgument emits the test of one 64-bit argument. Classic BPF loads 32 bits at a time, so each
// comparison looks at the high word first and at the low word only when the high words are equal.
// The instructions fall through when the condition holds and jump to toNextRule when it does not.
func compareArgument(arg SeccompArg) ([]unix.SockFilter, error) {
	if arg.Index > 5 {
		return nil, fmt.Errorf("argument index %d: a system call has 6 arguments (0-5)", arg.Index)
	}
	low := loadData(seccompArgsOffset + 8*uint32(arg.Index))
	high := loadData(seccompArgsOffset + 8*uint32(arg.Index) + 4)
	valueHigh, valueLow := uint32(arg.Value>>32), uint32(arg.Value)
	const fail = toNextRule
	switch arg.Op {
	case "SCMP_CMP_EQ":
		return []unix.SockFilter{
			high, jumpIf(unix.BPF_JEQ, valueHigh, 0, fail),
			low, jumpIf(unix.BPF_JEQ, valueLow, 0, fail),
		}, nil
	case "SCMP_CMP_NE": // holds as soon as one word differs
		return []unix.SockFilter{
			high, jumpIf(unix.BPF_JEQ, valueHigh, 0, 2),
			low, jumpIf(unix.BPF_JEQ, valueLow, fail, 0),
		}, nil
	case "SCMP_CMP_MASKED_EQ": // arg & Value == ValueTwo
		return []unix.SockFilter{
			high, andConstant(valueHigh), jumpIf(unix.BPF_JEQ, uint32(arg.ValueTwo>>32), 0, fail),
			low, andConstant(valueLow), jumpIf(unix.BPF_JEQ, uint32(arg.ValueTwo), 0, fail),
		}, nil
	case "SCMP_CMP_GT", "SCMP_CMP_GE": // high above: holds; high below: fails; equal: the low words decide
		lowTest := map[string]uint16{"SCMP_CMP_GT": unix.BPF_JGT, "SCMP_CMP_GE": unix.BPF_JGE}[arg.Op]
		return []unix.SockFilter{
			high, jumpIf(unix.BPF_JGT, valueHigh, 3, 0), jumpIf(unix.BPF_JEQ, valueHigh, 0, fail),
			low, jumpIf(lowTest, valueLow, 0, fail),
		}, nil
	case "SCMP_CMP_LT", "SCMP_CMP_LE": // high below: holds; high above: fails; equal: the low words decide
		lowFails := map[string]uint16{"SCMP_CMP_LT": unix.BPF_JGE, "SCMP_CMP_LE": unix.BPF_JGT}[arg.Op]
		return []unix.SockFilter{
			high, jumpIf(unix.BPF_JGT, valueHigh, fail, 0), jumpIf(unix.BPF_JEQ, valueHigh, 0, 2),
			low, jumpIf(lowFails, valueLow, fail, 0),
		}, nil
	}
	return nil, fmt.Errorf("unknown comparison %q", arg.Op)
}

// seccompAction is the filter's return value for a profile's action. errnoRet defaults to EPERM, as the
// runtime spec says.
func seccompAction(action string, errnoRet *uint) (uint32, error) {
	errno := uint(unix.EPERM)
	if errnoRet != nil {
		errno = *errnoRet
	}
	if errno > 4095 { // MAX_ERRNO
		return 0, fmt.Errorf("seccomp: errnoRet %d is not an errno", errno)
	}
	switch action {
	case "SCMP_ACT_ALLOW":
		return unix.SECCOMP_RET_ALLOW, nil
	case "SCMP_ACT_ERRNO":
		return unix.SECCOMP_RET_ERRNO | uint32(errno), nil
	case "SCMP_ACT_KILL", "SCMP_ACT_KILL_THREAD":
		return unix.SECCOMP_RET_KILL_THREAD, nil
	case "SCMP_ACT_KILL_PROCESS":
		return unix.SECCOMP_RET_KILL_PROCESS, nil
	case "SCMP_ACT_TRAP":
		return unix.SECCOMP_RET_TRAP, nil
	case "SCMP_ACT_TRACE":
		return unix.SECCOMP_RET_TRACE | uint32(errno), nil
	case "SCMP_ACT_LOG":
		return unix.SECCOMP_RET_LOG, nil
	}
	return 0, fmt.Errorf("seccomp: unknown or unsupported action %q", action)
}

// installSeccompFilter applies program to the calling thread and, through inheritance, to every process
// it starts from now on. The kernel accepts a filter only from a thread with no_new_privs set (or
// CAP_SYS_ADMIN), so a filter cannot trick a setuid program into misbehaving.
//
// No SECCOMP_FILTER_FLAG_TSYNC: the filter is wanted on this thread only. The caller is the locked
// thread that then calls execve (init) or forks the command (exec's helper); the new program, or the
// child, inherits it, while the Go runtime's other threads never run container code.
func installSeccompFilter(program []unix.SockFilter) error {
	if len(program) == 0 {
		return nil
	}
	prog := unix.SockFprog{Len: uint16(len(program)), Filter: &program[0]}
	_, _, errno := unix.RawSyscall(unix.SYS_SECCOMP, unix.SECCOMP_SET_MODE_FILTER, 0, uintptr(unsafe.Pointer(&prog)))
	runtime.KeepAlive(program)
	if errno != 0 {
		return fmt.Errorf("installing the seccomp filter: %w", errno)
	}
	return nil
}
