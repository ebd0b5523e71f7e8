// runtime_restore.go: what a daemon does with the records it finds when it starts.
//
// NewRuntime (runtime.go) calls restore once, after the network manager has made (or found) the bridge
// and before the server accepts a client. The story of a daemon start, for every directory in
// ROOT/containers:
//
//  1. a directory whose name starts with "." is a creation or a removal the last daemon did not finish
//     (writeNew, destroy): it is cleared away;
//  2. a record that cannot be read back (torn, corrupt, or not the container its directory names) is set
//     aside, whole, in ROOT/broken, with a line in the daemon's log: it is never deleted, since it may be
//     the only copy of a container's files and logs, and `engine info` counts what waits there;
//  3. the others are loaded, and each is made to match what is true on the host now:
//     - a record that says "running" whose keeper still keeps the process (keeper_client.go) is adopted:
//     its cgroup is thawed, the network manager takes back its address, veth and published ports
//     (NetworkManager.Adopt), and a monitor waits for its end as if this daemon had started it;
//     - a record that says "running" whose run ended while no daemon was there gets the end its keeper
//     wrote down (exit.json), or 255 if the keeper died with it;
//     - every record that is not running is tidied: a daemon killed in the middle of a start, a stop or a
//     removal may have left its root mounted, its cgroup, or the address and ports of a run that never
//     began or has ended; they go, so that `ps` and inspect show only what is true;
//  4. a --rm container whose run ended is removed, as the daemon that started it would have done.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// restore loads every container record and makes each match the host (the steps above).
func (r *Runtime) restore() error {
	dir := filepath.Join(r.root, "containers")
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	var loaded []*Container
	for _, entry := range entries {
		path := filepath.Join(dir, entry.Name())
		if strings.HasPrefix(entry.Name(), ".") {
			fmt.Fprintf(os.Stderr, "engine -d: clearing %s: a creation or removal the last daemon did not finish\n", path)
			removeContainerDir(path)
			continue
		}
		c, err := r.load(path)
		if err != nil {
			r.setAside(path, err)
			continue
		}
		loaded = append(loaded, c)
	}
	sortByCreation(loaded)
	// Listed before any is reconciled: an adopted container joined to another's network finds it by name.
	r.mu.Lock()
	r.containers = append(r.containers, loaded...)
	r.mu.Unlock()
	for _, c := range loaded {
		if c.State.Running && c.reconcile() {
			continue // adopted: its monitor owns it from here on
		}
		c.tidy()
		if c.HostConfig.AutoRemove && c.State.Status == "exited" { // its --rm was due when the daemon stopped
			c.lifecycle.Lock()
			r.destroy(c)
			c.lifecycle.Unlock()
		}
	}
	return nil
}

// load reads one container record back.
func (r *Runtime) load(dir string) (*Container, error) {
	data, err := os.ReadFile(filepath.Join(dir, "config.json"))
	if err != nil {
		return nil, err
	}
	c := &Container{root: dir, runtime: r}
	if err := json.Unmarshal(data, c); err != nil {
		return nil, err
	}
	if c.ID != filepath.Base(dir) || c.Config == nil || c.HostConfig == nil {
		return nil, errors.New("the record does not match its directory")
	}
	if c.NetworkSettings == nil {
		c.NetworkSettings = &NetworkSettings{}
	}
	return c, nil
}

// brokenDir is where records that cannot be loaded are set aside, ROOT/broken.
func (r *Runtime) brokenDir() string { return filepath.Join(r.root, "broken") }

// setAside moves a container directory whose record cannot be loaded to ROOT/broken, under its own name
// or, if a directory set aside earlier has it, the name with a number added. Its root is unmounted
// first: a mount of the image's layers must not stay behind in a directory no daemon looks after.
func (r *Runtime) setAside(path string, why error) {
	broken := r.brokenDir()
	err := os.MkdirAll(broken, 0700)
	if err == nil {
		err = os.Chmod(broken, 0700) // the records hold what ROOT's 0700 hides: keep it hidden here too
	}
	target := filepath.Join(broken, filepath.Base(path))
	for n := 1; err == nil && exists(target); n++ {
		target = filepath.Join(broken, filepath.Base(path)+"."+strconv.Itoa(n))
	}
	if err == nil {
		(&Container{root: path}).unmount()
		err = os.Rename(path, target)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine -d: container record %s cannot be loaded (%v), nor set aside: %v\n", path, why, err)
		return
	}
	fmt.Fprintf(os.Stderr, "engine -d: container record %s cannot be loaded (%v): set aside in %s\n", path, why, target)
}

// exists tells whether something, of any kind, is at path: rename(2) would replace an empty directory.
func exists(path string) bool {
	_, err := os.Lstat(path)
	return !errors.Is(err, os.ErrNotExist)
}

// BrokenRecords counts the records set aside in ROOT/broken, for `engine info`.
func (r *Runtime) BrokenRecords() int {
	entries, _ := os.ReadDir(r.brokenDir())
	return len(entries)
}

// reconcile handles a container the record says is running, found at daemon start. If its keeper still
// keeps the process the record names, the container is adopted: it runs on, its network is taken back,
// and a monitor waits for its end as if this daemon had started it. Otherwise its run ended while no
// daemon was there: the keeper's exit.json says how (or the keeper died, and the container with it),
// and restore then clears what the run held (tidy). It says whether the container was adopted.
func (c *Container) reconcile() (adopted bool) {
	if keeper := c.adoptKeeper(); keeper != nil {
		c.cgroup = NewCgroup(c.runtime.cgroups, cgroupParent+"/"+c.ID)
		c.cgroup.Adopt() // the directories its init is in: exec joins them on v1
		c.cgroup.Thaw()  // a daemon killed in the middle of a commit left it frozen (commit.go)
		if err := c.runtime.network.Adopt(c); err != nil {
			// The container runs on, reachable through what could be taken back.
			fmt.Fprintf(os.Stderr, "engine -d: adopting container %s: its network: %v\n", c.ShortID(), err)
			c.toDisk()
		}
		exited := make(chan struct{})
		c.keeper, c.exited = keeper, exited
		go c.monitor(keeper, exited)
		return true
	}
	// A daemon killed during a commit left the container frozen: on v1 a frozen task dies only once thawed.
	NewCgroup(c.runtime.cgroups, cgroupParent+"/"+c.ID).Thaw()
	exit, problem := (&Keeper{dir: c.root, Pid: c.State.Pid, PidStart: c.State.PidStart}).exitWithoutKeeper()
	c.State.setStopped(exit.ExitCode)
	c.State.OOMKilled, c.State.Error, c.State.FinishedAt = exit.OOMKilled, problem, exit.FinishedAt
	c.LogDropped = exit.LogDropped
	c.NetworkSettings = &NetworkSettings{}
	c.toDisk()
	return false
}

// tidy makes a record that is not running match the host: its root unmounted, its cgroup gone, no
// address or port shown. A daemon killed between a start's first steps and the record that says
// "running" leaves a "Created" container holding all three; one killed in a monitor's clean-up, an
// exited one. The record is written again only if it changed.
func (c *Container) tidy() {
	c.unmount()
	c.removeCgroup()
	if !c.NetworkSettings.empty() {
		c.NetworkSettings = &NetworkSettings{}
		c.toDisk()
	}
}
