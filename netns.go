// netns.go: the network namespace a container's init enters, and what init sets up inside it.
//
// Container.Start asks NetworkManager.Namespaces (network.go) which namespaces init is made with. With
// `--net container:X`, init joins X's network namespace instead of making one: openNetworkNamespace opens
// it there and then, checked by a pidfd to be X's, and the daemon holds it open until init, which gets it
// as fd 4, has joined it (joinNamespaces in init.go). A path would not do: between the moment X is chosen
// and the moment init opens /proc/PID/ns/net, X may exit and its PID name another process.
//
// With a network namespace of its own (bridge, none), init calls setupContainerNetwork before it builds
// the root filesystem: router advertisements off, then lo and eth0 up with eth0's address and the default
// route, as the generated config says.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"

	"golang.org/x/sys/unix"
)

// joinedNamespaceFd is the fd on which init finds the network namespace it is to join (container:X).
const joinedNamespaceFd = initPipeFd + 1

// openNetworkNamespace opens the network namespace of the running container other, through a pidfd of
// its first process (openProcessFile), so the namespace opened is other's and no later process's.
func openNetworkNamespace(other *Container) (Namespace, error) {
	pidfd, err := other.openPidfd()
	if err != nil {
		return Namespace{}, err
	}
	defer pidfd.Close()
	file, path, err := openProcessFile(pidfd, "ns/net", unix.O_RDONLY)
	if err != nil {
		return Namespace{}, fmt.Errorf("container %s is not running", other.ShortName())
	}
	// The path goes into bundle/config.json, where runc and crun, which are handed the bundle without
	// our fd, can use it: it named other's namespace when it was checked. Our own init joins the file.
	return Namespace{Type: "network", Path: path, file: file}, nil
}

// namespaceFiles are the namespaces the daemon holds open for init, in the order init finds them from
// fd 4 on (today one at most: the network namespace it joins).
func namespaceFiles(namespaces []Namespace) []*os.File {
	var files []*os.File
	for _, ns := range namespaces {
		if ns.file != nil {
			files = append(files, ns.file)
		}
	}
	return files
}

// closeNamespaceFiles lets go of them once init has them (or will never run).
func closeNamespaceFiles(namespaces []Namespace) {
	for _, file := range namespaceFiles(namespaces) {
		file.Close()
	}
}

// containerInterface is how init must set up eth0, as the generated config carries it.
type containerInterface struct {
	Address string // 172.17.0.2/16
	Gateway string
}

// setupContainerNetwork runs in init, in the container's new network namespace, where the daemon has
// put eth0 with its MAC (and still down): router advertisements off, lo and eth0 up, eth0's address and
// the default route as the generated config says. One netlink socket carries the requests. It runs
// before setupRootfs, which makes /proc/sys read-only.
func setupContainerNetwork(spec *Spec) error {
	config, bridged := spec.Annotations[networkAnnotation]
	interfaces := []string{"all", "default"}
	if bridged {
		interfaces = append(interfaces, "eth0")
	}
	if err := refuseRouterAdvertisements(interfaces...); err != nil {
		return err
	}
	fd, err := openNetlink()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	if err := linkUpRequest("lo").sendOn(fd); err != nil {
		return fmt.Errorf("lo: %w", err)
	}
	if !bridged {
		return nil
	}
	var eth0 containerInterface
	if err := json.Unmarshal([]byte(config), &eth0); err != nil {
		return fmt.Errorf("eth0: %w", err)
	}
	ip, address, err := net.ParseCIDR(eth0.Address)
	if err != nil {
		return fmt.Errorf("eth0: %w", err)
	}
	address.IP = ip
	if err := linkUpRequest("eth0").sendOn(fd); err != nil {
		return fmt.Errorf("eth0: %w", err)
	}
	index, err := linkIndex("eth0")
	if err != nil {
		return err
	}
	if err := addAddressRequest(index, address).sendOn(fd); err != nil {
		return fmt.Errorf("eth0: %w", err)
	}
	if err := defaultRouteRequest(index, net.ParseIP(eth0.Gateway)).sendOn(fd); err != nil {
		return fmt.Errorf("eth0: default route: %w", err)
	}
	return nil
}

// refuseRouterAdvertisements makes the interfaces of the caller's network namespace ignore IPv6 router
// advertisements (CVE-2020-13401): any container with NET_RAW, a default capability, can send one on the
// bridge, and the kernel, which accepts them by default, would take from it an address and a default
// route (through the sender) for the host's bridge and every other container. accept_ra=0 ignores the
// advertisements whole (routes, prefixes, MTU); autoconf=0 also keeps a prefix from making an address.
// The kernel reads both per interface: each interface by name, "default" for those made later (a
// container with NET_ADMIN may make some), and "all" too, as the advisories ask. The link-local address
// stays: neighbour discovery works as before. /proc/sys/net is per network
// namespace, that of whoever opens the file, so the daemon sets its bridge's and init its own through the
// same path. A kernel without IPv6 (ipv6.disable=1) has no /proc/sys/net/ipv6 and nothing to refuse.
func refuseRouterAdvertisements(interfaces ...string) error {
	if _, err := os.Stat("/proc/sys/net/ipv6"); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	for _, name := range interfaces {
		for _, setting := range []string{"accept_ra", "autoconf"} {
			path := "/proc/sys/net/ipv6/conf/" + name + "/" + setting
			if err := os.WriteFile(path, []byte("0\n"), 0644); err != nil {
				return fmt.Errorf("router advertisements off: %w", err)
			}
		}
	}
	return nil
}
