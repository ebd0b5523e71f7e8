// binary.go: the copy of the engine binary that every container's first process runs from.
//
// Container.Start (container.go) and Container.Exec (exec.go) start `engine init` inside a container's
// namespaces. If that process ran the engine binary on the host's disk, a process in the container could
// reach the file through /proc/PID/exe and rewrite it: the next `engine` anyone runs as root would be the
// attacker's. That is CVE-2019-5736, found in runc. The window is wider than it looks: a container whose
// command is a script starting `#!/proc/self/exe` makes the kernel run init's own binary again, as a
// process of the container, for as long as the attacker likes.
//
// The defence, as runc's: init never runs from the host's file. At start the daemon copies its binary
// once into a memfd (a file that lives only in memory) and seals it against every change
// (memfd_create(2), fcntl(2) F_ADD_SEALS). /proc/PID/exe of init then leads to that copy, and writing to
// it fails with EPERM whatever the writer's privileges. The copy is made once per daemon, so no start
// pays for it, and all containers share its pages.
package main

import (
	"fmt"
	"io"
	"os"
	"sync"

	"golang.org/x/sys/unix"
)

// sealedBinary is the path to exec for `engine init`: the sealed copy, named through the daemon's own
// fd table (/proc/<daemon>/fd/N), so the fd numbers a child rearranges before execve cannot matter.
func sealedBinary() (string, error) {
	sealed, err := sealedEngine()
	if err != nil {
		return "", fmt.Errorf("sealing a copy of the engine binary: %w", err)
	}
	return fmt.Sprintf("/proc/%d/fd/%d", os.Getpid(), sealed.Fd()), nil
}

// sealedEngine makes the copy once. Holding the *os.File here also keeps it from the garbage
// collector, which would close the fd under every later start.
var sealedEngine = sync.OnceValues(func() (*os.File, error) { return sealedCopy("/proc/self/exe") })

// sealedCopy copies the file at path into a memfd and seals it: from then on, nobody can write, grow,
// shrink or unseal it. The memfd stays open, and so alive, for as long as the daemon runs.
func sealedCopy(path string) (*os.File, error) {
	src, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	fd, err := unix.MemfdCreate("engine", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, err
	}
	sealed := os.NewFile(uintptr(fd), "engine")
	if _, err := io.Copy(sealed, src); err != nil {
		sealed.Close()
		return nil, err
	}
	seals := unix.F_SEAL_SEAL | unix.F_SEAL_SHRINK | unix.F_SEAL_GROW | unix.F_SEAL_WRITE
	if _, err := unix.FcntlInt(sealed.Fd(), unix.F_ADD_SEALS, seals); err != nil {
		sealed.Close()
		return nil, err
	}
	return sealed, nil
}
