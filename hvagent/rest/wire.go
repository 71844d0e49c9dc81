package rest

import (
	"net/http"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// This file is the wire knowledge that the handler and the client share:
// one copy of each, so the two sides cannot drift apart.

// queuedJobHeader carries, on the 202 reply of a guest route (whose body
// is the Guest), the queued Job as compact JSON, so that a client has the
// job without reading it back. It is left out when the JSON would be
// longer than maxQueuedJobHeader; the job is then read at /jobs/{id}.
const queuedJobHeader = "X-Guest-Job"

// maxQueuedJobHeader caps the queuedJobHeader value: a queued job's JSON
// is a few hundred bytes, and a reverse proxy may hold a reply's headers
// in a 4 KiB buffer (nginx's default). A longer one (a replayed job with
// its result) is read back.
const maxQueuedJobHeader = 2 << 10

// MaxWait is the longest ?wait= an async call or GET /jobs/{id} accepts.
const MaxWait = 5 * time.Minute

// statusTable maps every error code word to its HTTP status. Where two
// words share a status (409), the first one is what a reply without our
// JSON body is read as.
var statusTable = []struct {
	code   string
	status int
}{
	{hvagent.EINVALID, http.StatusBadRequest},
	{hvagent.EUNAUTHENTICATED, http.StatusUnauthorized},
	{hvagent.EFORBIDDEN, http.StatusForbidden},
	{hvagent.ENOTFOUND, http.StatusNotFound},
	{hvagent.EMETHODNOTALLOWED, http.StatusMethodNotAllowed},
	{hvagent.ECONFLICT, http.StatusConflict},
	{hvagent.ECANCELED, http.StatusConflict},
	{hvagent.ETOOLARGE, http.StatusRequestEntityTooLarge},
	{hvagent.EBUSY, http.StatusTooManyRequests},
	{hvagent.EINTERNAL, http.StatusInternalServerError},
	{hvagent.ESUBAGENT, http.StatusBadGateway},
	{hvagent.EUNAVAILABLE, http.StatusServiceUnavailable},
	{hvagent.ETIMEOUT, http.StatusGatewayTimeout},
}

// HTTPStatus returns the HTTP status of an error code word (500 for
// unknown words).
func HTTPStatus(code string) int {
	for _, e := range statusTable {
		if e.code == code {
			return e.status
		}
	}
	return http.StatusInternalServerError
}

// codeForStatus is the code word of an error reply that has no JSON body
// of ours (a proxy, a foreign server): the first word of statusTable with
// that status, else EINTERNAL.
func codeForStatus(status int) string {
	for _, e := range statusTable {
		if e.status == status {
			return e.code
		}
	}
	return hvagent.EINTERNAL
}

// errorBody is the JSON body of every error reply.
type errorBody struct {
	Message string `json:"message"`
	Code    int    `json:"code"`
	Error   string `json:"error"`
}

// eventPageReply is the JSON form of GET /events: one page, and the
// cursor to pass as since= next time.
type eventPageReply struct {
	Events []*hvagent.Event `json:"events"`
	Next   int64            `json:"next"`
	Reset  bool             `json:"reset"`
}

// dryRunReply is the body of a ?dry_run=true reply.
type dryRunReply struct {
	Action string                `json:"action"`
	Stages []hvagent.StageConfig `json:"stages"`
}

// maxListLimit caps ?limit= of list routes: the handler refuses more, and
// the client asks for at most this many, as the agent caps a larger limit
// in process.
const maxListLimit = 1000
