// e2e_terminal_test.go: terminals, attach, detach keys and the signal proxy, driven as a user would.
//
// The first tests need no terminal of their own: `run -t` whose output is a pty's, input piped through
// the container's terminal, several clients attached at once, a client that vanishes, and signals
// passed on. The last drives a real terminal: a tmux server of its own runs a shell in a
// window, the test types into it with send-keys and reads the screen with capture-pane, polling until
// the expected text shows (never a fixed sleep as an assertion).
package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

func TestE2ETtyRun(t *testing.T) {
	// The pty comes from the container's own devpts: the first one there is /dev/pts/0.
	if stdout, stderr, code := shared.run("", "run", "--rm", "-t", "base", "tty"); stdout != "/dev/pts/0\r\n" || stderr != "" || code != 0 {
		t.Errorf("run -t tty: %q %q %d", stdout, stderr, code)
	}
	if out := engine(t, "run", "--rm", "-t", "-u", "nobody", "base", "stat", "-c", "%U %G", "/dev/pts/0"); out != "nobody tty\r\n" {
		t.Errorf("the terminal of -u nobody belongs to %q", out)
	}
	// A terminal has one stream: stdout and stderr both go to stdout.log, as docker's logs show it.
	_, _, code := shared.run("", "run", "-t", "--name", "ttylog", "base", "sh", "-c", "echo out; echo err >&2; exit 3")
	defer shared.run("", "rm", "-f", "ttylog")
	if code != 3 {
		t.Errorf("run -t exit status %d, want 3", code)
	}
	if stdout, stderr, _ := shared.run("", "logs", "ttylog"); stdout != "out\r\nerr\r\n" || stderr != "" {
		t.Errorf("logs of a tty container: %q %q", stdout, stderr)
	}
	if tty := inspect(t, "ttylog")["Config"].(map[string]any)["Tty"]; tty != true {
		t.Errorf("inspect .Config.Tty = %v", tty)
	}
	engineFails(t, 125, "invalid --detach-keys", "run", "--detach-keys", "ctrl-1", "base", "true")
}

// Input that is not a terminal still travels through the container's pty, and the detach keys are
// found in it.
func TestE2ETtyInputAndDetach(t *testing.T) {
	stdout, _, code := shared.run("echo in''side\nexit 3\n", "run", "--rm", "-it", "base", "sh")
	if code != 3 || !strings.Contains(stdout, "\r\ninside\r\n") {
		t.Errorf("run -it with piped input: %q %d", stdout, code)
	}
	_, stderr, code := shared.run("echo one\n\x01x", "run", "-it", "--name", "det", "--detach-keys", "ctrl-a,x", "base", "sh")
	defer shared.run("", "rm", "-f", "det")
	if code != 0 || stderr != "read escape sequence\n" {
		t.Fatalf("detach: exit %d, stderr %q", code, stderr)
	}
	if state := inspect(t, "det")["State"].(map[string]any); state["Running"] != true {
		t.Fatalf("the container stopped at the detach: %v", state)
	}
	stdout, _, code = shared.run("echo tw''o\nexit 4\n", "attach", "det")
	if code != 4 || !strings.Contains(stdout, "\r\ntwo\r\n") {
		t.Errorf("attach after detach: %q %d", stdout, code)
	}
	engineFails(t, 125, "you cannot attach to a stopped container (det): start it first", "attach", "det")
}

// syncBuffer collects a process's output (a client's, a daemon's) while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// client starts an engine client in the background, its stdout collected.
func client(t *testing.T, stdin string, args ...string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(engineBin, append([]string{"-r", shared.root, "-H", shared.addr}, args...)...)
	cmd.Stdin = strings.NewReader(stdin)
	out := &syncBuffer{}
	cmd.Stdout = out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd, out
}

func exitCode(cmd *exec.Cmd) int {
	cmd.Wait()
	return cmd.ProcessState.ExitCode()
}

func TestE2EAttach(t *testing.T) {
	engine(t, "run", "-d", "-i", "--name", "att", "base", "sh", "-c", `while read l; do [ "$l" = quit ] && exit 6; echo got $l; done`)
	defer shared.run("", "rm", "-f", "att")
	quiet, quietOut := client(t, "secret\n", "attach", "--no-stdin", "att")
	watcher, watcherOut := client(t, "", "attach", "--no-stdin", "att")
	writer := exec.Command(engineBin, "-r", shared.root, "-H", shared.addr, "attach", "att")
	input, _ := writer.StdinPipe()
	writerOut := &syncBuffer{}
	writer.Stdout = writerOut
	if err := writer.Start(); err != nil {
		t.Fatal(err)
	}
	defer writer.Process.Kill()
	// Attach starts at the end of the logs: ping until both readers see the answers.
	waitFor(t, func() bool {
		input.Write([]byte("ping\n"))
		return strings.Contains(quietOut.String(), "got ping") && strings.Contains(watcherOut.String(), "got ping")
	})
	// A client that vanishes (SIGKILL: no goodbye) neither blocks nor ends the container.
	quiet.Process.Kill()
	quiet.Wait()
	input.Write([]byte("after\n"))
	waitFor(t, func() bool { return strings.Contains(watcherOut.String(), "got after") })
	if running := inspect(t, "att")["State"].(map[string]any)["Running"]; running != true {
		t.Fatal("the container stopped when an attached client was killed")
	}
	input.Write([]byte("quit\n"))
	if code := exitCode(watcher); code != 6 {
		t.Errorf("attach --no-stdin exit %d, want the container's 6", code)
	}
	if code := exitCode(writer); code != 6 {
		t.Errorf("attach exit %d, want the container's 6", code)
	}
	if logs := engine(t, "logs", "att"); strings.Contains(logs, "secret") || !strings.Contains(logs, "got after") {
		t.Errorf("logs: %q (--no-stdin input must not arrive)", logs)
	}
}

func TestE2EAttachedClientKilled(t *testing.T) {
	run, out := client(t, "", "run", "--name", "orphan", "base", "sh", "-c", "echo ready; exec sleep 100")
	defer shared.run("", "rm", "-f", "orphan")
	waitFor(t, func() bool { return out.String() == "ready\n" })
	run.Process.Kill()
	run.Wait()
	if running := inspect(t, "orphan")["State"].(map[string]any)["Running"]; running != true {
		t.Error("the container stopped when its run client was killed")
	}
}

func TestE2ESignalProxy(t *testing.T) {
	script := `trap "echo caught; exit 7" TERM INT; echo ready; while true; do sleep 1; done`
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		name := fmt.Sprintf("proxy%d", sig)
		run, out := client(t, "", "run", "--name", name, "base", "sh", "-c", script)
		waitFor(t, func() bool { return out.String() == "ready\n" })
		run.Process.Signal(sig)
		if code := exitCode(run); code != 7 || out.String() != "ready\ncaught\n" {
			t.Errorf("%v to run: exit %d, output %q; want the trap's 7", sig, code, out.String())
		}
		engine(t, "rm", name)
	}
	// --sig-proxy=false: the signal ends the client, not the container.
	run, out := client(t, "", "run", "--sig-proxy=false", "--name", "noproxy", "base", "sh", "-c", script)
	defer shared.run("", "rm", "-f", "noproxy")
	waitFor(t, func() bool { return out.String() == "ready\n" })
	run.Process.Signal(syscall.SIGTERM)
	run.Wait()
	if status := run.ProcessState.Sys().(syscall.WaitStatus); !status.Signaled() || status.Signal() != syscall.SIGTERM {
		t.Errorf("client with --sig-proxy=false: %v, want killed by SIGTERM", run.ProcessState)
	}
	if running := inspect(t, "noproxy")["State"].(map[string]any)["Running"]; running != true {
		t.Error("--sig-proxy=false passed the signal on")
	}
}

// tmuxSession is a tmux server with one window of a shell. Its socket is private to the test (-S in
// the test's temporary directory rather than -L, whose socket file tmux leaves in /tmp/tmux-UID).
type tmuxSession struct {
	t      *testing.T
	socket string
}

func newTmux(t *testing.T, cols, rows int) *tmuxSession {
	t.Helper()
	tm := &tmuxSession{t: t, socket: filepath.Join(t.TempDir(), "tmux")}
	tm.run("-f", "/dev/null", "new-session", "-d", "-s", "main", "-x", fmt.Sprint(cols), "-y", fmt.Sprint(rows), "sh")
	t.Cleanup(func() { exec.Command("tmux", "-S", tm.socket, "kill-server").Run() })
	tm.run("set-option", "-g", "window-size", "manual") // resize-window, not a client, decides the size
	return tm
}

func (tm *tmuxSession) run(args ...string) string {
	tm.t.Helper()
	out, err := exec.Command("tmux", append([]string{"-S", tm.socket}, args...)...).CombinedOutput()
	if err != nil {
		tm.t.Fatalf("tmux %v: %v: %s", args, err, out)
	}
	return string(out)
}

// typeLine types a line into the window and presses Enter.
func (tm *tmuxSession) typeLine(line string) {
	tm.t.Helper()
	tm.run("send-keys", "-t", "main", "-l", line)
	tm.run("send-keys", "-t", "main", "Enter")
}

func (tm *tmuxSession) screen() string {
	return tm.run("capture-pane", "-p", "-J", "-S", "-1000", "-t", "main")
}

// waitScreen polls the screen until it shows want, or fails after 15 seconds.
func (tm *tmuxSession) waitScreen(want string) {
	tm.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !strings.Contains(tm.screen(), want) {
		if time.Now().After(deadline) {
			tm.t.Fatalf("the terminal does not show %q:\n%s", want, tm.screen())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestE2ETerminalInteractive(t *testing.T) {
	tm := newTmux(t, 100, 30)
	dir := t.TempDir()
	engineCmd := fmt.Sprintf("%s -r %s -H %s", engineBin, shared.root, shared.addr)
	defer shared.run("", "rm", "-f", "tmuxsh")
	tm.typeLine(fmt.Sprintf("stty -g >%s/before; %s run -it --name tmuxsh base sh; echo rc=$?; stty -g >%s/detached", dir, engineCmd, dir))
	tm.waitScreen("/ # ")
	tm.typeLine("tty; echo $((6*7))")
	tm.waitScreen("/dev/pts/0\n42\n")

	// The terminal's size is the window's, and follows it.
	tm.typeLine("stty size")
	tm.waitScreen("\n30 100\n")
	tm.run("resize-window", "-t", "main", "-x", "90", "-y", "20")
	deadline := time.Now().Add(15 * time.Second)
	for tm.typeLine("stty size"); !strings.Contains(tm.screen(), "\n20 90\n"); tm.typeLine("stty size") {
		if time.Now().After(deadline) { // the resize travels by SIGWINCH and a frame: retype until it arrived
			t.Fatalf("stty size never showed 20 90:\n%s", tm.screen())
		}
		time.Sleep(200 * time.Millisecond)
	}

	// Ctrl-C interrupts the foreground command inside; the shell stays.
	tm.typeLine("sleep 100")
	waitForProcess(t, "tmuxsh", "sleep 100") // Ctrl-C sooner would go to the shell, which ignores it
	tm.run("send-keys", "-t", "main", "C-c")
	tm.typeLine("echo af''ter")
	tm.waitScreen("\nafter\n")

	// Detach with Ctrl-P Ctrl-Q: the client leaves, the shell runs on; attach and carry on.
	tm.run("send-keys", "-t", "main", "C-p", "C-q")
	tm.waitScreen("read escape sequence\nrc=0\n")
	tm.typeLine(fmt.Sprintf("%s attach tmuxsh; echo rc=$?; stty -g >%s/after", engineCmd, dir))
	tm.typeLine("echo ba''ck")
	tm.waitScreen("\nback\n")
	tm.typeLine("exit 3")
	tm.waitScreen("rc=3\n")

	// The outer terminal is as it was, after both ways out.
	tm.waitScreen("# ")
	for _, name := range []string{"detached", "after"} {
		var before, after []byte
		waitFor(t, func() bool {
			before, _ = os.ReadFile(filepath.Join(dir, "before"))
			after, _ = os.ReadFile(filepath.Join(dir, name))
			return len(after) > 0
		})
		if len(before) == 0 || !bytes.Equal(before, after) {
			t.Errorf("terminal mode before %q, %s %q", before, name, after)
		}
	}
}
