// output.go: the benchmarks of a container's output (issue 10): stdout to an attached client against a
// plain pipe, and `engine logs` against `cat` of the log files, with the rate helpers they share (the
// top of main.go says how to run them; README.md what each measures).
package main

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// counter is the reader at the end of every pipe: it counts the bytes and drops them.
type counter struct{ n int64 }

func (c *counter) Write(p []byte) (int, error) { c.n += int64(len(p)); return len(p), nil }

// ReadFrom is how exec's io.Copy fills the counter: it reads the command's pipe 1 MiB at a time, as
// `dd bs=1M` would, rather than io.Copy's 32 KiB. A reader that wakes up for every 32 KiB costs a CPU
// of its own, which the engine's client and keeper, or dd alone in the reference, then compete for.
func (c *counter) ReadFrom(r io.Reader) (int64, error) {
	buf := make([]byte, 1<<20)
	start := c.n
	for {
		n, err := r.Read(buf)
		c.n += int64(n)
		if err == io.EOF {
			return c.n - start, nil
		} else if err != nil {
			return c.n - start, err
		}
	}
}

// rate runs cmd with its stdout going to a counter (exec gives it a pipe and copies that into the
// counter) and returns MB/s from start to exit, checking that exactly want bytes arrived.
func (b *bench) rate(cmd *exec.Cmd, want int64) (float64, error) {
	var c counter
	cmd.Stdout = &c
	start := time.Now()
	if _, err := b.output(cmd); err != nil {
		return 0, err
	}
	seconds := time.Since(start).Seconds()
	if c.n != want {
		return 0, fmt.Errorf("%s: %d bytes, want %d", strings.Join(cmd.Args, " "), c.n, want)
	}
	return float64(want) / 1e6 / seconds, nil
}

// compareRates alternates the measured command and its reference, which give want and wantRef bytes, and
// returns the median MB/s of each.
func (b *bench) compareRates(want, wantRef int64, measured, reference func() *exec.Cmd) (float64, float64, error) {
	var m, r []float64
	for range rates {
		mbps, err := b.rate(measured(), want)
		if err != nil {
			return 0, 0, err
		}
		ref, err := b.rate(reference(), wantRef)
		if err != nil {
			return 0, 0, err
		}
		m, r = append(m, mbps), append(r, ref)
	}
	return median(m), median(r), nil
}

func (b *bench) benchStdout() (string, error) {
	n := *stdoutMB << 20
	// dd with 1 MiB blocks on both sides: busybox's head writes 4 KiB at a time and is itself slower
	// than 300 MB/s, which would measure busybox, not the engine.
	script := fmt.Sprintf("dd if=/dev/zero bs=1048576 count=%d 2>/dev/null", n>>20)
	progress(fmt.Sprintf("stdout: %d MiB to an attached client and through a plain pipe, %d times each", *stdoutMB, rates))
	engine, pipe, err := b.compareRates(n, n,
		func() *exec.Cmd { return b.client("run", "--rm", "--net", "none", "base", "sh", "-c", script) },
		func() *exec.Cmd { return b.command("sh", "-c", script) })
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("stdout to attached client  engine %.0f MB/s   plain pipe %.0f MB/s   ratio %.2f", engine, pipe, engine/pipe), nil
}

func (b *bench) benchLogs() (string, error) {
	progress(fmt.Sprintf("logs: writing %d MiB of log, then reading it %d times each way", logBytes>>20, rates))
	// Files of 128 MiB: the log is read across rotated files, as a long-running container's is.
	logOpts := []string{"--log-opt", "max-size=128m", "--log-opt", "max-file=5"}
	script := fmt.Sprintf("dd if=/dev/zero bs=1048576 count=%d 2>/dev/null", logBytes>>20)
	files, err := b.writeLog("logsrc", logOpts, script)
	defer b.output(b.client("rm", "-f", "logsrc"))
	if err != nil {
		return "", err
	}
	var fileBytes int64
	for _, file := range files {
		info, err := os.Stat(file)
		if err != nil {
			return "", err
		}
		fileBytes += info.Size()
	}
	var engine, stamped, cat []float64
	for range rates {
		mbps, err := b.rate(b.client("logs", "logsrc"), logBytes)
		if err != nil {
			return "", err
		}
		withTimes, err := b.rate(b.client("logs", "-t", "logsrc"), logBytes+int64(len("2006-01-02T15:04:05.000000000Z ")))
		if err != nil {
			return "", err
		}
		ref, err := b.rate(b.command(append([]string{"cat"}, files...)...), fileBytes)
		if err != nil {
			return "", err
		}
		engine, stamped, cat = append(engine, mbps), append(stamped, withTimes), append(cat, ref)
	}
	tail, err := b.benchTail(logOpts)
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("logs of 512 MiB (%d files)  engine %.0f MB/s   with -t %.0f MB/s   cat of the log files %.0f MB/s\n%s",
		len(files), median(engine), median(stamped), median(cat), tail), nil
}

// benchTail times `logs --tail 1` of a 512 MiB log of 1 MiB lines: what it reads is the records'
// headers and the end of the log, not the log.
func (b *bench) benchTail(logOpts []string) (string, error) {
	script := fmt.Sprintf("i=0; while [ $i -lt %d ]; do dd if=/dev/zero bs=1048576 count=1 2>/dev/null; echo; i=$((i+1)); done", logBytes>>20)
	_, err := b.writeLog("tailsrc", logOpts, script)
	defer b.output(b.client("rm", "-f", "tailsrc"))
	if err != nil {
		return "", err
	}
	var ms []float64
	for range *runs {
		start := time.Now()
		if _, err := b.rate(b.client("logs", "--tail", "1", "tailsrc"), 1<<20+1); err != nil {
			return "", err
		}
		ms = append(ms, float64(time.Since(start).Microseconds())/1000)
	}
	return fmt.Sprintf("logs --tail 1 of 512 MiB   engine %.1f ms (median; p10 %.1f, p90 %.1f), the last 1 MiB line sent", median(ms), quantile(ms, 0.1), quantile(ms, 0.9)), nil
}

// writeLog runs a container that writes its log and waits for it, and returns the log's files, the
// oldest first.
func (b *bench) writeLog(name string, logOpts []string, script string) ([]string, error) {
	args := append(append([]string{"run", "-d", "--name", name, "--net", "none"}, logOpts...), "base", "sh", "-c", script)
	if _, err := b.output(b.client(args...)); err != nil {
		return nil, err
	}
	if out, err := b.output(b.client("wait", name)); err != nil || string(bytes.TrimSpace(out)) != "0" {
		return nil, fmt.Errorf("engine wait %s: %q %v", name, out, err)
	}
	id, err := b.inspectID(name)
	if err != nil {
		return nil, err
	}
	var files []string
	for n := 100; n >= 0; n-- {
		file := filepath.Join(b.root, "containers", id, "container.log")
		if n > 0 {
			file += "." + strconv.Itoa(n)
		}
		if _, err := os.Stat(file); err == nil {
			files = append(files, file)
		}
	}
	return files, nil
}
