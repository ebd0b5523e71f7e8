// commands_stats.go: `engine stats`, what the containers use of CPU, memory and processes.
//
// As `docker stats` does, it shows the running containers (all with -a, or those named), refreshed every
// second until the client goes away, or once with --no-stream. The numbers are the containers' cgroups'
// (Cgroup.Stats in cgroups.go). CPU % is the CPU time the cgroup used between two readings a second apart,
// divided by the wall time between them: 100% is one CPU kept busy, 200% two. Docker's NET I/O and
// BLOCK I/O columns are not shown.
package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"
)

const statsInterval = time.Second

// statsReading is one reading of a container's cgroup; ok is false when the container is not running.
type statsReading struct {
	at    time.Time
	stats CgroupStats
	ok    bool
}

func (srv *Server) CmdStats(session *Session, args []string) error {
	var all, noStream bool
	f := newFlags(session, "stats", "[OPTIONS] [CONTAINER...]", "Display the containers' use of CPU, memory and processes")
	f.Bool(&all, "a", "all", "Show all containers (default: only running ones)")
	f.Bool(&noStream, "", "no-stream", "Print the numbers once instead of every second")
	names, err := f.Parse(args, 0, -1, true)
	if err != nil {
		return err
	}
	var named []*Container
	for _, name := range names {
		c, err := srv.runtime.Get(name)
		if err != nil {
			return err
		}
		named = append(named, c)
	}
	choose := func() []*Container {
		if named != nil {
			return named
		}
		var containers []*Container
		for _, c := range srv.runtime.List() {
			if all || c.runningPid() != 0 {
				containers = append(containers, c)
			}
		}
		return containers
	}
	previous := readAllStats(choose())
	for {
		time.Sleep(statsInterval)
		containers := choose()
		current := readAllStats(containers)
		if !noStream {
			fmt.Fprint(session.Stdout, "\033[2J\033[H") // clear the screen, as docker stats does
		}
		if err := printStats(session, containers, previous, current); err != nil || noStream {
			return err // an error here means the client went away
		}
		previous = current
	}
}

func readAllStats(containers []*Container) map[*Container]statsReading {
	readings := map[*Container]statsReading{}
	for _, c := range containers {
		readings[c] = readStats(c)
	}
	return readings
}

func readStats(c *Container) statsReading {
	c.mu.Lock()
	cgroup := c.cgroup
	c.mu.Unlock()
	if cgroup == nil {
		return statsReading{}
	}
	stats, err := cgroup.Stats() // if the container ends meanwhile, its files are gone and err says so
	return statsReading{at: time.Now(), stats: stats, ok: err == nil}
}

func printStats(session *Session, containers []*Container, previous, current map[*Container]statsReading) error {
	w := tabwriter.NewWriter(session.Stdout, 0, 8, 3, ' ', 0)
	fmt.Fprintln(w, "CONTAINER ID\tNAME\tCPU %\tMEM USAGE / LIMIT\tMEM %\tPIDS")
	hostMemory := totalMemory()
	for _, c := range containers {
		now, before := current[c], previous[c]
		var cpu, memoryPercent float64
		limit := int64(0)
		if now.ok {
			if before.ok && now.at.After(before.at) {
				cpu = float64(now.stats.CPU-before.stats.CPU) / float64(now.at.Sub(before.at)) * 100
			}
			// Without a limit of its own, a container may use the host's memory, as docker stats shows.
			limit = now.stats.MemoryLimit
			if limit == 0 || limit > hostMemory {
				limit = hostMemory
			}
			if limit > 0 {
				memoryPercent = float64(now.stats.Memory) / float64(limit) * 100
			}
		}
		fmt.Fprintf(w, "%s\t%s\t%.2f%%\t%s / %s\t%.2f%%\t%d\n", c.ShortID(), c.ShortName(), max(cpu, 0),
			bytesSize(now.stats.Memory), bytesSize(limit), memoryPercent, now.stats.Pids)
	}
	return w.Flush()
}

// totalMemory is the host's RAM in bytes.
func totalMemory() int64 {
	var info unix.Sysinfo_t
	if unix.Sysinfo(&info) != nil {
		return 0
	}
	return int64(info.Totalram) * int64(info.Unit)
}

// bytesSize prints a size with binary units and four significant digits, as docker stats does:
// 1.465MiB, 64MiB, 23.45GiB.
func bytesSize(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB", "PiB"}
	size, i := float64(n), 0
	for size >= 1024 && i < len(units)-1 {
		size /= 1024
		i++
	}
	return fmt.Sprintf("%.4g%s", size, units[i])
}
