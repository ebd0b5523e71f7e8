package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// load -i FILE: the client opens the file and the daemon sees no flag, only stdin.
func TestLoadSource(t *testing.T) {
	file := filepath.Join(t.TempDir(), "img.tar")
	os.WriteFile(file, []byte("archive"), 0600)
	for _, tt := range []struct{ args, want []string }{
		{[]string{"load", "-i", file}, []string{"load"}},
		{[]string{"load", "--input", file, "-q"}, []string{"load", "-q"}},
		{[]string{"load", "-q", "--input=" + file}, []string{"load", "-q"}},
		{[]string{"load", "-i=" + file}, []string{"load"}},
	} {
		got, input, err := importSource(tt.args)
		if err != nil || !slices.Equal(got, tt.want) || input == os.Stdin || input.Name() != file {
			t.Errorf("importSource(%q) = %q, %v", tt.args, got, err)
		}
		if input != nil && input != os.Stdin {
			input.Close()
		}
	}
	for _, args := range [][]string{{"load"}, {"load", "-i", "-"}, {"load", "-q"}, {"load", "--", "-i", "x"}} {
		if got, input, err := importSource(args); err != nil || input != os.Stdin || !slices.Equal(got, args) {
			t.Errorf("importSource(%q) = %q, stdin %v, %v; want it unchanged, reading stdin", args, got, input == os.Stdin, err)
		}
	}
	if _, _, err := importSource([]string{"load", "-i", filepath.Join(t.TempDir(), "none")}); !os.IsNotExist(err) {
		t.Errorf("load -i of a missing file: %v", err)
	}
}

// save -o FILE (and export's): the tar goes to a temp file beside FILE, made at its first byte and renamed over
// FILE only on success.
func TestOutputDestination(t *testing.T) {
	dir := t.TempDir()
	dest := filepath.Join(dir, "out.tar")
	args, output, err := outputDestination([]string{"save", "-o", dest, "base"})
	if err != nil || !slices.Equal(args, []string{"save", "base"}) || output == nil {
		t.Fatalf("outputDestination = %q, %v", args, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a save that has received nothing made %v", entries)
	}
	output.Write([]byte("partial"))
	if status, err := output.finish(0, errors.New("connection lost")); err != nil || status != 0 {
		t.Fatal(status, err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a failed save left %v", entries)
	}

	args, output, err = outputDestination([]string{"save", "--output=" + dest, "a", "b"})
	if err != nil || !slices.Equal(args, []string{"save", "a", "b"}) {
		t.Fatalf("outputDestination = %q, %v", args, err)
	}
	output.Write([]byte("archive"))
	if status, err := output.finish(0, nil); err != nil || status != 0 {
		t.Fatal(status, err)
	}
	if data, _ := os.ReadFile(dest); string(data) != "archive" {
		t.Errorf("save -o wrote %q", data)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 {
		t.Errorf("save -o left %v", entries)
	}
	if _, _, err := outputDestination([]string{"save", "-o", filepath.Join(dir, "no/such/dir/x.tar"), "base"}); err == nil {
		t.Errorf("save -o into a missing directory succeeded")
	}
}

// -o FILE, --output FILE, -o=FILE and --output=FILE are taken out of the request, wherever they stand
// before "--"; a command without -o, or with it after "--", is left alone.
func TestOutputDestinationFlags(t *testing.T) {
	file := filepath.Join(t.TempDir(), "fs.tar")
	for _, args := range [][]string{
		{"export", "-o", file, "web"}, {"export", "web", "--output", file}, {"export", "-o=" + file, "web"}, {"export", "--output=" + file, "web"},
	} {
		rest, output, err := outputDestination(args)
		if err != nil || output == nil || output.dest != file || !slices.Equal(rest, []string{"export", "web"}) {
			t.Errorf("outputDestination(%q) = %q, %v, %v", args, rest, output, err)
		}
	}
	for _, args := range [][]string{{"export", "web"}, {"export", "--", "-o", file}} {
		if rest, output, _ := outputDestination(args); output != nil || !slices.Equal(rest, args) {
			t.Errorf("outputDestination(%q) = %q, %v; want them untouched", args, rest, output)
		}
	}
}
