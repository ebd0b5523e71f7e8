// e2e_network_test.go: the bridge network, published ports and network modes, driven through the real
// binary. Every test talks only to loopback, to the bridge's own gateway address and to containers the
// engine made (the daemon and helpers are in e2e_test.go).
package main

import (
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
	engineFails(t, 125, "engine: run: container idle is not running", "run", "--rm", "--net", "container:idle", "base", "true")
	engineFails(t, 125, "no such container: nosuch", "run", "--rm", "--net", "container:nosuch", "base", "true")
}

// TestE2EJoinedNetworkIsChecked: `--net container:X` joins X's namespace as it is when the container
// starts. X stopped between create and start is refused (its recorded PID may by then name any process:
// netns_test.go checks that case directly), and a container naming itself is refused at once.
func TestE2EJoinedNetworkIsChecked(t *testing.T) {
	engine(t, "run", "-d", "--name", "owner", "base", "sleep", "1000")
	defer shared.run("", "rm", "-f", "owner")
	engine(t, "create", "--name", "joiner", "--net", "container:owner", "base", "cat", "/sys/class/net/eth0/address")
	defer shared.run("", "rm", "-f", "joiner")
	engine(t, "stop", "-t", "0", "owner")
	engineFails(t, 125, "container owner is not running", "start", "-a", "joiner")
	engine(t, "start", "owner")
	if got, want := engine(t, "start", "-a", "joiner"), networkOf(t, "owner").MacAddress+"\n"; got != want {
		t.Errorf("joiner's eth0 is %q, want owner's %q", got, want)
	}
	engine(t, "create", "--name", "selfish", "--net", "container:selfish", "base", "true")
	defer shared.run("", "rm", "-f", "selfish")
	engineFails(t, 125, "container selfish cannot join its own network", "start", "selfish")
	// The owner's /etc/hosts is the owner's to write: 4 GiB of it (sparse) must not be read into the
	// daemon when someone joins. A few lines still are.
	engine(t, "exec", "owner", "sh", "-c", "echo '10.1.2.3 friend' >> /etc/hosts")
	if got := engine(t, "run", "--rm", "--net", "container:owner", "base", "cat", "/etc/hosts"); !strings.Contains(got, "friend") {
		t.Errorf("the joiner's /etc/hosts lacks the owner's line:\n%s", got)
	}
	engine(t, "exec", "owner", "dd", "if=/dev/null", "of=/etc/hosts", "bs=1", "seek=4294967296")
	engineFails(t, 125, "/etc/hosts of container owner is larger than", "run", "--rm", "--net", "container:owner", "base", "true")
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
	// Published on 127.0.0.1 only: the path that needs route_localnet, and that ENGINE-RAW (which drops
	// what comes to 127.0.0.0/8 from the bridge) must leave working.
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
	before := settledSnapshot(t, shared)
	engineFails(t, 125, "cannot publish 80/tcp on 0.0.0.0:"+port, "run", "--rm", "-p", port+":80", "base", "true")
	engineFails(t, 125, "-p needs the bridge network", "run", "--rm", "--net", "none", "-p", "80", "base", "true")
	engineFails(t, 125, "invalid port", "run", "--rm", "-p", "80/sctp", "base", "true")
	if after := waitForSnapshot(t, shared, before); after != before { // the veth pair goes in the background
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
	image := programImage(t, "udpecho")
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

// programImage builds testdata/NAME statically and imports it on the shared daemon as the image NAME,
// which holds only /NAME: a container that runs one test program of ours.
func programImage(t *testing.T, name string) string {
	t.Helper()
	importFiles(t, shared, name, map[string][]byte{name: buildStatic(t, "./testdata/"+name)})
	return name
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

// settledSnapshot is the snapshot once what earlier tests left in motion has stopped: the address of a
// container just removed is freed only after the kernel has deleted its veth (awaitVethGone), which
// takes as long as the kernel's cleanup of the container's network namespace, or the daemon deletes it
// after vethGoneTimeout. So a snapshot counts as settled once it has not changed for longer than that;
// two readings 50 ms apart were not enough (under -race, a veth still going was taken as settled).
func settledSnapshot(t *testing.T, d *daemon) string {
	t.Helper()
	previous, since := networkSnapshot(t, d), time.Now()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); {
		time.Sleep(50 * time.Millisecond)
		current := networkSnapshot(t, d)
		if current != previous {
			previous, since = current, time.Now()
		} else if time.Since(since) > vethGoneTimeout+500*time.Millisecond {
			break
		}
	}
	return previous
}

// TestE2ENetworkCleanup runs 1000 containers (four at a time) through the bridge, some with ports and
// some failing to start, and finds the host as it was: no veth, rule or address left.
func TestE2ENetworkCleanup(t *testing.T) {
	before := settledSnapshot(t, shared)
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
	d.run("", "stop", "-t", "0", "running") // a running one would keep the bridge: it outlives the daemon
	if err := d.terminate(); err != nil {
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
	defer d.stopAtEnd(t)
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

// countingListener accepts TCP connections on address and counts them.
func countingListener(t *testing.T, address string) (string, func() int) {
	t.Helper()
	l, err := net.Listen("tcp4", address)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	var mu sync.Mutex
	accepted := 0
	go func() {
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			conn.Close()
			mu.Lock()
			accepted++
			mu.Unlock()
		}
	}()
	_, port, _ := net.SplitHostPort(l.Addr().String())
	return port, func() int { mu.Lock(); defer mu.Unlock(); return accepted }
}

// TestE2EHostLoopbackUnreachable stages CVE-2020-8558: the bridge routes 127.0.0.0/8 (route_localnet,
// for published 127.0.0.1 ports), so a container that writes its own Ethernet frames could send a SYN
// to 127.0.0.1 at the gateway's MAC and reach whatever listens on the host's loopback, the engine's
// port included. The same SYN to the gateway's own address must be answered, or the attacker proves
// nothing.
func TestE2EHostLoopbackUnreachable(t *testing.T) {
	image := programImage(t, "rawnet")
	gateway := shared.bridgeNet(t).IP.String()
	controlPort, _ := countingListener(t, gateway+":0") // the container's own kernel resets that one
	if out := engine(t, "run", "--rm", image, "/rawnet", "syn", gateway, controlPort); out != "SYN-ACK from "+gateway+"\n" {
		t.Fatalf("a SYN to the gateway's address: %q, want an answer", out)
	}

	port, accepted := countingListener(t, "127.0.0.1:0")
	if out := engine(t, "run", "--rm", image, "/rawnet", "syn", "127.0.0.1", port); out != "no answer\n" {
		t.Errorf("a SYN to the host's 127.0.0.1:%s through the gateway: %q", port, out)
	}
	time.Sleep(200 * time.Millisecond) // an accept would have come with the handshake's last ACK
	if n := accepted(); n != 0 {
		t.Errorf("the host's loopback listener accepted %d connections from a container", n)
	}
}

// TestE2ERouterAdvertisementsIgnored stages CVE-2020-13401: a container sends an IPv6 router
// advertisement for a prefix to all nodes on the bridge. Neither the host's bridge nor another container
// may take an address from it or a default route through the sender.
func TestE2ERouterAdvertisementsIgnored(t *testing.T) {
	image := programImage(t, "rawnet")
	if _, err := os.Stat("/proc/sys/net/ipv6"); err != nil { // ipv6.disable=1: no advertisement can be sent
		engineFails(t, 1, "ICMPv6 socket: address family not supported", "run", "--rm", image, "/rawnet", "ra", "2001:db8:e:1::")
		return
	}
	engine(t, "run", "-d", "--name", "bystander", "base", "sleep", "1000")
	defer shared.run("", "rm", "-f", "bystander")
	// The settings themselves, on the host's side and inside.
	for _, setting := range []string{"accept_ra", "autoconf"} {
		if data, _ := os.ReadFile("/proc/sys/net/ipv6/conf/" + shared.bridge + "/" + setting); string(data) != "0\n" {
			t.Errorf("%s of the bridge is %q", setting, data)
		}
	}
	inside := engine(t, "exec", "bystander", "cat", "/proc/sys/net/ipv6/conf/all/accept_ra", "/proc/sys/net/ipv6/conf/default/accept_ra", "/proc/sys/net/ipv6/conf/eth0/accept_ra", "/proc/sys/net/ipv6/conf/eth0/autoconf")
	if inside != "0\n0\n0\n0\n" {
		t.Errorf("accept_ra of all, default, eth0 and autoconf of eth0 in a container: %q", inside)
	}

	const prefix = "2001:db8:e:1::" // documentation prefix (RFC 3849); the RA never leaves the bridge
	if out := engine(t, "run", "--rm", image, "/rawnet", "ra", prefix); out != "sent\n" {
		t.Fatalf("rawnet ra: %q", out)
	}
	time.Sleep(2 * time.Second) // the kernel acts on an RA as it arrives; this is a margin
	link, err := net.InterfaceByName(shared.bridge)
	if err != nil {
		t.Fatal(err)
	}
	addresses, _ := link.Addrs()
	for _, address := range addresses {
		if strings.HasPrefix(address.String(), "2001:db8:e:1:") {
			t.Errorf("the bridge took %s from a container's advertisement", address)
		}
	}
	if routes := raRoutes(readFile(t, "/proc/net/ipv6_route"), shared.bridge); routes != "" {
		t.Errorf("the host took routes from a container's advertisement:\n%s", routes)
	}
	addrs := engine(t, "exec", "bystander", "cat", "/proc/net/if_inet6")
	if strings.Contains(addrs, "20010db8000e0001") {
		t.Errorf("another container took an address from the advertisement:\n%s", addrs)
	}
	if routes := raRoutes(engine(t, "exec", "bystander", "cat", "/proc/net/ipv6_route"), "eth0"); routes != "" {
		t.Errorf("another container took routes from the advertisement:\n%s", routes)
	}
}

// raRoutes are the lines of /proc/net/ipv6_route, on the given device, that an advertisement for
// 2001:db8:e:1::/64 would add: the default route and the prefix's.
func raRoutes(table, device string) string {
	var found []string
	for _, line := range strings.Split(table, "\n") {
		fields := strings.Fields(line) // destination, its prefix length, ..., device
		if len(fields) == 10 && fields[9] == device &&
			(fields[0] == strings.Repeat("0", 32) && fields[1] == "00" || strings.HasPrefix(fields[0], "20010db8000e0001")) {
			found = append(found, line)
		}
	}
	return strings.Join(found, "\n")
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
