// tags_test.go covers tags.go: ParseReference, the TagStore and its file, validRepository and validWord.
package main

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

func TestTagParseReference(t *testing.T) {
	tests := []struct {
		ref, repository, tag string
	}{
		{"busybox", "busybox", "latest"},
		{"busybox:1.36", "busybox", "1.36"},
		{"busybox:Latest_-.1", "busybox", "Latest_-.1"},
		{"library/busybox", "library/busybox", "latest"},
		{"my-app.v2/sub_dir__x", "my-app.v2/sub_dir__x", "latest"},
		{"registry:5000/name:tag", "registry:5000/name", "tag"},
		{"localhost:5000/foo/bar", "localhost:5000/foo/bar", "latest"},
		{"example.com/foo:1", "example.com/foo", "1"},
		{"a0/b1/c2:" + strings.Repeat("t", 128), "a0/b1/c2", strings.Repeat("t", 128)},
		{"abcdef012345", "abcdef012345", "latest"},                   // an ID prefix is a name Docker allows
		{strings.Repeat("a", 63), strings.Repeat("a", 63), "latest"}, // not an ID's 64
	}
	for _, tt := range tests {
		repository, tag, err := ParseReference(tt.ref)
		if err != nil || repository != tt.repository || tag != tt.tag {
			t.Errorf("ParseReference(%q) = %q, %q, %v; want %q, %q", tt.ref, repository, tag, err, tt.repository, tt.tag)
		}
	}
}

func TestTagParseReferenceInvalid(t *testing.T) {
	for _, ref := range []string{
		"", "Busybox", "busyBox:1", "ba d", "a:b:c", ":tag", "/a", "a/", "a//b", "-a", "a-", "a..b", "a___b",
		"a/B", "example.com/Foo", "a:", "a:-x", "a:.x", "a:x y", "a:" + strings.Repeat("t", 129), "a@b",
		"a b.com/foo:1", "a:x/y", "example.com:port/x", "a\n:b", "a:b\n", "a\x00",
		// named like an image ID, which LookupImage would take for one
		strings.Repeat("ab", 32), strings.Repeat("ab", 32) + ":latest", "sha256:" + strings.Repeat("ab", 32), "sha256:abc", "sha256",
	} {
		if repository, tag, err := ParseReference(ref); err == nil {
			t.Errorf("ParseReference(%q) = %q, %q; want an error", ref, repository, tag)
		}
	}
}

func TestTagValidRepository(t *testing.T) {
	tests := []struct {
		path string
		want bool
	}{
		{"a", true}, {"a1", true}, {"0", true}, {"a.b", true}, {"a_b", true}, {"a__b", true}, {"a-b", true},
		{"a.b-c_d__e", true}, {"a/b/c", true},
		{"", false}, {"A", false}, {".a", false}, {"a.", false}, {"_a", false}, {"a_", false}, {"a___b", false},
		{"a._b", false}, {"a/", false}, {"/a", false}, {"a//b", false}, {"a:b", false}, {"a b", false}, {"é", false},
	}
	for _, tt := range tests {
		if got := validRepository(tt.path); got != tt.want {
			t.Errorf("validRepository(%q) = %v, want %v", tt.path, got, tt.want)
		}
	}
}

func TestTagValidWord(t *testing.T) {
	tests := []struct {
		word string
		max  int
		want bool
	}{
		{"a", 1, true}, {"Az09_.-", 10, true}, {strings.Repeat("x", 128), 128, true},
		{"", 10, false}, {strings.Repeat("x", 129), 128, false}, {"ab", 1, false},
		{"a b", 10, false}, {"a/b", 10, false}, {"a:b", 10, false}, {"é", 10, false}, {"a\n", 10, false},
	}
	for _, tt := range tests {
		if got := validWord(tt.word, tt.max); got != tt.want {
			t.Errorf("validWord(%q, %d) = %v, want %v", tt.word, tt.max, got, tt.want)
		}
	}
}

func newTestTagStore(t *testing.T) (*TagStore, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "repositories.json")
	store, err := NewTagStore(path)
	if err != nil {
		t.Fatal(err)
	}
	return store, path
}

func TestTagStoreSetLookupDelete(t *testing.T) {
	store, _ := newTestTagStore(t)
	mustSetTag(t, store, "base", "id1")
	mustSetTag(t, store, "base:1.0", "id1")
	mustSetTag(t, store, "other:x", "id2")

	for ref, want := range map[string]string{
		"base": "id1", "base:latest": "id1", "base:1.0": "id1", "other:x": "id2",
		"other": "", "missing": "", "Invalid": "", "": "",
	} {
		if got := store.Lookup(ref); got != want {
			t.Errorf("Lookup(%q) = %q, want %q", ref, got, want)
		}
	}

	mustSetTag(t, store, "base:1.0", "id3") // moving a tag
	if got := store.Lookup("base:1.0"); got != "id3" {
		t.Errorf("after moving, Lookup(base:1.0) = %q", got)
	}

	if id, err := store.Delete("base"); err != nil || id != "id1" {
		t.Errorf("Delete(base) = %q, %v; want id1", id, err)
	}
	if got := store.Lookup("base"); got != "" {
		t.Errorf("after Delete, Lookup(base) = %q", got)
	}
	if _, err := store.Delete("base"); err == nil || !strings.Contains(err.Error(), "no such image: base:latest") {
		t.Errorf("second Delete(base) = %v, want no such image", err)
	}
	if _, err := store.Delete("Bad:ref"); err == nil {
		t.Error("Delete of an invalid reference succeeded")
	}
	if err := store.Set("Bad", "id1"); err == nil {
		t.Error("Set of an invalid reference succeeded")
	}
	if _, err := store.Delete("other:x"); err != nil {
		t.Fatal(err)
	}
	if _, ok := store.Repositories["other"]; ok {
		t.Error("deleting a repository's last tag left the repository behind")
	}
}

func TestTagStoreTagsOf(t *testing.T) {
	store, _ := newTestTagStore(t)
	mustSetTag(t, store, "zeta:1", "id1")
	mustSetTag(t, store, "alpha", "id1")
	mustSetTag(t, store, "alpha:2", "id1")
	mustSetTag(t, store, "beta", "id2")
	if got, want := store.TagsOf("id1"), []string{"alpha:2", "alpha:latest", "zeta:1"}; !slices.Equal(got, want) {
		t.Errorf("TagsOf(id1) = %q, want %q", got, want)
	}
	if got := store.TagsOf("none"); len(got) != 0 {
		t.Errorf("TagsOf(none) = %q", got)
	}
}

// TestTagStoreDigests: a registry's digest for an image is kept beside its tags, found by name@digest
// (a tag before the @ says nothing more), listed apart from the tags, and deleted alone.
func TestTagStoreDigests(t *testing.T) {
	store, _ := newTestTagStore(t)
	digest := "sha256:" + strings.Repeat("ab", 32)
	mustSetTag(t, store, "localhost:5000/app:1", "id1")
	mustSetTag(t, store, "localhost:5000/app@"+digest, "id1")
	for _, ref := range []string{"localhost:5000/app@" + digest, "localhost:5000/app:9@" + digest} {
		if got := store.Lookup(ref); got != "id1" {
			t.Errorf("Lookup(%s) = %q", ref, got)
		}
	}
	if got := store.TagsOf("id1"); !slices.Equal(got, []string{"localhost:5000/app:1"}) {
		t.Errorf("TagsOf = %q", got)
	}
	if got := store.DigestsOf("id1"); !slices.Equal(got, []string{"localhost:5000/app@" + digest}) {
		t.Errorf("DigestsOf = %q", got)
	}
	if err := store.Set("app@sha256:12", "id1"); err == nil {
		t.Error("a short digest was taken")
	}
	if id, err := store.Delete("localhost:5000/app@" + digest); id != "id1" || err != nil {
		t.Errorf("Delete = %q, %v", id, err)
	}
	if got := store.Lookup("localhost:5000/app:1"); got != "id1" || len(store.DigestsOf("id1")) != 0 {
		t.Errorf("after the digest's delete: tag %q, digests %q", got, store.DigestsOf("id1"))
	}
}

func TestTagStorePersistence(t *testing.T) {
	store, path := newTestTagStore(t)
	mustSetTag(t, store, "base:1", "id1")
	mustSetTag(t, store, "localhost:5000/app", "id2")
	mustSetTag(t, store, "gone", "id3")
	if _, err := store.Delete("gone"); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if perm := info.Mode().Perm(); perm != 0600 {
		t.Errorf("%s has mode %v, want 0600", path, perm)
	}

	again, err := NewTagStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for ref, want := range map[string]string{"base:1": "id1", "localhost:5000/app:latest": "id2", "gone": ""} {
		if got := again.Lookup(ref); got != want {
			t.Errorf("reloaded Lookup(%q) = %q, want %q", ref, got, want)
		}
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 1 {
		t.Errorf("the store's directory holds %d entries, want only the file (no temporary files)", len(entries))
	}
}

func TestTagStoreMissingAndCorruptFile(t *testing.T) {
	dir := t.TempDir()
	store, err := NewTagStore(filepath.Join(dir, "none.json"))
	if err != nil || len(store.Repositories) != 0 {
		t.Fatalf("NewTagStore on a missing file = %v, %v", store, err)
	}
	corrupt := filepath.Join(dir, "corrupt.json")
	if err := os.WriteFile(corrupt, []byte("{not json"), 0600); err != nil {
		t.Fatal(err)
	}
	if _, err := NewTagStore(corrupt); err == nil || !strings.Contains(err.Error(), corrupt) {
		t.Errorf("NewTagStore on a corrupt file = %v, want an error naming the file", err)
	}
}

func mustSetTag(t *testing.T, store *TagStore, ref, id string) {
	t.Helper()
	if err := store.Set(ref, id); err != nil {
		t.Fatalf("Set(%q, %q): %v", ref, id, err)
	}
}
