// commands_commit.go: the commands that turn a container's files into something else: CmdCommit (an
// image), CmdDiff (a list), CmdExport (a tarball), and CmdHistory, which shows how an image was made.
//
// Like commands.go, these only parse and print; commit.go does the work (Runtime.Commit,
// Container.Changes, Container.Export) and graph.go keeps the history. `engine export -o FILE` is
// written by the client, with the user's own permissions (outputTarget in client.go), as docker's CLI
// writes it: the daemon only ever sends the stream.
package main

import (
	"fmt"
	"text/tabwriter"
	"time"
)

func (srv *Server) CmdCommit(session *Session, args []string) error {
	opts := CommitOptions{Pause: true}
	f := newFlags(session, "commit", "[OPTIONS] CONTAINER [REPOSITORY[:TAG]]", "Create a new image from a container's changes")
	f.String(&opts.Author, "a", "author", "string", "Author (e.g. \"Jane Doe <jane@example.com>\")")
	f.String(&opts.Comment, "m", "message", "string", "Commit message")
	f.List(&opts.Changes, "c", "change", "Apply a Dockerfile instruction to the image's config (CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, USER, WORKDIR)")
	f.Bool(&opts.Pause, "p", "pause", "Freeze a running container during the commit (default true; --pause=false to skip)")
	positional, err := f.Parse(args, 1, 2, true)
	if err != nil {
		return err
	}
	if len(positional) == 2 { // before the work, not after it
		if _, _, err := ParseReference(positional[1]); err != nil {
			return err
		}
	}
	c, err := srv.runtime.Get(positional[0])
	if err != nil {
		return err
	}
	image, err := srv.runtime.Commit(c, opts, positional[1:]...)
	if err != nil {
		return err
	}
	fmt.Fprintln(session.Stdout, "sha256:"+image.ID)
	return nil
}

func (srv *Server) CmdDiff(session *Session, args []string) error {
	f := newFlags(session, "diff", "CONTAINER", "List the files a container added (A), changed (C) or deleted (D)")
	positional, err := f.Parse(args, 1, 1, true)
	if err != nil {
		return err
	}
	c, err := srv.runtime.Get(positional[0])
	if err != nil {
		return err
	}
	changes, err := c.Changes()
	if err != nil {
		return err
	}
	for _, change := range changes {
		fmt.Fprintln(session.Stdout, change)
	}
	return nil
}

func (srv *Server) CmdExport(session *Session, args []string) error {
	var output string
	f := newFlags(session, "export", "[OPTIONS] CONTAINER", "Write a container's file system as a tar archive to STDOUT")
	f.String(&output, "o", "output", "string", "Write to a file instead of STDOUT (the client writes it)")
	positional, err := f.Parse(args, 1, 1, true)
	if err != nil {
		return err
	}
	if output != "" {
		return fmt.Errorf("-o %s: the client writes the file; the daemon only sends the stream", printable(output))
	}
	c, err := srv.runtime.Get(positional[0])
	if err != nil {
		return err
	}
	return c.Export(session.Stdout)
}

func (srv *Server) CmdHistory(session *Session, args []string) error {
	var noTrunc, quiet bool
	f := newFlags(session, "history", "[OPTIONS] IMAGE", "Show how an image was made, newest step first")
	f.Bool(&noTrunc, "", "no-trunc", "Do not truncate IDs and commands")
	f.Bool(&quiet, "q", "quiet", "Only show image IDs")
	positional, err := f.Parse(args, 1, 1, true)
	if err != nil {
		return err
	}
	image, err := srv.runtime.LookupImage(positional[0])
	if err != nil {
		return err
	}
	steps, err := srv.runtime.graph.History(image.ID)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(session.Stdout, 0, 8, 3, ' ', 0)
	if !quiet {
		fmt.Fprintln(w, "IMAGE\tCREATED\tCREATED BY\tSIZE\tCOMMENT")
	}
	for _, step := range steps {
		id := "<missing>"
		if step.ImageID != "" {
			id = step.ImageID[:12]
			if noTrunc {
				id = "sha256:" + step.ImageID
			}
		}
		if quiet {
			fmt.Fprintln(w, id)
			continue
		}
		created, createdBy := "N/A", printable(step.CreatedBy)
		if step.Created != nil {
			created = humanDuration(time.Since(*step.Created)) + " ago"
		}
		if runes := []rune(createdBy); !noTrunc && len(runes) > 45 {
			createdBy = string(runes[:44]) + "…"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", id, created, createdBy, humanSize(step.Size), printable(step.Comment))
	}
	return w.Flush()
}
