package rest

import (
	"math"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/hvagent/hvagent/hvagent"
)

// Defaults of LimitOptions.
const (
	// DefaultMaxStreams is LimitOptions.MaxStreams when unset.
	DefaultMaxStreams = 64
	// DefaultMaxEventClients is LimitOptions.MaxEventClients when unset.
	DefaultMaxEventClients = 256
)

// limitRetryAfter is the Retry-After of a request refused because the
// streams or event clients are at their maximum: such places free up when
// a long request ends, not within a second.
const limitRetryAfter = 5 * time.Second

// rateSweepEvery is how often at most the per-caller rate limiters are
// swept of callers whose bucket is full again (they are then as good as
// new), so that the map does not grow with every address ever seen.
const rateSweepEvery = time.Minute

// LimitOptions configures NewLimits. Zero fields take their defaults.
type LimitOptions struct {
	// MaxStreams caps the stream requests served at once (snapshot
	// downloads, console logs and console sessions); default
	// DefaultMaxStreams (64).
	MaxStreams int
	// MaxEventClients caps the GET /events requests served at once
	// (server-sent event streams and long-polled pages); default
	// DefaultMaxEventClients (256).
	MaxEventClients int
	// RequestRate is how many requests per second each caller may make
	// on average (a token bucket per caller: the token's name when the
	// caller authenticated with one, else its IP address; every client of
	// a unix socket is one caller). Default 0: no rate limit.
	RequestRate float64
	// RequestBurst is how many requests a caller may make at once above
	// RequestRate (the bucket's size); default RequestRate rounded up.
	// Needs RequestRate.
	RequestBurst int
}

// Limits bounds what the callers of a handler may hold and ask: streams
// and event clients served at once (beyond them a request is answered at
// once with 503 unavailable and Retry-After) and, optionally, each
// caller's request rate (429 busy with Retry-After). Handlers given the
// same *Limits share its bounds. Build one with NewLimits; a zero Limits
// bounds nothing. It is safe for concurrent use.
type Limits struct {
	opts    LimitOptions
	streams gate
	events  gate
	rates   *callerRates // nil without a rate limit
}

// LimitStats is a snapshot of a Limits' counts.
type LimitStats struct {
	// Streams and EventClients are the requests being served now.
	Streams, EventClients int
	// RefusedStreams, RefusedEventClients and RefusedRate count the
	// requests refused so far by each bound.
	RefusedStreams, RefusedEventClients, RefusedRate uint64
}

// NewLimits returns limits with o's bounds. Errors: EINVALID naming the
// field (a negative bound, a rate that is not a finite number, a burst
// without a rate).
func NewLimits(o LimitOptions) (*Limits, error) {
	switch {
	case o.MaxStreams < 0:
		return nil, hvagent.Errorf(hvagent.EINVALID, "max streams must not be negative, got %d", o.MaxStreams)
	case o.MaxEventClients < 0:
		return nil, hvagent.Errorf(hvagent.EINVALID, "max event clients must not be negative, got %d", o.MaxEventClients)
	case o.RequestRate < 0 || math.IsNaN(o.RequestRate) || math.IsInf(o.RequestRate, 0):
		return nil, hvagent.Errorf(hvagent.EINVALID, "request rate must be a number of requests per second, 0 or more, got %v", o.RequestRate)
	case o.RequestBurst < 0:
		return nil, hvagent.Errorf(hvagent.EINVALID, "request burst must not be negative, got %d", o.RequestBurst)
	case o.RequestBurst > 0 && o.RequestRate == 0:
		return nil, hvagent.Errorf(hvagent.EINVALID, "request burst %d needs a request rate", o.RequestBurst)
	}
	if o.MaxStreams == 0 {
		o.MaxStreams = DefaultMaxStreams
	}
	if o.MaxEventClients == 0 {
		o.MaxEventClients = DefaultMaxEventClients
	}
	l := &Limits{opts: o, streams: gate{max: int64(o.MaxStreams)}, events: gate{max: int64(o.MaxEventClients)}}
	if o.RequestRate > 0 {
		if l.opts.RequestBurst == 0 {
			l.opts.RequestBurst = int(math.Ceil(o.RequestRate))
		}
		l.rates = &callerRates{limit: rate.Limit(o.RequestRate), burst: l.opts.RequestBurst, callers: map[string]*rate.Limiter{}}
	}
	return l, nil
}

// defaultLimits are the limits of a handler whose options have none.
func defaultLimits() *Limits {
	l, _ := NewLimits(LimitOptions{}) // the defaults are valid
	return l
}

// Options returns the effective bounds, defaults applied.
func (l *Limits) Options() LimitOptions { return l.opts }

// Stats returns the current counts.
func (l *Limits) Stats() LimitStats {
	st := LimitStats{
		Streams:             int(l.streams.n.Load()),
		EventClients:        int(l.events.n.Load()),
		RefusedStreams:      l.streams.refused.Load(),
		RefusedEventClients: l.events.refused.Load(),
	}
	if l.rates != nil {
		st.RefusedRate = l.rates.refused.Load()
	}
	return st
}

// gate counts the requests of one kind being served and refuses those
// beyond max.
type gate struct {
	max     int64
	n       atomic.Int64
	refused atomic.Uint64
}

// enter takes a place, or reports false when all are taken. A gate
// without a maximum (a zero Limits) counts without refusing.
func (g *gate) enter() bool {
	if g.max <= 0 {
		g.n.Add(1)
		return true
	}
	for {
		n := g.n.Load()
		if n >= g.max {
			g.refused.Add(1)
			return false
		}
		if g.n.CompareAndSwap(n, n+1) {
			return true
		}
	}
}

// leave gives a place back.
func (g *gate) leave() { g.n.Add(-1) }

// limited serves f while it holds a place of g; when g has none left the
// request is answered at once with 503 unavailable and Retry-After. what
// names the requests g counts, in the error message.
func (s *server) limited(g *gate, what string, f apiFunc) apiFunc {
	return func(x *exchange) error {
		if !g.enter() {
			setRetryAfter(x.w, limitRetryAfter)
			return hvagent.Errorf(hvagent.EUNAVAILABLE, "too many %s: at most %d at once; retry later", what, g.max)
		}
		defer g.leave()
		return f(x)
	}
}

// setRetryAfter sets Retry-After to d in whole seconds, at least 1.
func setRetryAfter(w http.ResponseWriter, d time.Duration) {
	secs := max(int64(math.Ceil(d.Seconds())), 1)
	w.Header().Set("Retry-After", strconv.FormatInt(secs, 10))
}

// callerRates is a token bucket per caller.
type callerRates struct {
	limit   rate.Limit
	burst   int
	refused atomic.Uint64

	mu      sync.Mutex
	callers map[string]*rate.Limiter
	swept   time.Time
}

// reserve takes one request from the caller's bucket at now. It returns 0
// when the request may go ahead, else how long until it could.
func (c *callerRates) reserve(caller string, now time.Time) time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.sweep(now)
	lim := c.callers[caller]
	if lim == nil {
		lim = rate.NewLimiter(c.limit, c.burst)
		c.callers[caller] = lim
	}
	r := lim.ReserveN(now, 1)
	if d := r.DelayFrom(now); d > 0 {
		r.CancelAt(now)
		c.refused.Add(1)
		return d
	}
	return 0
}

// sweep forgets, at most once per rateSweepEvery, the callers whose bucket
// is full: a new bucket for them would be the same.
func (c *callerRates) sweep(now time.Time) {
	if now.Sub(c.swept) < rateSweepEvery {
		return
	}
	c.swept = now
	for k, lim := range c.callers {
		if lim.TokensAt(now) >= float64(c.burst) {
			delete(c.callers, k)
		}
	}
}

// rateCaller is the key of r's caller for the rate limit: the token's name
// when id was authenticated by a token, else the client's IP address (the
// whole remote address when it has no port: every client of a unix socket
// is one caller).
func rateCaller(r *http.Request, id identity, byToken bool) string {
	if byToken {
		return "token " + id.name
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "addr " + r.RemoteAddr
	}
	return "addr " + host
}

// checkRate takes one request of the caller's rate; beyond it the error is
// EBUSY and Retry-After is set on w.
func (s *server) checkRate(w http.ResponseWriter, r *http.Request, id identity, byToken bool) error {
	rates := s.limits.rates
	if rates == nil {
		return nil
	}
	caller := rateCaller(r, id, byToken)
	d := rates.reserve(caller, time.Now())
	if d == 0 {
		return nil
	}
	setRetryAfter(w, d)
	return hvagent.Errorf(hvagent.EBUSY, "too many requests from %s: at most %g per second (burst %d); retry in %s",
		caller, float64(rates.limit), rates.burst, d.Round(time.Millisecond))
}
