// commands_images.go: the image commands, CmdImport, CmdImages, CmdTag and CmdRmi (pull, push and login
// are in commands_registry.go).
//
// Like commands.go, these only parse and print; the Runtime does the work under its store lock
// (runtime_images.go: AddImage, TagImage, DeleteImage) and picks what `images` lists (images_list.go).
// `engine import FILE` is read by the client, with the user's own permissions, and arrives here as
// stdin (see importSource in client.go), as docker's CLI uploads it; the import stops if the client
// leaves (Session.Upload).
package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"
)

func (srv *Server) CmdImport(session *Session, args []string) error {
	var message string
	f := newFlags(session, "import", "[OPTIONS] FILE|- [REPOSITORY[:TAG]]", "Import a root filesystem tarball (.tar or .tar.gz) as an image")
	f.String(&message, "m", "message", "string", "Set the image's comment")
	positional, err := f.Parse(args, 1, 2, true)
	if err != nil {
		return err
	}
	if positional[0] != "-" {
		return fmt.Errorf("%s: the client sends the file; the daemon reads only '-'", positional[0])
	}
	image, err := srv.runtime.AddImage(func() (*NewImage, error) {
		return srv.runtime.graph.Create(LayerStream(session.Upload()), "", ImageMeta{Comment: message})
	}, positional[1:]...)
	if err != nil {
		return err
	}
	fmt.Fprintln(session.Stdout, "sha256:"+image.ID)
	return nil
}

func (srv *Server) CmdImages(session *Session, args []string) error {
	var quiet, noTrunc, all, digests bool
	var filterArgs []string
	f := newFlags(session, "images", "[OPTIONS]", "List images")
	f.Bool(&all, "a", "all", "Show all images (by default, untagged images that others stand on are hidden)")
	f.Bool(&digests, "", "digests", "Show the digests a registry gave the images (one made here has none until pushed)")
	f.List(&filterArgs, "f", "filter", "Filter: dangling=true|false, reference=PATTERN, label=KEY[=VALUE], before=IMAGE, since=IMAGE")
	f.Bool(&noTrunc, "", "no-trunc", "Do not truncate IDs")
	f.Bool(&quiet, "q", "quiet", "Only print image IDs")
	if _, err := f.Parse(args, 0, 0, true); err != nil {
		return err
	}
	filters, err := parseImageFilters(filterArgs)
	if err != nil {
		return err
	}
	listings, err := srv.runtime.ListImages(all, filters)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(session.Stdout, 0, 8, 3, ' ', 0)
	if !quiet {
		header := "REPOSITORY\tTAG\t"
		if digests {
			header += "DIGEST\t"
		}
		fmt.Fprintln(w, header+"IMAGE ID\tCREATED\tSIZE")
	}
	for _, image := range listings {
		id := image.ID[:12]
		if noTrunc {
			id = "sha256:" + image.ID
		}
		if quiet {
			fmt.Fprintln(w, id)
			continue
		}
		refs := image.Refs
		if len(refs) == 0 {
			refs = []string{"<none>:<none>"}
		}
		rest := fmt.Sprintf("%s\t%s ago\t%s\n", id, humanDuration(time.Since(image.Created)), humanSize(image.TotalSize))
		for _, ref := range refs {
			i := strings.LastIndexByte(ref, ':')
			if !digests {
				fmt.Fprintf(w, "%s\t%s\t%s", ref[:i], ref[i+1:], rest)
				continue
			}
			// As docker shows them: a line for each digest the repository has for the image.
			for _, digest := range repositoryDigests(srv.runtime.tags.DigestsOf(image.ID), ref[:i]) {
				fmt.Fprintf(w, "%s\t%s\t%s\t%s", ref[:i], ref[i+1:], digest, rest)
			}
		}
	}
	return w.Flush()
}

// repositoryDigests are the digests a registry gave the image under repository, among refs
// (name@digest), or <none>: an image made here has none until it is pushed.
func repositoryDigests(refs []string, repository string) []string {
	var digests []string
	for _, ref := range refs {
		if name, digest, _ := strings.Cut(ref, "@"); name == repository {
			digests = append(digests, digest)
		}
	}
	if digests == nil {
		return []string{"<none>"}
	}
	return digests
}

func (srv *Server) CmdTag(session *Session, args []string) error {
	f := newFlags(session, "tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Give an image another name")
	positional, err := f.Parse(args, 2, 2, true)
	if err != nil {
		return err
	}
	if strings.Contains(positional[1], "@") { // only a registry gives a digest
		return fmt.Errorf("refusing to create a tag with a digest reference: %s", printable(positional[1]))
	}
	return srv.runtime.TagImage(positional[0], positional[1])
}

func (srv *Server) CmdRmi(session *Session, args []string) error {
	var force bool
	f := newFlags(session, "rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove images (a tag, then the image and parents nothing else needs)")
	f.Bool(&force, "f", "force", "Remove the image's tags even if a container uses it")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	// As docker's, one image that cannot go does not keep the others: `images -q | xargs rmi` removes
	// what it can, with a line for each refusal, and fails if there was one.
	return eachName(session, "rmi", names, func(name string) error {
		messages, err := srv.runtime.DeleteImage(name, force)
		for _, message := range messages {
			fmt.Fprintln(session.Stdout, message)
		}
		return err
	})
}

// imageView is an image as `docker image inspect` shows it.
type imageView struct {
	Id          string
	RepoTags    []string
	RepoDigests []string
	Parent      string
	Comment     string
	Author      string
	Created     time.Time
	Config      *ImageConfig
	Size        int64
	RootFS      struct {
		Type   string
		Layers []string
	}
}

func (srv *Server) imageView(image *Image) *imageView {
	view := &imageView{Id: "sha256:" + image.ID, RepoTags: srv.runtime.tags.TagsOf(image.ID), Comment: image.Comment, Author: image.Author, Created: image.Created, Config: image.Config}
	if image.Parent != "" {
		view.Parent = "sha256:" + image.Parent
	}
	view.RepoDigests = srv.runtime.tags.DigestsOf(image.ID)
	if view.RepoTags == nil {
		view.RepoTags = []string{}
	}
	if view.RepoDigests == nil {
		view.RepoDigests = []string{}
	}
	view.RootFS.Type = "layers"
	// Docker lists layers from the bottom up, as the config does, and counts the size of all of them.
	view.RootFS.Layers, _ = srv.runtime.graph.DiffIDs(image.ID)
	for id := image.ID; id != ""; {
		layer, err := srv.runtime.graph.Get(id)
		if err != nil {
			break
		}
		view.Size += layer.Size
		id = layer.Parent
	}
	return view
}

func humanSize(bytes int64) string {
	size, units := float64(bytes), []string{"B", "kB", "MB", "GB", "TB"}
	i := 0
	for ; size >= 1000 && i < len(units)-1; i++ {
		size /= 1000
	}
	return fmt.Sprintf("%.3g%s", size, units[i])
}
