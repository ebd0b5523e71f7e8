package main

import (
	"net"
	"strconv"
	"strings"
	"testing"
)

func TestParsePortSpec(t *testing.T) {
	for spec, want := range map[string]PortMapping{
		"80":                    {"0.0.0.0", 0, 80, "tcp"},
		"8080:80":               {"0.0.0.0", 8080, 80, "tcp"},
		"8082:53/udp":           {"0.0.0.0", 8082, 53, "udp"},
		"127.0.0.1:8081:80/tcp": {"127.0.0.1", 8081, 80, "tcp"},
		"127.0.0.1::80":         {"127.0.0.1", 0, 80, "tcp"},
		"0:80":                  {"0.0.0.0", 0, 80, "tcp"},
	} {
		got, err := ParsePortSpec(spec)
		if err != nil || got != want {
			t.Errorf("%q: got %+v, %v; want %+v", spec, got, err, want)
		}
	}
	for _, bad := range []string{"", "0", "80/sctp", "x:80", "8080:", "1:2:3:4", "65536", "-1",
		"8080:70000", "::1:80:80", "localhost:80:80", "fd00::1:80", "+80", "80:+80", " 80", "80 ", "0x50",
		"8000-8010:80", "80-90", "-0", "-0:80", "65536:80", "4294967376", "80:4294967376", "18446744073709551696",
		"9223372036854775807", "-9223372036854775808:80", "1e2", "80.0", "80/tcp/udp", "80/TCP", "80\n", "80\x00"} {
		got, err := ParsePortSpec(bad)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("%q: got %+v, %v; want an error on one line", bad, got, err)
		}
	}
	if _, err := ParsePortSpec("8000-8010:80"); err == nil || !strings.Contains(err.Error(), "port ranges") {
		t.Errorf("a port range: %v, want it said that ranges are not supported", err)
	}
}

func TestPortMappingNames(t *testing.T) {
	m := PortMapping{"0.0.0.0", 8080, 80, "tcp"}
	if m.Key() != "80/tcp" || m.String() != "80/tcp -> 0.0.0.0:8080" {
		t.Fatalf("%q, %q", m.Key(), m.String())
	}
}

// reservePort picks a free port for 0, and a port already held is a clear error.
func TestReservePort(t *testing.T) {
	for _, proto := range []string{"tcp", "udp"} {
		m := PortMapping{HostIP: "127.0.0.1", ContainerPort: 80, Proto: proto}
		holder, err := reservePort(&m)
		if err != nil {
			t.Fatal(err)
		}
		if m.HostPort == 0 {
			t.Fatalf("%s: no port chosen", proto)
		}
		again := PortMapping{HostIP: "127.0.0.1", HostPort: m.HostPort, ContainerPort: 81, Proto: proto}
		if h, err := reservePort(&again); err == nil {
			h.Close()
			t.Fatalf("%s: port %d reserved twice", proto, m.HostPort)
		}
		holder.Close()
		// Released, the port is free again.
		var probe interface{ Close() error }
		address := net.JoinHostPort("127.0.0.1", strconv.Itoa(m.HostPort))
		if proto == "tcp" {
			probe, err = net.Listen("tcp4", address)
		} else {
			probe, err = net.ListenPacket("udp4", address)
		}
		if err != nil {
			t.Fatalf("%s: port not given back: %v", proto, err)
		}
		probe.Close()
	}
}
