// runtime_volumes.go: the Runtime's side of volumes, where containers and volumes meet.
//
// Runtime.Create calls resolveMounts to turn a new container's -v strings (volumes.go) into its Mounts,
// making the volumes they name on first use; RemoveVolume (`engine volume rm`) refuses a volume that
// any container, running or not, still names, as Docker does; removeAnonymousVolumes is `rm -v` and
// `--rm`. All of them hold the runtime's lock (r.mu) while they look at the containers and change the
// store, so a volume cannot be removed between a create that names it and the container's record.
package main

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"slices"
	"strings"
)

// resolveMounts checks and resolves a new container's -v strings: binds (whose source must exist) and
// volumes (made if they do not exist yet). It also returns the names of the volumes it made, for
// removeVolumes to undo them if the create fails later. The caller holds r.mu.
func (r *Runtime) resolveMounts(config *Config, hostConfig *HostConfig) (mounts []MountPoint, made []string, err error) {
	specs := append(slices.Clone(hostConfig.Binds), slices.Sorted(maps.Keys(config.Volumes))...)
	if mounts, err = parseVolumeSpecs(specs); err != nil {
		return nil, nil, err
	}
	for i := range mounts {
		m := &mounts[i]
		if m.Type == "bind" {
			if _, err = os.Stat(m.Source); errors.Is(err, fs.ErrNotExist) {
				err = fmt.Errorf("invalid mount: bind source path does not exist: %s", printable(m.Source))
			} else if err != nil {
				err = fmt.Errorf("invalid mount: %w", err)
			}
		} else {
			var v *Volume
			var created bool
			if v, created, err = r.volumes.Create(m.Name, nil); err == nil {
				m.Name, m.Source, m.Driver, m.CopyData = v.Name, v.Mountpoint, v.Driver, true
			}
			if created {
				made = append(made, v.Name)
			}
		}
		if err != nil {
			r.removeVolumes(made)
			return nil, nil, err
		}
	}
	return mounts, made, nil
}

// removeVolumes removes volumes a failed create made. The caller holds r.mu.
func (r *Runtime) removeVolumes(names []string) {
	for _, name := range names {
		r.volumes.remove(name)
	}
}

// volumeUsers names the containers whose mounts include the volume. The caller holds r.mu.
func (r *Runtime) volumeUsers(name string) []string {
	var users []string
	for _, c := range r.containers {
		for i := range c.Mounts { // by index: a start may be clearing CopyData meanwhile (spec.go)
			if m := &c.Mounts[i]; m.Type == "volume" && m.Name == name {
				users = append(users, c.ShortID())
				break
			}
		}
	}
	return users
}

func (r *Runtime) volumeInUse(name string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.volumeUsers(name)) > 0
}

// RemoveVolume is `engine volume rm`: refused while any container, running or stopped, names the
// volume (Docker's rule; remove the container first, or use `rm -v` for its anonymous ones).
func (r *Runtime) RemoveVolume(name string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, err := r.volumes.Get(name); err != nil {
		return err
	}
	if users := r.volumeUsers(name); len(users) > 0 {
		return fmt.Errorf("volume %s is in use by container %s", name, strings.Join(users, ", "))
	}
	return r.volumes.remove(name)
}

// removeAnonymousVolumes removes the anonymous volumes of a container that is gone (`rm -v`, `--rm`),
// as Docker does; a named one stays, and so does one another container names.
func (r *Runtime) removeAnonymousVolumes(c *Container) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, m := range c.Mounts {
		if m.Type != "volume" {
			continue
		}
		v, err := r.volumes.Get(m.Name)
		if err != nil || !v.anonymous() {
			continue
		}
		if users := r.volumeUsers(m.Name); len(users) > 0 {
			fmt.Fprintf(os.Stderr, "engine -d: keeping volume %s: in use by container %s\n", m.Name, strings.Join(users, ", "))
			continue
		}
		if err := r.volumes.remove(m.Name); err != nil {
			fmt.Fprintf(os.Stderr, "engine -d: %v\n", err)
		}
	}
}
