// keeper_test.go: the keeper (keeper.go) driven as a daemon drives it, through its first connection,
// from the binary TestMain builds.
package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestKeeperLeftBeforeRelease: the daemon goes away (its connection ends: a kill -9) after the keeper
// started init and before it released it. The keeper kills the held init, writes in exit.json that the
// command never ran, and leaves; the next daemon reads that instead of an unknown end.
func TestKeeperLeftBeforeRelease(t *testing.T) {
	dir := t.TempDir()
	if err := os.Mkdir(filepath.Join(dir, "bundle"), 0700); err != nil {
		t.Fatal(err)
	}
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	ours, theirs := os.NewFile(uintptr(fds[0]), "daemon"), os.NewFile(uintptr(fds[1]), "keeper")
	cmd := &exec.Cmd{
		Path:        engineBin,
		Args:        []string{"engine", "init", "keeper"},
		Env:         []string{initPipeEnv + "=3", "GOMAXPROCS=1"},
		Dir:         dir,
		ExtraFiles:  []*os.File{theirs},
		SysProcAttr: &syscall.SysProcAttr{Setsid: true},
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	theirs.Close()
	gone := make(chan struct{})
	go func() { cmd.Wait(); close(gone) }()
	t.Cleanup(func() { cmd.Process.Kill(); <-gone })
	conn, err := fileConn(ours)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	hello, err := readReply(conn) // the init it started ahead
	if err != nil || hello.Pid == 0 {
		t.Fatalf("the keeper's hello: %+v %v", hello, err)
	}
	job := &keeperJob{Dir: dir, CloneFlags: pooledFlags | unix.CLONE_NEWNS, Init: hello.Pid}
	if err := writeRequest(conn, keeperRequest{Op: "start", Job: job}); err != nil {
		t.Fatal(err)
	}
	reply, err := readReply(conn)
	if err != nil || reply.Pid != hello.Pid || reply.PidStart != hello.PidStart {
		t.Fatalf("the keeper's answer to the start: %+v %v, want the init of its hello %+v", reply, err, hello)
	}
	conn.Close() // the daemon is gone before the release

	select {
	case <-gone:
	case <-time.After(10 * time.Second):
		t.Fatal("the keeper of an unreleased init stays after its daemon has gone")
	}
	if processStartTime(reply.Pid) == reply.PidStart {
		t.Errorf("the unreleased init %d outlived its keeper", reply.Pid)
	}
	exit, problem := (&Keeper{dir: dir, Pid: reply.Pid, PidStart: reply.PidStart}).exitWithoutKeeper()
	if exit.ExitCode != 125 || !strings.Contains(problem, "never ran") || exit.FinishedAt.IsZero() {
		t.Errorf("the end the next daemon records: %+v, %q", exit, problem)
	}
}
