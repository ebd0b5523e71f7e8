// commands_registry.go: the commands that talk to a registry: CmdPull, CmdPush and CmdLogin.
//
// As the other commands, these parse and print; pull.go, push.go and registry*.go do the work. Each
// stops when its client leaves (untilGone), and asks the client for a registry's user and password only
// if the registry asks who we are (registry_auth.go; the client's side is client_auth.go).
package main

import (
	"context"
	"fmt"
	"io"
	"strings"
)

// CmdPull fetches an image from a registry (pull.go); it stops when the client leaves.
func (srv *Server) CmdPull(session *Session, args []string) error {
	ref, progress, _, err := parseRegistryCommand(session, args, "pull", "[OPTIONS] NAME[:TAG|@DIGEST]",
		"Download an image from a registry", "Print only the image's reference, not the progress")
	if err != nil {
		return err
	}
	ctx, cancel := untilGone(session)
	defer cancel()
	if _, err := srv.runtime.Pull(ctx, ref, progress, session.askCredentials); err != nil {
		return err
	}
	// The reference is printed with -q too, as docker pull -q prints it.
	fmt.Fprintln(session.Stdout, ref.Domain+"/"+ref.Path+strings.TrimPrefix(ref.String(), ref.Name()))
	return nil
}

// CmdPush sends an image to a registry (push.go); it stops when the client leaves.
func (srv *Server) CmdPush(session *Session, args []string) error {
	ref, progress, quiet, err := parseRegistryCommand(session, args, "push", "[OPTIONS] NAME[:TAG]",
		"Upload an image to a registry", "Print only the digest of what was pushed")
	if err != nil {
		return err
	}
	ctx, cancel := untilGone(session)
	defer cancel()
	digest, err := srv.runtime.Push(ctx, ref, progress, session.askCredentials)
	if err != nil {
		return err
	}
	if quiet {
		fmt.Fprintln(session.Stdout, digest)
	}
	return nil
}

// parseRegistryCommand reads what pull and push share: -q and one reference. The progress goes to
// stdout, or nowhere with -q.
func parseRegistryCommand(session *Session, args []string, name, usage, description, quietHelp string) (Reference, io.Writer, bool, error) {
	var quiet bool
	f := newFlags(session, name, usage, description)
	f.Bool(&quiet, "q", "quiet", quietHelp)
	positional, err := f.Parse(args, 1, 1, true)
	if err != nil {
		return Reference{}, nil, false, err
	}
	ref, err := ParseRemoteReference(positional[0])
	if err != nil {
		return Reference{}, nil, false, err
	}
	if quiet {
		return ref, io.Discard, true, nil
	}
	return ref, session.Stdout, false, nil
}

// untilGone is a context that ends when the client leaves (or cancel is called). A pull or a push writes
// to the client only now and then, so the daemon probes it (Conn.probe) to learn that it is gone.
func untilGone(session *Session) (context.Context, context.CancelFunc) {
	session.conn.probe()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		select {
		case <-session.conn.Gone():
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, cancel
}

// CmdLogin checks a user and password with a registry: the client sends only `login SERVER`, and the
// credentials when asked; it keeps them if this says "Login Succeeded" (client_auth.go).
func (srv *Server) CmdLogin(session *Session, args []string) error {
	f := newFlags(session, "login", "[-u USER] [-p PASSWORD | --password-stdin] [SERVER]", "Log in to a registry (docker.io unless SERVER is given)")
	positional, err := f.Parse(args, 0, 1, true)
	if err != nil {
		return err
	}
	server := dockerHub
	if len(positional) == 1 {
		server = positional[0]
	}
	if !validRegistry(server) {
		return fmt.Errorf("%q is not a registry's HOST[:PORT]", printable(server))
	}
	ctx, cancel := untilGone(session)
	defer cancel()
	ctx, cancelLogin := context.WithTimeout(ctx, loginTimeout)
	defer cancelLogin()
	registry, err := srv.runtime.Registries.NewRegistry(server)
	if err != nil {
		return err
	}
	registry.credentials = session.askCredentials
	if err := registry.Ping(ctx); err != nil {
		return err
	}
	if err := registry.Login(ctx); err != nil {
		return err
	}
	fmt.Fprintln(session.Stdout, "Login Succeeded")
	return nil
}
