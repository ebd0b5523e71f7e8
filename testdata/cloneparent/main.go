// Command cloneparent is the attacker of TestE2EExecReapsCloneParent: run by `engine exec`, it clones
// children with CLONE_PARENT, so that they are born children of its own parent, and they exit at once.
// Whoever is that parent must reap them, or their zombies keep the container's PID namespace alive.
//
//	cloneparent [N]   clone N such children (default 3), print "cloned N" and exit
//	cloneparent sleep sleep for ever (the container's first process)
package main

import (
	"fmt"
	"os"
	"strconv"
	"syscall"
	"time"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "sleep" {
		time.Sleep(time.Duration(1<<63 - 1))
	}
	n := 3
	if len(os.Args) > 1 {
		n, _ = strconv.Atoi(os.Args[1])
	}
	for i := 0; i < n; i++ {
		if errno := cloneParent(); errno != 0 {
			fmt.Fprintln(os.Stderr, "clone:", errno)
			os.Exit(1)
		}
	}
	fmt.Println("cloned", n)
}

// cloneParent is fork(2) with CLONE_PARENT, made with raw system calls only: the child, a copy of this
// process with a single thread, must not run any of the Go runtime before it exits (as syscall's own
// forkAndExecInChild takes care not to).
//
//go:nosplit
func cloneParent() syscall.Errno {
	pid, _, errno := syscall.RawSyscall6(syscall.SYS_CLONE, syscall.CLONE_PARENT|uintptr(syscall.SIGCHLD), 0, 0, 0, 0, 0)
	if errno == 0 && pid == 0 {
		syscall.RawSyscall(syscall.SYS_EXIT_GROUP, 0, 0, 0)
	}
	return errno
}
