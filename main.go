// main.go: where every engine process starts.
//
// One binary plays four parts:
//
//	engine -d [-H ADDR] [-r DIR] [--bridge NAME] [--subnet CIDR]
//	                                        the daemon: owns ROOT, serves commands over TCP (server.go)
//	engine [-H ADDR] [-r DIR] COMMAND ...   the client: sends COMMAND to the daemon, relays its streams
//	                                        and exits with the status it gets back (tcp.go)
//	engine init                             the first process of a container, started by the daemon
//	                                        inside the new namespaces (init.go); not for people
//	engine init exec                        the helper that starts `engine exec`'s process inside a
//	                                        running container (exec.go); not for people either
//
// `engine run base echo hi` starts here, becomes a Request in tcp.go and is answered by server.go.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

const (
	defaultAddr = "127.0.0.1:4242"
	defaultRoot = "/var/lib/engine"
	version     = "0.1.0"
)

func main() {
	if len(os.Args) > 1 && os.Args[1] == "init" && os.Getenv(initPipeEnv) != "" {
		if len(os.Args) > 2 && os.Args[2] == "exec" {
			os.Exit(ExecInit()) // exec.go
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
		os.Exit(runDaemon(address, *root, *bridge, *subnet))
	case flags.NArg() == 0:
		printUsage(flags)
		os.Exit(0)
	default:
		os.Exit(Client(address, *root, flags.Args()))
	}
}

// runDaemon serves until SIGTERM or SIGINT, then stops the running containers and leaves.
func runDaemon(addr, root, bridge, subnet string) int {
	runtime, err := NewRuntime(root, bridge, subnet)
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine -d: %v\n", err)
		return 1
	}
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
	fmt.Fprintf(os.Stderr, "engine -d: %v: stopping containers\n", sig)
	srv.Close()
	runtime.Shutdown()
	return 0
}

func printUsage(flags *flag.FlagSet) {
	fmt.Fprintf(os.Stderr, "Usage: engine [-H ADDR] [-r DIR] COMMAND [ARGS...]\n       engine -d [-H ADDR] [-r DIR] [--bridge NAME] [--subnet CIDR]\n\n")
	flags.PrintDefaults()
	fmt.Fprintf(os.Stderr, "\nCommands:\n%s\nRun 'engine COMMAND --help' for more on a command.\n", commandList())
}

func envOr(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
