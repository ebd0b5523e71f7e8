// runtime_images.go: what the Runtime does with images on behalf of the commands.
//
// The graph (graph.go) stores images and the tag store (tags.go) names them; the Runtime, which also
// knows the containers, is where the two meet: `run` finds its image here (LookupImage, as Docker
// resolves a reference), new images come in here (AddImage: import, commit, load), `tag` names one
// (TagImage), and `rmi` removes one (DeleteImage), keeping what a container still stands on.
//
// One lock, the store lock (Runtime.images), covers every change that reads one of graph and tags and
// writes the other, and the listing of a new container on its image: without it, an import racing an
// rmi of the same content left a tag on a deleted image in 29 of 100 tries. Nothing slow happens under
// it: a new image is unpacked before (Graph.Create), and a deleted one removed after (Graph.Delete).
// It is taken before Runtime.mu (ImageUsers takes that one inside it), never after.
package main

import (
	"fmt"
	"strings"
)

// ImageUsers lists the containers created from an image.
func (r *Runtime) ImageUsers(imageID string) []*Container {
	var users []*Container
	for _, c := range r.List() {
		if c.Image == imageID {
			users = append(users, c)
		}
	}
	return users
}

// LookupImage finds an image as Docker does: by its full ID ("sha256:" or not), then by a tag ("base",
// "base:1.0"), then by a prefix of its ID that no other image shares. A tag can never hide an ID:
// ParseReference refuses a repository named like a full ID, or "sha256".
func (r *Runtime) LookupImage(ref string) (*Image, error) {
	if id := strings.TrimPrefix(ref, "sha256:"); isFullID(id) {
		if image, err := r.graph.Get(id); err == nil {
			return image, nil
		}
	} else if id := r.tags.Lookup(ref); id != "" {
		return r.graph.Get(id)
	}
	return r.graph.Find(ref)
}

// AddImage brings a new image into the store: create makes it (Graph.Create or Graph.Register, which
// unpack its layer, for as long as that takes, outside the lock), then, under the store lock, the
// graph links it in and each of refs is tagged to it. Import, commit and load all come in here.
func (r *Runtime) AddImage(create func() (*NewImage, error), refs ...string) (*Image, error) {
	for _, ref := range refs {
		if _, _, err := parseStoreRef(ref); err != nil {
			return nil, err // before the work, not after
		}
	}
	n, err := create()
	if err != nil {
		return nil, err
	}
	r.images.Lock()
	defer r.images.Unlock()
	image, err := r.graph.Link(n)
	if err != nil {
		return nil, err
	}
	for _, ref := range refs {
		if err := r.tags.Set(ref, image.ID); err != nil {
			return image, err
		}
	}
	return image, nil
}

// TagImage is `engine tag`: target names the image source names.
func (r *Runtime) TagImage(source, target string) error {
	r.images.Lock()
	defer r.images.Unlock()
	image, err := r.LookupImage(source)
	if err != nil {
		return err
	}
	return r.tags.Set(target, image.ID)
}

// DeleteImage is `engine rmi`: it removes a tag and then the image, if nothing else needs it, and the
// untagged parents that removal leaves without purpose. A container's image is kept unless force is set;
// even then only its tags go, since the container's root filesystem is made of its layers.
func (r *Runtime) DeleteImage(ref string, force bool) ([]string, error) {
	r.images.Lock()
	messages, removals, err := r.deleteImage(ref, force)
	r.images.Unlock()
	for _, remove := range removals {
		remove()
	}
	return messages, err
}

// deleteImage is DeleteImage under the store lock; it returns the removals of the deleted layers, to be
// run once the lock is let go.
func (r *Runtime) deleteImage(ref string, force bool) ([]string, []func(), error) {
	if untagged, ok, err := r.deleteDanglingTag(ref); ok {
		return untagged, nil, err
	}
	image, err := r.LookupImage(ref)
	if err != nil {
		return nil, nil, err
	}
	tags := r.tags.TagsOf(image.ID)
	byTag := r.tags.Lookup(ref) != ""
	if users := r.ImageUsers(image.ID); len(users) > 0 && !force && (!byTag || len(tags) == 1) {
		return nil, nil, fmt.Errorf("conflict: unable to remove %s (must force): container %s is using it", ref, users[0].ShortID())
	}
	if !byTag && len(tags) > 1 && !force {
		return nil, nil, fmt.Errorf("conflict: unable to delete %s (must force): image is referenced in %d tags", image.ID[:12], len(tags))
	}
	if children, err := r.graph.Children(image.ID); err != nil || (!byTag && len(children) > 0) {
		if err != nil {
			return nil, nil, err
		}
		return nil, nil, fmt.Errorf("conflict: unable to delete %s (cannot be forced): image has dependent child images", image.ID[:12])
	}
	if byTag {
		repository, key, _ := parseStoreRef(ref)
		tags = []string{joinRef(repository, key)}
	}
	var messages []string
	for _, tag := range tags {
		if _, err := r.tags.Delete(tag); err != nil {
			return messages, nil, err
		}
		messages = append(messages, "Untagged: "+tag)
	}
	deleted, removals, err := r.deleteUnused(image.ID)
	return append(messages, deleted...), removals, err
}

// deleteDanglingTag removes a tag whose image is not in the graph (a store from before the store
// lock, or an image directory removed by hand): such a tag can be neither used nor deleted otherwise.
// ok says whether ref was such a tag.
func (r *Runtime) deleteDanglingTag(ref string) (messages []string, ok bool, err error) {
	id := r.tags.Lookup(ref)
	if id == "" {
		return nil, false, nil
	}
	if _, err := r.graph.Get(id); err == nil {
		return nil, false, nil
	}
	repository, key, _ := parseStoreRef(ref)
	if _, err := r.tags.Delete(ref); err != nil {
		return nil, true, err
	}
	return []string{"Untagged: " + joinRef(repository, key)}, true, nil
}

// deleteUnused deletes an image no tag, child or container needs, then tries its parent the same way.
func (r *Runtime) deleteUnused(id string) ([]string, []func(), error) {
	var messages []string
	var removals []func()
	for id != "" {
		image, err := r.graph.Get(id)
		if err != nil {
			return messages, removals, err
		}
		children, err := r.graph.Children(id)
		if err != nil || len(children) > 0 || len(r.tags.TagsOf(id)) > 0 || len(r.ImageUsers(id)) > 0 {
			return messages, removals, err
		}
		for _, ref := range r.tags.DigestsOf(id) { // the registry's names for it go with it
			if _, err := r.tags.Delete(ref); err != nil {
				return messages, removals, err
			}
			messages = append(messages, "Untagged: "+ref)
		}
		remove, err := r.graph.Delete(id)
		if err != nil {
			return messages, removals, err
		}
		messages = append(messages, "Deleted: sha256:"+id)
		removals = append(removals, remove)
		id = image.Parent
	}
	return messages, removals, nil
}
