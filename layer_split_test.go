package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// A layer made by GNU tar (its own header format, owner names, record padding to 10 KiB) comes back
// byte for byte from its record and its unpacked files: the DiffID survives save.
func TestLayerRecordReproducesTar(t *testing.T) {
	src := t.TempDir()
	os.MkdirAll(filepath.Join(src, "etc/deep"), 0755)
	os.WriteFile(filepath.Join(src, "etc/motd"), []byte("hello\n"), 0644)
	os.WriteFile(filepath.Join(src, "etc/deep/big"), bytes.Repeat([]byte("x"), 200000), 0600)
	os.WriteFile(filepath.Join(src, "empty"), nil, 0644)
	os.Symlink("etc/motd", filepath.Join(src, "link"))
	os.Link(filepath.Join(src, "etc/motd"), filepath.Join(src, "hard"))
	os.WriteFile(filepath.Join(src, ".wh.gone"), nil, 0644)
	layer, err := exec.Command("tar", "-C", src, "-c", ".").Output()
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "layer")
	os.Mkdir(dir, 0755)
	var record bytes.Buffer
	diffID, err := UnpackRecorded(bytes.NewReader(layer), dir, &record)
	if err != nil {
		t.Fatal(err)
	}
	if record.Len() >= len(layer)/10 {
		t.Errorf("the record is %d bytes for a %d-byte tar: it holds content", record.Len(), len(layer))
	}
	var out bytes.Buffer
	n, err := writeRecordedLayer(&out, &record, dir)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(out.Bytes())
	if n != int64(len(layer)) || !bytes.Equal(out.Bytes(), layer) || diffID != "sha256:"+hex.EncodeToString(sum[:]) {
		t.Fatalf("put back %d bytes (equal: %v), want the %d of the original", n, bytes.Equal(out.Bytes(), layer), len(layer))
	}
}

// A record cannot make save read outside the layer: a symlink on the way is refused.
func TestLayerRecordStaysInLayer(t *testing.T) {
	outside, dir := t.TempDir(), t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret"), []byte("the host's secret"), 0600)
	os.Symlink(outside, filepath.Join(dir, "etc"))
	var record bytes.Buffer
	rec := newLayerRecorder(&record)
	rec.content = "etc/secret"
	rec.Write([]byte("12345"))
	rec.content = ""
	if err := rec.close(); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if _, err := writeRecordedLayer(&out, &record, dir); err == nil || out.Len() > 0 {
		t.Fatalf("a record read %q through a symlink (%v)", out.String(), err)
	}
}
