// cgroups_stats.go: what the kernel counted in a container's cgroup (cgroups.go).
//
// The container's keeper (keeper.go) reads the OOM kill count when the command has exited, before the
// cgroup is removed, to tell an OOM kill from a plain SIGKILL; `engine stats` (commands_stats.go) reads Stats every
// second while the container runs. Both only read the files v1 and v2 keep under their own names.
package main

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// OOMKilled tells whether the kernel's OOM killer killed a process of the cgroup: the oom_kill count of
// v1's memory.oom_control or v2's memory.events. Read before Remove. The container's keeper reads the
// same file when the container exits (keeper.go).
func (cg *Cgroup) OOMKilled() bool { return oomKilled(cg.oomFile()) }

// oomKilled reads the oom_kill count of a cgroup's file that counts OOM kills (oomFile).
func oomKilled(file string) bool {
	kills, _ := readCgroupKey(file, "oom_kill")
	return kills > 0
}

// oomFile is the file that counts the cgroup's OOM kills.
func (cg *Cgroup) oomFile() string {
	if cg.hierarchy.Unified {
		return filepath.Join(cg.path("memory"), "memory.events")
	}
	return filepath.Join(cg.path("memory"), "memory.oom_control")
}

// CgroupStats is what `engine stats` shows of a container, read from its cgroup.
type CgroupStats struct {
	CPU         time.Duration // CPU time used by all its processes so far
	Memory      int64         // bytes in use, less the inactive file cache, as docker stats counts it
	MemoryLimit int64         // 0 without a limit
	Pids        int64
}

// Stats reads the cgroup's counters. Files of a controller the host lacks read as zero.
func (cg *Cgroup) Stats() (CgroupStats, error) {
	var s CgroupStats
	memory := cg.path("memory")
	var usage, inactive, limit int64
	var err error
	if cg.hierarchy.Unified {
		var usec int64
		usec, err = readCgroupKey(filepath.Join(cg.path("cpu"), "cpu.stat"), "usage_usec")
		s.CPU = time.Duration(usec) * time.Microsecond
		usage, _ = readCgroupInt(filepath.Join(memory, "memory.current"))
		inactive, _ = readCgroupKey(filepath.Join(memory, "memory.stat"), "inactive_file")
		limit, _ = readCgroupInt(filepath.Join(memory, "memory.max"))
	} else {
		var ns int64
		ns, err = readCgroupInt(filepath.Join(cg.path("cpuacct"), "cpuacct.usage"))
		s.CPU = time.Duration(ns)
		usage, _ = readCgroupInt(filepath.Join(memory, "memory.usage_in_bytes"))
		inactive, _ = readCgroupKey(filepath.Join(memory, "memory.stat"), "total_inactive_file")
		limit, _ = readCgroupInt(filepath.Join(memory, "memory.limit_in_bytes"))
	}
	s.Memory = max(usage-inactive, 0)
	if limit < 1<<62 { // v1 writes "no limit" as the largest page multiple, v2 as "max"
		s.MemoryLimit = limit
	}
	s.Pids, _ = readCgroupInt(filepath.Join(cg.path("pids"), "pids.current"))
	return s, err
}

// readCgroupInt reads a file holding one number; "max" reads as the largest int64.
func readCgroupInt(path string) (int64, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	text := strings.TrimSpace(string(data))
	if text == "max" {
		return 1<<63 - 1, nil
	}
	return strconv.ParseInt(text, 10, 64)
}

// readCgroupKey reads the number after key in a file of "key value" lines (memory.stat, cpu.stat, ...).
func readCgroupKey(path, key string) (int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	scanner := bufio.NewScanner(f)
	for scanner.Scan() {
		if name, value, ok := strings.Cut(scanner.Text(), " "); ok && name == key {
			return strconv.ParseInt(value, 10, 64)
		}
	}
	return 0, fmt.Errorf("%s: no %s", path, key)
}
