package subagent

import (
	"context"
	"errors"
	"io"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// Headers of the in-process hand-over. A client of InProcess marks each
// request with a token naming its slot; a reply whose body starts with a
// handed-over file says so, with the length the handler declared (or -1).
// Nothing outside InProcess sees them: the transport removes the reply's,
// and the in-process listener is not reachable from outside.
const (
	inProcessSlotHeader = "X-Hvagent-Inprocess-Slot"
	handoffHeader       = "X-Hvagent-Handoff"
)

// handoffChunk is how much of a handed-over file one WriteTo step copies:
// the destination's deadline moves and the caller's idle timer restarts
// between steps.
const handoffChunk = 4 << 20

// errHandoffClosed is the error a handler's ReadFrom gets when the reader
// of the reply closed it before taking all of the file.
var errHandoffClosed = errors.New("in-process reply closed by its reader")

// handoff is a file a handler passed to ReadFrom, offered to the client
// side of the same process instead of being copied through the connection.
type handoff struct {
	r    io.Reader // a file (it implements syscall.Conn)
	n    int64     // bytes to take; -1: until EOF
	done chan handoffResult
}

// handoffResult is what the handler's ReadFrom returns.
type handoffResult struct {
	n   int64
	err error
}

// handoffSlot carries at most one handoff from a reply's handler to the
// client that sent the request.
type handoffSlot struct{ offer chan *handoff }

// handoffSlots are the slots of the requests in flight, by token.
type handoffSlots struct {
	next atomic.Uint64
	m    sync.Map // string → *handoffSlot
}

// open registers a new slot and returns its token.
func (s *handoffSlots) open() (string, *handoffSlot) {
	token := strconv.FormatUint(s.next.Add(1), 10)
	slot := &handoffSlot{offer: make(chan *handoff, 1)}
	s.m.Store(token, slot)
	return token, slot
}

// take removes the slot of token and returns it, nil if there is none.
func (s *handoffSlots) take(token string) *handoffSlot {
	v, ok := s.m.LoadAndDelete(token)
	if !ok {
		return nil
	}
	return v.(*handoffSlot)
}

// handoffServer gives each request that names a slot a ResponseWriter that
// hands over files passed to its ReadFrom.
func (s *handoffSlots) handoffServer(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		slot := s.take(r.Header.Get(inProcessSlotHeader))
		r.Header.Del(inProcessSlotHeader)
		if slot == nil {
			h.ServeHTTP(w, r)
			return
		}
		hw := &handoffWriter{ResponseWriter: w, slot: slot, ctx: r.Context()}
		h.ServeHTTP(hw, r)
		hw.sendHeader()
	})
}

// handoffWriter holds a reply's status back until its body starts, so that
// a body which starts with ReadFrom of a file can be handed over: the reply
// then says so in its header, and the file goes to the client through the
// request's slot while ReadFrom waits for the client to have read it.
type handoffWriter struct {
	http.ResponseWriter
	slot *handoffSlot // nil once used
	ctx  context.Context
	code int  // the status held back; 0: none yet
	sent bool // the header went out
}

// WriteHeader holds code back until the body starts (1xx go out at once).
func (w *handoffWriter) WriteHeader(code int) {
	switch {
	case w.sent || w.code != 0:
	case code >= 100 && code < 200:
		w.ResponseWriter.WriteHeader(code)
	default:
		w.code = code
	}
}

func (w *handoffWriter) sendHeader() {
	if w.sent {
		return
	}
	w.sent = true
	if w.code != 0 {
		w.ResponseWriter.WriteHeader(w.code)
	}
}

// Write sends the header held back, then p.
func (w *handoffWriter) Write(p []byte) (int, error) {
	w.sendHeader()
	return w.ResponseWriter.Write(p)
}

// Flush sends the header held back and what is buffered.
func (w *handoffWriter) Flush() {
	w.sendHeader()
	_ = http.NewResponseController(w.ResponseWriter).Flush()
}

// Unwrap returns the wrapped ResponseWriter, for http.ResponseController.
func (w *handoffWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// ReadFrom hands r over when it is a file that starts a 200 reply's body,
// and returns what the client read of it; otherwise it copies r.
func (w *handoffWriter) ReadFrom(r io.Reader) (int64, error) {
	n, ok := w.handable(r)
	if !ok {
		w.sendHeader()
		return io.Copy(writerOnly{w.ResponseWriter}, r)
	}
	slot := w.slot
	w.slot = nil
	h := w.Header()
	h.Del("Content-Length") // the connection carries none of it
	h.Set(handoffHeader, strconv.FormatInt(n, 10))
	w.Flush()
	ho := &handoff{r: r, n: n, done: make(chan handoffResult, 1)}
	slot.offer <- ho
	select {
	case res := <-ho.done:
		return res.n, res.err
	case <-w.ctx.Done(): // the client went away
		return 0, w.ctx.Err()
	}
}

// handable reports whether r can be handed over, with the length to take
// (the reply's Content-Length, or -1 when it has none).
func (w *handoffWriter) handable(r io.Reader) (int64, bool) {
	if w.slot == nil || w.sent || (w.code != 0 && w.code != http.StatusOK) {
		return 0, false
	}
	if _, ok := r.(syscall.Conn); !ok {
		return 0, false
	}
	cl := w.Header().Get("Content-Length")
	if cl == "" {
		return -1, true
	}
	n, err := strconv.ParseInt(cl, 10, 64)
	return n, err == nil && n >= 0
}

// writerOnly hides a writer's ReadFrom, so that io.Copy does not call it.
type writerOnly struct{ io.Writer }

// handoffTransport is InProcess's RoundTripper: it names a slot in each
// request and, when the reply says its body starts with a handed-over
// file, gives the client a body that reads the file, then the rest.
type handoffTransport struct {
	slots  *handoffSlots
	next   http.RoundTripper
	direct func(req *http.Request, limit int64) (*http.Response, error)
}

// RoundTrip sends req through the in-memory connection, or calls the
// handler directly when its client reads the reply whole.
func (t *handoffTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if limit, ok := req.Context().Value(wholeReplyKey{}).(int64); ok && t.direct != nil {
		return t.direct(req, limit)
	}
	token, slot := t.slots.open()
	out := req.Clone(req.Context())
	out.Header.Set(inProcessSlotHeader, token)
	resp, err := t.next.RoundTrip(out)
	if err != nil || resp.Header.Get(handoffHeader) == "" {
		t.slots.take(token)
		return resp, err
	}
	n, perr := strconv.ParseInt(resp.Header.Get(handoffHeader), 10, 64)
	resp.Header.Del(handoffHeader)
	if perr != nil {
		_ = resp.Body.Close()
		return nil, errors.New("in-process reply: bad " + handoffHeader + " header")
	}
	select {
	case ho := <-slot.offer: // sent right after the header
		resp.ContentLength = n
		if n >= 0 {
			resp.Header.Set("Content-Length", strconv.FormatInt(n, 10))
		}
		resp.Body = newHandoffBody(ho, resp.Body)
		return resp, nil
	case <-req.Context().Done():
		_ = resp.Body.Close()
		return nil, req.Context().Err()
	}
}
