// client_files.go: the files `engine load -i FILE`, `engine save -o FILE` and `engine export -o FILE`
// name, which the client reads and writes itself, with the user's permissions and relative to the user's
// directory, as docker's CLI does. The daemon never sees the name: load's file is sent as stdin
// (importSource in client.go calls loadSource), and the tar of save and export comes back as stdout,
// which outputSide points at the file.
package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
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

// outputCommands are the commands whose stdout is a tar stream: their `-o FILE` is written here, by
// the client, as docker's CLI writes it, and a terminal is no place for the stream.
var outputCommands = []string{"export", "save"}

// outputSide is the local side of `engine export|save [-o FILE]` (localSideOf, client_cp.go): where the
// tar the daemon streams as stdout goes.
func outputSide(args []string) (*localSide, error) {
	args, output, err := outputDestination(args)
	if err != nil || output == nil {
		return &localSide{args: args, input: os.Stdin, output: os.Stdout}, err
	}
	return &localSide{args: args, input: os.Stdin, output: output, finish: output.finish}, nil
}

// outputDestination reads `-o FILE` (or --output, -o=, --output=) and returns where the tar goes: nil
// for our stdout, which may not be a terminal (as docker says, it is "cowardly refusing" to print a tar
// there).
func outputDestination(args []string) ([]string, *outputFile, error) {
	flag, ok := findFlag(args, "-o", "--output")
	if ok {
		args = flag.without(args)
	}
	if !ok || flag.value == "-" {
		if !hasHelpFlag(args) && isTerminal(os.Stdout) {
			return nil, nil, errors.New("cowardly refusing to save to a terminal. Use the -o flag or redirect")
		}
		return args, nil, nil
	}
	// The file is made at the tar's first byte; may we make it at all is asked now, before the work.
	if err := unix.Access(filepath.Dir(flag.value), unix.W_OK|unix.X_OK); err != nil {
		return nil, nil, &os.PathError{Op: "write into", Path: filepath.Dir(flag.value), Err: err}
	}
	return args, &outputFile{dest: flag.value}, nil
}

// outputFile writes the tar to a temp file beside its destination, made at the first byte and renamed
// over the destination only when the daemon says the tar is complete: a save or export that fails, or
// whose daemon goes, leaves no file, partial or empty, and a file that was there stays as it was.
type outputFile struct {
	dest     string
	file     *os.File
	writeErr error
}

func (o *outputFile) Write(p []byte) (int, error) {
	if o.file == nil && o.writeErr == nil {
		o.file, o.writeErr = os.CreateTemp(filepath.Dir(o.dest), "."+filepath.Base(o.dest)+".tmp-*")
	}
	if o.writeErr != nil {
		return 0, o.writeErr
	}
	n, err := o.file.Write(p)
	o.writeErr = err
	return n, err
}

// finish renames the tar into place if the command succeeded, and removes it otherwise. An error of
// our own (the file could not be written) is the command's error.
func (o *outputFile) finish(status int, received error) (int, error) {
	if o.file == nil && o.writeErr == nil && status == 0 && received == nil { // nothing came: an empty file
		_, o.writeErr = o.Write(nil)
	}
	err := o.writeErr
	if o.file != nil {
		if err == nil {
			err = o.file.Sync()
		}
		if cerr := o.file.Close(); err == nil {
			err = cerr
		}
		if err == nil && status == 0 && received == nil {
			err = os.Rename(o.file.Name(), o.dest)
		}
		if err != nil || status != 0 || received != nil {
			os.Remove(o.file.Name())
		}
	}
	if err != nil {
		return 125, fmt.Errorf("writing %s: %w", o.dest, err)
	}
	return status, nil
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
