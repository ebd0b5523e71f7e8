package main

// End-to-end tests of volumes (volumes.go, runtime_volumes.go, commands_volume.go): -v binds, read-only
// and recursively so, named and anonymous volumes seeded from the image, `engine volume`, the refusal
// to remove a volume in use, `rm -v`, an image whose symlinks try to lead a mount or a seed out of its
// root, and bad input.

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// volumeNames lists the shared daemon's volumes.
func volumeNames(t *testing.T) []string {
	t.Helper()
	return strings.Fields(engine(t, "volume", "ls", "-q"))
}

// removeVolumesAfter removes, when the test ends, every volume it left on the shared daemon.
func removeVolumesAfter(t *testing.T) {
	before := volumeNames(t)
	t.Cleanup(func() {
		for _, name := range volumeNames(t) {
			if !slices.Contains(before, name) {
				shared.run("", "volume", "rm", name)
			}
		}
	})
}

func containerMounts(t *testing.T, name string) []MountPoint {
	t.Helper()
	var c struct {
		Mounts     []MountPoint
		HostConfig HostConfig
	}
	if err := json.Unmarshal([]byte(engine(t, "inspect", name)), &c); err != nil {
		t.Fatal(err)
	}
	return c.Mounts
}

func volumeRecord(t *testing.T, name string) Volume {
	t.Helper()
	var v Volume
	if err := json.Unmarshal([]byte(engine(t, "volume", "inspect", name)), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func TestE2EVolumeBind(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "from-host"), []byte("hello\n"), 0644)
	if out := engine(t, "run", "--rm", "-v", dir+":/data", "base", "sh", "-c", "cat /data/from-host; echo x > /data/from-container"); out != "hello\n" {
		t.Errorf("bind: %q", out)
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "from-container")); string(data) != "x\n" {
		t.Errorf("the container's write did not reach the host: %q", data)
	}
	// A file can be bound too, and read-only.
	file := filepath.Join(dir, "from-host")
	if out := engine(t, "run", "--rm", "-v", file+":/etc/greeting:ro", "base", "cat", "/etc/greeting"); out != "hello\n" {
		t.Errorf("bind of a file: %q", out)
	}
	engineFails(t, 1, "Read-only file system", "run", "--rm", "-v", file+":/etc/greeting:ro", "base", "sh", "-c", "echo no >/etc/greeting")
	if data, _ := os.ReadFile(file); string(data) != "hello\n" {
		t.Errorf("a :ro bind was written: %q", data)
	}
	// A bind over one of the /etc files the engine writes replaces it, as with docker.
	if out := engine(t, "run", "--rm", "-v", file+":/etc/hosts", "base", "cat", "/etc/hosts"); out != "hello\n" {
		t.Errorf("a bind over /etc/hosts: %q", out)
	}

	// inspect shows the mount as docker does, and HostConfig.Binds the string; the host's mount
	// table never shows it: it lives in the container's mount namespace.
	id := strings.TrimSpace(engine(t, "run", "-d", "--name", "bound", "-v", dir+":/data:ro", "base", "sleep", "1000"))
	defer engine(t, "rm", "-f", "bound")
	want := MountPoint{Type: "bind", Source: dir, Destination: "/data", Mode: "ro", RW: false, Propagation: "rprivate"}
	if mounts := containerMounts(t, "bound"); len(mounts) != 1 || mounts[0] != want {
		t.Errorf("inspect Mounts: %+v, want %+v", mounts, want)
	}
	if binds := inspect(t, "bound")["HostConfig"].(map[string]any)["Binds"]; len(binds.([]any)) != 1 || binds.([]any)[0] != dir+":/data:ro" {
		t.Errorf("HostConfig.Binds: %v", binds)
	}
	rootfs := filepath.Join(shared.root, "containers", id, "bundle", "rootfs")
	if mounts := mountsUnder(rootfs); !slices.Equal(mounts, []string{rootfs}) {
		t.Errorf("the host's mount table shows %v, want only the root filesystem", mounts)
	}
	if _, stderr, code := shared.run("", "exec", "bound", "touch", "/data/nope"); code == 0 || !strings.Contains(stderr, "Read-only file system") {
		t.Errorf("touch in a :ro bind: exit %d, %q", code, stderr)
	}
}

// :ro is read-only all the way down: a tmpfs mounted inside the host directory comes along with the
// bind (rbind) and is read-only too. A remount with MS_RDONLY alone leaves it writable.
func TestE2EVolumeReadonlyRecursive(t *testing.T) {
	dir := t.TempDir()
	sub := filepath.Join(dir, "sub")
	os.Mkdir(sub, 0755)
	if err := unix.Mount("tmpfs", sub, "tmpfs", 0, "size=1m"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(sub, unix.MNT_DETACH)
	os.WriteFile(filepath.Join(sub, "inside-tmpfs"), []byte("t\n"), 0644)
	script := "cat /data/sub/inside-tmpfs; touch /data/sub/new 2>&1; touch /data/top 2>&1; true"
	out := engine(t, "run", "--rm", "-v", dir+":/data:ro", "base", "sh", "-c", script)
	if !strings.HasPrefix(out, "t\n") || strings.Count(out, "Read-only file system") != 2 {
		t.Errorf(":ro with a tmpfs inside: %q, want the file and two refusals", out)
	}
	if _, err := os.Stat(filepath.Join(sub, "new")); err == nil {
		t.Errorf("a :ro bind wrote into the tmpfs mounted inside it")
	}
	engine(t, "run", "--rm", "-v", dir+":/data", "base", "touch", "/data/sub/new")
	if _, err := os.Stat(filepath.Join(sub, "new")); err != nil {
		t.Errorf("without :ro, the tmpfs inside is not writable through the bind: %v", err)
	}
}

func TestE2EVolumeNamed(t *testing.T) {
	removeVolumesAfter(t)
	engine(t, "run", "--name", "writer", "-v", "e2e-cache:/c", "base", "sh", "-c", "echo kept > /c/f")
	defer shared.run("", "rm", "-f", "writer")
	if out := engine(t, "run", "--rm", "-v", "e2e-cache:/other:ro", "base", "cat", "/other/f"); out != "kept\n" {
		t.Errorf("a second container reads %q", out)
	}
	if !slices.Contains(volumeNames(t), "e2e-cache") || !strings.Contains(engine(t, "volume", "ls"), "local     e2e-cache") {
		t.Errorf("volume ls: %s", engine(t, "volume", "ls"))
	}
	v := volumeRecord(t, "e2e-cache")
	if v.Name != "e2e-cache" || v.Driver != "local" || v.Scope != "local" || v.Mountpoint != filepath.Join(shared.root, "volumes", "e2e-cache", "_data") || v.CreatedAt == "" {
		t.Errorf("volume inspect: %+v", v)
	}
	if mounts := containerMounts(t, "writer"); len(mounts) != 1 || mounts[0].Type != "volume" || mounts[0].Name != "e2e-cache" || mounts[0].Source != v.Mountpoint || !mounts[0].RW || mounts[0].Driver != "local" {
		t.Errorf("inspect Mounts: %+v", mounts)
	}
	// In use by a stopped container, then by a running one: refused, as docker does.
	engineFails(t, 125, "volume e2e-cache is in use by container", "volume", "rm", "e2e-cache")
	engine(t, "rm", "writer")
	engine(t, "run", "-d", "--name", "holder", "-v", "e2e-cache:/c", "base", "sleep", "1000")
	engineFails(t, 125, "in use", "volume", "rm", "e2e-cache")
	if out := engine(t, "volume", "ls", "-q", "-f", "dangling=true"); strings.Contains(out, "e2e-cache") {
		t.Errorf("a volume in use is listed as dangling")
	}
	engine(t, "rm", "-f", "-v", "holder") // -v takes anonymous volumes only
	if !slices.Contains(volumeNames(t), "e2e-cache") {
		t.Fatalf("rm -v removed a named volume")
	}
	if out := engine(t, "volume", "ls", "-q", "-f", "dangling=true", "-f", "name=e2e-ca"); out != "e2e-cache\n" {
		t.Errorf("ls -f dangling=true -f name=e2e-ca: %q", out)
	}
	if out := engine(t, "volume", "rm", "e2e-cache"); out != "e2e-cache\n" {
		t.Errorf("volume rm printed %q", out)
	}
	if slices.Contains(volumeNames(t), "e2e-cache") {
		t.Errorf("still listed after rm")
	}
	// volume create: idempotent, with labels; without a name, a random one.
	if out := engine(t, "volume", "create", "--label", "tier=db", "e2e-made"); out != "e2e-made\n" {
		t.Errorf("volume create printed %q", out)
	}
	engine(t, "volume", "create", "e2e-made")
	if v := volumeRecord(t, "e2e-made"); v.Labels["tier"] != "db" {
		t.Errorf("labels: %v", v.Labels)
	}
	if name := strings.TrimSpace(engine(t, "volume", "create")); !regexp.MustCompile("^[0-9a-f]{64}$").MatchString(name) {
		t.Errorf("volume create without a name printed %q", name)
	}
}

func TestE2EVolumeAnonymous(t *testing.T) {
	removeVolumesAfter(t)
	before := volumeNames(t)
	engine(t, "run", "--name", "anon", "-v", "/data", "-v", "e2e-keep:/keep", "base", "sh", "-c", "echo a > /data/f")
	defer shared.run("", "rm", "-f", "anon")
	mounts := containerMounts(t, "anon")
	if len(mounts) != 2 || mounts[1].Type != "volume" || !regexp.MustCompile("^[0-9a-f]{64}$").MatchString(mounts[1].Name) || mounts[1].Destination != "/data" {
		t.Fatalf("inspect Mounts: %+v", mounts)
	}
	anonymous := mounts[1].Name
	if data, _ := os.ReadFile(filepath.Join(mounts[1].Source, "f")); string(data) != "a\n" {
		t.Errorf("the anonymous volume holds %q", data)
	}
	if _, ok := volumeRecord(t, anonymous).Labels[anonymousLabel]; !ok {
		t.Errorf("the anonymous volume has no %s label", anonymousLabel)
	}
	if config := inspect(t, "anon")["Config"].(map[string]any); config["Volumes"] == nil {
		t.Errorf("Config.Volumes is empty: %v", config)
	}
	// It can be named like any volume by another container; its own removal then keeps it.
	engine(t, "create", "--name", "borrower", "-v", anonymous+":/x", "base", "true")
	engine(t, "rm", "-v", "anon")
	if !slices.Contains(volumeNames(t), anonymous) {
		t.Errorf("rm -v removed a volume another container uses")
	}
	engine(t, "rm", "borrower")
	engine(t, "volume", "rm", anonymous)
	engine(t, "create", "--name", "anon", "-v", "/data", "base", "true")
	anonymous = containerMounts(t, "anon")[0].Name
	engine(t, "rm", "-v", "anon")
	names := volumeNames(t)
	if slices.Contains(names, anonymous) || !slices.Contains(names, "e2e-keep") {
		t.Errorf("after rm -v: %v", names)
	}
	// --rm takes its anonymous volumes with it (once the monitor has removed the container, which may
	// be just after the client has its exit status).
	engine(t, "run", "--rm", "-v", "/data", "base", "true")
	waitFor(t, func() bool {
		return slices.Equal(slices.DeleteFunc(volumeNames(t), func(name string) bool { return name == "e2e-keep" }), before)
	})
}

// A new volume is seeded with what the image has at its path (files, owners, modes, symlinks), once:
// a volume that holds something is never filled again.
func TestE2EVolumeSeeding(t *testing.T) {
	removeVolumesAfter(t)
	image := buildImage(t, "seedimage", []tarEntry{
		{header: tar.Header{Name: "srv/", Typeflag: tar.TypeDir, Mode: 0750, Uid: 1000, Gid: 1001}},
		{header: tar.Header{Name: "srv/conf", Typeflag: tar.TypeReg, Mode: 0640, Uid: 1000, Gid: 1001}, data: "from the image\n"},
		{header: tar.Header{Name: "srv/link", Typeflag: tar.TypeSymlink, Linkname: "/etc/passwd"}},
		{header: tar.Header{Name: "srv/sub/", Typeflag: tar.TypeDir, Mode: 0700}},
	})
	script := "cd /srv && ls -ln . | tail -n +2 | while read mode links uid gid rest; do echo $mode $uid $gid; done; stat -c '%a %u %g' .; readlink link; cat conf"
	want := "-rw-r----- 1000 1001\nlrwxrwxrwx 0 0\ndrwx------ 0 0\n750 1000 1001\n/etc/passwd\nfrom the image\n"
	if out := engine(t, "run", "--rm", "-v", "e2e-seeded:/srv", image, "/bin/busybox", "sh", "-c", script); out != want {
		t.Errorf("seeded named volume:\n%s\nwant\n%s", out, want)
	}
	if out := engine(t, "run", "--rm", "-v", "/srv", image, "/bin/busybox", "sh", "-c", script); out != want {
		t.Errorf("seeded anonymous volume:\n%s\nwant\n%s", out, want)
	}
	// Once: emptied of conf (but not empty), the volume is not filled again; base's /tmp is 1777.
	engine(t, "run", "--rm", "-v", "e2e-seeded:/srv", image, "/bin/busybox", "rm", "/srv/conf")
	if out := engine(t, "run", "--rm", "-v", "e2e-seeded:/srv", image, "/bin/busybox", "ls", "/srv"); out != "link\nsub\n" {
		t.Errorf("the volume was seeded again: %q", out)
	}
	if out := engine(t, "run", "--rm", "-v", "e2e-tmp:/tmp", "base", "stat", "-c", "%a", "/tmp"); out != "1777\n" {
		t.Errorf("a volume at base's /tmp has mode %q", out)
	}
	// A volume made empty by `volume create` is seeded at its first use; one at a path the image
	// lacks stays empty.
	engine(t, "volume", "create", "e2e-precreated")
	if out := engine(t, "run", "--rm", "-v", "e2e-precreated:/etc", "base", "cat", "/etc/group"); !strings.HasPrefix(out, "root:x:0:") {
		t.Errorf("a pre-created volume at /etc: %q", out)
	}
	if out := engine(t, "run", "--rm", "-v", "e2e-nothing:/nosuch", "base", "ls", "-A", "/nosuch"); out != "" {
		t.Errorf("a volume at a path the image lacks: %q", out)
	}
}

type tarEntry struct {
	header tar.Header
	data   string
}

// buildImage imports an image of a static busybox (at /bin/busybox, with /etc/passwd) and the entries.
func buildImage(t *testing.T, name string, entries []tarEntry) string {
	t.Helper()
	busybox, err := os.ReadFile("/bin/busybox")
	if err != nil {
		t.Fatal(err)
	}
	passwd := "root:x:0:0:root:/root:/bin/sh\n"
	base := []tarEntry{
		{header: tar.Header{Name: "bin/", Typeflag: tar.TypeDir, Mode: 0755}},
		{header: tar.Header{Name: "bin/busybox", Typeflag: tar.TypeReg, Mode: 0755}, data: string(busybox)},
		{header: tar.Header{Name: "etc/", Typeflag: tar.TypeDir, Mode: 0755}},
		{header: tar.Header{Name: "etc/passwd", Typeflag: tar.TypeReg, Mode: 0644}, data: passwd},
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	for _, entry := range append(base, entries...) {
		entry.header.Size = int64(len(entry.data))
		if entry.header.Typeflag != tar.TypeReg {
			entry.header.Size = 0
		}
		if err := tw.WriteHeader(&entry.header); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(entry.data))
	}
	tw.Close()
	if _, stderr, code := shared.run(layer.String(), "import", "-", name); code != 0 {
		t.Fatalf("import %s: %s", name, stderr)
	}
	t.Cleanup(func() { shared.run("", "rmi", name) })
	return name
}

// An image's symlinks try to lead a volume's mount point, or its seed, out of the container's root:
// /data is an absolute link to a host directory, /up a relative one with enough ".." to reach the
// host's "/" from the container's directory. Resolved inside the root (securePath), each leads to the
// container's own files: the host's directories are neither written nor copied into a volume, and a
// target that resolves to the root itself is refused.
func TestE2EVolumeSymlinkAttack(t *testing.T) {
	removeVolumesAfter(t)
	secret := t.TempDir() // the host's, what the image must not reach
	os.Mkdir(filepath.Join(secret, "inner"), 0755)
	os.WriteFile(filepath.Join(secret, "inner", "host-secret"), []byte("s3cret\n"), 0600)
	hostFile := filepath.Join(t.TempDir(), "bound")
	os.WriteFile(hostFile, []byte("bound file\n"), 0644)
	probe := "engine-volume-probe-" + newID()[:12]
	for _, dir := range []string{"/etc", "/tmp"} {
		defer os.RemoveAll(filepath.Join(dir, probe))
	}
	inImage := strings.TrimPrefix(secret, "/")
	image := buildImage(t, "symlinkimage", []tarEntry{
		{header: tar.Header{Name: "data", Typeflag: tar.TypeSymlink, Linkname: secret}},
		{header: tar.Header{Name: "etcdir", Typeflag: tar.TypeSymlink, Linkname: "/etc"}},
		{header: tar.Header{Name: "up", Typeflag: tar.TypeSymlink, Linkname: strings.Repeat("../", 40)}},
		{header: tar.Header{Name: "tmp/", Typeflag: tar.TypeDir, Mode: 01777}},
		{header: tar.Header{Name: inImage + "/inner/", Typeflag: tar.TypeDir, Mode: 0755}},
		{header: tar.Header{Name: inImage + "/inner/decoy", Typeflag: tar.TypeReg, Mode: 0644}, data: "the image's\n"},
	})
	bb := func(script string) []string { return []string{"/bin/busybox", "sh", "-c", script} }

	// Mount points: a file bound at /etcdir/PROBE, a volume at /up/tmp/PROBE. Outside the root, they
	// would be made in the host's /etc and /tmp.
	out, stderr, _ := shared.run("", append([]string{"run", "--rm", "-v", hostFile + ":/etcdir/" + probe, "-v", "e2e-attack-mount:/up/tmp/" + probe, image},
		bb("/bin/busybox cat /etc/"+probe+" && echo in > /tmp/"+probe+"/f && /bin/busybox ls /tmp/"+probe)...)...)
	if out != "bound file\nf\n" {
		t.Errorf("inside, the mounts are not where the links lead in the container: %q %s", out, stderr)
	}
	for _, dir := range []string{"/etc", "/tmp"} {
		if _, err := os.Lstat(filepath.Join(dir, probe)); err == nil {
			t.Errorf("the host's %s/%s was made through the image's symlink", dir, probe)
		}
	}
	// Seeds: a new volume at /data/inner (absolute link) and at /up/<secret>/inner (relative) is filled
	// from the image's own directory, never from the host's.
	for _, target := range []string{"/data/inner", "/up" + secret + "/inner"} {
		out, stderr, _ := shared.run("", "run", "--rm", "-v", "e2e-attack"+newID()[:8]+":"+target, image, "/bin/busybox", "ls", target)
		if out != "decoy\n" {
			t.Errorf("a volume at %s was seeded with %q (%s), want the image's decoy", target, out, stderr)
		}
	}
	for _, v := range volumeNames(t) {
		if _, err := os.Stat(filepath.Join(shared.root, "volumes", v, "_data", "host-secret")); err == nil {
			t.Errorf("the host's secret was copied into volume %s", v)
		}
	}
	if entries, _ := os.ReadDir(filepath.Join(secret, "inner")); len(entries) != 1 {
		t.Errorf("the host's directory changed: %v", entries)
	}
	// A volume over the whole root (/up resolves to "/"): refused in one line, before any copy.
	engineFails(t, 125, "resolves to the container's root", "run", "--rm", "-v", "e2e-attack-root:/up", image, "/bin/busybox", "true")
	engineFails(t, 125, "resolves to the container's root", "run", "--rm", "-v", hostFile+":/up", image, "/bin/busybox", "true")
}

// Bad input: one line, exit 125, nothing made (no volume left by a create that failed), and the daemon
// goes on serving.
func TestE2EVolumeBadInput(t *testing.T) {
	removeVolumesAfter(t)
	before := volumeNames(t)
	for _, c := range []struct {
		want string
		args []string
	}{
		{"engine: run: invalid mount: bind source path does not exist: /nonexistent-engine-e2e", []string{"run", "--rm", "-v", "/data:rw", "-v", "e2e-new:/n", "-v", "/nonexistent-engine-e2e:/x", "base", "true"}},
		{`engine: run: invalid volume specification "./x:/y": invalid volume name "./x"`, []string{"run", "-v", "./x:/y", "base", "true"}},
		{`engine: create: invalid volume specification "/tmp:y": the container path must be absolute`, []string{"create", "-v", "/tmp:y", "base", "true"}},
		{`unknown mode "z"`, []string{"run", "-v", "/tmp:/a:z", "base", "true"}},
		{`must not be "/"`, []string{"run", "--volume", "/tmp:/", "base", "true"}},
		{`must not contain ".."`, []string{"run", "-v", "/tmp:/a/../../x", "base", "true"}},
		{"nothing may be mounted over /proc", []string{"run", "-v", "/tmp:/proc", "base", "true"}},
		{`engine: run: duplicate mount point: "/a"`, []string{"run", "-v", "/tmp:/a", "-v", "v:/a/", "base", "true"}},
		{`bind source path does not exist: "/nonexistent\nx"`, []string{"run", "-v", "/nonexistent\nx:/c", "base", "true"}},
		{`engine: volume: invalid volume name "../x"`, []string{"volume", "create", "../x"}},
		{"engine: volume rm: no such volume: nosuch", []string{"volume", "rm", "nosuch"}},
		{"engine: volume: no such volume: nosuch", []string{"volume", "inspect", "nosuch"}},
		{`engine: volume: "bogus" is not a volume command`, []string{"volume", "bogus"}},
		{"invalid filter 'dangling=maybe'", []string{"volume", "ls", "-f", "dangling=maybe"}},
	} {
		engineFails(t, 125, c.want, c.args...)
	}
	if _, _, code := shared.run("", "volume", "rm", "-f", "nosuch"); code != 0 {
		t.Errorf("volume rm -f of a missing volume: exit %d", code)
	}
	if after := volumeNames(t); !slices.Equal(after, before) {
		t.Errorf("failed creates left volumes: %v, before %v", after, before)
	}
	if out := engine(t, "run", "--rm", "-v", "/tmp:/hosttmp:ro", "base", "true"); out != "" {
		t.Errorf("the daemon does not serve after bad input: %q", out)
	}
}

// Volumes, and the containers' mounts, outlive their daemon, even one killed with -9; what a daemon
// killed in the middle of a volume's creation leaves (a hidden directory) is cleared at the next start.
func TestE2EVolumeAfterDaemonKilled(t *testing.T) {
	root := filepath.Join(t.TempDir(), "root")
	d, err := startDaemon(root)
	if err != nil {
		t.Fatal(err)
	}
	if _, stderr, code := d.run("", "run", "--name", "keeper", "-v", "kept:/c", "base", "sh", "-c", "echo survived > /c/f"); code != 0 {
		t.Fatalf("run: %s", stderr)
	}
	d.cmd.Process.Kill()
	d.cmd.Wait()
	half := filepath.Join(root, "volumes", ".new-half")
	os.MkdirAll(filepath.Join(half, "_data"), 0700)
	if d, err = startDaemon(root); err != nil {
		t.Fatal(err)
	}
	defer d.stopAtEnd(t)
	if out, stderr, _ := d.run("", "run", "--rm", "-v", "kept:/c", "base", "cat", "/c/f"); out != "survived\n" {
		t.Errorf("after the restart, the volume holds %q (%s)", out, stderr)
	}
	if out, _, _ := d.run("", "volume", "ls", "-q"); out != "kept\n" {
		t.Errorf("volume ls after the restart: %q", out)
	}
	if _, stderr, code := d.run("", "volume", "rm", "kept"); code != 125 || !strings.Contains(stderr, "in use") {
		t.Errorf("the restarted daemon forgot that keeper uses kept: exit %d, %q", code, stderr)
	}
	if _, err := os.Stat(half); err == nil {
		t.Errorf("the half-made volume was left")
	}
}
