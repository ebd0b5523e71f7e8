// main.go: where every engine process starts.
//
// One binary plays six parts:
//
//	engine -d [-H ADDR] [-r DIR] [--bridge NAME] [--subnet CIDR] [--log-opt KEY=VALUE ...]
//	          [--insecure-registry HOST[:PORT] ...]
//	                                        the daemon: owns ROOT, serves commands over TCP (server.go)
//	engine [-H ADDR] [-r DIR] COMMAND ...   the client: sends COMMAND to the daemon, relays its streams
//	                                        and exits with the status it gets back (client.go)
//	engine init keeper                      the keeper of one container: started by the daemon, the
//	                                        parent of its first process, outliving the daemon (keeper.go)
//	engine init                             the first process of a container, started by its keeper
//	                                        inside the new namespaces (init.go); not for people
//	engine init exec                        the helper that starts `engine exec`'s process inside a
//	                                        running container (exec.go, exec_helper.go); not for people either
//	engine init cp, engine init cp-root     the helper that does `engine cp`'s container side inside the
//	                                        container's root (cp.go, cp_helper.go); nor this
//
// `engine run base echo hi` starts here, becomes a Request in client.go, travels in tcp.go's frames and
// is answered by server.go.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"golang.org/x/sys/unix"
)

const (
	defaultAddr = "127.0.0.1:4242"
	defaultRoot = "/var/lib/engine"
)

// version is the engine's version. A variable, so a build can set it (-ldflags -X main.version=…): the
// upgrade test builds a second engine that way and has it adopt the first one's keepers.
var version = "0.1.0"

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv(initPipeEnv) != "" {
		if len(os.Args) > 2 && os.Args[2] == "exec" {
			os.Exit(ExecInit()) // exec_helper.go
		}
		if len(os.Args) > 2 && os.Args[2] == "cp" {
			os.Exit(CopyInit()) // cp_helper.go
		}
		if len(os.Args) > 2 && os.Args[2] == "cp-root" {
			os.Exit(CopyInRoot())
		}
		if len(os.Args) > 2 && os.Args[2] == "keeper" {
			os.Exit(Keep()) // keeper.go
		}
		os.Exit(Init())
	}
	flags := flag.NewFlagSet("engine", flag.ContinueOnError)
	flags.SetOutput(os.Stderr)
	daemon := flags.Bool("d", false, "run the daemon")
	addr := flags.String("H", envOr("ENGINE_HOST", defaultAddr), "the daemon's TCP address (also $ENGINE_HOST)")
	root := flags.String("r", envOr("ENGINE_ROOT", defaultRoot), "the daemon's root directory (also $ENGINE_ROOT)")
	bridge := flags.String("bridge", defaultBridge, "with -d: the bridge containers are attached to")
	subnet := flags.String("subnet", "", "with -d: the bridge's subnet, e.g. 172.30.0.0/16 (default: a free one)")
	var logOpts []string
	flags.Func("log-opt", "with -d, repeatable: how containers' logs are kept unless their own --log-opt say otherwise:\nmax-size=SIZE (1k to 1t, default 20m), max-file=N (1 to 100, default 5)", func(opt string) error {
		logOpts = append(logOpts, opt)
		return nil
	})
	var insecure []string
	flags.Func("insecure-registry", "with -d, repeatable: a registry (HOST[:PORT]) that may speak plain HTTP or show any certificate", func(registry string) error {
		if !validRegistry(registry) {
			return fmt.Errorf("%q is not HOST[:PORT]", registry)
		}
		insecure = append(insecure, registry)
		return nil
	})
	flags.Usage = func() { printUsage(flags) }
	if err := flags.Parse(os.Args[1:]); err != nil {
		if err == flag.ErrHelp {
			os.Exit(0)
		}
		os.Exit(125)
	}
	address := strings.TrimPrefix(*addr, "tcp://")
	switch {
	case *daemon:
		logDefaults, err := parseLogOpts(logOpts, nil)
		if err != nil {
			fmt.Fprintf(os.Stderr, "engine -d: %v\n", err)
			os.Exit(125)
		}
		os.Exit(runDaemon(address, *root, *bridge, *subnet, logDefaults, insecure))
	case flags.NArg() == 0:
		printUsage(flags)
		os.Exit(0)
	default:
		os.Exit(Client(address, *root, flags.Args()))
	}
}

// runDaemon serves until SIGTERM or SIGINT, then leaves; the running containers stay, with their keepers
// (keeper.go), for the next daemon to adopt.
func runDaemon(addr, root, bridge, subnet string, logDefaults map[string]string, insecure []string) int {
	// A shell, a service manager or a test harness may have left descriptors open in the daemon; none
	// may reach a container (CVE-2024-21626 began with one), so every one from 3 up closes at execve.
	if err := markFdsCloseOnExec(); err != nil {
		fmt.Fprintf(os.Stderr, "engine -d: %v\n", err)
		return 1
	}
	if err := checkRootIsMountPoint(); err != nil {
		fmt.Fprintf(os.Stderr, "engine -d: %v\n", err)
		return 1
	}
	runtime, err := NewRuntime(root, bridge, subnet)
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine -d: %v\n", err)
		return 1
	}
	runtime.LogDefaults = logDefaults
	runtime.Registries.Insecure = insecure
	srv, err := Listen(addr, runtime)
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine -d: %v\n", err)
		runtime.Shutdown()
		return 1
	}
	fmt.Fprintf(os.Stderr, "engine -d: serving on %s, root %s\n", srv.Addr(), root)
	signals := make(chan os.Signal, 1)
	signal.Notify(signals, syscall.SIGTERM, syscall.SIGINT)
	go srv.Serve()
	sig := <-signals
	fmt.Fprintf(os.Stderr, "engine -d: %v: leaving; running containers stay with their keepers\n", sig)
	runtime.BeginShutdown() // first: requests already accepted may still be on their way to a start
	srv.Close()
	runtime.Shutdown()
	return 0
}

func printUsage(flags *flag.FlagSet) {
	fmt.Fprintf(os.Stderr, "Usage: engine [-H ADDR] [-r DIR] COMMAND [ARGS...]\n       engine -d [-H ADDR] [-r DIR] [--bridge NAME] [--subnet CIDR] [--log-opt KEY=VALUE ...] [--insecure-registry HOST[:PORT] ...]\n\n")
	flags.PrintDefaults()
	fmt.Fprintf(os.Stderr, "\nCommands:\n%s\nRun 'engine COMMAND --help' for more on a command.\n", commandList())
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}

// checkRootIsMountPoint refuses a daemon whose "/" is not a mount point, as in a chroot into a plain
// directory. Init's first step makes every mount below "/" private, so that nothing mounted for a
// container shows on the host; mount(2) refuses that with EINVAL when "/" is no mount point, and from
// inside the chroot no path leads to the mount that holds it. Bind-mounting the directory onto itself
// before the chroot makes it one (statx(2) tells it by STATX_ATTR_MOUNT_ROOT).
func checkRootIsMountPoint() error {
	var stx unix.Statx_t
	if err := unix.Statx(unix.AT_FDCWD, "/", 0, unix.STATX_BASIC_STATS, &stx); err != nil {
		return fmt.Errorf("statx /: %w", err)
	}
	if stx.Attributes_mask&unix.STATX_ATTR_MOUNT_ROOT != 0 && stx.Attributes&unix.STATX_ATTR_MOUNT_ROOT == 0 {
		return errors.New("/ is not a mount point (a chroot into a plain directory?): containers need one; bind-mount the directory onto itself before chroot")
	}
	return nil
}
