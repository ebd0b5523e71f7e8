// container_test.go covers the bounds on the daemon's waits for a container (container.go and
// container_stop.go): init's verdict after its release, and the end of a run after SIGKILL. Each is a
// wait the container could otherwise make last forever while a command, or the daemon's shutdown,
// waits for it.
package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// shorten sets a bound for the length of a test.
func shorten(t *testing.T, bound *time.Duration, value time.Duration) {
	saved := *bound
	*bound = value
	t.Cleanup(func() { *bound = saved })
}

// TestReleaseGivesUpOnASilentInit: an init that never answers on the sync pipe (as one blocked opening
// a FIFO of the image) fails the start after initVerdictTimeout, with and without a terminal.
func TestReleaseGivesUpOnASilentInit(t *testing.T) {
	shorten(t, &initVerdictTimeout, 200*time.Millisecond)
	for _, tty := range []bool{false, true} {
		parent, child, err := newSyncPipe()
		if err != nil {
			t.Fatal(err)
		}
		defer child.Close() // held open and silent, like a hung init's
		k := &keeper{job: keeperJob{Dir: "/c", Tty: tty}, init: &initProcess{syncPipe: parent, done: make(chan struct{})}}
		done := make(chan error, 1)
		go func() { _, err := k.release(); done <- err }()
		select {
		case err := <-done:
			if err == nil || !strings.Contains(err.Error(), "init did not start the command within 200ms") {
				t.Errorf("tty %v: release of a silent init: %v", tty, err)
			}
		case <-time.After(10 * time.Second):
			t.Fatalf("tty %v: release still waits for a silent init after 10s", tty)
		}
		if bundle, err := readRelease(child); bundle != "/c/bundle" || err != nil {
			t.Errorf("tty %v: init was released into %q, %v; want /c/bundle", tty, bundle, err)
		}
	}
}

// undying is a container whose run never ends, as far as the daemon can tell: its process is alive
// (and dies on the SIGKILL its keeper passes on), but nothing closes its exited channel, as when pid 1
// cannot be reaped.
func undying(t *testing.T) *Container {
	t.Helper()
	dir := t.TempDir()
	cmd := exec.Command("sleep", "1000")
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	k := &keeper{init: &initProcess{cmd: cmd, done: make(chan struct{})}, ended: make(chan struct{})}
	var err error
	if k.log, err = OpenLogWriter(dir, LogConfig{}); err != nil {
		t.Fatal(err)
	}
	if err := k.listen(dir); err != nil {
		t.Fatal(err)
	}
	go k.serve()
	t.Cleanup(func() { k.listener.Close() })
	c := &Container{ID: "0123456789ab", Name: "/undying", Config: &Config{}, HostConfig: &HostConfig{}, root: dir}
	c.State.setRunning(cmd.Process.Pid, processStartTime(cmd.Process.Pid))
	c.keeper, c.exited = &Keeper{dir: dir, Pid: cmd.Process.Pid}, make(chan struct{})
	return c
}

// TestStopAndRmAreBounded: stop and rm -f of a container whose end never comes report it after
// killTimeout instead of waiting forever; the container stays, and can be removed later.
func TestStopAndRmAreBounded(t *testing.T) {
	shorten(t, &killTimeout, 200*time.Millisecond)
	want := "container undying did not exit within 200ms of SIGKILL"
	c := undying(t)
	begin := time.Now()
	if err := c.Stop(100 * time.Millisecond); err == nil || err.Error() != want {
		t.Errorf("Stop: %v, want %q", err, want)
	}
	if took := time.Since(begin); took > 5*time.Second {
		t.Errorf("Stop took %v", took)
	}
	c = undying(t)
	r := &Runtime{containers: []*Container{c}}
	if err := r.Remove(c, true); err == nil || err.Error() != want {
		t.Errorf("rm -f: %v, want %q", err, want)
	}
	if c.removed || len(r.List()) != 1 {
		t.Errorf("after a failed rm -f: removed %v, %d containers listed", c.removed, len(r.List()))
	}
	if c.exitedChan() == nil {
		t.Error("after a failed rm -f, the container no longer counts as running")
	}
}

func mustRead(t *testing.T, f *os.File, buf []byte) int {
	t.Helper()
	n, err := f.Read(buf)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
