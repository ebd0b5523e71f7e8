// seccomp.go: which system calls a container may make, as a seccomp profile.
//
// Namespaces and capabilities leave a container root the whole system call interface of the host's
// kernel, including calls that namespaces do not cover (keyctl: the keyring is the host's) and rarely
// used code that has held many of the kernel's exploitable bugs (AF_ALG sockets, bpf, userfaultfd). As
// Docker does, every container runs under a seccomp filter that allows only what programs need. The
// steps, in the flow of `run`:
//
//  1. `--security-opt seccomp=PROFILE.json` is read by the client, which sends the file's content in its
//     place (readSeccompProfileFiles), as docker's CLI does: the path is the user's, not the daemon's.
//     checkSecurityOpts (at create) checks it; HostConfig.SecurityOpt keeps it, so a restart uses it again.
//  2. At start, generateSpec (spec.go) calls containerSeccomp: the container's profile, Docker's default
//     (seccomp_default.go) unless unconfined or given, is resolved for the container's capabilities and
//     architecture into the OCI runtime-spec form, and written into config.json as linux.seccomp. runc
//     and crun apply the same one to the bundle.
//  3. init (and exec's helper) assembles it into a classic BPF program (seccomp_bpf.go) and installs it
//     last, just before execve (or the fork of an exec'd command).
//
// Docker's profile format is the runtime spec's plus conditions the spec lacks: a rule may apply only
// with a capability (includes.caps), only without one (excludes.caps), only on some architectures, or
// from a kernel version on. The daemon resolves those when it writes the spec, as moby does.
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// LinuxSeccomp is the runtime spec's linux.seccomp: what init installs, exactly.
type LinuxSeccomp struct {
	DefaultAction   string         `json:"defaultAction"`
	DefaultErrnoRet *uint          `json:"defaultErrnoRet,omitempty"`
	Architectures   []string       `json:"architectures,omitempty"`
	Syscalls        []LinuxSyscall `json:"syscalls,omitempty"`
}

// LinuxSyscall is one rule: these calls, when every argument condition holds, get this action.
type LinuxSyscall struct {
	Names    []string     `json:"names"`
	Action   string       `json:"action"`
	ErrnoRet *uint        `json:"errnoRet,omitempty"`
	Args     []SeccompArg `json:"args,omitempty"`
}

// SeccompArg compares the call's argument Index with Value (and ValueTwo, for SCMP_CMP_MASKED_EQ:
// arg & Value == ValueTwo), as libseccomp's scmp_arg_cmp does.
type SeccompArg struct {
	Index    uint   `json:"index"`
	Value    uint64 `json:"value"`
	ValueTwo uint64 `json:"valueTwo,omitempty"`
	Op       string `json:"op"`
}

// seccompProfile is Docker's profile format (moby's profiles/seccomp types), which --security-opt
// seccomp=FILE reads and the default profile is written in.
type seccompProfile struct {
	DefaultAction    string           `json:"defaultAction"`
	DefaultErrnoRet  *uint            `json:"defaultErrnoRet,omitempty"`
	Architectures    []string         `json:"architectures,omitempty"`
	ArchMap          []seccompArchMap `json:"archMap,omitempty"`
	Syscalls         []seccompRule    `json:"syscalls"`
	Flags            []string         `json:"flags,omitempty"`        // refused: not supported
	ListenerPath     string           `json:"listenerPath,omitempty"` // refused: not supported
	ListenerMetadata string           `json:"listenerMetadata,omitempty"`
}

type seccompArchMap struct {
	Architecture     string   `json:"architecture"`
	SubArchitectures []string `json:"subArchitectures"`
}

type seccompRule struct {
	Name     string        `json:"name,omitempty"` // the old form: one call per rule
	Names    []string      `json:"names,omitempty"`
	Action   string        `json:"action"`
	ErrnoRet *uint         `json:"errnoRet,omitempty"`
	Args     []SeccompArg  `json:"args,omitempty"`
	Comment  string        `json:"comment,omitempty"`
	Includes seccompFilter `json:"includes,omitempty"`
	Excludes seccompFilter `json:"excludes,omitempty"`
}

// seccompFilter is a rule's condition on the container: its capabilities, the host's architecture (Go's
// names: amd64, arm64...) and kernel version.
type seccompFilter struct {
	Caps      []string `json:"caps,omitempty"`
	Arches    []string `json:"arches,omitempty"`
	MinKernel string   `json:"minKernel,omitempty"`
}

func errnoValue(errno unix.Errno) *uint {
	value := uint(errno)
	return &value
}

// knownArchitectures are libseccomp's names; a profile naming another is a typo, and refused.
var knownArchitectures = strings.Fields(`SCMP_ARCH_X86 SCMP_ARCH_X86_64 SCMP_ARCH_X32 SCMP_ARCH_ARM
	SCMP_ARCH_AARCH64 SCMP_ARCH_MIPS SCMP_ARCH_MIPS64 SCMP_ARCH_MIPS64N32 SCMP_ARCH_MIPSEL SCMP_ARCH_MIPSEL64
	SCMP_ARCH_MIPSEL64N32 SCMP_ARCH_PPC SCMP_ARCH_PPC64 SCMP_ARCH_PPC64LE SCMP_ARCH_S390 SCMP_ARCH_S390X
	SCMP_ARCH_PARISC SCMP_ARCH_PARISC64 SCMP_ARCH_RISCV64 SCMP_ARCH_LOONGARCH64 SCMP_ARCH_M68K SCMP_ARCH_SH
	SCMP_ARCH_SHEB`)

// resolve turns a Docker profile into the runtime spec's form for a container whose bounding set is
// capabilities, on this host: rules whose conditions do not hold are left out, the others copied.
//
// The architecture is always this host's native one alone. Docker also lists the "sub-architectures"
// (x86 and x32 beside x86_64), letting 32-bit programs make the same calls through the 32-bit tables;
// the engine has no table for those, so the filter refuses every call that does not come through the
// native table, and the spec says so for runc and crun.
func (p *seccompProfile) resolve(capabilities []string) (*LinuxSeccomp, error) {
	if len(p.Flags) > 0 || p.ListenerPath != "" {
		return nil, fmt.Errorf("seccomp flags and listeners are not supported")
	}
	arches := slices.Clone(p.Architectures)
	for _, entry := range p.ArchMap {
		arches = append(append(arches, entry.Architecture), entry.SubArchitectures...)
	}
	for _, arch := range arches {
		if !slices.Contains(knownArchitectures, arch) {
			return nil, fmt.Errorf("unknown seccomp architecture %q", arch)
		}
	}
	resolved := &LinuxSeccomp{DefaultAction: p.DefaultAction, DefaultErrnoRet: p.DefaultErrnoRet, Architectures: []string{nativeArchName}}
	for _, rule := range p.Syscalls {
		names := rule.Names
		if rule.Name != "" {
			names = append([]string{rule.Name}, names...)
		}
		if len(names) == 0 {
			return nil, fmt.Errorf("a seccomp rule (action %s) names no system call", rule.Action)
		}
		applies, err := ruleApplies(rule, capabilities)
		if err != nil {
			return nil, err
		}
		if applies {
			resolved.Syscalls = append(resolved.Syscalls, LinuxSyscall{Names: names, Action: rule.Action, ErrnoRet: rule.ErrnoRet, Args: rule.Args})
		}
	}
	return resolved, nil
}

// ruleApplies decides a rule's includes and excludes as moby does: every included capability must be
// in the set and no excluded one; the architecture must be included (if any are) and not excluded;
// the kernel must be at least includes.minKernel, and older than excludes.minKernel.
func ruleApplies(rule seccompRule, capabilities []string) (bool, error) {
	for _, capability := range rule.Includes.Caps {
		if !slices.Contains(capabilities, capability) {
			return false, nil
		}
	}
	for _, capability := range rule.Excludes.Caps {
		if slices.Contains(capabilities, capability) {
			return false, nil
		}
	}
	if len(rule.Includes.Arches) > 0 && !slices.Contains(rule.Includes.Arches, runtime.GOARCH) {
		return false, nil
	}
	if slices.Contains(rule.Excludes.Arches, runtime.GOARCH) {
		return false, nil
	}
	if rule.Excludes.MinKernel != "" {
		if newer, err := kernelAtLeast(rule.Excludes.MinKernel); err != nil || newer {
			return false, err
		}
	}
	if rule.Includes.MinKernel == "" {
		return true, nil
	}
	return kernelAtLeast(rule.Includes.MinKernel)
}

// kernelAtLeast compares the running kernel's release ("6.1.0-18-amd64") with "major.minor".
func kernelAtLeast(version string) (bool, error) {
	wantMajor, wantMinor, err := parseKernelVersion(version)
	if err != nil {
		return false, fmt.Errorf("seccomp: invalid minKernel %q", version)
	}
	var uname unix.Utsname
	if err := unix.Uname(&uname); err != nil {
		return false, err
	}
	major, minor, err := parseKernelVersion(unix.ByteSliceToString(uname.Release[:]))
	if err != nil {
		return false, fmt.Errorf("seccomp: cannot read the kernel's version: %w", err)
	}
	return major > wantMajor || (major == wantMajor && minor >= wantMinor), nil
}

func parseKernelVersion(release string) (int, int, error) {
	fields := strings.FieldsFunc(release, func(r rune) bool { return r < '0' || r > '9' })
	if len(fields) < 2 {
		return 0, 0, fmt.Errorf("%q is not a kernel version", release)
	}
	major, err := strconv.Atoi(fields[0])
	if err != nil {
		return 0, 0, err
	}
	minor, err := strconv.Atoi(fields[1])
	return major, minor, err
}

// parseSeccompProfile reads a profile in Docker's format. Unknown fields are refused: a misspelt
// "syscalls" must not quietly leave a container with only the default action.
func parseSeccompProfile(data string) (*seccompProfile, error) {
	decoder := json.NewDecoder(strings.NewReader(data))
	decoder.DisallowUnknownFields()
	var profile seccompProfile
	if err := decoder.Decode(&profile); err != nil {
		return nil, fmt.Errorf("invalid seccomp profile: %w", err)
	}
	if profile.DefaultAction == "" {
		return nil, fmt.Errorf("invalid seccomp profile: no defaultAction")
	}
	return &profile, nil
}

// containerSeccomp is the profile a container with these security options and capabilities runs
// under, in the runtime spec's form; nil for seccomp=unconfined.
func containerSeccomp(securityOpt []string, caps *Capabilities) (*LinuxSeccomp, error) {
	profile := defaultSeccompProfile()
	for _, opt := range securityOpt {
		value, ok := strings.CutPrefix(opt, "seccomp=")
		switch {
		case !ok:
		case value == "unconfined":
			profile = nil
		default:
			var err error
			if profile, err = parseSeccompProfile(value); err != nil {
				return nil, err
			}
		}
	}
	if profile == nil {
		return nil, nil
	}
	return profile.resolve(caps.Bounding)
}

// checkSecurityOpts checks `--security-opt` values as docker reads them, when a container is created. A
// profile's content (sent by the client in place of the file's name) is resolved and assembled now, so a
// bad one fails `run` with its reason rather than the start.
func checkSecurityOpts(hostConfig *HostConfig) error {
	for _, opt := range hostConfig.SecurityOpt {
		key, value, _ := strings.Cut(opt, "=")
		switch {
		case key == "seccomp" && (value == "unconfined" || strings.HasPrefix(value, "{")):
		case key == "seccomp":
			return fmt.Errorf("--security-opt seccomp=%s: the client sends a profile's content, not its name", value)
		case opt == "no-new-privileges" || opt == "no-new-privileges=true":
			// Always on: init sets no_new_privs for every container.
		case key == "no-new-privileges":
			return fmt.Errorf("--security-opt %s: no_new_privs is always set by the engine", opt)
		default:
			return fmt.Errorf("invalid --security-opt %q: expected seccomp=unconfined, seccomp=PROFILE.json or no-new-privileges", opt)
		}
	}
	if !slices.ContainsFunc(hostConfig.SecurityOpt, func(opt string) bool { return strings.HasPrefix(opt, "seccomp={") }) {
		return nil // Docker's default or none: nothing the user wrote to check
	}
	caps := containerCapabilities(0, hostConfig.CapAdd, hostConfig.CapDrop)
	profile, err := containerSeccomp(hostConfig.SecurityOpt, caps)
	if err == nil {
		_, err = buildSeccompFilter(profile)
	}
	return err
}

// The client's side.

// maxSeccompProfile bounds the profile file the client sends (Docker's default is 17 KB).
const maxSeccompProfile = 256 << 10

// readSeccompProfileFiles replaces, in a `run` or `create` command line, each `--security-opt
// seccomp=FILE` with the file's content, read with the user's permissions and relative to the user's
// directory. The run flags are parsed here as the daemon will parse them, so only a flag is rewritten,
// never the container's command; a command line that does not parse goes unchanged, for the daemon to
// report.
func readSeccompProfileFiles(args []string) ([]string, error) {
	if len(args) == 0 || (args[0] != "run" && args[0] != "create") {
		return args, nil
	}
	if !slices.ContainsFunc(args, func(arg string) bool { return strings.Contains(arg, "seccomp=") }) {
		return args, nil // no profile named: the plain `run` parses nothing twice
	}
	opts, err := parseRunFlags(&Session{Stdout: io.Discard, Stderr: io.Discard}, args[0], "", args[1:])
	if err != nil {
		return args, nil
	}
	image := len(args) - 1 - len(opts.config.Cmd) // the flags are args[1:image]
	rewritten := slices.Clone(args)
	for i := 1; i < image; i++ {
		name, value, inline := strings.Cut(strings.TrimLeft(args[i], "-"), "=")
		if name != "security-opt" {
			if opts.flags.valued[name] && !inline {
				i++ // its value
			}
			continue
		}
		at := i
		if !inline {
			i++
			at, value = i, args[i]
		}
		path, ok := strings.CutPrefix(value, "seccomp=")
		if !ok || path == "unconfined" {
			continue
		}
		content, err := readSeccompProfileFile(path)
		if err != nil {
			return args, err
		}
		rewritten[at] = "seccomp=" + content
		if inline {
			rewritten[at] = "--security-opt=seccomp=" + content
		}
	}
	return rewritten, nil
}

// readSeccompProfileFile reads a profile and compacts its JSON, which checks that it is JSON at all.
func readSeccompProfileFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("seccomp profile: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxSeccompProfile+1))
	if err != nil {
		return "", fmt.Errorf("seccomp profile %s: %w", path, err)
	}
	if len(data) > maxSeccompProfile {
		return "", fmt.Errorf("seccomp profile %s: larger than %d KiB", path, maxSeccompProfile>>10)
	}
	var compact bytes.Buffer
	if err := json.Compact(&compact, data); err != nil {
		return "", fmt.Errorf("seccomp profile %s is not JSON: %w", path, err)
	}
	return compact.String(), nil
}

// execSeccomp is the profile an exec'd command runs under: the one the container's init installed, as
// its bundle's config.json says, even if the engine's default has changed since the container started.
func (c *Container) execSeccomp() (*LinuxSeccomp, error) {
	spec, err := readSpec(filepath.Join(c.bundle(), "config.json"))
	if err != nil {
		return nil, fmt.Errorf("reading the container's seccomp profile: %w", err)
	}
	return spec.Linux.Seccomp, nil
}
