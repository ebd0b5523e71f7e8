// keeper.go: what the keeper costs (issue 10). Every running container has a keeper process
// (`engine init keeper`, the repository's keeper.go) between the daemon and its init:
//
//   - memory: the keeper's proportional set size (PSS, /proc/PID/smaps_rollup) with keeperContainers
//     detached `sleep` containers running: its private pages, plus its share of the pages all keepers
//     share (the sealed binary's text). containerd's runc shim costs about 3 MB; the goal is 1 MB.
//   - start: `run --rm --net none base true` against the same on the engine of f1522a2, the last commit
//     before the keeper, built from the repository's history and run by a daemon of its own at the same
//     time; rounds alternate the two. The goal: the keeper adds at most 1 ms to the median.
//   - restart: SIGTERM to a daemon with restartContainers running containers (which go on running), a
//     new daemon on the same root, and the time until it answers `ps` with all of them: it has found and
//     adopted their keepers. The goal: at most 1 s.
package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	beforeKeeper      = "f1522a2" // the last commit before the keeper
	keeperContainers  = 50        // running containers whose keepers' memory is measured
	restartContainers = 100       // running containers a restarted daemon adopts
	restarts          = 5         // restarts timed; the median is kept
)

func (b *bench) benchKeeper() (string, error) {
	pss, err := b.keeperPSS()
	if err != nil {
		return "", err
	}
	start, err := b.keeperStart()
	if err != nil {
		return "", err
	}
	restart, err := b.daemonRestart()
	if err != nil {
		return "", err
	}
	return strings.Join([]string{pss, start, restart}, "\n"), nil
}

// keeperPSS starts keeperContainers detached containers and returns the line for their keepers' PSS.
func (b *bench) keeperPSS() (string, error) {
	progress(fmt.Sprintf("keeper: PSS of the keepers of %d running sleep containers", keeperContainers))
	names, err := b.runSleepers("pss", keeperContainers, "--net", "none")
	defer b.output(b.client(append([]string{"rm", "-f"}, names...)...))
	if err != nil {
		return "", err
	}
	var mb []float64
	for _, pid := range keepersUnder(filepath.Join(b.root, "containers")) {
		kB, err := procKB(pid, "smaps_rollup", "Pss:")
		if err != nil {
			return "", err
		}
		mb = append(mb, float64(kB)*1024/1e6)
	}
	if len(mb) != keeperContainers {
		return "", fmt.Errorf("found %d keepers for %d running containers", len(mb), keeperContainers)
	}
	fmt.Printf("keeper PSS, MB over %d keepers                  median    p10    p90\n", len(mb))
	fmt.Printf("  %-38s %7.2f %6.2f %6.2f\n", "engine init keeper", median(mb), quantile(mb, 0.1), quantile(mb, 0.9))
	return fmt.Sprintf("keeper memory (PSS)        %.2f MB per running container (median of %d)   containerd's runc shim ~3 MB (not run here)   goal <= 1 MB",
		median(mb), len(mb)), nil
}

// runSleepers starts n detached `sleep` containers named prefix-0, prefix-1, … with the given run options
// and returns the names of those it started.
func (b *bench) runSleepers(prefix string, n int, opts ...string) ([]string, error) {
	var names []string
	for i := range n {
		name := prefix + "-" + strconv.Itoa(i)
		args := append(append([]string{"run", "-d", "--name", name}, opts...), "base", "sleep", "100000")
		if _, err := b.output(b.client(args...)); err != nil {
			return names, err
		}
		names = append(names, name)
	}
	return names, nil
}

// keeperStart times `run --rm --net none base true` on this engine and on the one before the keeper.
func (b *bench) keeperStart() (string, error) {
	progress("keeper: building the engine of " + beforeKeeper + " (before the keeper)")
	src := filepath.Join(b.tmp, "src-"+beforeKeeper)
	if err := os.Mkdir(src, 0755); err != nil {
		return "", err
	}
	archive := b.command("sh", "-c", `git -C "$1" archive "$2" | tar x -C "$3"`, "sh", b.repo, beforeKeeper, src)
	if _, err := b.output(archive); err != nil {
		return "", err
	}
	oldEngine := filepath.Join(b.tmp, "engine-"+beforeKeeper)
	if err := b.build(src, oldEngine); err != nil {
		return "", err
	}
	old, err := b.startDaemon(oldEngine, "root-"+beforeKeeper)
	if err != nil {
		return "", err
	}
	defer func() { old.removeAndStop(); b.others = b.others[:len(b.others)-1] }()
	progress(fmt.Sprintf("keeper: %d rounds of run --rm --net none base true, with and without the keeper", warmups+*runs))
	peers := []*daemon{b.daemon, old}
	times := make([][]float64, len(peers))
	for round := range warmups + *runs {
		for i, d := range peers {
			start := time.Now()
			if _, err := b.output(d.client(b.ctx, "run", "--rm", "--net", "none", "base", "true")); err != nil {
				return "", err
			}
			if round >= warmups {
				times[i] = append(times[i], float64(time.Since(start).Microseconds())/1000)
			}
		}
	}
	fmt.Printf("keeper start, ms over %d runs after %d warm-ups   median    p10    p90\n", *runs, warmups)
	for i, name := range []string{"engine run --rm --net none", "the same at " + beforeKeeper + " (no keeper)"} {
		fmt.Printf("  %-38s %7.1f %6.1f %6.1f\n", name, median(times[i]), quantile(times[i], 0.1), quantile(times[i], 0.9))
	}
	now, before := median(times[0]), median(times[1])
	return fmt.Sprintf("keeper at start (median of %d, ms)  engine %.1f   at %s %.1f   %+.1f ms for the keeper   ratio %.2f   goal <= +1 ms",
		*runs, now, beforeKeeper, before, now-before, now/before), nil
}

// daemonRestart times restarts of the daemon with restartContainers containers running on the bridge.
func (b *bench) daemonRestart() (string, error) {
	progress(fmt.Sprintf("keeper: starting %d sleep containers, then restarting the daemon %d times", restartContainers, restarts))
	names, err := b.runSleepers("adopt", restartContainers)
	defer func() { b.output(b.client(append([]string{"rm", "-f"}, names...)...)) }()
	if err != nil {
		return "", err
	}
	var ms []float64
	for range restarts {
		b.daemon.stop()
		took, err := b.daemon.restart(b.ctx, restartContainers)
		if err != nil {
			return "", err
		}
		ms = append(ms, float64(took.Microseconds())/1000)
	}
	fmt.Printf("daemon restart, ms over %d restarts              median    p10    p90\n", restarts)
	fmt.Printf("  %-38s %7.1f %6.1f %6.1f\n", fmt.Sprintf("with %d running containers", restartContainers), median(ms), quantile(ms, 0.1), quantile(ms, 0.9))
	return fmt.Sprintf("daemon restart             %.0f ms until it serves %d running containers again (median of %d)   goal <= 1000 ms",
		median(ms), restartContainers, restarts), nil
}

// keepersUnder lists the keeper processes whose working directory is under dir: the keepers of the
// containers of a root (ROOT/containers), or those and the daemon's spare (ROOT).
func keepersUnder(dir string) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, entry := range entries {
		pid, err := strconv.Atoi(entry.Name())
		if err != nil {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if !bytes.Equal(cmdline, []byte("engine\x00init\x00keeper\x00")) {
			continue
		}
		cwd, err := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid))
		if err == nil && (cwd == dir || strings.HasPrefix(cwd, dir+"/")) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// procKB reads a "Key:   N kB" line of /proc/PID/file.
func procKB(pid int, file, key string) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/%s", pid, file))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(data)) {
		if value, ok := strings.CutPrefix(line, key); ok {
			return strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
		}
	}
	return 0, fmt.Errorf("no %s in /proc/%d/%s", key, pid, file)
}

// restart starts a stopped daemon again and returns the time from its exec until it serves at least
// running containers.
func (d *daemon) restart(ctx context.Context, running int) (time.Duration, error) {
	start := time.Now()
	if err := d.startProcess(); err != nil {
		return 0, err
	}
	if _, err := d.waitServing(ctx, 30*time.Second, running); err != nil {
		return 0, err
	}
	return time.Since(start), nil
}
