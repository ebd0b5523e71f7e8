package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// The bounds of readDockerArchive: members, JSON held in memory, and symlink chains.
func TestReadDockerArchiveBounds(t *testing.T) {
	var many bytes.Buffer
	tw := tar.NewWriter(&many)
	for i := 0; i <= maxArchiveMembers; i++ {
		tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: fmt.Sprintf("d%d/", i), Mode: 0755})
	}
	tw.Close()
	if _, err := readDockerArchive(&many, t.TempDir()); err == nil || !strings.Contains(err.Error(), "more than 4096 members") {
		t.Errorf("%d members: %v", maxArchiveMembers+1, err)
	}

	var held []archiveMember
	for i := 0; i <= maxArchiveHeld/maxArchiveJSON; i++ {
		held = append(held, archiveMember{name: fmt.Sprintf("%d.json", i), data: append([]byte("{"), bytes.Repeat([]byte(" "), maxArchiveJSON-1)...)})
	}
	if _, err := readDockerArchive(bytes.NewReader(makeArchive(t, held...)), t.TempDir()); err == nil || !strings.Contains(err.Error(), "JSON files are more than") {
		t.Errorf("%d MiB of JSON: %v", len(held), err)
	}

	loop := makeArchive(t, archiveMember{name: "a", link: "b"}, archiveMember{name: "b", link: "a"},
		archiveMember{name: "manifest.json", data: []byte(`[{"Config":"a","Layers":[]}]`)})
	archive, err := readDockerArchive(bytes.NewReader(loop), t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := archive.images(); err == nil || !strings.Contains(err.Error(), "not in the archive") {
		t.Errorf("a symlink loop: %v", err)
	}
}

func TestFamiliarName(t *testing.T) {
	for in, want := range map[string]string{
		"docker.io/library/busybox:1": "busybox:1",
		"docker.io/user/app:2":        "user/app:2",
		"localhost:5000/x:1":          "localhost:5000/x:1",
		"library/a/b:1":               "library/a/b:1",
		"busybox":                     "busybox",
	} {
		if got := familiarName(in); got != want {
			t.Errorf("familiarName(%q) = %q, want %q", in, got, want)
		}
	}
}
