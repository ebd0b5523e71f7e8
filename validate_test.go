// validate_test.go covers validate.go: which host names, environment variables, labels, working
// directories and arguments are let through, and that each refusal is one line.
package main

import (
	"strings"
	"testing"
)

func TestCheckHostname(t *testing.T) {
	for hostname, valid := range map[string]bool{
		"a": true, "box": true, "Web-1": true, "a.b.c": true, "0": true, "123.45": true, "xn--bcher-kva.ch": true,
		strings.Repeat("a", 63): true, strings.Repeat("a.", 31) + "a": true, strings.Repeat("a", 62) + ".b": false,
		strings.Repeat("a", 64): false, "": false, ".": false, "a.": false, ".a": false, "a..b": false,
		"-a": false, "a-": false, "a.-b": false, "a_b": false, "a b": false, "a\tb": false, "a\nb": false,
		"evil\n6.6.6.6 injected": false, "a#b": false, "a\x00": false, "é": false, "\u212a": false, "a/b": false,
	} {
		err := checkHostname(hostname)
		if (err == nil) != valid {
			t.Errorf("checkHostname(%q) = %v, want valid %v", hostname, err, valid)
		}
		if err != nil && strings.ContainsAny(err.Error(), "\n\x00") {
			t.Errorf("checkHostname(%q): %q is more than one line", hostname, err)
		}
	}
}

func TestCheckEnv(t *testing.T) {
	good := [][]string{nil, {"A=1"}, {"A="}, {"A==1"}, {"A=1\n2"}, {"a b=c"}, {"PATH=/bin", "HOME=/"}}
	for _, env := range good {
		if err := checkEnv(env); err != nil {
			t.Errorf("checkEnv(%q) = %v", env, err)
		}
	}
	bad := [][]string{{""}, {"A"}, {"=x"}, {"="}, {"A=1\x00"}, {"A\x00=1"}, {"\x00=1"}, {"A=1", "B"}}
	for _, env := range bad {
		err := checkEnv(env)
		if err == nil || !strings.Contains(err.Error(), "invalid environment variable") || strings.ContainsAny(err.Error(), "\n\x00") {
			t.Errorf("checkEnv(%q) = %v, want one line", env, err)
		}
	}
}

func TestParseLabels(t *testing.T) {
	labels, err := parseLabels([]string{"a=1", "b", "c=", "d=x=y", "e=with space", "f=multi\nline", "a=2"})
	want := map[string]string{"a": "2", "b": "", "c": "", "d": "x=y", "e": "with space", "f": "multi\nline"}
	if err != nil || len(labels) != len(want) {
		t.Fatalf("parseLabels = %q, %v", labels, err)
	}
	for key, value := range want {
		if labels[key] != value {
			t.Errorf("label %q = %q, want %q", key, labels[key], value)
		}
	}
	for _, label := range []string{"", "=x", " =x", "a b=c", "a\t=c", "a\n=c", "a\x00=c", "a=c\x00"} {
		if _, err := parseLabels([]string{label}); err == nil || strings.ContainsAny(err.Error(), "\n\x00") {
			t.Errorf("parseLabels(%q) = %v, want an error on one line", label, err)
		}
	}
}

func TestCheckWorkingDirAndCommand(t *testing.T) {
	for dir, valid := range map[string]bool{"": true, "/": true, "/a b/c": true, "a": false, "./a": false, "/a\x00/b": false} {
		if err := checkWorkingDir(dir); (err == nil) != valid {
			t.Errorf("checkWorkingDir(%q) = %v, want valid %v", dir, err, valid)
		}
	}
	if err := checkCommand([]string{"sh", "-c", "echo 'a\nb'", ""}); err != nil {
		t.Errorf("checkCommand: %v", err)
	}
	if err := checkCommand([]string{"echo", "a\x00b"}); err == nil || strings.ContainsRune(err.Error(), 0) {
		t.Errorf("checkCommand with a NUL: %v", err)
	}
}
