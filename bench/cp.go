// cp.go: the cp measurement. A running container writes a tree of -cp-mb MiB (64 directories of
// 1 MiB files); `engine cp` copies it out to a directory on the host, against `tar c | tar x` of the
// same tree read straight from the container's upper directory: the peer is what a person would do
// with the files at hand. Both write to the same file system and start each round on an empty
// destination; they alternate, and the median of rates rounds is kept.
package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// cpDirs is how many directories the tree spreads its 1 MiB files over.
const cpDirs = 64

func (b *bench) benchCp() (string, error) {
	files := max(*cpMB/cpDirs, 1)
	total := int64(cpDirs*files) << 20
	progress(fmt.Sprintf("cp: writing a tree of %d MiB in a container, then copying it out %d times each way", total>>20, rates))
	script := fmt.Sprintf("for d in $(seq %d); do mkdir -p /tree/$d; for f in $(seq %d); do dd if=/dev/zero of=/tree/$d/$f bs=1048576 count=1 2>/dev/null; done; done; touch /ready; exec sleep 100000",
		cpDirs, files)
	if _, err := b.output(b.client("run", "-d", "--name", "cpsrc", "--net", "none", "base", "sh", "-c", script)); err != nil {
		return "", err
	}
	defer b.output(b.client("rm", "-f", "cpsrc"))
	for b.client("exec", "cpsrc", "test", "-e", "/ready").Run() != nil {
		if b.ctx.Err() != nil {
			return "", b.ctx.Err()
		}
		time.Sleep(200 * time.Millisecond)
	}
	id, err := b.inspectID("cpsrc")
	if err != nil {
		return "", err
	}
	upper := filepath.Join(b.root, "containers", id, "rw")
	dst := filepath.Join(b.tmp, "cp-out")
	var engine, tar []float64
	for range rates {
		mbps, err := b.copyRate(total, dst, b.client("cp", "cpsrc:/tree", dst))
		if err != nil {
			return "", err
		}
		ref, err := b.copyRate(total, dst, b.command("sh", "-c", `mkdir "$2" && tar c -C "$1" tree | tar x -C "$2" --strip-components 1`, "sh", upper, dst))
		if err != nil {
			return "", err
		}
		engine, tar = append(engine, mbps), append(tar, ref)
	}
	e, t := median(engine), median(tar)
	return fmt.Sprintf("cp of a %d MiB tree         engine %.0f MB/s   tar c | tar x %.0f MB/s   engine/tar %.2f", total>>20, e, t, e/t), nil
}

// copyRate runs a copy into the empty dst, checks that it wrote total bytes, and returns MB/s. The
// files are made to reach the disk (sync) inside the timing, so that neither side leaves its writes
// to the other's turn.
func (b *bench) copyRate(total int64, dst string, copy *exec.Cmd) (float64, error) {
	if err := os.RemoveAll(dst); err != nil {
		return 0, err
	}
	b.command("sync").Run()
	start := time.Now()
	if _, err := b.output(copy); err != nil {
		return 0, err
	}
	if err := b.command("sync").Run(); err != nil {
		return 0, err
	}
	seconds := time.Since(start).Seconds()
	var written int64
	err := filepath.Walk(dst, func(_ string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			written += info.Size()
		}
		return err
	})
	if err != nil || written != total {
		return 0, fmt.Errorf("%v: wrote %d bytes, want %d (%v)", copy.Args, written, total, err)
	}
	return float64(total) / 1e6 / seconds, nil
}
