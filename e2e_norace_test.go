//go:build !race

// e2e_norace_test.go: without -race, the end-to-end tests build the engine as contrib/setup.sh does,
// static and without cgo (e2e_race_test.go is the race-enabled build).
package main

var engineBuild = struct {
	env, flags []string
	race       bool // ThreadSanitizer's shadow memory adds some 20 MB to each process's peak
}{
	race: false,
	env:  []string{"CGO_ENABLED=0"},
}
