// cgroups.go: the control group of one container, on cgroup v1 or v2.
//
// Every container gets a cgroup, laid out as Docker's cgroupfs driver lays out /docker/<id>: engine/<id>
// at the root of each hierarchy. Container.Start creates it before init exists (Create: the directories,
// the limits of the HostConfig, the device allow-list of devicefilter.go) and puts init into it while
// init is held on the sync pipe (Add), so the user's command is limited from its first instruction. The
// monitor reads OOMKilled when the command has exited and then removes the cgroup, as `runc delete` does;
// `engine stats` reads Stats meanwhile (both in cgroups_stats.go), and `engine commit` freezes it
// (Freeze and Thaw, in cgroups_freeze.go).
//
// The kernel offers two shapes. v1 has one hierarchy per controller (memory, cpu, cpuacct, cpuset, pids,
// devices, freezer), mounted wherever /proc/self/mountinfo says, some of them together (cpu,cpuacct); a process
// joins each one by its cgroup.procs. v2 has one tree; a parent switches controllers on for its children
// in cgroup.subtree_control, a process joins by the one cgroup.procs, and devices are guarded by an
// eBPF program. The type Cgroup hides the difference; resources.go says what the limits mean and
// in which file of each version they go.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/sys/unix"
)

// cgroupParent is the directory, at the root of each hierarchy, that holds the containers' cgroups.
const cgroupParent = "engine"

// CgroupHierarchy is where the host's cgroups are, found once by DetectCgroups. Tests point one at the
// unified mount of a hybrid host, or at a temporary directory standing in for a hierarchy.
type CgroupHierarchy struct {
	Unified bool              // cgroup v2: one tree at Root
	Root    string            // v2: where the tree is mounted
	Mounts  map[string]string // v1: controller → where its hierarchy is mounted
	Swap    bool              // the kernel accounts swap, so memory+swap can be limited
}

// cgroupV1Controllers are the v1 controllers a container may use.
var cgroupV1Controllers = []string{"memory", "cpu", "cpuacct", "cpuset", "pids", "devices", "freezer"}

// DetectCgroups tells v2 from v1 as runc does: /sys/fs/cgroup is itself a cgroup2 file system on a
// unified host. Otherwise (v1, or hybrid with controllers on v1) each controller's mount is looked up.
func DetectCgroups() (*CgroupHierarchy, error) {
	const root = "/sys/fs/cgroup"
	var fs unix.Statfs_t
	if err := unix.Statfs(root, &fs); err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	if fs.Type == unix.CGROUP2_SUPER_MAGIC {
		// Swap is accounted on v2 unless the kernel was booted without it; a missing memory.swap.max
		// then fails the start with its name.
		return &CgroupHierarchy{Unified: true, Root: root, Swap: true}, nil
	}
	mountinfo, err := os.ReadFile("/proc/self/mountinfo")
	if err != nil {
		return nil, fmt.Errorf("cgroups: %w", err)
	}
	h := &CgroupHierarchy{Mounts: cgroupV1Mounts(string(mountinfo))}
	if h.Mounts["memory"] != "" {
		_, err := os.Stat(filepath.Join(h.Mounts["memory"], "memory.memsw.limit_in_bytes"))
		h.Swap = err == nil // absent when the kernel does not account swap (swapaccount=0)
	}
	return h, nil
}

// cgroupV1Mounts reads mountinfo lines ("... /sys/fs/cgroup/cpu rw - cgroup cgroup rw,cpu,cpuacct") into
// controller → mount point; the super options after the file system type name the controllers.
func cgroupV1Mounts(mountinfo string) map[string]string {
	mounts := map[string]string{}
	for line := range strings.Lines(mountinfo) {
		before, after, ok := strings.Cut(line, " - ")
		fields, super := strings.Fields(before), strings.Fields(after)
		if !ok || len(fields) < 5 || len(super) < 3 || super[0] != "cgroup" {
			continue
		}
		for _, option := range strings.Split(super[2], ",") {
			if slices.Contains(cgroupV1Controllers, option) && mounts[option] == "" {
				mounts[option] = fields[4]
			}
		}
	}
	return mounts
}

// Has tells whether the host offers a controller (v1 or v2 name: memory, cpu, cpuset, pids).
func (h *CgroupHierarchy) Has(controller string) bool {
	if !h.Unified {
		return h.Mounts[controller] != ""
	}
	available, _ := os.ReadFile(filepath.Join(h.Root, "cgroup.controllers"))
	return slices.Contains(strings.Fields(string(available)), controller)
}

// RemoveParent removes the engine/ directories if no container's cgroup is left in them; the daemon
// calls it when it stops with no container running. A running container's cgroup, or another daemon's,
// keeps them (rmdir fails with EBUSY).
func (h *CgroupHierarchy) RemoveParent() {
	for _, dir := range NewCgroup(h, cgroupParent).dirs() {
		unix.Rmdir(dir)
	}
}

// Cgroup is the cgroup of one container: name (engine/<id>) below the root of each hierarchy.
type Cgroup struct {
	hierarchy *CgroupHierarchy
	name      string
	joined    []string // v1: the directories Create made, which Add puts processes into
}

func NewCgroup(h *CgroupHierarchy, name string) *Cgroup {
	return &Cgroup{hierarchy: h, name: name}
}

// path is the cgroup's directory in the hierarchy of a controller ("" if it is not mounted).
func (cg *Cgroup) path(controller string) string {
	root := cg.hierarchy.Root
	if !cg.hierarchy.Unified {
		root = cg.hierarchy.Mounts[controller]
	}
	if root == "" {
		return ""
	}
	return filepath.Join(root, cg.name)
}

// dirs are the cgroup's directories in every hierarchy it may have been made in, each once.
func (cg *Cgroup) dirs() []string {
	if cg.hierarchy.Unified {
		return []string{cg.path("")}
	}
	var dirs []string
	for _, controller := range cgroupV1Controllers {
		if dir := cg.path(controller); dir != "" && !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	return dirs
}

// Create makes the cgroup with the limits and device rules of hc. On failure nothing is left behind.
func (cg *Cgroup) Create(hc *HostConfig) error {
	create := cg.createV1
	if cg.hierarchy.Unified {
		create = cg.createV2
	}
	if err := create(hc); err != nil {
		cg.Remove()
		return fmt.Errorf("cgroup %s: %w", cg.name, err)
	}
	return nil
}

// createV1 makes the directory in the hierarchy of each controller the container uses: memory, cpuacct
// and pids always (for stats and OOM), devices always, freezer where it is mounted (for commit's
// Freeze: cgroups_freeze.go), cpu and cpuset only when they limit something.
func (cg *Cgroup) createV1(hc *HostConfig) error {
	for _, controller := range v1Controllers(hc) {
		dir := cg.path(controller)
		if dir == "" && controller == "freezer" {
			continue // a container runs without it; only Freeze then says it cannot
		}
		if dir == "" {
			return fmt.Errorf("the %s controller is not mounted", controller)
		}
		if slices.Contains(cg.joined, dir) { // co-mounted with one already made (cpu,cpuacct)
			continue
		}
		if err := makeCgroupDir(dir); err != nil {
			return err
		}
		cg.joined = append(cg.joined, dir)
		if controller == "cpuset" {
			if err := inheritCpuset(dir); err != nil {
				return err
			}
		}
	}
	return cg.writeFiles(v1Files(hc))
}

func v1Controllers(hc *HostConfig) []string {
	controllers := []string{"memory", "cpuacct", "pids", "devices", "freezer"}
	if hc.CpuShares > 0 || hc.NanoCpus > 0 {
		controllers = append(controllers, "cpu")
	}
	if hc.CpusetCpus != "" {
		controllers = append(controllers, "cpuset")
	}
	return controllers
}

// makeCgroupDir makes a cgroup, and engine/ above it on first use. One left by a daemon that was
// killed is taken over: its name is the container's ID.
func makeCgroupDir(dir string) error {
	err := os.Mkdir(dir, 0755)
	if errors.Is(err, fs.ErrNotExist) {
		if err := os.Mkdir(filepath.Dir(dir), 0755); err != nil && !errors.Is(err, fs.ErrExist) {
			return err
		}
		err = os.Mkdir(dir, 0755)
	}
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	return err
}

// inheritCpuset fills a new v1 cpuset cgroup's cpus and mems from its parent (engine/, which gets them
// from the root the same way): the kernel leaves them empty, and no process may join an empty cpuset.
func inheritCpuset(dir string) error {
	for _, d := range []string{filepath.Dir(dir), dir} {
		for _, file := range []string{"cpuset.cpus", "cpuset.mems"} {
			own, err := os.ReadFile(filepath.Join(d, file))
			if err != nil {
				return err
			}
			if strings.TrimSpace(string(own)) != "" {
				continue
			}
			parent, err := os.ReadFile(filepath.Join(filepath.Dir(d), file))
			if err == nil {
				err = writeCgroupFile(filepath.Join(d, file), strings.TrimSpace(string(parent)))
			}
			if err != nil {
				return err
			}
		}
	}
	return nil
}

// createV2 switches on the controllers the container needs in the root's and engine/'s
// cgroup.subtree_control (memory and pids for accounting where the host has them, and whatever a limit
// needs), makes the cgroup, writes the limits and attaches the device filter.
func (cg *Cgroup) createV2(hc *HostConfig) error {
	dir := cg.path("")
	parent := filepath.Dir(dir)
	if err := os.Mkdir(parent, 0755); err != nil && !errors.Is(err, fs.ErrExist) {
		return err
	}
	for _, level := range []string{filepath.Dir(parent), parent} {
		if err := enableControllers(level, v2Controllers(hc)); err != nil {
			return err
		}
	}
	if err := makeCgroupDir(dir); err != nil {
		return err
	}
	if err := cg.writeFiles(v2Files(hc)); err != nil {
		return err
	}
	fd, err := unix.Open(dir, unix.O_DIRECTORY|unix.O_RDONLY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return attachDeviceFilter(fd, allowedDevices())
}

// v2Controllers are the controllers a container's cgroup needs, each with whether it is required (a
// limit needs it) or only wanted (memory and pids, for accounting, where the host has them).
func v2Controllers(hc *HostConfig) map[string]bool {
	wanted := map[string]bool{"memory": hc.Memory > 0, "pids": hc.PidsLimit > 0}
	if hc.CpuShares > 0 || hc.NanoCpus > 0 {
		wanted["cpu"] = true
	}
	if hc.CpusetCpus != "" {
		wanted["cpuset"] = true
	}
	return wanted
}

// enableControllers writes "+memory +pids ..." into a level's cgroup.subtree_control, for the
// controllers it has; a required one it lacks is an error.
func enableControllers(level string, wanted map[string]bool) error {
	available, err := os.ReadFile(filepath.Join(level, "cgroup.controllers"))
	if err != nil {
		return err
	}
	var enable []string
	for _, controller := range []string{"cpu", "cpuset", "memory", "pids"} {
		required, ok := wanted[controller]
		switch {
		case !ok:
		case slices.Contains(strings.Fields(string(available)), controller):
			enable = append(enable, "+"+controller)
		case required:
			return fmt.Errorf("the %s controller is not available in %s", controller, level)
		}
	}
	if len(enable) == 0 {
		return nil
	}
	return writeCgroupFile(filepath.Join(level, "cgroup.subtree_control"), strings.Join(enable, " "))
}

func (cg *Cgroup) writeFiles(files []cgroupFile) error {
	for _, f := range files {
		if err := writeCgroupFile(filepath.Join(cg.path(f.controller), f.name), f.value); err != nil {
			return err
		}
	}
	return nil
}

// writeCgroupFile writes one value in one write(2): the kernel takes each write as one command.
func writeCgroupFile(path, value string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return err
	}
	_, err = f.Write([]byte(value))
	if closeErr := f.Close(); err == nil {
		err = closeErr
	}
	if err != nil {
		return fmt.Errorf("writing %q to %s: %w", value, path, err)
	}
	return nil
}

// Adopt takes over the cgroup of a container found running at daemon start (runtime.go): on v1, the
// directories that exist are those Create made and init is in, where Add must put exec's helpers too.
// Without them an exec in an adopted container would run outside its limits and device rules.
func (cg *Cgroup) Adopt() {
	if !cg.hierarchy.Unified {
		cg.joined = existingCgroupDirs(cg.dirs())
	}
}

func existingCgroupDirs(dirs []string) []string {
	var found []string
	for _, dir := range dirs {
		if _, err := os.Stat(dir); err == nil {
			found = append(found, dir)
		}
	}
	return found
}

// Add moves a process into the container's cgroup by writing its PID into cgroup.procs, which moves all
// its threads: init, still held on the sync pipe (Container.Start; on v1 one directory per hierarchy),
// and the helper of `engine exec` (exec.go), whose child, the command, is then born inside. Init was
// started before its container was known (keeper_init.go), so it cannot be born inside, as clone3's
// CLONE_INTO_CGROUP would have it on v2; it runs nothing of the user's before it is released.
func (cg *Cgroup) Add(pid int) error {
	dirs := cg.joined
	if cg.hierarchy.Unified {
		dirs = []string{cg.path("")}
	}
	return cg.addTo(dirs, pid)
}

// MoveToDaemon moves a process back into the cgroups the daemon itself is in: exec's helper, once the
// command it started was born in the container's.
func (h *CgroupHierarchy) MoveToDaemon(pid int) error {
	own, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	if err := addProcess(h.dirsOf(string(own)), pid); err != nil {
		return fmt.Errorf("cgroups: %w", err)
	}
	return nil
}

// dirsOf reads a /proc/PID/cgroup file ("0::/path" on v2, "4:memory:/path" and "5:cpu,cpuacct:/path"
// on v1) into the directories of the hierarchies the engine uses, each once.
func (h *CgroupHierarchy) dirsOf(procCgroup string) []string {
	var dirs []string
	add := func(dir string) {
		if !slices.Contains(dirs, dir) {
			dirs = append(dirs, dir)
		}
	}
	for line := range strings.Lines(procCgroup) {
		fields := strings.SplitN(strings.TrimSpace(line), ":", 3)
		if len(fields) != 3 {
			continue
		}
		if h.Unified {
			if fields[0] == "0" {
				add(filepath.Join(h.Root, fields[2]))
			}
			continue
		}
		for _, controller := range strings.Split(fields[1], ",") {
			if mount := h.Mounts[controller]; mount != "" {
				add(filepath.Join(mount, fields[2]))
			}
		}
	}
	return dirs
}

func (cg *Cgroup) addTo(dirs []string, pid int) error {
	if err := addProcess(dirs, pid); err != nil {
		return fmt.Errorf("cgroup %s: %w", cg.name, err)
	}
	return nil
}

// addProcess moves the process pid into each cgroup directory, by its cgroup.procs.
func addProcess(dirs []string, pid int) error {
	for _, dir := range dirs {
		if err := writeCgroupFile(filepath.Join(dir, "cgroup.procs"), strconv.Itoa(pid)); err != nil {
			return err
		}
	}
	return nil
}

// Remove deletes the cgroup's directories, in every hierarchy it may be in (it also clears what a killed
// daemon left). The kernel refuses while a process is inside: the container's processes die with its
// init, but the last ones may take a moment to be released, so it tries again for a while.
func (cg *Cgroup) Remove() error {
	var failed []string
	for _, dir := range cg.dirs() {
		err := unix.Rmdir(dir)
		for try := 0; err == unix.EBUSY && try < 200; try++ {
			time.Sleep(5 * time.Millisecond)
			err = unix.Rmdir(dir)
		}
		if err != nil && err != unix.ENOENT {
			failed = append(failed, fmt.Sprintf("%s: %v", dir, err))
		}
	}
	cg.joined = nil
	if failed != nil {
		return fmt.Errorf("removing cgroup %s", strings.Join(failed, "; "))
	}
	return nil
}
