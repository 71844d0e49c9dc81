package store

import (
	"database/sql"
	"sync"
	"sync/atomic"

	"github.com/hvagent/hvagent/hvagent"
)

// Bounds of a guestCache: a put that would pass either empties the cache
// first. maxCachedBytes counts the stored text of the cached guests (their
// data, name and metadata columns), so that guests carrying large metadata
// hold fewer entries.
const (
	maxCachedGuests = 4096
	maxCachedBytes  = 4 << 20
)

// cachedGuestOverhead is what an entry costs besides its stored text (the
// guest struct, its map slot, keys), in maxCachedBytes' count.
const cachedGuestOverhead = 256

// guestCache keeps the guests that point lookups found (by ID and by name),
// so that an info or stream action does not run a statement to find its
// guest. The cached guests are never handed out: each hit is a deep copy
// (Guest.Clone), so no caller shares a guest with another or with the cache.
//
// Consistency rests on one generation, kept by the committer as a
// sequence lock: it turns odd right before the COMMIT of each transaction
// that may have written a guest (hold) and even again after that
// transaction, before the committer answers the writes in it (bump). A
// transaction that wrote no guest row and no guest metadata (see
// guestWrite) leaves the generation alone: a job's claim, stage or end
// with its guest unchanged does not empty the cache. A lookup loads the generation before it runs its statement;
// it is served from the cache, or may fill it, only with an even
// generation that is still current. So a lookup whose statement may have
// read a state older than a commit cannot store what it read once that
// commit has begun, and between a COMMIT and the answer to its writers,
// when the new state is already visible to readers of the database (the
// event log among them), no lookup is served an entry read before it.
// Every entry of the maps was read at generation at, and a hit requires at
// to be current.
type guestCache struct {
	gen atomic.Uint64

	mu     sync.RWMutex
	at     uint64                    // the generation every entry was read at
	byID   map[string]*hvagent.Guest // by guest ID
	byName map[string]*hvagent.Guest // by guest name
	bytes  int                       // the entries' sizes (see guestRecord.size)
}

// guestRecord is what a point lookup reads of a guest: its ID, its
// guestColumns and its metadataObject.
type guestRecord struct {
	id  string
	row guestRow
	md  sql.NullString
}

// size is what the guest of r counts against maxCachedBytes.
func (r *guestRecord) size() int {
	return len(r.id) + len(r.row.name.String) + len(r.row.data) + len(r.md.String) + cachedGuestOverhead
}

// decode rebuilds the guest of r, with its metadata.
func (r *guestRecord) decode() (*hvagent.Guest, error) {
	g, err := r.row.decode(r.id)
	if err != nil {
		return nil, err
	}
	return g, decodeMetadata(g, r.md)
}

// generation returns the current generation, to load before a lookup's
// statement runs.
func (c *guestCache) generation() uint64 { return c.gen.Load() }

// hold marks a COMMIT in flight (an odd generation): until bump, no
// lookup is served from the cache or fills it. The committer calls it
// right before each COMMIT.
func (c *guestCache) hold() {
	if g := c.gen.Load(); g%2 == 0 {
		c.gen.Store(g + 1)
	}
}

// bump ends the current generation and a hold (the next even one): no
// entry read before it is served or stored again. The committer calls it
// after each transaction, committed or not, before answering its writes.
// Only the committer's goroutine changes the generation.
func (c *guestCache) bump() { c.gen.Store((c.gen.Load() | 1) + 1) }

// current reports whether gen is a generation the cache may serve or be
// filled at: even (no COMMIT in flight) and not ended.
func (c *guestCache) current(gen uint64) bool { return gen%2 == 0 && gen == c.gen.Load() }

// get returns a copy of the guest cached under key (a name when byName,
// else an ID) if it was read at generation gen, else nil.
func (c *guestCache) get(byName bool, key string, gen uint64) *hvagent.Guest {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.at != gen || !c.current(gen) {
		return nil
	}
	m := c.byID
	if byName {
		m = c.byName
	}
	if g, ok := m[key]; ok {
		return g.Clone()
	}
	return nil
}

// put caches a copy of g, whose stored text counts size bytes (see
// guestRecord.size), read by a statement that ran after generation gen was
// loaded, under key (a name when byName, else an ID), unless gen has ended
// since. Entries of an ended generation are dropped first, and all entries
// when the new one would pass a bound.
func (c *guestCache) put(byName bool, key string, g *hvagent.Guest, size int, gen uint64) {
	if size > maxCachedBytes {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.current(gen) {
		return
	}
	m := c.byID
	if byName {
		m = c.byName
	}
	if c.at != gen || c.byID == nil || len(m) >= maxCachedGuests || c.bytes+size > maxCachedBytes {
		c.at, c.byID, c.byName, c.bytes = gen, map[string]*hvagent.Guest{}, map[string]*hvagent.Guest{}, 0
		m = c.byID
		if byName {
			m = c.byName
		}
	}
	if _, ok := m[key]; !ok {
		c.bytes += size
	}
	m[key] = g.Clone()
}
