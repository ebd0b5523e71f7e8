// container_stop.go: how a container's run ends: the monitor that records the end, and kill, stop, wait
// and the first step of rm.
//
// Container.Start (container.go) hands the running container's keeper to monitor, which waits for the
// keeper to tell the end (or for it to die), then, under the container's lifecycle lock, records the
// exit, removes its cgroup, releases its network, unmounts its root and applies --rm. A restarted daemon
// does the same for the keepers it adopts (runtime_restore.go). `engine stop`, `kill`, `wait`, `rm -f` and
// `restart` only signal the process through its keeper and wait for the monitor to close the run's
// exited channel: none of them holds a lock while
// it waits, and every wait after SIGKILL has a bound (killTimeout), so a process that cannot be
// collected is reported instead of hanging the command, or the daemon's shutdown.
package main

import (
	"fmt"
	"os"
	"syscall"
	"time"
)

// killTimeout bounds the wait for a container's end after SIGKILL. The kernel lets no process ignore
// SIGKILL, so a longer wait means the process cannot be collected: pid 1 of a PID namespace is only
// reaped once every other process in it has been, and a zombie nobody reaps holds it forever.
var killTimeout = 10 * time.Second

// monitor waits for the container's run to end and records it, like Docker 0.1's Container.monitor. The
// keeper tells the end (keeper_client.go), once every byte of output is in the log.
func (c *Container) monitor(keeper *Keeper, exited chan struct{}) {
	exit, problem := keeper.Wait()
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	c.mu.Lock()
	c.State.setStopped(exit.ExitCode)
	c.State.OOMKilled, c.State.Error = exit.OOMKilled, problem
	if !exit.FinishedAt.IsZero() {
		c.State.FinishedAt = exit.FinishedAt
	}
	c.LogDropped = exit.LogDropped
	c.keeper, c.exited = nil, nil
	c.NetworkSettings = &NetworkSettings{}
	c.mu.Unlock()
	// Waiters learn of the end now; those that need the clean-up done too (awaitEnd) then wait for
	// lifecycle. The slow part (an iptables call per published port) runs with mu free.
	close(exited)
	c.removeCgroup()
	c.runtime.network.Release(c)
	c.unmountUnused()
	if c.HostConfig.AutoRemove {
		c.runtime.destroy(c)
	} else {
		c.toDisk()
	}
}

// exitStatus is the status a shell would report for a process that has been waited for.
func exitStatus(state *os.ProcessState) int {
	return shellStatus(state.Sys().(syscall.WaitStatus))
}

// shellStatus is the status a shell would report: the exit code, or 128+N for death by signal N.
func shellStatus(status syscall.WaitStatus) int {
	if status.Signaled() {
		return 128 + int(status.Signal())
	}
	return status.ExitStatus()
}

// removeCgroup removes the container's cgroup, or the one a killed daemon left for it. The caller
// holds lifecycle.
func (c *Container) removeCgroup() {
	cgroup := c.cgroup
	if cgroup == nil {
		cgroup = NewCgroup(c.runtime.cgroups, cgroupParent+"/"+c.ID)
	}
	if err := cgroup.Remove(); err != nil {
		fmt.Fprintf(os.Stderr, "engine -d: %v\n", err)
	}
	c.mu.Lock()
	c.cgroup = nil
	c.mu.Unlock()
}

// Kill sends a signal to the container's first process, through its keeper: its parent, so the signal
// cannot reach another process that was given the same PID.
func (c *Container) Kill(sig syscall.Signal) error {
	c.mu.Lock()
	running := c.State.Running && c.keeper != nil
	c.mu.Unlock()
	if !running {
		return fmt.Errorf("container %s is not running", c.ShortName())
	}
	_, err := c.keeperCall(keeperRequest{Op: "signal", Signal: int(sig)})
	return err
}

// Stop asks the container to stop with SIGTERM and kills it after the timeout, as `docker stop` does.
// The command is PID 1 of its namespace: the kernel drops signals it has no handler for, so a command
// that ignores SIGTERM is only stopped by the SIGKILL.
func (c *Container) Stop(timeout time.Duration) error {
	exited := c.settledExitedChan()
	if exited == nil {
		return nil
	}
	if c.Kill(syscall.SIGTERM) == nil && c.awaitEnd(exited, timeout) {
		return nil
	}
	c.Kill(syscall.SIGKILL)
	if !c.awaitEnd(exited, killTimeout) {
		return c.notDead()
	}
	return nil
}

// awaitEnd waits up to bound for the run to end, then for the monitor's clean-up after it. The bound
// is on the container; the clean-up is the daemon's own work (unmounting, iptables), which the monitor
// does holding lifecycle: taking lifecycle once waits for it.
func (c *Container) awaitEnd(exited chan struct{}, bound time.Duration) bool {
	select {
	case <-exited:
	case <-time.After(bound):
		return false
	}
	c.settle()
	return true
}

// settle waits for the start, clean-up or removal in progress, if any, to finish.
func (c *Container) settle() {
	c.lifecycle.Lock()
	c.lifecycle.Unlock()
}

// notDead is the error of a container still running killTimeout after SIGKILL.
func (c *Container) notDead() error {
	return fmt.Errorf("container %s did not exit within %v of SIGKILL", c.ShortName(), killTimeout)
}

// Wait blocks until the container is not running and returns its exit code: `engine wait` and an
// attached `run`, which wait as long as the container runs, as `docker wait` does, holding no lock
// meanwhile. Like the end of a stop, it returns once the monitor's clean-up (and --rm) is done.
func (c *Container) Wait() int {
	if exited := c.exitedChan(); exited != nil {
		<-exited
	}
	c.settle() // the run may have ended before exitedChan was asked, its clean-up still going on
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.State.ExitCode
}

// beginRemoval is the first step of `engine rm`: from here on no start goes ahead. A running container
// is refused, or with force sent SIGKILL; the channel returned is closed once it has ended.
func (c *Container) beginRemoval(force bool) (chan struct{}, error) {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.exited != nil {
		if !force {
			return nil, fmt.Errorf("container %s is running: stop it first, or use rm -f", c.ShortName())
		}
		c.Kill(syscall.SIGKILL)
	}
	c.removed = true
	return c.exited, nil
}

// cancelRemoval undoes beginRemoval when the container did not die: it stays, and may start again.
func (c *Container) cancelRemoval() {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	c.removed = false
}

// runningPid is the PID of the container's first process, or 0 if it is not running.
func (c *Container) runningPid() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.State.Running {
		return 0
	}
	return c.State.Pid
}

// exitedChan is the channel closed at the end of the current run, or nil if the container is not running.
// A start in progress is not running yet.
func (c *Container) exitedChan() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.exited
}

// settledExitedChan is exitedChan once the start, clean-up or removal in progress has finished, so
// that a stop cannot miss the process a start is about to release.
func (c *Container) settledExitedChan() chan struct{} {
	c.settle()
	return c.exitedChan()
}
