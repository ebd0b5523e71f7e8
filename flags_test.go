// flags_test.go covers flags.go: Flags.Parse (short/long names, -aq, lists, interspersed flags,
// argument counts, --help, unknown flags) and parseSignal.
package main

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"
)

// flagsTestSet is a command's flags as the tests declare them, with the values they end up with.
type flagsTestSet struct {
	flags      *Flags
	out        *bytes.Buffer
	all, quiet bool
	rm         bool
	name       string
	time       int
	env        []string
}

// newFlagsTestSet declares -a/--all, -q/--quiet, --rm, -n/--name, -t/--time and the list -e/--env.
func newFlagsTestSet() *flagsTestSet {
	out := &bytes.Buffer{}
	s := &flagsTestSet{out: out, time: 10}
	f := newFlags(&Session{Stdout: out, Stderr: &bytes.Buffer{}}, "demo", "[OPTIONS] ARG...", "Do a demo")
	f.Bool(&s.all, "a", "all", "Show all")
	f.Bool(&s.quiet, "q", "quiet", "Only IDs")
	f.Bool(&s.rm, "", "rm", "Remove afterwards")
	f.String(&s.name, "n", "name", "string", "Name it")
	f.Int(&s.time, "t", "time", 0, 3600, "Seconds to wait")
	f.List(&s.env, "e", "env", "Set a variable")
	s.flags = f
	return s
}

func TestFlagsParse(t *testing.T) {
	tests := []struct {
		name         string
		args         []string
		interspersed bool
		positional   []string
		all, quiet   bool
		rm           bool
		flagName     string
		time         int
		env          []string
	}{
		{name: "no flags", args: []string{"x"}, positional: []string{"x"}, time: 10},
		{name: "short bool", args: []string{"-a", "x"}, positional: []string{"x"}, all: true, time: 10},
		{name: "long bool", args: []string{"--all", "x"}, positional: []string{"x"}, all: true, time: 10},
		{name: "long only bool", args: []string{"--rm", "x"}, positional: []string{"x"}, rm: true, time: 10},
		{name: "run-together shorts", args: []string{"-aq", "x"}, positional: []string{"x"}, all: true, quiet: true, time: 10},
		{name: "run-together shorts reversed", args: []string{"-qa"}, positional: nil, all: true, quiet: true, time: 10},
		{name: "explicit bool value", args: []string{"--all=false", "-q=true"}, quiet: true, time: 10},
		{name: "short string", args: []string{"-n", "web", "x"}, positional: []string{"x"}, flagName: "web", time: 10},
		{name: "long string with =", args: []string{"--name=web"}, flagName: "web", time: 10},
		{name: "int", args: []string{"-t", "3"}, time: 3},
		{name: "long int", args: []string{"--time=0"}, time: 0},
		{name: "repeated list, both names", args: []string{"-e", "A=1", "--env", "B=2", "-e=C=3", "x"}, positional: []string{"x"}, env: []string{"A=1", "B=2", "C=3"}, time: 10},
		{name: "double dash ends flags", args: []string{"--", "-a"}, positional: []string{"-a"}, time: 10},
		{name: "interspersed flag after argument", args: []string{"web", "-a"}, interspersed: true, positional: []string{"web"}, all: true, time: 10},
		{name: "interspersed between arguments", args: []string{"a", "-q", "b", "--name", "n", "c"}, interspersed: true, positional: []string{"a", "b", "c"}, quiet: true, flagName: "n", time: 10},
		{name: "interspersed run-together after argument", args: []string{"web", "-aq"}, interspersed: true, positional: []string{"web"}, all: true, quiet: true, time: 10},
		{name: "not interspersed keeps the command's flags", args: []string{"-a", "img", "cmd", "-q", "--all"}, positional: []string{"img", "cmd", "-q", "--all"}, all: true, time: 10},
		{name: "not interspersed keeps run-together flags", args: []string{"img", "-aq"}, positional: []string{"img", "-aq"}, time: 10},
		{name: "run-together shorts after a flag's value", args: []string{"-n", "web", "-aq", "x"}, positional: []string{"x"}, all: true, quiet: true, flagName: "web", time: 10},
		{name: "double dash after an argument, interspersed", args: []string{"a", "--", "b", "-a"}, interspersed: true, positional: []string{"a", "b", "-a"}, time: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newFlagsTestSet()
			positional, err := s.flags.Parse(tt.args, 0, -1, tt.interspersed)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.args, err)
			}
			if !slices.Equal(positional, tt.positional) {
				t.Errorf("positional = %q, want %q", positional, tt.positional)
			}
			if s.all != tt.all || s.quiet != tt.quiet || s.rm != tt.rm {
				t.Errorf("all, quiet, rm = %v, %v, %v; want %v, %v, %v", s.all, s.quiet, s.rm, tt.all, tt.quiet, tt.rm)
			}
			if s.name != tt.flagName || s.time != tt.time {
				t.Errorf("name, time = %q, %d; want %q, %d", s.name, s.time, tt.flagName, tt.time)
			}
			if !slices.Equal(s.env, tt.env) {
				t.Errorf("env = %q, want %q", s.env, tt.env)
			}
			if s.out.Len() != 0 {
				t.Errorf("Parse printed %q", s.out)
			}
		})
	}
}

// A run of letters that are not all boolean flags is left alone, so the flag package reports it.
func TestFlagsRunTogetherNeedsBooleans(t *testing.T) {
	for _, arg := range []string{"-an", "-ax", "-at"} {
		s := newFlagsTestSet()
		if _, err := s.flags.Parse([]string{arg, "v"}, 0, -1, true); err == nil {
			t.Errorf("Parse(%q): no error", arg)
		}
	}
}

func TestFlagsArgumentCount(t *testing.T) {
	tests := []struct {
		args     []string
		min, max int
		wantErr  string // "" for success
	}{
		{[]string{"a"}, 1, 1, ""},
		{nil, 0, 0, ""},
		{[]string{"a", "b", "c"}, 1, -1, ""},
		{[]string{"a", "b"}, 1, 2, ""},
		{nil, 1, 1, "exactly 1 argument(s)"},
		{[]string{"a", "b"}, 1, 1, "exactly 1 argument(s)"},
		{[]string{"a"}, 0, 0, "exactly 0 argument(s)"},
		{nil, 1, -1, "at least 1 argument(s)"},
		{[]string{"a", "b", "c"}, 1, 2, "at most 2 argument(s)"},
		{[]string{}, 1, 2, "at least 1 argument(s)"},
	}
	for _, tt := range tests {
		s := newFlagsTestSet()
		_, err := s.flags.Parse(tt.args, tt.min, tt.max, true)
		switch {
		case tt.wantErr == "" && err != nil:
			t.Errorf("Parse(%q, %d, %d): %v", tt.args, tt.min, tt.max, err)
		case tt.wantErr != "" && err == nil:
			t.Errorf("Parse(%q, %d, %d): no error, want %q", tt.args, tt.min, tt.max, tt.wantErr)
		case tt.wantErr != "":
			for _, want := range []string{`"engine demo" requires ` + tt.wantErr, "see 'engine demo --help'"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("Parse(%q, %d, %d) = %q, want it to contain %q", tt.args, tt.min, tt.max, err, want)
				}
			}
		}
	}
}

func TestFlagsUnknownFlag(t *testing.T) {
	for _, args := range [][]string{{"-x"}, {"--bogus"}, {"web", "--bogus"}, {"-n"}} {
		s := newFlagsTestSet()
		_, err := s.flags.Parse(args, 0, -1, true)
		if err == nil {
			t.Errorf("Parse(%q): no error", args)
			continue
		}
		if errors.Is(err, errHelpShown) || !strings.Contains(err.Error(), "see 'engine demo --help'") {
			t.Errorf("Parse(%q) = %q, want a hint at 'engine demo --help'", args, err)
		}
	}
}

func TestFlagsHelp(t *testing.T) {
	for _, args := range [][]string{{"--help"}, {"-help"}, {"web", "--help"}} {
		s := newFlagsTestSet()
		positional, err := s.flags.Parse(args, 1, 1, true)
		if !errors.Is(err, errHelpShown) || positional != nil {
			t.Fatalf("Parse(%q) = %q, %v; want errHelpShown", args, positional, err)
		}
		usage := s.out.String()
		for _, want := range []string{
			"Usage:  engine demo [OPTIONS] ARG...\n\nDo a demo\n",
			"\nOptions:\n",
			"  -a, --all ",
			"  -n, --name string ",
			"  -t, --time int ",
			"  -e, --env list ",
			"\n      --rm ", // aligned with the long names of options that have a short one
			"Set a variable\n",
		} {
			if !strings.Contains(usage, want) {
				t.Errorf("Parse(%q) usage lacks %q:\n%s", args, want, usage)
			}
		}
	}
}

func TestFlagsHelpWithoutOptions(t *testing.T) {
	out := &bytes.Buffer{}
	f := newFlags(&Session{Stdout: out}, "version", "", "Show the version")
	if _, err := f.Parse([]string{"--help"}, 0, 0, true); !errors.Is(err, errHelpShown) {
		t.Fatalf("Parse(--help) = %v, want errHelpShown", err)
	}
	if strings.Contains(out.String(), "Options:") || !strings.Contains(out.String(), "Show the version") {
		t.Errorf("usage = %q", out)
	}
}

func TestFlagsParseSignal(t *testing.T) {
	tests := []struct {
		in   string
		want int
	}{
		{"TERM", 15}, {"SIGTERM", 15}, {"sigterm", 15}, {"term", 15}, {"KILL", 9}, {"SIGKILL", 9},
		{"HUP", 1}, {"USR1", 10}, {"WINCH", 28}, {"9", 9}, {"1", 1}, {"64", 64},
	}
	for _, tt := range tests {
		if got, err := parseSignal(tt.in); err != nil || got != tt.want {
			t.Errorf("parseSignal(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
	for _, bad := range []string{
		"", "bad", "SIG", "SIGBAD", "0", "-9", "65", "1.5", "TERM ", "+9", " 9", "0x9", "4294967305", // 2^32+9
		"18446744073709551625", "9223372036854775807", "-9223372036854775808", "TE\nRM", "9\x00",
	} {
		got, err := parseSignal(bad)
		if err == nil || !strings.Contains(err.Error(), "invalid signal") || strings.ContainsAny(err.Error(), "\n\x00") {
			t.Errorf("parseSignal(%q) = %d, %v; want an invalid signal error on one line", bad, got, err)
		}
	}
}

// An int flag takes decimal digits within its range and nothing else: what would overflow, wrap
// around or be read in another base is an error that names the flag, on one line.
func TestFlagsInt(t *testing.T) {
	for value, want := range map[string]int{"0": 0, "3600": 3600, "7": 7, "007": 7} {
		s := newFlagsTestSet()
		if _, err := s.flags.Parse([]string{"-t", value}, 0, -1, false); err != nil || s.time != want {
			t.Errorf("-t %q: %d, %v; want %d", value, s.time, err, want)
		}
	}
	for _, value := range []string{
		"", "-", "-0", "-1", "3601", "+5", " 5", "5 ", "0x10", "1e3", "1.0", "1_000", "٣", "9223372036854775807",
		"9223372036854775808", "-9223372036854775809", "18446744073709551616", "99999999999999999999999", "1\n2",
	} {
		s := newFlagsTestSet()
		_, err := s.flags.Parse([]string{"--time", value}, 0, -1, false)
		if err == nil || !strings.Contains(err.Error(), "for flag -time: a whole number from 0 to 3600 expected") || strings.Contains(err.Error(), "\n") {
			t.Errorf("--time %q: %v (time %d); want an error on one line", value, err, s.time)
		}
		if s.time != 10 {
			t.Errorf("--time %q changed the value to %d", value, s.time)
		}
	}
}

// An unknown flag is repeated in the error as given: escaped, so that the error is one line.
func TestFlagsUnknownFlagOnOneLine(t *testing.T) {
	_, err := newFlagsTestSet().flags.Parse([]string{"-x\nengine: injected"}, 0, -1, false)
	if err == nil || strings.Contains(err.Error(), "\n") || !strings.Contains(err.Error(), `-x\nengine`) {
		t.Errorf("got %v, want the flag escaped", err)
	}
}
