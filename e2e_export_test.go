package main

// End-to-end tests of diff, export and history (commit.go, commands_commit.go): what a container
// changed, listed as docker does; its merged root as a tarball that imports back, also while a
// running container swaps directories for symlinks to the host; an image's steps.

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestE2EDiff(t *testing.T) {
	t.Cleanup(func() { shared.run("", "rm", "-f", "differ") })
	engine(t, "run", "--name", "differ", "--net", "none", "base", "sh", "-c",
		"mkdir /tmp/x; touch /tmp/x/y; rm /etc/group; echo >> /etc/passwd; rm -rf /var; mkdir /var; touch /var/z")
	want := "C /etc\nD /etc/group\nC /etc/passwd\nC /tmp\nA /tmp/x\nA /tmp/x/y\nC /var\nA /var/z\n"
	if got := engine(t, "diff", "differ"); got != want {
		t.Errorf("diff:\n%swant:\n%s", got, want)
	}
	engineFails(t, 125, "no such container", "diff", "nosuch")
}

// TestE2EExport exports a stopped container and a running one: the merged root, deleted files absent,
// no whiteouts, FIFOs and devices as headers of their type; the tarball imports back as an image that
// runs with the same files.
func TestE2EExport(t *testing.T) {
	t.Cleanup(func() {
		shared.run("", "rm", "-f", "-v", "exporter", "exportrun")
		shared.run("", "rmi", "flat")
	})
	id := strings.TrimSpace(engine(t, "create", "--name", "exporter", "--net", "none", "base", "sh", "-c",
		"echo data > /tmp/f; mkfifo /tmp/fifo; ln -s /etc/passwd /tmp/link; rm /etc/group"))
	engine(t, "start", "-a", "exporter")
	stream := engine(t, "export", "exporter")
	entries := map[string]*tar.Header{}
	tr := tar.NewReader(strings.NewReader(stream))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatalf("export: %v", err)
		}
		entries[hdr.Name] = hdr
		if strings.Contains(hdr.Name, ".wh.") {
			t.Errorf("a whiteout in the export: %s", hdr.Name)
		}
	}
	for name, typeflag := range map[string]byte{"tmp/f": tar.TypeReg, "tmp/fifo": tar.TypeFifo, "tmp/link": tar.TypeSymlink, "bin/busybox": tar.TypeReg, "etc/passwd": tar.TypeReg} {
		if hdr := entries[name]; hdr == nil || hdr.Typeflag != typeflag {
			t.Errorf("%s in the export: %+v, want type %c", name, hdr, typeflag)
		}
	}
	if entries["etc/group"] != nil {
		t.Error("the deleted /etc/group is in the export")
	}
	if left := mountsUnder(filepath.Join(shared.root, "containers", id)); len(left) > 0 {
		t.Errorf("export of a stopped container left %v mounted", left)
	}

	// -o: the client writes the file; the same container gives the same stream.
	file := filepath.Join(t.TempDir(), "fs.tar")
	engine(t, "export", "-o", file, "exporter")
	if written, _ := os.ReadFile(file); string(written) != stream {
		t.Errorf("export -o wrote %d bytes, export to stdout %d", len(written), len(stream))
	}
	engine(t, "import", file, "flat")
	if got := engine(t, "run", "--rm", "--net", "none", "flat", "sh", "-c", "cat /tmp/f; readlink /tmp/link; test -p /tmp/fifo && echo fifo; test -e /etc/group || echo no-group"); got != "data\n/etc/passwd\nfifo\nno-group\n" {
		t.Errorf("a container of the re-imported export: %q", got)
	}
	missing := filepath.Join(t.TempDir(), "missing.tar")
	if _, stderr, code := shared.run("", "export", "-o", missing, "nosuch"); code != 125 || !strings.Contains(stderr, "no such container") {
		t.Errorf("export of no container: %d %q", code, stderr)
	}
	if _, err := os.Stat(missing); err == nil {
		t.Error("a failed export -o left its file")
	}

	// A running container, exported while it runs, keeps running. Its device node comes out as a
	// header (import refuses devices, so this one does not go back).
	engine(t, "run", "-d", "--name", "exportrun", "--net", "none", "-v", "/vol", "base", "sh", "-c", "mknod /tmp/null c 1 3; echo secret > /vol/in-volume; echo live > /tmp/live; sleep 1000")
	waitFor(t, func() bool {
		out, _, _ := shared.run("", "exec", "exportrun", "cat", "/tmp/live")
		return out == "live\n"
	})
	tr = tar.NewReader(strings.NewReader(engine(t, "export", "exportrun")))
	entries = map[string]*tar.Header{}
	for hdr, err := tr.Next(); err == nil; hdr, err = tr.Next() {
		entries[hdr.Name] = hdr
		if strings.HasPrefix(hdr.Name, "proc/") && hdr.Name != "proc/" {
			t.Fatalf("the export of a running container holds %s: it is mounted only inside", hdr.Name)
		}
	}
	if entries["tmp/live"] == nil {
		t.Error("tmp/live is not in the export of the running container")
	}
	if entries["vol/in-volume"] != nil {
		t.Error("a volume's file is in the export: volumes are mounted only inside the container")
	}
	if hdr := entries["tmp/null"]; hdr == nil || hdr.Typeflag != tar.TypeChar || hdr.Devmajor != 1 || hdr.Devminor != 3 {
		t.Errorf("tmp/null in the export: %+v; want a char device 1:3", hdr)
	}
	if state := inspect(t, "exportrun")["State"].(map[string]any); state["Running"] != true {
		t.Errorf("the exported container stopped: %v", state)
	}
}

func TestE2EHistory(t *testing.T) {
	t.Cleanup(func() {
		shared.run("", "rm", "-f", "hist1", "hist2")
		shared.run("", "rmi", "hist:2", "hist:1")
	})
	engine(t, "run", "--name", "hist1", "--net", "none", "base", "sh", "-c", "echo 1 > /one")
	first := strings.TrimSpace(engine(t, "commit", "-m", "first step", "hist1", "hist:1"))
	engine(t, "run", "--name", "hist2", "--net", "none", "hist:1", "sh", "-c", "head -c 3000 /dev/zero > /two")
	second := strings.TrimSpace(engine(t, "commit", "-a", "me", "-m", "second step", "hist2", "hist:2"))
	base := inspect(t, "base")["Id"].(string)

	lines := strings.Split(strings.TrimSpace(engine(t, "history", "hist:2")), "\n")
	if len(lines) != 4 || !strings.HasPrefix(lines[0], "IMAGE ") || !strings.Contains(lines[0], "CREATED BY") || !strings.HasSuffix(lines[0], "COMMENT") {
		t.Fatalf("history:\n%s", strings.Join(lines, "\n"))
	}
	for i, want := range []struct{ id, text string }{{second, "second step"}, {first, "first step"}, {base, ""}} {
		line := lines[i+1]
		if !strings.HasPrefix(line, strings.TrimPrefix(want.id, "sha256:")[:12]+" ") || !strings.Contains(line, want.text) {
			t.Errorf("history line %d: %q, want %s … %q", i+1, line, want.id[:19], want.text)
		}
	}
	if !strings.Contains(lines[1], "3kB") || !strings.Contains(lines[1], "sh -c head -c 3000") {
		t.Errorf("history's newest line %q: want the command that made it and its 3kB", lines[1])
	}
	if got := engine(t, "history", "-q", "--no-trunc", "hist:2"); got != second+"\n"+first+"\n"+base+"\n" {
		t.Errorf("history -q --no-trunc:\n%s", got)
	}
	engineFails(t, 125, "no such image", "history", "nosuch")
}

// TestE2EPackSwapRace: a running container flips /tmp/sw0 ... sw7 between directories and symlinks to a host
// directory (testdata/swapper), trying to make export and commit --pause=false pack the host's files
// (CVE-2018-15664's race, here against Pack). They pack from a thread chrooted into the container's
// root (packInRoot), where the symlink leads nowhere: they may fail, as the tree changes under them,
// but no stream and no layer holds the host's secret.
func TestE2EPackSwapRace(t *testing.T) {
	image := programImage(t, "swapper")
	t.Cleanup(func() {
		shared.run("", "rm", "-f", "swapper")
		shared.run("", "rmi", "swapped")
	})
	host := t.TempDir()
	secret := fmt.Sprintf("HOST-SECRET-%d", time.Now().UnixNano())
	args := []string{"run", "-d", "--name", "swapper", "--net", "none", image, "/swapper", host}
	for i := range 100 {
		name := fmt.Sprintf("f%03d", i)
		if err := os.WriteFile(filepath.Join(host, name), []byte(secret+"\n"), 0644); err != nil {
			t.Fatal(err)
		}
		args = append(args, name)
	}
	engine(t, args...)
	waitFor(t, func() bool { out, _, _ := shared.run("", "logs", "swapper"); return out == "ready\n" })
	packed := 0
	for i := range 100 {
		out, _, code := shared.run("", "export", "swapper")
		if strings.Contains(out, secret) {
			t.Fatalf("export %d carried the host's secret", i)
		}
		if code == 0 {
			packed++
		}
	}
	for range 5 {
		out, _, code := shared.run("", "commit", "--pause=false", "swapper", "swapped")
		if code != 0 {
			continue
		}
		layer := filepath.Join(shared.root, "graph", strings.TrimPrefix(strings.TrimSpace(out), "sha256:"), "layer")
		filepath.WalkDir(layer, func(path string, entry os.DirEntry, err error) error {
			if err == nil && entry.Type().IsRegular() {
				if data, _ := os.ReadFile(path); bytes.Contains(data, []byte(secret)) {
					t.Fatalf("the committed layer holds the host's secret in %s", path)
				}
			}
			return nil
		})
		packed++
	}
	t.Logf("%d of 105 packings finished while the tree changed under them", packed)
}
