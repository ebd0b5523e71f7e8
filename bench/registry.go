// registry.go: the registry benchmarks of `-only registry` (issue 11): a 100 MiB image of 5 layers (busybox
// and 4 layers of 25 MiB of random bytes, which gzip cannot shrink) pushed to and pulled from Debian's
// docker-registry on loopback, started by the bench with a config of its own, against skopeo doing the
// same from and to the same places, in the same run, alternating.
//
//   - push: `engine push` into a new registry each time (so every blob is uploaded), against `skopeo
//     copy docker-archive:… docker://…` of the same image saved by engine (uncompressed layers, which
//     skopeo compresses as engine does) into another repository of it. Goal: at most 1.0x skopeo.
//   - pull: `engine pull` into a second daemon whose store lacks the image (removed after each run),
//     which unpacks every layer into its store, against `skopeo copy docker://… oci:DIR` into a new
//     directory, which only writes the blobs. Goal: at most 1.0x skopeo.
package main

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

const (
	registryLayers  = 4  // layers of random bytes on top of busybox's
	registryLayerMB = 25 // MiB each
)

func (b *bench) benchRegistry() (string, error) {
	image, err := b.buildLayeredImage()
	if err != nil {
		return "", err
	}
	archive := filepath.Join(b.tmp, "layered.tar")
	if _, err := b.output(b.client("save", "-o", archive, image)); err != nil {
		return "", err
	}
	puller, err := b.startDaemon(b.engine, "pull-root")
	if err != nil {
		return "", err
	}
	if _, err := b.output(puller.client(b.ctx, "rmi", "base")); err != nil {
		return "", err
	}

	progress(fmt.Sprintf("registry: push and pull of %d MiB in %d layers, engine and skopeo, %d times each", registryLayers*registryLayerMB, registryLayers+1, rates))
	var push, skopeoPush, pull, skopeoPull []float64
	for i := range rates {
		// A registry of its own for each round: skopeo remembers where it put which blob, and would
		// mount rather than upload into a registry it has pushed to before.
		addr, stop, err := b.startRegistry(fmt.Sprintf("registry%d", i))
		if err != nil {
			return "", err
		}
		target := addr + "/engine:1"
		seconds, err := b.timed(b.client("tag", image, target), b.client("push", target))
		if err == nil {
			push = append(push, seconds)
			seconds, err = b.timed(nil, b.command("skopeo", "copy", "--insecure-policy", "--dest-tls-verify=false",
				"docker-archive:"+archive, "docker://"+addr+"/skopeo:1"))
		}
		if err == nil {
			skopeoPush = append(skopeoPush, seconds)
			seconds, err = b.timed(nil, puller.client(b.ctx, "pull", target))
		}
		if err == nil {
			pull = append(pull, seconds)
			_, err = b.output(puller.client(b.ctx, "rmi", target))
		}
		if err == nil {
			layout := filepath.Join(b.tmp, "layout")
			seconds, err = b.timed(nil, b.command("skopeo", "copy", "--insecure-policy", "--src-tls-verify=false",
				"docker://"+target, "oci:"+layout+":1"))
			os.RemoveAll(layout)
			skopeoPull = append(skopeoPull, seconds)
		}
		b.output(b.client("rmi", target))
		stop()
		if err != nil {
			return "", err
		}
	}
	mb := float64(registryLayers * registryLayerMB)
	return fmt.Sprintf("push of %.0f MiB, 5 layers      engine %.2f s   skopeo %.2f s   ratio %.2f   goal <= 1.0\n"+
		"pull of %.0f MiB, 5 layers      engine %.2f s   skopeo %.2f s   ratio %.2f   goal <= 1.0   (median of %d)",
		mb, median(push), median(skopeoPush), median(push)/median(skopeoPush),
		mb, median(pull), median(skopeoPull), median(pull)/median(skopeoPull), rates), nil
}

// timed runs before (untimed, if any), then times cmd.
func (b *bench) timed(before, cmd *exec.Cmd) (float64, error) {
	if before != nil {
		if _, err := b.output(before); err != nil {
			return 0, err
		}
	}
	start := time.Now()
	_, err := b.output(cmd)
	return time.Since(start).Seconds(), err
}

// startRegistry starts docker-registry on a free loopback port, storing under tmp/name, and returns its
// address and what stops it and removes its storage.
func (b *bench) startRegistry(name string) (string, func(), error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	addr := l.Addr().String()
	l.Close()
	dir := filepath.Join(b.tmp, name)
	config := fmt.Sprintf("version: 0.1\nlog: {level: error}\nstorage:\n  filesystem: {rootdirectory: %s}\nhttp: {addr: %s, secret: bench}\n", filepath.Join(dir, "storage"), addr)
	if err := os.MkdirAll(dir, 0700); err != nil {
		return "", nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "config.yml"), []byte(config), 0600); err != nil {
		return "", nil, err
	}
	cmd := exec.Command("docker-registry", "serve", filepath.Join(dir, "config.yml"))
	if err := cmd.Start(); err != nil { // its log (every HEAD of a blob it lacks is an "error") goes nowhere
		return "", nil, fmt.Errorf("docker-registry (apt install docker-registry): %w", err)
	}
	stop := func() { cmd.Process.Kill(); cmd.Wait(); os.RemoveAll(dir) }
	for i := 0; i < 200; i++ {
		if resp, err := http.Get("http://" + addr + "/v2/"); err == nil {
			resp.Body.Close()
			return addr, stop, nil
		}
		time.Sleep(50 * time.Millisecond)
	}
	stop()
	return "", nil, fmt.Errorf("docker-registry does not answer on %s", addr)
}

// buildLayeredImage commits registryLayers layers of random bytes on top of base, one container each.
func (b *bench) buildLayeredImage() (string, error) {
	progress(fmt.Sprintf("registry: building an image of %d layers of %d MiB", registryLayers, registryLayerMB))
	image := "base"
	for i := range registryLayers {
		name := fmt.Sprintf("layer%d", i)
		script := fmt.Sprintf("head -c %d /dev/urandom > /random%d", registryLayerMB<<20, i)
		if _, err := b.output(b.client("run", "--name", name, "--net", "none", image, "sh", "-c", script)); err != nil {
			return "", err
		}
		next := fmt.Sprintf("layered:%d", i)
		_, err := b.output(b.client("commit", name, next))
		b.output(b.client("rm", name))
		if err != nil {
			return "", err
		}
		image = next
	}
	return image, nil
}
