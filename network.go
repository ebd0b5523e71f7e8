// network.go: what network a container sees.
//
// Container.Start asks the NetworkManager for the container's network before it generates the config:
// which network namespace the container gets (Namespaces) and which /etc/hosts, /etc/hostname and
// /etc/resolv.conf it finds (WriteEtcFiles). Inside the container, init calls bringUpLoopback.
//
// Modes, named as Docker names them (`--net`):
//
//	none   a new, empty network namespace: only lo, which init brings up (the default for now)
//	host   no network namespace of its own: the host's interfaces, hostname files and DNS
//
// The bridge (engine0, an IPAllocator, veth pairs, port maps) is not here yet: it is its own issue.
package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// NetworkSettings is what `engine inspect` shows under .NetworkSettings.
type NetworkSettings struct {
	IPAddress  string
	Gateway    string
	MacAddress string
	Ports      map[string][]PortBinding
}

type PortBinding struct {
	HostIp   string
	HostPort string
}

type NetworkManager struct{}

func NewNetworkManager() *NetworkManager { return &NetworkManager{} }

const defaultNetworkMode = "none"

// CheckMode rejects a `--net` value early, at create, rather than at start.
func (m *NetworkManager) CheckMode(mode string) error {
	switch mode {
	case "none", "host":
		return nil
	}
	return fmt.Errorf("unknown network mode %q (use none or host)", mode)
}

// Namespaces adds the network namespace to a container's namespaces, unless it shares the host's.
func (m *NetworkManager) Namespaces(mode string, namespaces []Namespace) []Namespace {
	if mode == "host" {
		return namespaces
	}
	return append(namespaces, Namespace{Type: "network"})
}

// Allocate gives a container its network settings. With none and host there is nothing to hand out;
// the bridge will allocate an address here.
func (m *NetworkManager) Allocate(c *Container) (*NetworkSettings, error) {
	return &NetworkSettings{Ports: map[string][]PortBinding{}}, nil
}

// WriteEtcFiles writes the files spec.go bind-mounts over the container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf.
func (m *NetworkManager) WriteEtcFiles(c *Container) error {
	hosts := "127.0.0.1\tlocalhost " + c.Config.Hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	resolv := hostResolvConf(false)
	if c.HostConfig.NetworkMode == "host" {
		if data, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(data)
		}
		resolv = hostResolvConf(true)
	}
	// Plain writes, not writeFileAtomic: these files are derived and written again at every start.
	files := map[string]string{"hostname": c.Config.Hostname + "\n", "hosts": hosts, "resolv.conf": resolv}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(c.root, name), []byte(content), 0644); err != nil {
			return err
		}
	}
	return nil
}

// hostResolvConf is the host's resolver configuration. A container with its own network namespace cannot
// reach the host's loopback, so nameservers on 127.0.0.0/8 or ::1 (systemd-resolved, dnsmasq) are left
// out for it, as Docker does.
func hostResolvConf(keepLoopback bool) string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		fields := strings.Fields(line)
		loopback := len(fields) >= 2 && fields[0] == "nameserver" && (strings.HasPrefix(fields[1], "127.") || fields[1] == "::1")
		if keepLoopback || !loopback {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}

// bringUpLoopback runs inside a new network namespace (from init), where lo exists but is down.
func bringUpLoopback() error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq("lo")
	if err != nil {
		return err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	ifr.SetUint16(ifr.Uint16() | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return fmt.Errorf("loopback: %w", err)
	}
	return nil
}
