// Command bench measures the engine against its peers and prints the numbers. It never fails because
// something is slow; it fails only when a run does not work.
//
//   - start: `engine run --rm --net none base true`, end to end through the daemon, against `runc run` and
//     `crun run` of a bundle holding a copy of the same busybox rootfs. crun needs a private mount
//     namespace without /sys/fs/cgroup/unified on hybrid-cgroup hosts, so it runs inside an `unshare -m`
//     wrapper; the wrapper alone is timed too, and crun is also shown with the wrapper's median removed.
//   - keeper: what the keeper costs a running container in memory, a start (against the engine before
//     the keeper) and a daemon's restart (keeper.go).
//   - stdout: how fast a container's stdout reaches an attached client (the log is kept on the way, and
//     rotated: the default 5 files of 20 MB), against the same bytes through a plain pipe on the host
//     (output.go).
//   - logs: `engine logs` (and `logs -t`) of a 512 MiB log kept in files of 128 MiB, against `cat` of
//     the log files themselves; and the time `logs --tail 1` takes on a log of that size (output.go).
//   - cgroups: `run --rm -m 64m base true` against `run --rm base true` (every container has a cgroup;
//     a limit adds its writes), and the daemon's resident memory per running container, from its VmRSS
//     before and after starting rssContainers detached `sleep` containers.
//   - cp: `engine cp` of a 1 GiB tree out of a running container against `tar c | tar x` of the same
//     tree (cp.go).
//   - files: `engine commit` and `engine export` of a container that wrote 1 GiB, against tar (files.go).
//   - registry: `engine push` and `engine pull` of a 100 MiB image of 5 layers through a registry on
//     loopback, against skopeo (registry.go).
//
// It builds the engine from the repository root (or takes -engine), starts a private daemon on a temporary
// root, a free port and a bridge of its own (daemon.go), imports the busybox `base` image, measures, and
// removes everything again (containers, keepers, the bridge and its rules), also on error or Ctrl-C.
// It needs root:
//
//	sudo go run ./bench [-runs 30] [-only start|keeper|stdout|logs|cgroups|cp|files|registry] [-stdout-mb 1024] [-cp-mb 1024] [-engine PATH]
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"hash/crc32"
	"math"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	runs       = flag.Int("runs", 30, "timed runs of each start peer, after 3 warm-ups")
	enginePath = flag.String("engine", "", "engine binary to measure (default: build the repository root)")
	only       = flag.String("only", "all", "measure only start, keeper, stdout, logs, cgroups, cp, files or registry (or several: keeper,stdout)")
	stdoutMB   = flag.Int64("stdout-mb", 1024, "MiB the container writes in the stdout measurement")
	cpMB       = flag.Int("cp-mb", 1024, "MiB of the tree the cp measurement copies out of a container")
)

const (
	warmups  = 3
	rates    = 3         // runs of each bandwidth measurement; the median is kept
	logBytes = 512 << 20 // size of the log `engine logs` sends

	rssContainers = 50 // running containers the daemon's memory is measured with
)

// unshareWrapper runs argv in a private mount namespace without /sys/fs/cgroup/unified: on hybrid-cgroup
// hosts crun refuses to run while cgroup2 is mounted beside cgroup1, and this hides it from crun alone.
func unshareWrapper(argv ...string) []string {
	return append([]string{"unshare", "-m", "sh", "-c", `umount /sys/fs/cgroup/unified 2>/dev/null; exec "$@"`, "sh"}, argv...)
}

func main() {
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx); err != nil {
		if ctx.Err() != nil {
			err = errors.New("interrupted; cleaned up")
		}
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// bench is one session: a private daemon on a temporary directory that also holds the runc/crun bundle.
type bench struct {
	ctx     context.Context // cancelled by Ctrl-C, which kills the command being timed
	tmp     string          // removed at the end, with everything in it
	repo    string          // the repository's root
	engine  string
	*daemon           // the daemon measured, on tmp/root
	others  []*daemon // peers' daemons (keeper.go: the engine before the keeper), stopped by cleanup
}

func run(ctx context.Context) error {
	chosen := strings.Split(*only, ",")
	for _, name := range chosen {
		if !slices.Contains([]string{"all", "start", "keeper", "stdout", "logs", "cgroups", "cp", "files", "registry"}, name) {
			return fmt.Errorf("-only %q: want start, keeper, stdout, logs, cgroups, cp, files or registry, or several joined by commas", *only)
		}
	}
	if *runs < 1 || *stdoutMB < 1 || *cpMB < 1 {
		return errors.New("-runs, -stdout-mb and -cp-mb must be at least 1")
	}
	if os.Geteuid() != 0 {
		return errors.New("containers need root: sudo go run ./bench")
	}
	tmp, err := os.MkdirTemp("", "engine-bench-")
	if err != nil {
		return err
	}
	b := &bench{ctx: ctx, tmp: tmp}
	defer b.cleanup()
	if err := b.setUp(); err != nil {
		return err
	}
	var table []string
	for _, m := range []struct {
		name    string
		measure func() (string, error)
	}{{"start", b.benchStart}, {"keeper", b.benchKeeper}, {"stdout", b.benchStdout}, {"logs", b.benchLogs}, {"cgroups", b.benchCgroups}, {"cp", b.benchCp}, {"files", b.benchFiles}, {"registry", b.benchRegistry}} {
		if *only == "all" || slices.Contains(chosen, m.name) {
			line, err := m.measure()
			if err != nil {
				return fmt.Errorf("%s: %w", m.name, err)
			}
			table = append(table, line)
		}
	}
	fmt.Printf("\n%s\n", strings.Join(table, "\n"))
	return nil
}

// command is exec.Command of argv, killed by Ctrl-C.
func (b *bench) command(argv ...string) *exec.Cmd {
	return exec.CommandContext(b.ctx, argv[0], argv[1:]...)
}

// client is an engine client command for the measured daemon.
func (b *bench) client(args ...string) *exec.Cmd {
	return b.daemon.client(b.ctx, args...)
}

// output runs cmd and returns its stdout (unless the caller took it); a failure carries its stderr.
func (b *bench) output(cmd *exec.Cmd) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	if cmd.Stdout == nil {
		cmd.Stdout = &stdout
	}
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %v %s", strings.Join(cmd.Args, " "), err, bytes.TrimSpace(stderr.Bytes()))
	}
	return stdout.Bytes(), nil
}

// setUp builds the engine (unless -engine names one), starts its daemon and imports `base`.
func (b *bench) setUp() error {
	b.repo = "." // outside the module we assume we were started at its root
	gomod, _ := exec.Command("go", "env", "GOMOD").Output()
	if gomod := strings.TrimSpace(string(gomod)); gomod != "" && gomod != os.DevNull {
		b.repo = filepath.Dir(gomod)
	}
	b.engine, _ = filepath.Abs(*enginePath)
	if *enginePath == "" {
		progress("building engine")
		b.engine = filepath.Join(b.tmp, "engine")
		if err := b.build(b.repo, b.engine); err != nil {
			return err
		}
	}
	d, err := b.startDaemon(b.engine, "root")
	b.daemon = d
	return err
}

// build builds the engine in the source tree src into the file out.
func (b *bench) build(src, out string) error {
	build := b.command("go", "build", "-o", out, ".")
	build.Dir = src
	build.Env = append(os.Environ(), "CGO_ENABLED=0") // static, as contrib/setup.sh builds it
	_, err := b.output(build)
	return err
}

// startDaemon starts a daemon of the engine binary on the root tmp/name, with a bridge of its own, and
// imports `base` into it. The daemon is b's to clean up, even if this fails.
func (b *bench) startDaemon(engine, name string) (*daemon, error) {
	root := filepath.Join(b.tmp, name)
	d := &daemon{engine: engine, root: root, bridge: fmt.Sprintf("eb%08x", crc32.ChecksumIEEE([]byte(root)))}
	if b.daemon != nil {
		b.others = append(b.others, d)
	}
	if err := d.start(b.ctx); err != nil {
		return d, err
	}
	progress("importing the busybox base image into " + root)
	mkimage := b.command(filepath.Join(b.repo, "contrib", "mkimage-busybox.sh"))
	mkimage.Env = append(os.Environ(), "ENGINE="+d.engine, "ENGINE_ROOT="+d.root, "ENGINE_HOST="+d.addr)
	_, err := b.output(mkimage)
	return d, err
}

// cleanup stops the daemons (after removing their containers, which outlive a daemon's SIGTERM), deletes
// what runc and crun left, unmounts what is still mounted under tmp, deepest first, so RemoveAll cannot
// reach through a mount, and removes tmp.
func (b *bench) cleanup() {
	for _, d := range append(b.others, b.daemon) {
		if d != nil {
			d.removeAndStop()
		}
	}
	for _, runtime := range []string{"runc", "crun"} {
		state := filepath.Join(b.tmp, runtime+"-state")
		ids, _ := exec.Command(runtime, "--root", state, "list", "-q").Output()
		for _, id := range strings.Fields(string(ids)) {
			del := []string{runtime, "--root", state, "delete", "-f", id}
			if runtime == "crun" {
				del = unshareWrapper(del...)
			}
			exec.Command(del[0], del[1:]...).Run()
		}
	}
	mountinfo, _ := os.ReadFile("/proc/self/mountinfo")
	var mounts []string
	for line := range strings.Lines(string(mountinfo)) {
		if fields := strings.Fields(line); len(fields) > 4 && strings.HasPrefix(fields[4], b.tmp+"/") {
			mounts = append(mounts, fields[4])
		}
	}
	for _, dir := range slices.Backward(mounts) {
		syscall.Unmount(dir, syscall.MNT_DETACH)
	}
	os.RemoveAll(b.tmp)
}

// inspectID is a container's or image's full ID, from `engine inspect`.
func (b *bench) inspectID(name string) (string, error) {
	out, err := b.output(b.client("inspect", name))
	if err != nil {
		return "", err
	}
	var object struct{ Id string }
	if err := json.Unmarshal(out, &object); err != nil || object.Id == "" {
		return "", fmt.Errorf("engine inspect %s: no Id in %.200q", name, out)
	}
	return object.Id, nil
}

// makeBundle makes the runc/crun bundle: a copy of base's layer and `runc spec`, edited to run `true`
// with a writable root and no terminal, the rest as runc writes it.
func (b *bench) makeBundle() (string, error) {
	id, err := b.inspectID("base")
	if err != nil {
		return "", err
	}
	layer := filepath.Join(b.root, "graph", strings.TrimPrefix(id, "sha256:"), "layer")
	bundle := filepath.Join(b.tmp, "bundle")
	_, err = b.output(b.command("sh", "-c", `mkdir "$2" && cp -a "$1" "$2/rootfs" && cd "$2" && runc spec &&
		jq '.process.terminal=false | .process.args=["true"] | .root.readonly=false' config.json >spec.json &&
		mv spec.json config.json`, "sh", layer, bundle))
	return bundle, err
}

func (b *bench) benchStart() (string, error) {
	bundle, err := b.makeBundle()
	if err != nil {
		return "", err
	}
	runcState, crunState := filepath.Join(b.tmp, "runc-state"), filepath.Join(b.tmp, "crun-state")
	peers := []func(id string) *exec.Cmd{ // runc and crun want a fresh container ID each time
		func(string) *exec.Cmd { return b.client("run", "--rm", "--net", "none", "base", "true") },
		func(id string) *exec.Cmd {
			return b.command("runc", "--root", runcState, "run", "--bundle", bundle, id)
		},
		func(id string) *exec.Cmd {
			return b.command(unshareWrapper("crun", "--root", crunState, "run", "--bundle", bundle, id)...)
		},
		func(string) *exec.Cmd { return b.command(unshareWrapper("true")...) },
		func(string) *exec.Cmd { return b.client("run", "--rm", "base", "true") }, // the default: bridge
	}
	progress(fmt.Sprintf("start: %d rounds of engine, runc, crun, unshare wrapper, engine with the bridge", warmups+*runs))
	// Peers alternate within each round, so a slow spell of the machine hits all of them alike.
	times := make([][]float64, len(peers))
	for round := range warmups + *runs {
		for i, peer := range peers {
			start := time.Now()
			if _, err := b.output(peer("bench-" + strconv.Itoa(round))); err != nil {
				return "", err // a failed run is not a number
			}
			if round >= warmups {
				times[i] = append(times[i], float64(time.Since(start).Microseconds())/1000)
			}
		}
	}
	adjusted := make([]float64, *runs)
	for i, ms := range times[2] {
		adjusted[i] = ms - median(times[3])
	}
	times = append(times, adjusted)
	fmt.Printf("start, ms over %d runs after %d warm-ups     median    p10    p90\n", *runs, warmups)
	for i, name := range []string{"engine run --rm --net none", "runc run", "crun run, in the unshare wrapper",
		"unshare wrapper alone", "engine run --rm (bridge)", "crun run, wrapper median subtracted"} {
		fmt.Printf("  %-38s %7.1f %6.1f %6.1f\n", name, median(times[i]), quantile(times[i], 0.1), quantile(times[i], 0.9))
	}
	e, r, c, ca, bridged := median(times[0]), median(times[1]), median(times[2]), median(adjusted), median(times[4])
	return fmt.Sprintf("start (median of %d, ms)   engine %.1f   runc %.1f   crun %.1f (%.1f without unshare wrapper)   engine/runc %.2f  engine/crun %.2f\n"+
		"bridge vs none (median)    engine %.1f with the bridge   %+.1f ms over --net none",
		*runs, e, r, c, ca, e/r, e/ca, bridged, bridged-e), nil
}

func (b *bench) benchCgroups() (string, error) {
	peers := []*struct {
		name string
		args []string
		ms   []float64
	}{
		{name: "engine run --rm base true", args: []string{"run", "--rm", "base", "true"}},
		{name: "engine run --rm -m 64m base true", args: []string{"run", "--rm", "-m", "64m", "base", "true"}},
	}
	progress(fmt.Sprintf("cgroups: %d rounds of run --rm with and without -m 64m", warmups+*runs))
	for round := range warmups + *runs {
		for _, peer := range peers {
			start := time.Now()
			if _, err := b.output(b.client(peer.args...)); err != nil {
				return "", err
			}
			if round >= warmups {
				peer.ms = append(peer.ms, float64(time.Since(start).Microseconds())/1000)
			}
		}
	}
	fmt.Printf("cgroups, ms over %d runs after %d warm-ups        median    p10    p90\n", *runs, warmups)
	for _, peer := range peers {
		fmt.Printf("  %-38s %7.1f %6.1f %6.1f\n", peer.name, median(peer.ms), quantile(peer.ms, 0.1), quantile(peer.ms, 0.9))
	}
	perContainer, err := b.daemonRSSPerContainer()
	if err != nil {
		return "", err
	}
	plain, limited := median(peers[0].ms), median(peers[1].ms)
	return fmt.Sprintf("cgroups (median of %d, ms)  run --rm %.1f   with -m 64m %.1f   %+.1f ms for the limit\n"+
		"daemon memory              %.3f MB of VmRSS per running container (%d detached sleep containers)",
		*runs, plain, limited, limited-plain, perContainer, rssContainers), nil
}

// daemonRSSPerContainer starts rssContainers detached `sleep` containers and returns how much the
// daemon's resident set grew, per container, in MB (10^6 bytes); the containers are removed again.
func (b *bench) daemonRSSPerContainer() (float64, error) {
	progress(fmt.Sprintf("cgroups: daemon VmRSS before and after starting %d sleep containers", rssContainers))
	before, err := vmRSS(b.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	names := []string{"rm", "-f"}
	defer func() { b.output(b.client(names...)) }()
	for i := range rssContainers {
		name := fmt.Sprintf("rss-%d", i)
		if _, err := b.output(b.client("run", "-d", "--name", name, "base", "sleep", "1000")); err != nil {
			return 0, err
		}
		names = append(names, name)
	}
	after, err := vmRSS(b.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	return float64(after-before) / 1e6 / rssContainers, nil
}

// vmRSS is a process's resident set in bytes, from /proc/PID/status.
func vmRSS(pid int) (int64, error) {
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for line := range strings.Lines(string(status)) {
		if value, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kB, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(value), " kB"), 10, 64)
			return kB * 1024, err
		}
	}
	return 0, fmt.Errorf("no VmRSS in /proc/%d/status", pid)
}

// quantile is the q-quantile of xs (not empty), interpolating between the two nearest samples.
func quantile(xs []float64, q float64) float64 {
	s := slices.Sorted(slices.Values(xs))
	pos := q * float64(len(s)-1)
	i, frac := int(pos), pos-math.Floor(pos)
	if frac == 0 {
		return s[i]
	}
	return s[i] + frac*(s[i+1]-s[i])
}

func median(xs []float64) float64 { return quantile(xs, 0.5) }

func progress(msg string) { fmt.Fprintf(os.Stderr, "bench: %s\n", msg) }
