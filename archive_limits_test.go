package main

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestUnpackLimits(t *testing.T) {
	long := func(n int) string { return strings.Repeat("n", n) }
	deep := func(depth int) string { return strings.Repeat("d/", depth-1) + "f" }
	wide := strings.Repeat(long(255)+"/", 15) + long(255) // 16 names of 255: 4095 bytes
	tests := []struct {
		name  string
		entry archEntry
		want  string // "" if the entry is within the limits
	}{
		{"256 deep", archFile(deep(256), "", 0o644), ""},
		{"257 deep", archFile(deep(257), "", 0o644), "path deeper than 256 directories"},
		{"257 deep, written as 512 with dots", archFile(strings.Repeat("./d/", 256)+"f", "", 0o644), "deeper than 256"},
		{"name of 255", archFile("d/"+long(255), "", 0o644), ""},
		{"name of 256", archFile("d/"+long(256), "", 0o644), "a name longer than 255 bytes"},
		{"path of 4096", archFile(wide+"x", "", 0o644), "path longer than 4095 bytes"},
		{"symlink target of 4095", archSymlink("l", long(4095)), ""},
		{"symlink target of 4096", archSymlink("l", long(4096)), "symlink target longer than 4095 bytes"},
		{"hardlink target too deep", archHardlink("h", deep(300)), "deeper than 256"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir, _ := archSetup(t)
			_, err := Unpack(bytes.NewReader(archTar(t, tc.entry)), dir)
			switch {
			case tc.want == "" && err != nil:
				t.Errorf("refused: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Errorf("err = %v, want one containing %q", err, tc.want)
			case err != nil && len(err.Error()) > 300:
				t.Errorf("an error of %d bytes: the name should be cut", len(err.Error()))
			}
		})
	}
}

// TestUnpackTooManyEntries streams one entry more than a layer may hold: entries that cost nothing
// to unpack (aufs bookkeeping), so only the count stops them.
func TestUnpackTooManyEntries(t *testing.T) {
	dir, _ := archSetup(t)
	var header bytes.Buffer
	tw := tar.NewWriter(&header)
	tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: ".wh..wh.plnk", Mode: 0o644})
	tw.Flush() // one 512-byte header, no end marker
	pr, pw := io.Pipe()
	go func() {
		for i := 0; i <= maxEntries; i++ {
			if _, err := pw.Write(header.Bytes()); err != nil {
				return
			}
		}
		pw.Write(make([]byte, 1024))
		pw.Close()
	}()
	defer pr.Close()
	_, err := Unpack(pr, dir)
	if err == nil || !strings.Contains(err.Error(), "more than 1000000 entries") {
		t.Errorf("err = %v", err)
	}
}

// nestedDirs is the tar of depth directories each inside the last, gzipped: the 77 KB that kept a core
// busy for more than ten minutes at a depth of 2000.
func nestedDirs(t testing.TB, depth int) []byte {
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	tw := tar.NewWriter(zw)
	name := ""
	for i := 0; i < depth; i++ {
		name += "d/"
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: name, Mode: 0o755, ModTime: time.Unix(1e9, 0)}); err != nil {
			t.Fatal(err)
		}
	}
	tw.Close()
	zw.Close()
	return buf.Bytes()
}

func TestUnpackNestedDirs(t *testing.T) {
	dir, _ := archSetup(t)
	start := time.Now()
	_, err := Unpack(bytes.NewReader(nestedDirs(t, 2000)), dir)
	if err == nil || !strings.Contains(err.Error(), "deeper than 256 directories") {
		t.Errorf("err = %v", err)
	}
	t.Logf("2000 nested directories refused in %v", time.Since(start))
}

// quitter is a layer stream whose sender leaves after a number of reads, although all its bytes are
// there to read: as a client's upload that the daemon has buffered, then the client killed.
type quitter struct {
	r     io.Reader
	reads int
	done  chan struct{}
}

func (q *quitter) Read(p []byte) (int, error) {
	if q.reads--; q.reads == 0 {
		close(q.done)
	}
	return q.r.Read(p)
}

func (q *quitter) Done() <-chan struct{} { return q.done }

func TestUnpackAbandoned(t *testing.T) {
	t.Run("many entries", func(t *testing.T) {
		dir, _ := archSetup(t)
		var entries []archEntry
		for i := 0; i < 5000; i++ {
			entries = append(entries, archFile(fmt.Sprintf("f%d", i), "", 0o644))
		}
		data := archGzip(t, archTar(t, entries...))
		_, err := Unpack(&quitter{r: bytes.NewReader(data), reads: 3, done: make(chan struct{})}, dir)
		if !errors.Is(err, errAbandoned) {
			t.Errorf("err = %v", err)
		}
		if left, _ := os.ReadDir(dir); len(left) == 5000 {
			t.Errorf("%d of 5000 entries unpacked after the sender left", len(left))
		}
	})
	t.Run("one huge file", func(t *testing.T) {
		dir, _ := archSetup(t)
		const size = 1 << 30 // a GiB of zeros, a MiB of gzip
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestSpeed)
		tw := tar.NewWriter(zw)
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: "zeros", Mode: 0o644, Size: size})
		io.CopyN(tw, zeroReader{}, size)
		tw.Close()
		zw.Close()
		_, err := Unpack(&quitter{r: bytes.NewReader(buf.Bytes()), reads: 3, done: make(chan struct{})}, dir)
		if !errors.Is(err, errAbandoned) {
			t.Errorf("err = %v", err)
		}
		if fi, err := os.Stat(filepath.Join(dir, "zeros")); err != nil || fi.Size() >= size/2 {
			t.Errorf("zeros: %v, %v: the file went on after the sender left", fi.Size(), err)
		}
	})
}

type zeroReader struct{}

func (zeroReader) Read(p []byte) (int, error) {
	clear(p)
	return len(p), nil
}
