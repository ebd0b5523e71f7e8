// reference.go: where an image lives in the world, `[host[:port]/]path[:tag][@digest]`, read as Docker
// reads it.
//
// The part before the first "/" is a registry's address only if it looks like one (it has a "." or a
// ":", or is "localhost"); otherwise the whole name is a path on Docker Hub, and a path of one component
// is one of Hub's official images, under library/. So `alpine` is docker.io/library/alpine:latest, and
// `127.0.0.1:5000/base` is the repository base on the registry at 127.0.0.1:5000. The store keeps the
// short names Docker shows (`alpine`, not docker.io/library/alpine): Reference.Name.
package main

import (
	"fmt"
	"strings"
)

const (
	dockerHub         = "docker.io"            // the registry of a name without one
	dockerHubEndpoint = "registry-1.docker.io" // where docker.io's API is served
)

// Reference is an image in a registry.
type Reference struct {
	Domain string // the registry's host[:port]
	Path   string // the repository within it: library/alpine for alpine
	Tag    string // "" when only a digest is given
	Digest string // sha256:<64 hex digits>, or ""
}

// ParseRemoteReference reads a reference; a name without tag or digest means its tag latest.
func ParseRemoteReference(s string) (Reference, error) {
	name, digest, hasDigest := strings.Cut(s, "@")
	if hasDigest && !validDigest(digest) {
		return Reference{}, fmt.Errorf("invalid reference format: %q (a digest is sha256: and 64 hex digits)", s)
	}
	repository, tag, err := ParseReference(name) // the checks of a local name, and latest for no tag
	if err != nil {
		return Reference{}, err
	}
	if hasDigest && !strings.HasSuffix(name, ":"+tag) {
		tag = "" // a digest alone: no tag is implied
	}
	ref := Reference{Tag: tag, Digest: digest}
	ref.Domain, ref.Path = splitDomain(repository)
	return ref, nil
}

// splitDomain splits a repository name into the registry and the path there.
func splitDomain(name string) (domain, path string) {
	first, rest, found := strings.Cut(name, "/")
	if !found || !strings.ContainsAny(first, ".:") && first != "localhost" {
		first, rest = dockerHub, name
	}
	if first == "index.docker.io" {
		first = dockerHub
	}
	if first == dockerHub && !strings.Contains(rest, "/") {
		rest = "library/" + rest
	}
	return first, rest
}

// Name is the repository as the store keeps it and `images` shows it.
func (r Reference) Name() string {
	if r.Domain == dockerHub {
		return strings.TrimPrefix(r.Path, "library/")
	}
	return r.Domain + "/" + r.Path
}

// String is the reference as a user would write it.
func (r Reference) String() string {
	s := r.Name()
	if r.Tag != "" {
		s += ":" + r.Tag
	}
	if r.Digest != "" {
		s += "@" + r.Digest
	}
	return s
}

// validDigest accepts sha256:<64 lowercase hex digits>, the only algorithm registries use for images.
func validDigest(digest string) bool {
	hex, ok := strings.CutPrefix(digest, "sha256:")
	return ok && isFullID(hex)
}
