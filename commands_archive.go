// commands_archive.go: CmdSave and CmdLoad, images in and out as docker-archives.
//
// `engine save -o img.tar web:2` and `engine load -i img.tar` move images between machines, and between
// engine and docker or skopeo. The client reads and writes the files (client_files.go): save's archive
// leaves as our stdout and load's comes as our stdin, so the daemon never opens a path a user names.
// archive_save.go writes the format; archive_load.go reads it and archive_load_images.go stores what it
// holds.
package main

import (
	"bufio"
	"fmt"
	"slices"
)

func (srv *Server) CmdSave(session *Session, args []string) error {
	var output string
	f := newFlags(session, "save", "[OPTIONS] IMAGE [IMAGE...]", "Save images to a tar archive (docker-archive), streamed to STDOUT by default")
	f.String(&output, "o", "output", "string", "Write to a file, instead of STDOUT")
	refs, err := f.Parse(args, 1, -1, true)
	if err != nil {
		return err
	}
	if output != "" {
		return fmt.Errorf("%s: the client writes the file; the daemon writes only to stdout", printable(output))
	}
	ids, tags, err := srv.imagesToSave(refs)
	if err != nil {
		return err
	}
	out := bufio.NewWriterSize(session.Stdout, maxPayload) // whole frames, not one per tar header
	archive := newArchiveWriter(srv.runtime.graph, out)
	for _, id := range ids {
		if err := archive.add(id, tags[id]); err != nil {
			return err
		}
	}
	if err := archive.close(); err != nil {
		return err
	}
	return out.Flush()
}

// imagesToSave resolves the references, in order and each image once. An image named by a tag is saved
// under that tag (all the tags it was named by); one named by its ID is saved with none, as docker does.
func (srv *Server) imagesToSave(refs []string) (ids []string, tags map[string][]string, err error) {
	tags = map[string][]string{}
	for _, ref := range refs {
		image, err := srv.runtime.LookupImage(ref)
		if err != nil {
			return nil, nil, err
		}
		if _, seen := tags[image.ID]; !seen {
			ids = append(ids, image.ID)
			tags[image.ID] = nil
		}
		if srv.runtime.tags.Lookup(ref) == image.ID {
			repository, tag, _ := ParseReference(ref)
			if name := repository + ":" + tag; !slices.Contains(tags[image.ID], name) {
				tags[image.ID] = append(tags[image.ID], name)
			}
		}
	}
	return ids, tags, nil
}

func (srv *Server) CmdLoad(session *Session, args []string) error {
	var input string
	var quiet bool // docker's -q hides a progress bar; engine shows none, and both still list the images
	f := newFlags(session, "load", "[OPTIONS]", "Load images from a tar archive (docker-archive, plain or gzipped) or STDIN")
	f.String(&input, "i", "input", "string", "Read from a tar archive file, instead of STDIN")
	f.Bool(&quiet, "q", "quiet", "Suppress the load progress (there is none; the loaded images are listed)")
	if _, err := f.Parse(args, 0, 0, true); err != nil {
		return err
	}
	if input != "" && input != "-" {
		return fmt.Errorf("%s: the client sends the file; the daemon reads only stdin", printable(input))
	}
	graph := srv.runtime.graph
	archive, err := graph.readArchive(session.Upload()) // stops when the client goes (Conn.Gone)
	if err != nil {
		return err
	}
	defer archive.remove()
	images, err := archive.images()
	if err != nil {
		return err
	}
	for _, image := range images {
		if err := archive.store(srv.runtime, image, session.conn.Gone()); err != nil {
			return err
		}
		printLoaded(session, image)
	}
	return nil
}

// printLoaded says what was loaded, as docker load does.
func printLoaded(session *Session, image *archiveImage) {
	for _, tag := range image.Tags {
		fmt.Fprintf(session.Stdout, "Loaded image: %s\n", tag)
	}
	if len(image.Tags) == 0 {
		fmt.Fprintf(session.Stdout, "Loaded image ID: sha256:%s\n", image.ID)
	}
}
