// container.go: one container, and how it is started.
//
// The Runtime creates a Container from a Config (runtime.go); `engine start` and `engine run` then call
// Container.Start, which is the heart of the engine:
//
//  1. ensureMounted  overlayfs: the init layer and the image's layers (graph.go) as lowerdirs, the
//     container's rw dir as upper (container_rootfs.go)
//  2. cgroup         the container's cgroup, with its limits and device rules (cgroups.go)
//  3. startKeeper    the container's keeper (keeper.go, keeper_client.go), a process of its own that
//     started this binary again as `engine init` in new namespaces (init.go) before the container was
//     known (keeper_init.go), its stdio pipes the keeper's; init is held on the sync pipe
//  4. Add            init is moved into its cgroup by a goroutine, concurrently with step 5
//  5. prepare        the network (network.go) and the OCI runtime config, bundle/config.json (spec.go)
//  6. toDisk         the record says "running", with the process's PID (a daemon killed before step 7
//     leaves a keeper that kills the held init and writes down that the command never ran)
//  7. Release        once init is in its cgroup, the keeper tells it to go on in the bundle, and learns
//     from the sync pipe whether execve succeeded (for at most initVerdictTimeout)
//  8. monitor        a goroutine waits for the keeper to tell the end, records it, unmounts, applies
//     --rm (container_stop.go, with stop, kill and wait)
//
// The keeper, not the daemon, is the parent of the container's first process and holds its output: the
// container runs on when the daemon stops, and the next daemon adopts it (runtime_restore.go). Every change of
// state is written to ROOT/containers/<id>/config.json before anyone is told about it.
// Starts, stops and removals of one container take turns (the lifecycle lock, below); commands that
// only look (ps, inspect) never wait for them.
package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"
)

// Config is what the container runs, as `docker inspect` shows it under .Config.
// Entrypoint, Cmd, Env, WorkingDir, User, Labels and ExposedPorts start as the image's (Runtime.Create
// merges them), and `engine commit` makes them the new image's config.
type Config struct {
	Hostname     string
	User         string
	ExposedPorts map[string]struct{} `json:",omitempty"` // "80/tcp": the ports the image says it serves
	Env          []string
	Entrypoint   []string // run before Cmd: the command is Entrypoint + Cmd
	Cmd          []string
	Image        string // as the user named it
	WorkingDir   string
	Labels       map[string]string
	OpenStdin    bool // -i
	StdinOnce    bool // the first attached client's EOF closes stdin (-i, not -d)
	Tty          bool // -t: the command's stdio is a terminal (console.go)

	Volumes map[string]struct{} // -v /path: anonymous volumes, as Docker records them (volumes.go)
}

// HostConfig is how the container relates to the host (.HostConfig in `docker inspect`).
type HostConfig struct {
	NetworkMode    string
	PortBindings   map[string][]PortBinding // -p, as asked: "80/tcp" → host address and port ("" for any)
	AutoRemove     bool                     // --rm
	CapAdd         []string                 // --cap-add, as CAP_ names (capabilities.go)
	CapDrop        []string                 // --cap-drop
	ReadonlyRootfs bool                     // --read-only
	SecurityOpt    []string                 // --security-opt: seccomp=unconfined or seccomp=<profile JSON> (seccomp.go)
	Binds          []string                 // -v with a source: /host:/ctr[:ro], NAME:/ctr (volumes.go)
	LogConfig      LogConfig                // --log-opt: how the keeper keeps the log (logfile.go)

	// The limits of resources.go, applied by the container's cgroup (cgroups.go); Docker's names and units.
	Memory     int64  // -m: bytes, 0 for no limit
	MemorySwap int64  // --memory-swap: memory plus swap in bytes, -1 for unlimited swap
	CpuShares  int64  // -c: relative CPU weight, 1024 being one CPU's default share
	NanoCpus   int64  // --cpus, in billionths of a CPU
	CpusetCpus string // --cpuset-cpus: the CPUs it may run on, "0-2,4"
	PidsLimit  int64  // --pids-limit: at most this many processes, 0 for no limit
}

type Container struct {
	ID              string `json:"Id"`
	Created         time.Time
	Path            string
	Args            []string
	Config          *Config
	HostConfig      *HostConfig
	State           State
	Image           string // the image's ID
	Name            string // with a leading "/", as Docker stores names
	NetworkSettings *NetworkSettings
	Mounts          []MountPoint // the -v binds and volumes, resolved at create (runtime_volumes.go)
	LogPath         string       // the log the keeper writes (logfile.go)
	LogDropped      int64        // bytes of output the log could not take (a full disk), in the last run

	root    string // ROOT/containers/<id>
	runtime *Runtime

	// Two locks, taken in this order (lifecycle, then mu), never the other way round.
	//
	// lifecycle makes the changes of the container's life take turns: Start, the monitor's clean-up
	// after the process ends, Destroy, and the moment stop and rm decide what to do. It is held across
	// slow work (mounting, an iptables call per published port, waiting for init's verdict) and no
	// command that only looks ever takes it. removed is read and written under it alone.
	//
	// mu guards State, NetworkSettings and the fields after it, and is held only to read or write them,
	// never across a wait: ps, inspect, port and stats take mu alone, so they never wait on a start, a
	// stop or a removal. Only holders of lifecycle change State, NetworkSettings, keeper, cgroup and exited
	// (under mu too), so a holder of lifecycle may read those without mu.
	lifecycle sync.Mutex
	removed   bool // Destroy has begun: the container must never start again
	exports   int  // exports reading the mounted root (commit.go): it stays mounted until the last ends

	mu          sync.Mutex
	keeper      *Keeper       // the running container's keeper (keeper_client.go)
	cgroup      *Cgroup       // its cgroup, from start until the monitor removes it
	exited      chan struct{} // from a successful start until the monitor has recorded the end: then closed
	consoleSize *Box          // the size the next start's terminal opens with, if the client has one
}

func (c *Container) ShortID() string { return c.ID[:12] }

func (c *Container) ShortName() string { return strings.TrimPrefix(c.Name, "/") }

func (c *Container) bundle() string { return filepath.Join(c.root, "bundle") }

func (c *Container) rootfs() string { return filepath.Join(c.root, "bundle", "rootfs") }

// Start runs the container's command. It returns once the command runs (or has failed to start).
func (c *Container) Start() error {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.removed { // an rm came first, between the create and this start: nothing of it may run
		return fmt.Errorf("container %s was removed", c.ShortName())
	}
	if c.exited != nil {
		return fmt.Errorf("container %s is already running", c.ShortName())
	}
	if err := c.runtime.beginStart(); err != nil { // refused as it is: the container never tried to run
		return err
	}
	defer c.runtime.starts.Done()
	err := c.start()
	if err != nil {
		c.removeCgroup()
		c.unmountUnused()
		status := 125
		var se *StatusError
		if errors.As(err, &se) {
			status = se.Status
		}
		// Like Docker, a container whose command never ran keeps its status; the error and the status
		// a shell would give (126, 127) are recorded.
		c.mu.Lock()
		c.State.ExitCode = status
		c.State.Error = err.Error()
		c.mu.Unlock()
		c.toDisk()
	}
	return err
}

// start does the steps of a start, in the order the file's opening lists them. The caller holds
// lifecycle; mu is taken only to publish what readers see.
func (c *Container) start() error {
	namespaces, err := c.runtime.network.Namespaces(c, []Namespace{{Type: "pid"}, {Type: "ipc"}, {Type: "uts"}, {Type: "mount"}})
	if err != nil {
		return err
	}
	defer closeNamespaceFiles(namespaces) // init has its own copies once it is started
	rootfs, err := c.ensureMounted()
	if err != nil {
		return err
	}
	// The cgroup comes first, with its limits and device rules: init must be in it before it is released.
	cgroup := NewCgroup(c.runtime.cgroups, cgroupParent+"/"+c.ID)
	c.mu.Lock()
	c.cgroup = cgroup
	c.mu.Unlock()
	if err := cgroup.Create(c.HostConfig); err != nil {
		return err
	}
	os.Remove(filepath.Join(c.root, keeperExitFile)) // the previous run's
	// Init is started first and held on the sync pipe, as runc's create comes before its start: while
	// the Go runtime starts up in the child, the daemon prepares the rest of the container.
	keeper, err := c.startKeeper(namespaces, cgroup)
	if err != nil {
		return err
	}
	previous := c.State
	c.mu.Lock()
	c.State.setRunning(keeper.Pid, keeper.PidStart)
	c.mu.Unlock()
	// Moving init into its cgroup waits for an RCU grace period in the kernel (about a millisecond
	// here): it goes on while the rest is prepared, and init is released only once it is in.
	joined := make(chan error, 1)
	go func() { joined <- cgroup.Add(keeper.Pid) }()
	// Recorded as running before init is released: a daemon killed from here on finds the process.
	err = c.prepare(rootfs, namespaces, keeper.Pid)
	if err == nil {
		err = c.toDisk()
	}
	if joinErr := <-joined; err == nil {
		err = joinErr
	}
	if err == nil {
		err = keeper.Release()
	} else {
		keeper.abort()
	}
	if err != nil {
		c.runtime.network.Release(c)
		c.mu.Lock()
		c.NetworkSettings = &NetworkSettings{}
		c.State = previous
		c.mu.Unlock()
		return err
	}
	exited := make(chan struct{})
	c.mu.Lock()
	c.keeper, c.exited = keeper, exited
	c.mu.Unlock()
	go c.monitor(keeper, exited)
	return nil
}

// prepare does the daemon's side of a start while init boots: the network (the veth pair goes into the
// namespace of the process pid), the /etc files and the generated config.
func (c *Container) prepare(rootfs string, namespaces []Namespace, pid int) error {
	settings, err := c.runtime.network.Allocate(c, pid)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.NetworkSettings = settings
	c.mu.Unlock()
	if err := c.runtime.network.WriteEtcFiles(c); err != nil {
		return err
	}
	spec, err := c.generateSpec(rootfs, namespaces)
	if err != nil {
		return err
	}
	specJSON, _ := json.MarshalIndent(spec, "", "\t")
	return os.WriteFile(filepath.Join(c.bundle(), "config.json"), specJSON, 0600)
}

// newSyncPipe makes the socket pair that holds a starting process (init, or exec's helper) until the
// daemon releases it, and carries back its terminal and its verdict. A socket, not a pipe: a terminal's
// master can only travel over a unix socket (console.go). The daemon's end is non-blocking, so Go's
// poller serves it and its reads can have a deadline; the child's end stays blocking.
func newSyncPipe() (parent, child *os.File, err error) {
	fds, err := unix.Socketpair(unix.AF_UNIX, unix.SOCK_STREAM|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, 0)
	if err == nil {
		err = unix.SetNonblock(fds[1], false)
	}
	if err != nil {
		return nil, nil, fmt.Errorf("sync pipe: %w", err)
	}
	if err := unix.SetNonblock(fds[0], true); err != nil {
		unix.Close(fds[0])
		unix.Close(fds[1])
		return nil, nil, fmt.Errorf("sync pipe: %w", err)
	}
	return os.NewFile(uintptr(fds[0]), "sync"), os.NewFile(uintptr(fds[1]), "sync"), nil
}

func closeAll(files ...*os.File) {
	for _, f := range files {
		if f != nil {
			f.Close()
		}
	}
}

// cloneFlags turns the spec's namespaces into clone(2) flags: the kernel creates them with the process.
func cloneFlags(namespaces []Namespace) uintptr {
	flags := map[string]uintptr{
		"pid": unix.CLONE_NEWPID, "ipc": unix.CLONE_NEWIPC, "uts": unix.CLONE_NEWUTS,
		"mount": unix.CLONE_NEWNS, "network": unix.CLONE_NEWNET,
	}
	var result uintptr
	for _, ns := range namespaces {
		if ns.Path == "" {
			result |= flags[ns.Type]
		}
	}
	return result
}

// initVerdictTimeout bounds release's wait for init's verdict. Between its release and execve, init
// only mounts, writes a few files and looks up the user: well under a second, a few seconds on a machine
// busy starting hundreds of containers. 30 s leaves room for far worse, and still ends a start whose
// init the image blocks (a FIFO where init opens a file) instead of leaving it to hold the lifecycle
// lock, and with it every stop and rm of the container, forever. A variable, so a test can shorten it.
var initVerdictTimeout = 30 * time.Second

// verdictOverdue says why a wait for init's verdict ended, in plain words when it ran out of time.
func verdictOverdue(err error) error {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return fmt.Errorf("init did not start the command within %v (is it blocked opening a file of the image, such as a FIFO?)", initVerdictTimeout)
	}
	return err
}

// syncFailure turns the report a process held on a sync pipe sent before dying (an initError) into the
// error the client sees, with the status a shell would give.
func syncFailure(report []byte, who string, state *os.ProcessState) error {
	var failure initError
	if json.Unmarshal(report, &failure) != nil || failure.Message == "" {
		return fmt.Errorf("%s died before starting the command (%v)", who, state)
	}
	return &StatusError{Status: failure.Status, Err: errors.New(failure.Message)}
}

// toDisk writes the container record, as it is under mu. The caller holds lifecycle (or is alone with a
// container nobody else knows yet), so records are written in the order of the changes they record.
func (c *Container) toDisk() error {
	c.mu.Lock()
	data, err := json.MarshalIndent(c, "", "\t")
	c.mu.Unlock()
	if err != nil {
		return err
	}
	return writeFileAtomic(filepath.Join(c.root, "config.json"), data, 0600)
}
