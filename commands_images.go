// commands_images.go: the image commands, CmdImport, CmdImages, CmdTag and CmdRmi.
//
// Like commands.go, these only parse and print; the graph (graph.go), the tags (tags.go) and
// Runtime.DeleteImage do the work. `engine import FILE` is read by the client, with the user's own
// permissions, and arrives here as stdin (see importSource in tcp.go), as docker's CLI uploads it.
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
	if len(positional) == 2 {
		if _, _, err := ParseReference(positional[1]); err != nil {
			return err
		}
	}
	image, err := srv.runtime.graph.Create(session.Stdin(), "", ImageMeta{Comment: message})
	if err != nil {
		return err
	}
	if len(positional) == 2 {
		if err := srv.runtime.tags.Set(positional[1], image.ID); err != nil {
			return err
		}
	}
	fmt.Fprintln(session.Stdout, "sha256:"+image.ID)
	return nil
}

func (srv *Server) CmdImages(session *Session, args []string) error {
	var quiet, noTrunc bool
	f := newFlags(session, "images", "[OPTIONS]", "List images")
	f.Bool(&quiet, "q", "quiet", "Only print image IDs")
	f.Bool(&noTrunc, "", "no-trunc", "Do not truncate IDs")
	if _, err := f.Parse(args, 0, 0, true); err != nil {
		return err
	}
	images, err := srv.runtime.graph.List()
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(session.Stdout, 0, 8, 3, ' ', 0)
	if !quiet {
		fmt.Fprintln(w, "REPOSITORY\tTAG\tIMAGE ID\tCREATED\tSIZE")
	}
	for _, image := range images {
		id := image.ID[:12]
		if noTrunc {
			id = "sha256:" + image.ID
		}
		if quiet {
			fmt.Fprintln(w, id)
			continue
		}
		refs := srv.runtime.tags.TagsOf(image.ID)
		if len(refs) == 0 {
			refs = []string{"<none>:<none>"}
		}
		for _, ref := range refs {
			i := strings.LastIndexByte(ref, ':')
			fmt.Fprintf(w, "%s\t%s\t%s\t%s ago\t%s\n", ref[:i], ref[i+1:], id, humanDuration(time.Since(image.Created)), humanSize(image.Size))
		}
	}
	return w.Flush()
}

func (srv *Server) CmdTag(session *Session, args []string) error {
	f := newFlags(session, "tag", "SOURCE_IMAGE[:TAG] TARGET_IMAGE[:TAG]", "Give an image another name")
	positional, err := f.Parse(args, 2, 2, true)
	if err != nil {
		return err
	}
	image, err := srv.runtime.LookupImage(positional[0])
	if err != nil {
		return err
	}
	return srv.runtime.tags.Set(positional[1], image.ID)
}

func (srv *Server) CmdRmi(session *Session, args []string) error {
	var force bool
	f := newFlags(session, "rmi", "[OPTIONS] IMAGE [IMAGE...]", "Remove images (a tag, then the image and parents nothing else needs)")
	f.Bool(&force, "f", "force", "Remove the image's tags even if a container uses it")
	names, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	for _, name := range names {
		messages, err := srv.runtime.DeleteImage(name, force)
		for _, message := range messages {
			fmt.Fprintln(session.Stdout, message)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// imageView is an image as `docker image inspect` shows it.
type imageView struct {
	Id       string
	RepoTags []string
	Parent   string
	Comment  string
	Author   string
	Created  time.Time
	Config   *ImageConfig
	Size     int64
	RootFS   struct {
		Type   string
		Layers []string
	}
}

func (srv *Server) imageView(image *Image) *imageView {
	view := &imageView{Id: "sha256:" + image.ID, RepoTags: srv.runtime.tags.TagsOf(image.ID), Comment: image.Comment, Author: image.Author, Created: image.Created, Config: image.Config}
	if image.Parent != "" {
		view.Parent = "sha256:" + image.Parent
	}
	if view.RepoTags == nil {
		view.RepoTags = []string{}
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
