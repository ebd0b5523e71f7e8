// resources_test.go covers the parsers of resources.go: the text of -m, --memory-swap, --cpus and
// --cpuset-cpus, each with what would overflow, wrap around or be read as something else than written.
// (checkResources, which needs a cgroup hierarchy, is tested in cgroups_test.go.)
package main

import (
	"math"
	"slices"
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for text, want := range map[string]int64{
		"0": 0, "100": 100, "100b": 100, "1k": 1024, "1K": 1024, "64m": 64 << 20, "64M": 64 << 20,
		"64mb": 64 << 20, "64MiB": 64 << 20, "1.5g": 3 << 29, "2t": 2 << 40, "1p": 1 << 50, " 8m ": 8 << 20,
		"1024p": 1 << 60, "0.0": 0, ".5k": 512, "1.": 1, "1152921504606846976": 1 << 60,
	} {
		if got, err := parseSize(text); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", text, got, err, want)
		}
	}
	for _, text := range []string{
		"", "m", "abc", "-5m", "64x", "1.2.3m", "1e3", "0x10", "inf", "NaN", "64 mm", "9999999p", ".", ".m",
		"+5m", "1_000", "1024.001p", "1152921504606847233", "9223372036854775807", "9223372036854775808",
		"18446744073709551616", "1e400", "0.5", "0.9b", "6\x00m",
	} {
		got, err := parseSize(text)
		if err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("parseSize(%q) = %d, %v; want an error on one line", text, got, err)
		}
	}
}

func TestParseResourceFlags(t *testing.T) {
	hc := &HostConfig{PidsLimit: -1}
	if err := hc.parseResourceFlags("64m", "-1", "1.5"); err != nil {
		t.Fatal(err)
	}
	if hc.Memory != 64<<20 || hc.MemorySwap != -1 || hc.NanoCpus != 1500000000 || hc.PidsLimit != 0 {
		t.Errorf("got %+v", hc)
	}
	for cpus, want := range map[string]int64{"0.01": 1e7, "2": 2e9, ".5": 5e8, "0": 0, "1000000": 1e15} {
		hc := &HostConfig{}
		if err := hc.parseResourceFlags("", "", cpus); err != nil || hc.NanoCpus != want {
			t.Errorf("--cpus %q: %d, %v; want %d", cpus, hc.NanoCpus, err, want)
		}
	}
	for _, bad := range [][3]string{
		{"x", "", ""}, {"", "-2", ""}, {"", "-1.0", ""}, {"", "", "abc"}, {"", "", "-1"}, {"", "", "NaN"},
		{"", "", "Inf"}, {"", "", "1e3"}, {"", "", "0x1p-2"}, {"", "", "+1"}, {"", "", "."}, {"", "", "1e400"},
		{"", "", "9223372036.854775807"}, {"", "", "99999999999999999999"}, {"", "", "1,5"}, {"2e", "", ""},
	} {
		hc := &HostConfig{}
		if err := hc.parseResourceFlags(bad[0], bad[1], bad[2]); err == nil || strings.Contains(err.Error(), "\n") {
			t.Errorf("parseResourceFlags%q = %v (%+v); want an error on one line", bad, err, hc)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	for list, want := range map[string][]int{
		"0": {0}, "0-2,5,7-7": {0, 1, 2, 5, 7}, "3,1": {3, 1}, "4095": {4095}, "010": {10},
	} {
		if got, err := parseCPUList(list); err != nil || !slices.Equal(got, want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", list, got, err, want)
		}
	}
	if cpus, err := parseCPUList("0-4095"); err != nil || len(cpus) != 4096 {
		t.Errorf("parseCPUList(0-4095): %d CPUs, %v", len(cpus), err)
	}
	for _, list := range []string{
		"", ",", "0,", ",0", "-1", "1-", "-", "2-1", "0-4096", "4096", "+1", " 1", "1 ", "0x1", "1-2-3", "0--1",
		"-0", "0--0", "9223372036854775807", "9223372036854775808", "0-9223372036854775807", "4294967296",
		"18446744073709551617", "1.0", "1\n", "a",
	} {
		if got, err := parseCPUList(list); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", list, got)
		}
	}
}

// What reaches the cgroup files stays in range: the default memory+swap, twice the largest memory
// limit, does not wrap around.
func TestMemorySwapDoesNotWrap(t *testing.T) {
	hc := &HostConfig{}
	if err := hc.parseResourceFlags("1024p", "", ""); err != nil {
		t.Fatal(err)
	}
	swap := &CgroupHierarchy{Mounts: map[string]string{"memory": "/m"}, Swap: true}
	if err := checkResources(hc, swap); err != nil || hc.MemorySwap != 2*hc.Memory || hc.MemorySwap <= 0 || hc.MemorySwap > math.MaxInt64/2 {
		t.Errorf("-m 1024p: %v, memory %d, memory+swap %d", err, hc.Memory, hc.MemorySwap)
	}
}
