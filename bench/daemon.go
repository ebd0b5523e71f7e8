// daemon.go: a daemon the bench starts, on a root of its own under the bench's temporary directory, a
// free 127.0.0.1 port and a bridge of its own (ebXXXXXXXX), so that it shares nothing with a daemon the
// machine runs or with another bench. Containers outlive a daemon's SIGTERM (their keepers hold them),
// so removeAndStop removes them first: then the daemon takes its bridge, rules and cgroup with it.
package main

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"time"
)

// daemon is one `engine -d`.
type daemon struct {
	engine string // the binary
	root   string
	addr   string // 127.0.0.1:PORT
	bridge string
	cmd    *exec.Cmd // nil while it is stopped
}

// client is an engine client command for this daemon, killed by ctx; -r lets it read the daemon's token.
func (d *daemon) client(ctx context.Context, args ...string) *exec.Cmd {
	argv := append([]string{"-r", d.root, "-H", d.addr}, args...)
	return exec.CommandContext(ctx, d.engine, argv...)
}

// start starts the daemon (on a free port, the first time) and waits until a client gets an answer.
func (d *daemon) start(ctx context.Context) error {
	if d.addr == "" {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return err
		}
		d.addr = l.Addr().String()
		l.Close()
	}
	if err := d.startProcess(); err != nil {
		return err
	}
	_, err := d.waitServing(ctx, 10*time.Second, 0)
	return err
}

// startProcess starts `engine -d`. Not with CommandContext, and in a process group of its own: Ctrl-C
// must not kill the daemon before it has removed its containers; cleanup stops it with SIGTERM, as a
// person would. Its few lines (and any panic) go to our stderr.
func (d *daemon) startProcess() error {
	d.cmd = exec.Command(d.engine, "-d", "-r", d.root, "-H", d.addr, "--bridge", d.bridge)
	d.cmd.Stderr = os.Stderr
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		d.cmd = nil
		return err
	}
	return nil
}

// waitServing polls the daemon with `ps -q` until it answers listing at least running containers, and
// returns how long that took. The poll itself (a client process) takes about a millisecond, the
// resolution of the result.
func (d *daemon) waitServing(ctx context.Context, bound time.Duration, running int) (time.Duration, error) {
	start := time.Now()
	for time.Since(start) < bound {
		out, err := d.client(ctx, "ps", "-q").Output()
		if err == nil && len(strings.Fields(string(out))) >= running {
			return time.Since(start), nil
		}
		if ctx.Err() != nil {
			return 0, ctx.Err()
		}
		time.Sleep(time.Millisecond)
	}
	return 0, fmt.Errorf("the daemon on %s did not serve %d running containers within %v", d.addr, running, bound)
}

// stop sends the daemon SIGTERM, which leaves its containers running, and waits for it (killing it after
// 30 s).
func (d *daemon) stop() {
	if d.cmd == nil {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	timer := time.AfterFunc(30*time.Second, func() { d.cmd.Process.Kill() })
	d.cmd.Wait()
	timer.Stop()
	d.cmd = nil
}

// removeAndStop removes every container of the daemon, then stops it. Keepers still running under the
// root after that (a daemon that died without removing them) are killed, and init with each.
func (d *daemon) removeAndStop() {
	if d.cmd != nil {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		if ids, err := d.client(ctx, "ps", "-aq").Output(); err == nil && len(ids) > 0 {
			d.client(ctx, append([]string{"rm", "-f"}, strings.Fields(string(ids))...)...).Run()
		}
		cancel()
	}
	d.stop()
	for _, pid := range keepersUnder(d.root) {
		syscall.Kill(pid, syscall.SIGKILL)
	}
}
