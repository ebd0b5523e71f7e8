// client_test.go covers client.go: receive's errors and importSource.
package main

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestFrameReceiveErrors(t *testing.T) {
	tests := []struct {
		name   string
		frames []testFrame
		want   string
	}{
		{"short exit frame", []testFrame{{frameExit, []byte{0, 0, 1}}}, "bad exit frame"},
		{"unknown frame", []testFrame{{'?', nil}}, "unexpected frame"},
		{"connection closed", nil, io.ErrUnexpectedEOF.Error()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			client, daemon := frameTestPair(t)
			go func() {
				<-sendFrames(daemon, tt.frames...)
				daemon.Close()
			}()
			if status, err := receive(client, &clientTerminal{conn: client}, os.Stdout, nil); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("receive = %d, %v; want an error containing %q", status, err, tt.want)
			}
		})
	}
}

func TestImportSourceRewritesFile(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "rootfs.tar")
	if err := os.WriteFile(file, []byte("tarball"), 0600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		args, want []string
	}{
		{[]string{"import", file}, []string{"import", "-"}},
		{[]string{"import", file, "name:1"}, []string{"import", "-", "name:1"}},
		{[]string{"import", "-m", "msg", file, "x"}, []string{"import", "-m", "msg", "-", "x"}},
		{[]string{"import", "--message", "-", file}, []string{"import", "--message", "-", "-"}},
		{[]string{"import", "--message=hi", file}, []string{"import", "--message=hi", "-"}},
		{[]string{"import", "--", file}, []string{"import", "--", "-"}},
	}
	for _, tt := range tests {
		original := slices.Clone(tt.args)
		got, input, err := importSource(tt.args)
		if err != nil {
			t.Errorf("importSource(%q): %v", tt.args, err)
			continue
		}
		if !slices.Equal(got, tt.want) {
			t.Errorf("importSource(%q) = %q, want %q", tt.args, got, tt.want)
		}
		if !slices.Equal(tt.args, original) {
			t.Errorf("importSource changed its argument to %q", tt.args)
		}
		if input == os.Stdin {
			t.Errorf("importSource(%q) reads stdin, want %s", tt.args, file)
			continue
		}
		content, _ := io.ReadAll(input)
		input.Close()
		if input.Name() != file || string(content) != "tarball" {
			t.Errorf("importSource(%q) opened %s holding %q", tt.args, input.Name(), content)
		}
	}
}

func TestImportSourceLeavesOthersAlone(t *testing.T) {
	for _, args := range [][]string{
		{"import", "-", "x"},
		{"import", "-m", "msg", "-"},
		{"import", "--help"},
		{"import"},
		{"ps", "-a"},
		{"run", "base", "/etc/passwd"},
		{"images", "import"},
	} {
		got, input, err := importSource(args)
		if err != nil || input != os.Stdin || !slices.Equal(got, args) {
			t.Errorf("importSource(%q) = %q, stdin %v, %v; want it unchanged, reading stdin", args, got, input == os.Stdin, err)
		}
	}
}

func TestImportSourceMissingFile(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "none.tar")
	if _, _, err := importSource([]string{"import", missing, "x"}); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("importSource of a missing file = %v, want ErrNotExist", err)
	}
}

// After "--", a file whose name starts with "-" is still the file to send.
func TestImportSourceDashFile(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	if err := os.WriteFile(filepath.Join(dir, "-x.tar"), []byte("tarball"), 0600); err != nil {
		t.Fatal(err)
	}
	got, input, err := importSource([]string{"import", "--", "-x.tar", "name"})
	if err != nil || !slices.Equal(got, []string{"import", "--", "-", "name"}) || input == os.Stdin {
		t.Fatalf("importSource = %q, %v", got, err)
	}
	input.Close()
}
