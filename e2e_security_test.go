package main

// End-to-end tests of the default hardening (capabilities.go, spec.go's masked and read-only paths,
// init.go): a container that tries to reach past its namespaces fails, and the host is unchanged.

import (
	"os"
	"strings"
	"testing"
)

// capabilityLines reads the capability sets and no_new_privs of a container's process from the kernel.
func capabilityLines(t *testing.T, args ...string) string {
	t.Helper()
	args = append(append([]string{"run", "--rm"}, args...), "base", "grep", "-E", "^(Cap|NoNewPrivs)", "/proc/self/status")
	return engine(t, args...)
}

func TestE2EDefaultCapabilities(t *testing.T) {
	// 00000000a80425fb is Docker's default set: chown, dac_override, fowner, fsetid, kill, setgid, setuid,
	// setpcap, net_bind_service, net_raw, sys_chroot, mknod, audit_write, setfcap.
	want := "CapInh:\t0000000000000000\nCapPrm:\t00000000a80425fb\nCapEff:\t00000000a80425fb\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
	if got := capabilityLines(t); got != want {
		t.Errorf("root:\n%s\nwant\n%s", got, want)
	}
	want = "CapInh:\t0000000000000000\nCapPrm:\t0000000000000000\nCapEff:\t0000000000000000\nCapBnd:\t00000000a80425fb\nCapAmb:\t0000000000000000\nNoNewPrivs:\t1\n"
	if got := capabilityLines(t, "-u", "1000"); got != want {
		t.Errorf("-u 1000:\n%s\nwant\n%s", got, want)
	}
	// CAP_NET_ADMIN is bit 12 (0x1000); dropping CHOWN clears bit 0.
	if got := capabilityLines(t, "--cap-add", "net_admin", "--cap-drop", "CAP_CHOWN"); !strings.Contains(got, "CapEff:\t00000000a80435fa") {
		t.Errorf("--cap-add net_admin --cap-drop CAP_CHOWN:\n%s", got)
	}
	if got := capabilityLines(t, "--cap-drop", "ALL", "--cap-add", "NET_BIND_SERVICE"); !strings.Contains(got, "CapBnd:\t0000000000000400") {
		t.Errorf("--cap-drop ALL --cap-add NET_BIND_SERVICE:\n%s", got)
	}
	// What the capabilities mean: without NET_ADMIN no interface can be changed, with it one can.
	engineFails(t, 2, "Operation not permitted", "run", "--rm", "--net", "none", "base", "ip", "link", "set", "lo", "mtu", "1300")
	engine(t, "run", "--rm", "--net", "none", "--cap-add", "NET_ADMIN", "base", "ip", "link", "set", "lo", "mtu", "1300")
	engineFails(t, 1, "Operation not permitted", "run", "--rm", "--cap-drop", "chown", "base", "chown", "1", "/tmp")
	engineFails(t, 125, `unknown capability "CAP_FLY"`, "run", "--cap-add", "fly", "base", "true")
}

// Each attempt runs in its own container and must fail; the shell prints ESCAPED if it did not.
func TestE2EContainerCannotReachTheHost(t *testing.T) {
	hostname, _ := os.Hostname()
	corePattern, _ := os.ReadFile("/proc/sys/kernel/core_pattern")
	for name, attempt := range map[string]string{
		"mount":             "mount -t tmpfs none /mnt",
		"remount /proc/sys": "mount -o remount,rw /proc/sys",
		"sysrq":             "echo h > /proc/sysrq-trigger",
		"core_pattern":      "echo '|/tmp/pwn' > /proc/sys/kernel/core_pattern",
		"sysctl":            "sysctl -w kernel.shmmax=1",
		"kcore":             "head -c 1 /proc/kcore | grep -q .",
		"keys and timers":   "test -n \"$(cat /proc/keys /proc/timer_list /proc/interrupts)\"",
		"firmware":          "test -n \"$(ls -A /sys/firmware)\"",
		"load a module":     "echo x > /tmp/m.ko && insmod /tmp/m.ko",
		"hostname":          "hostname escaped",
		"clock":             "! date -s @$(date +%s) 2>&1 | grep -q \"can't set\"", // busybox exits 0 anyway
		"setns":             "nsenter -t 1 -n true && unshare -m true",
		"raw memory":        "head -c 1 /dev/mem",
		"chroot escape":     "mkdir -p /a && chroot /a /bin/true",
	} {
		_, stderr, code := shared.run("", "run", "--rm", "base", "sh", "-c", attempt+" && echo ESCAPED")
		if code == 0 || strings.Contains(stderr, "ESCAPED") {
			t.Errorf("%s: `%s` succeeded inside a container", name, attempt)
		}
	}
	if now, _ := os.Hostname(); now != hostname {
		t.Errorf("the host's hostname changed: %q → %q", hostname, now)
	}
	if now, _ := os.ReadFile("/proc/sys/kernel/core_pattern"); string(now) != string(corePattern) {
		t.Errorf("the host's core_pattern changed: %q → %q", corePattern, now)
	}
	// What is read-only still reads; what is masked is there but empty, while the host's is not.
	if host, _ := os.ReadFile("/proc/interrupts"); len(host) == 0 {
		t.Fatal("the host's /proc/interrupts is empty: nothing to compare with")
	}
	if out := engine(t, "run", "--rm", "base", "sh", "-c", "cat /proc/sys/kernel/ostype; wc -c < /proc/interrupts"); out != "Linux\n0\n" {
		t.Errorf("reading masked and read-only files: %q", out)
	}
}

func TestE2EReadOnlyRoot(t *testing.T) {
	engineFails(t, 1, "Read-only file system", "run", "--rm", "--read-only", "base", "touch", "/x")
	// /dev/shm is its own tmpfs and /etc/hosts the engine's file: both stay writable, as with docker.
	engine(t, "run", "--rm", "--read-only", "base", "sh", "-c", "touch /dev/shm/x && echo ok >> /etc/hosts")
	engine(t, "run", "--rm", "base", "touch", "/x")
}

// No descriptor of the daemon reaches the command (CVE-2024-21626), and its working directory is inside.
func TestE2ENoLeakedDescriptors(t *testing.T) {
	// ls opens the directory it lists as fd 3; anything above would be inherited.
	if out := engine(t, "run", "--rm", "base", "ls", "/proc/self/fd"); out != "0\n1\n2\n3\n" {
		t.Errorf("fds of a container's command: %q", out)
	}
	if out := engine(t, "run", "--rm", "-i", "-w", "/tmp", "base", "sh", "-c", "readlink /proc/self/cwd; ls /proc/$$/fd; exit"); out != "/tmp\n0\n1\n2\n" {
		t.Errorf("cwd and the shell's fds: %q", out)
	}
}

// Pid 1's stdin, stdout and stderr are pipes its keeper holds (or, with -t, the container's own
// terminal), never a file of the host's: before the keeper, a container without -i had the host's
// /dev/null as stdin and the log files on the host as stdout and stderr.
func TestE2EStdioIsNoHostFile(t *testing.T) {
	fds := "for n in 0 1 2; do readlink /proc/1/fd/$n; done"
	for _, args := range [][]string{
		{"run", "--rm", "base", "sh", "-c", fds},
		{"run", "--rm", "-i", "base", "sh", "-c", fds},
	} {
		out := engine(t, args...)
		lines := strings.Fields(out)
		if len(lines) != 3 {
			t.Fatalf("%v: %q", args, out)
		}
		for _, line := range lines {
			if !strings.HasPrefix(line, "pipe:[") {
				t.Errorf("%v: pid 1 has %s, want only pipes", args, line)
			}
		}
	}
	engine(t, "run", "-d", "--name", "stdio-t", "-t", "base", "sleep", "1000")
	defer engine(t, "rm", "-f", "stdio-t")
	if out := engine(t, "exec", "stdio-t", "sh", "-c", fds); out != "/dev/pts/0\n/dev/pts/0\n/dev/pts/0\n" {
		t.Errorf("-t: pid 1 has %q, want the container's terminal", out)
	}
}
