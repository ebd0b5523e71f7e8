// imageconfig.go: what an image says its containers run, on the way in and on the way out.
//
// An image's config (ImageConfig, graph.go: Entrypoint, Cmd, Env, WorkingDir, User, Labels,
// ExposedPorts) travels both ways between images and containers:
//
//   - in, at `run`/`create`: Runtime.Create calls mergeImageConfig, which fills in what the command line
//     did not say from the image, as Docker's daemon merges them: `run IMAGE` runs Entrypoint + Cmd, a
//     command replaces Cmd only, `--entrypoint` replaces both, -e/-w/-u/-l win over the image's values.
//   - out, at `commit`: commitConfig takes the container's Config and applies each `--change` (a
//     Dockerfile instruction: CMD, ENTRYPOINT, ENV, WORKDIR, USER, LABEL, EXPOSE) to make the new
//     image's config (commit.go).
//
// An image comes from anyone (load, later pull), so its config meets the same checks as a client's
// flags (validate.go) before a container is made from it.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"path"
	"slices"
	"strings"
	"unicode"
)

// mergeImageConfig completes a container's Config from its image's. config.Entrypoint is nil when
// `run` had no --entrypoint, and an empty slice for `--entrypoint ""`, which clears the image's.
func mergeImageConfig(config *Config, image *ImageConfig) error {
	if image == nil {
		image = &ImageConfig{}
	}
	if err := checkImageConfig(image); err != nil {
		return err
	}
	// As Docker: an --entrypoint of the user's replaces the image's Cmd too, since that Cmd was
	// written as arguments for the image's own entrypoint.
	if config.Entrypoint == nil {
		config.Entrypoint = slices.Clone(image.Entrypoint)
		if len(config.Cmd) == 0 {
			config.Cmd = slices.Clone(image.Cmd)
		}
	}
	if len(config.Entrypoint) == 0 {
		config.Entrypoint = nil
	}
	env := slices.Clone(image.Env)
	for _, kv := range config.Env {
		env = setEnv(env, kv)
	}
	config.Env = env
	if config.WorkingDir == "" {
		config.WorkingDir = image.WorkingDir
	}
	if config.User == "" {
		config.User = image.User
	}
	if len(image.Labels) > 0 {
		labels := maps.Clone(image.Labels)
		maps.Copy(labels, config.Labels)
		config.Labels = labels
	}
	if len(image.ExposedPorts) > 0 {
		config.ExposedPorts = maps.Clone(image.ExposedPorts)
	}
	return nil
}

// checkImageConfig holds an image's config to the rules of the flags it stands in for.
func checkImageConfig(image *ImageConfig) error {
	err := checkEnv(image.Env)
	if err == nil {
		err = checkWorkingDir(image.WorkingDir)
	}
	if err == nil {
		err = checkCommand(append(append([]string{image.User}, image.Entrypoint...), image.Cmd...))
	}
	for key, value := range image.Labels {
		if err == nil && (key == "" || strings.ContainsRune(key+value, 0)) {
			err = fmt.Errorf("invalid label %q", key)
		}
	}
	if err != nil {
		return fmt.Errorf("the image's config: %w", err)
	}
	return nil
}

// commitConfig is the config of an image committed from a container with this Config, after the
// --change instructions, applied in order.
func commitConfig(config *Config, changes []string) (*ImageConfig, error) {
	image := &ImageConfig{
		User:         config.User,
		ExposedPorts: maps.Clone(config.ExposedPorts),
		Env:          slices.Clone(config.Env),
		Entrypoint:   slices.Clone(config.Entrypoint),
		Cmd:          slices.Clone(config.Cmd),
		WorkingDir:   config.WorkingDir,
		Labels:       maps.Clone(config.Labels),
	}
	cmdSet := false
	for _, change := range changes {
		if err := applyChange(image, change, &cmdSet); err != nil {
			return nil, fmt.Errorf("--change %s: %w", printable(change), err)
		}
	}
	if err := checkImageConfig(image); err != nil { // a JSON "\u0000" is a NUL too
		return nil, fmt.Errorf("--change: %w", err)
	}
	return image, nil
}

// changeInstructions are the Dockerfile instructions --change takes: those that set the config.
var changeInstructions = []string{"CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "USER", "WORKDIR"}

// applyChange applies one Dockerfile instruction to image. cmdSet tells whether a CMD came earlier.
func applyChange(image *ImageConfig, change string, cmdSet *bool) error {
	if strings.ContainsAny(change, "\x00\n") {
		return errors.New("one instruction per --change, without NUL or newline")
	}
	keyword, rest, _ := strings.Cut(strings.TrimSpace(change), " ")
	rest = strings.TrimSpace(rest)
	var err error
	switch strings.ToUpper(keyword) {
	case "CMD":
		image.Cmd, err = commandForm(rest)
		*cmdSet = true
	case "ENTRYPOINT":
		image.Entrypoint, err = commandForm(rest)
		if !*cmdSet { // as a Dockerfile's ENTRYPOINT: the Cmd it inherited meant the old entrypoint
			image.Cmd = nil
		}
	case "ENV":
		err = applyEnv(image, rest)
	case "EXPOSE":
		err = applyExpose(image, rest)
	case "LABEL":
		err = applyLabels(image, rest)
	case "USER":
		if rest == "" || strings.IndexFunc(rest, unicode.IsSpace) >= 0 {
			return errors.New("USER takes one name|uid[:group|gid]")
		}
		image.User = rest
	case "WORKDIR":
		if rest == "" {
			return errors.New("WORKDIR needs a directory")
		}
		if !path.IsAbs(rest) { // relative to the one before, as in a Dockerfile
			rest = path.Join("/", image.WorkingDir, rest)
		}
		image.WorkingDir = path.Clean(rest)
	default:
		return fmt.Errorf("only %s can be changed", strings.Join(changeInstructions, ", "))
	}
	return err
}

// commandForm reads CMD's and ENTRYPOINT's argument as a Dockerfile does: a JSON array of strings is
// the command itself (exec form); anything else is a shell command line (shell form).
func commandForm(rest string) ([]string, error) {
	if strings.HasPrefix(rest, "[") {
		var argv []string
		if err := json.Unmarshal([]byte(rest), &argv); err == nil {
			return argv, nil
		}
	}
	if rest == "" {
		return nil, errors.New("a command is needed: a JSON array or a shell command line")
	}
	return []string{"/bin/sh", "-c", rest}, nil
}

// applyEnv reads `ENV NAME=VALUE ...` (values may be quoted) or the old `ENV NAME VALUE` form.
func applyEnv(image *ImageConfig, rest string) error {
	pairs, err := keyValues(rest)
	if err != nil {
		return err
	}
	for _, kv := range pairs {
		if err := checkEnv([]string{kv}); err != nil {
			return err
		}
		image.Env = setEnv(image.Env, kv)
	}
	return nil
}

// applyLabels reads `LABEL KEY=VALUE ...` (or `LABEL KEY VALUE`).
func applyLabels(image *ImageConfig, rest string) error {
	pairs, err := keyValues(rest)
	if err != nil {
		return err
	}
	labels, err := parseLabels(pairs)
	if err != nil {
		return err
	}
	if image.Labels == nil {
		image.Labels = map[string]string{}
	}
	maps.Copy(image.Labels, labels)
	return nil
}

// applyExpose reads `EXPOSE 80 53/udp`: ports, each with tcp (the default), udp or sctp.
func applyExpose(image *ImageConfig, rest string) error {
	ports := strings.Fields(rest)
	if len(ports) == 0 {
		return errors.New("EXPOSE needs a port")
	}
	for _, port := range ports {
		number, protocol, _ := strings.Cut(strings.ToLower(port), "/")
		if protocol == "" {
			protocol = "tcp"
		}
		n, err := parseDecimal(number, 1, 65535)
		if err != nil || !slices.Contains([]string{"tcp", "udp", "sctp"}, protocol) {
			return fmt.Errorf("invalid port %s: want 1 to 65535, then /tcp, /udp or /sctp", printable(port))
		}
		if image.ExposedPorts == nil {
			image.ExposedPorts = map[string]struct{}{}
		}
		image.ExposedPorts[fmt.Sprintf("%d/%s", n, protocol)] = struct{}{}
	}
	return nil
}

// keyValues reads the arguments of ENV and LABEL: words of the form KEY=VALUE, quoted as a shell
// quotes them, or one key, a space and the rest of the line as its value (the older form).
func keyValues(rest string) ([]string, error) {
	words, err := shellWords(rest)
	if err != nil {
		return nil, err
	}
	if len(words) == 0 {
		return nil, errors.New("KEY=VALUE expected")
	}
	if !strings.Contains(words[0], "=") {
		key, value, _ := strings.Cut(rest, " ")
		return []string{key + "=" + strings.TrimSpace(value)}, nil
	}
	for _, word := range words {
		if !strings.Contains(word, "=") {
			return nil, fmt.Errorf("%s: KEY=VALUE expected", printable(word))
		}
	}
	return words, nil
}

// shellWords splits a line into words at unquoted white space. Single quotes keep everything; in
// double quotes and outside quotes a backslash keeps the next character.
func shellWords(line string) ([]string, error) {
	var words []string
	var word strings.Builder
	inWord, quote := false, rune(0)
	runes := []rune(line)
	for i := 0; i < len(runes); i++ {
		r := runes[i]
		switch {
		case quote == '\'' && r != '\'', quote == '"' && r != '"' && r != '\\':
			word.WriteRune(r)
		case r == '\\' && quote != '\'':
			if i+1 == len(runes) {
				return nil, errors.New("a backslash ends the line")
			}
			i++
			word.WriteRune(runes[i])
		case quote != 0 && r == quote:
			quote = 0
		case quote == 0 && (r == '\'' || r == '"'):
			quote = r
		case quote == 0 && unicode.IsSpace(r):
			if inWord {
				words = append(words, word.String())
				word.Reset()
			}
			inWord = false
			continue
		default:
			word.WriteRune(r)
		}
		inWord = true
	}
	if quote != 0 {
		return nil, fmt.Errorf("unterminated %c quote", quote)
	}
	if inWord {
		words = append(words, word.String())
	}
	return words, nil
}
