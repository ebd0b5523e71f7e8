// capabilities.go: which of root's powers the container's process keeps.
//
// Root in a container is root on the host, held back by namespaces and by capabilities(7). As Docker
// does, a container's root keeps only defaultCapabilities, a set that lets the usual programs of an image
// work (chown files, bind port 80, setuid to a service user) but not the ones that reach past the
// namespaces: no CAP_SYS_ADMIN (mount, sethostname, setns), CAP_SYS_MODULE, CAP_SYS_RAWIO, CAP_SYS_TIME,
// CAP_SYS_BOOT, CAP_NET_ADMIN, CAP_SYS_PTRACE... `--cap-add` and `--cap-drop` change the set.
//
// The runtime spec's process.capabilities lists, per set (bounding, effective, permitted), the
// capabilities the process has; a runtime reads a missing list as "none", so spec.go always writes them
// out, and init (limitBoundingSet and applyCapabilities, just before execve) makes them true. The
// bounding set is the ceiling: nothing the process later executes, setuid binaries included, can get more.
package main

import (
	"fmt"
	"slices"
	"strings"
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

// defaultCapabilities is Docker's default set (moby's oci/caps/defaults.go), in number order.
var defaultCapabilities = []string{
	"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FOWNER", "CAP_FSETID", "CAP_KILL", "CAP_SETGID", "CAP_SETUID",
	"CAP_SETPCAP", "CAP_NET_BIND_SERVICE", "CAP_NET_RAW", "CAP_SYS_CHROOT", "CAP_MKNOD", "CAP_AUDIT_WRITE",
	"CAP_SETFCAP",
}

// containerCapabilities are the sets spec.go writes. The bounding set is the default set with the user's
// additions and removals, limited to what the daemon holds. Root has all of it effective; another user
// starts with nothing effective or permitted, as after a plain setuid(2) from root (and as Docker does
// since 20.10). Inheritable and ambient stay empty for everyone, so no capability survives an execve
// of a program that is not root's (the fix for CVE-2022-24769).
func containerCapabilities(uid uint32, add, drop []string) *Capabilities {
	bounding := capabilitySet(add, drop)
	caps := &Capabilities{Bounding: bounding, Effective: []string{}, Permitted: []string{}, Inheritable: []string{}, Ambient: []string{}}
	if uid == 0 {
		caps.Effective, caps.Permitted = bounding, bounding
	}
	return caps
}

// capabilitySet applies --cap-add and --cap-drop to the default set, as docker does: "ALL" stands for
// every capability, an added one wins over dropping ALL (`--cap-drop ALL --cap-add NET_BIND_SERVICE`
// keeps just that one), and a dropped one wins over adding ALL. The names were checked by
// parseCapabilities when the container was created.
func capabilitySet(add, drop []string) []string {
	wanted := map[string]bool{}
	switch {
	case slices.Contains(drop, "ALL"):
	case slices.Contains(add, "ALL"):
		for _, name := range allCapabilities() {
			wanted[name] = true
		}
	default:
		for _, name := range defaultCapabilities {
			wanted[name] = true
		}
	}
	for _, name := range drop {
		delete(wanted, name)
	}
	for _, name := range add {
		if name != "ALL" && (slices.Contains(drop, "ALL") || !slices.Contains(drop, name)) {
			wanted[name] = true
		}
	}
	var set []string
	for _, name := range allCapabilities() {
		if wanted[name] {
			set = append(set, name)
		}
	}
	return set
}

// parseCapabilities reads `--cap-add`/`--cap-drop` values as docker does: case does not matter and the
// CAP_ prefix is optional ("net_admin", "CAP_NET_ADMIN"), plus "ALL".
func parseCapabilities(names []string) ([]string, error) {
	var result []string
	for _, name := range names {
		name = strings.ToUpper(name)
		if name != "ALL" && !strings.HasPrefix(name, "CAP_") {
			name = "CAP_" + name
		}
		if _, ok := capabilityNumbers[name]; !ok && name != "ALL" {
			return nil, fmt.Errorf("unknown capability %q", name)
		}
		result = append(result, name)
	}
	return result, nil
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
