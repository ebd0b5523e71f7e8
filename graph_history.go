// graph_history.go: how an image was made, step by step, for `engine history`.
//
// An image's config (graph.go) carries a history line for every step that made it, its parents'
// included, bottom up; the steps that added a layer line up with rootfs.diff_ids. The store adds what
// the config cannot know: which of those steps is an image here (the chain of Parent records), and how
// big each layer is unpacked. Docker's history shows the same: the steps newest first, each with the ID
// of the image it made when that image is stored, "<missing>" when it is not (a step of an image that
// was loaded or pulled whole).
package main

// HistoryStep is one line of `engine history`.
type HistoryStep struct {
	ImageHistory
	ImageID string // "" if no image here ends with this step
	Size    int64  // of the layer the step added; 0 for a step that changed only the config
}

// History lists the steps that made the image, newest first.
func (g *Graph) History(id string) ([]HistoryStep, error) {
	config, err := g.OCIConfig(id)
	if err != nil {
		return nil, err
	}
	// Walk the chain of records: each image is the end of the step numbered by its own history's
	// length, and the images with a layer, top down, hold the layers' sizes, top down.
	endsStep := map[int]string{}
	var sizes []int64
	for next := id; next != ""; {
		image, err := g.Get(next)
		if err != nil {
			return nil, err
		}
		own, err := g.OCIConfig(next)
		if err != nil {
			return nil, err
		}
		if _, seen := endsStep[len(own.History)]; !seen {
			endsStep[len(own.History)] = image.ID
		}
		if image.DiffID != "" {
			sizes = append(sizes, image.Size)
		}
		next = image.Parent
	}
	steps := make([]HistoryStep, 0, len(config.History))
	for i := len(config.History) - 1; i >= 0; i-- {
		step := HistoryStep{ImageHistory: config.History[i], ImageID: endsStep[i+1]}
		if !step.EmptyLayer && len(sizes) > 0 {
			step.Size, sizes = sizes[0], sizes[1:]
		}
		steps = append(steps, step)
	}
	return steps, nil
}
