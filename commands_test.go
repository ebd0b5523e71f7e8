// commands_test.go covers parseRunFlags (commands.go), the parser of everything `run` and `create` are
// told, with checkResources after it as Runtime.Create calls it: a table of hostile command lines, and
// FuzzRunFlags, whose seeds (below and in testdata/fuzz/FuzzRunFlags) run with every `go test`.
// `go test -run=^$ -fuzz=FuzzRunFlags -fuzztime=3m .` looks for more.
package main

import (
	"io"
	"maps"
	"net"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// allControllers is a cgroup v1 hierarchy with every controller and swap accounting: nothing is
// refused for want of a controller, so each limit is checked against its range alone.
var allControllers = &CgroupHierarchy{Swap: true, Mounts: map[string]string{
	"memory": "/m", "cpu": "/c", "cpuacct": "/c", "cpuset": "/s", "pids": "/p", "devices": "/d",
}}

// parseAndCheck parses a run command line as CmdRun and Runtime.Create do, without a daemon.
func parseAndCheck(args []string) (*runOptions, error) {
	opts, err := parseRunFlags(&Session{Stdout: io.Discard, Stderr: io.Discard}, "run", "Run", args)
	if err != nil {
		return nil, err
	}
	return opts, checkResources(opts.hostConfig, allControllers)
}

func TestParseRunFlagsRefuses(t *testing.T) {
	for _, tt := range []struct {
		want string
		args []string
	}{
		{"invalid hostname", []string{"-h", "evil\n6.6.6.6 injected", "base"}},
		{"invalid hostname", []string{"-h", "a b", "base"}},
		{"invalid hostname", []string{"-h", "-a", "base"}},
		{"invalid hostname", []string{"-h", "a-", "base"}},
		{"invalid hostname", []string{"-h", "a..b", "base"}},
		{"invalid hostname", []string{"-h", "a.", "base"}},
		{"invalid hostname", []string{"-h", "a_b", "base"}},
		{"invalid hostname", []string{"-h", "\u212a", "base"}}, // the Kelvin sign, whose lower case is k
		{"invalid hostname", []string{"-h", strings.Repeat("a", 64), "base"}},
		{"invalid hostname", []string{"-h", strings.Repeat("a.", 31) + "ab", "base"}},
		{"invalid hostname", []string{"--hostname=a#b", "base"}},
		{"invalid environment variable", []string{"-e", "A=1\x00B=2", "base"}},
		{"invalid environment variable", []string{"-e", "A\x00=1", "base"}},
		{"invalid environment variable", []string{"-e", "=x", "base"}},
		{"invalid environment variable", []string{"-e", "", "base"}},
		{"invalid environment variable", []string{"-e", "NOVALUE", "base"}},
		{"invalid label", []string{"-l", "=x", "base"}},
		{"invalid label", []string{"-l", "", "base"}},
		{"invalid label", []string{"-l", "a b=c", "base"}},
		{"invalid label", []string{"-l", "a\n=c", "base"}},
		{"invalid label", []string{"-l", "a=c\x00", "base"}},
		{"invalid container name", []string{"--name", "a", "base"}},
		{"invalid container name", []string{"--name", "web\n", "base"}},
		{"invalid container name", []string{"--name", "/", "base"}},
		{"not an absolute path", []string{"-w", "relative", "base"}},
		{"not an absolute path", []string{"-w", "/a\x00b", "base"}},
		{"contains a NUL", []string{"base", "echo", "a\x00b"}},
		{"contains a NUL", []string{"ba\x00se", "true"}},
		{"a whole number from 0 to 262144", []string{"-c", "262145", "base"}},
		{"a whole number from 0 to 262144", []string{"-c", "18446744073709552640", "base"}}, // 2^64 + 1024
		{"a whole number from -1 to 4194304", []string{"--pids-limit", "-2", "base"}},
		{"a whole number from -1 to 4194304", []string{"--pids-limit", "4294967296", "base"}},
		{"invalid --memory", []string{"-m", "18446744073709551616", "base"}},
		{"invalid --memory-swap", []string{"-m", "64m", "--memory-swap", "-2", "base"}},
		{"invalid --cpus", []string{"--cpus", "1e9", "base"}},
		{"range of CPUs", []string{"--cpus", "1000000", "base"}},
		{"invalid --cpuset-cpus", []string{"--cpuset-cpus", "0-4294967296", "base"}},
		{"invalid port", []string{"-p", "65536:80", "base"}},
		{"invalid port", []string{"-p", "80:-1", "base"}},
		{"not supported", []string{"-p", "8000-8001:80-81", "base"}},
		{"flag provided but not defined", []string{"-\n", "base"}},
		{"invalid volume specification", []string{"-v", "/srv:data", "base"}},
		{"duplicate mount point", []string{"-v", "/srv:/d", "-v", "/d", "base"}},
		{`invalid volume specification "/x\n:/y\n:z"`, []string{"-v", "/x\n:/y\n:z", "base"}},
	} {
		_, err := parseAndCheck(tt.args)
		if err == nil || !strings.Contains(err.Error(), tt.want) || strings.ContainsAny(err.Error(), "\n\r\x00") {
			t.Errorf("run %q: %v; want one line with %q", tt.args, err, tt.want)
		}
	}
}

func TestParseRunFlagsAccepts(t *testing.T) {
	opts, err := parseAndCheck([]string{"-h", "web-1.example.com", "--name", "/a0", "-e", "A=1\nstill A", "-e", "B=",
		"-l", "k", "-l", "x.y=z w", "-w", "/srv/app", "-m", "6m", "-c", "2", "--pids-limit", "-1", "-p", "127.0.0.1:65535:1/udp",
		"base", "sh", "-c", "echo 'multi\nline'"})
	if err != nil {
		t.Fatal(err)
	}
	if c := opts.config; c.Hostname != "web-1.example.com" || len(c.Env) != 2 || c.Labels["k"] != "" || c.Labels["x.y"] != "z w" || c.WorkingDir != "/srv/app" {
		t.Errorf("config %+v", c)
	}
	if hc := opts.hostConfig; hc.Memory != 6<<20 || hc.CpuShares != 2 || hc.PidsLimit != 0 || hc.PortBindings["1/udp"][0].HostPort != "65535" {
		t.Errorf("host config %+v", hc)
	}
	opts, err = parseAndCheck([]string{"-v", "/srv:/data:ro", "-v", "/cache", "--volume", "name:/n", "-v", "/anon:rw", "base"})
	if err != nil {
		t.Fatal(err)
	}
	if binds, volumes := opts.hostConfig.Binds, opts.config.Volumes; !slices.Equal(binds, []string{"/srv:/data:ro", "name:/n", "/anon:rw"}) || len(volumes) != 1 {
		t.Errorf("-v: Binds %q, Volumes %v (docker keeps a bare path in Config.Volumes)", binds, volumes)
	}
	for _, hostname := range []string{"a", "A", "0", strings.Repeat("a", 63), strings.Repeat("a.", 31) + "a", "xn--bcher-kva.example"} {
		if _, err := parseAndCheck([]string{"-h", hostname, "base"}); err != nil {
			t.Errorf("-h %q: %v", hostname, err)
		}
	}
}

func FuzzRunFlags(f *testing.F) {
	for _, seed := range []string{
		"base",
		"-d\xff--name\xffweb\xff-p\xff8080:80\xffbase\xffhttpd\xff-f",
		"-it\xff--rm\xff-e\xffA=1\xff-w\xff/tmp\xff-u\xffnobody\xff-h\xffbox\xffbase\xffsh",
		"-m\xff64m\xff--memory-swap\xff-1\xff-c\xff512\xff--cpus\xff0.5\xff--cpuset-cpus\xff0\xff--pids-limit\xff50\xffbase",
		"-m\xff1.5g\xff--memory-swap\xff3g\xffbase",
		"-m\xff9999999p\xffbase",
		"-c\xff-1\xffbase",
		"--pids-limit\xff9223372036854775808\xffbase",
		"--cpus\xff1e400\xffbase",
		"--cpuset-cpus\xff0-2,4\xffbase",
		"--cpuset-cpus\xff4294967296\xffbase",
		"-p\xff127.0.0.1::80/udp\xff-p\xff0:1\xffbase",
		"-p\xff65536\xffbase",
		"-h\xffevil\n6.6.6.6 injected\xffbase",
		"-h\xffa.b-c.d\xffbase",
		"-e\xffA=\x00\xffbase",
		"-l\xffkey=value\xff-l\xff=x\xffbase",
		"--name\xff" + strings.Repeat("ab", 32) + "\xffbase",
		"--net\xffcontainer:x\xff-p\xff80\xffbase",
		"--net\xffnone\n\xff-p\xff80\xffbase",
		"--detach-keys\xffctrl-a,x\xffbase",
		"--cap-add\xffALL\xff--cap-drop\xffNET_RAW\xffbase",
		"-v\xff/srv:/data:ro\xff-v\xff/cache\xff--volume\xffname:/n\xffbase",
		"-v\xff/a:/../x\xff-v\xff.:/x\xff-v\xff/x:/y:z\xffbase",
		"-t\xff--\xffbase\xff-h",
		"--help",
		"-\n",
	} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, line string) {
		opts, err := parseAndCheck(strings.Split(line, "\xff"))
		if err != nil {
			if msg := err.Error(); strings.ContainsAny(msg, "\n\r") {
				t.Fatalf("error on more than one line: %q", msg)
			}
			return
		}
		checkRunOptions(t, opts)
	})
}

// checkRunOptions checks what a run command line may leave in the container's configuration: only
// values within their ranges, and strings that fit where they go.
func checkRunOptions(t *testing.T, opts *runOptions) {
	c, hc := opts.config, opts.hostConfig
	if c.Hostname != "" && (checkHostname(c.Hostname) != nil || len(c.Hostname) > maxHostname || strings.ContainsAny(c.Hostname, " \t\n#")) {
		t.Fatalf("hostname %q accepted", c.Hostname)
	}
	if name := strings.TrimPrefix(opts.name, "/"); opts.name != "" && checkContainerName(name) != nil {
		t.Fatalf("name %q accepted", opts.name)
	}
	for _, kv := range c.Env {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" || strings.ContainsRune(kv, 0) {
			t.Fatalf("environment variable %q accepted", kv)
		}
	}
	for key, value := range c.Labels {
		if key == "" || strings.ContainsAny(key, " \t\n\r") || strings.ContainsRune(key+value, 0) {
			t.Fatalf("label %q=%q accepted", key, value)
		}
	}
	if c.WorkingDir != "" && (!strings.HasPrefix(c.WorkingDir, "/") || strings.ContainsRune(c.WorkingDir, 0)) {
		t.Fatalf("working directory %q accepted", c.WorkingDir)
	}
	for _, arg := range append([]string{c.Image}, c.Cmd...) {
		if strings.ContainsRune(arg, 0) {
			t.Fatalf("argument %q accepted", arg)
		}
	}
	for _, spec := range append(slices.Collect(maps.Keys(c.Volumes)), hc.Binds...) {
		m, err := parseVolumeSpec(spec)
		if err != nil || !strings.HasPrefix(m.Destination, "/") || m.Destination == "/" || slices.Contains(strings.Split(m.Destination, "/"), "..") {
			t.Fatalf("volume %q accepted: %+v %v", spec, m, err)
		}
	}
	inRange := func(what string, value, min, max int64) {
		if value != 0 && (value < min || value > max) {
			t.Fatalf("%s %d accepted, outside %d..%d", what, value, min, max)
		}
	}
	inRange("memory", hc.Memory, minimumMemory, maximumMemory)
	if hc.MemorySwap != -1 {
		inRange("memory+swap", hc.MemorySwap, hc.Memory, 2*maximumMemory)
	}
	inRange("cpu shares", hc.CpuShares, minCpuShares, maxCpuShares)
	inRange("nano CPUs", hc.NanoCpus, 1e7, int64(runtime.NumCPU())*1e9)
	inRange("pids limit", hc.PidsLimit, 1, maxPidsLimit)
	if _, err := parseCPUList(hc.CpusetCpus); hc.CpusetCpus != "" && err != nil {
		t.Fatalf("cpuset %q accepted", hc.CpusetCpus)
	}
	for key, bindings := range hc.PortBindings {
		port, proto, _ := strings.Cut(key, "/")
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || (proto != "tcp" && proto != "udp") {
			t.Fatalf("port %q accepted", key)
		}
		for _, b := range bindings {
			n, err := strconv.Atoi(b.HostPort)
			if (b.HostPort != "" && (err != nil || n < 1 || n > 65535)) || net.ParseIP(b.HostIp).To4() == nil {
				t.Fatalf("host address %q:%q accepted", b.HostIp, b.HostPort)
			}
		}
	}
}
