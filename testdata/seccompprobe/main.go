// Command seccompprobe makes the system calls Docker's seccomp profile refuses and prints, for each, the
// errno it got ("keyctl 1") or 0. The seccomp tests run it in containers (static, with no libc: every
// call is a raw unix.Syscall). `seccompprobe x32` makes one x32 call instead, which the filter answers
// by killing the process; `seccompprobe sleep` sleeps, for a container to exec into.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleep" { // a container to exec into
		time.Sleep(time.Hour)
	}
	if len(os.Args) > 1 && os.Args[1] == "x32" {
		_, _, errno := unix.RawSyscall(0x40000000|unix.SYS_GETPID, 0, 0, 0)
		fmt.Println("x32", int(errno))
		return
	}
	user, _ := unix.BytePtrFromString("user")
	description, _ := unix.BytePtrFromString("engine-seccomp-probe")
	calls := []struct {
		name       string
		nr         uintptr
		a1, a2, a3 uintptr
	}{
		{"keyctl", unix.SYS_KEYCTL, 0 /* KEYCTL_GET_KEYRING_ID */, ^uintptr(2) /* the session keyring, -3 */, 0},
		{"add_key", unix.SYS_ADD_KEY, uintptr(unsafe.Pointer(user)), uintptr(unsafe.Pointer(description)), 0}, // no payload, no keyring: EINVAL past the filter
		{"bpf", unix.SYS_BPF, 0xffff, 0, 0},                                                                   // an unknown command: EINVAL past the filter, if allowed
		{"kexec_load", unix.SYS_KEXEC_LOAD, 0, 0, 0},
		{"open_by_handle_at", unix.SYS_OPEN_BY_HANDLE_AT, ^uintptr(0), 0, 0}, // fd -1: EBADF past the filter
		{"init_module", unix.SYS_INIT_MODULE, 0, 0, 0},
		{"socket(AF_ALG)", unix.SYS_SOCKET, unix.AF_ALG, unix.SOCK_SEQPACKET, 0},
		{"socket(AF_VSOCK)", unix.SYS_SOCKET, 40, unix.SOCK_STREAM, 0},
		{"personality(READ_IMPLIES_EXEC)", unix.SYS_PERSONALITY, 0x0400000, 0, 0},
		{"clone3", unix.SYS_CLONE3, 0, 0, 0}, // no arguments: EINVAL past the filter
		{"socket(AF_INET)", unix.SYS_SOCKET, unix.AF_INET, unix.SOCK_DGRAM, 0},
		{"personality(query)", unix.SYS_PERSONALITY, 0xffffffff, 0, 0},
	}
	for _, c := range calls {
		_, _, errno := unix.Syscall(c.nr, c.a1, c.a2, c.a3)
		fmt.Println(c.name, int(errno))
	}
	runtime.KeepAlive(user)
	runtime.KeepAlive(description)
	status, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(line, "Seccomp:") {
			fmt.Println(strings.Join(strings.Fields(line), " "))
		}
	}
}
