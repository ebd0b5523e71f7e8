// e2e_logs_test.go: `engine logs` and the log's options as a user drives them: stdout and stderr in the
// order written, --tail, -t, --since and --until, -f and an attached client across rotations with a
// tiny max-size, --log-opt on run and as the daemon's default, bad values refused, and a 100 MB line
// without a newline that grows no process's memory.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// combined runs a client command with its stdout and stderr into one pipe, so their order shows.
func combined(t *testing.T, d *daemon, args ...string) string {
	t.Helper()
	out, err := exec.Command(engineBin, append([]string{"-r", d.root, "-H", d.addr}, args...)...).CombinedOutput()
	if err != nil {
		t.Fatalf("engine %s: %v: %s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// A container that writes to stdout and stderr in turn: logs shows the two in the order written,
// --tail shows the last lines of both, and -t puts the time before each line.
func TestE2ELogsOrderTailTimestamps(t *testing.T) {
	engine(t, "run", "--name", "turns", "base", "sh", "-c",
		"for i in 1 2 3 4 5; do echo out$i; sleep 0.02; echo err$i >&2; sleep 0.02; done; printf partial")
	defer shared.run("", "rm", "-f", "turns")
	var want strings.Builder
	for i := 1; i <= 5; i++ {
		fmt.Fprintf(&want, "out%d\nerr%d\n", i, i)
	}
	want.WriteString("partial")
	if got := combined(t, shared, "logs", "turns"); got != want.String() {
		t.Errorf("logs: %q, want %q", got, want.String())
	}
	for args, want := range map[string]string{
		"--tail 0": "", "--tail 1": "partial", "-n 3": "out5\nerr5\npartial", "--tail=2": "err5\npartial",
		"--tail all": want.String(), "--tail 100": want.String(),
	} {
		if got := combined(t, shared, append(append([]string{"logs"}, strings.Fields(args)...), "turns")...); got != want {
			t.Errorf("logs %s: %q, want %q", args, got, want)
		}
	}
	stdout, stderr, _ := shared.run("", "logs", "--tail", "4", "turns")
	if stdout != "out5\npartial" || stderr != "err4\nerr5\n" {
		t.Errorf("--tail 4 by stream: %q %q", stdout, stderr)
	}
	lines := strings.Split(combined(t, shared, "logs", "-t", "turns"), "\n")
	if len(lines) != 11 {
		t.Fatalf("logs -t: %q", lines)
	}
	var previous time.Time
	for i, line := range lines {
		stamp, text, _ := strings.Cut(line, " ")
		when, err := time.Parse(time.RFC3339Nano, stamp)
		if err != nil || len(stamp) != len("2006-01-02T15:04:05.000000000Z") || when.Before(previous) || time.Since(when) > time.Minute {
			t.Errorf("line %d %q: the time %q (%v) is not docker's", i, line, stamp, err)
		}
		if wantLine := strings.Split(want.String(), "\n")[i]; text != wantLine {
			t.Errorf("line %d: %q, want %q", i, text, wantLine)
		}
		previous = when
	}
}

// --since and --until, in each of docker's forms, pick the records by the times -t shows.
func TestE2ELogsSinceUntil(t *testing.T) {
	engine(t, "run", "--name", "times", "base", "sh", "-c", "echo early; sleep 1.2; echo late")
	defer shared.run("", "rm", "-f", "times")
	lines := strings.Split(strings.TrimSpace(engine(t, "logs", "-t", "times")), "\n")
	if len(lines) != 2 {
		t.Fatalf("logs -t: %q", lines)
	}
	early, _ := time.Parse(time.RFC3339Nano, strings.Fields(lines[0])[0])
	late, _ := time.Parse(time.RFC3339Nano, strings.Fields(lines[1])[0])
	between := early.Add(late.Sub(early) / 2)
	unix := func(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }
	for _, c := range []struct{ args, want string }{
		{"--since " + late.Format(time.RFC3339Nano), "late\n"},
		{"--since " + unix(late), "late\n"},
		{"--since " + between.Format(time.RFC3339Nano), "late\n"},
		{"--until " + early.Format(time.RFC3339Nano), "early\n"},
		{"--until " + unix(between), "early\n"},
		{"--since " + unix(early) + " --until " + unix(early), "early\n"},
		{"--since 1h", "early\nlate\n"},
		{"--since 0", "early\nlate\n"},
		{"--until 1h", ""},
		{"--since " + time.Now().Add(time.Hour).Format(time.RFC3339), ""},
		{"--since " + early.Add(-time.Hour).Local().Format("2006-01-02T15:04:05"), "early\nlate\n"},
		{"--tail 1 --since " + unix(early), "late\n"},
		{"-f --since " + unix(between), "late\n"}, // not running: -f ends at once
	} {
		if got := engine(t, append(append([]string{"logs"}, strings.Fields(c.args)...), "times")...); got != c.want {
			t.Errorf("logs %s: %q, want %q", c.args, got, c.want)
		}
	}
}

// A follower ends when --until comes, though the container runs on.
func TestE2ELogsFollowUntil(t *testing.T) {
	engine(t, "run", "-d", "--name", "ticker", "base", "sh", "-c", "while true; do echo tick; sleep 0.1; done")
	defer shared.run("", "rm", "-f", "ticker")
	start := time.Now()
	out := engine(t, "logs", "-f", "--until", unixSeconds(start.Add(time.Second)), "ticker")
	if took := time.Since(start); took > 5*time.Second || took < 900*time.Millisecond {
		t.Errorf("logs -f --until 1s from now took %v", took)
	}
	if ticks := strings.Count(out, "tick\n"); ticks < 5 || ticks > 20 || strings.Count(out, "\n") != ticks {
		t.Errorf("logs -f --until: %q", out)
	}
}

func unixSeconds(t time.Time) string { return fmt.Sprintf("%d.%09d", t.Unix(), t.Nanosecond()) }

// countLines checks that out is "line 0\n" … "line N-1\n", each once, in order.
func countLines(t *testing.T, what, out string, n int) {
	t.Helper()
	lines := strings.Split(out, "\n")
	if len(lines) != n+1 || lines[n] != "" {
		t.Errorf("%s: %d lines, want %d", what, len(lines)-1, n)
	}
	for i, line := range lines[:min(n, len(lines))] {
		if line != "line "+strconv.Itoa(i) {
			t.Errorf("%s: line %d is %q", what, i, line)
			return
		}
	}
}

// With a 1k max-size the log rotates every few dozen lines: `logs -f`, started before the output, and
// an attached `run` see every line once and in order, across the rotations; a later `logs` shows the
// last files' lines (the older ones are gone, as max-file says), and no file is ever past max-size.
func TestE2ELogsFollowAcrossRotation(t *testing.T) {
	const lines = 10000 // 100 kB or so: more than 60 files of 1k, however the keeper's reads cut it
	script := fmt.Sprintf("sleep 1; i=0; while [ $i -lt %d ]; do echo line $i; i=$((i+1)); done", lines)
	id := strings.TrimSpace(engine(t, "run", "-d", "--name", "rotor", "--log-opt", "max-size=1k", "--log-opt", "max-file=60", "base", "sh", "-c", script))
	defer shared.run("", "rm", "-f", "rotor")
	stdout, stderr, code := shared.run("", "logs", "-f", "rotor")
	if code != 0 {
		t.Fatalf("logs -f: %d %s", code, stderr)
	}
	countLines(t, "logs -f across rotations", stdout, lines)
	dir := filepath.Join(shared.root, "containers", id)
	for n := 0; n < 60; n++ {
		if info, err := os.Stat(logPath(dir, n)); err != nil {
			t.Errorf("container.log.%d: %v", n, err)
		} else if info.Size() > 1024 {
			t.Errorf("container.log.%d holds %d bytes, past max-size 1k", n, info.Size())
		}
	}
	if _, err := os.Stat(logPath(dir, 60)); err == nil {
		t.Error("more files than max-file")
	}
	all := engine(t, "logs", "rotor")
	if !strings.HasSuffix(all, fmt.Sprintf("line %d\n", lines-1)) || strings.Count(all, "\n") >= lines {
		t.Errorf("logs after rotations: %d lines", strings.Count(all, "\n"))
	}
	if got := engine(t, "logs", "--tail", "2", "rotor"); got != fmt.Sprintf("line %d\nline %d\n", lines-2, lines-1) {
		t.Errorf("--tail 2 after rotations: %q", got)
	}
	stdout, stderr, code = shared.run("", "run", "--rm", "--log-opt", "max-size=1k", "--log-opt", "max-file=60", "base", "sh", "-c", script)
	if code != 0 {
		t.Fatalf("run: %d %s", code, stderr)
	}
	countLines(t, "an attached run across rotations", stdout, lines)
}

// --log-opt on run and create is range-checked and kept in HostConfig.LogConfig; bad values of it and
// of logs' flags are refused with one line and status 125.
func TestE2ELogOptsAndBadValues(t *testing.T) {
	engine(t, "create", "--name", "opted", "--log-opt", "max-size=10k", "--log-opt", "max-file=2", "base", "true")
	defer shared.run("", "rm", "-f", "opted")
	logConfig := inspect(t, "opted")["HostConfig"].(map[string]any)["LogConfig"].(map[string]any)
	if config := logConfig["Config"].(map[string]any); logConfig["Type"] != "engine" || config["max-size"] != "10k" || config["max-file"] != "2" || len(config) != 2 {
		t.Errorf("LogConfig %v", logConfig)
	}
	for _, c := range []struct {
		want string
		args []string
	}{
		{"invalid --log-opt max-size=1: a size from 1k to 1t", []string{"run", "--log-opt", "max-size=1", "base", "true"}},
		{"invalid --log-opt max-size=2t", []string{"create", "--log-opt", "max-size=2t", "base", "true"}},
		{"invalid --log-opt max-file=0", []string{"run", "--log-opt", "max-file=0", "base", "true"}},
		{"invalid --log-opt max-file=1x", []string{"run", "--log-opt", "max-file=1x", "base", "true"}},
		{`unknown --log-opt "compress"`, []string{"run", "--log-opt", "compress=true", "base", "true"}},
		{`invalid --log-opt "max-size": expected KEY=VALUE`, []string{"run", "--log-opt", "max-size", "base", "true"}},
		{"invalid --tail -1", []string{"logs", "--tail", "-1", "opted"}},
		{"invalid --tail ten", []string{"logs", "-n", "ten", "opted"}},
		{"invalid --since yesterday", []string{"logs", "--since", "yesterday", "opted"}},
		{"invalid --until 2013-13-01", []string{"logs", "--until", "2013-13-01", "opted"}},
		{`invalid --since "1\n2"`, []string{"logs", "--since", "1\n2", "opted"}},
	} {
		engineFails(t, 125, c.want, c.args...)
	}
	if help := engine(t, "run", "--help"); !strings.Contains(help, "--log-opt") || !strings.Contains(help, "max-file") {
		t.Errorf("run --help does not tell of --log-opt: %s", help)
	}
	if help := engine(t, "logs", "--help"); !strings.Contains(help, "--tail") || !strings.Contains(help, "--since") || !strings.Contains(help, "--timestamps") {
		t.Errorf("logs --help: %s", help)
	}
	if info := engine(t, "info"); !strings.Contains(info, "Logging Driver: engine (container.log, max-size 20m, max-file 5)") {
		t.Errorf("info: %s", info)
	}
}

// `engine -d --log-opt` is every container's default, under its own options; a bad one stops the
// daemon before it starts, with one line.
func TestE2EDaemonLogOpts(t *testing.T) {
	root := t.TempDir()
	cmd := exec.Command(engineBin, "-d", "-r", root, "-H", freePort(), "--log-opt", "max-size=0")
	out, _ := cmd.CombinedOutput()
	if code := cmd.ProcessState.ExitCode(); code != 125 || string(out) != "engine -d: invalid --log-opt max-size=0: a size from 1k to 1t, like 10m\n" {
		t.Errorf("a bad daemon --log-opt: %d %q", code, out)
	}
	d := newDaemon(filepath.Join(root, "root"))
	d.cmd = exec.Command(engineBin, "-d", "-r", d.root, "-H", d.addr, "--bridge", d.bridge, "--log-opt", "max-size=8k", "--log-opt", "max-file=2")
	if err := d.start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.stop(); err != nil {
			t.Error(err)
		}
	}()
	if info, _, _ := d.run("", "info"); !strings.Contains(info, "Logging Driver: engine (container.log, max-size 8k, max-file 2)") {
		t.Errorf("info: %s", info)
	}
	script := "i=0; while [ $i -lt 5000 ]; do echo line $i; i=$((i+1)); done"
	for name, want := range map[string]map[string]string{
		"plain": {"max-size": "8k", "max-file": "2"},
		"own":   {"max-size": "16k", "max-file": "2"},
	} {
		args := []string{"run", "--name", name, "base", "sh", "-c", script}
		if name == "own" {
			args = []string{"run", "--name", name, "--log-opt", "max-size=16k", "base", "sh", "-c", script}
		}
		if _, stderr, code := d.run("", args...); code != 0 {
			t.Fatalf("%s: %s", name, stderr)
		}
		out, _, _ := d.run("", "inspect", name)
		var record struct {
			Id         string
			HostConfig struct{ LogConfig LogConfig }
		}
		if err := json.Unmarshal([]byte(out), &record); err != nil {
			t.Fatal(err)
		}
		if got := record.HostConfig.LogConfig.Config; !maps.Equal(got, want) {
			t.Errorf("%s: LogConfig %v, want %v", name, got, want)
		}
		dir := filepath.Join(d.root, "containers", record.Id)
		size, _ := strconv.ParseInt(strings.TrimSuffix(want["max-size"], "k"), 10, 64)
		for n := 0; n < 2; n++ {
			if info, err := os.Stat(logPath(dir, n)); err != nil || info.Size() > size<<10 {
				t.Errorf("%s: container.log.%d: %v", name, n, err)
			}
		}
		if _, err := os.Stat(logPath(dir, 2)); err == nil {
			t.Errorf("%s: a third file with max-file 2", name)
		}
		logs, _, _ := d.run("", "logs", name)
		if !strings.HasSuffix(logs, "line 4999\n") {
			t.Errorf("%s: logs end %q", name, logs[max(0, len(logs)-20):])
		}
	}
}

// resetPeak sets a process's VmHWM back to its RSS now (proc(5): clear_refs 5), so that the peak
// measured after is the peak of what comes between.
func resetPeak(t *testing.T, pid int) {
	t.Helper()
	if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
		t.Fatal(err)
	}
}

// A container writes 100 MB without a newline: the keeper that writes it, the daemon that sends it to
// `logs` and `logs -t`, and the client that prints it each keep a few MB at their peak.
func TestE2ELogsHugeLineBoundedMemory(t *testing.T) {
	const size = 100_000_000
	resetPeak(t, shared.cmd.Process.Pid)
	daemonBefore := statusField(t, shared.cmd.Process.Pid, "VmRSS")
	id := strings.TrimSpace(engine(t, "run", "-d", "--name", "huge", "--log-opt", "max-size=40m", "--log-opt", "max-file=4", "base", "sh", "-c",
		fmt.Sprintf("head -c %d /dev/zero | tr '\\0' x; sleep 60", size)))
	defer shared.run("", "rm", "-f", "huge")
	dir := filepath.Join(shared.root, "containers", id)
	var keeper int
	for _, pid := range keepersUnder(shared.root) {
		if cwd, _ := os.Readlink(fmt.Sprintf("/proc/%d/cwd", pid)); cwd == dir {
			keeper = pid
		}
	}
	if keeper == 0 {
		t.Fatal("no keeper")
	}
	logged := func() int64 {
		var total int64
		for n := 0; n < 4; n++ {
			if info, err := os.Stat(logPath(dir, n)); err == nil {
				total += info.Size()
			}
		}
		return total
	}
	if _, ok := waitUntil(60*time.Second, func() bool { return logged() >= size }); !ok {
		t.Fatalf("the log holds %d bytes", logged())
	}
	keeperPeak := statusField(t, keeper, "VmHWM")
	slack := 0 // kB; a whole line held anywhere would be 100 MB
	if engineBuild.race {
		slack = 32 << 10
	}
	for _, flags := range [][]string{nil, {"-t"}} {
		want := int64(size)
		if len(flags) > 0 {
			want += int64(len("2006-01-02T15:04:05.000000000Z "))
		}
		args := append(append([]string{"-r", shared.root, "-H", shared.addr, "logs"}, flags...), "huge")
		counter, clientPeak := peakOfClient(t, args, want)
		if counter.n != want || counter.newlines != 0 {
			t.Errorf("logs %v: %d bytes, %d newlines; want %d, 0", flags, counter.n, counter.newlines, want)
		}
		t.Logf("logs %v of a 100 MB line: the client's peak RSS %d kB", flags, clientPeak)
		if clientPeak > 32<<10+slack {
			t.Errorf("the client's peak RSS %d kB", clientPeak)
		}
	}
	daemonPeak := statusField(t, shared.cmd.Process.Pid, "VmHWM")
	t.Logf("100 MB without a newline: the keeper's peak RSS %d kB; the daemon's %d kB, from %d kB before", keeperPeak, daemonPeak, daemonBefore)
	if keeperPeak > 16<<10+slack || daemonPeak-daemonBefore > 16<<10+slack {
		t.Errorf("peak RSS: keeper %d kB, daemon %d kB", keeperPeak, daemonPeak)
	}
}

// peakOfClient runs the client with args, which prints want bytes, counts them, and returns the
// client's peak RSS (VmHWM), read while the client still lives. Its stdout is a pipe, which the client
// makes maxPayload bytes at most (client.go), and the test reads it only up to maxPayload and a byte
// before the end: what is left cannot all be in the pipe, so the client has not written its last byte
// and cannot have exited. (wait4's ru_maxrss will not do: Go starts a child with vfork, and exec
// carries the parent's high-water mark, the test binary's, into the child's.)
func peakOfClient(t *testing.T, args []string, want int64) (byteCounter, int) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	cmd := exec.Command(engineBin, args...)
	cmd.Stdout = w
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	defer func() { cmd.Process.Kill(); cmd.Wait() }() // on a failure, not left blocked on the pipe
	var counter byteCounter
	if _, err := io.CopyN(&counter, r, want-maxPayload-1); err != nil {
		t.Fatalf("engine %s: %v after %d bytes", strings.Join(args, " "), err, counter.n)
	}
	peak := statusField(t, cmd.Process.Pid, "VmHWM")
	io.Copy(&counter, r)
	if err := cmd.Wait(); err != nil {
		t.Fatal(err)
	}
	return counter, peak
}

// byteCounter counts what is written to it, and its newlines, keeping none of it.
type byteCounter struct{ n, newlines int64 }

func (c *byteCounter) Write(p []byte) (int, error) {
	c.n += int64(len(p))
	c.newlines += int64(strings.Count(string(p), "\n"))
	return len(p), nil
}

// A log damaged on disk (a header no keeper writes) is refused with one line that names the file and
// where, and the daemon goes on serving.
func TestE2ELogsOfADamagedLog(t *testing.T) {
	id := strings.TrimSpace(engine(t, "create", "--name", "damaged", "base", "sh", "-c", "echo one; echo two"))
	defer shared.run("", "rm", "-f", "damaged")
	engine(t, "start", "-a", "damaged")
	log := logPath(filepath.Join(shared.root, "containers", id), 0)
	f, err := os.OpenFile(log, os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteAt([]byte{'z'}, 0) // the first record's stream byte
	f.Close()
	engineFails(t, 125, log+" at offset 0: not a log record", "logs", "damaged")
	if out := engine(t, "ps", "-a", "--filter", "name=damaged", "-q"); out != id[:12]+"\n" {
		t.Errorf("ps after the damaged log: %q", out)
	}
}

// An attached client that reads slower than its container writes gets every byte, in order, as with
// Docker, however small the log: here 20 MiB of random bytes through files of 1 MiB, max-file 2, read
// in 64 KiB pieces a millisecond apart while the container writes as fast as it can. The container
// prints the checksum of what it wrote on stderr at the end. Before the keeper waited for attached
// readers (logfile.go), the client lost the files rotated away while it was behind.
func TestE2EAttachedSlowClientGetsEveryByte(t *testing.T) {
	cmd := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "run", "--rm", "--net", "none",
		"--log-opt", "max-size=1m", "--log-opt", "max-file=2", "base", "sh", "-c",
		"head -c 20971520 /dev/urandom > /out && cat /out && sha256sum /out >&2")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sum, got := sha256.New(), int64(0)
	buf := make([]byte, 64<<10)
	for {
		n, err := stdout.Read(buf)
		sum.Write(buf[:n])
		got += int64(n)
		if err != nil {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("run: %v: %s", err, stderr.String())
	}
	want, _, _ := strings.Cut(stderr.String(), " ")
	if hex.EncodeToString(sum.Sum(nil)) != want || got != 20<<20 {
		t.Errorf("the client got %d bytes of %d, sha256 %x, the container wrote %q", got, 20<<20, sum.Sum(nil), want)
	}
}

// An attached client that stops reading holds its container's output up, but not its end: the
// container is removed by `rm -f` while the client still reads nothing. The keeper stops waiting for
// the client's reader once the container has ended and its last output has had its time to drain
// (outputDrainTimeout), so the daemon hears of the end and removes it.
func TestE2EStalledAttachedClientDoesNotHoldUpRm(t *testing.T) {
	cmd := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "run", "--name", "stalled", "--net", "none",
		"--log-opt", "max-size=1m", "--log-opt", "max-file=2", "base", "yes")
	stdout, err := cmd.StdoutPipe() // never read: the client's writes block, and it stops reading
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait(); shared.run("", "rm", "-f", "stalled") }()
	waitFor(t, func() bool { _, _, code := shared.run("", "inspect", "stalled"); return code == 0 })
	dir := filepath.Join(shared.root, "containers", shared.id(t, "stalled"))
	waitFor(t, func() bool { _, err := os.Stat(logPath(dir, 1)); return err == nil }) // rotating
	time.Sleep(500 * time.Millisecond)                                                // and held up by now
	start := time.Now()
	if _, stderr, code := shared.run("", "rm", "-f", "stalled"); code != 0 {
		t.Fatalf("rm -f of a container whose attached client reads nothing: %d: %s", code, stderr)
	}
	t.Logf("rm -f took %v", time.Since(start))
	stdout.Close()
}
