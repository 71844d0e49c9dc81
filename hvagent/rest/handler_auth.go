package rest

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// Token is one API token of a tokens file. Only the SHA-256 of the secret
// is stored; the caller sends the secret as "Authorization: Bearer <secret>".
type Token struct {
	// Name identifies the caller in job records (RequestedBy) and logs.
	Name string `json:"name"`
	// SHA256 is the lowercase hex SHA-256 of the secret.
	SHA256 string `json:"sha256"`
	// Scope is ScopeRead, ScopeWrite or ScopeAdmin; each implies the
	// ones before it.
	Scope string `json:"scope"`
}

// localCaller names the caller when no tokens are configured.
const localCaller = "local"

// scopeRank orders scopes: a token may use routes of its rank or lower.
var scopeRank = map[string]int{scopeNone: 0, ScopeRead: 1, ScopeWrite: 2, ScopeAdmin: 3}

// LoadTokens reads a tokens file: a JSON list of {"name","sha256","scope"}.
// Unknown keys, empty or duplicate names, a sha256 that is not 64 hex digits,
// an unknown scope and an empty list are EINVALID errors naming the file.
func LoadTokens(path string) ([]Token, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, hvagent.WrapError(hvagent.EINVALID, err, "tokens file: %v", err)
	}
	return parseTokens(b, path)
}

// parseTokens parses the content of the tokens file at path (named in
// errors), as LoadTokens describes.
func parseTokens(b []byte, path string) ([]Token, error) {
	var tokens []Token
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&tokens); err != nil {
		return nil, hvagent.WrapError(hvagent.EINVALID, err, "tokens file %s: %s", path, jsonProblem(err))
	}
	// Token, not More: More is false before a stray ] or }.
	if _, err := dec.Token(); err != io.EOF {
		return nil, hvagent.Errorf(hvagent.EINVALID, "tokens file %s: unexpected data after the list", path)
	}
	if len(tokens) == 0 {
		return nil, hvagent.Errorf(hvagent.EINVALID, "tokens file %s: no tokens (remove tokens_file to run without tokens)", path)
	}
	seen := map[string]bool{}
	for i := range tokens {
		if err := checkToken(&tokens[i], i, seen, path); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// checkToken checks token i of a tokens file and lowercases its sha256;
// seen holds the names of the tokens before it.
func checkToken(t *Token, i int, seen map[string]bool, path string) error {
	t.SHA256 = strings.ToLower(t.SHA256)
	switch sum, err := hex.DecodeString(t.SHA256); {
	case t.Name == "":
		return hvagent.Errorf(hvagent.EINVALID, "tokens file %s: token %d has no name", path, i)
	case seen[t.Name]:
		return hvagent.Errorf(hvagent.EINVALID, "tokens file %s: token name %q appears twice", path, t.Name)
	case err != nil || len(sum) != sha256.Size:
		return hvagent.Errorf(hvagent.EINVALID, "tokens file %s: token %q: sha256 must be 64 hex digits", path, t.Name)
	case t.Scope != ScopeRead && t.Scope != ScopeWrite && t.Scope != ScopeAdmin:
		return hvagent.Errorf(hvagent.EINVALID, "tokens file %s: token %q: scope %q is not read, write or admin", path, t.Name, t.Scope)
	}
	seen[t.Name] = true
	return nil
}

// identity is the authenticated caller of a request.
type identity struct {
	name  string
	scope string
}

// admit checks Host and Origin, then authenticates the token and takes
// one request of the caller's rate limit (both except for GET /healthz),
// and stores the caller's identity in st. A refused request is answered
// and admit reports false.
func (s *server) admit(st *reqState, r *http.Request) bool {
	s.bodyDeadline(st, r)
	if err := s.checkHost(r); err != nil {
		s.refuse(st, r, err)
		return false
	}
	id := identity{name: localCaller, scope: ScopeAdmin}
	byToken := len(s.tokens) > 0 && r.URL.Path != "/healthz"
	if byToken {
		var err error
		if id, err = s.authenticate(r); err != nil {
			st.Header().Set("WWW-Authenticate", `Bearer realm="hvagent"`)
			s.refuse(st, r, err)
			return false
		}
	}
	if r.URL.Path != "/healthz" {
		if err := s.checkRate(st, r, id, byToken); err != nil {
			s.refuse(st, r, err)
			return false
		}
	}
	st.who, st.caller = id, id.name
	return true
}

// checkHost refuses a Host that is not one of opts.Hosts and an Origin
// that is not http(s)://<one of opts.Hosts>, against DNS rebinding and
// cross-site requests to a tokenless listener.
func (s *server) checkHost(r *http.Request) error {
	hosts := s.opts.Hosts
	if len(hosts) > 0 && !containsFold(hosts, r.Host) {
		return hvagent.Errorf(hvagent.EFORBIDDEN, "host %q not allowed", r.Host)
	}
	origin := r.Header.Get("Origin")
	if origin == "" {
		return nil
	}
	u, err := url.Parse(origin)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Path != "" || !containsFold(hosts, u.Host) {
		return hvagent.Errorf(hvagent.EFORBIDDEN, "origin %q not allowed", origin)
	}
	return nil
}

func containsFold(list []string, s string) bool {
	return slices.ContainsFunc(list, func(v string) bool { return strings.EqualFold(v, s) })
}

// authenticate matches the bearer token against every configured token in
// constant time.
func (s *server) authenticate(r *http.Request) (identity, error) {
	h := r.Header.Get("Authorization")
	scheme, secret, ok := strings.Cut(h, " ")
	if h == "" {
		return identity{}, hvagent.Errorf(hvagent.EUNAUTHENTICATED, "missing bearer token")
	}
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(secret) == "" {
		return identity{}, hvagent.Errorf(hvagent.EUNAUTHENTICATED, "authorization must be \"Bearer <token>\"")
	}
	sum := sha256.Sum256([]byte(strings.TrimSpace(secret)))
	got := []byte(hex.EncodeToString(sum[:]))
	match := -1
	for i, t := range s.tokens {
		if subtle.ConstantTimeCompare(got, []byte(t.SHA256)) == 1 {
			match = i
		}
	}
	if match < 0 {
		return identity{}, hvagent.Errorf(hvagent.EUNAUTHENTICATED, "invalid token")
	}
	return identity{name: s.tokens[match].Name, scope: s.tokens[match].Scope}, nil
}

// maxBody caps request bodies.
const maxBody = 1 << 20

// bodyTimeout bounds how long a client may take to send a request's body,
// counted from the end of its headers (whose own deadline is the
// http.Server's ReadHeaderTimeout).
const bodyTimeout = 20 * time.Second

// endpoint wraps a route: scope check, body read, then serve; a returned
// error becomes the JSON error reply. A request refused before its body is
// read (scope, declared size) is answered at once and its connection closed.
func (s *server) endpoint(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := stateOf(w).exchange(s, w, r)
		if err := x.authorize(rt.scope); err != nil {
			s.refuse(w, r, err)
			return
		}
		if err := x.readBody(); err != nil {
			s.refuse(w, r, err)
			return
		}
		if err := rt.serve(x); err != nil {
			s.writeError(w, r, err)
		}
	})
}

// hasBody reports whether r declares a body (a Content-Length above zero,
// or chunked).
func hasBody(r *http.Request) bool {
	return r.ContentLength != 0 && r.Body != nil && r.Body != http.NoBody
}

// bodyDeadline gives the body of r until now+s.bodyTimeout to arrive; a
// client that trickles it is cut off then. readBody lifts the deadline once
// the body is read, so that long-lived replies are not cut.
func (s *server) bodyDeadline(w http.ResponseWriter, r *http.Request) {
	if hasBody(r) {
		s.setReadDeadline(w, time.Now().Add(s.bodyTimeout))
	}
}

// setReadDeadline sets the connection's read deadline when the
// ResponseWriter supports it (a real connection does).
func (s *server) setReadDeadline(w http.ResponseWriter, t time.Time) {
	if err := http.NewResponseController(w).SetReadDeadline(t); err != nil && !errors.Is(err, http.ErrNotSupported) {
		s.log.Debug().Err(err).Msg("set read deadline")
	}
}

// refuse answers err without reading the request's body. When r has one,
// the connection is closed after the reply: net/http would otherwise read
// the unread body (up to 256 KiB, at the client's pace) before it writes
// the reply, to keep the connection.
func (s *server) refuse(w http.ResponseWriter, r *http.Request, err error) {
	if hasBody(r) {
		w.Header().Set("Connection", "close")
		s.setReadDeadline(w, time.Now())
	}
	s.writeError(w, r, err)
}

// fallback wraps a 404 or 405 reply, which need no scope.
func (s *server) fallback(f apiFunc) http.Handler {
	return s.endpoint(route{scope: scopeNone, serve: f})
}

// authorize checks that the caller's scope covers need.
func (x *exchange) authorize(need string) error {
	if len(x.s.tokens) == 0 || scopeRank[x.who.scope] >= scopeRank[need] {
		return nil
	}
	return hvagent.Errorf(hvagent.EFORBIDDEN, "token %q (scope %s) may not %s %s: needs scope %s", x.who.name, x.who.scope, x.r.Method, x.r.URL.Path, need)
}

// readBody reads a request's body (at most maxBody bytes, before the
// deadline bodyDeadline set) and, for a mutation, requires it to be JSON
// (see jsonBody) when there is one; the body of a read is discarded. A
// declared Content-Length above maxBody is ETOOLARGE before any byte is
// read.
func (x *exchange) readBody() error {
	if !hasBody(x.r) {
		return nil
	}
	if x.r.ContentLength > maxBody {
		return hvagent.Errorf(hvagent.ETOOLARGE, "request body is larger than %d bytes (Content-Length %d)", maxBody, x.r.ContentLength)
	}
	b, err := io.ReadAll(http.MaxBytesReader(x.w, x.r.Body, maxBody))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return hvagent.Errorf(hvagent.ETOOLARGE, "request body is larger than %d bytes", maxBody)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return hvagent.WrapError(hvagent.EINVALID, err, "request body not received within %v", x.s.bodyTimeout)
	}
	if err != nil {
		return hvagent.WrapError(hvagent.EINVALID, err, "read request body: %v", err)
	}
	x.s.setReadDeadline(x.w, time.Time{})
	switch x.r.Method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return nil
	}
	if len(bytes.TrimSpace(b)) > 0 && !x.jsonBody() {
		return hvagent.Errorf(hvagent.EINVALID, "Content-Type must be application/json")
	}
	x.body = b
	return nil
}

// jsonBody reports whether the request's body may be read as JSON: its
// Content-Type is application/json, or it has none and the request carries
// no Origin (the original Go client posts JSON without a Content-Type;
// browsers send Origin on every cross-site write, so a form cannot pass).
func (x *exchange) jsonBody() bool {
	ct := x.r.Header.Get("Content-Type")
	if ct == "" {
		return x.r.Header.Get("Origin") == ""
	}
	return isJSONType(ct)
}

// isJSONType reports whether a Content-Type names application/json.
func isJSONType(ct string) bool {
	mt, _, _ := strings.Cut(ct, ";")
	return strings.EqualFold(strings.TrimSpace(mt), "application/json")
}
