// disk.go: writing the daemon's records so that no crash leaves half of one.
//
// Container records (container.go), image metadata (graph.go), tags (tags.go) and the token (server.go)
// are all written here: to a temporary file in the same directory, flushed with fsync, then renamed over
// the old file. rename(2) is atomic, so a reader (or a daemon restarted after `kill -9`) sees the old
// record or the new one, never a mix; the fsyncs make the same true after a power cut. A keeper's
// exit.json (keeper.go) is written the same way without the fsyncs: replaceFile.
package main

import (
	"os"
	"path/filepath"
)

func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	if err := replaceFile(path, data, perm, true); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

// replaceFile writes data to a temporary file beside path and renames it over path: a reader sees the
// old file or the new one. With durable, the data is flushed before the rename (the rename itself is
// only durable once the directory is synced too). Without, a power cut may leave path empty or
// missing, for a reader to take as absent; a crash of the writer alone cannot.
func replaceFile(path string, data []byte, perm os.FileMode, durable bool) error {
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
	if durable {
		if err := tmp.Sync(); err != nil {
			tmp.Close()
			return err
		}
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
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
