// runtime_images.go: what the Runtime does with images on behalf of the commands.
//
// The graph (graph.go) stores images and the tag store (tags.go) names them; the Runtime, which also
// knows the containers, is where the two meet: `run` finds its image here (LookupImage, as Docker
// resolves a reference), and `rmi` removes one here (DeleteImage), keeping what a container still
// stands on.
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

// DeleteImage is `engine rmi`: it removes a tag and then the image, if nothing else needs it, and the
// untagged parents that removal leaves without purpose. A container's image is kept unless force is set;
// even then only its tags go, since the container's root filesystem is made of its layers.
func (r *Runtime) DeleteImage(ref string, force bool) ([]string, error) {
	image, err := r.LookupImage(ref)
	if err != nil {
		return nil, err
	}
	tags := r.tags.TagsOf(image.ID)
	byTag := r.tags.Lookup(ref) != ""
	if users := r.ImageUsers(image.ID); len(users) > 0 && !force && (!byTag || len(tags) == 1) {
		return nil, fmt.Errorf("conflict: unable to remove %s (must force): container %s is using it", ref, users[0].ShortID())
	}
	if !byTag && len(tags) > 1 && !force {
		return nil, fmt.Errorf("conflict: unable to delete %s (must force): image is referenced in %d tags", image.ID[:12], len(tags))
	}
	if children, err := r.graph.Children(image.ID); err != nil || (!byTag && len(children) > 0) {
		if err != nil {
			return nil, err
		}
		return nil, fmt.Errorf("conflict: unable to delete %s (cannot be forced): image has dependent child images", image.ID[:12])
	}
	if byTag {
		repository, tag, _ := ParseReference(ref)
		tags = []string{repository + ":" + tag}
	}
	var messages []string
	for _, tag := range tags {
		if _, err := r.tags.Delete(tag); err != nil {
			return messages, err
		}
		messages = append(messages, "Untagged: "+tag)
	}
	deleted, err := r.deleteUnused(image.ID)
	return append(messages, deleted...), err
}

// deleteUnused deletes an image no tag, child or container needs, then tries its parent the same way.
func (r *Runtime) deleteUnused(id string) ([]string, error) {
	var messages []string
	for id != "" {
		image, err := r.graph.Get(id)
		if err != nil {
			return messages, err
		}
		children, err := r.graph.Children(id)
		if err != nil || len(children) > 0 || len(r.tags.TagsOf(id)) > 0 || len(r.ImageUsers(id)) > 0 {
			return messages, err
		}
		if err := r.graph.Delete(id); err != nil {
			return messages, err
		}
		messages = append(messages, "Deleted: sha256:"+id)
		id = image.Parent
	}
	return messages, nil
}
