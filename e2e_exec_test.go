package main

// End-to-end tests of `engine exec` (exec.go): a process joins a running container, with its
// namespaces, root, user and capabilities, and cannot be used to reach the host's engine binary.

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

func TestE2EExec(t *testing.T) {
	engine(t, "run", "-d", "--name", "exec1", "--cap-add", "NET_ADMIN", "-e", "FROM_RUN=1", "base", "sh", "-c", "echo made-by-run > /marker; sleep 1000")
	defer shared.run("", "rm", "-f", "exec1")
	waitFor(t, func() bool { _, _, code := shared.run("", "exec", "exec1", "test", "-e", "/marker"); return code == 0 })

	// The container's namespaces and root: its hostname, its processes (and not the host's), its files,
	// its network.
	id := inspect(t, "exec1")["Id"].(string)
	script := "hostname; cat /marker; ps -o comm > /tmp/ps; sort /tmp/ps | tr '\\n' ' '; echo; ip -o -4 addr show eth0 | wc -l; echo $FROM_RUN"
	if out := engine(t, "exec", "exec1", "sh", "-c", script); out != id[:12]+"\nmade-by-run\nCOMMAND ps sh sleep \n1\n1\n" {
		t.Errorf("inside: %q", out)
	}
	// Its capabilities (with the added NET_ADMIN, bit 12) and no_new_privs; no descriptor of the daemon.
	if out := engine(t, "exec", "exec1", "grep", "-E", "^(CapEff|NoNewPrivs)", "/proc/self/status"); out != "CapEff:\t00000000a80435fb\nNoNewPrivs:\t1\n" {
		t.Errorf("capabilities: %q", out)
	}
	if out := engine(t, "exec", "exec1", "ls", "/proc/self/fd"); out != "0\n1\n2\n3\n" {
		t.Errorf("fds: %q", out)
	}
	if out := engine(t, "exec", "-u", "nobody", "-w", "/tmp", "-e", "A=1", "exec1", "sh", "-c", "id -u; pwd; echo $A $HOME; grep CapEff /proc/self/status"); out != "65534\n/tmp\n1 /home\nCapEff:\t0000000000000000\n" {
		t.Errorf("-u -w -e: %q", out)
	}
	if stdout, _, code := shared.run("hello\n", "exec", "-i", "exec1", "cat"); stdout != "hello\n" || code != 0 {
		t.Errorf("-i: %q, %d", stdout, code)
	}
	engine(t, "exec", "-d", "exec1", "touch", "/from-detached")
	waitFor(t, func() bool {
		_, _, code := shared.run("", "exec", "exec1", "test", "-e", "/from-detached")
		return code == 0
	})

	// Exit statuses as with run; errors on one line.
	if _, _, code := shared.run("", "exec", "exec1", "sh", "-c", "exit 7"); code != 7 {
		t.Errorf("exit 7 gave %d", code)
	}
	engineFails(t, 127, "executable file not found", "exec", "exec1", "nosuch")
	engineFails(t, 126, "permission denied", "exec", "exec1", "/marker")
	engineFails(t, 125, "workdir /nope", "exec", "-w", "/nope", "exec1", "true")
	engineFails(t, 125, "requires at least 2 argument", "exec", "exec1")
	engineFails(t, 125, "no such container", "exec", "nosuch", "true")

	// An exec'd process ends with the container, and the exec then reports the kill.
	done := make(chan int)
	go func() { _, _, code := shared.run("", "exec", "exec1", "sleep", "1000"); done <- code }()
	waitFor(t, func() bool {
		out, _, _ := shared.run("", "exec", "exec1", "ps", "-o", "args")
		return strings.Contains(out, "sleep 1000\nsleep 1000")
	})
	engine(t, "kill", "exec1")
	if code := <-done; code != 137 {
		t.Errorf("exec of a killed container exited %d, want 137", code)
	}
	engineFails(t, 125, "is not running", "exec", "exec1", "true")
	// The exec's helper exits with its process and is reaped by the goroutine that waits for it, which
	// may run a moment after kill has answered: a zombie may show briefly, but must not stay.
	waitFor(t, func() bool { return daemonChildren(t, "Z") == "" })
}

// daemonChildren lists the shared daemon's child processes in the given state (Z: zombies).
func daemonChildren(t *testing.T, state string) string {
	t.Helper()
	out, _ := exec.Command("ps", "-o", "pid=,stat=,comm=", "--ppid", strconv.Itoa(shared.cmd.Process.Pid)).Output()
	var found []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		if fields := strings.Fields(line); len(fields) == 3 && strings.HasPrefix(fields[1], state) {
			found = append(found, line)
		}
	}
	return strings.Join(found, "; ")
}

// TestE2EExecCannotOverwriteTheEngine stages CVE-2019-5736 (see testdata/cve5736): a container whose
// process tries to rewrite the binary that an exec runs. First against a plain copy of the engine inside
// the container, which must work, or the attacker proves nothing; then against the engine itself, which
// must be the sealed copy. (Measured with the helper started from /proc/self/exe instead: the attacker
// holds the host's file, and only ETXTBSY holds it back, for as long as the daemon runs from that file.)
func TestE2EExecCannotOverwriteTheEngine(t *testing.T) {
	before := fileHash(t, engineBin)
	image := cveImage(t)
	engine(t, "run", "-d", "--name", "cve", image, "/attack")
	defer shared.run("", "rm", "-f", "cve")
	waitFor(t, func() bool { return strings.Contains(engine(t, "logs", "cve"), "listening") })

	attack := func(script string) string {
		t.Helper()
		lines := len(strings.Split(engine(t, "logs", "cve"), "\n"))
		shared.run("", "exec", "-e", "ENGINE_HOST=127.0.0.1:5555", "-e", "ENGINE_ROOT=/token", "cve", script)
		var result string
		waitFor(t, func() bool {
			all := strings.Split(engine(t, "logs", "cve"), "\n")
			if len(all) > lines {
				result = all[lines-1]
			}
			return result != ""
		})
		return result
	}
	if result := attack("/via-victim"); result != "/victim: overwritten" {
		t.Fatalf("the attack failed even on a plain file: %q", result)
	}
	result := attack("/via-self")
	if !strings.HasPrefix(result, "/memfd:engine") || strings.Contains(result, "overwritten") {
		t.Errorf("attacking the exec's own binary: %q", result)
	}
	if fileHash(t, engineBin) != before {
		t.Fatal("the host's engine binary was modified from inside a container")
	}
}

func fileHash(t *testing.T, path string) [32]byte {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(data)
}

// cveImage imports the attacker, a plain copy of the engine binary as its control victim, a token for
// the engine client, and the two scripts that run an engine binary as their interpreter.
func cveImage(t *testing.T) string {
	t.Helper()
	engineData, err := os.ReadFile(engineBin)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{
		"attack": string(buildStatic(t, "./testdata/cve5736")), "victim": string(engineData),
		"token/engine.token": "not-a-secret\n", "via-self": "#!/proc/self/exe ps\n", "via-victim": "#!/victim ps\n",
	}
	var layer bytes.Buffer
	tw := tar.NewWriter(&layer)
	tw.WriteHeader(&tar.Header{Name: "token/", Mode: 0755, Typeflag: tar.TypeDir})
	for name, content := range files {
		tw.WriteHeader(&tar.Header{Name: name, Mode: 0755, Size: int64(len(content)), Typeflag: tar.TypeReg})
		tw.Write([]byte(content))
	}
	tw.Close()
	if _, stderr, code := shared.run(layer.String(), "import", "-", "cve5736"); code != 0 {
		t.Fatalf("import: %s", stderr)
	}
	return "cve5736"
}

// An interactive exec on a real terminal: its own pty in the container, sized as the window, Ctrl-C for
// its foreground command, detach, and the exit status.
func TestE2EExecTerminal(t *testing.T) {
	engine(t, "run", "-d", "--name", "exectty", "base", "sleep", "1000")
	defer shared.run("", "rm", "-f", "exectty")
	if out := engine(t, "exec", "-t", "exectty", "tty"); out != "/dev/pts/0\r\n" {
		t.Errorf("exec -t tty: %q", out)
	}
	tm := newTmux(t, 80, 24)
	engineCmd := fmt.Sprintf("%s -r %s -H %s", engineBin, shared.root, shared.addr)
	tm.typeLine(engineCmd + " exec -it exectty sh; echo rc=$?")
	tm.waitScreen("/ # ")
	tm.typeLine("stty size; tty; echo $((6*7))")
	tm.waitScreen("\n24 80\n/dev/pts/0\n42\n")
	tm.typeLine("sleep 100")
	waitForProcess(t, "exectty", "sleep 100") // Ctrl-C sooner would go to the shell, which ignores it
	tm.run("send-keys", "-t", "main", "C-c")
	tm.typeLine("echo af''ter")
	tm.waitScreen("\nafter\n")
	tm.typeLine("exit 5")
	tm.waitScreen("rc=5\n")

	// Detached, the shell runs on in the container until the container stops.
	tm.typeLine(engineCmd + " exec -it exectty sh -c 'echo in; exec sleep 300'; echo rc=$?")
	tm.waitScreen("in\n")
	tm.run("send-keys", "-t", "main", "C-p", "C-q")
	tm.waitScreen("read escape sequence\nrc=0\n")
	if out := engine(t, "exec", "exectty", "ps", "-o", "args"); !strings.Contains(out, "sleep 300") {
		t.Errorf("the detached exec is gone: %q", out)
	}
}

// waitForProcess waits until a process with the given command line runs in the container.
func waitForProcess(t *testing.T, container, args string) {
	t.Helper()
	waitFor(t, func() bool {
		out, _, _ := shared.run("", "exec", container, "ps", "-o", "args")
		return strings.Contains("\n"+out, "\n"+args+"\n")
	})
}

// An exec'd process is in the container's cgroup, under its limits.
func TestE2EExecCgroup(t *testing.T) {
	engine(t, "run", "-d", "--name", "execcg", "--pids-limit", "9", "base", "sleep", "1000")
	defer shared.run("", "rm", "-f", "execcg")
	id := inspect(t, "execcg")["Id"].(string)
	if out := engine(t, "exec", "execcg", "cat", "/proc/self/cgroup"); !strings.Contains(out, ":pids:/engine/"+id+"\n") && !strings.Contains(out, "0::/engine/"+id+"\n") {
		t.Errorf("/proc/self/cgroup of an exec: %q", out)
	}
	// sleep, sh and its children count: the limit holds for the exec as for the container.
	_, stderr, _ := shared.run("", "exec", "execcg", "sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do sleep 5 & done; wait")
	if !strings.Contains(stderr, "can't fork") && !strings.Contains(stderr, "Resource temporarily unavailable") {
		t.Errorf("10 more processes under --pids-limit 9: %q", stderr)
	}
}
