package main

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestCopySideArgs: what the client sends for each form of `engine cp`. The daemon never gets a local
// path to read or write: a local source goes as a tar on stdin, a local destination asks for one on
// stdout.
func TestCopySideArgs(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "src")
	if err := os.WriteFile(src, []byte("x"), 0644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args, want []string
		local      bool // the client packs or unpacks
	}{
		{[]string{"cp", "web:/etc", "-"}, []string{"cp", "web:/etc", "-"}, false},
		{[]string{"cp", "-", "web:/tmp"}, []string{"cp", "-", "web:/tmp"}, false},
		{[]string{"cp", "-L", "web:/etc", dir + "/out"}, []string{"cp", "-L", "web:/etc", "-"}, true},
		{[]string{"cp", src, "web:/tmp/"}, []string{"cp", "--source=" + src, "-", "web:/tmp/"}, true},
		{[]string{"cp", "--", src, "web:/tmp/"}, []string{"cp", "--source=" + src, "-", "web:/tmp/"}, true},
		{[]string{"cp", "--help", "web:/etc", dir}, []string{"cp", "--help", "web:/etc", dir}, false},
		{[]string{"cp", "web:/etc"}, []string{"cp", "web:/etc"}, false},           // the daemon explains
		{[]string{"cp", "a:/x", "b:/y"}, []string{"cp", "a:/x", "b:/y"}, false},   // likewise
		{[]string{"cp", dir, dir + "/b"}, []string{"cp", dir, dir + "/b"}, false}, // likewise
	} {
		side, err := copySide(tt.args, &Conn{})
		if err != nil {
			t.Errorf("%v: %v", tt.args, err)
			continue
		}
		if !slices.Equal(side.args, tt.want) || (side.finish != nil) != tt.local {
			t.Errorf("%v: sends %v (local part: %v), want %v (%v)", tt.args, side.args, side.finish != nil, tt.want, tt.local)
		}
		if side.finish != nil {
			side.finish(1, nil) // the daemon failed: the local part ends without a word
		}
	}
	// A local source that is not there fails before anything is sent, as a copy's error (exit 1).
	var se *StatusError
	if _, err := copySide([]string{"cp", dir + "/nope", "web:/tmp"}, &Conn{}); !errors.As(err, &se) || se.Status != 1 || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("a missing source: %v", err)
	}
	if _, err := copySide([]string{"cp", src + "/", "web:/tmp"}, &Conn{}); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("a file given as a directory: %v", err)
	}
}
