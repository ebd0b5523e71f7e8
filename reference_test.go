package main

import "testing"

// TestParseRemoteReference: names as Docker reads them.
func TestParseRemoteReference(t *testing.T) {
	digest := "sha256:" + "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	for _, c := range []struct{ in, domain, path, tag, digest, name string }{
		{"alpine", "docker.io", "library/alpine", "latest", "", "alpine"},
		{"alpine:3.20", "docker.io", "library/alpine", "3.20", "", "alpine"},
		{"docker.io/library/alpine", "docker.io", "library/alpine", "latest", "", "alpine"},
		{"index.docker.io/user/app:1", "docker.io", "user/app", "1", "", "user/app"},
		{"user/app", "docker.io", "user/app", "latest", "", "user/app"},
		{"127.0.0.1:5000/base", "127.0.0.1:5000", "base", "latest", "", "127.0.0.1:5000/base"},
		{"localhost/a/b:x", "localhost", "a/b", "x", "", "localhost/a/b"},
		{"ghcr.io/org/tool@" + digest, "ghcr.io", "org/tool", "", digest, "ghcr.io/org/tool"},
		{"ghcr.io/org/tool:v1@" + digest, "ghcr.io", "org/tool", "v1", digest, "ghcr.io/org/tool"},
	} {
		ref, err := ParseRemoteReference(c.in)
		if err != nil || ref.Domain != c.domain || ref.Path != c.path || ref.Tag != c.tag || ref.Digest != c.digest || ref.Name() != c.name {
			t.Errorf("%s: %+v (name %q) %v", c.in, ref, ref.Name(), err)
		}
	}
	for _, bad := range []string{"", "Alpine", "a@sha256:12", "a@md5:" + digest[7:], "a:-x", "127.0.0.1:5000/", "a//b"} {
		if ref, err := ParseRemoteReference(bad); err == nil {
			t.Errorf("%q was accepted: %+v", bad, ref)
		}
	}
}
