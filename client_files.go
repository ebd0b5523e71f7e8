// client_files.go: the files `engine load -i FILE` and `engine save -o FILE` name, which the client
// reads and writes itself, with the user's permissions and relative to the user's directory, as docker's
// CLI does. The daemon never sees the name: load's file is sent as stdin (importSource in client.go
// calls loadSource), and save's archive comes back as stdout, which saveDestination points at the file.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// loadSource opens the file of `load -i FILE` (or --input) and drops the flag: the daemon reads stdin.
func loadSource(args []string) ([]string, *os.File, error) {
	flag, ok := findFlag(args, "-i", "--input")
	if !ok || flag.value == "-" {
		return args, os.Stdin, nil
	}
	input, err := os.Open(flag.value)
	if err != nil {
		return nil, nil, err
	}
	return flag.without(args), input, nil
}

// saveOutput is where `engine save` puts the archive the daemon streams as stdout.
type saveOutput struct {
	file *os.File // a temp file beside the destination, or nil for our stdout
	dest string
}

// saveDestination reads `save -o FILE` (or --output): the archive is written to a temp file beside
// FILE and renamed over it only when the daemon says it is complete, so a failed save leaves no partial
// file. Without -o the archive goes to stdout, which may not be a terminal: as docker says, it is
// "cowardly refusing" to print a tar there.
func saveDestination(args []string) ([]string, *saveOutput, error) {
	if args[0] != "save" {
		return args, &saveOutput{}, nil
	}
	flag, ok := findFlag(args, "-o", "--output")
	if ok {
		args = flag.without(args)
	}
	if !ok || flag.value == "-" {
		if !hasHelpFlag(args) && isTerminal(os.Stdout) {
			return nil, nil, errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		return args, &saveOutput{}, nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(flag.value), "."+filepath.Base(flag.value)+".tmp-*")
	if err != nil {
		return nil, nil, err
	}
	return args, &saveOutput{file: tmp, dest: flag.value}, nil
}

// writer is what the daemon's stdout frames are copied to.
func (o *saveOutput) writer() io.Writer {
	if o.file == nil {
		return os.Stdout
	}
	return o.file
}

// finish renames the archive into place if the save succeeded, and removes it otherwise. Only the first
// call does anything.
func (o *saveOutput) finish(ok bool) error {
	file := o.file
	if file == nil {
		return nil
	}
	o.file = nil
	err := file.Sync()
	if cerr := file.Close(); err == nil {
		err = cerr
	}
	if ok && err == nil {
		if err = os.Rename(file.Name(), o.dest); err == nil {
			return nil
		}
	}
	os.Remove(file.Name())
	if ok {
		return fmt.Errorf("writing %s: %w", o.dest, err)
	}
	return nil
}

// clientFlag is a flag with a value the client acts on: args[at:at+width] are the flag and its value,
// "-o FILE" (width 2) or "-o=FILE" (width 1).
type clientFlag struct {
	at, width int
	value     string
}

// findFlag looks for the short or long flag before any "--" and its value; ok is false if it is absent.
func findFlag(args []string, short, long string) (flag clientFlag, ok bool) {
	for i := 1; i < len(args) && args[i] != "--"; i++ {
		arg := args[i]
		if (arg == short || arg == long) && i+1 < len(args) {
			return clientFlag{i, 2, args[i+1]}, true
		}
		for _, name := range []string{short, long} {
			if value, found := strings.CutPrefix(arg, name+"="); found {
				return clientFlag{i, 1, value}, true
			}
		}
	}
	return clientFlag{}, false
}

// without returns args without the flag: the daemon never sees a client-side file name.
func (f clientFlag) without(args []string) []string {
	return append(append([]string{}, args[:f.at]...), args[f.at+f.width:]...)
}

func hasHelpFlag(args []string) bool {
	for _, arg := range args[1:] {
		if arg == "--help" || arg == "-h" {
			return true
		}
	}
	return false
}
