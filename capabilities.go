// capabilities.go: which of root's powers the container's process keeps.
//
// The runtime spec's process.capabilities lists, per set (bounding, effective, permitted), the
// capabilities the process has; a runtime reads a missing list as "none", so spec.go always writes them
// out, and init (applyCapabilities, just before execve) makes them true. For now every container's root
// keeps every capability and other users get none effective; Docker's reduced default set is the
// hardening issue's to choose.
package main

import (
	"fmt"
	"sync"

	"golang.org/x/sys/unix"
)

type Capabilities struct {
	Bounding    []string `json:"bounding"`
	Effective   []string `json:"effective"`
	Permitted   []string `json:"permitted"`
	Inheritable []string `json:"inheritable"`
	Ambient     []string `json:"ambient"`
}

// capabilityNumbers are the kernel's capability numbers (linux/capability.h) under the spec's names.
var capabilityNumbers = map[string]int{
	"CAP_CHOWN": 0, "CAP_DAC_OVERRIDE": 1, "CAP_DAC_READ_SEARCH": 2, "CAP_FOWNER": 3, "CAP_FSETID": 4,
	"CAP_KILL": 5, "CAP_SETGID": 6, "CAP_SETUID": 7, "CAP_SETPCAP": 8, "CAP_LINUX_IMMUTABLE": 9,
	"CAP_NET_BIND_SERVICE": 10, "CAP_NET_BROADCAST": 11, "CAP_NET_ADMIN": 12, "CAP_NET_RAW": 13,
	"CAP_IPC_LOCK": 14, "CAP_IPC_OWNER": 15, "CAP_SYS_MODULE": 16, "CAP_SYS_RAWIO": 17,
	"CAP_SYS_CHROOT": 18, "CAP_SYS_PTRACE": 19, "CAP_SYS_PACCT": 20, "CAP_SYS_ADMIN": 21,
	"CAP_SYS_BOOT": 22, "CAP_SYS_NICE": 23, "CAP_SYS_RESOURCE": 24, "CAP_SYS_TIME": 25,
	"CAP_SYS_TTY_CONFIG": 26, "CAP_MKNOD": 27, "CAP_LEASE": 28, "CAP_AUDIT_WRITE": 29,
	"CAP_AUDIT_CONTROL": 30, "CAP_SETFCAP": 31, "CAP_MAC_OVERRIDE": 32, "CAP_MAC_ADMIN": 33,
	"CAP_SYSLOG": 34, "CAP_WAKE_ALARM": 35, "CAP_BLOCK_SUSPEND": 36, "CAP_AUDIT_READ": 37,
	"CAP_PERFMON": 38, "CAP_BPF": 39, "CAP_CHECKPOINT_RESTORE": 40,
}

// allCapabilities lists every capability the daemon itself may hold (its bounding set), in number order:
// a container cannot be given one its engine lacks (a sandboxed host may have dropped some). The set does
// not change while the daemon runs, so it is read once.
var allCapabilities = sync.OnceValue(func() []string {
	names := make([]string, len(capabilityNumbers))
	for name, number := range capabilityNumbers {
		names[number] = name
	}
	var held []string
	for number := 0; number <= lastCapability(); number++ {
		if in, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(number), 0, 0, 0); err == nil && in == 1 {
			held = append(held, names[number])
		}
	}
	return held
})

func lastCapability() int {
	for number := len(capabilityNumbers) - 1; number > 0; number-- {
		if _, err := unix.PrctlRetInt(unix.PR_CAPBSET_READ, uintptr(number), 0, 0, 0); err == nil {
			return number
		}
	}
	return 0
}

// containerCapabilities are the sets spec.go writes: root keeps everything; another user starts with
// no effective or permitted capabilities, as after a plain setuid(2) from root.
func containerCapabilities(uid uint32) *Capabilities {
	all := allCapabilities()
	caps := &Capabilities{Bounding: all, Effective: []string{}, Permitted: []string{}, Inheritable: []string{}, Ambient: []string{}}
	if uid == 0 {
		caps.Effective, caps.Permitted = all, all
	}
	return caps
}

// The capability calls below act on the calling thread only, like the credentials in switchUser: init
// makes them on the locked thread that will execve.

// limitBoundingSet drops what the spec leaves out of the bounding set, the ceiling no later execve can
// raise a capability above. It needs CAP_SETPCAP, so it runs before switchUser gives up root; and
// PR_SET_KEEPCAPS keeps the permitted set through setuid, for applyCapabilities to choose from.
func limitBoundingSet(caps *Capabilities) error {
	if len(caps.Ambient) > 0 {
		return fmt.Errorf("ambient capabilities are not supported")
	}
	bounding, err := capabilityMask(caps.Bounding)
	if err != nil {
		return err
	}
	last := lastCapability()
	for number := 0; number <= last; number++ {
		if bounding&(1<<number) == 0 {
			if err := unix.Prctl(unix.PR_CAPBSET_DROP, uintptr(number), 0, 0, 0); err != nil {
				return fmt.Errorf("dropping capability %d from the bounding set: %w", number, err)
			}
		}
	}
	return unix.Prctl(unix.PR_SET_KEEPCAPS, 1, 0, 0, 0)
}

// applyCapabilities sets the effective, permitted and inheritable sets, after switchUser.
func applyCapabilities(caps *Capabilities) error {
	effective, err := capabilityMask(caps.Effective)
	if err != nil {
		return err
	}
	permitted, err := capabilityMask(caps.Permitted)
	if err != nil {
		return err
	}
	inheritable, err := capabilityMask(caps.Inheritable)
	if err != nil {
		return err
	}
	header := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	data := [2]unix.CapUserData{
		{Effective: uint32(effective), Permitted: uint32(permitted), Inheritable: uint32(inheritable)},
		{Effective: uint32(effective >> 32), Permitted: uint32(permitted >> 32), Inheritable: uint32(inheritable >> 32)},
	}
	if err := unix.Capset(&header, &data[0]); err != nil {
		return fmt.Errorf("capset: %w", err)
	}
	return nil
}

func capabilityMask(names []string) (uint64, error) {
	var mask uint64
	for _, name := range names {
		number, ok := capabilityNumbers[name]
		if !ok {
			return 0, fmt.Errorf("unknown capability %q", name)
		}
		mask |= 1 << number
	}
	return mask, nil
}
