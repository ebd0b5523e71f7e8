package main

import (
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"

	"golang.org/x/sys/unix"
)

// namespaceInode is the inode that names a namespace file: two files name the same namespace if and
// only if their inodes are equal (nsfs).
func namespaceInode(t *testing.T, file *os.File) uint64 {
	t.Helper()
	var st unix.Stat_t
	if err := unix.Fstat(int(file.Fd()), &st); err != nil {
		t.Fatal(err)
	}
	return st.Ino
}

// runningContainer is a container record whose first process is pid, started at start, as a start
// leaves it: running, with a monitor that has not yet seen the end (exited open).
func runningContainer(name string, pid int, start uint64) *Container {
	return &Container{ID: strings.Repeat("a", 64), Name: "/" + name, State: State{Status: "running", Running: true, Pid: pid, PidStart: start},
		exited: make(chan struct{})}
}

// The namespace opened when X is chosen stays X's after X exits and is reaped (when its PID is free for
// another process): it is what init joins, and it is never another process's.
func TestOpenNetworkNamespaceHoldsX(t *testing.T) {
	x := exec.Command("sleep", "100")
	x.SysProcAttr = &syscall.SysProcAttr{Cloneflags: syscall.CLONE_NEWNET}
	if err := x.Start(); err != nil {
		t.Fatal(err)
	}
	defer x.Process.Kill()
	pid := x.Process.Pid
	byPath, err := os.Open("/proc/" + strconv.Itoa(pid) + "/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	defer byPath.Close()
	want := namespaceInode(t, byPath)

	ns, err := openNetworkNamespace(runningContainer("x", pid, processStartTime(pid)))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.file.Close()
	if ns.Type != "network" || ns.Path != "/proc/"+strconv.Itoa(pid)+"/ns/net" || namespaceInode(t, ns.file) != want {
		t.Fatalf("got %+v (inode %d), want X's namespace %d", ns, namespaceInode(t, ns.file), want)
	}
	x.Process.Kill()
	x.Wait() // reaped: its PID may now name anything
	if namespaceInode(t, ns.file) != want {
		t.Fatal("the held file no longer names X's namespace")
	}
	// And it can be joined, as init joins it: on a thread of its own, which is thrown away after.
	joined := make(chan uint64, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread dies with the goroutine
		if err := unix.Setns(int(ns.file.Fd()), unix.CLONE_NEWNET); err != nil {
			t.Error(err)
			joined <- 0
			return
		}
		self, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			t.Error(err)
			joined <- 0
			return
		}
		defer self.Close()
		joined <- namespaceInode(t, self)
	}()
	if got := <-joined; got != want {
		t.Errorf("setns on the held file entered namespace %d, want X's %d", got, want)
	}
}

// X's recorded PID now names another process (here the test itself, in the host's network namespace)
// or none: X is refused as not running, where a path taken from the PID would have led to the host's.
func TestOpenNetworkNamespaceRefusesAReusedPid(t *testing.T) {
	self := os.Getpid()
	for _, x := range []*Container{
		runningContainer("reused", self, processStartTime(self)+1),
		runningContainer("reused", deadPid(t), 1),
		{ID: strings.Repeat("b", 64), Name: "/reused", State: State{Status: "exited"}},
	} {
		ns, err := openNetworkNamespace(x)
		if err == nil {
			ns.file.Close()
			t.Errorf("pid %d: opened %s", x.State.Pid, ns.Path)
		} else if !strings.HasPrefix(err.Error(), "container reused is not running") {
			t.Errorf("pid %d: %v", x.State.Pid, err)
		}
	}
}

// deadPid is the PID of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}
