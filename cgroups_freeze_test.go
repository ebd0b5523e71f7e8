package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// counterScript counts as fast as the shell can into the file $1: a process that never stops writing.
const counterScript = `i=0; while :; do i=$((i+1)); echo $i > "$1"; done`

// TestCgroupFreeze freezes a busy process on the host's v1 freezer and on the v2 tree, sees its counter
// stand still, thaws it and sees it count on.
func TestCgroupFreeze(t *testing.T) {
	h, err := DetectCgroups()
	if err != nil {
		t.Fatal(err)
	}
	hierarchies := map[string]*CgroupHierarchy{"v2": unifiedHierarchy(t)}
	if !h.Unified {
		hierarchies["v1"] = h
	}
	for version, h := range hierarchies {
		t.Run(version, func(t *testing.T) {
			cg := NewCgroup(h, testCgroupName(t, h))
			if err := cg.Create(&HostConfig{}); err != nil {
				t.Fatal(err)
			}
			counter := filepath.Join(t.TempDir(), "counter")
			startHelper(t, cg, counterScript, counter)
			read := func() string { data, _ := os.ReadFile(counter); return strings.TrimSpace(string(data)) }
			awaitChange(t, read, "before the freeze")
			if err := cg.Freeze(); err != nil {
				t.Fatal(err)
			}
			frozen := read()
			time.Sleep(200 * time.Millisecond)
			if now := read(); now != frozen {
				t.Errorf("the counter went from %s to %s while frozen", frozen, now)
			}
			if err := cg.Thaw(); err != nil {
				t.Fatal(err)
			}
			awaitChange(t, read, "after the thaw")
		})
	}
}

// awaitChange waits (up to a minute: a loaded machine may take a while to write what comes first) for
// read to give two different values.
func awaitChange(t *testing.T, read func() string, when string) {
	first := read()
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if now := read(); now != first && now != "" {
			return
		}
	}
	t.Fatalf("the counter stayed at %q %s", first, when)
}

// TestCgroupFreezeWithoutFreezer: on a v1 host without the freezer mounted, a container still starts,
// and Freeze says why it cannot.
func TestCgroupFreezeWithoutFreezer(t *testing.T) {
	h := &CgroupHierarchy{Mounts: map[string]string{"memory": "/m"}}
	if err := NewCgroup(h, "engine/x").Freeze(); err == nil || !strings.Contains(err.Error(), "freezer controller is not mounted") {
		t.Errorf("Freeze without a freezer: %v", err)
	}
}
