// e2e_lifecycle_test.go: starts, stops and removals as several clients see them at once.
//
// A slow start (hundreds of published ports, each an iptables call) must not hold up `ps`, `inspect`
// or `version` for anyone else, and neither may the removal that undoes it; a `run` and an `rm -f` of
// one name racing each other must never leave a container running that no command can see. The
// container's two locks that make this so are described in container.go.
package main

import (
	"encoding/binary"
	"io"
	"math/rand"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// probeWhile runs action, and meanwhile `ps`, `inspect` of another container and `version`, over and
// over; it returns how long action took and the longest each probe took.
func probeWhile(t *testing.T, other string, action func()) (time.Duration, map[string]time.Duration) {
	t.Helper()
	done := make(chan time.Duration)
	begin := time.Now()
	go func() {
		action()
		done <- time.Since(begin)
	}()
	worst := map[string]time.Duration{}
	probes := [][]string{{"ps"}, {"inspect", other}, {"version"}}
	for {
		for _, probe := range probes {
			probeBegin := time.Now()
			if _, stderr, code := shared.run("", probe...); code != 0 {
				t.Errorf("%v during the action: exit %d: %s", probe, code, stderr)
			}
			worst[probe[0]] = max(worst[probe[0]], time.Since(probeBegin))
		}
		select {
		case took := <-done:
			return took, worst
		default:
		}
	}
}

// checkProbes fails if a probe waited on the action: it must answer within a quarter of the action's
// time, or 1 s on a machine fast enough for the action itself to be short. (Measured: with 1000 ports
// the start takes 2-4 s and the removal 16-27 s here; ps answers within 0.3 s, where it used to wait
// for the whole of either.)
func checkProbes(t *testing.T, what string, took time.Duration, worst map[string]time.Duration) {
	t.Helper()
	bound := max(time.Second, took/4)
	t.Logf("%s took %v; longest answers: ps %v, inspect %v, version %v", what, took, worst["ps"], worst["inspect"], worst["version"])
	for probe, longest := range worst {
		if longest > bound {
			t.Errorf("%s took %v and held up %s for %v (allowed %v)", what, took, probe, longest, bound)
		}
	}
}

// TestE2EPsDuringSlowStart starts a container publishing 1000 ports, then removes it; meanwhile other
// clients' ps, inspect and version must keep answering promptly.
func TestE2EPsDuringSlowStart(t *testing.T) {
	engine(t, "run", "-d", "--name", "bystander", "base", "sleep", "1000")
	defer shared.run("", "rm", "-f", "bystander")
	args := []string{"run", "-d", "--name", "slow"}
	for port := 1; port <= 1000; port++ {
		args = append(args, "-p", strconv.Itoa(port))
	}
	args = append(args, "base", "sleep", "1000")
	defer shared.run("", "rm", "-f", "slow")
	took, worst := probeWhile(t, "bystander", func() {
		if _, stderr, code := shared.run("", args...); code != 0 {
			t.Errorf("run with 1000 ports: exit %d: %s", code, stderr)
		}
	})
	checkProbes(t, "a start with 1000 ports", took, worst)
	took, worst = probeWhile(t, "bystander", func() {
		if _, stderr, code := shared.run("", "rm", "-f", "slow"); code != 0 {
			t.Errorf("rm -f of the container with 1000 ports: exit %d: %s", code, stderr)
		}
	})
	checkProbes(t, "removing it", took, worst)
}

// TestE2ERunRmRace runs `run -d --name race -p 80 base sleep 7331` and `rm -f race` at the same moment, 60 times.
// Whichever wins, nothing of the container may be left once both have answered and the name is
// removed: no record, mount, cgroup, veth, firewall rule, address or process.
func TestE2ERunRmRace(t *testing.T) {
	var ids []string // of every container that ran, to look for what is left of each
	for i := 0; i < 60; i++ {
		var wg sync.WaitGroup
		wg.Add(2)
		go func() {
			defer wg.Done()
			id, _, _ := shared.run("", "run", "-d", "--name", "race", "-p", "80", "base", "sleep", "7331")
			ids = append(ids, strings.TrimSpace(id))
		}()
		go func() {
			defer wg.Done()
			time.Sleep(time.Duration(rand.Intn(150)) * time.Millisecond) // now before the create, now during the start
			shared.run("", "rm", "-f", "race")
		}()
		wg.Wait()
		shared.run("", "rm", "-f", "race") // when the rm came first, the run's container is left: remove it
	}
	// The same race made certain: `run -t` asks the client for its terminal's size between the create
	// and the start, and this client removes the container before it answers.
	run := dialRequest(t, "run", "-t", "--name", "race", "-p", "80", "base", "sleep", "7331")
	defer run.Close()
	if kind, _ := readFrame(t, run); kind != frameTerminal {
		t.Fatalf("run -t: got a %q frame, want the terminal's question", kind)
	}
	ids = append(ids, inspect(t, "race")["Id"].(string))
	engine(t, "rm", "-f", "race")
	run.Write(frame(frameResize, []byte{0, 24, 0, 80}))
	var reply []string
	for kind, payload := readFrame(t, run); kind != frameExit; kind, payload = readFrame(t, run) {
		reply = append(reply, string(payload))
	}
	if got := strings.Join(reply, ""); got != "engine: run: container race was removed\n" {
		t.Errorf("run -t of a container removed before its start: %q", got)
	}
	if out := engine(t, "ps", "-a", "--filter", "name=race"); strings.Contains(out, "race") {
		t.Errorf("race still listed:\n%s", out)
	}
	for _, mount := range mountsUnder(filepath.Join(shared.root, "containers")) {
		for _, id := range ids {
			if id != "" && strings.Contains(mount, id) {
				t.Errorf("root filesystem left mounted: %s", mount)
			}
		}
	}
	// Nothing else runs on the shared daemon now, so nothing may be left on its bridge once the veths
	// of the last runs are gone (in the background, as their namespaces die).
	var network string
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if network = networkSnapshot(t, shared); networkIsEmpty(network) {
			break
		}
	}
	if !networkIsEmpty(network) {
		t.Errorf("network left behind: %s", network)
	}
	for _, id := range ids {
		if left := existingDirs(containerCgroup(t, id)); id != "" && left != nil {
			t.Errorf("cgroups left behind: %v", left)
		}
	}
	if left := processesRunning("sleep 7331"); left != nil {
		t.Errorf("processes left running: %v", left)
	}
}

// networkIsEmpty tells whether a networkSnapshot shows no veth, no published port and no address in use.
func networkIsEmpty(snapshot string) bool {
	return strings.HasPrefix(snapshot, "veths []") && !strings.Contains(snapshot, "-j DNAT") && strings.Contains(snapshot, "(default, 0 addresses in use)")
}

// processesRunning lists the PIDs of processes whose command line is cmdline.
func processesRunning(cmdline string) []string {
	var found []string
	entries, _ := os.ReadDir("/proc")
	for _, entry := range entries {
		data, err := os.ReadFile(filepath.Join("/proc", entry.Name(), "cmdline"))
		if err == nil && strings.TrimRight(strings.ReplaceAll(string(data), "\x00", " "), " ") == cmdline {
			found = append(found, entry.Name())
		}
	}
	return found
}

// dialRequest opens a connection to the shared daemon and sends a request, as the client would.
func dialRequest(t *testing.T, args ...string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", shared.addr)
	if err != nil {
		t.Fatal(err)
	}
	conn.SetDeadline(time.Now().Add(30 * time.Second))
	if _, err := conn.Write(shared.requestFrames(t, args...)); err != nil {
		t.Fatal(err)
	}
	return conn
}

// readFrame reads one frame from the daemon.
func readFrame(t *testing.T, conn net.Conn) (byte, []byte) {
	t.Helper()
	header := make([]byte, frameHeaderSize)
	if _, err := io.ReadFull(conn, header); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	payload := make([]byte, binary.BigEndian.Uint32(header[1:]))
	if _, err := io.ReadFull(conn, payload); err != nil {
		t.Fatalf("reading a frame: %v", err)
	}
	return header[0], payload
}
