// e2e_network_test.go: the bridge network, published ports and network modes, driven through the real
// binary. Every test talks only to loopback, to the bridge's own gateway address and to containers the
// engine made (the daemon and helpers are in e2e_test.go).
package main

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

type networkSettings struct {
	IPAddress, Gateway, MacAddress, Bridge string
	IPPrefixLen                            int
	Ports                                  map[string][]struct{ HostIp, HostPort string }
}

func networkOf(t *testing.T, name string) networkSettings {
	t.Helper()
	var c struct{ NetworkSettings networkSettings }
	if err := json.Unmarshal([]byte(engine(t, "inspect", name)), &c); err != nil {
		t.Fatal(err)
	}
	return c.NetworkSettings
}

// httpGet fetches a URL on loopback, retrying briefly while a server in a container starts.
func httpGet(t *testing.T, url string) string {
	t.Helper()
	client := &http.Client{Timeout: 2 * time.Second}
	var lastErr error
	for i := 0; i < 50; i++ {
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			return string(body)
		}
		lastErr = err
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("GET %s: %v", url, lastErr)
	return ""
}

func TestE2EBridge(t *testing.T) {
	out := engine(t, "run", "--rm", "--name", "bridged", "base", "sh", "-c", "ip -o -4 addr show eth0; ip route; ip -o link show lo; cat /etc/hosts")
	fields := strings.Fields(out)
	if len(fields) < 4 || fields[1] != "eth0" {
		t.Fatalf("eth0: %q", out)
	}
	ip, _, err := net.ParseCIDR(fields[3])
	bridge := shared.bridgeNet(t)
	if err != nil || !bridge.Contains(ip) || ip.Equal(bridge.IP) {
		t.Errorf("eth0 has %s, not an address of the bridge's %s", fields[3], bridge)
	}
	for _, want := range []string{"default via " + bridge.IP.String(), "lo:", "UP", ip.String() + "\t", "bridged"} {
		if !strings.Contains(out, want) {
			t.Errorf("no %q in:\n%s", want, out)
		}
	}
	engine(t, "run", "-d", "--name", "server", "base", "httpd", "-f", "-p", "80", "-h", "/etc")
	defer shared.run("", "rm", "-f", "server")
	server := networkOf(t, "server")
	serverIP := net.ParseIP(server.IPAddress)
	if serverIP == nil || server.Gateway == "" || server.Bridge != shared.bridge || server.MacAddress != macAddress(serverIP).String() {
		t.Fatalf("NetworkSettings: %+v", server)
	}
	// Container to container, by address.
	hostname := strings.TrimSpace(engine(t, "run", "--rm", "base", "wget", "-qO-", "http://"+server.IPAddress+"/hostname"))
	if want := inspect(t, "server")["Id"].(string)[:12]; hostname != want {
		t.Errorf("wget from another container: %q, want %q", hostname, want)
	}
	// Sharing server's network namespace, as a pod's containers do.
	if got := strings.TrimSpace(engine(t, "run", "--rm", "--net", "container:server", "base", "wget", "-qO-", "http://127.0.0.1/hostname")); got != hostname {
		t.Errorf("--net container:server: %q", got)
	}
	engine(t, "create", "--name", "idle", "base", "true")
	defer shared.run("", "rm", "idle")
	engineFails(t, 125, "container idle: it is not running", "run", "--rm", "--net", "container:idle", "base", "true")
	engineFails(t, 125, "no such container: nosuch", "run", "--rm", "--net", "container:nosuch", "base", "true")
}

// bridgeNet is the daemon's bridge address (the gateway) with its subnet's mask.
func (d *daemon) bridgeNet(t *testing.T) *net.IPNet {
	link, err := net.InterfaceByName(d.bridge)
	if err != nil {
		t.Fatalf("bridge %s: %v", d.bridge, err)
	}
	addrs, _ := link.Addrs()
	for _, a := range addrs {
		if ipnet, ok := a.(*net.IPNet); ok && ipnet.IP.To4() != nil {
			return ipnet
		}
	}
	t.Fatalf("bridge %s has no address", d.bridge)
	return nil
}

func TestE2EPublishedPorts(t *testing.T) {
	port := freePort()[len("127.0.0.1:"):]
	engine(t, "run", "-d", "--name", "web", "-p", port+":80", "-p", "127.0.0.1::80", "base", "httpd", "-f", "-p", "80", "-h", "/etc")
	defer shared.run("", "rm", "-f", "web")
	hostname := inspect(t, "web")["Id"].(string)[:12]
	if got := strings.TrimSpace(httpGet(t, "http://127.0.0.1:"+port+"/hostname")); got != hostname {
		t.Errorf("127.0.0.1:%s: %q", port, got)
	}
	ports := engine(t, "port", "web")
	lines := strings.Split(strings.TrimSpace(ports), "\n")
	if len(lines) != 2 || lines[0] != "80/tcp -> 0.0.0.0:"+port || !strings.HasPrefix(lines[1], "80/tcp -> 127.0.0.1:") {
		t.Fatalf("port web: %q", ports)
	}
	random := lines[1][strings.LastIndexByte(lines[1], ':')+1:]
	if got := strings.TrimSpace(httpGet(t, "http://127.0.0.1:"+random+"/hostname")); got != hostname {
		t.Errorf("the port the kernel chose, %s: %q", random, got)
	}
	// From another container, through the bridge's own address (PREROUTING DNAT).
	gateway := networkOf(t, "web").Gateway
	if got := strings.TrimSpace(engine(t, "run", "--rm", "base", "wget", "-qO-", "http://"+gateway+":"+port+"/hostname")); got != hostname {
		t.Errorf("from another container via %s:%s: %q", gateway, port, got)
	}
	if !strings.Contains(engine(t, "ps", "--filter", "name=web"), "0.0.0.0:"+port+"->80/tcp") {
		t.Errorf("ps does not show the port")
	}
	// The port is taken now: a second container cannot have it, and leaves nothing behind.
	before := networkSnapshot(t, shared)
	engineFails(t, 125, "cannot publish 80/tcp on 0.0.0.0:"+port, "run", "--rm", "-p", port+":80", "base", "true")
	engineFails(t, 125, "-p needs the bridge network", "run", "--rm", "--net", "none", "-p", "80", "base", "true")
	engineFails(t, 125, "invalid port", "run", "--rm", "-p", "80/sctp", "base", "true")
	if after := networkSnapshot(t, shared); after != before {
		t.Errorf("a failed start left something:\nbefore %s\nafter  %s", before, after)
	}
	engine(t, "stop", "-t", "0", "web")
	if _, err := net.DialTimeout("tcp", "127.0.0.1:"+port, time.Second); err == nil {
		t.Errorf("port %s still answers after stop", port)
	}
	if out := engine(t, "port", "web"); out != "" {
		t.Errorf("port of a stopped container: %q", out)
	}
}

func TestE2EPublishedUDP(t *testing.T) {
	image := udpEchoImage(t)
	port := freeUDPPort(t)
	engine(t, "run", "-d", "--name", "udp", "-p", "127.0.0.1:"+port+":53/udp", image, "/udpecho")
	defer shared.run("", "rm", "-f", "udp")
	conn, err := net.Dial("udp", "127.0.0.1:"+port)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	reply := make([]byte, 64)
	for i := 0; i < 50; i++ { // datagrams sent before the server listens are lost: try again
		conn.Write([]byte("ping"))
		conn.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
		if n, err := conn.Read(reply); err == nil {
			if string(reply[:n]) != "ping" {
				t.Errorf("echo: %q", reply[:n])
			}
			return
		}
	}
	t.Fatal("no UDP reply through the published port")
}

func freeUDPPort(t *testing.T) string {
	conn, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_, port, _ := net.SplitHostPort(conn.LocalAddr().String())
	return port
}

// udpEchoImage builds testdata/udpecho statically and imports it as an image of its own.
// buildStatic builds one of the test programs under testdata/ as a static binary and returns it.
func buildStatic(t *testing.T, pkg string) []byte {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "program")
	build := exec.Command("go", "build", "-o", bin, pkg)
	build.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("building %s: %v\n%s", pkg, err, out)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func udpEchoImage(t *testing.T) string {
	t.Helper()
	data := buildStatic(t, "./testdata/udpecho")
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "udpecho", Mode: 0755, Size: int64(len(data)), Typeflag: tar.TypeReg})
	tw.Write(data)
	tw.Close()
	if _, stderr, code := shared.run(layer.String(), "import", "-", "udpecho"); code != 0 {
		t.Fatalf("import udpecho: %s", stderr)
	}
	return "udpecho"
}

// networkSnapshot is what a container's network leaves on the host: the bridge's veths, the engine's
// firewall rules and the addresses in use. Equal snapshots mean nothing leaked.
func networkSnapshot(t *testing.T, d *daemon) string {
	t.Helper()
	var veths []string
	links, _ := net.Interfaces()
	for _, link := range links {
		if master, err := os.Readlink("/sys/class/net/" + link.Name + "/master"); err == nil && filepath.Base(master) == d.bridge {
			veths = append(veths, link.Name)
		}
	}
	rules, _ := exec.Command("iptables-save").Output()
	var ours []string
	for _, line := range strings.Split(string(rules), "\n") {
		if strings.Contains(line, d.bridge) {
			ours = append(ours, line)
		}
	}
	info, _, _ := d.run("", "info")
	inUse := info[strings.Index(info, "Network:"):]
	inUse = inUse[:strings.IndexByte(inUse, '\n')]
	return fmt.Sprintf("veths %v; %d rules %q; %s", veths, len(ours), strings.Join(ours, " | "), inUse)
}

// waitForSnapshot waits for background work (veth deletion) to finish and returns the settled snapshot.
func waitForSnapshot(t *testing.T, d *daemon, want string) string {
	t.Helper()
	var got string
	for i := 0; i < 100; i++ {
		if got = networkSnapshot(t, d); got == want {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	return got
}

// TestE2ENetworkCleanup runs 1000 containers (four at a time) through the bridge, some with ports and
// some failing to start, and finds the host as it was: no veth, rule or address left.
func TestE2ENetworkCleanup(t *testing.T) {
	before := networkSnapshot(t, shared)
	var wg sync.WaitGroup
	failures := make(chan string, 1000)
	for worker := 0; worker < 4; worker++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 250; i++ {
				args := []string{"run", "--rm", "base", "true"}
				switch i % 50 {
				case 1:
					args = []string{"run", "--rm", "-p", "80", "-p", "127.0.0.1::81/udp", "base", "true"}
				case 2:
					args = []string{"run", "--rm", "base", "nosuch"} // fails in init, after the network is set up
				}
				if _, stderr, code := shared.run("", args...); code != 0 && args[3] != "nosuch" {
					failures <- fmt.Sprintf("%v: %d %s", args, code, stderr)
				}
			}
		}()
	}
	wg.Wait()
	close(failures)
	for failure := range failures {
		t.Error(failure)
	}
	if after := waitForSnapshot(t, shared, before); after != before {
		t.Errorf("after 1000 containers:\nbefore %s\nafter  %s", before, after)
	}
}

// TestE2ENetworkDaemonLifecycle: a daemon makes its bridge and rules, keeps the allocator right across a
// restart, and takes everything away when it stops.
func TestE2ENetworkDaemonLifecycle(t *testing.T) {
	d, err := startDaemon(filepath.Join(t.TempDir(), "root"))
	if err != nil {
		t.Fatal(err)
	}
	d.run("", "run", "-d", "--name", "running", "-p", "80", "base", "sleep", "1000")
	d.run("", "run", "--name", "exited", "base", "true")
	if err := d.stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := net.InterfaceByName(d.bridge); err == nil {
		t.Errorf("bridge %s left after the daemon stopped", d.bridge)
	}
	if rules, _ := exec.Command("iptables-save").Output(); bytes.Contains(rules, []byte(d.bridge)) {
		t.Errorf("rules left after the daemon stopped:\n%s", rules)
	}
	d, err = startDaemon(d.root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stop()
	if info, _, _ := d.run("", "info"); !strings.Contains(info, "(default, 0 addresses in use)") {
		t.Errorf("after a restart: %s", info)
	}
	if out, _, code := d.run("", "start", "running"); code != 0 {
		t.Errorf("start after restart: %s", out)
	}
	if info, _, _ := d.run("", "info"); !strings.Contains(info, "(default, 1 addresses in use)") {
		t.Errorf("one running container: %s", info)
	}
	if out, _, _ := d.run("", "port", "running"); !strings.HasPrefix(out, "80/tcp -> 0.0.0.0:") {
		t.Errorf("port after restart: %q", out)
	}
	d.run("", "rm", "-f", "running")
}
