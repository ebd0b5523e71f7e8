// commands_inspect.go: the commands that look at containers without changing them: ps, port and
// inspect (logs has its own file, logs.go, and stats too, commands_stats.go).
//
// Like the commands in commands.go, each parses its flags and reads what the Runtime (runtime.go) and
// the Container (container.go) hold. They take only the container's short lock (Container.mu), never
// its lifecycle lock: a start, stop or removal in progress never holds them up.
package main

import (
	"encoding/json"
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

func (srv *Server) CmdPs(session *Session, args []string) error {
	var all, quiet, noTrunc bool
	var filterArgs []string
	f := newFlags(session, "ps", "[OPTIONS]", "List containers")
	f.Bool(&all, "a", "all", "Show all containers (default: only running ones)")
	f.Bool(&quiet, "q", "quiet", "Only print container IDs")
	f.Bool(&noTrunc, "", "no-trunc", "Do not truncate IDs and commands")
	f.List(&filterArgs, "f", "filter", "Filter: status=, name=, label=key[=value], id=, exited=, ancestor=")
	if _, err := f.Parse(args, 0, 0, true); err != nil {
		return err
	}
	filters, err := parseFilters(filterArgs)
	if err != nil {
		return err
	}
	if _, ok := filters["status"]; ok {
		all = true // asking for a status means asking for containers in it, running or not
	}
	w := tabwriter.NewWriter(session.Stdout, 0, 8, 3, ' ', 0)
	if !quiet {
		fmt.Fprintln(w, "CONTAINER ID\tIMAGE\tCOMMAND\tCREATED\tSTATUS\tPORTS\tNAMES")
	}
	for _, c := range srv.runtime.List() {
		c.mu.Lock()
		state, ports := c.State, portsSummary(c.NetworkSettings)
		c.mu.Unlock()
		if (!all && !state.Running) || !filters.match(c, &state) {
			continue
		}
		id, command := c.ShortID(), strconv.Quote(strings.Join(append([]string{c.Path}, c.Args...), " "))
		if noTrunc {
			id = c.ID
		} else if len(command) > 22 {
			command = command[:20] + "…\""
		}
		if quiet {
			fmt.Fprintln(w, id)
			continue
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\t%s\t%s\t%s\n", id, c.Config.Image, command, humanDuration(time.Since(c.Created)), state.String(), ports, c.ShortName())
	}
	return w.Flush()
}

// portsSummary is the PORTS column of `ps`: "0.0.0.0:8080->80/tcp, ...".
func portsSummary(settings *NetworkSettings) string {
	var ports []string
	if settings != nil {
		for key, bindings := range settings.Ports {
			for _, b := range bindings {
				ports = append(ports, net.JoinHostPort(b.HostIp, b.HostPort)+"->"+key)
			}
		}
	}
	sort.Strings(ports)
	return strings.Join(ports, ", ")
}

type containerFilters map[string][]string

// parseFilters reads `--filter key=value`. As with docker, values of one key are alternatives (OR) and
// different keys must all match (AND).
func parseFilters(args []string) (containerFilters, error) {
	filters := containerFilters{}
	for _, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		switch {
		case !ok:
			return nil, fmt.Errorf("bad filter %q: expected key=value", arg)
		case key == "status" && !strings.Contains("|created|running|exited|paused|restarting|removing|dead|", "|"+value+"|"):
			return nil, fmt.Errorf("invalid filter 'status=%s'", value)
		case !strings.Contains("|status|name|label|id|exited|ancestor|", "|"+key+"|"):
			return nil, fmt.Errorf("invalid filter %q", key)
		}
		filters[key] = append(filters[key], value)
	}
	return filters, nil
}

func (filters containerFilters) match(c *Container, state *State) bool {
	for key, values := range filters {
		matched := false
		for _, value := range values {
			matched = matched || filterMatches(key, value, c, state)
		}
		if !matched {
			return false
		}
	}
	return true
}

func filterMatches(key, value string, c *Container, state *State) bool {
	switch key {
	case "status":
		return state.Status == value
	case "name":
		return strings.Contains(c.ShortName(), strings.TrimPrefix(value, "/"))
	case "id":
		return strings.HasPrefix(c.ID, value)
	case "exited":
		code, err := strconv.Atoi(value)
		return err == nil && state.Status == "exited" && state.ExitCode == code
	case "ancestor":
		return c.Config.Image == value || strings.HasPrefix(c.Image, strings.TrimPrefix(value, "sha256:"))
	case "label":
		labelKey, labelValue, hasValue := strings.Cut(value, "=")
		actual, ok := c.Config.Labels[labelKey]
		return ok && (!hasValue || actual == labelValue)
	}
	return false
}

func (srv *Server) CmdPort(session *Session, args []string) error {
	f := newFlags(session, "port", "CONTAINER", "List a container's published ports")
	names, err := f.Parse(args, 1, 1, true)
	if err != nil {
		return err
	}
	c, err := srv.runtime.Get(names[0])
	if err != nil {
		return err
	}
	var lines []string
	c.mu.Lock()
	for key, bindings := range c.NetworkSettings.Ports {
		for _, b := range bindings {
			lines = append(lines, key+" -> "+net.JoinHostPort(b.HostIp, b.HostPort))
		}
	}
	c.mu.Unlock()
	sort.Strings(lines)
	for _, line := range lines {
		fmt.Fprintln(session.Stdout, line)
	}
	return nil
}

// CmdInspect prints one JSON document per name, for containers and images alike. Docker wraps them in an
// array; a stream of objects lets `engine inspect web | jq .State.Pid` work as written.
func (srv *Server) CmdInspect(session *Session, args []string) error {
	f := newFlags(session, "inspect", "NAME|ID [NAME|ID...]", "Print low-level information on containers or images as JSON")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	encoder := json.NewEncoder(session.Stdout)
	encoder.SetIndent("", "    ")
	for _, name := range names {
		if c, err := srv.runtime.Get(name); err == nil {
			c.refreshLogDropped()
			// Taken under mu, written without it: a slow client holds up nobody.
			c.mu.Lock()
			document, err := json.Marshal(c)
			c.mu.Unlock()
			if err == nil {
				err = encoder.Encode(json.RawMessage(document))
			}
			if err != nil {
				return err
			}
			continue
		}
		image, err := srv.runtime.LookupImage(name)
		if err != nil {
			return fmt.Errorf("no such object: %s", printable(name))
		}
		if err := encoder.Encode(srv.imageView(image)); err != nil {
			return err
		}
	}
	return nil
}
