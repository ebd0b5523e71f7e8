// e2e_archive_test.go: engine save and engine load, through the real binary, against Debian's skopeo
// (the compatibility oracle: there is no docker daemon on these machines), and with hostile archives.
package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kr/pty"
)

// archiveMember is one file of a docker-archive a test makes; link makes it a symlink.
type archiveMember struct {
	name, link string
	data       []byte
}

func makeArchive(t *testing.T, members ...archiveMember) []byte {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, m := range members {
		hdr := &tar.Header{Name: m.name, Mode: 0644, Size: int64(len(m.data)), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if m.link != "" {
			hdr = &tar.Header{Name: m.name, Linkname: m.link, Mode: 0777, Typeflag: tar.TypeSymlink, ModTime: time.Unix(0, 0)}
		}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		tw.Write(m.data)
	}
	tw.Close()
	return buf.Bytes()
}

func digestOf(data []byte) string {
	sum := sha256.Sum256(data)
	return "sha256:" + hex.EncodeToString(sum[:])
}

// imageConfig is an OCI image config over these layers, with a Cmd, as docker and skopeo write one.
func imageConfig(t *testing.T, cmd []string, layers ...[]byte) []byte {
	t.Helper()
	config := OCIImage{Architecture: "amd64", OS: "linux", Config: &ImageConfig{Cmd: cmd, Env: []string{"PATH=/bin"}}}
	config.RootFS.Type = "layers"
	for _, layer := range layers {
		config.RootFS.DiffIDs = append(config.RootFS.DiffIDs, digestOf(layer))
	}
	data, err := json.Marshal(config)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

func manifestJSON(t *testing.T, entries ...archiveManifestEntry) []byte {
	data, err := json.Marshal(entries)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// readArchiveMembers returns the regular files of a tar by name.
func readArchiveMembers(t *testing.T, archive []byte) map[string][]byte {
	t.Helper()
	members := map[string][]byte{}
	tr := tar.NewReader(bytes.NewReader(archive))
	for {
		hdr, err := tr.Next()
		if err == io.EOF {
			return members
		}
		if err != nil {
			t.Fatal(err)
		}
		if _, dup := members[hdr.Name]; dup {
			t.Errorf("the archive has %s twice", hdr.Name)
		}
		data, _ := io.ReadAll(tr)
		members[hdr.Name] = data
	}
}

// baseLayer is the layer of the shared daemon's base image, as save writes it.
func baseLayer(t *testing.T) []byte {
	t.Helper()
	members := readArchiveMembers(t, []byte(engine(t, "save", "base")))
	var manifest []archiveManifestEntry
	if err := json.Unmarshal(members["manifest.json"], &manifest); err != nil || len(manifest) != 1 || len(manifest[0].Layers) != 1 {
		t.Fatalf("manifest.json of base: %s (%v)", members["manifest.json"], err)
	}
	return members[manifest[0].Layers[0]]
}

// loadTwoLayers loads an image of base's layer plus one that adds /hello (a docker-archive made by
// hand, manifest first) and returns its ID.
func loadTwoLayers(t *testing.T, tag, hello string) (id string, top []byte) {
	t.Helper()
	base := baseLayer(t)
	top = tarball(t, map[string]string{"hello": hello})
	config := imageConfig(t, []string{"cat", "/hello"}, base, top)
	archive := makeArchive(t,
		archiveMember{name: "manifest.json", data: manifestJSON(t, archiveManifestEntry{Config: "c.json", RepoTags: []string{tag}, Layers: []string{"base.tar", "top.tar"}})},
		archiveMember{name: "c.json", data: config},
		archiveMember{name: "base.tar", data: base},
		archiveMember{name: "top.tar", data: top})
	stdout, stderr, code := shared.run(string(archive), "load")
	if code != 0 || stdout != "Loaded image: "+tag+"\n" {
		t.Fatalf("load: exit %d, %q %q", code, stdout, stderr)
	}
	return strings.TrimPrefix(digestOf(config), "sha256:"), top
}

// A round trip keeps IDs and tags: an image of two layers, the lower one base's, is loaded (base's layer
// is not stored again), saved with base (the shared layer written once), removed, loaded again, and runs.
func TestE2ESaveLoadRoundTrip(t *testing.T) {
	before := graphEntries(t, shared.root)
	id, _ := loadTwoLayers(t, "roundtrip:1", "hello from the top layer\n")
	if added := len(graphEntries(t, shared.root)) - len(before); added != 1 {
		t.Errorf("loading one new layer on base's added %d graph entries, want 1", added)
	}
	if got := engine(t, "run", "--rm", "roundtrip:1"); got != "hello from the top layer\n" {
		t.Errorf("run roundtrip:1 = %q", got)
	}
	file := filepath.Join(t.TempDir(), "img.tar")
	engine(t, "save", "-o", file, "roundtrip:1", "base", "roundtrip:1") // an image named twice is saved once
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	members := readArchiveMembers(t, data)
	var manifest []archiveManifestEntry
	json.Unmarshal(members["manifest.json"], &manifest)
	if len(manifest) != 2 || manifest[0].Config != id+".json" || !slices.Equal(manifest[0].RepoTags, []string{"roundtrip:1"}) ||
		len(manifest[0].Layers) != 2 || manifest[1].Layers[0] != manifest[0].Layers[0] {
		t.Fatalf("manifest.json = %s", members["manifest.json"])
	}
	if digestOf(members[id+".json"]) != "sha256:"+id {
		t.Errorf("the config's digest is not the image ID")
	}
	layers := 0
	for name := range members {
		if strings.HasSuffix(name, "/layer.tar") {
			layers++
		}
	}
	if layers != 2 || !strings.Contains(string(members["repositories"]), `"roundtrip":{"1":`) {
		t.Errorf("%d layer files (want 2, base's once), repositories %s", layers, members["repositories"])
	}

	engine(t, "rmi", "roundtrip:1")
	if got := engine(t, "load", "-i", file); got != "Loaded image: roundtrip:1\nLoaded image: base:latest\n" {
		t.Errorf("load printed %q", got)
	}
	if got := inspect(t, "roundtrip:1")["Id"]; got != "sha256:"+id {
		t.Errorf("after the round trip the ID is %v, want sha256:%s", got, id)
	}
	if got := engine(t, "run", "--rm", "roundtrip:1"); got != "hello from the top layer\n" {
		t.Errorf("run after the round trip = %q", got)
	}
	engine(t, "rmi", "roundtrip:1")
}

// skopeo reads what save writes: its layers and config come out the same through an OCI layout; and
// engine loads what skopeo writes back from that layout (uncompressed layers named <diffid>.tar, the
// manifest last, symlinked <v1id>/layer.tar, docker.io/library/ names), from an OCI layout and from
// its dir: transport, and the image runs.
func TestE2ESkopeoBothWays(t *testing.T) {
	id, top := loadTwoLayers(t, "toskopeo:1", "through skopeo\n")
	defer engine(t, "rmi", "toskopeo:1")
	dir := t.TempDir()
	ours, layout, theirs := filepath.Join(dir, "ours.tar"), filepath.Join(dir, "layout"), filepath.Join(dir, "theirs.tar")
	engine(t, "save", "-o", ours, "toskopeo:1")
	skopeo(t, "copy", "docker-archive:"+ours, "oci:"+layout+":t")
	var config OCIImage
	if err := json.Unmarshal([]byte(skopeo(t, "inspect", "--config", "oci:"+layout+":t")), &config); err != nil {
		t.Fatal(err)
	}
	diffIDs := config.RootFS.DiffIDs
	if len(diffIDs) != 2 || diffIDs[1] != digestOf(top) || config.Config == nil || !slices.Equal(config.Config.Cmd, []string{"cat", "/hello"}) {
		t.Fatalf("skopeo sees the config %+v", config)
	}
	var inspected struct{ Layers []string }
	json.Unmarshal([]byte(skopeo(t, "inspect", "oci:"+layout+":t")), &inspected)
	if len(inspected.Layers) != 2 {
		t.Errorf("skopeo sees layers %v", inspected.Layers)
	}

	skopeo(t, "copy", "oci:"+layout+":t", "docker-archive:"+theirs+":docker.io/library/fromskopeo:2")
	before := graphEntries(t, shared.root)
	stdout, stderr, code := shared.run("", "load", "-i", theirs)
	if code != 0 || stdout != "Loaded image: fromskopeo:2\n" {
		t.Fatalf("load of skopeo's archive: exit %d, %q %q", code, stdout, stderr)
	}
	defer engine(t, "rmi", "fromskopeo:2")
	if got := engine(t, "run", "--rm", "fromskopeo:2"); got != "through skopeo\n" {
		t.Errorf("run fromskopeo:2 = %q", got)
	}
	// The layers are ours and are not stored again: skopeo kept our config (the same image), or
	// rewrote it on its way through the OCI layout (a new ID: a config on toskopeo:1).
	view := inspect(t, "fromskopeo:2")
	if (view["Id"] != "sha256:"+id && view["Parent"] != "sha256:"+id) || fmt.Sprint(view["RootFS"]) != fmt.Sprint(inspect(t, "toskopeo:1")["RootFS"]) {
		t.Errorf("fromskopeo:2 is %v on %v with %v", view["Id"], view["Parent"], view["RootFS"])
	}
	if added := len(graphEntries(t, shared.root)) - len(before); added > 1 || added == 1 && view["Id"] == "sha256:"+id {
		t.Errorf("loading skopeo's archive of stored layers added %d graph entries", added)
	}

	// The same through skopeo's dir: transport, which keeps the layers as they came.
	plain, viaDir := filepath.Join(dir, "plain"), filepath.Join(dir, "via-dir.tar")
	skopeo(t, "copy", "docker-archive:"+ours, "dir:"+plain)
	skopeo(t, "copy", "dir:"+plain, "docker-archive:"+viaDir+":viadir:3")
	if stdout, stderr, code := shared.run("", "load", "-i", viaDir); code != 0 || stdout != "Loaded image: viadir:3\n" {
		t.Fatalf("load of skopeo's archive from dir: exit %d, %q %q", code, stdout, stderr)
	}
	defer engine(t, "rmi", "viadir:3")
	if got := engine(t, "run", "--rm", "viadir:3"); got != "through skopeo\n" {
		t.Errorf("run viadir:3 = %q", got)
	}
}

func skopeo(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("skopeo", append([]string{"--insecure-policy"}, args...)...).Output()
	if err != nil {
		stderr := ""
		if exit, ok := err.(*exec.ExitError); ok {
			stderr = string(exit.Stderr)
		}
		t.Fatalf("skopeo %s: %v: %s", strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

// What go-containerregistry's tarball.Write gives (skopeo writes no compressed docker-archive): gzipped
// layers named <digest>.tar.gz, the config named sha256:<hex>, no repositories; and the whole archive
// gzipped too, as docker load takes one.
func TestE2ELoadGzipped(t *testing.T) {
	top := tarball(t, map[string]string{"hello": "gzipped\n"})
	var layer bytes.Buffer
	zw := gzip.NewWriter(&layer)
	zw.Write(top)
	zw.Close()
	base := baseLayer(t)
	config := imageConfig(t, []string{"cat", "/hello"}, base, top)
	archive := makeArchive(t,
		archiveMember{name: digestOf(config), data: config},
		archiveMember{name: "base.tar", data: base},
		archiveMember{name: "top.tar.gz", data: layer.Bytes()},
		archiveMember{name: "manifest.json", data: manifestJSON(t, archiveManifestEntry{Config: digestOf(config), RepoTags: []string{"index.docker.io/library/gz:1", "gz:2"}, Layers: []string{"base.tar", "top.tar.gz"}})})
	var whole bytes.Buffer
	zw = gzip.NewWriter(&whole)
	zw.Write(archive)
	zw.Close()
	stdout, stderr, code := shared.run(whole.String(), "load", "-q")
	if code != 0 || !strings.Contains(stdout, "Loaded image: gz:2\n") {
		t.Fatalf("load: exit %d, %q %q", code, stdout, stderr)
	}
	defer engine(t, "rmi", "-f", "gz:2")
	if got := engine(t, "run", "--rm", "gz:2"); got != "gzipped\n" {
		t.Errorf("run gz:2 = %q", got)
	}
}

// A layer one archive needs in two places: image b has a's top layer at its bottom, and twice (docker's
// empty layer can be). The store takes the unpacked layer once; the second time it is put back together
// from the store, with the same DiffID.
func TestE2ELoadSharedLayers(t *testing.T) {
	one, two := tarball(t, map[string]string{"one": "1"}), tarball(t, map[string]string{"two": "2"})
	configA, configB := imageConfig(t, []string{"a"}, one, two), imageConfig(t, []string{"b"}, two, two)
	archive := makeArchive(t,
		archiveMember{name: "one.tar", data: one}, archiveMember{name: "two.tar", data: two},
		archiveMember{name: "a.json", data: configA}, archiveMember{name: "b.json", data: configB},
		archiveMember{name: "manifest.json", data: manifestJSON(t,
			archiveManifestEntry{Config: "a.json", RepoTags: []string{"shared:a"}, Layers: []string{"one.tar", "two.tar"}},
			archiveManifestEntry{Config: "b.json", RepoTags: []string{"shared:b"}, Layers: []string{"two.tar", "two.tar"}})})
	stdout, stderr, code := shared.run(string(archive), "load")
	if code != 0 || stdout != "Loaded image: shared:a\nLoaded image: shared:b\n" {
		t.Fatalf("load: exit %d, %q %q", code, stdout, stderr)
	}
	defer engine(t, "rmi", "shared:a", "shared:b")
	for tag, config := range map[string][]byte{"shared:a": configA, "shared:b": configB} {
		if view := inspect(t, tag); view["Id"] != digestOf(config) {
			t.Errorf("%s is %v, want %s", tag, view["Id"], digestOf(config))
		}
	}
	// Saved again, both come out with the layers they came in with.
	members := readArchiveMembers(t, []byte(engine(t, "save", "shared:a", "shared:b")))
	if !bytes.Equal(members[layerMemberName(digestOf(two))], two) || !bytes.Equal(members[layerMemberName(digestOf(one))], one) {
		t.Errorf("save wrote other layers: %v", slices.Sorted(maps.Keys(members)))
	}
}

// Hostile archives: each is refused with one clear line and exit 125, leaves no image, tag or temp
// directory, and the daemon keeps serving.
func TestE2EHostileArchives(t *testing.T) {
	layer := tarball(t, map[string]string{"x": "x"})
	config := imageConfig(t, nil, layer)
	manifest := func(layers ...string) archiveMember {
		return archiveMember{name: "manifest.json", data: manifestJSON(t, archiveManifestEntry{Config: "c.json", RepoTags: []string{"hostile:1"}, Layers: layers})}
	}
	good := makeArchive(t, manifest("l.tar"), archiveMember{name: "c.json", data: config}, archiveMember{name: "l.tar", data: layer})
	bigLayer := tarball(t, map[string]string{"big": strings.Repeat("x", 1<<20)})
	tests := []struct {
		name, want string
		archive    []byte
	}{
		{"dotdot member", `"../l.tar": path contains ".."`, makeArchive(t, manifest("l.tar"), archiveMember{name: "c.json", data: config}, archiveMember{name: "../l.tar", data: layer})},
		{"absolute member", "no manifest.json", makeArchive(t, archiveMember{name: "/etc/c.json", data: config})}, // the archive's etc/c.json, never the host's
		{"manifest outside", `manifest.json names "../../etc/passwd": path contains ".."`, makeArchive(t, manifest("../../etc/passwd"), archiveMember{name: "c.json", data: config})},
		{"manifest names a missing layer", `"nowhere.tar", which is not in the archive`, makeArchive(t, manifest("nowhere.tar"), archiveMember{name: "c.json", data: config})},
		{"symlink outside", "outside the archive", makeArchive(t, archiveMember{name: "l.tar", link: "../../../etc/shadow"})},
		{"diff_ids do not match", "but the config's rootfs.diff_ids[0] is", makeArchive(t, manifest("l.tar"), archiveMember{name: "c.json", data: config}, archiveMember{name: "l.tar", data: tarball(t, map[string]string{"x": "y"})})},
		{"truncated in a member", "reading the archive: unexpected EOF", good[:len(good)-2048]},
		{"cut between members", "truncated (no end-of-archive marker)", good[:len(good)-1024]},
		{"oversized manifest", "manifest.json\": not a JSON file of at most 1048576 bytes", makeArchive(t, archiveMember{name: "manifest.json", data: append([]byte("["), bytes.Repeat([]byte(" "), 1<<20)...)})},
		{"oversized config", `config "c.json": not a JSON file of at most`, makeArchive(t, manifest("l.tar"), archiveMember{name: "c.json", data: append(config, bytes.Repeat([]byte(" "), 1<<20)...)}, archiveMember{name: "l.tar", data: layer})},
		{"empty", "no archive: the input is empty", nil},
		{"one layer named 8 times", "names its layers again for", makeArchive(t,
			archiveMember{name: "manifest.json", data: manifestJSON(t, archiveManifestEntry{Config: "c.json", Layers: slices.Repeat([]string{"big.tar"}, 8)})},
			archiveMember{name: "c.json", data: imageConfig(t, nil, slices.Repeat([][]byte{bigLayer}, 8)...)},
			archiveMember{name: "big.tar", data: bigLayer})},
		{"no manifest", "no manifest.json", makeArchive(t, archiveMember{name: "c.json", data: config})},
		{"bad tag", "invalid reference format", makeArchive(t, archiveMember{name: "manifest.json", data: manifestJSON(t, archiveManifestEntry{Config: "c.json", RepoTags: []string{"Bad:Tag"}, Layers: []string{"l.tar"}})}, archiveMember{name: "c.json", data: config}, archiveMember{name: "l.tar", data: layer})},
		{"not a tar", "not a tar or gzip stream", []byte("hello, this is not an archive at all, but it is long enough to read a header from it and then some more text to fill it up\n")},
	}
	before := graphEntries(t, shared.root)
	for _, tt := range tests {
		stdout, stderr, code := shared.run(string(tt.archive), "load")
		if code != 125 || !strings.Contains(stderr, tt.want) || strings.Count(stderr, "\n") != 1 || stdout != "" {
			t.Errorf("%s: exit %d, stdout %q, stderr %q; want 125 and one line with %q", tt.name, code, stdout, stderr, tt.want)
		}
		if after := graphEntries(t, shared.root); !slices.Equal(after, before) {
			t.Fatalf("%s: the graph went from %v to %v", tt.name, before, after)
		}
	}
	engineFails(t, 125, "no such object", "inspect", "hostile:1")
	// The good archive, for contrast, loads.
	if stdout, stderr, code := shared.run(string(good), "load"); code != 0 || stdout != "Loaded image: hostile:1\n" {
		t.Fatalf("the good archive: exit %d, %q %q", code, stdout, stderr)
	}
	engine(t, "rmi", "hostile:1")
}

// A client killed while it sends an archive cancels the load: nothing is listed, and the temp
// directory goes.
func TestE2ELoadClientKilled(t *testing.T) {
	before := graphEntries(t, shared.root)
	cmd := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "load")
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	big := tarball(t, map[string]string{"big": strings.Repeat("x", 4<<20)})
	stdin.Write(makeArchive(t, archiveMember{name: "l.tar", data: big})[:3<<20]) // the middle of a layer
	waitFor(t, func() bool {
		return slices.ContainsFunc(graphEntries(t, shared.root), func(name string) bool { return strings.HasPrefix(name, ".load-") })
	})
	cmd.Process.Kill()
	cmd.Wait()
	waitFor(t, func() bool { return slices.Equal(graphEntries(t, shared.root), before) })
	engine(t, "version")
}

// save refuses to write a tar to a terminal, as docker does; with -o the client writes the file, and a
// failed save leaves no file behind.
func TestE2ESaveOutput(t *testing.T) {
	master, slave, err := pty.Open()
	if err != nil {
		t.Fatal(err)
	}
	defer master.Close()
	cmd := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "save", "base")
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = slave, &stderr
	err = cmd.Run()
	slave.Close()
	if exit, ok := err.(*exec.ExitError); !ok || exit.ExitCode() != 125 || !strings.Contains(stderr.String(), "cowardly refusing to save to a terminal") {
		t.Errorf("save to a terminal: %v, %q", err, stderr.String())
	}

	dir := t.TempDir()
	engineFails(t, 125, "no such image", "save", "-o", filepath.Join(dir, "x.tar"), "base", "nosuchimage")
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed save left %v", entries)
	}
	engineFails(t, 125, "engine: load: open "+filepath.Join(dir, "none.tar")+": no such file", "load", "-i", filepath.Join(dir, "none.tar"))
	engine(t, "save", "--output="+filepath.Join(dir, "x.tar"), "base")
	if info, err := os.Stat(filepath.Join(dir, "x.tar")); err != nil || info.Size() < 1<<20 {
		t.Errorf("save --output=FILE: %v", err)
	}
	// A hand-made client that asks the daemon to write a file is told the daemon does not.
	reply := rawExchange(t, shared.addr, shared.requestFrames(t, "save", "-o", "/etc/x.tar", "base"))
	if !bytes.Contains(reply, []byte("the client writes the file")) {
		t.Errorf("the daemon answered save -o with %q", reply)
	}
	if _, err := os.Stat("/etc/x.tar"); err == nil {
		t.Errorf("the daemon wrote /etc/x.tar")
	}
}

// A daemon killed with -9 in the middle of a load leaves its temp directory, which the next start
// clears: no half-loaded layer stays on disk, and nothing is listed.
func TestE2ELoadDaemonKilled(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	before := graphEntries(t, root)
	client := exec.Command(engineBin, "-r", root, "-H", d.addr, "load")
	stdin, err := client.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := client.Start(); err != nil {
		t.Fatal(err)
	}
	big := tarball(t, map[string]string{"big": strings.Repeat("x", 4<<20)})
	stdin.Write(makeArchive(t, archiveMember{name: "l.tar", data: big})[:3<<20])
	waitFor(t, func() bool {
		return slices.ContainsFunc(graphEntries(t, root), func(name string) bool { return strings.HasPrefix(name, ".load-") })
	})
	d.cmd.Process.Kill()
	d.cmd.Wait()
	client.Process.Kill()
	client.Wait()

	d, err = startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	if after := graphEntries(t, root); !slices.Equal(after, before) {
		t.Errorf("after a daemon killed mid-load and restarted, the graph holds %v, not %v", after, before)
	}
}

// A committed image (its layer packed from a container's rw dir, whiteouts and all) saves with its
// layer's very tar, and comes back with its ID.
func TestE2ESaveCommitted(t *testing.T) {
	engine(t, "run", "--name", "tosave", "base", "sh", "-c", "echo kept > /kept; rm /etc/group")
	defer engine(t, "rm", "tosave")
	id := strings.TrimSpace(engine(t, "commit", "-c", `CMD ["cat", "/kept"]`, "tosave", "committed:1"))
	archive := engine(t, "save", "committed:1")
	engine(t, "rmi", "committed:1")
	if stdout, stderr, code := shared.run(archive, "load"); code != 0 || stdout != "Loaded image: committed:1\n" {
		t.Fatalf("load: exit %d, %q %q", code, stdout, stderr)
	}
	defer engine(t, "rmi", "committed:1")
	if got := inspect(t, "committed:1")["Id"]; got != id {
		t.Errorf("committed:1 came back as %v, was %s", got, id)
	}
	if got := engine(t, "run", "--rm", "committed:1"); got != "kept\n" {
		t.Errorf("run = %q", got)
	}
	if _, _, code := shared.run("", "run", "--rm", "committed:1", "test", "-e", "/etc/group"); code != 1 {
		t.Errorf("the whiteout of /etc/group was lost: test -e exits %d", code)
	}
}
