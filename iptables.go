// iptables.go: the engine's firewall rules, in chains of its own.
//
// NetworkManager (network.go) installs them when the daemon starts and removes them when it stops with
// no container running (running ones outlive the daemon, and their traffic needs the rules); port
// maps (portmap.go) add and delete one DNAT rule each. Every rule lives in a chain named after the
// bridge, so one daemon's rules can be removed whole without touching anything else on the host. The only
// rules in the built-in chains are the jumps into ours:
//
//	raw    PREROUTING                       → ENGINE-RAW-<bridge>    drop what comes to 127.0.0.0/8 from outside lo
//	nat    PREROUTING  (to a local address) → ENGINE-DNAT-<bridge>   published ports, from other hosts and containers
//	nat    OUTPUT      (to a local address) → ENGINE-DNAT-<bridge>   published ports, from the host itself
//	nat    POSTROUTING                      → ENGINE-POST-<bridge>   MASQUERADE: containers out, localhost in
//	filter FORWARD                          → ENGINE-FWD-<bridge>    accept what goes through the bridge
//
// A published port on 127.0.0.1 needs route_localnet on the bridge (see install), and route_localnet
// alone would let a container reach the host's loopback: ENGINE-RAW closes that (CVE-2020-8558).
//
// iptables is forked here (runProgram, the only place the engine runs a program of the host's): these
// rules change at daemon start and for `-p` only, never on the path of a plain `engine run`.
package main

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

type firewall struct {
	bridge, subnet           string
	raw, dnat, post, forward string     // our chains
	jumps                    [][]string // {"-t", table, chain, rule...}
	chainRules               [][]string
}

func newFirewall(bridge string, subnet *net.IPNet) *firewall {
	fw := &firewall{
		bridge: bridge, subnet: subnet.String(),
		raw: "ENGINE-RAW-" + bridge, dnat: "ENGINE-DNAT-" + bridge, post: "ENGINE-POST-" + bridge, forward: "ENGINE-FWD-" + bridge,
	}
	fw.jumps = [][]string{
		{"-t", "raw", "PREROUTING", "-j", fw.raw},
		{"-t", "nat", "PREROUTING", "-m", "addrtype", "--dst-type", "LOCAL", "-j", fw.dnat},
		{"-t", "nat", "OUTPUT", "-m", "addrtype", "--dst-type", "LOCAL", "-j", fw.dnat},
		{"-t", "nat", "POSTROUTING", "-j", fw.post},
		{"-t", "filter", "FORWARD", "-j", fw.forward},
	}
	fw.chainRules = [][]string{
		// Nothing from outside reaches the host's loopback: with route_localnet, a container with
		// NET_RAW could send to 127.0.0.1 at the gateway's MAC and reach every service bound there,
		// the engine's own port included. In the raw table, before conntrack and routing: a reply to the
		// host's own connection to a published 127.0.0.1 port comes back to the bridge's address (it was
		// masqueraded on the way out, below), which is only turned back into 127.0.0.1 after this.
		{"-t", "raw", fw.raw, "-d", "127.0.0.0/8", "!", "-i", "lo", "-j", "DROP"},
		// Containers reach out with the host's address.
		{"-t", "nat", fw.post, "-s", fw.subnet, "!", "-o", bridge, "-j", "MASQUERADE"},
		// A published port reached on 127.0.0.1: the reply must come back to the host, not to the
		// container's own loopback.
		{"-t", "nat", fw.post, "-s", "127.0.0.0/8", "-o", bridge, "-j", "MASQUERADE"},
		// A container reaching another one through a published port: without this, the reply would
		// go straight across the bridge, from an address the client never wrote to.
		{"-t", "nat", fw.post, "-s", fw.subnet, "-o", bridge, "-m", "conntrack", "--ctstate", "DNAT", "-j", "MASQUERADE"},
		{"-t", "filter", fw.forward, "-i", bridge, "-j", "ACCEPT"},
		{"-t", "filter", fw.forward, "-o", bridge, "-j", "ACCEPT"},
	}
	return fw
}

// iptables runs iptables(8), waiting for the xtables lock (-w) if another program holds it.
func iptables(args ...string) error {
	return runProgram("iptables", "iptables", append([]string{"-w"}, args...)...)
}

// runProgram runs one of the host's programs, which the Debian package debianPackage installs (as
// contrib/setup.sh does), and says why it failed: the program's output and exit status, or that the
// program is not installed at all and where to get it. A bare "exit status 1", or nothing after the
// colon, leaves an admin guessing.
func runProgram(debianPackage, name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	switch {
	case errors.Is(err, exec.ErrNotFound):
		return fmt.Errorf("%s is not installed (Debian package %s)", name, debianPackage)
	case err != nil && len(bytes.TrimSpace(out)) == 0:
		return fmt.Errorf("%s %s: %v", name, strings.Join(args, " "), err)
	case err != nil:
		return fmt.Errorf("%s %s: %v: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// install creates our chains, their rules and the jumps into them, after clearing what a daemon that
// died may have left. It also turns on what the rules need from the kernel: forwarding between
// interfaces, and 127.0.0.0/8 routed on the bridge (route_localnet), as Docker does without its userland
// proxy: the host's connection to a published 127.0.0.1 port leaves, DNATed, through the bridge with its
// loopback source, until POSTROUTING masquerades it. route_localnet also accepts packets *to* 127.0.0.0/8
// arriving on the bridge, which ENGINE-RAW drops.
func (fw *firewall) install() error {
	fw.remove()
	for _, setting := range []string{"/proc/sys/net/ipv4/ip_forward", "/proc/sys/net/ipv4/conf/" + fw.bridge + "/route_localnet"} {
		if err := os.WriteFile(setting, []byte("1"), 0644); err != nil {
			return err
		}
	}
	for _, chain := range fw.chains() {
		if err := iptables("-t", chain[0], "-N", chain[1]); err != nil {
			return err
		}
	}
	for _, rule := range fw.chainRules {
		if err := iptables(withAction(rule, "-A")...); err != nil {
			return err
		}
	}
	for _, jump := range fw.jumps {
		// At the top of the built-in chain, so no rule of the host's decides before ours.
		if err := iptables(withAction(jump, "-I")...); err != nil {
			return err
		}
	}
	return nil
}

// remove deletes the jumps and our chains; whatever is not there is skipped.
func (fw *firewall) remove() {
	for _, jump := range fw.jumps {
		for iptables(withAction(jump, "-D")...) == nil { // a jump added twice by two crashes is deleted twice
		}
	}
	for _, chain := range fw.chains() {
		iptables("-t", chain[0], "-F", chain[1])
		iptables("-t", chain[0], "-X", chain[1])
	}
}

// chains are our chains, {table, name}.
func (fw *firewall) chains() [][2]string {
	return [][2]string{{"raw", fw.raw}, {"nat", fw.dnat}, {"nat", fw.post}, {"filter", fw.forward}}
}

// withAction turns {"-t", table, chain, rule...} into {"-t", table, action, chain, rule...}.
func withAction(rule []string, action string) []string {
	return append([]string{rule[0], rule[1], action, rule[2]}, rule[3:]...)
}

// dnatRule is the rule that sends a published port to the container.
func (fw *firewall) dnatRule(m PortMapping, containerIP net.IP) []string {
	rule := []string{"-t", "nat", fw.dnat, "-p", m.Proto}
	if m.HostIP != "0.0.0.0" {
		rule = append(rule, "-d", m.HostIP)
	}
	return append(rule, "--dport", strconv.Itoa(m.HostPort), "-j", "DNAT",
		"--to-destination", net.JoinHostPort(containerIP.String(), strconv.Itoa(m.ContainerPort)))
}

func (fw *firewall) addPort(m PortMapping, containerIP net.IP) error {
	return iptables(withAction(fw.dnatRule(m, containerIP), "-A")...)
}

func (fw *firewall) deletePort(m PortMapping, containerIP net.IP) error {
	return iptables(withAction(fw.dnatRule(m, containerIP), "-D")...)
}
