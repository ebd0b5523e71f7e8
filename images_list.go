// images_list.go: what `engine images` shows, and which images its filters keep.
//
// As docker's, the list has a row per tag, and one "<none>" row for an image without tags. It leaves
// out intermediate images (untagged ones that other images stand on: they are listed with -a) and
// keeps what every filter allows: values of one key are alternatives (OR), different keys must all
// match (AND). `dangling=true` keeps the untagged images nothing stands on, which is why
// `engine images -f dangling=true -q | xargs -r engine rmi` is the clean-up idiom: rmi removes each and
// then those of its parents that nothing else needs.
package main

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// imageFilters are the parsed `images --filter key=value`s.
type imageFilters map[string][]string

// parseImageFilters checks the filters docker's `images` takes: dangling=true|false,
// reference=PATTERN (a glob on "repository:tag" or "repository"), label=KEY or label=KEY=VALUE (the
// image config's Labels), and before=IMAGE, since=IMAGE (created before or after that image).
func parseImageFilters(args []string) (imageFilters, error) {
	filters := imageFilters{}
	for _, arg := range args {
		key, value, ok := strings.Cut(arg, "=")
		if !ok {
			return nil, fmt.Errorf("bad filter %q: expected key=value", printable(arg))
		}
		switch key {
		case "dangling":
			if value != "true" && value != "false" {
				return nil, fmt.Errorf("invalid filter 'dangling=%s': true or false", printable(value))
			}
		case "reference":
			if _, err := path.Match(value, ""); err != nil {
				return nil, fmt.Errorf("invalid filter 'reference=%s': %v", printable(value), err)
			}
		case "label", "before", "since":
			if value == "" {
				return nil, fmt.Errorf("invalid filter '%s=': a value is needed", key)
			}
		default:
			return nil, fmt.Errorf("invalid filter %q (images takes dangling, reference, label, before and since)", printable(key))
		}
		filters[key] = append(filters[key], value)
	}
	return filters, nil
}

// imageListing is an image as `engine images` shows it: with the tags that the filters kept.
type imageListing struct {
	*Image
	Refs      []string // "repository:tag", none for an untagged image
	TotalSize int64    // of all its layers, as docker's SIZE
}

// ListImages lists the images `engine images` shows, newest first. all keeps intermediate images.
func (r *Runtime) ListImages(all bool, filters imageFilters) ([]imageListing, error) {
	r.images.Lock() // one moment's graph and tags
	defer r.images.Unlock()
	images, err := r.graph.List()
	if err != nil {
		return nil, err
	}
	byID, hasChildren := map[string]*Image{}, map[string]bool{}
	for _, image := range images {
		byID[image.ID] = image
		hasChildren[image.Parent] = true
	}
	bounds, err := r.createdBounds(filters)
	if err != nil {
		return nil, err
	}
	var listings []imageListing
	for _, image := range images {
		refs := r.tags.TagsOf(image.ID)
		if len(refs) == 0 && hasChildren[image.ID] && !all {
			continue // an intermediate image
		}
		if refs, ok := filters.keep(image, refs, bounds); ok {
			listings = append(listings, imageListing{image, refs, totalSize(image, byID)})
		}
	}
	sort.SliceStable(listings, func(i, j int) bool {
		if !listings[i].Created.Equal(listings[j].Created) {
			return listings[i].Created.After(listings[j].Created)
		}
		return listings[i].ID < listings[j].ID
	})
	return listings, nil
}

// createdBounds resolves before= and since= to the images they name.
func (r *Runtime) createdBounds(filters imageFilters) (map[string][]*Image, error) {
	bounds := map[string][]*Image{}
	for _, key := range []string{"before", "since"} {
		for _, ref := range filters[key] {
			image, err := r.LookupImage(ref)
			if err != nil {
				return nil, fmt.Errorf("invalid filter '%s=%s': %w", key, printable(ref), err)
			}
			bounds[key] = append(bounds[key], image)
		}
	}
	return bounds, nil
}

// keep applies the filters to an image with these tags, and returns the tags to show: those the
// reference filter matched, if there is one.
func (filters imageFilters) keep(image *Image, refs []string, bounds map[string][]*Image) ([]string, bool) {
	if values, ok := filters["dangling"]; ok && !anyOf(values, func(v string) bool { return (v == "true") == (len(refs) == 0) }) {
		return nil, false
	}
	if patterns, ok := filters["reference"]; ok {
		var matched []string
		for _, ref := range refs {
			if anyOf(patterns, func(pattern string) bool { return referenceMatches(pattern, ref) }) {
				matched = append(matched, ref)
			}
		}
		if len(matched) == 0 {
			return nil, false
		}
		refs = matched
	}
	if values, ok := filters["label"]; ok && !anyOf(values, func(v string) bool { return hasLabel(image, v) }) {
		return nil, false
	}
	if images, ok := bounds["before"]; ok && !anyImage(images, func(b *Image) bool { return image.Created.Before(b.Created) }) {
		return nil, false
	}
	if images, ok := bounds["since"]; ok && !anyImage(images, func(b *Image) bool { return image.Created.After(b.Created) }) {
		return nil, false
	}
	return refs, true
}

// referenceMatches is docker's reference filter: the glob matches "repository:tag", or the repository
// alone ("base" matches base:1.0 and base:latest).
func referenceMatches(pattern, ref string) bool {
	repository := ref[:strings.LastIndexByte(ref, ':')]
	whole, _ := path.Match(pattern, ref)
	name, _ := path.Match(pattern, repository)
	return whole || name
}

// hasLabel tells whether the image's config has the label KEY, or KEY=VALUE.
func hasLabel(image *Image, filter string) bool {
	key, value, hasValue := strings.Cut(filter, "=")
	if image.Config == nil {
		return false
	}
	actual, ok := image.Config.Labels[key]
	return ok && (!hasValue || actual == value)
}

func anyOf(values []string, match func(string) bool) bool {
	for _, value := range values {
		if match(value) {
			return true
		}
	}
	return false
}

func anyImage(images []*Image, match func(*Image) bool) bool {
	for _, image := range images {
		if match(image) {
			return true
		}
	}
	return false
}

// totalSize adds up the layers of the image's chain.
func totalSize(image *Image, byID map[string]*Image) int64 {
	size := int64(0)
	for i := 0; image != nil && i <= maxChainLength; i++ {
		size += image.Size
		image = byID[image.Parent]
	}
	return size
}
