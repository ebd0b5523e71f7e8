package main

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// readAllRecords reads every record of one log file.
func readAllRecords(t *testing.T, path string) (records []logRecord, payloads [][]byte) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var off int64
	for {
		record, err := readLogRecord(f, off)
		if err == io.EOF {
			return records, payloads
		}
		if err != nil {
			t.Fatalf("record at %d: %v", off, err)
		}
		payload := make([]byte, record.Length)
		if _, err := f.ReadAt(payload, off+logHeaderSize); err != nil {
			t.Fatal(err)
		}
		records, payloads = append(records, record), append(payloads, payload)
		off += logHeaderSize + int64(record.Length)
	}
}

func TestLogWriterKeepsOrderAndStreams(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenLogWriter(dir, LogConfig{Type: logDriver})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(frameStdout, []byte("out 1\n"))
	w.Write(frameStderr, []byte("err 1\n"))
	w.Write(frameStdout, bytes.Repeat([]byte("x"), maxLogChunk+10)) // split in two records
	w.Close()
	records, payloads := readAllRecords(t, logPath(dir, 0))
	streams := ""
	for _, r := range records {
		streams += string(r.Stream)
	}
	if streams != "oeoo" || string(payloads[1]) != "err 1\n" || len(payloads[2]) != maxLogChunk || len(payloads[3]) != 10 {
		t.Fatalf("streams %q, payloads %d", streams, len(payloads))
	}
	if records[0].Time.IsZero() || records[1].Time.Before(records[0].Time) {
		t.Errorf("times %v", records)
	}
}

func TestLogWriterRotates(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenLogWriter(dir, LogConfig{Type: logDriver, Config: map[string]string{"max-size": "10k", "max-file": "3"}})
	if err != nil {
		t.Fatal(err)
	}
	line := []byte(strings.Repeat("y", 999) + "\n")
	for i := 0; i < 100; i++ { // 100 kB through files of 10 kB: only the last three stay
		w.Write(frameStdout, line)
	}
	w.Close()
	total := 0
	for n := 0; n < 3; n++ {
		info, err := os.Stat(logPath(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		if info.Size() > 10<<10 {
			t.Errorf("%s has %d bytes, past max-size", logPath(dir, n), info.Size())
		}
		records, _ := readAllRecords(t, logPath(dir, n))
		total += len(records)
	}
	if _, err := os.Stat(logPath(dir, 3)); err == nil {
		t.Error("a fourth file was kept with max-file=3")
	}
	if total < 20 || total > 30 {
		t.Errorf("%d records kept in three files of 10 kB", total)
	}
}

func TestLogWriterCutsAHalfRecord(t *testing.T) {
	dir := t.TempDir()
	w, _ := OpenLogWriter(dir, LogConfig{Type: logDriver})
	w.Write(frameStdout, []byte("whole\n"))
	w.Close()
	f, _ := os.OpenFile(logPath(dir, 0), os.O_WRONLY|os.O_APPEND, 0)
	f.Write([]byte{frameStdout, 0, 0, 1, 0, 1, 2}) // a keeper killed in the middle of a header
	f.Close()
	w, err := OpenLogWriter(dir, LogConfig{Type: logDriver})
	if err != nil {
		t.Fatal(err)
	}
	w.Write(frameStderr, []byte("next\n"))
	w.Close()
	_, payloads := readAllRecords(t, logPath(dir, 0))
	if len(payloads) != 2 || string(payloads[1]) != "next\n" {
		t.Fatalf("payloads %q", payloads)
	}
}

// A full disk drops output and counts it, and the log stays readable.
func TestLogWriterCountsWhatAFullDiskDrops(t *testing.T) {
	dir := t.TempDir()
	if err := unix.Mount("tmpfs", dir, "tmpfs", 0, "size=64k"); err != nil {
		t.Fatal(err)
	}
	defer unix.Unmount(dir, unix.MNT_DETACH)
	w, err := OpenLogWriter(dir, LogConfig{Type: logDriver, Config: map[string]string{"max-size": "1m"}})
	if err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte("z"), 10000)
	for i := 0; i < 20; i++ {
		w.Write(frameStdout, chunk)
	}
	w.Close()
	if w.Dropped() < 100000 {
		t.Errorf("dropped %d bytes of 200000 on a 64k disk", w.Dropped())
	}
	records, _ := readAllRecords(t, logPath(dir, 0))
	if kept := int64(len(records)) * 10000; kept+w.Dropped() != 200000 {
		t.Errorf("kept %d + dropped %d != 200000", kept, w.Dropped())
	}
}

func TestParseLogOpts(t *testing.T) {
	config, err := parseLogOpts([]string{"max-file=3"}, map[string]string{"max-size": "10m"})
	if err != nil || config["max-size"] != "10m" || config["max-file"] != "3" {
		t.Fatalf("%v, %v", config, err)
	}
	limits, _ := LogConfig{Config: config}.limits()
	if limits.MaxSize != 10<<20 || limits.MaxFiles != 3 {
		t.Errorf("limits %+v", limits)
	}
	for _, bad := range []string{"max-size=1", "max-size=2t", "max-file=0", "max-file=101", "compress=true", "max-size", "max-size="} {
		if _, err := parseLogOpts([]string{bad}, nil); err == nil {
			t.Errorf("--log-opt %s accepted", bad)
		}
	}
}
