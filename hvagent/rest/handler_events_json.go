package rest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"

	"github.com/hvagent/hvagent/hvagent"
	"github.com/hvagent/hvagent/internal/wirejson"
)

// eventChunk is how many bytes of SSE frames are gathered before they
// are written: one write (and one move of the stall deadline) a chunk
// instead of one an event.
const eventChunk = 32 << 10

// appendEvent appends ev's JSON, json.Marshal's bytes, to b: by
// wirejson.AppendEvent when it takes ev, else by encoding/json.
func appendEvent(b []byte, ev *hvagent.Event) ([]byte, error) {
	n := len(b)
	if eb, ok := wirejson.AppendEvent(b, ev); ok {
		return eb, nil
	}
	data, err := json.Marshal(ev)
	if err != nil {
		return b[:n], fmt.Errorf("encode event %d: %w", ev.ID, err)
	}
	return append(b[:n], data...), nil
}

// writeEvents writes a page as SSE frames: "event: reset" first when the
// page says events were missed, then one frame per event. The frames are
// gathered in buf (scratch, returned for the next page) and written a
// chunk at a time. An event that cannot be encoded ends the page after
// the frames before it.
func writeEvents(w io.Writer, page *hvagent.EventPage, buf []byte) ([]byte, error) {
	b := buf[:0]
	if page.Reset {
		b = append(b, "event: reset\ndata: {}\n\n"...)
	}
	for _, ev := range page.Events {
		n := len(b)
		b = strconv.AppendInt(append(b, "id: "...), ev.ID, 10)
		if ev.Job != nil {
			b = append(b, "\nevent: job\ndata: "...)
		} else {
			b = append(b, "\nevent: guest\ndata: "...)
		}
		var err error
		if b, err = appendEvent(b, ev); err != nil {
			if _, werr := w.Write(b[:n]); werr != nil {
				return b[:0], werr
			}
			return b[:0], err
		}
		b = append(b, "\n\n"...)
		if len(b) >= eventChunk {
			if _, err := w.Write(b); err != nil {
				return b[:0], err
			}
			b = b[:0]
		}
	}
	if len(b) > 0 {
		if _, err := w.Write(b); err != nil {
			return b[:0], err
		}
	}
	return b[:0], nil
}

// replyEventPage writes page as the JSON reply of GET /events?format=json:
// the bytes reply gives for its eventPageReply, encoding one event at a
// time (see writeItems).
func replyEventPage(x *exchange, page *hvagent.EventPage) error {
	x.w.Header()["Content-Type"] = jsonContentType
	x.w.WriteHeader(http.StatusOK)
	bw := bufio.NewWriterSize(x.w, listChunk)
	_, _ = bw.WriteString(`{"events":`)
	if !writeItems(bw, page.Events) {
		return nil
	}
	b := strconv.AppendInt([]byte(`],"next":`), page.Cursor, 10)
	b = strconv.AppendBool(append(b, `,"reset":`...), page.Reset)
	_, _ = bw.Write(append(b, "}\n"...))
	_ = bw.Flush()
	return nil
}
