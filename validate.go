// validate.go: the rules for the strings a client gives `run`, `create` and `exec`.
//
// parseRunFlags (commands.go) checks every string before a container exists, because each ends up
// somewhere that has a shape of its own: the host name in /etc/hosts and /etc/hostname
// (NetworkManager.WriteEtcFiles), where a newline would add a line; the environment, the working
// directory and the command in the argv and envp of execve, which stop at the first NUL, so the process
// would get something else than the record shows; labels and names in the record and in `ps`.
// Docker's rules are used where Docker has them.
package main

import (
	"fmt"
	"strings"
	"unicode"
)

// maxHostname is Docker's bound for -h, that of RFC 1123; the kernel's HOST_NAME_MAX is 64.
const maxHostname = 63

// checkHostname is Docker's check of -h: RFC 1123 labels (letters, digits and inner hyphens) joined by
// dots, at most 63 characters in all.
func checkHostname(hostname string) error {
	valid := len(hostname) <= maxHostname
	for _, label := range strings.Split(hostname, ".") {
		valid = valid && label != "" && label[0] != '-' && label[len(label)-1] != '-' &&
			strings.Trim(label, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-") == ""
	}
	if !valid {
		return fmt.Errorf("invalid hostname %q: RFC 1123 labels (letters, digits, inner hyphens) joined by dots, at most %d characters", hostname, maxHostname)
	}
	return nil
}

// checkEnv checks -e NAME=VALUE as Docker does (a name is required, so "=x" is refused), and refuses a
// NUL, which would end the variable early in execve's envp. The engine has no client environment to
// take a bare NAME's value from, so the "=" is required too.
func checkEnv(env []string) error {
	for _, kv := range env {
		if name, _, ok := strings.Cut(kv, "="); !ok || name == "" || strings.ContainsRune(kv, 0) {
			return fmt.Errorf("invalid environment variable %q: expected NAME=VALUE, without NUL", kv)
		}
	}
	return nil
}

// parseLabels reads -l key=value as Docker does: a key that is not empty and has no white space (a
// missing "=value" means an empty value), and no NUL anywhere.
func parseLabels(labels []string) (map[string]string, error) {
	parsed := map[string]string{}
	for _, label := range labels {
		key, value, _ := strings.Cut(label, "=")
		if key == "" || strings.IndexFunc(key, unicode.IsSpace) >= 0 || strings.ContainsRune(label, 0) {
			return nil, fmt.Errorf("invalid label %q: expected a key without white space, then =value", label)
		}
		parsed[key] = value
	}
	return parsed, nil
}

// checkWorkingDir checks -w: an absolute path, as Docker requires, without NUL.
func checkWorkingDir(dir string) error {
	if dir != "" && (!strings.HasPrefix(dir, "/") || strings.ContainsRune(dir, 0)) {
		return fmt.Errorf("the working directory %q is not an absolute path", dir)
	}
	return nil
}

// checkCommand refuses a command whose arguments hold a NUL: execve would cut them there.
func checkCommand(cmd []string) error {
	for _, arg := range cmd {
		if strings.ContainsRune(arg, 0) {
			return fmt.Errorf("invalid argument %q: it contains a NUL", arg)
		}
	}
	return nil
}
