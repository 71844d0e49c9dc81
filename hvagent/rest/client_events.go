package rest

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// clientEventGrace is how long Events listens when q.Wait is 0: a stream
// cannot tell "no event" from "no event yet".
const clientEventGrace = 100 * time.Millisecond

// Events reads events after q.After from GET /events (server-sent events,
// resumed with Last-Event-ID), oldest first. It returns as soon as at least
// one event has arrived and no more is buffered, when q.Limit events have
// arrived, or when q.Wait passes with none; then it closes the stream.
// An "event: reset" frame sets Reset. Cursor is the last event's ID, or the
// last "id:" the server sent, else q.After. Errors: EINVALID (negative
// limit or id below -1), EUNAVAILABLE.
func (c *Client) Events(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
	if q.Limit < 0 || q.After < -1 {
		return nil, hvagent.Errorf(hvagent.EINVALID, "event limit must not be negative and event id not below -1")
	}
	limit := q.Limit
	if limit == 0 || limit > hvagent.MaxEventPage {
		limit = hvagent.MaxEventPage
	}
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	timer := time.AfterFunc(max(q.Wait, clientEventGrace), cancel)
	defer timer.Stop()
	call := clientCall{method: http.MethodGet, path: "/events", header: http.Header{"Accept": {"text/event-stream"}}}
	if q.After >= 0 {
		call.header.Set("Last-Event-ID", strconv.FormatInt(q.After, 10))
	}
	page := &hvagent.EventPage{Events: []*hvagent.Event{}, Cursor: q.After}
	resp, err := c.send(sctx, call)
	if err != nil {
		if ctx.Err() == nil && sctx.Err() != nil { // waited in vain for the reply
			return page, nil
		}
		return nil, err
	}
	defer resp.Body.Close()
	err = readEvents(resp.Body, page, limit)
	var perr *sseProtocolError
	switch {
	case errors.As(err, &perr):
		return nil, fmt.Errorf("read /events: %w", err)
	case err == nil, sctx.Err() != nil, errors.Is(err, io.EOF), len(page.Events) > 0, page.Reset:
		return page, nil
	}
	return nil, c.lost(ctx, err)
}

// sseProtocolError is a frame that is not an hvagent event.
type sseProtocolError struct{ err error }

func (e *sseProtocolError) Error() string { return e.err.Error() }
func (e *sseProtocolError) Unwrap() error { return e.err }

// sseFrame accumulates the fields of one server-sent event.
type sseFrame struct {
	event string
	data  strings.Builder
	id    string
	hasID bool
}

// readEvents reads frames into page until limit events, or until at least
// one event (or a reset) has arrived and nothing more is buffered. It
// returns nil then, else the read error that ended it.
func readEvents(r io.Reader, page *hvagent.EventPage, limit int) error {
	br := bufio.NewReader(r)
	var f sseFrame
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return err // a partial frame is dropped
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		if line != "" {
			f.field(line)
			continue
		}
		if err := f.dispatch(page); err != nil {
			return err
		}
		f = sseFrame{}
		if len(page.Events) >= limit || ((len(page.Events) > 0 || page.Reset) && br.Buffered() == 0) {
			return nil
		}
	}
}

// field records one "name: value" line; comments (":…") are ignored.
func (f *sseFrame) field(line string) {
	if strings.HasPrefix(line, ":") {
		return
	}
	name, value, _ := strings.Cut(line, ":")
	value = strings.TrimPrefix(value, " ")
	switch name {
	case "event":
		f.event = value
	case "data":
		if f.data.Len() > 0 {
			f.data.WriteByte('\n')
		}
		f.data.WriteString(value)
	case "id":
		f.id, f.hasID = value, true
	}
}

// dispatch applies a complete frame to page.
func (f *sseFrame) dispatch(page *hvagent.EventPage) error {
	if f.hasID {
		if id, err := strconv.ParseInt(f.id, 10, 64); err == nil {
			page.Cursor = id
		}
	}
	switch f.event {
	case "reset":
		page.Reset = true
		return nil
	case "job", "guest", "":
	default:
		return nil // a kind of event this client does not know
	}
	if f.data.Len() == 0 {
		return nil
	}
	var ev hvagent.Event
	if err := json.Unmarshal([]byte(f.data.String()), &ev); err != nil {
		return &sseProtocolError{fmt.Errorf("decode %q event: %w", f.event, err)}
	}
	page.Events = append(page.Events, &ev)
	page.Cursor = ev.ID
	return nil
}
