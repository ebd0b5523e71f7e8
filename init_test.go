// init_test.go covers the parts of init.go that run without namespaces: createMountPoint.
package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// A mount point for a bind-mounted file is created when missing, and what the image has there already
// is left as it is and never opened: a FIFO at /etc/hostname must not block init.
func TestCreateMountPointNeverOpensWhatIsThere(t *testing.T) {
	root := t.TempDir()
	source := filepath.Join(root, "hostname")
	if err := os.WriteFile(source, []byte("box\n"), 0644); err != nil {
		t.Fatal(err)
	}
	bind := Mount{Destination: "/etc/hostname", Type: "bind", Source: source}
	rootfs := filepath.Join(root, "rootfs")

	missing := filepath.Join(rootfs, "etc/hostname")
	if err := createMountPoint(missing, bind); err != nil {
		t.Fatal(err)
	}
	if info, err := os.Lstat(missing); err != nil || !info.Mode().IsRegular() {
		t.Fatalf("created mount point: %v, %v", info, err)
	}

	fifo := filepath.Join(rootfs, "etc/hosts")
	if err := unix.Mkfifo(fifo, 0644); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { // if createMountPoint does block in open, a writer releases it
		if fd, err := unix.Open(fifo, unix.O_WRONLY|unix.O_NONBLOCK, 0); err == nil {
			unix.Close(fd)
		}
	})
	done := make(chan error, 1)
	go func() { done <- createMountPoint(fifo, bind) }()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("createMountPoint over a FIFO: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("createMountPoint over a FIFO still blocked after 20s")
	}
	if info, err := os.Lstat(fifo); err != nil || info.Mode()&os.ModeNamedPipe == 0 {
		t.Errorf("the FIFO became %v, %v", info, err)
	}
}
