package rest

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/rs/zerolog"

	"github.com/hvagent/hvagent/internal/logtext"
)

// logRequest logs a request once it is served, with its method, path,
// status, caller (token name, or "local" without tokens), the job it
// queued (X-Guest-Job-ID), its size and how long it took. Mutations (every
// method but GET, HEAD and OPTIONS) are logged at info level, refused
// credentials (401, 403) at warn, other reads at debug. Nothing is
// formatted when that level is off.
func (s *server) logRequest(st *reqState, r *http.Request, start time.Time) {
	status := st.code()
	ev := s.log.WithLevel(requestLevel(r.Method, status))
	if ev == nil { // level disabled
		return
	}
	ev = ev.Str("method", r.Method).Str("path", r.URL.Path)
	if r.URL.RawQuery != "" {
		ev = ev.Str("query", redactQuery(r.URL.RawQuery))
	}
	ev = ev.Int("status", status)
	if st.caller != "" {
		ev = ev.Str("caller", st.caller)
	}
	if id := st.Header().Get("X-Guest-Job-ID"); id != "" {
		ev = ev.Str("job_id", id)
	}
	ev.Int64("bytes", st.n).Str("took", logtext.Duration(time.Since(start))).
		Str("remote", r.RemoteAddr).Msg("request")
}

// secretWords are what the name of a query parameter that may carry a
// secret contains. The API takes none (tokens go in the Authorization
// header), but a client may send one there all the same.
var secretWords = []string{"token", "key", "secret", "password", "passwd", "auth", "credential", "signature"}

// redactQuery returns a raw query as the log may show it: with the value
// of each parameter whose name looks like a secret's replaced.
func redactQuery(raw string) string {
	if !mentionsSecret(raw) && !strings.Contains(raw, "%") { // an escaped name is read decoded
		return raw
	}
	values, _ := url.ParseQuery(raw) // what parses; the rest is dropped
	for name, vs := range values {
		if mentionsSecret(name) {
			for i := range vs {
				vs[i] = "REDACTED"
			}
		}
	}
	return values.Encode()
}

// mentionsSecret reports whether s contains one of secretWords, in any
// case.
func mentionsSecret(s string) bool {
	lower := strings.ToLower(s)
	return slices.ContainsFunc(secretWords, func(w string) bool { return strings.Contains(lower, w) })
}

// requestLevel is the level a request is logged at.
func requestLevel(method string, status int) zerolog.Level {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return zerolog.WarnLevel
	case method == http.MethodGet || method == http.MethodHead || method == http.MethodOptions:
		return zerolog.DebugLevel
	}
	return zerolog.InfoLevel
}

// statusRecorder records a response's status and size. It passes ReadFrom,
// Flush and Hijack through and unwraps for http.ResponseController. With a
// stall (see bound), each write and flush first gives the reply that long
// to be taken, until the handler sets a write deadline of its own.
type statusRecorder struct {
	http.ResponseWriter
	status int
	n      int64

	stall time.Duration            // 0: the handler manages the deadlines
	own   bool                     // the handler set a write deadline
	rc    *http.ResponseController // of ResponseWriter, made on first use
}

// bound gives the reply stall per write from now on (see statusRecorder):
// a client that takes none of an ordinary reply for that long is cut off,
// so that it holds no connection, goroutine or reply in memory for good.
// A deadline left by an earlier reply on the connection is lifted.
func (s *statusRecorder) bound(stall time.Duration) {
	s.stall = stall
	_ = s.controller().SetWriteDeadline(time.Time{})
}

// extend moves the write deadline stall from now, unless the handler set
// its own.
func (s *statusRecorder) extend() {
	if s.stall > 0 && !s.own {
		_ = s.controller().SetWriteDeadline(time.Now().Add(s.stall))
	}
}

func (s *statusRecorder) controller() *http.ResponseController {
	if s.rc == nil {
		s.rc = http.NewResponseController(s.ResponseWriter)
	}
	return s.rc
}

// SetWriteDeadline sets the handler's own write deadline: the stall of
// bound no longer applies.
func (s *statusRecorder) SetWriteDeadline(t time.Time) error {
	s.own = true
	return s.controller().SetWriteDeadline(t)
}

func (s *statusRecorder) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	s.extend()
	n, err := s.ResponseWriter.Write(b)
	s.n += int64(n)
	return n, err
}

// ReadFrom copies r to the response through the wrapped ResponseWriter's
// own ReadFrom when it has one (sendfile for downloads of files).
func (s *statusRecorder) ReadFrom(r io.Reader) (int64, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	n, err := io.Copy(s.ResponseWriter, r)
	s.n += n
	return n, err
}

// Flush sends buffered data to the client.
func (s *statusRecorder) Flush() {
	s.extend()
	_ = s.controller().Flush()
}

// Hijack hands the connection over (protocol upgrades); the request is
// then logged with status 101.
func (s *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	conn, rw, err := http.NewResponseController(s.ResponseWriter).Hijack()
	if err == nil && s.status == 0 {
		s.status = http.StatusSwitchingProtocols
	}
	return conn, rw, err
}

// Unwrap returns the wrapped ResponseWriter.
func (s *statusRecorder) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusRecorder) code() int {
	if s.status == 0 {
		return http.StatusOK
	}
	return s.status
}
