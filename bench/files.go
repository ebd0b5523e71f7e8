// files.go: the file benchmarks of `-only files`: commit and export of a container that wrote 1 GiB.
//
//   - commit: seconds for `engine commit` of a stopped container whose rw dir holds filesMiB MiB (256
//     files of 4 MiB), which packs the rw dir and unpacks and hashes it into a new layer in one pass,
//     against `tar c | tar x` of the same dir into a fresh directory: the same reading and writing,
//     without the hashing. Goal: at most 2 s (Docker 0.1's successors take about 8 s here).
//   - export: GB/s (10^9 bytes) of `engine export` of that container's merged root into a pipe whose
//     reader counts and drops the bytes, against `tar c` of the rw dir into the same kind of pipe.
//     Goal: at least 1 GB/s.
//
// Both read a hot page cache: the container's files were just written, and every peer runs the same
// number of times, alternating.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"
)

const filesMiB = 1024 // what the container writes

// exportRuns is more than the other measurements' runs: an export keeps four threads busy (the
// packing, the daemon's sending, the client, the counting reader) on a machine of two cores, and one
// run in three or four comes out at half speed when the scheduler places them badly.
const exportRuns = 7

func (b *bench) benchFiles() (string, error) {
	progress(fmt.Sprintf("files: a container writes %d MiB", filesMiB))
	script := fmt.Sprintf(`mkdir -p /data/a /data/b && i=0 && while [ $i -lt %d ]; do i=$((i+1)); d=a; [ $((i %% 2)) = 0 ] && d=b; dd if=/dev/zero of=/data/$d/f$i bs=1M count=4 2>/dev/null || exit 1; done`, filesMiB/4)
	if _, err := b.output(b.client("run", "--name", "writer", "--net", "none", "base", "sh", "-c", script)); err != nil {
		return "", err
	}
	defer b.output(b.client("rm", "-f", "writer"))
	id, err := b.inspectID("writer")
	if err != nil {
		return "", err
	}
	rw := filepath.Join(b.root, "containers", id, "rw")

	progress(fmt.Sprintf("files: engine commit against tar c | tar x of the rw dir, %d times each", rates))
	var commit, tar []float64
	for i := range rates {
		seconds, err := b.timeCommit(fmt.Sprintf("committed:%d", i))
		if err != nil {
			return "", err
		}
		commit = append(commit, seconds)
		if seconds, err = b.timeTarCopy(rw); err != nil {
			return "", err
		}
		tar = append(tar, seconds)
	}

	progress(fmt.Sprintf("files: engine export against tar c of the rw dir, into a counting pipe, %d times each", exportRuns))
	var export, tarc []float64
	for range exportRuns {
		// The commits and copies above left gigabytes of dirty pages; written back during an export,
		// they would measure the disk, not the export. Both sides start from a clean cache.
		if _, err := b.output(b.command("sync")); err != nil {
			return "", err
		}
		gbps, err := b.pipeRate(b.client("export", "writer"))
		if err != nil {
			return "", err
		}
		export = append(export, gbps)
		if _, err := b.output(b.command("sync")); err != nil {
			return "", err
		}
		if gbps, err = b.pipeRate(b.command("tar", "cf", "-", "-C", rw, ".")); err != nil {
			return "", err
		}
		tarc = append(tarc, gbps)
	}
	c, t, e, r := median(commit), median(tar), median(export), median(tarc)
	return fmt.Sprintf("commit of %d MiB (median of %d)  engine %.2f s   tar c | tar x %.2f s   ratio %.2f   (goal: at most 2 s)\n"+
		"export of %d MiB (median of %d)  engine %.2f GB/s   tar c %.2f GB/s   ratio %.2f   (goal: at least 1 GB/s)",
		filesMiB, rates, c, t, c/t, filesMiB, exportRuns, e, r, e/r), nil
}

// timeCommit times one `engine commit writer REF` and removes the image again.
func (b *bench) timeCommit(ref string) (float64, error) {
	start := time.Now()
	if _, err := b.output(b.client("commit", "writer", ref)); err != nil {
		return 0, err
	}
	seconds := time.Since(start).Seconds()
	_, err := b.output(b.client("rmi", ref))
	return seconds, err
}

// timeTarCopy times `tar c -C dir . | tar x -C fresh` and removes the copy again.
func (b *bench) timeTarCopy(dir string) (float64, error) {
	fresh, err := os.MkdirTemp(b.tmp, "tarcopy-")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(fresh)
	start := time.Now()
	_, err = b.output(b.command("sh", "-c", `tar cf - -C "$1" . | tar xf - -C "$2"`, "sh", dir, fresh))
	return time.Since(start).Seconds(), err
}

// pipeRate runs cmd with its stdout going to a counter, through a pipe, and returns GB/s.
func (b *bench) pipeRate(cmd *exec.Cmd) (float64, error) {
	var c counter
	cmd.Stdout = &c
	start := time.Now()
	if _, err := b.output(cmd); err != nil {
		return 0, err
	}
	if c.n < filesMiB<<20 {
		return 0, fmt.Errorf("%s: %d bytes, want at least %d", strings.Join(cmd.Args, " "), c.n, filesMiB<<20)
	}
	return float64(c.n) / 1e9 / time.Since(start).Seconds(), nil
}
