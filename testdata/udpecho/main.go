// Command udpecho answers every UDP datagram on :53 with the same bytes. The network tests run it in a
// container to check published UDP ports (busybox has no UDP server).
package main

import "net"

func main() {
	conn, err := net.ListenPacket("udp", ":53")
	if err != nil {
		panic(err)
	}
	buf := make([]byte, 2048)
	for {
		n, from, err := conn.ReadFrom(buf)
		if err != nil {
			panic(err)
		}
		conn.WriteTo(buf[:n], from)
	}
}
