package rest

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/hvagent"
)

// HandlerOptions configures NewHandler.
type HandlerOptions struct {
	// Logger receives internal errors, panics and one line per request
	// (mutations at info level, refused credentials at warn, reads at
	// debug); default zerolog.Nop() (the zero value).
	Logger zerolog.Logger
	// Tokens are the accepted API tokens. When empty no token is required
	// and every caller is "local".
	Tokens []Token
	// Hosts are the accepted Host header values (the listener's
	// "host:port"s). When empty the Host is not checked and any request
	// carrying an Origin header is refused.
	Hosts []string
	// Metrics serves GET /metrics (read scope), for example hvagentd's
	// Prometheus handler; when nil /metrics answers 404.
	Metrics http.Handler
	// Debug, when set, serves every path under /debug/ (admin scope), for
	// example hvagentd's net/http/pprof handlers on its admin listener. The
	// library itself registers no debug handler.
	Debug http.Handler
	// Limits bounds concurrent streams and event clients and, optionally,
	// each caller's request rate; handlers given the same *Limits share
	// its bounds (hvagentd's listeners do). Default (nil): limits of the
	// handler's own with NewLimits' defaults (64 streams, 256 event
	// clients, no rate limit).
	Limits *Limits
}

// Route is one method and path served by NewHandler.
type Route struct {
	// Method is the HTTP method ("GET", "POST", "PATCH", "DELETE").
	Method string
	// Pattern is the path in Go ServeMux form: "/guests/{id}/jobs/{jobID}".
	Pattern string
	// Stream: the reply is a byte stream of any length or duration (a
	// snapshot download, a console), not a JSON document. A server in
	// front of the handler should serve such routes with net/http: the
	// handler sends a download through the connection's ReadFrom and
	// upgrades a console to a WebSocket (Hijack).
	Stream bool
}

// Token scopes; each implies the ones before it.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
	ScopeAdmin = "admin"
	// scopeNone marks routes that need no token (/healthz).
	scopeNone = ""
)

// sseHeartbeat is how often an idle event stream gets a comment line; it is
// also the wait of each event query.
const sseHeartbeat = 15 * time.Second

// sseStall is how long an event stream's client may take no bytes of it
// before it is dropped; it then resumes with Last-Event-ID.
const sseStall = 10 * time.Second

// replyStall is how long the client of an ordinary reply (not an event
// stream, long poll, console or download, which have their own) may take
// no bytes of it before its connection is cut.
const replyStall = 10 * time.Second

// server holds what the routes of one handler share.
type server struct {
	svc       hvagent.Service
	log       zerolog.Logger
	opts      HandlerOptions
	tokens    []Token
	limits    *Limits
	heartbeat time.Duration
	// eventStall is how long an event stream's client may take no bytes
	// before it is dropped (sseStall; tests shorten it).
	eventStall time.Duration
	// replyStall is how long an ordinary reply may wait for its client to
	// take bytes (replyStall; tests shorten it).
	replyStall time.Duration
	// bodyTimeout is how long a request's body may take to arrive
	// (bodyTimeout; tests shorten it).
	bodyTimeout time.Duration
}

// apiFunc serves one route; a returned error becomes the JSON error reply.
type apiFunc func(x *exchange) error

// route is one entry of the route table.
type route struct {
	method, pattern, scope string
	serve                  apiFunc
}

// NewHandler returns the REST API of svc: every route of Routes, plus JSON
// 404 and 405 replies for other paths and methods, token authentication and
// scopes, Host and Origin checks, the request limits of opts.Limits, a log
// line per request, and opts.Debug under /debug/ when set. The handler
// never writes to a global logger.
func NewHandler(svc hvagent.Service, opts HandlerOptions) http.Handler {
	return newServer(svc, opts).handler()
}

func newServer(svc hvagent.Service, opts HandlerOptions) *server {
	limits := opts.Limits
	if limits == nil {
		limits = defaultLimits()
	}
	return &server{
		svc:        svc,
		log:        opts.Logger,
		opts:       opts,
		tokens:     slices.Clone(opts.Tokens),
		limits:     limits,
		heartbeat:  sseHeartbeat,
		eventStall: sseStall,
		replyStall: replyStall,

		bodyTimeout: bodyTimeout,
	}
}

// Routes returns every route NewHandler serves, in a stable order.
func Routes() []Route {
	s := newServer(nil, HandlerOptions{})
	streams := map[string]bool{}
	for _, rt := range s.streamRoutes() {
		streams[rt.method+" "+rt.pattern] = true
	}
	table := s.routes()
	out := make([]Route, len(table))
	for i, rt := range table {
		out[i] = Route{Method: rt.method, Pattern: rt.pattern, Stream: streams[rt.method+" "+rt.pattern]}
	}
	return out
}

// handler builds the mux: the route table, one 405 fallback per path, a
// JSON 404 for everything else, and the middleware around it.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	allowed := map[string][]string{}
	var paths []string
	for _, rt := range s.routes() {
		mux.Handle(rt.method+" "+rt.pattern, s.endpoint(rt))
		if _, seen := allowed[rt.pattern]; !seen {
			paths = append(paths, rt.pattern)
		}
		allowed[rt.pattern] = append(allowed[rt.pattern], rt.method)
	}
	for _, p := range paths {
		mux.Handle(p, s.methodNotAllowed(allowMethods(allowed[p])))
	}
	notFound := s.fallback(func(x *exchange) error {
		return hvagent.Errorf(hvagent.ENOTFOUND, "no route %s %s", x.r.Method, x.r.URL.Path)
	})
	if s.opts.Debug != nil {
		mux.Handle("/debug/", s.debug(s.opts.Debug))
		mux.Handle("/debug", notFound) // not a redirect to /debug/
	}
	mux.Handle("/", notFound)
	return &front{s: s, mux: mux}
}

// allowMethods returns the Allow header value for a path's methods.
func allowMethods(methods []string) string {
	all := slices.Clone(methods)
	if slices.Contains(all, http.MethodGet) {
		all = append(all, http.MethodHead)
	}
	slices.Sort(all)
	return strings.Join(slices.Compact(all), ", ")
}

// methodNotAllowed answers 405 with an Allow header.
func (s *server) methodNotAllowed(allow string) http.Handler {
	return s.fallback(func(x *exchange) error {
		x.w.Header().Set("Allow", allow)
		return hvagent.Errorf(hvagent.EMETHODNOTALLOWED, "method %s not allowed on %s (allowed: %s)", x.r.Method, x.r.URL.Path, allow)
	})
}

// debug serves h after an admin scope check; the request body is left
// for h to read.
func (s *server) debug(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		x := stateOf(w).exchange(s, w, r)
		if err := x.authorize(ScopeAdmin); err != nil {
			s.refuse(w, r, err)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// routes is the route table: the one source of what is served.
func (s *server) routes() []route {
	rs := []route{
		{"GET", "/healthz", scopeNone, s.health},
		{"GET", "/metrics", ScopeRead, s.metrics},
		{"GET", "/metadata", ScopeRead, s.getMetadata},
		{"PATCH", "/metadata", ScopeAdmin, s.patchMetadata},
		{"GET", "/queue", ScopeRead, s.queueStats},
		{"POST", "/queue/pause", ScopeAdmin, s.pauseQueue},
		{"POST", "/queue/resume", ScopeAdmin, s.resumeQueue},
		{"GET", "/events", ScopeRead, s.limited(&s.limits.events, "event clients", s.events)},
		{"GET", "/jobs", ScopeRead, s.listJobs},
		{"GET", "/jobs/{id}", ScopeRead, s.getJob},
		{"DELETE", "/jobs/{id}", ScopeWrite, s.cancelJob},
	}
	for _, prefix := range []string{"/images", "/container_images"} {
		typ := ""
		if prefix == "/container_images" {
			typ = hvagent.ContainerGuestType
		}
		rs = append(rs,
			route{"GET", prefix, ScopeRead, s.listImages(typ)},
			route{"POST", prefix, ScopeWrite, s.fetchImage(typ)},
			route{"GET", prefix + "/{id}", ScopeRead, s.getImage(typ)},
			route{"DELETE", prefix + "/{id}", ScopeWrite, s.deleteImage(typ)},
		)
	}
	rs = append(rs, s.guestRoutes()...)
	for _, prefix := range []string{"/guests/{id}", "/guests/{id}/disks/{n}"} {
		rs = append(rs, s.snapshotRoutes(prefix)...)
	}
	return append(rs, s.streamRoutes()...)
}

// guestRoutes are the routes under /guests except snapshots and the
// console (streamRoutes).
func (s *server) guestRoutes() []route {
	rs := []route{
		{"GET", "/guests", ScopeRead, s.listGuests},
		{"POST", "/guests", ScopeWrite, s.createGuest},
		{"GET", "/guests/{id}", ScopeRead, s.getGuest},
		{"PATCH", "/guests/{id}", ScopeWrite, s.patchGuest},
		{"DELETE", "/guests/{id}", ScopeWrite, s.guestAction(hvagent.ActionDelete)},
		{"GET", "/guests/{id}/jobs", ScopeRead, s.guestJobs},
		{"GET", "/guests/{id}/jobs/{jobID}", ScopeRead, s.guestJob},
		{"GET", "/guests/{id}/metadata", ScopeRead, s.getGuestMetadata},
		{"PATCH", "/guests/{id}/metadata", ScopeWrite, s.patchGuestMetadata},
		{"GET", "/guests/{id}/metrics/cpu", ScopeRead, s.guestInfo(hvagent.ActionCPUMetrics)},
		{"GET", "/guests/{id}/metrics/disk", ScopeRead, s.guestInfo(hvagent.ActionDiskMetrics)},
		{"GET", "/guests/{id}/metrics/nic", ScopeRead, s.guestInfo(hvagent.ActionNicMetrics)},
	}
	for _, action := range hvagent.GuestActions() {
		if action == hvagent.ActionCreate {
			continue
		}
		rs = append(rs, route{"POST", "/guests/{id}/" + action, ScopeWrite, s.guestAction(action)})
	}
	return rs
}

// snapshotRoutes are the snapshot routes under prefix (a guest or a disk)
// but their download (streamRoutes).
func (s *server) snapshotRoutes(prefix string) []route {
	p := prefix + "/snapshots"
	return []route{
		{"GET", p, ScopeRead, s.listSnapshots},
		{"POST", p, ScopeWrite, s.createSnapshot},
		{"GET", p + "/{name}", ScopeRead, s.getSnapshot},
		{"DELETE", p + "/{name}", ScopeWrite, s.deleteSnapshot},
		{"POST", p + "/{name}/rollback", ScopeWrite, s.rollbackSnapshot},
	}
}

// streamRoutes are the routes whose replies are streams (see
// Route.Stream): a guest's console and the snapshot downloads, each held
// to the streams limit.
func (s *server) streamRoutes() []route {
	rs := []route{{"GET", "/guests/{id}/console", ScopeRead, s.console}}
	for _, prefix := range []string{"/guests/{id}", "/guests/{id}/disks/{n}"} {
		rs = append(rs, route{"GET", prefix + "/snapshots/{name}/download", ScopeRead, s.downloadSnapshot})
	}
	for i := range rs {
		rs[i].serve = s.limited(&s.limits.streams, "streams", rs[i].serve)
	}
	return rs
}

// String renders a route as "METHOD pattern".
func (r Route) String() string { return fmt.Sprintf("%s %s", r.Method, r.Pattern) }
