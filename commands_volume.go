// commands_volume.go: `engine volume create|ls|inspect|rm`, docker's volume commands.
//
// CmdVolume reads the subcommand and hands it to one method each; like the commands in commands.go,
// they parse their flags (flags.go) and call the VolumeStore (volumes.go) or, where containers matter,
// the Runtime (runtime_volumes.go). Volumes are made here or by `run -v` (on first use), and mounted
// by init at a container's start (rootfs.go).
package main

import (
	"encoding/json"
	"fmt"
	"strings"
	"text/tabwriter"
)

var volumeCommands = [][2]string{
	{"create", "Create a volume"},
	{"ls", "List volumes"},
	{"inspect", "Print volumes' details as JSON"},
	{"rm", "Remove one or more volumes"},
}

func (srv *Server) CmdVolume(session *Session, args []string) error {
	if len(args) == 0 || args[0] == "--help" || args[0] == "-h" || args[0] == "help" {
		fmt.Fprintf(session.Stdout, "Usage:  engine volume COMMAND\n\nManage volumes\n\nCommands:\n")
		for _, command := range volumeCommands {
			fmt.Fprintf(session.Stdout, "  %-9s %s\n", command[0], command[1])
		}
		return nil
	}
	switch args[0] {
	case "create":
		return srv.volumeCreate(session, args[1:])
	case "ls", "list":
		return srv.volumeLs(session, args[1:])
	case "inspect":
		return srv.volumeInspect(session, args[1:])
	case "rm", "remove":
		return srv.volumeRm(session, args[1:])
	}
	return fmt.Errorf("%q is not a volume command (see 'engine volume --help')", args[0])
}

func (srv *Server) volumeCreate(session *Session, args []string) error {
	var labelArgs []string
	f := newFlags(session, "volume create", "[OPTIONS] [VOLUME]", "Create a volume (with no name, a random one); an existing volume is left as it is")
	f.List(&labelArgs, "", "label", "Set a label (key=value) on the volume")
	names, err := f.Parse(args, 0, 1, true)
	if err != nil {
		return err
	}
	labels, err := parseLabels(labelArgs)
	if err != nil {
		return err
	}
	name := newID() // with no name given, a random one; still not anonymous: only -v /path makes those
	if len(names) == 1 {
		name = names[0]
	}
	v, _, err := srv.runtime.volumes.Create(name, labels)
	if err != nil {
		return err
	}
	fmt.Fprintln(session.Stdout, v.Name)
	return nil
}

func (srv *Server) volumeLs(session *Session, args []string) error {
	var quiet bool
	var filterArgs []string
	f := newFlags(session, "volume ls", "[OPTIONS]", "List volumes")
	f.Bool(&quiet, "q", "quiet", "Only print volume names")
	f.List(&filterArgs, "f", "filter", "Filter: dangling=true|false (used by no container), name=PART")
	if _, err := f.Parse(args, 0, 0, true); err != nil {
		return err
	}
	match, err := srv.volumeFilter(filterArgs)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(session.Stdout, 0, 8, 4, ' ', 0)
	if !quiet {
		fmt.Fprintln(w, "DRIVER\tVOLUME NAME")
	}
	for _, v := range srv.runtime.volumes.List() {
		if !match(v) {
			continue
		}
		if quiet {
			fmt.Fprintln(w, v.Name)
		} else {
			fmt.Fprintf(w, "%s\t%s\n", v.Driver, v.Name)
		}
	}
	return w.Flush()
}

// volumeFilter reads `volume ls -f`: as with `ps`, values of one key are alternatives, keys all apply.
func (srv *Server) volumeFilter(args []string) (func(*Volume) bool, error) {
	filters := map[string][]string{}
	for _, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("bad filter %q: expected key=value", arg)
		case key != "dangling" && key != "name":
			return nil, fmt.Errorf("invalid filter %q", key)
		case key == "dangling" && value != "true" && value != "false":
			return nil, fmt.Errorf("invalid filter 'dangling=%s': true or false", printable(value))
		}
		filters[key] = append(filters[key], value)
	}
	return func(v *Volume) bool {
		for key, values := range filters {
			matched := false
			for _, value := range values {
				switch key {
				case "dangling":
					matched = matched || srv.runtime.volumeInUse(v.Name) == (value == "false")
				case "name":
					matched = matched || strings.Contains(v.Name, value)
				}
			}
			if !matched {
				return false
			}
		}
		return true
	}, nil
}

func (srv *Server) volumeInspect(session *Session, args []string) error {
	f := newFlags(session, "volume inspect", "VOLUME [VOLUME...]", "Print volumes' details as JSON, one document each")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	encoder := json.NewEncoder(session.Stdout)
	encoder.SetIndent("", "    ")
	for _, name := range names {
		v, err := srv.runtime.volumes.Get(name)
		if err != nil {
			return err
		}
		if err := encoder.Encode(v); err != nil {
			return err
		}
	}
	return nil
}

func (srv *Server) volumeRm(session *Session, args []string) error {
	var force bool
	f := newFlags(session, "volume rm", "[OPTIONS] VOLUME [VOLUME...]", "Remove volumes no container uses")
	f.Bool(&force, "f", "force", "Do not report volumes that do not exist")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	return eachName(session, "volume rm", names, func(name string) error {
		if err := srv.runtime.RemoveVolume(name); err != nil {
			if _, missing := srv.runtime.volumes.Get(name); missing != nil && force {
				return nil
			}
			return err
		}
		fmt.Fprintln(session.Stdout, name)
		return nil
	})
}
