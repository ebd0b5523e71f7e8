//go:build !amd64 && !arm64

// seccomp_other.go: architectures the seccomp filter has no system call table for.
//
// The engine assembles its filter from per-architecture tables (seccomp_amd64.go, seccomp_arm64.go). On
// any other architecture a container with a seccomp profile does not start: buildSeccompFilter reports that
// there is no table, rather than running the container without a filter. --security-opt seccomp=unconfined
// still works.
package main

const (
	nativeArch     = 0
	nativeArchName = ""
	x32Bit         = 0
)

var syscallNumbers = map[string]uint32{}
