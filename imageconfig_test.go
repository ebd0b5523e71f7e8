// imageconfig_test.go covers imageconfig.go: how run completes a container's Config from its image, and
// how commit's --change instructions are read.
package main

import (
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
)

func TestMergeImageConfig(t *testing.T) {
	image := &ImageConfig{
		Entrypoint: []string{"/ep"}, Cmd: []string{"default"}, Env: []string{"PATH=/img", "A=image"},
		WorkingDir: "/srv", User: "daemon", Labels: map[string]string{"l": "image", "m": "image"},
		ExposedPorts: map[string]struct{}{"80/tcp": {}},
	}
	tests := []struct {
		name                string
		given               Config
		entrypoint, cmd     []string
		env                 []string
		workingDir, user, m string
	}{
		{"nothing given", Config{}, []string{"/ep"}, []string{"default"}, []string{"PATH=/img", "A=image"}, "/srv", "daemon", "image"},
		{"a command replaces Cmd only", Config{Cmd: []string{"x"}}, []string{"/ep"}, []string{"x"}, []string{"PATH=/img", "A=image"}, "/srv", "daemon", "image"},
		{"--entrypoint replaces both", Config{Entrypoint: []string{"/other"}}, []string{"/other"}, nil, []string{"PATH=/img", "A=image"}, "/srv", "daemon", "image"},
		{"--entrypoint \"\" clears it", Config{Entrypoint: []string{}, Cmd: []string{"ls"}}, nil, []string{"ls"}, []string{"PATH=/img", "A=image"}, "/srv", "daemon", "image"},
		{"flags win", Config{Env: []string{"A=flag", "B=flag"}, WorkingDir: "/w", User: "root", Labels: map[string]string{"m": "flag"}},
			[]string{"/ep"}, []string{"default"}, []string{"PATH=/img", "A=flag", "B=flag"}, "/w", "root", "flag"},
	}
	for _, tt := range tests {
		config := tt.given
		if err := mergeImageConfig(&config, image); err != nil {
			t.Fatalf("%s: %v", tt.name, err)
		}
		if !slices.Equal(config.Entrypoint, tt.entrypoint) || !slices.Equal(config.Cmd, tt.cmd) || !slices.Equal(config.Env, tt.env) ||
			config.WorkingDir != tt.workingDir || config.User != tt.user || config.Labels["m"] != tt.m || config.Labels["l"] != "image" {
			t.Errorf("%s: got %+v", tt.name, config)
		}
		if _, ok := config.ExposedPorts["80/tcp"]; !ok {
			t.Errorf("%s: the image's ports are not exposed: %v", tt.name, config.ExposedPorts)
		}
	}
	if image.Env[1] != "A=image" || image.Labels["m"] != "image" {
		t.Errorf("the merge changed the image's config: %+v", image)
	}
	if err := mergeImageConfig(&Config{}, nil); err != nil {
		t.Errorf("an image without a config: %v", err)
	}
	// The image is as hostile as a client: its strings meet the flags' rules.
	for _, bad := range []*ImageConfig{
		{Env: []string{"NOEQUALS"}}, {Env: []string{"A=\x00"}}, {WorkingDir: "relative"},
		{Cmd: []string{"a\x00b"}}, {Entrypoint: []string{"\x00"}}, {User: "root\x00"}, {Labels: map[string]string{"": "x"}},
	} {
		if err := mergeImageConfig(&Config{}, bad); err == nil || !strings.Contains(err.Error(), "the image's config") {
			t.Errorf("image config %+v: %v", bad, err)
		}
	}
}

func TestCommitConfigChanges(t *testing.T) {
	container := &Config{
		Entrypoint: []string{"/ep"}, Cmd: []string{"run"}, Env: []string{"A=1"}, WorkingDir: "/srv",
		User: "daemon", Labels: map[string]string{"keep": "yes"}, Hostname: "not-in-an-image",
	}
	tests := []struct {
		changes []string
		want    ImageConfig
	}{
		{nil, ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"run"}, Env: []string{"A=1"}, WorkingDir: "/srv", User: "daemon", Labels: map[string]string{"keep": "yes"}}},
		{[]string{`CMD ["sh", "-c", "echo hi"]`}, ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"sh", "-c", "echo hi"}}},
		{[]string{`cmd echo $HOME`}, ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"/bin/sh", "-c", "echo $HOME"}}},
		{[]string{`CMD [not json`}, ImageConfig{Entrypoint: []string{"/ep"}, Cmd: []string{"/bin/sh", "-c", "[not json"}}},
		// As in a Dockerfile, ENTRYPOINT drops the Cmd it inherited, but not a CMD given before it.
		{[]string{`ENTRYPOINT ["/new"]`}, ImageConfig{Entrypoint: []string{"/new"}}},
		{[]string{`ENTRYPOINT exec top`}, ImageConfig{Entrypoint: []string{"/bin/sh", "-c", "exec top"}}},
		{[]string{`CMD ["a"]`, `ENTRYPOINT ["/new"]`}, ImageConfig{Entrypoint: []string{"/new"}, Cmd: []string{"a"}}},
		{[]string{`ENTRYPOINT []`}, ImageConfig{Entrypoint: []string{}}},
		{[]string{`ENV A=2 B="two words" C=a\ b D='$x'`}, ImageConfig{Env: []string{"A=2", "B=two words", "C=a b", "D=$x"}}},
		{[]string{`ENV E hello  world`}, ImageConfig{Env: []string{"A=1", "E=hello  world"}}},
		{[]string{`WORKDIR /a`, `WORKDIR b/../c`}, ImageConfig{WorkingDir: "/a/c"}},
		{[]string{`WORKDIR rel`}, ImageConfig{WorkingDir: "/srv/rel"}},
		{[]string{`USER 1000:1000`}, ImageConfig{User: "1000:1000"}},
		{[]string{`LABEL a=1 "b"="d e"`}, ImageConfig{Labels: map[string]string{"keep": "yes", "a": "1", "b": "d e"}}},
		{[]string{`EXPOSE 80 53/UDP 9000/sctp`}, ImageConfig{ExposedPorts: map[string]struct{}{"80/tcp": {}, "53/udp": {}, "9000/sctp": {}}}},
	}
	for _, tt := range tests {
		got, err := commitConfig(container, tt.changes)
		if err != nil {
			t.Errorf("%q: %v", tt.changes, err)
			continue
		}
		// Fields the case does not name must be the container's, unchanged.
		want := tt.want
		base := map[string]bool{}
		for _, change := range tt.changes {
			base[strings.ToUpper(strings.Fields(change)[0])] = true
		}
		if !base["ENTRYPOINT"] && !base["CMD"] && want.Entrypoint == nil {
			want.Entrypoint = container.Entrypoint
		}
		if !base["CMD"] && !base["ENTRYPOINT"] && want.Cmd == nil {
			want.Cmd = container.Cmd
		}
		if !base["ENV"] {
			want.Env = container.Env
		}
		if !base["WORKDIR"] {
			want.WorkingDir = container.WorkingDir
		}
		if !base["USER"] {
			want.User = container.User
		}
		if !base["LABEL"] {
			want.Labels = container.Labels
		}
		if !reflect.DeepEqual(*got, want) {
			t.Errorf("%q:\n got %+v\nwant %+v", tt.changes, *got, want)
		}
	}
	if container.Env[0] != "A=1" || !maps.Equal(container.Labels, map[string]string{"keep": "yes"}) {
		t.Errorf("commitConfig changed the container's Config: %+v", container)
	}
	for change, want := range map[string]string{
		"RUN rm -rf /":          "only CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR",
		"FROM base":             "only CMD",
		"":                      "only CMD",
		"CMD":                   "a command is needed",
		"CMD x\nRUN y":          "one instruction per --change",
		"ENV A=\x00":            "one instruction per --change",
		"ENV =x":                "invalid environment variable",
		"ENV A=1 B":             "KEY=VALUE expected",
		`ENV A="open`:           "unterminated",
		"ENV A=x\\":             "backslash",
		"LABEL =v":              "invalid label",
		`LABEL "a b"=v`:         "invalid label",
		"EXPOSE 0":              "invalid port",
		"EXPOSE 70000":          "invalid port",
		"EXPOSE 80/icmp":        "invalid port",
		"EXPOSE 8000-8010":      "invalid port",
		"EXPOSE":                "needs a port",
		"USER a b":              "USER takes one",
		"WORKDIR":               "WORKDIR needs",
		"ENTRYPOINT":            "a command is needed",
		`CMD ["a", "b\u0000"]`:  "contains a NUL",
		"ENV PATH=/x:\"$PATH\"": "",
	} {
		_, err := commitConfig(container, []string{change})
		if want == "" {
			if err != nil {
				t.Errorf("--change %q: %v", change, err)
			}
			continue
		}
		if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "--change") {
			t.Errorf("--change %q: %v; want an error with %q", change, err, want)
		}
	}
}
