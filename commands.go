// commands.go: the container commands, one CmdXxx method each.
//
// server.go finds these methods by name: `engine stop web` calls CmdStop(session, ["web"]). Each command
// parses its flags (flags.go) and checks the strings it was given (validate.go), then calls the Runtime
// (runtime.go) and the Container (container.go), where the work is done; a command only translates
// between the command line and those methods, so a second front door (the Docker HTTP API, later) can
// call the same ones. The commands that only look at containers (ps, port, inspect) are in
// commands_inspect.go, logs in logs.go, stats in commands_stats.go, image commands in
// commands_images.go, volume commands in commands_volume.go, the daemon's own (version, info, help) in
// commands_system.go.
package main

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type runOptions struct {
	config     *Config
	hostConfig *HostConfig
	name       string
	detach     bool
	pull       string        // --pull: missing, always or never (pullFor)
	attach     attachOptions // run in the foreground (attach.go)
	flags      *Flags        // as parsed, for the client's look at --security-opt (seccomp.go)
}

// parseRunFlags reads the flags `run` and `create` share: everything that describes the container.
func parseRunFlags(session *Session, command, description string, args []string) (*runOptions, error) {
	opts := &runOptions{config: &Config{}, hostConfig: &HostConfig{NetworkMode: defaultNetworkMode, PortBindings: map[string][]PortBinding{}}}
	opts.attach.sigProxy = true
	var env, labels, ports, capAdd, capDrop, securityOpt, volumes, logOpts []string
	var memory, memorySwap, cpus, entrypoint string
	var cpuShares, pidsLimit int
	detachKeys := defaultDetachKeys
	f := newFlags(session, command, "[OPTIONS] IMAGE [COMMAND] [ARG...]", description)
	opts.flags = f
	if command == "run" {
		f.Bool(&opts.detach, "d", "detach", "Run the container in the background and print its ID")
		f.String(&detachKeys, "", "detach-keys", "string", "The keys that detach from a container with a terminal (default ctrl-p,ctrl-q)")
		f.Bool(&opts.attach.sigProxy, "", "sig-proxy", "Pass SIGINT and SIGTERM on to the container, without a terminal (default true)")
	}
	f.Bool(&opts.config.OpenStdin, "i", "interactive", "Keep STDIN open and pass the client's input to the container")
	f.Bool(&opts.config.Tty, "t", "tty", "Give the container a terminal (the client's, in raw mode, with -i)")
	f.List(&env, "e", "env", "Set an environment variable (NAME=VALUE)")
	f.String(&opts.config.WorkingDir, "w", "workdir", "string", "Working directory inside the container")
	f.String(&opts.config.User, "u", "user", "string", "User to run as: name|uid[:group|gid]")
	f.String(&entrypoint, "", "entrypoint", "string", "Run this instead of the image's entrypoint (\"\" for none)")
	f.String(&opts.name, "", "name", "string", "Name the container")
	f.Bool(&opts.hostConfig.AutoRemove, "", "rm", "Remove the container when it exits")
	f.String(&opts.config.Hostname, "h", "hostname", "string", "Container host name (default: its short ID)")
	f.List(&labels, "l", "label", "Set a label (key=value) on the container")
	f.String(&opts.hostConfig.NetworkMode, "", "net", "string", "Network: bridge (default), none, host or container:NAME")
	f.List(&ports, "p", "publish", "Publish a port: [hostIP:][hostPort:]containerPort[/tcp|udp]")
	f.List(&volumes, "v", "volume", "Bind a host path or mount a volume: [/HOST-PATH|NAME:]/CONTAINER-PATH[:ro|rw]")
	f.List(&capAdd, "", "cap-add", "Add a Linux capability (NET_ADMIN, ..., or ALL)")
	f.List(&capDrop, "", "cap-drop", "Drop a Linux capability (CHOWN, ..., or ALL)")
	f.Bool(&opts.hostConfig.ReadonlyRootfs, "", "read-only", "Mount the container's root filesystem read-only")
	f.List(&securityOpt, "", "security-opt", "seccomp=unconfined, seccomp=PROFILE.json (Docker's format) or no-new-privileges")
	f.String(&memory, "m", "memory", "bytes", "Memory limit (e.g. 64m; at least 6m)")
	f.String(&memorySwap, "", "memory-swap", "bytes", "Memory plus swap limit; -1 for unlimited swap (default: twice --memory)")
	f.Int(&cpuShares, "c", "cpu-shares", 0, maxCpuShares, "CPU shares, a relative weight (1024 is one CPU's share)")
	f.String(&cpus, "", "cpus", "decimal", "Number of CPUs (e.g. 1.5)")
	f.String(&opts.hostConfig.CpusetCpus, "", "cpuset-cpus", "string", "CPUs the container may run on (0-3, 0,1)")
	f.Int(&pidsLimit, "", "pids-limit", -1, maxPidsLimit, "At most this many processes (-1 for no limit)")
	opts.pull = "missing"
	f.String(&opts.pull, "", "pull", "string", "Pull the image from its registry: missing (when the store lacks it), always or never")
	f.List(&logOpts, "", "log-opt", "How the log is kept: max-size=SIZE (a file's size, 1k to 1t; default 20m), max-file=N (files kept, 1 to 100; default 5)")
	positional, err := f.Parse(args, 1, -1, false)
	if err != nil {
		return nil, err
	}
	opts.config.Image, opts.config.Cmd = positional[0], positional[1:]
	if opts.pull != "missing" && opts.pull != "always" && opts.pull != "never" {
		return nil, fmt.Errorf("invalid --pull %q: missing, always or never", printable(opts.pull))
	}
	if f.Changed("entrypoint") { // given, even empty: the image's entrypoint is not used (imageconfig.go)
		opts.config.Entrypoint = []string{}
		if entrypoint != "" {
			opts.config.Entrypoint = []string{entrypoint}
		}
	}
	if err := opts.checkStrings(env); err != nil {
		return nil, err
	}
	if opts.attach.detachKeys, err = parseDetachKeys(detachKeys); err != nil {
		return nil, err
	}
	// As docker's client sets it: the stdin of a container run in the foreground (or created to be
	// started so) ends with its first client's input.
	opts.config.StdinOnce = opts.config.OpenStdin && !opts.detach
	opts.attach.stdin = opts.config.OpenStdin
	opts.config.Env = env
	opts.hostConfig.CpuShares, opts.hostConfig.PidsLimit = int64(cpuShares), int64(pidsLimit)
	if err := opts.hostConfig.parseResourceFlags(memory, memorySwap, cpus); err != nil {
		return nil, err
	}
	for _, spec := range ports {
		port, err := ParsePortSpec(spec)
		if err != nil {
			return nil, err
		}
		if opts.hostConfig.NetworkMode != "bridge" {
			return nil, fmt.Errorf("-p needs the bridge network, not --net %s", printable(opts.hostConfig.NetworkMode))
		}
		hostPort := ""
		if port.HostPort != 0 {
			hostPort = strconv.Itoa(port.HostPort)
		}
		opts.hostConfig.PortBindings[port.Key()] = append(opts.hostConfig.PortBindings[port.Key()], PortBinding{HostIp: port.HostIP, HostPort: hostPort})
	}
	if opts.hostConfig.CapAdd, err = parseCapabilities(capAdd); err != nil {
		return nil, err
	}
	if opts.hostConfig.CapDrop, err = parseCapabilities(capDrop); err != nil {
		return nil, err
	}
	opts.hostConfig.SecurityOpt = securityOpt // checked by Create: the client parses these flags too
	if opts.config.Labels, err = parseLabels(labels); err != nil {
		return nil, err
	}
	if err := opts.setVolumes(volumes); err != nil {
		return nil, err
	}
	if len(logOpts) > 0 { // the daemon's defaults go under them in Create
		if opts.hostConfig.LogConfig.Config, err = parseLogOpts(logOpts, nil); err != nil {
			return nil, err
		}
	}
	return opts, nil
}

// setVolumes checks the -v strings and records them as docker does: a bare container path (an anonymous
// volume) in Config.Volumes, every other in HostConfig.Binds. Create resolves them (runtime_volumes.go).
func (opts *runOptions) setVolumes(specs []string) error {
	if _, err := parseVolumeSpecs(specs); err != nil {
		return err
	}
	for _, spec := range specs {
		if !strings.Contains(spec, ":") {
			if opts.config.Volumes == nil {
				opts.config.Volumes = map[string]struct{}{}
			}
			opts.config.Volumes[spec] = struct{}{}
		} else {
			opts.hostConfig.Binds = append(opts.hostConfig.Binds, spec)
		}
	}
	return nil
}

// checkStrings checks the strings of a run or create that reach a file, the kernel or the record,
// before anything is made (validate.go says why each matters).
func (opts *runOptions) checkStrings(env []string) error {
	if opts.name != "" {
		if err := checkContainerName(strings.TrimPrefix(opts.name, "/")); err != nil {
			return err
		}
	}
	if opts.config.Hostname != "" {
		if err := checkHostname(opts.config.Hostname); err != nil {
			return err
		}
	}
	if err := checkEnv(env); err != nil {
		return err
	}
	if err := checkWorkingDir(opts.config.WorkingDir); err != nil {
		return err
	}
	return checkCommand(append(append([]string{opts.config.Image}, opts.config.Entrypoint...), opts.config.Cmd...))
}

func (srv *Server) CmdRun(session *Session, args []string) error {
	opts, err := parseRunFlags(session, "run", "Create and run a new container from an image", args)
	if err != nil {
		return err
	}
	if err := srv.pullFor(session, opts.pull, opts.config.Image); err != nil {
		return err
	}
	c, err := srv.runtime.Create(opts.config, opts.hostConfig, opts.name)
	if err != nil {
		return err
	}
	if !opts.detach {
		return srv.startAttached(session, c, opts.attach)
	}
	if err := srv.start(c); err != nil {
		return err
	}
	fmt.Fprintln(session.Stdout, c.ID)
	return nil
}

func (srv *Server) CmdCreate(session *Session, args []string) error {
	opts, err := parseRunFlags(session, "create", "Create a new container; `engine start` runs it", args)
	if err != nil {
		return err
	}
	if err := srv.pullFor(session, opts.pull, opts.config.Image); err != nil {
		return err
	}
	c, err := srv.runtime.Create(opts.config, opts.hostConfig, opts.name)
	if err != nil {
		return err
	}
	fmt.Fprintln(session.Stdout, c.ID)
	return nil
}

// pullFor pulls the image of a run or create as --pull says: when the store lacks it (missing, the
// default), always, or never. Its progress goes to stderr, as docker's does: a run's stdout is the
// container's.
func (srv *Server) pullFor(session *Session, policy, image string) error {
	if policy == "never" {
		return nil
	}
	_, err := srv.runtime.LookupImage(image)
	if policy == "missing" && !errors.Is(err, errNoSuchImage) {
		return nil // found, or a failure that a pull would not mend: Create reports it
	}
	ref, parseErr := ParseRemoteReference(image)
	if parseErr != nil {
		if err != nil {
			return err
		}
		return parseErr
	}
	if policy == "missing" {
		fmt.Fprintf(session.Stderr, "Unable to find image '%s' locally\n", ref)
	}
	ctx, cancel := untilGone(session)
	defer cancel()
	_, err = srv.runtime.Pull(ctx, ref, session.Stderr, session.askCredentials)
	return err
}

// start starts a container; one with --rm that cannot start is removed, as Docker does.
func (srv *Server) start(c *Container) error {
	err := c.Start()
	if err != nil && c.HostConfig.AutoRemove {
		srv.runtime.Destroy(c)
	}
	return err
}

// startAttached starts a container and relays its streams until it exits: `run` = create + `start -a`.
func (srv *Server) startAttached(session *Session, c *Container, opts attachOptions) error {
	logs, err := c.openLogs() // opened before the start, so no output is missed
	if err != nil {
		return err
	}
	defer logs.Close()
	if c.Config.Tty { // the terminal opens with the client's size
		rows, cols, err := session.askTerminal()
		if err != nil {
			if c.HostConfig.AutoRemove {
				srv.runtime.Destroy(c)
			}
			return err
		}
		c.setConsoleSize(rows, cols)
	}
	if err := srv.start(c); err != nil {
		return err
	}
	status, err := session.attach(c, logs, opts)
	if err != nil {
		return err
	}
	if status != 0 {
		return &StatusError{Status: status}
	}
	return nil
}

func (srv *Server) CmdStart(session *Session, args []string) error {
	var attach, interactive bool
	f := newFlags(session, "start", "[OPTIONS] CONTAINER [CONTAINER...]", "Start one or more stopped containers")
	f.Bool(&attach, "a", "attach", "Attach to the container's output (and exit with its status)")
	f.Bool(&interactive, "i", "interactive", "Attach the container's STDIN")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	if attach || interactive {
		if len(names) > 1 {
			return fmt.Errorf("you cannot start and attach several containers at once")
		}
		c, err := srv.runtime.Get(names[0])
		if err != nil {
			return err
		}
		return srv.startAttached(session, c, attachOptions{stdin: interactive, sigProxy: true, detachKeys: ctrlPCtrlQ})
	}
	return srv.eachContainer(session, "start", names, func(c *Container) error {
		if c.exitedChan() != nil {
			return nil // already running: nothing to do, as with docker
		}
		return srv.start(c)
	})
}

func (srv *Server) CmdExec(session *Session, args []string) error {
	var config ExecConfig
	var detach, interactive bool
	detachKeys := defaultDetachKeys
	f := newFlags(session, "exec", "[OPTIONS] CONTAINER COMMAND [ARG...]", "Run a command in a running container")
	f.Bool(&detach, "d", "detach", "Run the command in the background")
	f.Bool(&interactive, "i", "interactive", "Pass the client's input to the command")
	f.Bool(&config.Tty, "t", "tty", "Give the command a terminal")
	f.String(&detachKeys, "", "detach-keys", "string", "Keys that detach from the terminal (ctrl-p,ctrl-q)")
	f.List(&config.Env, "e", "env", "Set an environment variable (NAME=VALUE)")
	f.String(&config.WorkingDir, "w", "workdir", "string", "Working directory inside the container")
	f.String(&config.User, "u", "user", "string", "User to run as: name|uid[:group|gid]")
	positional, err := f.Parse(args, 2, -1, false)
	if err != nil {
		return err
	}
	if err := checkEnv(config.Env); err != nil {
		return err
	}
	if err := checkWorkingDir(config.WorkingDir); err != nil {
		return err
	}
	if err := checkCommand(positional[1:]); err != nil {
		return err
	}
	c, err := srv.runtime.Get(positional[0])
	if err != nil {
		return err
	}
	keys, err := parseDetachKeys(detachKeys)
	if err != nil {
		return err
	}
	config.Cmd = positional[1:]
	var status int
	switch {
	case detach:
		return c.execDetached(&config)
	case config.Tty:
		status, err = c.execWithTerminal(session, &config, interactive, keys)
	default:
		status, err = c.execWithPipes(session, &config, interactive)
	}
	if err == nil && status != 0 {
		err = &StatusError{Status: status}
	}
	return err
}

// maxStopTimeout bounds stop -t and restart -t (in seconds), as every wait is bounded: a day.
const maxStopTimeout = 24 * 60 * 60

func (srv *Server) CmdStop(session *Session, args []string) error {
	timeout := 10
	f := newFlags(session, "stop", "[OPTIONS] CONTAINER [CONTAINER...]", "Stop one or more running containers (SIGTERM, then SIGKILL after the timeout)")
	f.Int(&timeout, "t", "time", 0, maxStopTimeout, "Seconds to wait before killing the container")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	return srv.eachContainer(session, "stop", names, func(c *Container) error {
		return c.Stop(time.Duration(timeout) * time.Second)
	})
}

func (srv *Server) CmdRestart(session *Session, args []string) error {
	timeout := 10
	f := newFlags(session, "restart", "[OPTIONS] CONTAINER [CONTAINER...]", "Restart one or more containers")
	f.Int(&timeout, "t", "time", 0, maxStopTimeout, "Seconds to wait before killing the container")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	return srv.eachContainer(session, "restart", names, func(c *Container) error {
		if err := c.Stop(time.Duration(timeout) * time.Second); err != nil {
			return err
		}
		return srv.start(c)
	})
}

func (srv *Server) CmdKill(session *Session, args []string) error {
	signal := "KILL"
	f := newFlags(session, "kill", "[OPTIONS] CONTAINER [CONTAINER...]", "Send a signal to one or more running containers")
	f.String(&signal, "s", "signal", "string", "Signal to send (name or number)")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	sig, err := parseSignal(signal)
	if err != nil {
		return err
	}
	return srv.eachContainer(session, "kill", names, func(c *Container) error {
		return c.Kill(syscall.Signal(sig))
	})
}

func (srv *Server) CmdWait(session *Session, args []string) error {
	f := newFlags(session, "wait", "CONTAINER [CONTAINER...]", "Block until containers stop, then print their exit codes")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	session.listen() // a client that leaves while nothing has stopped yet is noticed
	for _, name := range names {
		c, err := srv.runtime.Get(name)
		if err != nil {
			return err
		}
		if exited := c.exitedChan(); exited != nil {
			select {
			case <-exited:
			case <-session.conn.Gone():
				return errClientLeft
			}
		}
		fmt.Fprintln(session.Stdout, c.Wait())
	}
	return nil
}

func (srv *Server) CmdRm(session *Session, args []string) error {
	var force, volumes bool
	f := newFlags(session, "rm", "[OPTIONS] CONTAINER [CONTAINER...]", "Remove one or more containers, with their logs and changes")
	f.Bool(&force, "f", "force", "Kill and remove running containers")
	f.Bool(&volumes, "v", "volumes", "Remove the containers' anonymous volumes too")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	return srv.eachContainer(session, "rm", names, func(c *Container) error {
		err := srv.runtime.Remove(c, force)
		if err == nil && volumes {
			srv.runtime.removeAnonymousVolumes(c)
		}
		return err
	})
}

// eachContainer applies an action to the named containers, printing each name that succeeded.
func (srv *Server) eachContainer(session *Session, command string, names []string, action func(*Container) error) error {
	return eachName(session, command, names, func(name string) error {
		c, err := srv.runtime.Get(name)
		if err == nil {
			err = action(c)
		}
		if err == nil {
			fmt.Fprintln(session.Stdout, name)
		}
		return err
	})
}

// eachName applies an action to each name a command was given. As with docker's rm, rmi and volume rm,
// one that fails does not stop the others: it gets one line on stderr, and the command fails at the end.
func eachName(session *Session, command string, names []string, action func(name string) error) error {
	failed := false
	for _, name := range names {
		if err := action(name); err != nil {
			fmt.Fprintf(session.Stderr, "engine: %s: %v\n", command, err)
			failed = true
		}
	}
	if failed {
		return &StatusError{Status: 125}
	}
	return nil
}
