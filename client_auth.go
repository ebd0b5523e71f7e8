// client_auth.go: the client's credentials for registries, `engine login` and `engine logout`.
//
// They are the user's, so the client keeps them, as docker's CLI does, in ~/.engine/config.json (mode
// 0600, in a directory of mode 0700):
//
//	{"auths": {"127.0.0.1:5443": {"auth": "<base64 of user:password>"}}}
//
// The daemon asks for them only when a registry asks it who it is (frameCredentials, registry_auth.go),
// naming the registry; the client answers with that registry's entry, or nothing.
//
//	engine login [-u USER] [-p PASSWORD | --password-stdin] [SERVER]   SERVER is docker.io unless given.
//	    The client sends `login SERVER`, and the user and password when the daemon asks for them; the
//	    daemon checks them with the registry, and the client keeps them once it has said yes.
//	engine logout [SERVER]   removes the entry; the daemon is not asked.
package main

import (
	"bufio"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
)

// clientConfig is ~/.engine/config.json. Fields engine does not know are kept as they are.
type clientConfig struct {
	Auths map[string]struct {
		Auth string `json:"auth"`
	} `json:"auths"`
	raw map[string]json.RawMessage
}

func clientConfigPath() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", err
	}
	return filepath.Join(home, ".engine", "config.json"), nil
}

// readClientConfig reads the config; a missing file is an empty config.
func readClientConfig() (*clientConfig, string, error) {
	path, err := clientConfigPath()
	if err != nil {
		return nil, "", err
	}
	config := &clientConfig{raw: map[string]json.RawMessage{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return config, path, nil
	}
	if err == nil {
		err = json.Unmarshal(data, &config.raw)
	}
	if err == nil && config.raw["auths"] != nil {
		err = json.Unmarshal(data, config)
	}
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return config, path, nil
}

// savedAuth is what the config holds for a registry: base64 of user:password, or "".
func savedAuth(domain string) string {
	config, _, err := readClientConfig()
	if err != nil {
		return ""
	}
	return config.Auths[domain].Auth
}

// setAuth writes the config with the registry's entry set to auth, or removed if auth is "". It tells
// whether there was an entry before.
func setAuth(domain, auth string) (bool, error) {
	config, path, err := readClientConfig()
	if err != nil {
		return false, err
	}
	auths := map[string]map[string]string{}
	for name, entry := range config.Auths {
		auths[name] = map[string]string{"auth": entry.Auth}
	}
	_, had := auths[domain]
	if auth == "" {
		delete(auths, domain)
	} else {
		auths[domain] = map[string]string{"auth": auth}
	}
	config.raw["auths"], _ = json.Marshal(auths)
	data, err := json.MarshalIndent(config.raw, "", "\t")
	if err != nil {
		return had, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0700); err != nil {
		return had, err
	}
	return had, writeFileAtomic(path, append(data, '\n'), 0600)
}

// loginServer is the registry a login names: docker.io unless given, without a scheme or a path
// (docker's CLI takes https://index.docker.io/v1/ too).
func loginServer(server string) string {
	server = strings.TrimPrefix(strings.TrimPrefix(server, "https://"), "http://")
	server, _, _ = strings.Cut(server, "/")
	if server == "" || server == "index.docker.io" || server == dockerHubEndpoint {
		return dockerHub
	}
	return server
}

// loginSide reads the client's part of `engine login`: the user and password stay here, and only
// `login SERVER` goes to the daemon. Once the daemon says yes, they go into the config.
func loginSide(args []string) (*localSide, error) {
	var user, password, server string
	fromStdin := false
	for i := 1; i < len(args); i++ {
		arg := args[i]
		value := func() (string, error) {
			if name, v, ok := strings.Cut(arg, "="); ok && strings.HasPrefix(name, "--") {
				return v, nil
			}
			if i+1 >= len(args) {
				return "", fmt.Errorf("flag needs an argument: %s", arg)
			}
			i++
			return args[i], nil
		}
		var err error
		switch name, _, _ := strings.Cut(arg, "="); name {
		case "-u", "--username":
			user, err = value()
		case "-p", "--password":
			password, err = value()
		case "--password-stdin":
			fromStdin = true
		case "--help", "-h":
			return &localSide{args: args, input: os.Stdin, output: os.Stdout}, nil
		default:
			if strings.HasPrefix(arg, "-") || server != "" {
				return nil, fmt.Errorf("unknown flag or extra argument: %s (usage: engine login [-u USER] [-p PASSWORD | --password-stdin] [SERVER])", arg)
			}
			server = arg
		}
		if err != nil {
			return nil, err
		}
	}
	if fromStdin {
		line, err := bufio.NewReader(io.LimitReader(os.Stdin, 64<<10)).ReadString('\n')
		if err != nil && err != io.EOF {
			return nil, err
		}
		password = strings.TrimRight(line, "\r\n")
	}
	if user == "" || password == "" {
		return nil, errors.New("a user (-u) and a password (--password-stdin, or -p) are needed")
	}
	server = loginServer(server)
	auth := base64.StdEncoding.EncodeToString([]byte(user + ":" + password))
	side := &localSide{args: []string{"login", server}, input: os.Stdin, output: os.Stdout}
	side.credentials = func(domain string) string {
		if domain == server {
			return auth
		}
		return ""
	}
	side.finish = func(status int, received error) (int, error) {
		if status != 0 || received != nil {
			return status, nil
		}
		_, err := setAuth(server, auth)
		return status, err
	}
	return side, nil
}

// logout is `engine logout [SERVER]`, all on the client's side.
func logout(args []string) int {
	if len(args) > 2 || len(args) == 2 && strings.HasPrefix(args[1], "-") {
		fmt.Fprintln(os.Stderr, "engine: logout: usage: engine logout [SERVER]")
		return 125
	}
	server := dockerHub
	if len(args) == 2 {
		server = loginServer(args[1])
	}
	had, err := setAuth(server, "")
	if err != nil {
		fmt.Fprintf(os.Stderr, "engine: logout: %v\n", err)
		return 125
	}
	if !had {
		fmt.Printf("Not logged in to %s\n", server)
		return 0
	}
	fmt.Printf("Removing login credentials for %s\n", server)
	return 0
}
