// e2e_input_test.go: a hostile client's input, through the real client and daemon (issue 8, part 6).
//
// Names and IDs that try to pass for each other, numbers that overflow or wrap, and strings that would
// add lines to the files the engine generates for a container. Each is refused with one line on stderr
// and exit status 125, or reaches exactly the container it names; the daemon keeps serving.
package main

import (
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
