// commands_system.go: the commands about the engine itself, CmdVersion, CmdInfo and CmdHelp.
package main

import (
	"fmt"
	"os"
	"runtime"
	"strings"

	"golang.org/x/sys/unix"
)

// commands is the table `engine help` prints, in the order a newcomer meets them. A test checks that it
// names every CmdXxx method and nothing else.
var commands = [][2]string{
	{"run", "Create and run a new container from an image"},
	{"create", "Create a new container"},
	{"start", "Start one or more stopped containers"},
	{"exec", "Run a command in a running container"},
	{"stop", "Stop one or more running containers"},
	{"restart", "Restart one or more containers"},
	{"kill", "Send a signal to one or more running containers"},
	{"attach", "Attach to a running container's input and output"},
	{"wait", "Block until containers stop, then print their exit codes"},
	{"rm", "Remove one or more containers"},
	{"ps", "List containers"},
	{"stats", "Display the containers' use of CPU, memory and processes"},
	{"logs", "Print a container's output"},
	{"cp", "Copy files/folders between a container and the local filesystem"},
	{"port", "List a container's published ports"},
	{"inspect", "Print low-level information on containers or images"},
	{"diff", "List the files a container added, changed or deleted"},
	{"commit", "Create a new image from a container's changes"},
	{"export", "Write a container's file system as a tar archive"},
	{"import", "Import a root filesystem tarball as an image"},
	{"pull", "Download an image from a registry"},
	{"push", "Upload an image to a registry"},
	{"login", "Log in to a registry (`engine logout [SERVER]`, which the client does alone, forgets it)"},
	{"images", "List images"},
	{"tag", "Give an image another name"},
	{"rmi", "Remove images"},
	{"save", "Save images to a tar archive (docker-archive)"},
	{"load", "Load images from a tar archive (docker-archive)"},
	{"history", "Show how an image was made"},
	{"volume", "Manage volumes: create, ls, inspect, rm"},
	{"version", "Show the engine's version"},
	{"info", "Show system-wide information"},
	{"help", "List the commands"},
}

func commandList() string {
	var b strings.Builder
	for _, command := range commands {
		fmt.Fprintf(&b, "  %-10s %s\n", command[0], command[1])
	}
	return b.String()
}

func (srv *Server) CmdHelp(session *Session, args []string) error {
	fmt.Fprintf(session.Stdout, "Usage: engine [-H ADDR] [-r DIR] COMMAND [ARGS...]\n\nCommands:\n%s\nRun 'engine COMMAND --help' for more on a command.\n", commandList())
	return nil
}

func (srv *Server) CmdVersion(session *Session, args []string) error {
	f := newFlags(session, "version", "", "Show the engine's version")
	if _, err := f.Parse(args, 0, 0, true); err != nil {
		return err
	}
	fmt.Fprintf(session.Stdout, "Engine:\n Version:     %s\n Go version:  %s\n OS/Arch:     %s/%s\n Kernel:      %s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH, kernelRelease())
	return nil
}

func (srv *Server) CmdInfo(session *Session, args []string) error {
	f := newFlags(session, "info", "", "Show system-wide information")
	if _, err := f.Parse(args, 0, 0, true); err != nil {
		return err
	}
	containers := srv.runtime.List()
	running := 0
	for _, c := range containers {
		if c.exitedChan() != nil {
			running++
		}
	}
	images, err := srv.runtime.graph.List()
	if err != nil {
		return err
	}
	hostname, _ := os.Hostname()
	fmt.Fprintf(session.Stdout, "Containers: %d\n Running: %d\n Stopped: %d\nImages: %d\n", len(containers), running, len(containers)-running, len(images))
	// Records a daemon could not load at its start, set aside in ROOT/broken for an admin (runtime_restore.go).
	fmt.Fprintf(session.Stdout, "Broken Records: %d\n", srv.runtime.BrokenRecords())
	fmt.Fprintf(session.Stdout, "Server Version: %s\nStorage Driver: overlay\nLogging Driver: %s\n", version, srv.runtime.loggingDriver())
	cgroupVersion := 1
	if srv.runtime.cgroups.Unified {
		cgroupVersion = 2
	}
	fmt.Fprintf(session.Stdout, "Cgroup Driver: cgroupfs\nCgroup Version: %d\n", cgroupVersion)
	fmt.Fprintf(session.Stdout, "Network: %s\nKernel Version: %s\nOSType: linux\nArchitecture: %s\nCPUs: %d\n", srv.runtime.network, kernelRelease(), runtime.GOARCH, runtime.NumCPU())
	fmt.Fprintf(session.Stdout, "ID: %s\nName: %s\nEngine Root Dir: %s\nListening: %s\n", srv.runtime.ID, hostname, srv.runtime.root, srv.Addr())
	return nil
}

func kernelRelease() string {
	var uts unix.Utsname
	if unix.Uname(&uts) != nil {
		return "unknown"
	}
	return unix.ByteSliceToString(uts.Release[:])
}
