// devicefilter.go: which devices a container may use, and how the kernel is told.
//
// A container sees only the minimal /dev of spec.go's defaultDevices (made by init) plus its own ptys;
// it must not create (mknod) or open any other device, such as a host disk, even as root with
// CAP_MKNOD. The allow-list is the same on both cgroup versions, and Cgroup.Create (cgroups.go) applies
// it before init joins the cgroup:
//
//   - v1: the devices controller takes rules in text: "a" into devices.deny, then one "c 1:3 rwm" per
//     allowed device into devices.allow (v1Files in resources.go);
//   - v2 has no devices controller: the kernel runs an eBPF program of type BPF_PROG_TYPE_CGROUP_DEVICE
//     attached to the cgroup at every open and mknod of a device node, and refuses the access when it
//     returns 0. deviceFilterProgram assembles that program from the list, by hand, as runc and crun do.
//
// The same list goes into the generated OCI config (resources.go), so runc applies it to our bundle too.
package main

import (
	"fmt"
	"runtime"
	"strconv"
	"unsafe"

	"golang.org/x/sys/unix"
)

// deviceRule allows one device, or every minor of a major (Minor -1), to be read, written and mknod'ed.
type deviceRule struct {
	Type         byte // 'c' or 'b'
	Major, Minor int64
}

// String is the rule in the v1 devices.allow syntax: "c 1:3 rwm", "c 136:* rwm".
func (r deviceRule) String() string {
	minor := "*"
	if r.Minor >= 0 {
		minor = strconv.FormatInt(r.Minor, 10)
	}
	return fmt.Sprintf("%c %d:%s rwm", r.Type, r.Major, minor)
}

// allowedDevices are the default devices, and what a terminal needs: /dev/console (5:1), the devpts
// instance's ptmx (5:2) and its ptys (136:*), as Docker allows them.
func allowedDevices() []deviceRule {
	var rules []deviceRule
	for _, d := range defaultDevices {
		rules = append(rules, deviceRule{d.Type[0], d.Major, d.Minor})
	}
	return append(rules, deviceRule{'c', 5, 1}, deviceRule{'c', 5, 2}, deviceRule{'c', 136, -1})
}

// bpfInstruction is one eBPF instruction, laid out as the kernel's struct bpf_insn.
type bpfInstruction struct {
	Opcode    uint8
	Registers uint8 // destination register in the low 4 bits, source register in the high 4
	Offset    int16 // of a memory access, or how many instructions a jump skips
	Immediate int32
}

// The registers the program uses. At entry R1 points to the context, struct bpf_cgroup_dev_ctx
// { u32 access_type; u32 major; u32 minor; }; R0 holds the result at exit.
const (
	regResult, regContext, regType, regMajor, regMinor = 0, 1, 2, 3, 4
)

// The few instructions needed, built from the opcode classes of linux/bpf_common.h and linux/bpf.h.
func loadWord(dst uint8, offset int16) bpfInstruction { // dst = *(u32 *)(ctx + offset)
	return bpfInstruction{Opcode: unix.BPF_LDX | unix.BPF_MEM | unix.BPF_W, Registers: regContext<<4 | dst, Offset: offset}
}

func andImmediate(dst uint8, value int32) bpfInstruction { // dst &= value
	return bpfInstruction{Opcode: unix.BPF_ALU64 | unix.BPF_AND | unix.BPF_K, Registers: dst, Immediate: value}
}

func jumpIfNotEqual(dst uint8, value int32, skip int16) bpfInstruction { // if dst != value: skip ahead
	return bpfInstruction{Opcode: unix.BPF_JMP | unix.BPF_JNE | unix.BPF_K, Registers: dst, Offset: skip, Immediate: value}
}

func returnValue(value int32) []bpfInstruction { // r0 = value; exit
	return []bpfInstruction{
		{Opcode: unix.BPF_ALU64 | unix.BPF_MOV | unix.BPF_K, Registers: regResult, Immediate: value},
		{Opcode: unix.BPF_JMP | unix.BPF_EXIT},
	}
}

// deviceFilterProgram assembles the allow-list into a program that returns 1 (allow) for a listed device
// and 0 (deny, EPERM) for any other. Every listed device is allowed for read, write and mknod alike, so
// the access requested (the high 16 bits of access_type) is not looked at.
func deviceFilterProgram(rules []deviceRule) []bpfInstruction {
	program := []bpfInstruction{
		loadWord(regType, 0), // access_type
		andImmediate(regType, 0xffff),
		loadWord(regMajor, 4),
		loadWord(regMinor, 8),
	}
	for _, rule := range rules {
		deviceType := int32(unix.BPF_DEVCG_DEV_CHAR)
		if rule.Type == 'b' {
			deviceType = unix.BPF_DEVCG_DEV_BLOCK
		}
		// One block per rule: compare, and on the first mismatch jump past the block's end to the next.
		checks := []bpfInstruction{jumpIfNotEqual(regType, deviceType, 0), jumpIfNotEqual(regMajor, int32(rule.Major), 0)}
		if rule.Minor >= 0 {
			checks = append(checks, jumpIfNotEqual(regMinor, int32(rule.Minor), 0))
		}
		block := append(checks, returnValue(1)...)
		for i := range checks {
			block[i].Offset = int16(len(block) - i - 1) // a jump skips the instructions after it
		}
		program = append(program, block...)
	}
	return append(program, returnValue(0)...)
}

// bpfProgLoad and bpfProgAttach are the parts of the kernel's union bpf_attr that the BPF_PROG_LOAD and
// BPF_PROG_ATTACH commands read; the kernel takes the missing tail as zeros.
type bpfProgLoad struct {
	ProgType    uint32
	InsnCount   uint32
	Insns       uint64 // pointer to the instructions
	License     uint64 // pointer to a C string
	LogLevel    uint32
	LogSize     uint32
	LogBuf      uint64
	KernVersion uint32
	ProgFlags   uint32
}

type bpfProgAttach struct {
	TargetFd    uint32
	AttachBpfFd uint32
	AttachType  uint32
	AttachFlags uint32
}

func bpf(command uintptr, attr unsafe.Pointer, size uintptr) (int, error) {
	fd, _, errno := unix.Syscall(unix.SYS_BPF, command, uintptr(attr), size)
	if errno != 0 {
		return -1, errno
	}
	return int(fd), nil
}

// attachDeviceFilter loads the program for rules and attaches it to the cgroup open at cgroupFd. The
// cgroup then holds the program; our fd to it can go. BPF_F_ALLOW_MULTI lets a program of a parent
// cgroup (systemd attaches some) run as well: a device must pass both.
func attachDeviceFilter(cgroupFd int, rules []deviceRule) error {
	program := deviceFilterProgram(rules)
	license := []byte("Apache-2.0\x00") // the kernel only asks it of programs calling GPL-only helpers
	load := bpfProgLoad{
		ProgType:  unix.BPF_PROG_TYPE_CGROUP_DEVICE,
		InsnCount: uint32(len(program)),
		Insns:     uint64(uintptr(unsafe.Pointer(&program[0]))),
		License:   uint64(uintptr(unsafe.Pointer(&license[0]))),
	}
	progFd, err := bpf(unix.BPF_PROG_LOAD, unsafe.Pointer(&load), unsafe.Sizeof(load))
	runtime.KeepAlive(program)
	runtime.KeepAlive(license)
	if err != nil {
		return fmt.Errorf("loading the device filter: %w", err)
	}
	defer unix.Close(progFd)
	attach := bpfProgAttach{
		TargetFd:    uint32(cgroupFd),
		AttachBpfFd: uint32(progFd),
		AttachType:  unix.BPF_CGROUP_DEVICE,
		AttachFlags: unix.BPF_F_ALLOW_MULTI,
	}
	if _, err := bpf(unix.BPF_PROG_ATTACH, unsafe.Pointer(&attach), unsafe.Sizeof(attach)); err != nil {
		return fmt.Errorf("attaching the device filter: %w", err)
	}
	return nil
}
