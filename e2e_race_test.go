//go:build race

// e2e_race_test.go: under `go test -race`, the end-to-end tests build a race-enabled engine.
//
// The race detector is ThreadSanitizer's runtime, linked in with cgo, so the build needs
// CGO_ENABLED=1 and a C toolchain (gcc, libc6-dev). The binary must still be static: the daemon runs
// `engine init` and the copy helper from its sealed copy (binary.go) inside containers' roots, where
// the host's ld.so and libc are not, and cp_helper.go refuses a binary with an ELF interpreter. So the
// linker is the external one with -static; netgo and osusergo keep the net and os/user packages off
// libc's resolver and NSS, which a static glibc cannot load. Each process of this engine reports the
// races it finds where GORACE says (e2e_test.go gives each daemon a file of its own).
package main

var engineBuild = struct {
	env, flags []string
	race       bool // ThreadSanitizer's shadow memory adds some 20 MB to each process's peak
}{
	race:  true,
	env:   []string{"CGO_ENABLED=1"},
	flags: []string{"-race", "-tags", "netgo,osusergo", "-ldflags", "-linkmode external -extldflags -static"},
}
