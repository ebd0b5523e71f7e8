// cp.go: `engine cp`, copying files between a container and the host; the daemon's side.
//
// Docker's cp (docker/cli's container/cp.go, moby's pkg/archive/copy.go) moves tar streams, and so do we.
// The client does the host's half with the user's own permissions (client_cp.go); the daemon only ever
// sends or receives a tar:
//
//	engine cp web:/var/log ./logs   the client asks for `cp web:/var/log -`, and unpacks the tar it gets
//	engine cp ./dir web:/tmp/       the client packs ./dir (Pack, archive_pack.go) and sends it as stdin
//	                                with `cp --source ./dir - web:/tmp/`: the container side places it
//	engine cp web:/etc - | tar t    the tar itself, on stdout; `tar c x | engine cp - web:/tmp` likewise
//	                                unpacks a tar from stdin into a directory of the container
//
// Where a copy lands follows Docker's rules (placeCopy): into an existing directory, under a new name,
// over an existing file; "/." at the end of the source copies what is in it.
//
// The container side runs inside the container's root. A path such as /x/y means what it means to the
// container's processes, and they may change it at any moment: in CVE-2018-15664 a container swapped /x
// for a symlink to "/" between Docker's check of the path and its use, and Docker read and wrote the
// host's files. There are two ways to be immune. The kernel can resolve every step inside the root
// (openat2 with RESOLVE_IN_ROOT, as securepath.go's openInRoot does for one file), but a copy walks
// whole trees and creates files, links and directories: every step of the walk and every creation
// would have to be relative to a descriptor, a second tar writer and a second unpacker beside
// archive_pack.go's and archive.go's. Or a process whose root *is* the container's does the work with
// plain paths, as Docker's chrootarchive does since that CVE: in a chroot every symlink, absolute or
// relative, and every "..", resolves inside the root, whatever the container swaps in. We take that
// way, as exec does (exec.go): the daemon starts `engine init cp` from the sealed binary
// (container_cp.go, cp_helper.go), which joins the running container's mount namespace through a
// pidfd (or, for a stopped container, takes its root filesystem, mounted by the daemon for the copy,
// and mounts its volumes there), chroots there, and packs or unpacks.
//
// The helper is not in the container's PID namespace, holds no descriptor of the daemon's but its
// stdin or stdout, the sync pipe and the two it enters by, is killed when the client leaves, ends
// when the daemon does, and each of the daemon's waits on it has a bound. Nothing from the image runs or is
// loaded on the host: the helper is the engine's own static binary and never looks up a user or group
// by name (CVE-2019-14271: Docker's docker-cp helper, chrooted in the container, loaded the image's
// libnss_*.so to do so, and ran the image's code as root).
package main

import (
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
)

// Docker's wording of a copy's errors (moby pkg/archive/copy.go), and its exit status for them: 1. An
// error of the engine itself (no such container, a bad flag) exits 125, as every command's does.
var (
	errCopyDir         = errors.New("cannot copy directory")
	errDirNotExists    = errors.New("no such directory")
	errNotDirectory    = errors.New("not a directory")
	errBadCopySource   = errors.New("invalid copy source content")
	errCopyToSelf      = errors.New("copying between containers is not supported")
	errCopyNoContainer = errors.New("must specify at least one container source")
)

const copyFailed = 1 // the status of a copy that failed on a file, as docker's

// copyError is an error of the copy itself, which exits copyFailed.
func copyError(err error) error {
	return &StatusError{Status: copyFailed, Err: err}
}

// splitCpArg splits "CONTAINER:PATH" as docker's CLI does: an absolute path, a path without ":" and
// one starting with "." (./file:name) are local.
func splitCpArg(arg string) (container, p string) {
	if strings.HasPrefix(arg, "/") {
		return "", arg
	}
	container, p, ok := strings.Cut(arg, ":")
	if !ok || strings.HasPrefix(container, ".") {
		return "", arg
	}
	return container, p
}

// copySource is a copy's source path as the user wrote it, read by Docker's rules.
type copySource struct {
	path     string // cleaned, for the file system
	name     string // the name its tar's top entry has: its base name, or "" for its contents
	contents bool   // "dir/." (or "/"): what is in the directory, not the directory
	wantDir  bool   // a trailing "/" or "/.": it must be a directory
}

func parseCopySource(p string) copySource {
	src := copySource{path: path.Clean(p), wantDir: strings.HasSuffix(p, "/") || strings.HasSuffix(p, "/.") || p == "."}
	src.contents = strings.HasSuffix(p, "/.") || p == "." || src.path == "/"
	if !src.contents {
		src.name = path.Base(src.path)
	}
	return src
}

// containerPath is a path of the container as the helper reads it: relative paths start at its root,
// as Docker's do, and a trailing "/" or "/." stays, for parseCopySource and placeCopy to read.
func containerPath(p string) string {
	absolute := path.Join("/", p)
	switch {
	case absolute != "/" && strings.HasSuffix(p, "/."):
		return absolute + "/."
	case absolute != "/" && strings.HasSuffix(p, "/"):
		return absolute + "/"
	}
	return absolute
}

// copyDestination is what a copy finds at its destination, as moby's CopyInfoDestinationPath says it.
type copyDestination struct {
	path   string // as the user wrote it: a trailing "/" asserts a directory
	exists bool
	isDir  bool
}

// placeCopy decides by Docker's rules (moby's PrepareArchiveCopy) where a copied tree goes: the
// directory it is unpacked into and the name its top entry src.name takes there ("." is that
// directory itself).
func placeCopy(dst copyDestination, src copySource, srcIsDir bool) (dir, name string, err error) {
	clean := path.Clean(dst.path)
	switch {
	case dst.exists && dst.isDir && src.contents:
		return clean, ".", nil // merged into the directory
	case dst.exists && dst.isDir:
		return clean, src.name, nil
	case dst.exists && srcIsDir:
		return "", "", errCopyDir
	case !dst.exists && !srcIsDir && (strings.HasSuffix(dst.path, "/") || strings.HasSuffix(dst.path, "/.")):
		return "", "", errDirNotExists
	}
	// A file over a file, or anything under a new name: into the destination's parent.
	return path.Dir(clean), path.Base(clean), nil
}

// copyRequest is what the daemon asks of the helper, on the sync pipe.
type copyRequest struct {
	Pack      bool    `json:"pack,omitempty"` // container → client: Path is the source; else Path is the destination
	Path      string  `json:"path"`
	Follow    bool    `json:"follow,omitempty"` // -L: a symlink source is followed
	Source    string  `json:"source,omitempty"` // to a container: the client's source path, "" for a tar from "-"
	Container string  `json:"container"`        // its name, for messages
	Mounts    []Mount `json:"mounts,omitempty"` // a stopped container's -v binds and volumes (stoppedMounts)
}

// copyReport is what the helper says on the sync pipe: first that it is ready to stream (or why not),
// then how the copy ended.
type copyReport struct {
	Ready   bool   `json:"ready,omitempty"`
	Done    bool   `json:"done,omitempty"`
	Status  int    `json:"status,omitempty"`
	Message string `json:"message,omitempty"`
}

// notFound is Docker's message for a path the container does not have.
func notFound(p, container string) error {
	return copyError(fmt.Errorf("Could not find the file %s in container %s", p, container))
}

func (srv *Server) CmdCp(session *Session, args []string) error {
	var follow bool
	var source string
	f := newFlags(session, "cp", "[OPTIONS] CONTAINER:SRC_PATH DEST_PATH|-\n       engine cp [OPTIONS] SRC_PATH|- CONTAINER:DEST_PATH",
		"Copy files/folders between a container and the local filesystem (\"-\": a tar stream on stdin or stdout)")
	f.Bool(&follow, "L", "follow-link", "Always follow symbol link in SRC_PATH")
	f.String(&source, "", "source", "path", "(sent by the client) the local SRC_PATH the tar on stdin was packed from")
	positional, err := f.Parse(args, 2, 2, true)
	if err != nil {
		return err
	}
	srcContainer, srcPath := splitCpArg(positional[0])
	dstContainer, dstPath := splitCpArg(positional[1])
	switch {
	case srcContainer != "" && dstContainer != "":
		return errCopyToSelf
	case srcContainer != "" && positional[1] == "-":
		return srv.copyFromContainer(session, srcContainer, copyRequest{Pack: true, Path: srcPath, Follow: follow})
	case dstContainer != "" && positional[0] == "-":
		return srv.copyToContainer(session, dstContainer, copyRequest{Path: dstPath, Source: source})
	case srcContainer != "" || dstContainer != "":
		return errors.New("the client reads and writes local files; the daemon takes only \"-\" (see client_cp.go)")
	}
	return errCopyNoContainer
}

// copyFromContainer sends the tar of a path of the container to the client, as stdout.
func (srv *Server) copyFromContainer(session *Session, name string, request copyRequest) error {
	if request.Path == "" {
		return copyError(errors.New("empty source path"))
	}
	c, err := srv.runtime.Get(name)
	if err != nil {
		return err
	}
	request.Container = name
	session.listen() // the client sends nothing: this is how its leaving is noticed
	return c.copyFiles(session, request, func(tar io.ReadWriter) error {
		_, err := io.CopyBuffer(session.Stdout, tar, make([]byte, maxPayload))
		return err
	})
}

// copyToContainer unpacks the client's tar (its stdin) at a path of the container.
func (srv *Server) copyToContainer(session *Session, name string, request copyRequest) error {
	if request.Path == "" {
		return copyError(errors.New("empty destination path"))
	}
	c, err := srv.runtime.Get(name)
	if err != nil {
		return err
	}
	request.Container = name
	var cutOff atomic.Bool // the helper stopped reading while the client was sending
	err = c.copyFiles(session, request, func(tar io.ReadWriter) error {
		_, err := io.Copy(tar, session.Stdin())
		cutOff.Store(errors.Is(err, syscall.EPIPE))
		return err
	})
	if err == nil || !cutOff.Load() {
		return err
	}
	status := session.status("cp", err) // the message first, then what the client still sends
	drainInput(session)
	return &StatusError{Status: status}
}

// drainInput reads and drops what the client still sends, for a while, after a copy into a container
// failed in the middle: closing a connection with unread bytes sends a reset, which can overtake the
// error message.
func drainInput(session *Session) {
	drained := make(chan struct{})
	go func() {
		io.Copy(io.Discard, session.Stdin())
		close(drained)
	}()
	select {
	case <-drained:
	case <-time.After(2 * time.Second):
	}
}
