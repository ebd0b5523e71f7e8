// portmap.go: publishing a container's port on the host (`-p`).
//
// `engine run -p 8080:80` is parsed here into a PortMapping. When the container starts, the
// NetworkManager (network.go) reserves the host port and adds a DNAT rule (iptables.go) that sends the
// port's traffic to the container's address; when it stops, both go.
//
// Why DNAT for every client, 127.0.0.1 included, and no userland proxy: the kernel moves the bytes, none
// pass through the daemon, and published ports keep working if the daemon goes away, like the container's
// output. What a proxy would have given for free is done by the reservation: the host port is held by a
// socket of the daemon's, so a port already in use is an error at start (and port 0 lets the kernel pick
// a free one), and no other program can take it while the container runs. The socket never sees a
// packet: DNAT rewrites them before they reach it.
package main

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
)

// PortMapping is one published port.
type PortMapping struct {
	HostIP        string
	HostPort      int // 0 until reserved, when none was asked for
	ContainerPort int
	Proto         string // tcp or udp
}

// Key is the port as Docker names it in .NetworkSettings.Ports: "80/tcp".
func (m PortMapping) Key() string { return fmt.Sprintf("%d/%s", m.ContainerPort, m.Proto) }

func (m PortMapping) String() string {
	return fmt.Sprintf("%s -> %s", m.Key(), net.JoinHostPort(m.HostIP, strconv.Itoa(m.HostPort)))
}

// ParsePortSpec reads `-p [hostIP:][hostPort:]containerPort[/tcp|udp]`, as docker does.
func ParsePortSpec(spec string) (PortMapping, error) {
	m := PortMapping{HostIP: "0.0.0.0", Proto: "tcp"}
	rest, proto, hasProto := strings.Cut(spec, "/")
	if hasProto {
		if proto != "tcp" && proto != "udp" {
			return m, fmt.Errorf("invalid port %q: protocol must be tcp or udp", spec)
		}
		m.Proto = proto
	}
	parts := strings.Split(rest, ":")
	if len(parts) > 3 {
		return m, fmt.Errorf("invalid port %q: want [hostIP:][hostPort:]containerPort[/proto]", spec)
	}
	var err error
	if m.ContainerPort, err = parsePort(parts[len(parts)-1], false); err != nil {
		return m, fmt.Errorf("invalid port %q: %v", spec, err)
	}
	if len(parts) >= 2 {
		if m.HostPort, err = parsePort(parts[len(parts)-2], true); err != nil {
			return m, fmt.Errorf("invalid port %q: %v", spec, err)
		}
	}
	if len(parts) == 3 {
		ip := net.ParseIP(parts[0])
		if ip == nil || ip.To4() == nil {
			return m, fmt.Errorf("invalid port %q: %q is not an IPv4 address", spec, parts[0])
		}
		m.HostIP = ip.String()
	}
	return m, nil
}

// parsePort reads a port number, 1 to 65535 in decimal digits; an empty host port (or 0) means "any
// free one". Port ranges (Docker's 8000-8010:80-90) are not supported.
func parsePort(s string, emptyAllowed bool) (int, error) {
	if s == "" && emptyAllowed {
		return 0, nil
	}
	min := 1
	if emptyAllowed {
		min = 0
	}
	if strings.Contains(s, "-") && !strings.HasPrefix(s, "-") {
		return 0, fmt.Errorf("port ranges like %q are not supported", s)
	}
	port, err := parseDecimal(s, min, 65535)
	if err != nil {
		return 0, fmt.Errorf("%q is not a port number (1 to 65535)", s)
	}
	return port, nil
}

// reservePort binds the host port for the mapping, choosing one if HostPort is 0, and returns the socket
// that holds it.
func reservePort(m *PortMapping) (io.Closer, error) {
	address := net.JoinHostPort(m.HostIP, strconv.Itoa(m.HostPort))
	var holder io.Closer
	var bound net.Addr
	if m.Proto == "udp" {
		conn, err := net.ListenPacket("udp4", address)
		if err != nil {
			return nil, portInUse(m, err)
		}
		holder, bound = conn, conn.LocalAddr()
	} else {
		listener, err := net.Listen("tcp4", address)
		if err != nil {
			return nil, portInUse(m, err)
		}
		holder, bound = listener, listener.Addr()
	}
	_, port, _ := net.SplitHostPort(bound.String())
	m.HostPort, _ = strconv.Atoi(port)
	return holder, nil
}

func portInUse(m *PortMapping, err error) error {
	return fmt.Errorf("cannot publish %s on %s:%d: %v", m.Key(), m.HostIP, m.HostPort, err)
}
