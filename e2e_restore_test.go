// e2e_restore_test.go: what a daemon finds when it starts again, and what it leaves when it stops.
//
// Each test runs a daemon of its own (e2e_test.go's harness), kills it (SIGKILL) or stops it (SIGTERM) at
// an awkward moment, starts another on the same root and looks at the host: a torn record is set aside,
// an adopted container's published port still forwards and its address is not handed out twice, a
// start under way at SIGTERM finishes with the network kept, and records that do not run hold no
// mount, cgroup, address or port (runtime_restore.go, network.go's Adopt, runtime.go's Shutdown).
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// kill9 kills the daemon as a crash would, leaving its containers with their keepers.
func (d *daemon) kill9() {
	d.cmd.Process.Kill()
	d.cmd.Wait()
}

// stopChecked is d.stop for a deferred call: what the daemon left behind fails the test.
func (d *daemon) stopChecked(t *testing.T) {
	t.Helper()
	if err := d.stop(); err != nil {
		t.Error(err)
	}
}

// containerRecord is what the tests read of `engine inspect`.
type containerRecord struct {
	Id              string
	Name            string
	State           struct{ Running bool }
	NetworkSettings networkSettings
}

func (d *daemon) inspectRecord(t *testing.T, name string) containerRecord {
	t.Helper()
	out, stderr, code := d.run("", "inspect", name)
	var c containerRecord
	if err := json.Unmarshal([]byte(out), &c); err != nil || code != 0 {
		t.Fatalf("inspect %s: %v %s", name, err, stderr)
	}
	return c
}

// TestE2ETornRecordSetAside: a container's config.json torn in half (a disk that lost the end of a
// write) no longer makes the daemon delete the container's directory and logs: it moves it to
// ROOT/broken, says so in its log, serves on, and `info` counts it.
func TestE2ETornRecordSetAside(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	d.run("", "run", "--name", "torn", "base", "echo", "keep me")
	d.run("", "create", "--name", "whole", "base", "true")
	id := d.inspectRecord(t, "torn").Id
	if err := d.terminate(); err != nil {
		t.Fatal(err)
	}
	record := filepath.Join(root, "containers", id, "config.json")
	data, err := os.ReadFile(record)
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(record, data[:len(data)/2], 0600)

	d, err = startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopChecked(t)
	if out, _, _ := d.run("", "ps", "-a"); strings.Contains(out, "torn") || !strings.Contains(out, "whole") {
		t.Errorf("ps -a after the restart:\n%s", out)
	}
	aside := filepath.Join(root, "broken", id)
	if log, _ := os.ReadFile(filepath.Join(aside, "container.log")); !strings.Contains(string(log), "keep me") {
		t.Errorf("the log was not set aside with the record: %q", log)
	}
	if st, err := os.Stat(filepath.Join(root, "broken")); err != nil || st.Mode().Perm() != 0700 {
		t.Errorf("ROOT/broken: %v %v", st, err)
	}
	if line := "container record " + filepath.Join(root, "containers", id) + " cannot be loaded"; !strings.Contains(d.log.String(), line) {
		t.Errorf("the daemon's log does not say %q:\n%s", line, d.log)
	}
	if info, _, _ := d.run("", "info"); !strings.Contains(info, "Broken Records: 1\n") {
		t.Errorf("info:\n%s", info)
	}
	if out, _, code := d.run("", "run", "--rm", "base", "echo", "serving"); out != "serving\n" || code != 0 {
		t.Errorf("the daemon does not serve after setting the record aside: %q %d", out, code)
	}
}

// TestE2EAdoptedPortForwards: a container publishing 127.0.0.1:P:80 runs on through a daemon's SIGKILL.
// The next daemon forwards P to it again, holds P against other programs, shows it in `port` and `ps`,
// gives a new container another address than the adopted one's, and `rm -f` takes the rule away. A port
// another program took while no daemon held it stays that program's, and the daemon's log says so.
func TestE2EAdoptedPortForwards(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	port := freePort()[len("127.0.0.1:"):]
	if _, stderr, code := d.run("", "run", "-d", "--name", "web", "-p", "127.0.0.1:"+port+":80", "base", "httpd", "-f", "-p", "80", "-h", "/etc"); code != 0 {
		d.stop()
		t.Fatalf("run: %s", stderr)
	}
	lost := freePort()[len("127.0.0.1:"):]
	if _, stderr, code := d.run("", "run", "-d", "--name", "lost", "-p", "127.0.0.1:"+lost+":80", "base", "sleep", "1000"); code != 0 {
		d.stop()
		t.Fatalf("run: %s", stderr)
	}
	web := d.inspectRecord(t, "web")
	url := "http://127.0.0.1:" + port + "/hostname"
	if got := strings.TrimSpace(httpGet(t, url)); got != web.Id[:12] {
		t.Errorf("before the crash: %q", got)
	}
	d.kill9()
	// While no daemon holds it, another program takes lost's port: the next daemon must not take its
	// traffic away from it with a DNAT rule.
	squatter, err := net.Listen("tcp4", "127.0.0.1:"+lost)
	if err != nil {
		t.Fatal(err)
	}
	defer squatter.Close()

	d, err = startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopChecked(t)
	if got := strings.TrimSpace(httpGet(t, url)); got != web.Id[:12] {
		t.Errorf("after the restart: %q", got)
	}
	if l, err := net.Listen("tcp4", "127.0.0.1:"+port); err == nil {
		l.Close()
		t.Errorf("another program could take the adopted container's port %s", port)
	}
	if out, _, _ := d.run("", "port", "web"); out != "80/tcp -> 127.0.0.1:"+port+"\n" {
		t.Errorf("port web: %q", out)
	}
	if out, _, _ := d.run("", "ps", "--filter", "name=web"); !strings.Contains(out, "127.0.0.1:"+port+"->80/tcp") {
		t.Errorf("ps does not show the port:\n%s", out)
	}
	if out, _, _ := d.run("", "port", "lost"); out != "" {
		t.Errorf("port lost shows a port another program holds: %q", out)
	}
	if !strings.Contains(d.log.String(), "cannot publish 80/tcp on 127.0.0.1:"+lost) {
		t.Errorf("the daemon's log does not say lost's port was lost:\n%s", d.log)
	}
	if conn, err := net.DialTimeout("tcp4", "127.0.0.1:"+lost, time.Second); err != nil {
		t.Errorf("the program holding %s cannot be reached: %v", lost, err)
	} else {
		conn.Close()
		squatter.(*net.TCPListener).SetDeadline(time.Now().Add(time.Second))
		if accepted, err := squatter.Accept(); err != nil {
			t.Errorf("the connection to %s went elsewhere: %v", lost, err)
		} else {
			accepted.Close()
		}
	}
	// The allocator goes round from the subnet's start after a restart: without the adopted address
	// reserved, the first new container would get it.
	for _, name := range []string{"second", "third"} {
		if _, stderr, code := d.run("", "run", "-d", "--name", name, "base", "sleep", "1000"); code != 0 {
			t.Fatalf("run %s: %s", name, stderr)
		}
		if ip := d.inspectRecord(t, name).NetworkSettings.IPAddress; ip == web.NetworkSettings.IPAddress || ip == "" {
			t.Errorf("%s got %q, the adopted container has %s", name, ip, web.NetworkSettings.IPAddress)
		}
	}
	if _, stderr, code := d.run("", "rm", "-f", "web"); code != 0 {
		t.Fatalf("rm -f: %s", stderr)
	}
	if rules, _ := exec.Command("iptables-save", "-t", "nat").Output(); strings.Contains(string(rules), "--dport "+port+" ") {
		t.Errorf("the adopted container's rule outlived it:\n%s", rules)
	}
	if conn, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		conn.Close()
		t.Errorf("port %s still answers after rm -f", port)
	}
}

// TestE2EShutdownDuringStart sends SIGTERM while a start is under way (a container publishing 200 ports:
// an iptables call each) and while other clients keep starting and removing containers. Every start the
// daemon had accepted finishes before it leaves, with the bridge, the rules and the cgroups it needs;
// none starts after the daemon took its list, with them removed under it. The next daemon adopts what
// runs.
func TestE2EShutdownDuringStart(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	args := []string{"create", "--name", "slow"}
	for i := 0; i < 200; i++ {
		args = append(args, "-p", "127.0.0.1::80")
	}
	out, stderr, code := d.run("", append(args, "base", "sleep", "1000")...)
	if code != 0 {
		d.stop()
		t.Fatalf("create: %s", stderr)
	}
	slowID := strings.TrimSpace(out)
	stop := make(chan struct{})
	var workers sync.WaitGroup
	for w := 0; w < 3; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				if _, _, code := d.run("", "run", "-d", "--name", name, "base", "sleep", "1000"); code == 0 {
					d.run("", "rm", "-f", name)
				}
			}
		}()
	}
	started := make(chan string, 1)
	go func() {
		_, stderr, code := d.run("", "start", "slow")
		started <- fmt.Sprintf("exit %d %s", code, stderr)
	}()
	chain := "ENGINE-DNAT-" + d.bridge
	waitFor(t, func() bool {
		rules, _ := exec.Command("iptables-save", "-t", "nat").Output()
		return strings.Count(string(rules), "-A "+chain+" ") >= 10
	})
	d.cmd.Process.Signal(syscall.SIGTERM)
	exited := make(chan error, 1)
	go func() { exited <- d.cmd.Wait() }()
	select {
	case err := <-exited:
		if err != nil {
			t.Errorf("the daemon exited with %v", err)
		}
	case <-time.After(60 * time.Second):
		d.cmd.Process.Kill()
		t.Fatalf("the daemon did not leave on SIGTERM: %s", d.log)
	}
	close(stop)
	workers.Wait()
	if result := <-started; result != "exit 0 " {
		t.Errorf("the start accepted before SIGTERM: %s", result)
	}
	// What runs now outlives the daemon: what it needs must still be there.
	keepers := keepersUnder(root)
	if len(keepers) == 0 {
		t.Error("no container runs: the start of slow did not finish")
	}
	if _, err := net.InterfaceByName(d.bridge); err != nil {
		t.Errorf("%d containers run, and the bridge is gone: %v", len(keepers), err)
	}
	if rules, _ := exec.Command("iptables-save", "-t", "nat").Output(); strings.Count(string(rules), "-A "+chain+" ") != 200 {
		t.Errorf("%d containers run, and %d of slow's 200 port rules are left", len(keepers), strings.Count(string(rules), "-A "+chain+" "))
	}
	hierarchy, err := DetectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	slow, err := os.ReadFile(filepath.Join(root, "containers", slowID, "config.json"))
	if err != nil || !strings.Contains(string(slow), `"Running": true`) {
		t.Errorf("slow's record after the daemon left (%v):\n%s", err, slow)
	}
	cgroup := NewCgroup(hierarchy, cgroupParent+"/"+slowID)
	dirs := []string{cgroup.path("")}
	if !hierarchy.Unified {
		dirs = []string{cgroup.path("memory"), cgroup.path("pids")}
	}
	for _, dir := range dirs {
		if _, err := os.Stat(dir); err != nil {
			t.Errorf("slow runs, and its cgroup is gone: %v", err)
		}
	}

	d, err = startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopChecked(t)
	if out, _, _ := d.run("", "ps", "-q"); len(strings.Fields(out)) != len(keepers) {
		t.Errorf("%d keepers ran, the next daemon shows %d running containers", len(keepers), len(strings.Fields(out)))
	}
	if out, _, _ := d.run("", "port", "slow"); strings.Count(out, "\n") != 200 {
		t.Errorf("port slow after the restart: %d lines", strings.Count(out, "\n"))
	}
	checkRecordsMatchHost(t, d)
}

// TestE2EKilledDuringStarts kills the daemon (SIGKILL) while eight clients start containers, some with a
// published port. The next daemon shows those whose start had not finished as not running, and they
// hold nothing: no mounted root, no cgroup, no address or port in inspect or ps.
func TestE2EKilledDuringStarts(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var workers sync.WaitGroup
	for w := 0; w < 8; w++ {
		workers.Add(1)
		go func() {
			defer workers.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				args := []string{"run", "-d", "base", "sleep", "1000"}
				if i%2 == 1 {
					args = []string{"run", "-d", "-p", "127.0.0.1::80", "base", "sleep", "1000"}
				}
				d.run("", args...)
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	d.kill9()
	close(stop)
	workers.Wait()

	d, err = startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopChecked(t)
	checkRecordsMatchHost(t, d)
}

// checkRecordsMatchHost checks every container record of d against the host: one that does not run has
// no mount of its root, no cgroup directory and no address or port; one that runs has its keeper.
func checkRecordsMatchHost(t *testing.T, d *daemon) {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(d.root, "containers"))
	if err != nil {
		t.Fatal(err)
	}
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	ps, _, _ := d.run("", "ps", "-a")
	running, stopped := 0, 0
	for _, entry := range entries {
		if strings.HasPrefix(entry.Name(), ".") {
			continue
		}
		c := d.inspectRecord(t, entry.Name())
		if c.State.Running {
			running++
			continue
		}
		stopped++
		if strings.Contains(string(mountinfo), filepath.Join(d.root, "containers", c.Id)) {
			t.Errorf("%s does not run and its root is mounted", c.Id[:12])
		}
		for _, mount := range cgroupMounts() {
			if _, err := os.Stat(filepath.Join(mount, cgroupParent, c.Id)); err == nil {
				t.Errorf("%s does not run and has its cgroup %s", c.Id[:12], filepath.Join(mount, cgroupParent, c.Id))
			}
		}
		if s := c.NetworkSettings; s.IPAddress != "" || len(s.Ports) > 0 {
			t.Errorf("%s does not run and shows the network %+v", c.Id[:12], s)
		}
		for _, line := range strings.Split(ps, "\n") {
			if strings.HasPrefix(line, c.Id[:12]) && strings.Contains(line, "->") {
				t.Errorf("ps shows a port for %s, which does not run: %s", c.Id[:12], line)
			}
		}
	}
	if keepers := len(keepersUnder(d.root)); keepers != running {
		t.Errorf("%d containers run, %d keepers", running, keepers)
	}
	t.Logf("%d records: %d running, %d not", running+stopped, running, stopped)
}
