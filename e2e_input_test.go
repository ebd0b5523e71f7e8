// e2e_input_test.go: a hostile client's input, through the real client and daemon (issue 8, part 6).
//
// Names and IDs that try to pass for each other, numbers that overflow or wrap, and strings that would
// add lines to the files the engine generates for a container. Each is refused with one line on stderr
// and exit status 125, or reaches exactly the container it names; the daemon keeps serving.
package main

import (
	"bytes"
	"strings"
	"testing"
)

// A container named like another's full ID must not hide it: `rm <ID>` removes the container that has
// the ID, as Docker resolves full IDs before names.
func TestE2ENameShadowingAnID(t *testing.T) {
	victim := strings.TrimSpace(engine(t, "create", "base", "true"))
	shadow := strings.TrimSpace(engine(t, "create", "--name", victim, "base", "true"))
	defer shared.run("", "rm", "-f", victim, shadow)
	if got := inspect(t, victim)["Id"]; got != victim {
		t.Errorf("inspect %s found %v", victim[:12], got)
	}
	if out := engine(t, "rm", victim); out != victim+"\n" {
		t.Errorf("rm: %q", out)
	}
	if got := inspect(t, shadow)["Name"]; got != "/"+victim {
		t.Errorf("the container named %s: name %v, want it kept", victim[:12], got)
	}
	// With the victim gone, the name reaches the shadow.
	if got := inspect(t, victim)["Id"]; got != shadow {
		t.Errorf("inspect by the name: %v, want %s", got, shadow[:12])
	}
	engine(t, "rm", shadow)
	engineFails(t, 125, "no such container: "+victim, "rm", victim)
	engineFails(t, 125, `invalid container name "x"`, "create", "--name", "x", "base", "true")
	engineFails(t, 125, `no such container: "a\nb"`, "rm", "a\nb")
}

// Numbers that overflow an int, wrap around a uint32 or are out of range: one line, exit 125, and
// nothing created.
func TestE2EHostileNumbers(t *testing.T) {
	before := engine(t, "ps", "-a", "-q", "--no-trunc")
	for _, tt := range []struct {
		want string
		args []string
	}{
		{"a whole number from 0 to 262144", []string{"create", "-c", "18446744073709552640", "base", "true"}}, // 2^64 + 1024
		{"a whole number from 0 to 262144", []string{"create", "-c", "-1024", "base", "true"}},
		{"a whole number from 0 to 262144", []string{"create", "-c", "0x400", "base", "true"}},
		{"a whole number from -1 to 4194304", []string{"create", "--pids-limit", "4294967296", "base", "true"}},
		{"a whole number from -1 to 4194304", []string{"create", "--pids-limit", "9223372036854775808", "base", "true"}},
		{"is more than 1 EiB", []string{"create", "-m", "9999999p", "base", "true"}},
		{"is less than a byte", []string{"create", "-m", "0.5", "base", "true"}},
		{"invalid --memory-swap", []string{"create", "-m", "64m", "--memory-swap", "-2", "base", "true"}},
		{"invalid --cpus", []string{"create", "--cpus", "1e400", "base", "true"}},
		{"invalid --cpus", []string{"create", "--cpus", "Inf", "base", "true"}},
		{"invalid --cpuset-cpus", []string{"create", "--cpuset-cpus", "0-4294967296", "base", "true"}},
		{"invalid --cpuset-cpus", []string{"create", "--cpuset-cpus", "+0", "base", "true"}},
		{"invalid port", []string{"create", "-p", "4294967376:80", "base", "true"}}, // 2^32 + 80
		{"invalid port", []string{"create", "-p", "80:65536", "base", "true"}},
		{"invalid port", []string{"create", "-p", "-1:80", "base", "true"}},
		{"port ranges", []string{"create", "-p", "8000-8001:80-81", "base", "true"}},
		{"a whole number from 0 to 86400", []string{"stop", "-t", "-1", "nosuch"}},
		{"a whole number from 0 to 86400", []string{"stop", "-t", "9223372036854775807", "nosuch"}},
		{"a whole number from 0 to 86400", []string{"restart", "-t", "18446744073709551616", "nosuch"}},
		{"invalid signal: 4294967305", []string{"kill", "-s", "4294967305", "nosuch"}}, // 2^32 + 9
		{"invalid signal: -9", []string{"kill", "-s", "-9", "nosuch"}},
		{"invalid signal: 65", []string{"kill", "-s", "65", "nosuch"}},
	} {
		engineFails(t, 125, tt.want, tt.args...)
	}
	if after := engine(t, "ps", "-a", "-q", "--no-trunc"); after != before {
		t.Errorf("refused creations left containers: before %q, after %q", before, after)
	}
}

// Strings that would add lines or fields to the files made for the container are refused; valid ones
// give files of the usual shape.
func TestE2EHostileStrings(t *testing.T) {
	for _, tt := range []struct {
		want string
		args []string
	}{
		{`invalid hostname "evil\n6.6.6.6 injected"`, []string{"-h", "evil\n6.6.6.6 injected"}},
		{"invalid hostname", []string{"-h", "evil 6.6.6.6"}},
		{"invalid hostname", []string{"-h", "a_b"}},
		{"invalid hostname", []string{"-h", strings.Repeat("a", 64)}},
		{"invalid container name", []string{"--name", "web\n6.6.6.6"}},
		{"invalid label", []string{"-l", "a\n=b"}},
		{"invalid label", []string{"-l", "=b"}},
		{"invalid environment variable", []string{"-e", "=x"}},
		{"not an absolute path", []string{"-w", "tmp"}},
	} {
		engineFails(t, 125, tt.want, append(append([]string{"run", "--rm"}, tt.args...), "base", "cat", "/etc/hosts")...)
	}
	engineFails(t, 125, `no such image: "base\nx"`, "run", "--rm", "base\nx", "true")
	engineFails(t, 125, "invalid reference format", "tag", "base", "evil\nname")

	hosts := engine(t, "run", "--rm", "-h", "web-1.example", "--name", "web-1", "base", "cat", "/etc/hosts")
	lines := strings.Split(strings.TrimSuffix(hosts, "\n"), "\n")
	if len(lines) != 3 || !strings.HasSuffix(lines[2], "\tweb-1.example web-1") || len(strings.Fields(lines[2])) != 3 {
		t.Errorf("/etc/hosts with -h web-1.example:\n%s", hosts)
	}
	if out := engine(t, "run", "--rm", "-h", strings.Repeat("a", 63), "base", "sh", "-c", "hostname; cat /etc/hostname"); out != strings.Repeat(strings.Repeat("a", 63)+"\n", 2) {
		t.Errorf("-h of 63 characters: %q", out)
	}
	if out := engine(t, "run", "--rm", "-e", "A=1\n2", "-l", "k=multi\nline", "base", "sh", "-c", `echo "$A"`); out != "1\n2\n" {
		t.Errorf("a newline in a value: %q", out)
	}
}

// The command-line client cannot send a NUL (execve ends arguments there), a hostile client can: the
// request is made by hand.
func TestE2ENulInRequest(t *testing.T) {
	engine(t, "run", "-d", "--name", "nulexec", "base", "sleep", "1000")
	defer engine(t, "rm", "-f", "nulexec")
	for _, tt := range []struct {
		want string
		args []string
	}{
		{"invalid environment variable", []string{"run", "--rm", "-e", "A=1\x00B=2", "base", "env"}},
		{"not an absolute path", []string{"run", "--rm", "-w", "/tmp\x00/etc", "base", "pwd"}},
		{"contains a NUL", []string{"run", "--rm", "base", "echo", "a\x00b"}},
		{"invalid label", []string{"create", "-l", "a=b\x00", "base", "true"}},
		{"invalid container name", []string{"create", "--name", "ab\x00", "base", "true"}},
		{"invalid environment variable", []string{"exec", "-e", "A=1\x00B=2", "nulexec", "env"}},
		{"not an absolute path", []string{"exec", "-w", "/\x00", "nulexec", "pwd"}},
		{"contains a NUL", []string{"exec", "nulexec", "echo", "a\x00b"}},
	} {
		reply := rawExchange(t, shared.addr, shared.requestFrames(t, tt.args...))
		if !bytes.Contains(reply, []byte(tt.want)) || !bytes.Contains(reply, append([]byte{frameExit, 0, 0, 0, 4}, exitPayload(125)...)) {
			t.Errorf("%q: reply %q, want %q and exit status 125", tt.args, reply, tt.want)
		}
	}
	engine(t, "run", "--rm", "base", "true") // the daemon serves on
}
