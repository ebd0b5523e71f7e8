// network.go: what network a container sees.
//
// Modes, named as Docker names them (`--net`):
//
//	bridge        (the default) a network namespace of its own with eth0 on the engine's bridge
//	none          a network namespace of its own with only lo
//	host          the host's network namespace
//	container:X   the network namespace of the running container X (the pattern of a Kubernetes pod)
//
// When the daemon starts, NewNetworkManager makes the bridge (engine0, with the first address of a subnet
// that overlaps nothing on the host) and installs the firewall rules (iptables.go). Container.Start then
// asks for the container's namespaces (Namespaces), and once the container's first process exists,
// Allocate gives it an address (ipallocator.go), a veth pair whose host end is on the bridge and whose
// other end is already eth0 (with a MAC derived from the address) inside the container, and its
// published ports (portmap.go). Init, inside, finishes the container's side (setupContainerNetwork, in
// netns.go): eth0 up with its address, the default route, lo. Release undoes all of it when the container
// stops. Neither the bridge nor a container's interfaces take IPv6 router advertisements (CVE-2020-13401).
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// NetworkSettings is what `engine inspect` shows under .NetworkSettings.
type NetworkSettings struct {
	Bridge      string
	IPAddress   string
	IPPrefixLen int
	Gateway     string
	MacAddress  string
	Ports       map[string][]PortBinding
	HostVeth    string `json:",omitempty"` // the host's end of the veth pair, so a restarted daemon knows it
}

// empty tells whether the settings show no network at all, as those of a container that is not running.
func (s *NetworkSettings) empty() bool {
	return s == nil || (s.Bridge == "" && s.IPAddress == "" && s.Gateway == "" && s.MacAddress == "" && len(s.Ports) == 0 && s.HostVeth == "")
}

type PortBinding struct {
	HostIp   string
	HostPort string
}

const (
	defaultNetworkMode = "bridge"
	defaultBridge      = "engine0"
	networkAnnotation  = "engine.network.eth0" // in the generated config: how init sets up eth0
)

type NetworkManager struct {
	bridge      string
	bridgeIndex int
	subnet      *net.IPNet
	ipam        *IPAllocator
	firewall    *firewall

	mu        sync.Mutex
	endpoints map[string]*endpoint // by container ID
	joiners   map[string]int       // by container ID: running containers that joined its network
	leaving   sync.WaitGroup       // veth pairs on their way out
}

// endpoint is what Allocate set up for one container, so that Release can take it all back.
type endpoint struct {
	ip      net.IP
	veth    string
	ports   []PortMapping
	holders []io.Closer
	joined  string // with --net container:X, X's ID
}

// NewNetworkManager makes (or finds) the bridge and installs the firewall rules. subnet may be "" to
// let the engine choose; bridge "none" turns bridge networking off (Docker's `-b none`).
func NewNetworkManager(bridge, subnet string) (*NetworkManager, error) {
	m := &NetworkManager{bridge: bridge, endpoints: map[string]*endpoint{}, joiners: map[string]int{}}
	if bridge == "none" {
		return m, nil
	}
	unlock, err := lockHostNetworks()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if m.subnet, err = bridgeSubnet(bridge, subnet); err != nil {
		return nil, err
	}
	if m.ipam, err = NewIPAllocator(m.subnet); err != nil {
		return nil, err
	}
	if err := m.ensureBridge(); err != nil {
		return nil, fmt.Errorf("bridge %s: %w", bridge, err)
	}
	m.firewall = newFirewall(bridge, m.subnet)
	if err := m.firewall.install(); err != nil {
		m.Close()
		return nil, err
	}
	return m, nil
}

// Close removes the firewall rules and the bridge: a stopped engine leaves the host's network as it was.
// While any container still has an endpoint (it runs on under its keeper), both stay: its traffic goes
// through them, and the next daemon adopts it (Adopt).
func (m *NetworkManager) Close() {
	if m.ipam == nil {
		return
	}
	m.leaving.Wait()
	m.mu.Lock()
	inUse := len(m.endpoints)
	m.mu.Unlock()
	if inUse > 0 {
		return
	}
	if m.firewall != nil {
		m.firewall.remove()
	}
	deleteLink(m.bridge)
}

// lockHostNetworks takes a lock that every engine daemon on the host takes while it chooses a subnet and
// gives its bridge the address: two daemons starting at once (a test suite's, a benchmark's) would
// otherwise both find the same subnet free and both take it, and neither container network would work.
// The lock is a file's flock(2), released by the kernel if the daemon dies holding it.
func lockHostNetworks() (unlock func(), err error) {
	const path = "/run/engine-network.lock"
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0600) // close-on-exec, as Go opens every file
	if err != nil {
		return nil, err
	}
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if err == nil {
			return func() { f.Close() }, nil
		}
		if err != unix.EWOULDBLOCK || time.Now().After(deadline) {
			f.Close()
			return nil, fmt.Errorf("%s: another daemon holds it: %w", path, err)
		}
	}
}

// bridgeSubnet is the subnet of an existing bridge (one a killed daemon left), the one asked for, or the
// first candidate that overlaps no address or route of the host.
func bridgeSubnet(bridge, wanted string) (*net.IPNet, error) {
	if link, err := net.InterfaceByName(bridge); err == nil {
		addresses, _ := link.Addrs()
		for _, address := range addresses {
			if ipnet, ok := address.(*net.IPNet); ok && ipnet.IP.To4() != nil {
				ipnet.IP = ipnet.IP.Mask(ipnet.Mask)
				if wanted != "" && wanted != ipnet.String() {
					return nil, fmt.Errorf("bridge %s exists with %s, not %s: delete it or choose another name", bridge, ipnet, wanted)
				}
				return ipnet, nil
			}
		}
	}
	if wanted != "" {
		_, subnet, err := net.ParseCIDR(wanted)
		return subnet, err
	}
	taken := hostNetworks()
	for _, candidate := range subnetCandidates() {
		if !overlapsAny(candidate, taken) {
			return candidate, nil
		}
	}
	return nil, errors.New("no free private subnet for the bridge: choose one with --subnet")
}

// subnetCandidates are the private ranges tried in turn: Docker's 172.17-31.0.0/16, then smaller ones.
func subnetCandidates() []*net.IPNet {
	var candidates []*net.IPNet
	for i := 17; i <= 31; i++ {
		candidates = append(candidates, &net.IPNet{IP: net.IPv4(172, byte(i), 0, 0).To4(), Mask: net.CIDRMask(16, 32)})
	}
	for i := 200; i <= 254; i++ {
		candidates = append(candidates, &net.IPNet{IP: net.IPv4(192, 168, byte(i), 0).To4(), Mask: net.CIDRMask(24, 32)})
	}
	return candidates
}

// hostNetworks lists the networks of the host's IPv4 addresses and routes (the default route aside).
func hostNetworks() []*net.IPNet {
	var networks []*net.IPNet
	addresses, _ := net.InterfaceAddrs()
	for _, address := range addresses {
		if ipnet, ok := address.(*net.IPNet); ok && ipnet.IP.To4() != nil {
			networks = append(networks, ipnet)
		}
	}
	routes, _ := os.ReadFile("/proc/net/route")
	for _, line := range strings.Split(string(routes), "\n")[1:] {
		fields := strings.Fields(line)
		if len(fields) < 8 || fields[1] == "00000000" {
			continue
		}
		destination, _ := strconv.ParseUint(fields[1], 16, 32)
		mask, _ := strconv.ParseUint(fields[7], 16, 32)
		ip, ones := binary.LittleEndian.AppendUint32(nil, uint32(destination)), binary.LittleEndian.AppendUint32(nil, uint32(mask))
		networks = append(networks, &net.IPNet{IP: ip, Mask: ones})
	}
	return networks
}

func overlapsAny(candidate *net.IPNet, networks []*net.IPNet) bool {
	for _, n := range networks {
		if n.Contains(candidate.IP) || candidate.Contains(n.IP) {
			return true
		}
	}
	return false
}

// ensureBridge creates the bridge with the gateway address, or completes one that exists.
func (m *NetworkManager) ensureBridge() error {
	if _, err := net.InterfaceByName(m.bridge); err != nil {
		if err := addBridge(m.bridge); err != nil {
			return err
		}
	}
	// Before the bridge is up, so that no advertisement a container sends is ever taken (netns.go).
	if err := refuseRouterAdvertisements(m.bridge); err != nil {
		return err
	}
	gateway := &net.IPNet{IP: m.ipam.Gateway(), Mask: m.subnet.Mask}
	if err := addAddress(m.bridge, gateway); err != nil && !errors.Is(err, os.ErrExist) {
		return err
	}
	if err := setLinkUp(m.bridge); err != nil {
		return err
	}
	link, err := net.InterfaceByName(m.bridge)
	if err != nil {
		return err
	}
	m.bridgeIndex = link.Index
	return nil
}

// String sums the network up for `engine info`, addresses in use included.
func (m *NetworkManager) String() string {
	if m.ipam == nil {
		return "bridge off; none, host, container:NAME"
	}
	return fmt.Sprintf("bridge %s %s (default, %d addresses in use); none, host, container:NAME", m.bridge, m.subnet, m.ipam.InUse())
}

// CheckMode rejects a `--net` value early, at create, rather than at start.
func (m *NetworkManager) CheckMode(mode string) error {
	switch {
	case mode == "bridge" && m.ipam == nil:
		return errors.New("bridge networking is off (the daemon runs with --bridge none): use --net none or host")
	case mode == "bridge", mode == "none", mode == "host":
		return nil
	case strings.HasPrefix(mode, "container:") && len(mode) > len("container:"):
		return nil
	}
	return fmt.Errorf("unknown network mode %q (use bridge, none, host or container:NAME)", mode)
}

// Namespaces are the namespaces a container's process is made with: with host, the host's network; with
// container:X, X's, opened here and held until init has joined it (netns.go). The caller closes what
// is held with closeNamespaceFiles.
func (m *NetworkManager) Namespaces(c *Container, namespaces []Namespace) ([]Namespace, error) {
	mode := c.HostConfig.NetworkMode
	switch {
	case mode == "host":
		return namespaces, nil
	case strings.HasPrefix(mode, "container:"):
		other, err := c.runtime.Get(strings.TrimPrefix(mode, "container:"))
		if err != nil {
			return nil, err
		}
		if other == c { // the container being started: it has no namespace to join yet
			return nil, fmt.Errorf("container %s cannot join its own network", c.ShortName())
		}
		joined, err := openNetworkNamespace(other)
		if err != nil {
			return nil, err
		}
		return append(namespaces, joined), nil
	}
	return append(namespaces, Namespace{Type: "network"}), nil
}

// Allocate gives a bridged container, whose first process is pid, its address, veth pair and ports.
// Whatever fails is undone before the error returns.
func (m *NetworkManager) Allocate(c *Container, pid int) (*NetworkSettings, error) {
	settings := &NetworkSettings{Ports: map[string][]PortBinding{}}
	if mode := c.HostConfig.NetworkMode; strings.HasPrefix(mode, "container:") {
		return settings, m.join(c, strings.TrimPrefix(mode, "container:"))
	} else if mode != "bridge" {
		return settings, nil
	}
	ip, err := m.ipam.Allocate()
	if err != nil {
		return nil, err
	}
	// A fresh name each start, as Docker's: the pair of the previous run may still be on its way out.
	ep := &endpoint{ip: ip, veth: "veth" + newID()[:8]}
	m.mu.Lock()
	m.endpoints[c.ID] = ep
	m.mu.Unlock()
	if err := m.connect(c, ep, pid); err != nil {
		m.Release(c)
		return nil, err
	}
	prefix, _ := m.subnet.Mask.Size()
	settings.Bridge, settings.IPAddress, settings.IPPrefixLen = m.bridge, ip.String(), prefix
	settings.Gateway, settings.MacAddress = m.ipam.Gateway().String(), macAddress(ip).String()
	settings.HostVeth, settings.Ports = ep.veth, portBindings(ep.ports)
	return settings, nil
}

// portBindings shows the published ports as .NetworkSettings.Ports does: "80/tcp" → host address and port.
func portBindings(ports []PortMapping) map[string][]PortBinding {
	bindings := map[string][]PortBinding{}
	for _, port := range ports {
		bindings[port.Key()] = append(bindings[port.Key()], PortBinding{HostIp: port.HostIP, HostPort: strconv.Itoa(port.HostPort)})
	}
	return bindings
}

// Adopt takes back, for a container that ran on while no daemon was there (Runtime.restore), what
// Allocate gave it, so that Release at its end gives it all back as for any other: its address, which the
// allocator must never hand out again while it runs; the host's end of its veth pair; and its published
// ports, each reserved again and its DNAT rule installed again (the firewall's install at the daemon's
// start cleared the chain). A port another program took meanwhile is lost: the error says which, and
// the container's settings no longer show it. The container keeps running whatever fails.
func (m *NetworkManager) Adopt(c *Container) error {
	mode, s := c.HostConfig.NetworkMode, c.NetworkSettings
	if strings.HasPrefix(mode, "container:") {
		return m.join(c, strings.TrimPrefix(mode, "container:"))
	}
	if mode != "bridge" || s.empty() || s.IPAddress == "" {
		return nil
	}
	if m.ipam == nil {
		return errors.New("bridge networking is off (--bridge none): the container keeps its own, unmanaged")
	}
	ip := net.ParseIP(s.IPAddress)
	if err := m.ipam.Reserve(ip); err != nil {
		return err
	}
	ep := &endpoint{ip: ip, veth: s.HostVeth}
	m.mu.Lock()
	m.endpoints[c.ID] = ep
	m.mu.Unlock()
	var problems []error
	switch {
	case ep.veth == "": // a record an engine before HostVeth wrote: the pair goes with the namespace
	case !m.onBridge(ep.veth):
		problems = append(problems, fmt.Errorf("its veth %s is not on %s", ep.veth, m.bridge))
		ep.veth = "" // not ours to delete: Release only frees the address
	}
	for _, port := range publishedPorts(s.Ports) {
		if err := m.publish(ep, port); err != nil {
			problems = append(problems, err)
		}
	}
	if len(problems) > 0 {
		c.mu.Lock()
		c.NetworkSettings.HostVeth, c.NetworkSettings.Ports = ep.veth, portBindings(ep.ports)
		c.mu.Unlock()
	}
	return errors.Join(problems...)
}

// onBridge tells whether the link named veth exists and is attached to the bridge.
func (m *NetworkManager) onBridge(veth string) bool {
	master, err := os.Readlink("/sys/class/net/" + veth + "/master")
	return err == nil && filepath.Base(master) == m.bridge
}

// publishedPorts reads .NetworkSettings.Ports back into mappings, host ports as they were chosen.
func publishedPorts(bindings map[string][]PortBinding) []PortMapping {
	ports := requestedPorts(bindings)
	return slices.DeleteFunc(ports, func(p PortMapping) bool { return p.HostPort == 0 })
}

// join records that c shares the network of the container ref names, so that container's veth pair is
// deleted at once when it stops (c loses the network then, as with Docker).
func (m *NetworkManager) join(c *Container, ref string) error {
	other, err := c.runtime.Get(ref)
	if err != nil {
		return err
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	m.endpoints[c.ID] = &endpoint{joined: other.ID}
	m.joiners[other.ID]++
	return nil
}

// connect makes the veth pair, then publishes the ports.
func (m *NetworkManager) connect(c *Container, ep *endpoint, pid int) error {
	if err := addVethPair(ep.veth, m.bridgeIndex, "eth0", macAddress(ep.ip), pid); err != nil {
		return fmt.Errorf("veth pair: %w", err)
	}
	for _, port := range requestedPorts(c.HostConfig.PortBindings) {
		if err := m.publish(ep, port); err != nil {
			return err
		}
	}
	return nil
}

// publish reserves the host port of one mapping and adds its DNAT rule to the endpoint's address. What
// it has done is in ep, for Release to undo, whether it fails or not.
func (m *NetworkManager) publish(ep *endpoint, port PortMapping) error {
	holder, err := reservePort(&port)
	if err != nil {
		return err
	}
	ep.holders = append(ep.holders, holder)
	if err := m.firewall.addPort(port, ep.ip); err != nil {
		return err
	}
	ep.ports = append(ep.ports, port)
	return nil
}

// requestedPorts turns the container's PortBindings (Docker's shape) into mappings, in a stable order.
func requestedPorts(bindings map[string][]PortBinding) []PortMapping {
	var ports []PortMapping
	for key, list := range bindings {
		port, proto, _ := strings.Cut(key, "/")
		containerPort, _ := strconv.Atoi(port)
		for _, b := range list {
			hostPort, _ := strconv.Atoi(b.HostPort)
			ports = append(ports, PortMapping{HostIP: b.HostIp, HostPort: hostPort, ContainerPort: containerPort, Proto: proto})
		}
	}
	sort.Slice(ports, func(i, j int) bool { return ports[i].String() < ports[j].String() })
	return ports
}

// Release takes back what Allocate gave a container. It is safe to call for any container, any time.
func (m *NetworkManager) Release(c *Container) {
	m.mu.Lock()
	ep := m.endpoints[c.ID]
	delete(m.endpoints, c.ID)
	joined := m.joiners[c.ID] > 0
	if ep != nil && ep.joined != "" {
		if m.joiners[ep.joined]--; m.joiners[ep.joined] == 0 {
			delete(m.joiners, ep.joined)
		}
	}
	m.mu.Unlock()
	if ep == nil || ep.joined != "" {
		return
	}
	for _, port := range ep.ports {
		m.firewall.deletePort(port, ep.ip)
	}
	for _, holder := range ep.holders {
		holder.Close()
	}
	if joined { // others still hold the namespace: take eth0 away now
		if ep.veth != "" {
			deleteLink(ep.veth)
		}
		m.ipam.Release(ep.ip)
		return
	}
	m.leaving.Add(1)
	go m.awaitVethGone(ep)
}

// vethGoneTimeout is how long awaitVethGone waits for the kernel to delete a container's veth pair.
const vethGoneTimeout = time.Second

// awaitVethGone frees the address once the veth pair is gone. The kernel deletes the pair itself when
// the container's network namespace dies with its last process. Deleting it ourselves would cost the
// same ~10 ms of RCU grace periods, with the rtnl lock held, so the next container's veth would wait.
// Only a pair still there after vethGoneTimeout (a namespace someone holds) is deleted here.
func (m *NetworkManager) awaitVethGone(ep *endpoint) {
	defer m.leaving.Done()
	for deadline := time.Now().Add(vethGoneTimeout); time.Now().Before(deadline); {
		if _, err := os.Stat("/sys/class/net/" + ep.veth); ep.veth == "" || err != nil { // "": not known (Adopt)
			m.ipam.Release(ep.ip)
			return
		}
		time.Sleep(5 * time.Millisecond)
	}
	deleteLink(ep.veth)
	m.ipam.Release(ep.ip)
}

// macAddress derives a MAC from an IPv4 address as Docker does: 02:42 (locally administered) and the
// address's four bytes, so two containers never share one.
func macAddress(ip net.IP) net.HardwareAddr {
	return append(net.HardwareAddr{0x02, 0x42}, ip.To4()...)
}

// Annotations are the generated config's instructions for init's side of the network.
func (m *NetworkManager) Annotations(c *Container) map[string]string {
	s := c.NetworkSettings
	if s == nil || s.IPAddress == "" {
		return nil
	}
	eth0, _ := json.Marshal(containerInterface{Address: fmt.Sprintf("%s/%d", s.IPAddress, s.IPPrefixLen), Gateway: s.Gateway})
	return map[string]string{networkAnnotation: string(eth0)}
}
