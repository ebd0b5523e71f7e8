// e2e_daemon_test.go: the daemons the end-to-end tests start, and the client commands they run.
//
// A daemon serves a temporary root on a free loopback port with a bridge of its own (startDaemon), and
// stop checks that it leaves as an admin expects: no keeper, bridge or firewall rule behind, and no data
// race. Under `go test -race` the binary is race-enabled (e2e_race_test.go), and every process of it
// reports the races it finds to a file (GORACE log_path) the moment it finds each: clients under
// raceLogs, each daemon in a directory of its own, and the keepers a daemon starts where it does
// (keeper_spare.go passes GORACE on). Such a file fails the daemon's stop, and TestMain's run.
package main

import (
	"bytes"
	"fmt"
	"hash/crc32"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

type daemon struct {
	root, addr, bridge string
	cmd                *exec.Cmd
	log                *syncBuffer // its stdout and stderr (syncBuffer: e2e_terminal_test.go)
	raceDir            string      // its race reports and its keepers' (GORACE log_path)
}

// startDaemon runs `engine -d` on root and a free port and waits until it answers; the first daemon on
// a root also makes the base image.
func startDaemon(root string) (*daemon, error) {
	d := newDaemon(root)
	d.cmd = exec.Command(engineBin, "-d", "-r", root, "-H", d.addr, "--bridge", d.bridge)
	return d, d.start()
}

// newDaemon chooses a daemon's port and bridge, for a test that starts it its own way (d.cmd, d.start).
func newDaemon(root string) *daemon {
	d := &daemon{root: root, addr: freePort(), log: &syncBuffer{}}
	// A bridge of its own, named after the root: test daemons never share one, and a daemon restarted
	// on the same root finds the bridge its killed predecessor left.
	d.bridge = fmt.Sprintf("et%08x", crc32.ChecksumIEEE([]byte(root)))
	// A directory per daemon, not per root: a restarted daemon's reports are its own.
	var err error
	if d.raceDir, err = os.MkdirTemp(raceLogs, "daemon-"); err != nil {
		panic(err)
	}
	return d
}

// start runs d.cmd, which must serve d.addr with d.root as its root, and waits until it answers.
func (d *daemon) start() error {
	d.cmd.Stdout, d.cmd.Stderr = d.log, d.log
	d.cmd.Env = append(d.cmd.Environ(), gorace(filepath.Join(d.raceDir, "race")))
	if err := d.cmd.Start(); err != nil {
		return err
	}
	for i := 0; ; i++ {
		if _, _, code := d.run("", "version"); code == 0 {
			break
		}
		if i == 100 {
			d.cmd.Process.Kill()
			d.cmd.Wait()
			return fmt.Errorf("the daemon did not come up: %s", d.log)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if _, _, code := d.run("", "inspect", "base"); code != 0 {
		script := exec.Command("contrib/mkimage-busybox.sh")
		script.Env = append(os.Environ(), "ENGINE="+engineBin, "ENGINE_ROOT="+d.root, "ENGINE_HOST="+d.addr)
		if out, err := script.CombinedOutput(); err != nil {
			d.stop()
			return fmt.Errorf("making base: %v\n%s", err, out)
		}
	}
	return nil
}

// stop removes every container (they would outlive the daemon: keeper.go), then ends the daemon as an
// admin would (SIGTERM) and checks it left cleanly: no race report, keeper, bridge or rule of its own.
func (d *daemon) stop() error {
	if ids, _, code := d.run("", "ps", "-aq"); code == 0 && strings.TrimSpace(ids) != "" {
		d.run("", append([]string{"rm", "-f"}, strings.Fields(ids)...)...)
	}
	err := d.terminate()
	// Before terminate's error: a race-enabled daemon that found a race exits with status 66.
	if reports := raceReports(d.raceDir); reports != "" {
		return fmt.Errorf("data races found by the daemon on %s or its keepers:\n%s", d.root, reports)
	}
	if err != nil {
		return err
	}
	if keepers := keepersUnder(d.root); len(keepers) > 0 {
		return fmt.Errorf("keepers left running under %s: %v", d.root, keepers)
	}
	if _, err := net.InterfaceByName(d.bridge); err == nil {
		return fmt.Errorf("the daemon left its bridge %s", d.bridge)
	}
	if rules, _ := exec.Command("iptables-save").Output(); bytes.Contains(rules, []byte(d.bridge)) {
		return fmt.Errorf("the daemon left rules for %s", d.bridge)
	}
	return nil
}

// stopAtEnd is stop for a test's defer: a daemon that does not stop cleanly, or found a race, fails it.
func (d *daemon) stopAtEnd(t *testing.T) {
	t.Helper()
	if err := d.stop(); err != nil {
		t.Error(err)
	}
}

// terminate sends the daemon SIGTERM and waits for it to exit; its containers go on running.
func (d *daemon) terminate() error {
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- d.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			return fmt.Errorf("daemon exited with %v: %s", err, d.log)
		}
		return nil
	case <-time.After(30 * time.Second):
		d.cmd.Process.Kill()
		return fmt.Errorf("daemon did not stop on SIGTERM")
	}
}

// gorace is the GORACE setting that makes a race-enabled engine write its reports to logPath.PID, the
// moment it finds each race, and exit without the runtime's default one-second sleep. It changes
// nothing for a binary built without -race.
func gorace(logPath string) string {
	return "GORACE=log_path=" + logPath + " atexit_sleep_ms=0"
}

// raceReports returns the race reports written in dir or below, each headed by its file's name.
func raceReports(dir string) string {
	var reports strings.Builder
	filepath.WalkDir(dir, func(path string, entry os.DirEntry, err error) error {
		if err == nil && entry.Type().IsRegular() {
			data, _ := os.ReadFile(path)
			fmt.Fprintf(&reports, "== %s\n%s", path, data)
		}
		return nil
	})
	return reports.String()
}

// keepersUnder lists the PIDs of the keepers working in a directory under root (keeper.go: a keeper's
// working directory is its container's).
func keepersUnder(root string) []int {
	var pids []int
	entries, _ := os.ReadDir("/proc")
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if string(cmdline) == "engine\x00init\x00keeper\x00" && strings.HasPrefix(cwd, root+"/") {
			pids = append(pids, pid)
		}
	}
	return pids
}

func freePort() string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// run runs one client command with the given stdin and returns its stdout, stderr and exit status.
func (d *daemon) run(stdin string, args ...string) (string, string, int) {
	cmd := exec.Command(engineBin, append([]string{"-r", d.root, "-H", d.addr}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	if exit, ok := err.(*exec.ExitError); ok {
		code = exit.ExitCode()
	} else if err != nil {
		code = -1
	}
	return stdout.String(), stderr.String(), code
}

// TestE2EKeepersGetTheDaemonsGORACE: every keeper a daemon starts, the spare and a container's, carries
// the daemon's GORACE (keeper_spare.go), so a race-enabled keeper reports where its daemon does rather
// than on a stderr nobody reads.
func TestE2EKeepersGetTheDaemonsGORACE(t *testing.T) {
	engine(t, "run", "-d", "--name", "goraced", "base", "sleep", "1000")
	defer shared.run("", "rm", "-f", "goraced")
	keepers := keepersUnder(shared.root)
	if len(keepers) == 0 {
		t.Fatal("no keeper runs under the shared daemon's root")
	}
	want := gorace(filepath.Join(shared.raceDir, "race"))
	for _, pid := range keepers {
		environ, err := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if err != nil || !slices.Contains(strings.Split(string(environ), "\x00"), want) {
			t.Errorf("keeper %d: environment %q (%v), want %s in it", pid, environ, err, want)
		}
	}
}
