package rest

import (
	"context"
	"net/http"
	"net/url"
	"strconv"

	"github.com/hvagent/hvagent/hvagent"
)

// Events reads one page of events after q.After with the JSON form of GET
// /events (?format=json), long-polling up to q.Wait (at most MaxWait) for
// a first event: one request per page, and the page's Cursor is where the
// next call resumes, so a caller that loops misses nothing and sees nothing
// twice. Errors: EINVALID (negative limit, id below -1),
// EUNAVAILABLE.
func (c *Client) Events(ctx context.Context, q hvagent.EventQuery) (*hvagent.EventPage, error) {
	if q.Limit < 0 || q.After < -1 {
		return nil, hvagent.Errorf(hvagent.EINVALID, "event limit must not be negative and event id not below -1")
	}
	query := url.Values{"format": {"json"}}
	if q.After >= 0 {
		query.Set("since", strconv.FormatInt(q.After, 10))
	}
	if q.Limit > 0 {
		query.Set("limit", strconv.Itoa(min(q.Limit, hvagent.MaxEventPage)))
	}
	if q.Wait > 0 {
		query.Set("wait", min(q.Wait, MaxWait).String())
	}
	var r eventPageReply
	if _, err := c.call(ctx, clientCall{method: http.MethodGet, path: "/events", query: query}, &r); err != nil {
		return nil, err
	}
	return &hvagent.EventPage{Events: nonNilList(r.Events), Reset: r.Reset, Cursor: r.Next}, nil
}
