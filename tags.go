// tags.go: the names people give images.
//
// ROOT/repositories.json maps repository → tag → image ID, as Docker 0.1's did: `engine import x.tar
// myimg:1.0` adds one entry, `engine run myimg:1.0` reads it (Runtime.LookupImage), `engine tag` copies
// one, `engine rmi` removes one. The whole file is rewritten atomically on every change.
//
// Beside the tags, under "@sha256:…", the same map keeps the digests a registry gave an image when it was
// pulled or pushed (pull.go, push.go): `name@sha256:…` names the image as the registry knows it, and
// `inspect` shows these as RepoDigests, as Docker's repositories.json keeps them beside its tags. A tag
// cannot begin with "@", so the two never meet.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"sort"
	"strings"
	"sync"
)

type TagStore struct {
	path string

	mu           sync.Mutex
	Repositories map[string]map[string]string
}

func NewTagStore(path string) (*TagStore, error) {
	store := &TagStore{path: path, Repositories: map[string]map[string]string{}}
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return store, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &store.Repositories); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return store, nil
}

// ParseReference splits "name[:tag]" (tag defaults to latest) and checks both parts with Docker's rules.
// A colon followed by a "/" belongs to a registry address ("localhost:5000/x"), not to the tag.
func ParseReference(ref string) (repository, tag string, err error) {
	repository, tag = ref, "latest"
	if i := strings.LastIndexByte(ref, ':'); i >= 0 && !strings.Contains(ref[i:], "/") {
		repository, tag = ref[:i], ref[i+1:]
	}
	registry, rest, hasRegistry := strings.Cut(repository, "/")
	if !hasRegistry || !strings.ContainsAny(registry, ".:") && registry != "localhost" {
		rest = repository
	} else if !validRegistry(registry) {
		return "", "", fmt.Errorf("invalid reference format: %q (bad registry address %q)", ref, registry)
	}
	if isFullID(repository) || repository == "sha256" {
		// Docker refuses a repository named like a full ID; "sha256" is refused too, so that
		// "sha256:abc" can only be an ID prefix (Runtime.LookupImage).
		return "", "", fmt.Errorf("invalid reference format: %q (a repository may not be named like an image ID)", ref)
	}
	if !validRepository(rest) {
		return "", "", fmt.Errorf("invalid reference format: %q (a name is lowercase letters, digits and separators)", ref)
	}
	if !validWord(tag, 128) || tag[0] == '.' || tag[0] == '-' {
		return "", "", fmt.Errorf("invalid tag %q", tag)
	}
	return repository, tag, nil
}

// parseStoreRef splits a tag reference ("name[:tag]") or a digest reference ("name[:tag]@sha256:…", whose
// tag says nothing more) into its repository and the key the store keeps it under.
func parseStoreRef(ref string) (repository, key string, err error) {
	name, digest, isDigest := strings.Cut(ref, "@")
	if !isDigest {
		return ParseReference(ref)
	}
	if !validDigest(digest) {
		return "", "", fmt.Errorf("invalid reference format: %q (a digest is sha256: and 64 hex digits)", ref)
	}
	repository, _, err = ParseReference(name)
	return repository, "@" + digest, err
}

// joinRef is the reference a repository and a key of the store make.
func joinRef(repository, key string) string {
	if strings.HasPrefix(key, "@") {
		return repository + key
	}
	return repository + ":" + key
}

// Lookup returns the image ID a reference is tagged to, or "" if it is not.
func (s *TagStore) Lookup(ref string) string {
	repository, tag, err := parseStoreRef(ref)
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.Repositories[repository][tag]
}

func (s *TagStore) Set(ref, imageID string) error {
	repository, tag, err := parseStoreRef(ref)
	if err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.Repositories[repository] == nil {
		s.Repositories[repository] = map[string]string{}
	}
	s.Repositories[repository][tag] = imageID
	return s.save()
}

// Delete removes a tag (or a digest reference) and returns the image ID it pointed to.
func (s *TagStore) Delete(ref string) (string, error) {
	repository, tag, err := parseStoreRef(ref)
	if err != nil {
		return "", err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.Repositories[repository][tag]
	if !ok {
		return "", fmt.Errorf("%w: %s", errNoSuchImage, joinRef(repository, tag))
	}
	delete(s.Repositories[repository], tag)
	if len(s.Repositories[repository]) == 0 {
		delete(s.Repositories, repository)
	}
	return id, s.save()
}

// TagsOf lists "repository:tag" for every tag of an image, sorted.
func (s *TagStore) TagsOf(imageID string) []string {
	return s.refsOf(imageID, false)
}

// DigestsOf lists "repository@sha256:…" for every digest a registry gave an image, sorted.
func (s *TagStore) DigestsOf(imageID string) []string {
	return s.refsOf(imageID, true)
}

func (s *TagStore) refsOf(imageID string, digests bool) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var refs []string
	for repository, tags := range s.Repositories {
		for tag, id := range tags {
			if id == imageID && strings.HasPrefix(tag, "@") == digests {
				refs = append(refs, joinRef(repository, tag))
			}
		}
	}
	sort.Strings(refs)
	return refs
}

// save writes the store; the caller holds s.mu.
func (s *TagStore) save() error {
	data, err := json.MarshalIndent(s.Repositories, "", "\t")
	if err != nil {
		return err
	}
	return writeFileAtomic(s.path, data, 0600)
}

// validRepository is Docker's rule for a repository path: components separated by "/", each made of
// lowercase letters and digits, with single separators (".", "_", "-" or "__") between them.
func validRepository(path string) bool {
	for _, component := range strings.Split(path, "/") {
		separated := strings.NewReplacer("__", ".", "_", ".", "-", ".").Replace(component)
		for _, part := range strings.Split(separated, ".") {
			if part == "" || strings.Trim(part, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
				return false
			}
		}
	}
	return true
}

// validRegistry checks "host[:port]": letters, digits, dots and dashes, then digits.
func validRegistry(address string) bool {
	host, port, hasPort := strings.Cut(address, ":")
	if host == "" || strings.Trim(strings.ToLower(host), "abcdefghijklmnopqrstuvwxyz0123456789.-") != "" {
		return false
	}
	return !hasPort || (port != "" && strings.Trim(port, "0123456789") == "")
}

// validWord checks a name or tag: letters, digits, "_", "." and "-", not starting with a separator
// that would read as a flag or a hidden file, at most max characters.
func validWord(word string, max int) bool {
	if word == "" || len(word) > max {
		return false
	}
	for _, r := range word {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '_' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}
