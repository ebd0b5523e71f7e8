// registry_auth.go: a registry that wants to know who asks.
//
// A registry says so by answering 401 with a WWW-Authenticate header, which names the scheme:
//
//	Basic realm="…"                                      send the user and password with every request
//	Bearer realm="https://auth…/token",service="…",scope="repository:app:pull"
//	                                                     fetch a token from the realm (with the user and
//	                                                     password, if there are any: anonymous tokens are
//	                                                     how Docker Hub serves public images) and send it
//
// Ping (registry_config.go) sees the challenge of GET /v2/. Authorize then makes the Authorization
// header for what the pull or push will do (the scope: repository:PATH:pull, or pull,push), and every
// request carries it. A request answered 401 anyway (a token that expired, a scope that was not enough)
// is authorized again from its own challenge and sent once more, if it has no body to send again.
//
// The user and password are the client's, from its ~/.engine/config.json (client_auth.go): the daemon
// asks the client for them (Session.askCredentials) only when a registry asks for them, and keeps them
// in memory for that one command. They are never written to the daemon's log, nor into an error.
package main

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// Credentials asks for the user and password for a registry; "" and "" when there are none.
type Credentials func(domain string) (user, password string, err error)

// challenge is a parsed WWW-Authenticate header.
type challenge struct {
	scheme string            // "basic" or "bearer"
	params map[string]string // realm, service, scope
}

// parseChallenge reads `Scheme k="v",k="v"`; an absent or unknown header gives the zero challenge.
func parseChallenge(header string) challenge {
	scheme, rest, _ := strings.Cut(strings.TrimSpace(header), " ")
	c := challenge{scheme: strings.ToLower(scheme), params: map[string]string{}}
	for rest = strings.TrimSpace(rest); rest != ""; {
		key, after, ok := strings.Cut(rest, "=")
		if !ok {
			break
		}
		var value string
		if strings.HasPrefix(after, `"`) {
			end := strings.IndexByte(after[1:], '"')
			if end < 0 {
				break
			}
			value, rest = after[1:1+end], after[2+end:]
		} else {
			value, rest, _ = strings.Cut(after, ",")
		}
		c.params[strings.ToLower(strings.TrimSpace(key))] = value
		rest = strings.TrimLeft(rest, ", ")
	}
	return c
}

// maxTokenResponse bounds what the daemon reads of a token server's answer.
const maxTokenResponse = 1 << 20

// Authorize makes the Authorization header for scope (repository:PATH:pull[,push]), answering the
// challenge Ping met. A registry that asked for nothing needs nothing.
func (r *Registry) Authorize(ctx context.Context, scope string) error {
	r.scope = scope
	return r.answer(ctx, r.challenge)
}

// answer makes the Authorization header that a challenge asks for.
func (r *Registry) answer(ctx context.Context, c challenge) error {
	switch c.scheme {
	case "":
		return nil
	case "basic":
		user, password, err := r.userAndPassword()
		if err != nil {
			return err
		}
		if user == "" {
			return fmt.Errorf("%s: the registry asks who you are: engine login %s", r.domain, r.domain)
		}
		r.setAuthorization("Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password)))
		return nil
	case "bearer":
		token, err := r.fetchToken(ctx, c)
		if err != nil {
			return fmt.Errorf("%s: token: %w", r.domain, err)
		}
		r.setAuthorization("Bearer " + token)
		return nil
	}
	return fmt.Errorf("%s: the registry asks for %q authentication, which engine does not speak", r.domain, c.scheme)
}

func (r *Registry) setAuthorization(header string) {
	r.authMu.Lock()
	r.authorization = header
	r.authMu.Unlock()
}

func (r *Registry) getAuthorization() string {
	r.authMu.Lock()
	defer r.authMu.Unlock()
	return r.authorization
}

// userAndPassword asks the client once, and remembers the answer for this command.
func (r *Registry) userAndPassword() (string, string, error) {
	r.askMu.Lock()
	defer r.askMu.Unlock()
	if !r.asked && r.credentials != nil {
		r.asked = true
		var err error
		if r.user, r.password, err = r.credentials(r.domain); err != nil {
			return "", "", err
		}
	}
	return r.user, r.password, nil
}

// fetchToken gets a bearer token from the challenge's realm, for the scope of this command (or the
// challenge's own, when it names one).
func (r *Registry) fetchToken(ctx context.Context, c challenge) (string, error) {
	realm, err := url.Parse(c.params["realm"])
	if err != nil || (realm.Scheme != "https" && realm.Scheme != "http") {
		return "", fmt.Errorf("the realm %q is not an http(s) URL", printable(c.params["realm"]))
	}
	query := realm.Query()
	if service := c.params["service"]; service != "" {
		query.Set("service", service)
	}
	scope := r.scope
	if c.params["scope"] != "" {
		scope = c.params["scope"]
	}
	if scope != "" {
		query.Set("scope", scope)
	}
	realm.RawQuery = query.Encode()
	ctx, cancel := context.WithTimeout(ctx, registryStallTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, realm.String(), nil)
	if err != nil {
		return "", err
	}
	user, password, err := r.userAndPassword()
	if err != nil {
		return "", err
	}
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return "", errors.New("unauthorized: incorrect username or password")
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s answered %s", realm.Host, resp.Status)
	}
	var answer struct {
		Token       string `json:"token"`
		AccessToken string `json:"access_token"`
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxTokenResponse))
	if err == nil {
		err = json.Unmarshal(body, &answer)
	}
	if err != nil {
		return "", fmt.Errorf("the answer of %s: %w", realm.Host, err)
	}
	if answer.Token == "" {
		answer.Token = answer.AccessToken
	}
	if answer.Token == "" || strings.ContainsAny(answer.Token, " \r\n") {
		return "", fmt.Errorf("%s sent no token", realm.Host)
	}
	return answer.Token, nil
}

// do sends a request with the Authorization header; a 401 to a request without a body is answered from
// its challenge and the request sent once more.
func (r *Registry) do(req *http.Request) (*http.Response, error) {
	if authorization := r.getAuthorization(); authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := r.client.Do(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized || req.GetBody == nil && req.ContentLength != 0 {
		return resp, err
	}
	c := parseChallenge(resp.Header.Get("WWW-Authenticate"))
	resp.Body.Close()
	if c.scheme == "" {
		return nil, fmt.Errorf("%s: unauthorized, and no challenge to answer", r.domain)
	}
	if err := r.answer(req.Context(), c); err != nil {
		return nil, err
	}
	retry := req.Clone(req.Context())
	if req.GetBody != nil {
		if retry.Body, err = req.GetBody(); err != nil {
			return nil, err
		}
	}
	retry.Header.Set("Authorization", r.getAuthorization())
	return r.client.Do(retry)
}

// askCredentials asks the client for the user and password it has for a registry (client_auth.go reads
// them from ~/.engine/config.json, or `engine login` from its command line), and waits requestTimeout
// for them. "" and "" is a client that has none.
func (session *Session) askCredentials(domain string) (string, string, error) {
	if err := session.conn.WriteFrame(frameCredentials, []byte(domain)); err != nil {
		return "", "", err
	}
	session.conn.SetReadDeadline(time.Now().Add(requestTimeout))
	defer session.conn.SetReadDeadline(time.Time{})
	kind, length, err := session.conn.ReadHeader()
	if err != nil {
		return "", "", fmt.Errorf("reading the client's credentials: %w", err)
	}
	if kind != frameCredentials || length > maxCredentials {
		return "", "", fmt.Errorf("expected the client's credentials, got a %q frame of %d bytes", kind, length)
	}
	payload, err := session.conn.ReadPayload(length)
	if err != nil || len(payload) == 0 {
		return "", "", err
	}
	return decodeAuth(string(payload))
}

// maxCredentials bounds the client's answer.
const maxCredentials = 64 << 10

// decodeAuth reads the "auth" of a config.json entry: base64 of user:password.
func decodeAuth(auth string) (string, string, error) {
	decoded, err := base64.StdEncoding.DecodeString(auth)
	if err != nil {
		return "", "", errors.New("credentials that are not base64")
	}
	user, password, ok := strings.Cut(string(decoded), ":")
	if !ok || user == "" {
		return "", "", errors.New("credentials that are not user:password")
	}
	return user, password, nil
}

// Login checks the client's credentials: the registry's API root must answer them with 200 (after a
// token from the realm, for a registry that wants one).
func (r *Registry) Login(ctx context.Context) error {
	user, _, err := r.userAndPassword()
	if err != nil {
		return err
	}
	if user == "" {
		return errors.New("a user and a password are needed")
	}
	if err := r.answer(ctx, r.challenge); err != nil {
		return err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, r.base+"/v2/", nil)
	if err != nil {
		return err
	}
	if authorization := r.getAuthorization(); authorization != "" {
		req.Header.Set("Authorization", authorization)
	}
	resp, err := r.client.Do(req)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode == http.StatusUnauthorized {
		return fmt.Errorf("%s: unauthorized: incorrect username or password", r.domain)
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: GET /v2/: %s", r.domain, resp.Status)
	}
	return nil
}

// loginTimeout bounds a login's whole exchange with the registry and its token server.
const loginTimeout = 30 * time.Second
