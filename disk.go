// disk.go: writing the daemon's records so that no crash leaves half of one.
//
// Container records (container.go), image metadata (graph.go), tags (tags.go) and the token (server.go)
// are all written here: to a temporary file in the same directory, flushed with fsync, then renamed over
// the old file. rename(2) is atomic, so a reader (or a daemon restarted after `kill -9`) sees the old
// record or the new one, never a mix; the fsyncs make the same true after a power cut.
package main

import (
	"os"
	"path/filepath"
)

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(perm); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// syncDir makes a rename in dir durable: the new directory entry is only on disk once dir is synced.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
