// netlink.go: talking to the kernel's network configuration, as `ip link`, `ip addr` and `ip route` do.
//
// The bridge network (network.go) creates a bridge, a veth pair per container and, inside the container
// (init.go), an address and a default route. Forking `ip` for each would cost milliseconds per container;
// these are the same requests sent over a NETLINK_ROUTE socket (rtnetlink(7)), each a header, a fixed
// struct and a list of attributes, acknowledged by the kernel.
package main

import (
	"encoding/binary"
	"fmt"
	"net"
	"sync/atomic"
	"syscall"

	"golang.org/x/sys/unix"
)

var netlinkSeq atomic.Uint32

// netlinkRequest is one message being built: the struct after the header, then attributes.
type netlinkRequest struct {
	kind  uint16
	flags uint16
	data  []byte
}

func newRequest(kind uint16, flags uint16, body []byte) *netlinkRequest {
	return &netlinkRequest{kind: kind, flags: unix.NLM_F_REQUEST | unix.NLM_F_ACK | flags, data: body}
}

// attr appends an attribute (type, value), padded to 4 bytes as rtnetlink requires.
func (r *netlinkRequest) attr(kind uint16, value []byte) *netlinkRequest {
	r.data = appendAttr(r.data, kind, value)
	return r
}

func appendAttr(b []byte, kind uint16, value []byte) []byte {
	length := unix.SizeofRtAttr + len(value)
	b = binary.NativeEndian.AppendUint16(b, uint16(length))
	b = binary.NativeEndian.AppendUint16(b, kind)
	b = append(b, value...)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

func uint32Attr(v uint32) []byte { return binary.NativeEndian.AppendUint32(nil, v) }
func stringAttr(s string) []byte { return append([]byte(s), 0) }

// ifinfomsg is struct ifinfomsg: which link (index), and which flags (IFF_UP) to change.
func ifinfomsg(index int32, flags, change uint32) []byte {
	b := []byte{unix.AF_UNSPEC, 0, 0, 0}
	b = binary.NativeEndian.AppendUint32(b, uint32(index))
	b = binary.NativeEndian.AppendUint32(b, flags)
	return binary.NativeEndian.AppendUint32(b, change)
}

// send sends the request on a fresh netlink socket of the calling thread's network namespace and waits
// for the kernel's answer.
func (r *netlinkRequest) send() error {
	fd, err := openNetlink()
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return r.sendOn(fd)
}

func openNetlink() (int, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_ROUTE)
	if err != nil {
		return -1, fmt.Errorf("netlink: %w", err)
	}
	return fd, nil
}

// sendOn sends the request on an open netlink socket: init sends several on one.
func (r *netlinkRequest) sendOn(fd int) error {
	seq := netlinkSeq.Add(1)
	msg := binary.NativeEndian.AppendUint32(nil, uint32(unix.SizeofNlMsghdr+len(r.data)))
	msg = binary.NativeEndian.AppendUint16(msg, r.kind)
	msg = binary.NativeEndian.AppendUint16(msg, r.flags)
	msg = binary.NativeEndian.AppendUint32(msg, seq)
	msg = binary.NativeEndian.AppendUint32(msg, 0)
	msg = append(msg, r.data...)
	if err := unix.Sendto(fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink: %w", err)
	}
	return receiveAck(fd, seq)
}

// receiveAck reads until the NLMSG_ERROR that answers seq; an error number of 0 there means success.
func receiveAck(fd int, seq uint32) error {
	buf := make([]byte, 8192)
	for {
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		messages, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink: %w", err)
		}
		for _, m := range messages {
			if m.Header.Seq != seq || m.Header.Type != unix.NLMSG_ERROR || len(m.Data) < 4 {
				continue
			}
			if errno := int32(binary.NativeEndian.Uint32(m.Data)); errno != 0 {
				return unix.Errno(-errno)
			}
			return nil
		}
	}
}

const (
	createFlags  = unix.NLM_F_CREATE | unix.NLM_F_EXCL
	vethInfoPeer = 1 // VETH_INFO_PEER in linux/veth.h, which x/sys does not carry
)

// addBridge is `ip link add NAME type bridge`.
func addBridge(name string) error {
	info := appendAttr(nil, unix.IFLA_INFO_KIND, stringAttr("bridge"))
	return newRequest(unix.RTM_NEWLINK, createFlags, ifinfomsg(0, 0, 0)).
		attr(unix.IFLA_IFNAME, stringAttr(name)).
		attr(unix.IFLA_LINKINFO|unix.NLA_F_NESTED, info).send()
}

// addVethPair is `ip link add HOST master BRIDGE up type veth peer name PEER address MAC netns PID`:
// one request makes both ends, plugs the host end into the bridge, and puts the peer, with its MAC, in
// the container's namespace. (The peer cannot be brought up in the same request: the kernel refuses to
// open one end before the pair exists.)
func addVethPair(host string, bridgeIndex int, peer string, mac net.HardwareAddr, pid int) error {
	peerInfo := ifinfomsg(0, 0, 0)
	peerInfo = appendAttr(peerInfo, unix.IFLA_IFNAME, stringAttr(peer))
	peerInfo = appendAttr(peerInfo, unix.IFLA_ADDRESS, mac)
	peerInfo = appendAttr(peerInfo, unix.IFLA_NET_NS_PID, uint32Attr(uint32(pid)))
	data := appendAttr(nil, vethInfoPeer, peerInfo)
	info := appendAttr(nil, unix.IFLA_INFO_KIND, stringAttr("veth"))
	info = appendAttr(info, unix.IFLA_INFO_DATA|unix.NLA_F_NESTED, data)
	return newRequest(unix.RTM_NEWLINK, createFlags, ifinfomsg(0, unix.IFF_UP, unix.IFF_UP)).
		attr(unix.IFLA_IFNAME, stringAttr(host)).
		attr(unix.IFLA_MASTER, uint32Attr(uint32(bridgeIndex))).
		attr(unix.IFLA_LINKINFO|unix.NLA_F_NESTED, info).send()
}

// deleteLink is `ip link del NAME`; deleting one end of a veth pair deletes both.
func deleteLink(name string) error {
	return newRequest(unix.RTM_DELLINK, 0, ifinfomsg(0, 0, 0)).attr(unix.IFLA_IFNAME, stringAttr(name)).send()
}

// linkIndex finds a link's index with one ioctl(SIOCGIFINDEX); net.InterfaceByName would dump every
// link and address of the namespace over netlink to find the same number.
func linkIndex(name string) (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return 0, err
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return 0, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFINDEX, ifr); err != nil {
		return 0, fmt.Errorf("%s: %w", name, err)
	}
	return int(ifr.Uint32()), nil
}

// setLinkUp is `ip link set NAME up`.
func setLinkUp(name string) error {
	return linkUpRequest(name).send()
}

func linkUpRequest(name string) *netlinkRequest {
	return newRequest(unix.RTM_NEWLINK, 0, ifinfomsg(0, unix.IFF_UP, unix.IFF_UP)).attr(unix.IFLA_IFNAME, stringAttr(name))
}

// addAddressRequest is `ip addr add IP/PREFIX dev INDEX`.
func addAddressRequest(index int, address *net.IPNet) *netlinkRequest {
	prefix, _ := address.Mask.Size()
	msg := []byte{unix.AF_INET, byte(prefix), 0, unix.RT_SCOPE_UNIVERSE}
	msg = binary.NativeEndian.AppendUint32(msg, uint32(index))
	ip := address.IP.To4()
	return newRequest(unix.RTM_NEWADDR, createFlags, msg).attr(unix.IFA_LOCAL, ip).attr(unix.IFA_ADDRESS, ip)
}

func addAddress(name string, address *net.IPNet) error {
	index, err := linkIndex(name)
	if err != nil {
		return err
	}
	return addAddressRequest(index, address).send()
}

// defaultRouteRequest is `ip route add default via GATEWAY dev INDEX`.
func defaultRouteRequest(index int, gateway net.IP) *netlinkRequest {
	msg := []byte{unix.AF_INET, 0, 0, 0, unix.RT_TABLE_MAIN, unix.RTPROT_BOOT, unix.RT_SCOPE_UNIVERSE, unix.RTN_UNICAST}
	msg = binary.NativeEndian.AppendUint32(msg, 0)
	return newRequest(unix.RTM_NEWROUTE, createFlags, msg).
		attr(unix.RTA_GATEWAY, gateway.To4()).attr(unix.RTA_OIF, uint32Attr(uint32(index)))
}
