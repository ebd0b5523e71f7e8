// resources.go: the resource limits of a container, as docker's flags give them.
//
// `run` and `create` take -m/--memory, --memory-swap, -c/--cpu-shares, --cpus, --cpuset-cpus and
// --pids-limit (commands.go); parseResourceFlags reads their text into the HostConfig fields Docker has
// (Memory, MemorySwap, CpuShares, NanoCpus, CpusetCpus, PidsLimit, shown by `engine inspect`), and
// Runtime.Create calls checkResources, which refuses what Docker refuses and fills Docker's defaults, so a
// bad value is an error at create, not at start. v1Files and v2Files say which interface file of each
// cgroup version holds which limit, for cgroups.go to write when the container starts; specResources
// describes the same limits in the OCI config (spec.go), the way runc would read them.
package main

import (
	"fmt"
	"math"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
)

const (
	minimumMemory = 6 << 20 // Docker refuses less: the container would not even start
	cpuPeriod     = 100000  // µs: CFS period of --cpus, Docker's and the kernel's default
	maxCpuShares  = 262144  // the kernel's bounds for cpu.shares
	minCpuShares  = 2
	maxPidsLimit  = 1 << 22 // PID_MAX_LIMIT: the kernel refuses a larger pids.max
	maximumMemory = 1 << 60 // 1 EiB: above any machine, and twice it (the default memory+swap) fits an int64
)

// parseResourceFlags reads the text of -m, --memory-swap and --cpus into hc; cpu shares and the pids
// limit arrive as numbers already checked against their ranges (flags.go), the cpuset kept as given.
func (hc *HostConfig) parseResourceFlags(memory, memorySwap, cpus string) error {
	var err error
	if memory != "" {
		if hc.Memory, err = parseSize(memory); err != nil {
			return fmt.Errorf("invalid --memory: %w", err)
		}
	}
	if memorySwap == "-1" {
		hc.MemorySwap = -1
	} else if memorySwap != "" {
		if hc.MemorySwap, err = parseSize(memorySwap); err != nil {
			return fmt.Errorf("invalid --memory-swap: %w", err)
		}
	}
	if cpus != "" {
		// Digits and one point only: ParseFloat would also take "1e3", "0x1p-2", "Inf" and "NaN".
		value, err := strconv.ParseFloat(cpus, 64)
		if !isDecimal(cpus) || err != nil || value*1e9 >= math.MaxInt64 {
			return fmt.Errorf("invalid --cpus %q: a number of CPUs like 1.5 expected", cpus)
		}
		hc.NanoCpus = int64(math.Round(value * 1e9))
	}
	if hc.PidsLimit < 0 { // docker: 0 or -1 means no limit
		hc.PidsLimit = 0
	}
	return nil
}

// parseSize reads a size as docker reads -m: a number, decimals allowed, with an optional binary unit
// b, k, m, g, t or p in either case, which may be followed by "b" or "ib": 64m, 1.5g, 512MiB, 1048576.
// A size is at most maximumMemory; one that is not zero is at least a byte.
func parseSize(text string) (int64, error) {
	s := strings.ToLower(strings.TrimSpace(text))
	s = strings.TrimSuffix(strings.TrimSuffix(s, "b"), "i")
	unit := 1.0
	if n := len(s); n > 0 {
		if exponent := strings.IndexByte("kmgtp", s[n-1]); exponent >= 0 {
			unit = math.Pow(1024, float64(exponent+1))
			s = strings.TrimSpace(s[:n-1])
		}
	}
	number, err := strconv.ParseFloat(s, 64)
	if !isDecimal(s) || err != nil {
		return 0, fmt.Errorf("%q is not a size like 64m", text)
	}
	if number*unit > maximumMemory {
		return 0, fmt.Errorf("%q is more than 1 EiB", text)
	}
	if size := int64(number * unit); size > 0 || number == 0 {
		return size, nil
	}
	return 0, fmt.Errorf("%q is less than a byte", text)
}

// isDecimal tells whether s is a number written with decimal digits and at most one point: 2, 1.5, .5
func isDecimal(s string) bool {
	return strings.Trim(s, "0123456789.") == "" && strings.Count(s, ".") <= 1 && strings.Trim(s, ".") != ""
}

// checkResources refuses the limits Docker refuses, and those this host cannot apply, and sets Docker's
// default for memory+swap: twice the memory limit where swap is accounted, else unlimited (-1).
func checkResources(hc *HostConfig, cgroups *CgroupHierarchy) error {
	if hc.Memory != 0 && hc.Memory < minimumMemory {
		return fmt.Errorf("minimum memory limit allowed is 6MB")
	}
	if err := checkMemorySwap(hc, cgroups); err != nil {
		return err
	}
	if hc.CpuShares != 0 && (hc.CpuShares < minCpuShares || hc.CpuShares > maxCpuShares) {
		return fmt.Errorf("invalid --cpu-shares %d: from %d to %d (1024 is one CPU's share)", hc.CpuShares, minCpuShares, maxCpuShares)
	}
	if cpus := runtime.NumCPU(); hc.NanoCpus != 0 && (hc.NanoCpus < 1e7 || hc.NanoCpus > int64(cpus)*1e9) {
		return fmt.Errorf("range of CPUs is from 0.01 to %d.00, as there are only %d CPUs available", cpus, cpus)
	}
	if hc.CpusetCpus != "" {
		if err := checkCpuset(hc.CpusetCpus); err != nil {
			return err
		}
	}
	for _, need := range []struct {
		flag, controller string
		asked            bool
	}{
		{"--memory", "memory", hc.Memory > 0},
		{"--cpu-shares and --cpus", "cpu", hc.CpuShares > 0 || hc.NanoCpus > 0},
		{"--cpuset-cpus", "cpuset", hc.CpusetCpus != ""},
		{"--pids-limit", "pids", hc.PidsLimit > 0},
	} {
		if need.asked && !cgroups.Has(need.controller) {
			return fmt.Errorf("%s needs the %s cgroup controller, which this host does not offer", need.flag, need.controller)
		}
	}
	return nil
}

func checkMemorySwap(hc *HostConfig, cgroups *CgroupHierarchy) error {
	switch {
	case hc.MemorySwap == 0 && hc.Memory > 0 && cgroups.Swap:
		hc.MemorySwap = 2 * hc.Memory
	case hc.MemorySwap == 0 && hc.Memory > 0:
		hc.MemorySwap = -1
	case hc.MemorySwap == 0 || hc.MemorySwap == -1:
	case hc.Memory == 0:
		return fmt.Errorf("--memory-swap needs --memory: set the memory limit too")
	case hc.MemorySwap < hc.Memory:
		return fmt.Errorf("--memory-swap (memory plus swap) must be at least --memory")
	case !cgroups.Swap:
		return fmt.Errorf("--memory-swap cannot be applied: this kernel does not account swap (no memory.memsw.limit_in_bytes)")
	}
	return nil
}

// checkCpuset checks a --cpuset-cpus list ("0-2,4") and that this machine has those CPUs online.
func checkCpuset(list string) error {
	requested, err := parseCPUList(list)
	if err != nil {
		return fmt.Errorf("invalid --cpuset-cpus %q: a list like 0-2,4 expected", list)
	}
	online, _ := os.ReadFile("/sys/devices/system/cpu/online")
	available, err := parseCPUList(strings.TrimSpace(string(online)))
	if err != nil {
		return fmt.Errorf("reading the online CPUs: %w", err)
	}
	for _, cpu := range requested {
		if !slices.Contains(available, cpu) {
			return fmt.Errorf("requested CPUs are not available - requested %s, available: %s", list, strings.TrimSpace(string(online)))
		}
	}
	return nil
}

// maxCPU is the highest CPU number a list may name: the kernel's default NR_CPUS limit.
const maxCPU = 4095

// parseCPUList reads the kernel's CPU list format: numbers and ranges separated by commas, written in
// decimal digits alone (the kernel writes the list back into cpuset.cpus as given).
func parseCPUList(list string) ([]int, error) {
	var cpus []int
	for _, part := range strings.Split(list, ",") {
		first, last, isRange := strings.Cut(part, "-")
		from, err := parseDecimal(first, 0, maxCPU)
		to := from
		if err == nil && isRange {
			to, err = parseDecimal(last, 0, maxCPU)
		}
		if err != nil || to < from {
			return nil, fmt.Errorf("bad CPU list %q", list)
		}
		for cpu := from; cpu <= to; cpu++ {
			cpus = append(cpus, cpu)
		}
	}
	return cpus, nil
}

// cgroupFile is one value written into one interface file of the container's cgroup.
type cgroupFile struct{ controller, name, value string }

// v1Files maps the HostConfig to v1 interface files, in the order they must be written: the memory
// limit before memory+swap (the kernel keeps memsw >= limit), devices denied before some are allowed.
func v1Files(hc *HostConfig) []cgroupFile {
	var files []cgroupFile
	add := func(controller, name string, value int64) {
		files = append(files, cgroupFile{controller, name, strconv.FormatInt(value, 10)})
	}
	if hc.Memory > 0 {
		add("memory", "memory.limit_in_bytes", hc.Memory)
	}
	if hc.MemorySwap > 0 {
		add("memory", "memory.memsw.limit_in_bytes", hc.MemorySwap)
	}
	if hc.CpuShares > 0 {
		add("cpu", "cpu.shares", hc.CpuShares)
	}
	if hc.NanoCpus > 0 {
		add("cpu", "cpu.cfs_period_us", cpuPeriod)
		add("cpu", "cpu.cfs_quota_us", cpuQuota(hc.NanoCpus))
	}
	if hc.CpusetCpus != "" {
		files = append(files, cgroupFile{"cpuset", "cpuset.cpus", hc.CpusetCpus})
	}
	if hc.PidsLimit > 0 {
		add("pids", "pids.max", hc.PidsLimit)
	}
	files = append(files, cgroupFile{"devices", "devices.deny", "a"})
	for _, rule := range allowedDevices() {
		files = append(files, cgroupFile{"devices", "devices.allow", rule.String()})
	}
	return files
}

// v2Files maps the HostConfig to v2 interface files. memory.swap.max is swap alone, where Docker's
// MemorySwap (and v1's memsw) is memory plus swap; cpu.weight replaces cpu.shares on another scale.
func v2Files(hc *HostConfig) []cgroupFile {
	var files []cgroupFile
	add := func(controller, name, value string) { files = append(files, cgroupFile{controller, name, value}) }
	if hc.Memory > 0 {
		add("memory", "memory.max", strconv.FormatInt(hc.Memory, 10))
	}
	if hc.MemorySwap > 0 {
		add("memory", "memory.swap.max", strconv.FormatInt(hc.MemorySwap-hc.Memory, 10))
	}
	if hc.CpuShares > 0 {
		add("cpu", "cpu.weight", strconv.FormatInt(cpuWeight(hc.CpuShares), 10))
	}
	if hc.NanoCpus > 0 {
		add("cpu", "cpu.max", fmt.Sprintf("%d %d", cpuQuota(hc.NanoCpus), cpuPeriod))
	}
	if hc.CpusetCpus != "" {
		add("cpuset", "cpuset.cpus", hc.CpusetCpus)
	}
	if hc.PidsLimit > 0 {
		add("pids", "pids.max", strconv.FormatInt(hc.PidsLimit, 10))
	}
	return files
}

// cpuQuota is the CFS quota for NanoCpus per cpuPeriod: --cpus 1.5 → 150000 µs every 100000 µs.
func cpuQuota(nanoCpus int64) int64 { return nanoCpus * cpuPeriod / 1e9 }

// cpuWeight converts v1 cpu.shares (2..262144, default 1024) to v2 cpu.weight (1..10000, default 100)
// with the linear map runc and crun use, so the same --cpu-shares means the same on both.
func cpuWeight(shares int64) int64 { return 1 + ((shares-2)*9999)/262142 }

// LinuxResources is the runtime spec's linux.resources: what runc would write into the cgroup.
type LinuxResources struct {
	Devices []DeviceCgroupRule `json:"devices"`
	Memory  *MemoryResources   `json:"memory,omitempty"`
	CPU     *CPUResources      `json:"cpu,omitempty"`
	Pids    *PidsResources     `json:"pids,omitempty"`
}

type DeviceCgroupRule struct {
	Allow  bool   `json:"allow"`
	Type   string `json:"type,omitempty"`
	Major  *int64 `json:"major,omitempty"`
	Minor  *int64 `json:"minor,omitempty"`
	Access string `json:"access"`
}

type MemoryResources struct {
	Limit int64 `json:"limit,omitempty"`
	Swap  int64 `json:"swap,omitempty"` // memory plus swap, as in Docker and v1; -1 is unlimited
}

type CPUResources struct {
	Shares uint64 `json:"shares,omitempty"`
	Quota  int64  `json:"quota,omitempty"`
	Period uint64 `json:"period,omitempty"`
	Cpus   string `json:"cpus,omitempty"`
}

type PidsResources struct {
	Limit int64 `json:"limit"`
}

// specResources describes the container's limits and device rules for the OCI config: deny every
// device, then allow the list of devicefilter.go, as Docker's generated configs do.
func specResources(hc *HostConfig) *LinuxResources {
	resources := &LinuxResources{Devices: []DeviceCgroupRule{{Allow: false, Access: "rwm"}}}
	for _, rule := range allowedDevices() {
		major, minor := rule.Major, rule.Minor
		device := DeviceCgroupRule{Allow: true, Type: string(rule.Type), Major: &major, Access: "rwm"}
		if minor >= 0 {
			device.Minor = &minor
		}
		resources.Devices = append(resources.Devices, device)
	}
	if hc.Memory > 0 {
		resources.Memory = &MemoryResources{Limit: hc.Memory, Swap: hc.MemorySwap}
	}
	if hc.CpuShares > 0 || hc.NanoCpus > 0 || hc.CpusetCpus != "" {
		resources.CPU = &CPUResources{Shares: uint64(hc.CpuShares), Cpus: hc.CpusetCpus}
		if hc.NanoCpus > 0 {
			resources.CPU.Quota, resources.CPU.Period = cpuQuota(hc.NanoCpus), cpuPeriod
		}
	}
	if hc.PidsLimit > 0 {
		resources.Pids = &PidsResources{Limit: hc.PidsLimit}
	}
	return resources
}
