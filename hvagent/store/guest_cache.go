package store

import (
	"database/sql"
	"sync"
	"sync/atomic"

	"github.com/hvagent/hvagent/hvagent"
)

// maxCachedGuests bounds each map of a guestCache; a full map starts over.
const maxCachedGuests = 4096

// guestCache keeps the stored rows of the guests that point lookups found
// (by ID and by name), so that an info or stream action does not run a
// statement to find its guest. Entries hold rows, not guests: each hit is
// decoded anew, so no caller shares a guest with another.
//
// Consistency rests on one generation, bumped by the committer after every
// transaction, before it answers the writes in it. A lookup loads the
// generation before it runs its statement and may fill the cache only with
// that generation, only while it is still current: a lookup whose
// statement may have read a state older than a commit cannot store what it
// read once that commit has been answered. Every entry of the maps was
// read at generation at, and a hit requires at to be current, so a write
// answered to its caller is seen by every lookup that starts after.
type guestCache struct {
	gen atomic.Uint64

	mu     sync.RWMutex
	at     uint64                 // the generation every entry was read at
	byID   map[string]guestRecord // by guest ID
	byName map[string]guestRecord // by guest name
}

// guestRecord is what a point lookup reads of a guest: its ID, its
// guestColumns and its metadataObject.
type guestRecord struct {
	id  string
	row guestRow
	md  sql.NullString
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

// bump ends the current generation: no entry read before it is served or
// stored again. The committer calls it after each transaction, committed
// or not, before answering its writes.
func (c *guestCache) bump() { c.gen.Add(1) }

// get returns the record cached under key (a name when byName, else an
// ID) if it was read at generation gen.
func (c *guestCache) get(byName bool, key string, gen uint64) (guestRecord, bool) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if c.at != gen {
		return guestRecord{}, false
	}
	m := c.byID
	if byName {
		m = c.byName
	}
	r, ok := m[key]
	return r, ok
}

// put caches r, read by a statement that ran after generation gen was
// loaded, under key (a name when byName, else an ID), unless gen has
// ended since. Entries of an ended generation are dropped first.
func (c *guestCache) put(byName bool, key string, r guestRecord, gen uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen.Load() {
		return
	}
	if c.at != gen || c.byID == nil {
		c.at, c.byID, c.byName = gen, map[string]guestRecord{}, map[string]guestRecord{}
	}
	m := c.byID
	if byName {
		m = c.byName
	}
	if len(m) >= maxCachedGuests {
		clear(m)
	}
	m[key] = r
}
