// runtime.go: the daemon's model of the world.
//
// The Runtime holds the list of containers (as Docker 0.1's did), the image graph (graph.go), the tags
// (tags.go), the volumes (volumes.go) and the network manager (network.go). Commands (commands.go) go
// through it to create, find, list and destroy containers. Everything it knows is on disk under ROOT;
// NewRuntime reads it back (runtime_restore.go), so a restarted daemon shows the same containers and
// images. A container that was running when the daemon went away has run on under its keeper
// (keeper.go): the new daemon adopts it, or, if it ended meanwhile, records the end its keeper wrote
// down. At SIGTERM, BeginShutdown and Shutdown (at the end of this file) make sure no container starts
// once the daemon has looked at what runs.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
)

type Runtime struct {
	ID      string // the daemon's identity (ROOT/engine-id), shown by `engine info`
	root    string
	graph   *Graph
	tags    *TagStore
	network *NetworkManager
	cgroups *CgroupHierarchy
	volumes *VolumeStore

	// The --log-opt options of `engine -d`: every container's log is kept so, unless its own say
	// otherwise. Create writes the result into the container's HostConfig.LogConfig, as Docker does.
	LogDefaults map[string]string

	Registries RegistryConfig // how registries are reached (registry_config.go)

	images sync.Mutex   // the store lock: graph and tags change together under it (runtime_images.go)
	spare  *spareKeeper // a keeper started ahead of the next start (keeper_spare.go)

	mu         sync.Mutex
	containers []*Container   // in order of creation
	closing    bool           // the daemon is shutting down: no container is created or started (BeginShutdown)
	starts     sync.WaitGroup // starts in progress, which Shutdown waits for
}

// errShuttingDown is what Create and Start answer once the daemon has begun to shut down.
var errShuttingDown = errors.New("the daemon is shutting down")

func NewRuntime(root, bridge, subnet string) (*Runtime, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	if err := makePrivateRoot(root); err != nil {
		return nil, err
	}
	id, err := loadEngineID(root)
	if err != nil {
		return nil, err
	}
	graph, err := NewGraph(filepath.Join(root, "graph"))
	if err != nil {
		return nil, err
	}
	tags, err := NewTagStore(filepath.Join(root, "repositories.json"))
	if err != nil {
		return nil, err
	}
	if _, err := sealedBinary(); err != nil { // made now, so that no start waits for it (binary.go)
		return nil, err
	}
	cgroups, err := DetectCgroups()
	if err != nil {
		return nil, err
	}
	volumes, err := NewVolumeStore(filepath.Join(root, "volumes"))
	if err != nil {
		return nil, err
	}
	r := &Runtime{ID: id, root: root, graph: graph, tags: tags, cgroups: cgroups, volumes: volumes, spare: newSpareKeeper(root),
		Registries: RegistryConfig{CertsDir: filepath.Join(root, "certs.d")}}
	// Before restore, which gives the containers that still run their addresses and ports back.
	if r.network, err = NewNetworkManager(bridge, subnet); err != nil {
		return nil, fmt.Errorf("network: %w", err)
	}
	if err := r.restore(); err != nil {
		return nil, err
	}
	return r, nil
}

// makePrivateRoot makes ROOT and ROOT/containers, and closes ROOT to everyone but root (0700), also when
// an older engine or an admin made it with looser bits: every record, log and rw layer below is then out
// of other local users' reach, whatever the modes of the files themselves.
func makePrivateRoot(root string) error {
	if err := os.MkdirAll(filepath.Join(root, "containers"), 0700); err != nil {
		return err
	}
	if err := os.Chmod(root, 0700); err != nil {
		return fmt.Errorf("closing %s to other users: %w", root, err)
	}
	return nil
}

// loadEngineID returns the daemon's identity, a random UUID made once in ROOT/engine-id, as Docker keeps
// one in its engine-id file and shows it as the ID of `docker info`.
func loadEngineID(root string) (string, error) {
	path := filepath.Join(root, "engine-id")
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		id := uuid.NewString()
		return id, writeFileAtomic(path, []byte(id+"\n"), 0600)
	} else if err != nil {
		return "", err
	}
	id, err := uuid.Parse(strings.TrimSpace(string(data)))
	if err != nil {
		return "", fmt.Errorf("%s: not an engine ID (%v); remove it to make a new one", path, err)
	}
	return id.String(), nil
}

// Create makes a container record and its directory; nothing runs until Container.Start.
func (r *Runtime) Create(config *Config, hostConfig *HostConfig, name string) (*Container, error) {
	image, err := r.LookupImage(config.Image)
	if err != nil {
		return nil, err
	}
	if err := mergeImageConfig(config, image.Config); err != nil {
		return nil, err
	}
	command := append(slices.Clone(config.Entrypoint), config.Cmd...)
	if len(command) == 0 {
		return nil, errors.New("no command specified")
	}
	if err := r.network.CheckMode(hostConfig.NetworkMode); err != nil {
		return nil, err
	}
	if err := checkResources(hostConfig, r.cgroups); err != nil {
		return nil, err
	}
	if err := checkSecurityOpts(hostConfig); err != nil {
		return nil, err
	}
	if hostConfig.LogConfig, err = r.logConfig(hostConfig.LogConfig); err != nil {
		return nil, err
	}
	r.images.Lock() // so that no rmi removes the image before the container on it is listed
	defer r.images.Unlock()
	if _, err := r.graph.Get(image.ID); err != nil {
		return nil, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return nil, errShuttingDown
	}
	if name, err = r.reserveName(name); err != nil {
		return nil, err
	}
	mounts, newVolumes, err := r.resolveMounts(config, hostConfig) // under r.mu: no `volume rm` comes between
	if err != nil {
		return nil, err
	}
	id := newID()
	if config.Hostname == "" {
		config.Hostname = id[:12]
		if hostConfig.NetworkMode == "host" {
			config.Hostname, _ = os.Hostname()
		}
	}
	c := &Container{
		ID:              id,
		Created:         time.Now().UTC(),
		Path:            command[0],
		Args:            command[1:],
		Config:          config,
		HostConfig:      hostConfig,
		Image:           image.ID,
		Name:            "/" + name,
		State:           State{Status: "created"},
		NetworkSettings: &NetworkSettings{},
		Mounts:          mounts,
		root:            filepath.Join(r.root, "containers", id),
		runtime:         r,
	}
	c.LogPath = logPath(c.root, 0)
	if err := r.writeNew(c); err != nil {
		r.removeVolumes(newVolumes)
		return nil, err
	}
	r.containers = append(r.containers, c)
	return c, nil
}

// logConfig is how a new container's log is kept: its own --log-opt options over the daemon's.
func (r *Runtime) logConfig(own LogConfig) (LogConfig, error) {
	config := map[string]string{}
	for key, value := range r.LogDefaults {
		config[key] = value
	}
	for key, value := range own.Config {
		config[key] = value
	}
	lc := LogConfig{Type: logDriver, Config: config}
	if len(config) == 0 {
		lc.Config = nil
	}
	_, err := lc.limits()
	return lc, err
}

// writeNew makes the container's directory under a hidden name and renames it into place once the record
// is in it: a daemon killed half-way leaves a "." directory that restore clears, never a half container.
func (r *Runtime) writeNew(c *Container) error {
	tmp := filepath.Join(r.root, "containers", ".new-"+c.ID)
	if err := os.Mkdir(tmp, 0700); err != nil {
		return err
	}
	c.root = tmp
	err := c.toDisk()
	if err == nil { // present from the start, so clients can follow it
		err = os.WriteFile(logPath(c.root, 0), nil, 0600)
	}
	c.root = filepath.Join(r.root, "containers", c.ID)
	if err == nil {
		err = os.Rename(tmp, c.root)
	}
	if err != nil {
		os.RemoveAll(tmp)
	}
	return err
}

// reserveName checks a --name or makes one up. The caller holds r.mu.
func (r *Runtime) reserveName(name string) (string, error) {
	if name == "" {
		for tries := 0; name == "" || r.byName(name) != nil; tries++ {
			name = randomName()
			if tries > 10 { // the 144 combinations are running out
				name = fmt.Sprintf("%s%d", name, tries)
			}
		}
		return name, nil
	}
	name = strings.TrimPrefix(name, "/")
	if err := checkContainerName(name); err != nil {
		return "", err
	}
	if other := r.byName(name); other != nil {
		return "", fmt.Errorf("the name %q is already in use by container %s", name, other.ShortID())
	}
	return name, nil
}

// checkContainerName applies Docker's rule, [a-zA-Z0-9][a-zA-Z0-9_.-]+: so at least two characters, none
// that would read as a flag, a hidden file or a path. Like Docker, a name may look like an ID, even
// another container's full ID; Get looks for IDs first, so such a name never hides that container.
// Unlike Docker, a name is bounded: 255 characters.
func checkContainerName(name string) error {
	if len(name) < 2 || !validWord(name, 255) || name[0] == '.' || name[0] == '-' || name[0] == '_' {
		return fmt.Errorf("invalid container name %q: only [a-zA-Z0-9][a-zA-Z0-9_.-]+ is allowed", name)
	}
	return nil
}

func (r *Runtime) byName(name string) *Container {
	for _, c := range r.containers {
		if c.ShortName() == name {
			return c
		}
	}
	return nil
}

// Get finds a container as Docker does: by its full ID, then by its exact name, then by a prefix of
// its ID that no other container shares. The order matters: a name may be anything a name may be,
// another container's ID included, and that ID must still reach the container that has it.
func (r *Runtime) Get(ref string) (*Container, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if ref == "" {
		return nil, errors.New("no such container: an empty name")
	}
	for _, c := range r.containers {
		if c.ID == ref {
			return c, nil
		}
	}
	if c := r.byName(strings.TrimPrefix(ref, "/")); c != nil {
		return c, nil
	}
	var matches []string
	var found *Container
	for _, c := range r.containers {
		if strings.HasPrefix(c.ID, ref) {
			matches = append(matches, c.ShortID())
			found = c
		}
	}
	switch len(matches) {
	case 0:
		return nil, fmt.Errorf("no such container: %s", printable(ref))
	case 1:
		return found, nil
	}
	return nil, fmt.Errorf("%q matches more than one container: %s", ref, candidateList(matches))
}

// candidateList lists the IDs an ambiguous prefix matches, a few of them: enough to choose from.
func candidateList(ids []string) string {
	const shown = 5
	if len(ids) <= shown {
		return strings.Join(ids, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(ids[:shown], ", "), len(ids)-shown)
}

// List returns the containers, newest first (the order of `engine ps`).
func (r *Runtime) List() []*Container {
	r.mu.Lock()
	defer r.mu.Unlock()
	list := make([]*Container, 0, len(r.containers))
	for i := len(r.containers) - 1; i >= 0; i-- {
		list = append(list, r.containers[i])
	}
	return list
}

// Remove is `engine rm`: it destroys a container that is not running or, with force, kills it first.
// The removal begins under the container's lifecycle lock (beginRemoval), so a start that has not yet
// begun never will, and none can slip in while rm waits for the kill.
func (r *Runtime) Remove(c *Container, force bool) error {
	exited, err := c.beginRemoval(force)
	if err != nil {
		return err
	}
	if exited != nil && !c.awaitEnd(exited, killTimeout) {
		c.cancelRemoval()
		return c.notDead()
	}
	return r.Destroy(c)
}

// Destroy forgets a container that is not running and removes its directory, logs and rw layer included.
// It waits for a start or a stop in progress to finish first, and the container never starts again.
func (r *Runtime) Destroy(c *Container) error {
	c.lifecycle.Lock()
	defer c.lifecycle.Unlock()
	if c.exited != nil {
		return fmt.Errorf("container %s is running: stop it first, or use rm -f", c.ShortName())
	}
	return r.destroy(c)
}

// destroy is Destroy for a caller that holds c.lifecycle (the monitor, for --rm). Doing it twice is
// harmless: rm -f and --rm may both come to it. A --rm container's anonymous volumes go with it.
func (r *Runtime) destroy(c *Container) error {
	c.removed = true
	r.mu.Lock()
	for i, other := range r.containers {
		if other == c {
			r.containers = append(r.containers[:i], r.containers[i+1:]...)
			break
		}
	}
	r.mu.Unlock()
	c.removeCgroup()
	c.unmount()
	// The rename removes the container in one step; its files go in the background (a daemon killed
	// meanwhile finishes the job at restore), so `run --rm` need not wait for a large rw dir.
	hidden := filepath.Join(r.root, "containers", ".removing-"+c.ID)
	if err := os.Rename(c.root, hidden); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	go removeContainerDir(hidden)
	if c.HostConfig.AutoRemove { // --rm takes the anonymous volumes too, as Docker's does
		r.removeAnonymousVolumes(c)
	}
	return nil
}

// removeContainerDir deletes a container directory, after making sure no root filesystem is still
// mounted in it: RemoveAll through a mounted overlay would delete files of the image.
func removeContainerDir(dir string) error {
	(&Container{root: dir}).unmount()
	return os.RemoveAll(dir)
}

// BeginShutdown closes the gate at the first step of the daemon's leaving (SIGTERM): a request accepted
// just before it may still be on its way to Create or Container.Start, and from now on both refuse.
// Without it, a start could begin after Shutdown has taken its list of running containers, and run on
// with the bridge, the rules and the cgroup parent removed under it.
func (r *Runtime) BeginShutdown() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.closing = true
}

// beginStart admits a container's start unless the gate is closed; the start calls r.starts.Done when it
// has finished, whether the container runs or not.
func (r *Runtime) beginStart() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closing {
		return errShuttingDown
	}
	r.starts.Add(1) // never after closing is set: Shutdown's Wait cannot race an Add from zero
	return nil
}

// shutdownStartsTimeout bounds Shutdown's wait for the starts in progress: each is bounded itself (the
// wait for init's verdict, initVerdictTimeout, is the longest of its steps), and this leaves it room.
var shutdownStartsTimeout = initVerdictTimeout + 10*time.Second

// Shutdown is the daemon's leaving (SIGTERM). It closes the gate and waits for the starts in progress to
// finish, so that the list it then looks at is final. The running containers go on under their keepers
// (keeper.go), and the next daemon adopts them. While any runs, the bridge and the firewall rules stay:
// their traffic goes through them (NetworkManager.Close checks it too). Without any, engine/ is removed
// from the cgroup hierarchies and the bridge and the rules are taken down, so a stopped engine leaves the
// host as it found it.
func (r *Runtime) Shutdown() {
	r.BeginShutdown()
	if !r.awaitStarts(shutdownStartsTimeout) {
		fmt.Fprintf(os.Stderr, "engine -d: a start still runs after %v; leaving the network and cgroups in place\n", shutdownStartsTimeout)
		return
	}
	r.spare.close()
	for _, c := range r.List() {
		if c.exitedChan() != nil {
			return
		}
	}
	r.network.Close()
	r.cgroups.RemoveParent()
}

// awaitStarts waits, for at most bound, until no start is in progress.
func (r *Runtime) awaitStarts(bound time.Duration) bool {
	done := make(chan struct{})
	go func() {
		r.starts.Wait()
		close(done)
	}()
	select {
	case <-done:
		return true
	case <-time.After(bound):
		return false
	}
}

func newID() string {
	b := make([]byte, 32)
	rand.Read(b)
	return hex.EncodeToString(b)
}

func sortByCreation(containers []*Container) {
	slices.SortFunc(containers, func(a, b *Container) int { return a.Created.Compare(b.Created) })
}

// randomName makes names like Docker's "focused_turing", so that `engine ps` has something to show.
func randomName() string {
	adjectives := []string{"brave", "calm", "eager", "focused", "gentle", "happy", "keen", "lucid", "nifty", "quiet", "sharp", "witty"}
	people := []string{"curie", "dijkstra", "hopper", "knuth", "lamport", "liskov", "lovelace", "ritchie", "thompson", "torvalds", "turing", "wirth"}
	pick := func(words []string) string {
		n, _ := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
		return words[n.Int64()]
	}
	return pick(adjectives) + "_" + pick(people)
}
