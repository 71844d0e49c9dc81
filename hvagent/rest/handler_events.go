package rest

import (
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// events serves GET /events: one JSON page (long-polled) when the client
// asks for JSON, else server-sent events.
func (s *server) events(x *exchange) error {
	if f := x.query().Get("format"); f != "" && f != "json" && f != "sse" {
		return hvagent.Errorf(hvagent.EINVALID, "format %q must be json or sse", f)
	}
	if x.wantsEventPage() {
		return s.eventPage(x)
	}
	return s.eventStream(x)
}

// wantsEventPage reports whether the request asks for the JSON page form:
// ?format=json, or an Accept header naming application/json and not
// text/event-stream. Anything else (curl's */*, browsers' EventSource)
// gets the stream.
func (x *exchange) wantsEventPage() bool {
	switch x.query().Get("format") {
	case "json":
		return true
	case "sse":
		return false
	}
	accept := x.r.Header.Get("Accept")
	return strings.Contains(accept, "application/json") && !strings.Contains(accept, "text/event-stream")
}

// eventPage serves one page of events as JSON: the events after the cursor
// (Last-Event-ID or ?since=, else only new ones), at most ?limit=, waiting
// up to ?wait= for a first one. Its "next" is the since= of the next call,
// so a client that loops misses nothing and sees nothing twice.
func (s *server) eventPage(x *exchange) error {
	cursor, err := x.eventCursor()
	if err != nil {
		return err
	}
	limit, err := x.queryLimit()
	if err != nil {
		return err
	}
	wait, err := x.queryWait()
	if err != nil {
		return err
	}
	x.extendDeadline(wait)
	page, err := s.svc.Events(x.ctx(), hvagent.EventQuery{After: cursor, Limit: limit, Wait: wait})
	if err != nil {
		return err
	}
	return replyEventPage(x, page)
}

// eventStream serves GET /events as server-sent events. It starts after the
// Last-Event-ID header, else ?since=, else at the newest event (live only),
// and reads the event log page by page, so a resumed stream has no gap and
// no repeat; an ID older than the retained log gets "event: reset" first.
// An idle stream gets a ": ping" comment every heartbeat. The stream ends
// when the client goes away, the request context ends, or the service
// stops, and when the client takes no bytes for eventStall: nothing is
// queued for a client (each reads the log at its own pace, one page held
// at a time), so a slow one holds up no other and never the agent, and it
// resumes with Last-Event-ID once dropped.
func (s *server) eventStream(x *exchange) error {
	cursor, err := x.eventCursor()
	if err != nil {
		return err
	}
	// A first page without waiting checks the cursor while an error can
	// still be a JSON reply, and sends the headers at once.
	page, err := s.svc.Events(x.ctx(), hvagent.EventQuery{After: cursor})
	if err != nil {
		return err
	}
	h := x.w.Header()
	h.Set("Content-Type", "text/event-stream")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w := &stallWriter{w: x.w, rc: http.NewResponseController(x.w), stall: s.eventStall}
	w.extend()
	x.w.WriteHeader(http.StatusOK)
	if cursor < 0 && len(page.Events) == 0 {
		// A live stream tells its starting point at once (an id with no
		// data dispatches nothing), so a client that reconnects before
		// any event resumes without a gap.
		if _, err := fmt.Fprintf(w, "id: %d\n\n", page.Cursor); err != nil {
			return nil
		}
	}
	var buf []byte // the frames of a page, one chunk at a time
	for {
		if buf, err = writeEvents(w, page, buf); err != nil {
			return nil // the client went away or stalled
		}
		if err := w.flush(); err != nil {
			return nil
		}
		if page, err = s.nextEvents(x, page.Cursor); page == nil || err != nil {
			return nil
		}
		if len(page.Events) == 0 && !page.Reset {
			if _, err := fmt.Fprint(w, ": ping\n\n"); err != nil {
				return nil
			}
		}
	}
}

// stallWriter writes to a reply with a write deadline of stall from each
// write and flush: a client that takes no bytes for that long is cut off,
// however long the stream lasts.
type stallWriter struct {
	w     io.Writer
	rc    *http.ResponseController
	stall time.Duration
}

// extend moves the write deadline to stall from now.
func (s *stallWriter) extend() { _ = s.rc.SetWriteDeadline(time.Now().Add(s.stall)) }

func (s *stallWriter) Write(p []byte) (int, error) {
	s.extend()
	return s.w.Write(p)
}

// flush sends what is buffered to the client.
func (s *stallWriter) flush() error {
	s.extend()
	return s.rc.Flush()
}

// nextEvents waits up to a heartbeat for the events after cursor. It
// returns nil when the stream should end: the request is over, the log
// cannot be read, or the service stopped (an empty page that came back
// early while the service is not healthy).
func (s *server) nextEvents(x *exchange, cursor int64) (*hvagent.EventPage, error) {
	start := time.Now()
	page, err := s.svc.Events(x.ctx(), hvagent.EventQuery{After: cursor, Wait: s.heartbeat})
	if x.ctx().Err() != nil {
		return nil, nil
	}
	if err != nil {
		s.log.Warn().Err(err).Msg("event stream: read events")
		return nil, err
	}
	if len(page.Events) > 0 || page.Reset {
		return page, nil
	}
	if rest := s.heartbeat - time.Since(start); rest > s.heartbeat/2 {
		if h, err := s.svc.Health(x.ctx()); err != nil || h.Status != "ok" {
			return nil, nil
		}
		t := time.NewTimer(rest)
		defer t.Stop()
		select {
		case <-t.C:
		case <-x.ctx().Done():
			return nil, nil
		}
	}
	return page, nil
}

// eventCursor parses the start cursor: Last-Event-ID, else ?since=, else -1
// (live only).
func (x *exchange) eventCursor() (int64, error) {
	if v := strings.TrimSpace(x.r.Header.Get("Last-Event-ID")); v != "" {
		return parseEventID("Last-Event-ID", v)
	}
	if v := x.query().Get("since"); v != "" {
		return parseEventID("since", v)
	}
	return -1, nil
}

func parseEventID(name, v string) (int64, error) {
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 {
		return 0, hvagent.Errorf(hvagent.EINVALID, "%s %q must be a non-negative integer event id", name, v)
	}
	return n, nil
}
