package main

import (
	"slices"
	"strings"
	"testing"
)

func TestParseCapabilities(t *testing.T) {
	got, err := parseCapabilities([]string{"net_admin", "CAP_SYS_TIME", "all", "Chown"})
	want := []string{"CAP_NET_ADMIN", "CAP_SYS_TIME", "ALL", "CAP_CHOWN"}
	if err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	for _, bad := range []string{"CAP_FLY", "sys-admin", ""} {
		if _, err := parseCapabilities([]string{bad}); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCapabilitySet(t *testing.T) {
	if !slices.Contains(allCapabilities(), "CAP_SYS_ADMIN") {
		t.Fatal("the test process lacks CAP_SYS_ADMIN in its bounding set: not root?")
	}
	for _, tc := range []struct {
		add, drop []string
		want      string
	}{
		{nil, nil, strings.Join(defaultCapabilities, " ")},
		{[]string{"CAP_NET_ADMIN"}, []string{"CAP_CHOWN", "CAP_MKNOD"},
			"CAP_DAC_OVERRIDE CAP_FOWNER CAP_FSETID CAP_KILL CAP_SETGID CAP_SETUID CAP_SETPCAP CAP_NET_BIND_SERVICE CAP_NET_ADMIN CAP_NET_RAW CAP_SYS_CHROOT CAP_AUDIT_WRITE CAP_SETFCAP"},
		{[]string{"CAP_NET_BIND_SERVICE"}, []string{"ALL"}, "CAP_NET_BIND_SERVICE"},
		{nil, []string{"ALL"}, ""},
		{[]string{"ALL"}, nil, strings.Join(allCapabilities(), " ")},
		{[]string{"ALL"}, []string{"CAP_SYS_ADMIN"}, strings.Join(slices.DeleteFunc(slices.Clone(allCapabilities()), func(c string) bool { return c == "CAP_SYS_ADMIN" }), " ")},
		{[]string{"CAP_KILL"}, []string{"CAP_KILL"}, strings.Join(slices.DeleteFunc(slices.Clone(defaultCapabilities), func(c string) bool { return c == "CAP_KILL" }), " ")},
	} {
		if got := strings.Join(capabilitySet(tc.add, tc.drop), " "); got != tc.want {
			t.Errorf("add %v drop %v:\n got %s\nwant %s", tc.add, tc.drop, got, tc.want)
		}
	}
}

func TestContainerCapabilities(t *testing.T) {
	root := containerCapabilities(0, nil, nil)
	if !slices.Equal(root.Effective, defaultCapabilities) || !slices.Equal(root.Permitted, defaultCapabilities) || !slices.Equal(root.Bounding, defaultCapabilities) {
		t.Errorf("root: %+v", root)
	}
	user := containerCapabilities(1000, nil, nil)
	if len(user.Effective)+len(user.Permitted) != 0 || !slices.Equal(user.Bounding, defaultCapabilities) {
		t.Errorf("user: %+v", user)
	}
	for _, caps := range []*Capabilities{root, user} {
		if caps.Inheritable == nil || len(caps.Inheritable)+len(caps.Ambient) != 0 {
			t.Errorf("inheritable %v ambient %v", caps.Inheritable, caps.Ambient)
		}
	}
}
