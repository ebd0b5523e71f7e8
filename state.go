// state.go: what a container is doing right now.
//
// Every container carries a State. Container.Start fills it when the process is running, the monitor
// goroutine (container_stop.go) fills it again when the process exits, and Container.toDisk writes it
// with the rest of the container record after every change, so `engine ps` after a daemon restart tells
// the truth. Both change it under the container's lifecycle lock and its short lock, mu; readers such as
// ps take mu alone. String() is the STATUS column of `engine ps`, as Docker prints it.
package main

import (
	"fmt"
	"os"
	"strconv"
	"strings"
	"time"
)

type State struct {
	Status     string // Docker's one word: created, running or exited
	Running    bool
	Pid        int
	ExitCode   int
	Error      string // why the last start failed, if it did
	StartedAt  time.Time
	FinishedAt time.Time
	OOMKilled  bool

	// PidStart is the process's start time in clock ticks (/proc/PID/stat field 22). With Pid it names
	// one process for good: after a daemon restart, a recycled PID does not pass for our container.
	PidStart uint64
}

func (s *State) String() string {
	switch s.Status {
	case "running":
		return "Up " + humanDuration(time.Since(s.StartedAt))
	case "created":
		return "Created"
	default:
		return fmt.Sprintf("Exited (%d) %s ago", s.ExitCode, humanDuration(time.Since(s.FinishedAt)))
	}
}

func (s *State) setRunning(pid int, pidStart uint64) {
	s.Status = "running"
	s.Running = true
	s.Pid = pid
	s.PidStart = pidStart
	s.ExitCode = 0
	s.Error = ""
	s.OOMKilled = false
	s.StartedAt = time.Now().UTC()
	s.FinishedAt = time.Time{}
}

func (s *State) setStopped(exitCode int) {
	s.Status = "exited"
	s.Running = false
	s.Pid = 0
	s.PidStart = 0
	s.ExitCode = exitCode
	s.FinishedAt = time.Now().UTC()
}

// humanDuration prints a duration the way `docker ps` does: "Less than a second", "5 seconds",
// "About a minute", "3 hours", "2 days".
func humanDuration(d time.Duration) string {
	seconds := int(d.Seconds())
	switch {
	case seconds < 1:
		return "Less than a second"
	case seconds == 1:
		return "1 second"
	case seconds < 60:
		return fmt.Sprintf("%d seconds", seconds)
	case d.Minutes() < 2:
		return "About a minute"
	case d.Minutes() < 60:
		return fmt.Sprintf("%d minutes", int(d.Minutes()))
	case d.Hours() < 2:
		return "About an hour"
	case d.Hours() < 48:
		return fmt.Sprintf("%d hours", int(d.Hours()))
	case d.Hours() < 24*14:
		return fmt.Sprintf("%d days", int(d.Hours()/24))
	default:
		return fmt.Sprintf("%d weeks", int(d.Hours()/24/7))
	}
}

// processStartTime reads field 22 of /proc/PID/stat, the process's start time in clock ticks; 0 if
// there is no such process or it is a zombie (dead, only waiting for its parent to collect it).
func processStartTime(pid int) uint64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The command name (field 2) may hold spaces and parentheses: count fields after the last ')'.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(fields) < 20 || fields[0] == "Z" {
		return 0
	}
	start, _ := strconv.ParseUint(fields[19], 10, 64)
	return start
}
