// iptables_test.go: runProgram, the one place the engine forks a program of the host's, says why it failed.
package main

import (
	"os"
	"path/filepath"
	"testing"
)

// fakeProgram puts a shell script named name into a directory of its own and makes that directory the
// whole PATH, so only it can be found.
func fakeProgram(t *testing.T, name, script string) {
	t.Helper()
	dir := t.TempDir()
	if script != "" {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("#!/bin/sh\n"+script+"\n"), 0755); err != nil {
			t.Fatal(err)
		}
	}
	t.Setenv("PATH", dir)
}

// On a fresh Debian machine iptables was missing and the daemon said only
// `network: iptables -t nat -N ENGINE-DNAT-engine0: `, with nothing after the colon.
func TestRunProgramNotInstalled(t *testing.T) {
	fakeProgram(t, "iptables", "") // an empty PATH directory
	err := iptables("-t", "nat", "-N", "ENGINE-DNAT-engine0")
	if err == nil || err.Error() != "iptables is not installed (Debian package iptables)" {
		t.Errorf("got %v, want that iptables is not installed and which package has it", err)
	}
}

func TestRunProgramFails(t *testing.T) {
	for _, c := range []struct{ script, want string }{
		{"echo 'iptables: Chain already exists.' >&2; exit 1",
			"iptables -w -t nat -N X: exit status 1: iptables: Chain already exists."},
		{"exit 4", "iptables -w -t nat -N X: exit status 4"}, // no output: the status is all there is
		{"kill -KILL $$", "iptables -w -t nat -N X: signal: killed"},
	} {
		fakeProgram(t, "iptables", c.script)
		if err := iptables("-t", "nat", "-N", "X"); err == nil || err.Error() != c.want {
			t.Errorf("%q: got %v, want %q", c.script, err, c.want)
		}
	}
}

func TestRunProgramSucceeds(t *testing.T) {
	fakeProgram(t, "iptables", `[ "$*" = "-w -t nat -L" ] || exit 1; echo output is not an error`)
	if err := iptables("-t", "nat", "-L"); err != nil {
		t.Errorf("got %v, want success", err)
	}
}
