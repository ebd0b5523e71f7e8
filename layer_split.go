// layer_split.go: keeping a layer's tar reproducible, byte for byte, for `engine save`.
//
// A layer's DiffID is the sha256 of the tar it came in, and an image config names its layers by DiffID,
// so `engine save` must write each layer as exactly the bytes it was stored from: a tar written afresh
// from the layer directory (Pack) differs in header formats, owner names, order and padding, and would
// change the image ID. Keeping the whole tar would double the store's size. So, as Docker does with
// tar-split, Unpack records the layer's tar minus the files' contents: every header, padding and
// end-of-archive byte as it came, and for each file's content only its name and length. The record sits
// beside the layer as ROOT/graph/<id>/layer.tar-split, gzipped: a header block of 512 bytes per entry
// and the padding are mostly zeros (base's 2.1 MB layer of 286 entries has a record of 159 KB, a few KB
// gzipped).
//
// writeRecordedLayer puts the tar back together from the record and the layer's files, for save and for a
// load that needs one layer twice (Graph.layerTar). The store is ours, but the sha256 of what comes out
// is still checked against the DiffID by the caller: a layer whose tar named one file twice cannot be
// put back, and says so.
//
// The record, once gunzipped, is a sequence of:
//
//	'r' uvarint(n) <n bytes>              bytes of the tar as they came
//	'c' uvarint(len) <name> uvarint(n)    the next n bytes of the file name (relative to the layer dir)
package main

import (
	"bufio"
	"compress/gzip"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"
)

// layerSplitName is the record's file name in an image's directory.
const layerSplitName = "layer.tar-split"

// layerRecorder receives every byte the tar reader consumes (Unpack's tee). While contentOf's reader is
// reading an entry's content, the bytes are counted, not kept.
type layerRecorder struct {
	zw      *gzip.Writer
	w       *bufio.Writer
	content string // the entry whose content is being read, "" between contents
	pending string // a content run not yet written: its name and length
	n       uint64
	err     error
}

func newLayerRecorder(w io.Writer) *layerRecorder {
	zw, _ := gzip.NewWriterLevel(w, gzip.BestSpeed) // the level is valid
	return &layerRecorder{zw: zw, w: bufio.NewWriterSize(zw, 64*1024)}
}

func (r *layerRecorder) Write(p []byte) (int, error) {
	if r.content != "" {
		if r.pending != r.content {
			r.flushContent()
			r.pending = r.content
		}
		r.n += uint64(len(p))
		return len(p), nil
	}
	r.flushContent()
	r.record('r', p)
	return len(p), nil
}

// flushContent writes the content run counted so far.
func (r *layerRecorder) flushContent() {
	if r.pending == "" {
		return
	}
	r.record('c', []byte(r.pending))
	r.uvarint(r.n)
	r.pending, r.n = "", 0
}

func (r *layerRecorder) record(kind byte, data []byte) {
	if r.err == nil {
		r.err = r.w.WriteByte(kind)
	}
	r.uvarint(uint64(len(data)))
	if r.err == nil {
		_, r.err = r.w.Write(data)
	}
}

func (r *layerRecorder) uvarint(v uint64) {
	if r.err == nil {
		_, r.err = r.w.Write(binary.AppendUvarint(nil, v))
	}
}

// close writes what is pending; the layer's record is complete only if it returns nil.
func (r *layerRecorder) close() error {
	r.flushContent()
	if r.err != nil {
		return r.err
	}
	if err := r.w.Flush(); err != nil {
		return err
	}
	return r.zw.Close()
}

// contentOf wraps an entry's content as the unpacker reads it, so its bytes are recorded as content of
// name (a clean path inside the layer dir). A nil recorder records nothing.
func (r *layerRecorder) contentOf(name string, data io.Reader) io.Reader {
	if r == nil {
		return data
	}
	return &recordedContent{r, name, data}
}

type recordedContent struct {
	r    *layerRecorder
	name string
	data io.Reader
}

func (c *recordedContent) Read(p []byte) (int, error) {
	c.r.content = c.name
	defer func() { c.r.content = "" }()
	return c.data.Read(p)
}

// writeRecordedLayer writes the layer's tar again from its record and its directory, and returns the
// number of bytes it wrote.
func writeRecordedLayer(w io.Writer, record io.Reader, layerDir string) (int64, error) {
	var written int64
	var file *os.File // the file of the current content run: the runs of one file follow each other
	defer func() {
		if file != nil {
			file.Close()
		}
	}()
	err := walkLayerRecord(record, func(raw io.Reader, n int64) error {
		copied, err := io.CopyN(w, raw, n)
		written += copied
		return err
	}, func(name string, n int64) (err error) {
		if file == nil || file.Name() != filepath.Join(layerDir, name) {
			if file != nil {
				file.Close()
			}
			if file, err = openInLayer(layerDir, name); err != nil {
				return err
			}
		}
		copied, err := io.CopyN(w, file, n)
		written += copied
		if err != nil {
			return fmt.Errorf("layer file %q: %w", name, err)
		}
		return nil
	})
	return written, err
}

// layerTar streams the layer of image id as the tar it was stored from, or for a layer stored without a
// record (by engine's first layout) as Pack makes it. The caller closes it, which also ends the
// goroutine writing it.
func (g *Graph) layerTar(id string) io.ReadCloser {
	reader, writer := io.Pipe()
	go func() {
		layer := filepath.Join(g.dir(id), "layer")
		record, err := os.Open(filepath.Join(g.dir(id), layerSplitName))
		if errors.Is(err, fs.ErrNotExist) {
			err = Pack(writer, layer, "", PackLayer)
		} else if err == nil {
			_, err = writeRecordedLayer(writer, record, layer)
			record.Close()
		}
		writer.CloseWithError(err)
	}()
	return reader
}

// recordedLayerSizeIn is the size of the tar of the layer in an image's (or a load's) directory.
func recordedLayerSizeIn(dir string) (int64, error) {
	record, err := os.Open(filepath.Join(dir, layerSplitName))
	if err != nil {
		return 0, err
	}
	defer record.Close()
	return recordedLayerSize(record)
}

// recordedLayerSize is the size of the tar writeRecordedLayer would write, from the record alone.
func recordedLayerSize(record io.Reader) (int64, error) {
	var size int64
	err := walkLayerRecord(record, func(raw io.Reader, n int64) error {
		size += n
		_, err := io.CopyN(io.Discard, raw, n)
		return err
	}, func(name string, n int64) error {
		size += n
		return nil
	})
	return size, err
}

// walkLayerRecord calls raw for each run of the tar's own bytes (which it must read from the reader it
// is given) and content for each run of a file's content.
func walkLayerRecord(record io.Reader, raw func(io.Reader, int64) error, content func(name string, n int64) error) error {
	zr, err := gzip.NewReader(record)
	if err != nil {
		return fmt.Errorf("layer record: %w", err)
	}
	in := bufio.NewReader(zr)
	for {
		kind, err := in.ReadByte()
		if err == io.EOF {
			return nil
		}
		length, err := readRecordUvarint(in, err)
		if err != nil {
			return err
		}
		switch kind {
		case 'r':
			err = raw(in, int64(length))
		case 'c':
			name := make([]byte, min(length, 4096)) // a clean path; PATH_MAX bounds it
			if _, err = io.ReadFull(in, name); err != nil || uint64(len(name)) != length {
				return fmt.Errorf("layer record: bad name (%v)", err)
			}
			var size uint64
			if size, err = readRecordUvarint(in, nil); err == nil {
				err = content(string(name), int64(size))
			}
		default:
			err = fmt.Errorf("layer record: unknown kind %q", kind)
		}
		if err != nil {
			return err
		}
	}
}

// readRecordUvarint reads a length, passing on an error from the read before it.
func readRecordUvarint(in *bufio.Reader, err error) (uint64, error) {
	if err == nil {
		var v uint64
		if v, err = binary.ReadUvarint(in); err == nil {
			return v, nil
		}
	}
	return 0, fmt.Errorf("layer record: %w", err)
}

// openInLayer opens a regular file of the layer for reading without following any symlink, so that a
// record can never make save read a file outside the layer (RESOLVE_BENEATH|RESOLVE_NO_SYMLINKS).
func openInLayer(layerDir, name string) (*os.File, error) {
	dir, err := os.Open(layerDir)
	if err != nil {
		return nil, err
	}
	defer dir.Close()
	how := &unix.OpenHow{Flags: unix.O_RDONLY | unix.O_CLOEXEC | unix.O_NONBLOCK, Resolve: unix.RESOLVE_BENEATH | unix.RESOLVE_NO_SYMLINKS}
	fd, err := unix.Openat2(int(dir.Fd()), name, how)
	if err != nil {
		return nil, fmt.Errorf("layer file %q: %w", name, err)
	}
	file := os.NewFile(uintptr(fd), filepath.Join(layerDir, name))
	if info, err := file.Stat(); err != nil || !info.Mode().IsRegular() {
		file.Close()
		return nil, fmt.Errorf("layer file %q: not a regular file", name)
	}
	return file, nil
}
