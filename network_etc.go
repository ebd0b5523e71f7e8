// network_etc.go: the /etc/hosts, /etc/hostname and /etc/resolv.conf a container sees.
//
// Container.prepare (container.go) writes them into the container's directory once the network is set up
// (network.go), since /etc/hosts names the container's address; spec.go bind-mounts them over the
// image's: a container's changes to them stay out of its rw layer, and `engine commit` leaves them out.
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"unicode"

	"golang.org/x/sys/unix"
)

// WriteEtcFiles writes the files spec.go bind-mounts over the container's /etc/hosts, /etc/hostname and
// /etc/resolv.conf. The host name and the container's name go in as fields of a line; both were
// checked at create (validate.go), and are checked again here, where a space or a newline in them
// would add fields or lines to the files.
func (m *NetworkManager) WriteEtcFiles(c *Container) error {
	for _, field := range []string{c.Config.Hostname, c.ShortName()} {
		if strings.ContainsFunc(field, func(r rune) bool { return unicode.IsSpace(r) || !unicode.IsPrint(r) || r == '#' }) {
			return fmt.Errorf("refusing to write %q into the container's /etc/hosts", field)
		}
	}
	hosts := "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	resolv := hostResolvConf(false)
	switch mode := c.HostConfig.NetworkMode; {
	case c.NetworkSettings != nil && c.NetworkSettings.IPAddress != "":
		hosts += c.NetworkSettings.IPAddress + "\t" + c.Config.Hostname + " " + c.ShortName() + "\n"
	case mode == "host":
		if data, err := os.ReadFile("/etc/hosts"); err == nil {
			hosts = string(data)
		}
		resolv = hostResolvConf(true)
	case strings.HasPrefix(mode, "container:"):
		// The same network, so the same names, as the container it joins.
		if other, err := c.runtime.Get(strings.TrimPrefix(mode, "container:")); err == nil {
			joined, err := readJoinedHosts(other)
			if err != nil {
				return err
			} else if joined != "" {
				hosts = joined
			}
		}
	default:
		hosts = "127.0.0.1\tlocalhost " + c.Config.Hostname + "\n::1\tlocalhost ip6-localhost ip6-loopback\n"
	}
	// Plain writes, not writeFileAtomic: these files are derived and written again at every start.
	files := map[string]string{"hostname": c.Config.Hostname + "\n", "hosts": hosts, "resolv.conf": resolv}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(c.root, name), []byte(content), 0644); err != nil {
			return err
		}
	}
	return nil
}

// maxJoinedHosts bounds what the daemon reads of the hosts file of a container another one joins. That
// container may write its /etc/hosts as it likes (a sparse file of terabytes costs it nothing), and
// what it writes must not end up in the daemon's memory. Real hosts files are a few hundred bytes.
const maxJoinedHosts = 1 << 20

// readJoinedHosts reads the hosts file of the container X that `--net container:X` joins. The file is
// X's bind-mount source in its directory, so X can change what it holds but not what it is.
func readJoinedHosts(x *Container) (string, error) {
	f, err := os.OpenFile(filepath.Join(x.root, "hosts"), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return "", nil
	} else if err != nil {
		return "", err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxJoinedHosts+1))
	if err != nil {
		return "", err
	}
	if len(data) > maxJoinedHosts {
		return "", fmt.Errorf("the /etc/hosts of container %s is larger than %d bytes", x.ShortName(), maxJoinedHosts)
	}
	return string(data), nil
}

// hostResolvConf is the host's resolver configuration. A container with its own network namespace cannot
// reach the host's loopback, so nameservers on 127.0.0.0/8 or ::1 (systemd-resolved, dnsmasq) are left
// out for it, as Docker does.
func hostResolvConf(keepLoopback bool) string {
	data, err := os.ReadFile("/etc/resolv.conf")
	if err != nil {
		return ""
	}
	var lines []string
	for _, line := range strings.Split(strings.TrimRight(string(data), "\n"), "\n") {
		fields := strings.Fields(line)
		loopback := len(fields) >= 2 && fields[0] == "nameserver" && (strings.HasPrefix(fields[1], "127.") || fields[1] == "::1")
		if keepLoopback || !loopback {
			lines = append(lines, line)
		}
	}
	return strings.Join(lines, "\n") + "\n"
}
