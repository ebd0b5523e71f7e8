// cp_helper.go: `engine init cp`, the helper that does a copy's container side inside the container's
// root.
//
// cp.go tells why the container's half of `engine cp` runs in a process whose root is the container's.
// This is that process, in two stages, both from the sealed binary:
//
//  1. `engine init cp [running]` starts with the sync pipe as fd 3 and, as exec's helper
//     (exec_helper.go), a pidfd of the container's first process as fd 4 (when it runs) and the root
//     as fd 5, and reads the daemon's copyRequest. On one locked thread it unshares its filesystem
//     state and, for a running container, joins its mount namespace through the pidfd, chroots into
//     the root and takes a copy of the namespace without /proc, /sys and /dev
//     (hideKernelFilesystems); for a stopped one, it mounts the container's volumes on the root in a
//     copy of the daemon's namespace (mountVolumes) and chroots. That changes this one thread only:
//     any other thread of a Go program, and any goroutine that ran there, would still resolve paths
//     on the host. So the thread hands the request over in a pipe and re-executes the binary
//     (execveat of the sealed copy, opened before) as
//  2. `engine init cp-root FD`, a new process all of whose threads start in the container's root. It
//     drops every capability a copy does not need, reads the request, and either packs the source to
//     stdout (Pack, PackFiles: FIFOs and devices become headers, never opened) or unpacks stdin at
//     the destination (UnpackCopy), with plain paths. It reports on the sync pipe when it is ready to
//     stream, and how the copy ended.
//
// Executing a file inside the container's root would make the kernel load its ELF interpreter from
// that root, the image's ld.so: stage 1 checks that the binary is static, and refuses otherwise. The
// helper never enters the container's PID namespace, so no process of the container can see, signal
// or trace it, and it never looks up a user or group by name (which would read the image's
// /etc/nsswitch.conf and, in a C program, load its libnss_*.so: CVE-2019-14271).
package main

import (
	"archive/tar"
	"bufio"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"strconv"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// copyCapabilities are all the helper keeps: to read and write any file of the container and give it
// its owner, mode and times.
var copyCapabilities = []string{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_DAC_READ_SEARCH", "CAP_FOWNER", "CAP_FSETID"}

// CopyInit is stage 1: it enters the container's root and re-executes itself there as stage 2.
func CopyInit() int {
	runtime.LockOSThread() // never unlocked: the thread's state is the container's from here on
	pipe := os.NewFile(initPipeFd, "sync")
	err := closeInheritedFds(execRootFd + 1)
	var request []byte
	var binary *os.File
	if err == nil {
		request, err = io.ReadAll(pipe)
	}
	if err == nil {
		binary, err = openStaticSelf()
	}
	if err == nil {
		err = enterCopyRoot(request, len(os.Args) > 3 && os.Args[3] == "running")
	}
	var requestFd int
	if err == nil {
		requestFd, err = handOver(request)
	}
	if err == nil {
		err = execveat(binary, []string{"engine", "init", "cp-root", strconv.Itoa(requestFd)}, os.Environ())
	}
	reportCopy(pipe, copyReport{Status: 125, Message: err.Error()})
	return 125
}

// handOver leaves the request for stage 2 in a pipe, whose descriptor it keeps open across execve.
// Its number goes in stage 2's arguments: any number is free or the Go runtime's own here (the
// descriptors the runtime opens close at execve).
func handOver(request []byte) (int, error) {
	r, w, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("handing the request over: %w", err)
	}
	unix.FcntlInt(w.Fd(), unix.F_SETPIPE_SZ, len(request)) // so that the write cannot block
	_, err = w.Write(request)
	if cerr := w.Close(); err == nil {
		err = cerr
	}
	fd := int(r.Fd()) // r is never closed, nor collected: the process ends at execve or with an error
	if err == nil {
		_, err = unix.FcntlInt(uintptr(fd), unix.F_SETFD, 0)
	}
	if err != nil {
		return 0, fmt.Errorf("handing the request over: %w", err)
	}
	return fd, nil
}

// openStaticSelf opens the helper's own binary, the daemon's sealed copy, and checks it has no ELF
// interpreter: run inside the container's root, the interpreter would be the image's.
func openStaticSelf() (*os.File, error) {
	self, err := os.Open("/proc/self/exe")
	if err != nil {
		return nil, err
	}
	binary, err := elf.NewFile(self)
	if err != nil {
		self.Close()
		return nil, fmt.Errorf("the engine binary: %w", err)
	}
	for _, program := range binary.Progs {
		if program.Type == elf.PT_INTERP {
			self.Close()
			return nil, errors.New("the engine binary is dynamically linked: build it with CGO_ENABLED=0 to use cp")
		}
	}
	return self, nil
}

// enterCopyRoot makes the container's root this thread's root and working directory: after joining
// the container's mount namespace through the pidfd when the container runs (`engine init cp
// running`); when it does not, its root filesystem is mounted in the daemon's namespace, and the
// helper mounts its volumes there first, in a copy of that namespace (mountVolumes). It then closes
// the pidfd and the root.
func enterCopyRoot(data []byte, join bool) error {
	var request copyRequest
	if err := json.Unmarshal(data, &request); err != nil {
		return err
	}
	if err := unix.Unshare(unix.CLONE_FS); err != nil { // setns(2) of a mount namespace wants it
		return fmt.Errorf("unshare(CLONE_FS): %w", err)
	}
	if join {
		if err := unix.Setns(execPidfd, unix.CLONE_NEWNS); errors.Is(err, unix.ESRCH) {
			return errors.New("the container is not running") // it ended after the daemon looked
		} else if err != nil {
			return fmt.Errorf("joining the container's mount namespace: %w", err)
		}
	} else if len(request.Mounts) > 0 {
		if err := mountVolumes(request.Mounts); err != nil {
			return err
		}
	}
	if err := enterContainerRoot(); err != nil {
		return err
	}
	if join {
		unix.Close(execPidfd) // without, fd 4 may be the Go runtime's own by now
		if err := hideKernelFilesystems(); err != nil {
			return err
		}
	}
	unix.Close(execRootFd)
	return nil
}

// mountVolumes mounts a stopped container's -v binds and volumes on its root filesystem, as init
// would at its start (rootfs.go's mountInto, each target resolved inside the root), in a copy of the
// daemon's mount namespace: they stay the helper's and go with it. The container is stopped and the
// daemon holds its lifecycle lock, so nothing changes the root meanwhile. The root is opened again
// in the copy, as execRootFd: the daemon's descriptor is of the mount in the daemon's namespace.
func mountVolumes(mounts []Mount) error {
	rootfs, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", execRootFd))
	if err == nil {
		err = unix.Unshare(unix.CLONE_NEWNS)
	}
	if err == nil {
		err = unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, "")
	}
	if err != nil {
		return fmt.Errorf("copying the daemon's mount namespace: %w", err)
	}
	for _, m := range mounts {
		if err := mountInto(rootfs, m); err != nil {
			return fmt.Errorf("mounting %s: %w", m.Destination, err)
		}
	}
	fd, err := unix.Open(rootfs, unix.O_PATH|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err == nil {
		err = unix.Dup3(fd, execRootFd, 0)
		unix.Close(fd)
	}
	return err
}

// hideKernelFilesystems gives the helper a copy of the container's mount namespace without the
// /proc, /sys and /dev that init mounted: a copy sees what Docker's sees, the root filesystem and
// what is mounted on it from the host, not the kernel's files (whose /proc/1/auxv a copy of "/"
// would fail on, and whose /proc/1/root leads to the container's root again). unshare(2) moves the
// thread's root and working directory to their copies; the unmounts, on private mounts, stay in the
// copy.
func hideKernelFilesystems() error {
	if err := unix.Unshare(unix.CLONE_NEWNS); err != nil {
		return fmt.Errorf("copying the container's mount namespace: %w", err)
	}
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("copying the container's mount namespace: %w", err)
	}
	for _, dir := range []string{"/proc", "/sys", "/dev"} {
		if err := unix.Unmount(dir, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("unmounting %s in the helper's copy: %w", dir, err)
		}
	}
	return nil
}

// execveat executes the open file with argv and env (execveat(2) with AT_EMPTY_PATH: no path is looked
// up, in a root that holds no engine binary), from this thread. It returns only on failure.
func execveat(file *os.File, argv, env []string) error {
	argvp, err := syscall.SlicePtrFromStrings(argv)
	if err != nil {
		return err
	}
	envp, err := syscall.SlicePtrFromStrings(env)
	if err != nil {
		return err
	}
	empty := []byte{0}
	_, _, errno := unix.Syscall6(unix.SYS_EXECVEAT, file.Fd(), uintptr(unsafe.Pointer(&empty[0])),
		uintptr(unsafe.Pointer(&argvp[0])), uintptr(unsafe.Pointer(&envp[0])), unix.AT_EMPTY_PATH, 0)
	return fmt.Errorf("re-executing the copy helper in the container's root: %w", errno)
}

// CopyInRoot is stage 2: it does the copy the daemon asks for, and reports how it went.
func CopyInRoot() int {
	pipe := os.NewFile(initPipeFd, "sync")
	var request copyRequest
	err := readRequest(&request)
	if err == nil {
		err = closeInheritedFds(initPipeFd + 1)
	}
	if err == nil {
		err = limitCopyHelper()
	}
	if err == nil && request.Pack {
		err = packSource(request, pipe)
	} else if err == nil {
		err = unpackDestination(request, pipe)
	}
	if err != nil {
		status := 125
		var se *StatusError
		if errors.As(err, &se) {
			status = se.Status
		}
		reportCopy(pipe, copyReport{Status: status, Message: err.Error()})
		return 1
	}
	reportCopy(pipe, copyReport{Done: true})
	return 0
}

// readRequest reads the request stage 1 handed over, at the descriptor stage 2's arguments name.
func readRequest(request *copyRequest) error {
	if len(os.Args) < 4 {
		return errors.New("engine init cp-root: no request")
	}
	fd, err := strconv.Atoi(os.Args[3])
	if err != nil || fd <= initPipeFd {
		return fmt.Errorf("engine init cp-root: bad descriptor %q", os.Args[3])
	}
	from := os.NewFile(uintptr(fd), "request")
	defer from.Close()
	data, err := io.ReadAll(from)
	if err != nil {
		return err
	}
	return json.Unmarshal(data, request)
}

// limitCopyHelper keeps only copyCapabilities, in every set and the bounding set, and makes the helper
// undumpable: no core dump of, ptrace of, or /proc/PID/mem into a root process at work in the
// container's files, should anything ever see it.
func limitCopyHelper() error {
	if err := unix.Prctl(unix.PR_SET_DUMPABLE, 0, 0, 0, 0); err != nil {
		return err
	}
	if err := unix.Prctl(unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0); err != nil {
		return err
	}
	caps := &Capabilities{Bounding: copyCapabilities, Effective: copyCapabilities, Permitted: copyCapabilities}
	if err := limitBoundingSet(caps); err != nil {
		return err
	}
	return applyCapabilities(caps)
}

func reportCopy(pipe *os.File, report copyReport) {
	data, _ := json.Marshal(report)
	pipe.Write(data)
}

// packSource writes the tar of the request's source to stdout. Paths are the container's: relative
// ones start at its root, as Docker's do.
func packSource(request copyRequest, pipe *os.File) error {
	src := parseCopySource(containerPath(request.Path))
	p := src.path
	info, err := os.Lstat(p)
	if err == nil && (request.Follow || src.wantDir) && info.Mode()&fs.ModeSymlink != 0 {
		// -L, or "link/": the file the link leads to, resolved inside the root, under the link's name.
		if p, err = filepath.EvalSymlinks(p); err == nil {
			info, err = os.Lstat(p)
		}
	}
	if errors.Is(err, fs.ErrNotExist) {
		return notFound(request.Path, request.Container)
	} else if err != nil {
		return copyError(err)
	}
	if src.wantDir && !info.IsDir() {
		return copyError(fmt.Errorf("%s: %w", request.Path, errNotDirectory))
	}
	reportCopy(pipe, copyReport{Ready: true})
	out := bufio.NewWriterSize(os.Stdout, maxPayload)
	if err := Pack(out, p, src.name, PackFiles); err != nil {
		return copyError(err)
	}
	return out.Flush()
}

// unpackDestination unpacks the tar on stdin at the request's destination, placed by Docker's rules
// when the client sent a local path's tar (request.Source), into the destination directory when it
// sent a tar from "-".
func unpackDestination(request copyRequest, pipe *os.File) error {
	dst, err := statDestination(containerPath(request.Path))
	if err != nil {
		return copyError(err)
	}
	switch {
	case !dst.exists && !parentIsDir(dst.path):
		return notFound(request.Path, request.Container)
	case request.Source == "" && !dst.exists:
		return notFound(request.Path, request.Container)
	case request.Source == "" && !dst.isDir:
		return copyError(errors.New("extraction point is not a directory"))
	}
	reportCopy(pipe, copyReport{Ready: true})
	err = UnpackCopy(os.Stdin, false, func(first *tar.Header) (string, string, string, error) {
		if request.Source == "" {
			return path.Clean(dst.path), "", "", nil
		}
		src := parseCopySource(request.Source)
		if first == nil && !src.contents {
			return "", "", "", errBadCopySource
		}
		dir, name, err := placeCopy(dst, src, src.contents || first.Typeflag == tar.TypeDir)
		return dir, src.name, name, err
	})
	io.Copy(io.Discard, os.Stdin) // what the sender adds after the end of the archive
	if err != nil {
		return copyError(err)
	}
	return nil
}

// statDestination looks at a copy's destination, following symlinks (inside the root, here; on the
// host, in the user's own files).
func statDestination(p string) (copyDestination, error) {
	info, err := os.Stat(p)
	if errors.Is(err, fs.ErrNotExist) {
		return copyDestination{path: p}, nil
	}
	if err != nil {
		return copyDestination{}, err
	}
	return copyDestination{path: p, exists: true, isDir: info.IsDir()}, nil
}

// parentIsDir tells whether the directory a new destination would be made in exists.
func parentIsDir(p string) bool {
	info, err := os.Stat(path.Dir(path.Clean(p)))
	return err == nil && info.IsDir()
}
