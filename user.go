// user.go: who the container's process runs as: `-u` turned into the numbers the runtime spec carries.
//
// As Docker does, the daemon resolves `-u alice:staff` against the container's own /etc/passwd and
// /etc/group, so that names mean what they mean inside the image (generateSpec in spec.go for run and
// start, execProcess in exec.go for exec); init and the OCI runtimes only ever see numbers.
//
// Those files belong to the container, and the container is hostile. For exec it is also running, so it
// can change them while the daemon reads. Hence:
//   - they are opened with openInRoot (securepath.go): the kernel resolves the path inside the root in the
//     same step that opens it, and only a regular file is ever opened (a FIFO would block the daemon);
//   - they are read line by line, at most maxColonFileSize bytes and maxColonLineSize per line, keeping
//     only the entries asked for;
//   - every id, from `-u` or from a file, is a plain decimal number from 0 to maxID, as runc requires; an
//     entry that is asked for and does not hold one is an error, never uid 0.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"slices"
	"strconv"
	"strings"
	"syscall"
)

const (
	// maxID is runc's limit for uids and gids: they must fit a signed 32-bit int. Above it lies
	// 4294967295, (uid_t)-1, which setresuid(2) takes for "leave unchanged": a container asked to run as
	// it would stay root.
	maxID = 1<<31 - 1

	// maxColonFileSize bounds how much of a passwd or group file the daemon reads: 16 MiB holds some
	// 250,000 users, while an image's files are a few KiB. A larger file is refused, not cut short
	// (cutting could hide the entry asked for), so a container cannot make every exec read 300 MB.
	maxColonFileSize = 16 << 20

	// maxColonLineSize bounds one line (bufio.Scanner's default, as runc's reader has): a group line
	// naming thousands of members fits; a file with no newline costs at most this much memory.
	maxColonLineSize = 64 << 10
)

var errIDRange = fmt.Errorf("uids and gids must be in range 0-%d", maxID) // runc's words

// passwdEntry is the part of an /etc/passwd line that the process needs.
type passwdEntry struct {
	name     string
	uid, gid uint32
	home     string
}

// resolveUser turns `-u` (name, uid, name:group or uid:gid; empty is root) into numeric ids by reading
// the container's own /etc/passwd and /etc/group, and also returns the user's home directory. A uid the
// image does not know runs with gid 0 and home "/" (root's is /root), as with Docker and runc.
func resolveUser(rootfs, spec string) (User, string, error) {
	userArg, groupArg, err := splitUserSpec(spec)
	if err != nil {
		return User{}, "", err
	}
	entry, err := lookupUser(rootfs, userArg)
	if err != nil {
		return User{}, "", err
	}
	user, name, home := User{UID: entry.uid, GID: entry.gid}, entry.name, entry.home
	if name == "" && user.UID == 0 {
		home = "/root"
	}
	gid, supplementary, err := lookupGroups(rootfs, groupArg, name)
	if err != nil {
		return User{}, "", err
	}
	if groupArg != "" {
		user.GID = gid
	}
	for _, g := range supplementary {
		if g != user.GID {
			user.AdditionalGids = append(user.AdditionalGids, g)
		}
	}
	return user, home, nil
}

// splitUserSpec takes `-u` apart. An empty user is root (":staff" is root in group staff, as in Docker);
// an empty group after the colon, or a second colon, is a mistake rather than something to guess at.
func splitUserSpec(spec string) (user, group string, err error) {
	user, group, hasGroup := strings.Cut(spec, ":")
	if hasGroup && (group == "" || strings.Contains(group, ":")) {
		return "", "", fmt.Errorf("invalid user %q: want USER[:GROUP]", spec)
	}
	if user == "" {
		user = "0"
	}
	return user, group, nil
}

// lookupUser finds the first passwd entry named arg or, when arg is a number, with that uid. A uid the
// image does not list is an entry without a name; a name it does not list is an error.
func lookupUser(rootfs, arg string) (passwdEntry, error) {
	uid, numeric, err := parseIDArg(arg)
	if err != nil {
		return passwdEntry{}, fmt.Errorf("invalid user %q: %w", arg, err)
	}
	var found *passwdEntry
	err = scanColonFile(rootfs, "/etc/passwd", func(fields []string) (bool, error) {
		if len(fields) < 6 { // too short to name anyone
			return false, nil
		}
		entryUID, uidErr := parseID(fields[2])
		matches := fields[0] == arg
		if numeric { // a number is always a uid, compared as a number ("01000" is 1000)
			matches = uidErr == nil && entryUID == uid
		}
		if !matches {
			return false, nil
		}
		gid, gidErr := parseID(fields[3])
		if uidErr != nil {
			return true, fmt.Errorf("/etc/passwd: user %s has uid %q: %w", fields[0], fields[2], uidErr)
		} else if gidErr != nil {
			return true, fmt.Errorf("/etc/passwd: user %s has gid %q: %w", fields[0], fields[3], gidErr)
		}
		found = &passwdEntry{name: fields[0], uid: entryUID, gid: gid, home: fields[5]}
		return true, nil
	})
	switch {
	case err != nil:
		return passwdEntry{}, err
	case found != nil:
		return *found, nil
	case numeric:
		return passwdEntry{uid: uid, home: "/"}, nil
	}
	return passwdEntry{}, fmt.Errorf("unable to find user %s: no matching entries in passwd file", arg)
}

// lookupGroups reads /etc/group once for two things: the gid of the group named (or numbered) arg, if
// one is given, and the gids of the groups whose member list names member, as login(1) would set them.
func lookupGroups(rootfs, arg, member string) (uint32, []uint32, error) {
	gid, numeric, err := parseIDArg(arg)
	if err != nil {
		return 0, nil, fmt.Errorf("invalid group %q: %w", arg, err)
	}
	found := arg == "" || numeric // a number the image does not list is still a gid
	if found && member == "" {
		return gid, nil, nil
	}
	var supplementary []uint32
	err = scanColonFile(rootfs, "/etc/group", func(fields []string) (bool, error) {
		if len(fields) < 3 {
			return false, nil
		}
		entryGID, gidErr := parseID(fields[2])
		if !found && fields[0] == arg {
			if gidErr != nil {
				return true, fmt.Errorf("/etc/group: group %s has gid %q: %w", fields[0], fields[2], gidErr)
			}
			gid, found = entryGID, true
		}
		if member != "" && len(fields) >= 4 && slices.Contains(strings.Split(fields[3], ","), member) {
			if gidErr != nil {
				return true, fmt.Errorf("/etc/group: group %s has gid %q: %w", fields[0], fields[2], gidErr)
			}
			supplementary = append(supplementary, entryGID)
		}
		return false, nil
	})
	if err != nil {
		return 0, nil, err
	}
	if !found {
		return 0, nil, fmt.Errorf("unable to find group %s: no matching entries in group file", arg)
	}
	return gid, supplementary, nil
}

// parseIDArg says whether a name from `-u` is meant as a number (digits, perhaps with a sign or spaces
// around them) and, if it is, reads it; a number out of range is an error, never a name to look up.
func parseIDArg(arg string) (id uint32, numeric bool, err error) {
	digits := strings.TrimLeft(strings.TrimSpace(arg), "+-")
	if digits == "" || strings.Trim(digits, "0123456789") != "" {
		return 0, false, nil
	}
	id, err = parseID(arg)
	return id, true, err
}

// parseID reads a uid or gid: decimal digits only (no sign, space or base prefix), 0 to maxID.
func parseID(s string) (uint32, error) {
	id, err := strconv.ParseUint(s, 10, 32)
	if err != nil || id > maxID {
		return 0, errIDRange
	}
	return uint32(id), nil
}

// scanColonFile reads a passwd-style file of the container line by line and hands each entry (a
// non-empty, non-comment line split at ':') to visit, until visit says it is done. A file the image
// lacks has no entries. Nothing but the current line is held, and the read is bounded in size.
func scanColonFile(rootfs, path string, visit func(fields []string) (done bool, err error)) error {
	f, err := openInRoot(rootfs, path)
	if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR) {
		return nil
	} else if err != nil {
		return err
	}
	defer f.Close()
	limited := &io.LimitedReader{R: f, N: maxColonFileSize + 1}
	scanner := bufio.NewScanner(limited)
	scanner.Buffer(make([]byte, 4096), maxColonLineSize)
	for scanner.Scan() {
		line := scanner.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		if done, err := visit(strings.Split(line, ":")); done || err != nil {
			return err
		}
	}
	switch err := scanner.Err(); {
	case errors.Is(err, bufio.ErrTooLong):
		return fmt.Errorf("%s: a line is longer than %d bytes", path, maxColonLineSize)
	case err != nil:
		return fmt.Errorf("%s: %w", path, err)
	case limited.N == 0:
		return fmt.Errorf("%s is larger than %d MiB", path, maxColonFileSize>>20)
	}
	return nil
}
