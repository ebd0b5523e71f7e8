package main

// End-to-end tests of the seccomp profile (seccomp.go, seccomp_bpf.go): in a container, and in what is
// exec'd into it, the calls Docker's profile refuses fail with EPERM, while busybox, ip and httpd work;
// seccomp=unconfined lets them reach the kernel; a profile file is obeyed, across a restart; runc and
// crun apply the same profile from the bundle.

import (
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// probeResults reads the probe's "name errno" lines.
func probeResults(t *testing.T, output string) map[string]string {
	t.Helper()
	results := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(output), "\n") {
		if i := strings.LastIndexByte(line, ' '); i > 0 {
			results[line[:i]] = line[i+1:]
		}
	}
	return results
}

// refused are the calls of the issue, and what Docker's profile answers.
var refused = map[string]string{
	"keyctl": "1", "add_key": "1", "bpf": "1", "kexec_load": "1", "open_by_handle_at": "1", "init_module": "1",
	"socket(AF_ALG)": "1", "socket(AF_VSOCK)": "1", "personality(READ_IMPLIES_EXEC)": "1",
	"clone3":          "38", // ENOSYS, for glibc to fall back to clone
	"socket(AF_INET)": "0", "personality(query)": "0", "Seccomp:": "2",
}

func checkRefused(t *testing.T, where, output string) {
	t.Helper()
	results := probeResults(t, output)
	for call, want := range refused {
		if results[call] != want {
			t.Errorf("%s: %s gave %q, want %s (output:\n%s)", where, call, results[call], want, output)
		}
	}
}

func TestE2ESeccompDefaultProfile(t *testing.T) {
	image := programImage(t, "seccompprobe")
	checkRefused(t, "run", engine(t, "run", "--rm", "--net", "none", image, "/seccompprobe"))
	// Root with every capability but CAP_SYS_ADMIN... and the keyring stays closed all the same.
	results := probeResults(t, engine(t, "run", "--rm", "--net", "none", "--cap-add", "ALL", "--cap-drop", "SYS_ADMIN", image, "/seccompprobe"))
	if results["keyctl"] != "1" || results["socket(AF_ALG)"] != "1" || results["clone3"] != "38" {
		t.Errorf("--cap-add ALL --cap-drop SYS_ADMIN: %v", results)
	}
	// An x32 call (x86_64 only) kills the process (SIGSYS, 31).
	if _, _, code := shared.run("", "run", "--rm", "--net", "none", image, "/seccompprobe", "x32"); code != 128+31 && runtime.GOARCH == "amd64" {
		t.Errorf("x32 call: exit %d, want %d (killed by SIGSYS)", code, 128+31)
	}

	// exec'd processes run under the same filter.
	engine(t, "run", "-d", "--name", "probe", "--net", "none", image, "/seccompprobe", "sleep")
	defer shared.run("", "rm", "-f", "probe")
	checkRefused(t, "exec", engine(t, "exec", "probe", "/seccompprobe"))

	// What containers usually run still works: a shell, busybox's tools, ip, and an httpd reached by exec.
	out := engine(t, "run", "--rm", "base", "sh", "-c", "mkdir -p /tmp/d && ln -s d /tmp/l && ls /tmp && ip -o addr show lo | grep -c 127.0.0.1 && ps | grep -q sh && echo ps && grep Seccomp: /proc/self/status")
	if out != "d\nl\n1\nps\nSeccomp:\t2\n" {
		t.Errorf("busybox under the default profile printed %q", out)
	}
	engine(t, "run", "-d", "--name", "seccompweb", "-h", "seccompweb", "base", "httpd", "-f", "-p", "80", "-h", "/etc")
	defer shared.run("", "rm", "-f", "seccompweb")
	if out := engine(t, "exec", "seccompweb", "wget", "-qO-", "http://127.0.0.1/hostname"); out != "seccompweb\n" {
		t.Errorf("httpd under the default profile served %q", out)
	}
}

// Unconfined, the calls reach the kernel: each gets the kernel's own answer, not the filter's EPERM.
// (bpf, kexec_load and init_module are left out: without CAP_BPF, CAP_SYS_BOOT or CAP_SYS_MODULE the
// kernel answers EPERM itself, if it has them at all; the unit tests show the filter refuses them.)
func TestE2ESeccompUnconfined(t *testing.T) {
	image := programImage(t, "seccompprobe")
	output := engine(t, "run", "--rm", "--net", "none", "--security-opt", "seccomp=unconfined", image, "/seccompprobe")
	results := probeResults(t, output)
	if results["Seccomp:"] != "0" {
		t.Errorf("unconfined: Seccomp %q, want 0", results["Seccomp:"])
	}
	for _, call := range []string{"keyctl", "add_key", "socket(AF_ALG)", "socket(AF_VSOCK)", "personality(READ_IMPLIES_EXEC)", "clone3"} {
		if results[call] == "" || results[call] == refused[call] {
			t.Errorf("unconfined: %s gave %q, as under the filter (output:\n%s)", call, results[call], output)
		}
	}
	if out := engine(t, "run", "--rm", "--net", "none", "--security-opt", "seccomp=unconfined", image, "/seccompprobe", "x32"); !strings.HasPrefix(out, "x32 ") {
		t.Errorf("unconfined x32 call printed %q", out)
	}
}

// A profile file in Docker's format, read by the client: it is obeyed, kept for a restart, and a bad
// one is refused with one clear line.
func TestE2ESeccompProfileFile(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(dir, name)
		os.WriteFile(path, []byte(content), 0600)
		return path
	}
	noMkdir := write("no-mkdir.json", `{
		"defaultAction": "SCMP_ACT_ALLOW",
		"syscalls": [
			{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "comment": "EPERM by default"},
			{"names": ["rmdir"], "action": "SCMP_ACT_ERRNO", "errnoRet": 13, "includes": {"caps": ["CAP_SYS_ADMIN"]}}
		]}`)
	engineFails(t, 1, "Operation not permitted", "run", "--rm", "--security-opt", "seccomp="+noMkdir, "base", "mkdir", "/tmp/x")
	engine(t, "run", "--rm", "--security-opt", "seccomp="+noMkdir, "base", "sh", "-c", "rmdir /tmp || true; grep -q 'Seccomp:.2' /proc/self/status")
	engineFails(t, 1, "Permission denied", "run", "--rm", "--cap-add", "SYS_ADMIN", "--security-opt=seccomp="+noMkdir, "base", "rmdir", "/mnt")

	// The profile is the container's: a restart applies it again, wherever the file is by then.
	engineFails(t, 1, "Operation not permitted", "run", "--name", "nomkdir", "--security-opt", "seccomp="+noMkdir, "base", "mkdir", "/tmp/x")
	defer shared.run("", "rm", "-f", "nomkdir")
	os.Remove(noMkdir)
	engineFails(t, 1, "Operation not permitted", "start", "-a", "nomkdir")

	for name, profile := range map[string]string{
		"not JSON":       "{nope",
		"unknown action": `{"defaultAction": "SCMP_ACT_MAYBE"}`,
		"misspelt field": `{"defaultAction": "SCMP_ACT_ALLOW", "sycalls": []}`,
		"unknown op":     `{"defaultAction": "SCMP_ACT_ALLOW", "syscalls": [{"names": ["read"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 1, "op": "SCMP_CMP_ABOUT"}]}]}`,
	} {
		_, stderr, code := shared.run("", "run", "--rm", "--security-opt", "seccomp="+write(name+".json", profile), "base", "true")
		if code != 125 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, "engine: run: ") {
			t.Errorf("%s: exit %d, %q", name, code, stderr)
		}
	}
	engineFails(t, 125, "no such file or directory", "run", "--security-opt", "seccomp="+filepath.Join(dir, "missing.json"), "base", "true")
	engineFails(t, 125, `invalid --security-opt "apparmor=unconfined"`, "run", "--security-opt", "apparmor=unconfined", "base", "true")
	engine(t, "run", "--rm", "--security-opt", "no-new-privileges", "base", "true")
}

// runc and crun, given our bundle, install the same profile: the probe gets the same answers.
func TestE2ESeccompOCIRuntimes(t *testing.T) {
	image := programImage(t, "seccompprobe")
	id := strings.TrimSpace(engine(t, "create", "--net", "none", image, "/seccompprobe"))
	defer shared.run("", "rm", "-f", id)
	ours := engine(t, "start", "-a", id)
	checkRefused(t, "our init", ours)
	runBundleWithOCIRuntimes(t, id, image, ours)
}
