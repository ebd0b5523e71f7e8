// client_cp.go: the client's half of `engine cp`, on the user's files with the user's permissions.
//
// As docker's CLI does, the client reads and writes the local files itself, so a copy can do no more on
// the host than the user who runs it, and the daemon never opens a path a client names. The daemon
// only sends or takes a tar (cp.go):
//
//	engine cp web:/var/log ./logs   sends `cp web:/var/log -`, and unpacks the tar that comes back as
//	                                stdout at ./logs (UnpackCopy, archive_copy.go, placed by placeCopy)
//	engine cp ./dir web:/tmp/       packs ./dir (Pack) into a pipe and sends `cp --source=./dir - web:/tmp/`,
//	                                the pipe being its stdin
//
// With "-" as either side, the command goes as the user wrote it: the tar is the client's stdin or
// stdout, untouched. The tar that comes from a container is hostile: its unpacking refuses absolute
// names, "..", entries under a symlink, device nodes (which a tar on stdout may carry: it is only
// bytes there) and links to files it did not write, and drops setuid bits (archive_copy.go).
package main

import (
	"archive/tar"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
)

// localSide is what the client does on the user's machine for one command: the arguments it sends
// (rewritten where the client reads or writes a local file), the input it sends when the daemon asks for
// stdin, where the daemon's stdout goes, and, when set, the local work to finish once the daemon has
// answered, which may change the exit status or fail with an error of its own.
type localSide struct {
	args   []string
	input  *os.File
	output io.Writer
	finish func(status int, received error) (int, error)
	// credentials answers the daemon's question for a registry's user and password (client_auth.go):
	// base64 of user:password, or "". nil: those of ~/.engine/config.json.
	credentials func(domain string) string
}

// localSideOf prepares the local side of args: `engine cp` here, `engine export -o FILE` and `engine
// save -o FILE` in outputSide (client_files.go), `engine import FILE` and `engine load -i FILE` in
// importSource, `engine login` in loginSide (client_auth.go).
func localSideOf(args []string, conn *Conn) (*localSide, error) {
	if args[0] == "cp" {
		return copySide(args, conn)
	}
	if args[0] == "login" {
		return loginSide(args)
	}
	if slices.Contains(outputCommands, args[0]) {
		return outputSide(args)
	}
	args, input, err := importSource(args)
	return &localSide{args: args, input: input, output: os.Stdout}, err
}

// copySide reads a cp command line as the daemon would (its flags, then two paths) and prepares the
// local half of a copy to or from a local path. Anything it cannot read goes to the daemon as it is,
// to be explained there.
func copySide(args []string, conn *Conn) (*localSide, error) {
	side := &localSide{args: args, input: os.Stdin, output: os.Stdout}
	var flags, paths []string
	follow := false
	for i := 1; i < len(args); i++ {
		arg := args[i]
		switch {
		case arg == "--":
			paths = append(paths, args[i+1:]...)
			i = len(args)
		case arg == "--help":
			return side, nil
		case strings.HasPrefix(arg, "-") && arg != "-":
			follow = follow || arg == "-L" || arg == "--follow-link"
			flags = append(flags, arg)
		default:
			paths = append(paths, arg)
		}
	}
	if len(paths) != 2 {
		return side, nil
	}
	srcContainer, srcPath := splitCpArg(paths[0])
	dstContainer, dstPath := splitCpArg(paths[1])
	switch {
	case srcContainer != "" && dstContainer == "" && paths[1] != "-":
		side.args = append(append([]string{"cp"}, flags...), paths[0], "-")
		side.unpackTo(dstPath, srcPath)
	case dstContainer != "" && srcContainer == "" && paths[0] != "-":
		side.args = append(append([]string{"cp"}, flags...), "--source="+srcPath, "-", paths[1])
		return side, side.packFrom(srcPath, follow, conn)
	}
	return side, nil
}

// errCopyAborted ends the local half of a copy the daemon did not complete: it said why.
var errCopyAborted = errors.New("copy aborted")

// unpackTo makes the daemon's stdout a pipe into UnpackCopy at the local path dst, the copy of the
// container's src.
func (side *localSide) unpackTo(dst, src string) {
	reader, writer := io.Pipe()
	unpacked := make(chan error, 1)
	go func() {
		err := UnpackCopy(reader, true, func(first *tar.Header) (string, string, string, error) {
			return placeOnHost(dst, parseCopySource(containerPath(src)), first)
		})
		reader.CloseWithError(err) // a failure stops the copy: the daemon's frames have nowhere to go
		unpacked <- err
	}()
	side.output = writer
	side.finish = func(status int, received error) (int, error) {
		if status == 0 && received == nil {
			writer.Close()
		} else {
			writer.CloseWithError(errCopyAborted)
		}
		if err := <-unpacked; err != nil && !errors.Is(err, errCopyAborted) {
			return copyFailed, copyError(err)
		}
		return status, nil
	}
}

// placeOnHost is placeCopy for a local destination.
func placeOnHost(dst string, src copySource, first *tar.Header) (dir, from, to string, err error) {
	if first == nil && !src.contents {
		return "", "", "", errBadCopySource
	}
	destination, err := statDestination(dst)
	if err != nil {
		return "", "", "", err
	}
	if parent := filepath.Dir(filepath.Clean(dst)); !destination.exists {
		if info, err := os.Stat(parent); err != nil {
			return "", "", "", err // "stat /x: no such file or directory"
		} else if !info.IsDir() {
			return "", "", "", fmt.Errorf("%s: %w", parent, errNotDirectory)
		}
	}
	dir, to, err = placeCopy(destination, src, src.contents || first.Typeflag == tar.TypeDir)
	return dir, src.name, to, err
}

// packFrom makes the command's stdin a pipe from Pack of the local path src. A failure to read src
// ends the connection, so the daemon never takes the tar cut short for a whole one, and is the one
// error the client reports.
func (side *localSide) packFrom(srcPath string, follow bool, conn *Conn) error {
	src := parseCopySource(srcPath)
	p, err := localSource(src, follow)
	if err != nil {
		return err
	}
	reader, writer, err := os.Pipe()
	if err != nil {
		return err
	}
	var aborted atomic.Bool
	packed := make(chan error, 1)
	go func() {
		err := Pack(writer, p, src.name, PackFiles)
		if err != nil && !aborted.Load() {
			conn.Close()
		}
		writer.Close()
		packed <- err
	}()
	side.input = reader
	side.finish = func(status int, received error) (int, error) {
		aborted.Store(status != 0 || received != nil)
		reader.Close() // a Pack the daemon stopped reading ends
		if err := <-packed; err != nil && status == 0 {
			return copyFailed, copyError(err)
		}
		return status, nil
	}
	return nil
}

// localSource finds the file a copy from the host packs, by Docker's rules for the source.
func localSource(src copySource, follow bool) (string, error) {
	p := src.path
	info, err := os.Lstat(p)
	if err == nil && (follow || src.wantDir) && info.Mode()&fs.ModeSymlink != 0 {
		if p, err = filepath.EvalSymlinks(p); err == nil {
			info, err = os.Lstat(p)
		}
	}
	if err != nil {
		return "", copyError(err)
	}
	if src.wantDir && !info.IsDir() {
		return "", copyError(fmt.Errorf("%s: %w", src.path, errNotDirectory))
	}
	return p, nil
}
