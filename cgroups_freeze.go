// cgroups_freeze.go: freezing a container's processes, and thawing them.
//
// `engine commit` packs the container's upper dir while the container runs; frozen, its processes
// cannot change a file half-way through the packing, so the new layer is one moment of the container,
// as `docker commit` pauses it by default. (`engine pause`/`unpause` will be the same two calls.) The
// kernel's freezer stops every task of the cgroup where it stands, without a signal the container
// could see or catch:
//
//	v1: freezer.state  write FROZEN, then read until it says FROZEN (FREEZING while tasks are stopped);
//	    write THAWED to let them go on.
//	v2: cgroup.freeze  write 1, then read cgroup.events until "frozen 1"; write 0 to thaw.
//
// Freezing waits for every task to stop, which a task in an uninterruptible sleep (a slow disk, NFS)
// can delay: the wait is bounded by freezeTimeout, and a freeze that does not complete is undone.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// freezeTimeout bounds Freeze's wait for the last task to stop (runc gives up after about a second
// of retries; a loaded machine deserves more).
var freezeTimeout = 10 * time.Second

// Freeze stops every process in the cgroup and returns once all are stopped. On failure the cgroup is
// thawed again.
func (cg *Cgroup) Freeze() error {
	file, request, done, err := cg.freezerFiles(true)
	if err == nil {
		err = writeCgroupFile(file, request)
	}
	if err == nil {
		err = cg.awaitFrozen(done)
	}
	if err != nil {
		cg.Thaw()
		return fmt.Errorf("cgroup %s: freezing: %w", cg.name, err)
	}
	return nil
}

// Thaw lets the cgroup's processes run again.
func (cg *Cgroup) Thaw() error {
	file, request, _, err := cg.freezerFiles(false)
	if err == nil {
		err = writeCgroupFile(file, request)
	}
	if err != nil {
		return fmt.Errorf("cgroup %s: thawing: %w", cg.name, err)
	}
	return nil
}

// freezerFiles says where the freezer of this cgroup is: the file to write, what to write for frozen
// (or thawed), and a check that reads whether the freeze is complete.
func (cg *Cgroup) freezerFiles(frozen bool) (file, request string, done func() (bool, error), err error) {
	if cg.hierarchy.Unified {
		dir := cg.path("")
		request = map[bool]string{true: "1", false: "0"}[frozen]
		return filepath.Join(dir, "cgroup.freeze"), request, func() (bool, error) {
			events, err := os.ReadFile(filepath.Join(dir, "cgroup.events"))
			return strings.Contains("\n"+string(events), "\nfrozen 1\n"), err
		}, nil
	}
	dir := cg.path("freezer")
	if dir == "" {
		return "", "", nil, errors.New("the freezer controller is not mounted")
	}
	file = filepath.Join(dir, "freezer.state")
	request = map[bool]string{true: "FROZEN", false: "THAWED"}[frozen]
	return file, request, func() (bool, error) {
		state, err := os.ReadFile(file)
		return strings.TrimSpace(string(state)) == "FROZEN", err
	}, nil
}

// awaitFrozen polls done, 1 ms apart at first, then up to 20 ms, until it says yes or freezeTimeout
// has passed.
func (cg *Cgroup) awaitFrozen(done func() (bool, error)) error {
	deadline := time.Now().Add(freezeTimeout)
	for pause := time.Millisecond; ; pause = min(2*pause, 20*time.Millisecond) {
		frozen, err := done()
		if err != nil || frozen {
			return err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not every process stopped within %v", freezeTimeout)
		}
		time.Sleep(pause)
	}
}
