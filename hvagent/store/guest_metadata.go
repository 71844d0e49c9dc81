package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hvagent/hvagent/hvagent"
)

// largePatch is the number of keys above which a PATCH is a large write
// for the committer (see committer.doLarge): a few dozen rows take about
// as long as a job's enqueue, hundreds several times longer.
const largePatch = 16

// PatchGuestMetadata upserts the keys of patch into the guest's metadata and
// deletes those whose value is "", with a guest.updated event that carries
// the guest without its metadata. The write costs O(keys in the patch): one
// primary-key row per key, and the guest's key and byte counts kept in its
// row are checked against lim. It returns the updated guest with its
// metadata as the write left it. Errors: ENOTFOUND for an unknown guest;
// EINVALID for an empty or over-long key or value; ETOOLARGE when the
// result is over lim's totals (nothing is written).
//
// Only the writes wait for the writer: the statements and their arguments
// are built, and the guest's metadata read (on the read pool, with its
// metadata_rev), before it. The write applies the sizes of the keys it
// replaces from that read only if metadata_rev is unchanged, and the
// answer is then that read with the patch applied; otherwise the write
// reads the sizes again itself and the answer is read after the commit.
func (db *DB) PatchGuestMetadata(ctx context.Context, id string, patch map[string]string,
	lim hvagent.MetadataLimits) (*hvagent.Guest, error) {
	if err := lim.CheckEntries(patch); err != nil {
		return nil, err
	}
	p, err := newMetadataPatch(id, patch)
	if err != nil {
		return nil, err
	}
	var g *hvagent.Guest
	err = inTx(ctx, db.read, func(tx querier) error { return p.readBase(ctx, tx) })
	if err == nil {
		do := db.commits.do
		if len(patch) > largePatch {
			do = db.commits.doLarge
		}
		err = do(ctx, func(ctx context.Context, tx querier) error {
			var err error
			g, err = p.commit(ctx, tx, db.now(), lim)
			return err
		})
	}
	if err == nil {
		err = p.answer(ctx, db.read, g)
	}
	if err != nil {
		return nil, wrap("patch guest metadata", err)
	}
	return g, nil
}

// nextMetadataRev is the metadata_rev a write of a guest's metadata gives
// it: the ID its guest.updated event will get (events' AUTOINCREMENT
// counter plus one). Every such write records that event, so no two writes
// give the same rev, even to a guest deleted and created again (see
// migration 0007), and none gives 0, the rev of guests never written
// since.
const nextMetadataRev = `(COALESCE((SELECT seq FROM sqlite_sequence WHERE name = 'events'), 0) + 1)`

// readBase reads, in q (a read transaction: one snapshot), guest p.id's
// metadata_rev and metadata, and counts the keys of p it stores and their
// bytes; ENOTFOUND when it is not stored.
func (p *metadataPatch) readBase(ctx context.Context, q querier) error {
	err := q.QueryRowContext(ctx, `SELECT metadata_rev FROM guests WHERE id = ?`, p.id).Scan(&p.rev)
	if errors.Is(err, sql.ErrNoRows) {
		return guestNotFound(p.id)
	}
	if err != nil {
		return fmt.Errorf("read guest %s: %w", p.id, err)
	}
	if p.base, err = readMetadata(ctx, q, p.id); err != nil {
		return err
	}
	p.stored = metadataDelta{}
	for k := range p.patch {
		if v, ok := p.base[k]; ok {
			p.stored.keys, p.stored.bytes = p.stored.keys+1, p.stored.bytes+len(k)+len(v)
		}
	}
	return nil
}

// answer sets g's metadata to what p's write left: readBase's read with p
// applied when the write applied that read (nothing wrote the metadata
// between them), else the metadata read from q now.
func (p *metadataPatch) answer(ctx context.Context, q querier, g *hvagent.Guest) error {
	if !p.fresh {
		return withMetadata(ctx, q, g)
	}
	m := p.base
	if m == nil {
		m = make(map[string]string, len(p.patch))
	}
	for k, v := range p.patch {
		if v == "" {
			delete(m, k)
		} else {
			m[k] = v
		}
	}
	if len(m) == 0 {
		m = nil // none: JSON omits it, as withMetadata
	}
	g.Metadata = m
	return nil
}

// commit writes p in tx: the guest's counts, rev and time (applying the
// sizes readBase read if the guest's metadata_rev is still p.rev, else
// reading them again), checked against lim before any key is written, then
// its keys and the guest.updated event. It returns the guest without its
// metadata.
func (p *metadataPatch) commit(ctx context.Context, tx querier, now time.Time,
	lim hvagent.MetadataLimits) (*hvagent.Guest, error) {
	guestWrite(ctx)
	var r guestRow
	var keys, size int
	const update = `UPDATE guests SET updated_at = ?1, metadata_keys = metadata_keys + ?2,
		metadata_bytes = metadata_bytes + ?3, metadata_rev = ` + nextMetadataRev + `
		WHERE id = ?4`
	const returning = ` RETURNING metadata_keys, metadata_bytes, ` + guestColumns
	d := metadataDelta{p.added.keys - p.stored.keys, p.added.bytes - p.stored.bytes}
	err := tx.QueryRowContext(ctx, update+` AND metadata_rev = ?5`+returning,
		nanos(now), d.keys, d.bytes, p.id, p.rev).Scan(&keys, &size, &r.name, &r.data)
	p.fresh = err == nil
	if errors.Is(err, sql.ErrNoRows) { // written since readBase, or deleted
		var stored metadataDelta
		if stored, err = p.storedSize(ctx, tx); err != nil {
			return nil, err
		}
		d = metadataDelta{p.added.keys - stored.keys, p.added.bytes - stored.bytes}
		err = tx.QueryRowContext(ctx, update+returning, nanos(now), d.keys, d.bytes, p.id).
			Scan(&keys, &size, &r.name, &r.data)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return nil, guestNotFound(p.id)
	}
	if err != nil {
		return nil, fmt.Errorf("update guest %s: %w", p.id, err)
	}
	if err := lim.CheckTotal(keys, size); err != nil {
		return nil, err
	}
	if err := p.apply(ctx, tx); err != nil {
		return nil, err
	}
	g, err := r.decode(p.id)
	if err != nil {
		return nil, err
	}
	return g, insertGuestEvent(ctx, tx, hvagent.EventGuestUpdated, now, g)
}

// metadataDelta is the change in a guest's key count and bytes of keys and
// values.
type metadataDelta struct{ keys, bytes int }

// metadataPatch is a change of one guest's metadata made ready for the
// writer: its statements, chunked, with their arguments.
type metadataPatch struct {
	id    string
	patch map[string]string
	// added counts the keys and bytes the patch sets, before the keys it
	// replaces are subtracted.
	added metadataDelta
	// size reads how many of the patch's keys are stored and their bytes;
	// unset deletes keys, set upserts them.
	size, unset, set []chunkStmt
	// rev and base are the guest's metadata_rev and metadata as readBase
	// read them, stored the keys of the patch base holds and their bytes.
	rev    int64
	base   map[string]string
	stored metadataDelta
	// fresh: the write found rev unchanged and applied stored (set by
	// commit).
	fresh bool
}

// chunkStmt is one statement of a patch with its arguments.
type chunkStmt struct {
	query string
	args  []any
}

// newMetadataPatch prepares patch, a change of guest id's metadata
// ("" values delete), for apply: EINVALID for an empty key. Its statements
// bind the keys and values in sorted order (so that the B-tree is walked
// forward) in chunks of fixed sizes, so that they are prepared once and
// cached on the writer connection.
func newMetadataPatch(id string, patch map[string]string) (*metadataPatch, error) {
	p := &metadataPatch{id: id, patch: patch}
	keys := make([]string, 0, len(patch))
	var set, unset []string
	for k, v := range patch {
		if k == "" {
			return nil, hvagent.Errorf(hvagent.EINVALID, "metadata keys must not be empty")
		}
		keys = append(keys, k)
		if v != "" {
			p.added.keys, p.added.bytes = p.added.keys+1, p.added.bytes+len(k)+len(v)
		}
	}
	slices.Sort(keys)
	for _, k := range keys {
		if patch[k] == "" {
			unset = append(unset, k)
		} else {
			set = append(set, k)
		}
	}
	for _, c := range chunks(keys) {
		p.size = append(p.size, chunkStmt{metadataStmts[len(c)].size, chunkArgs(id, c, nil)})
	}
	for _, c := range chunks(unset) {
		p.unset = append(p.unset, chunkStmt{metadataStmts[len(c)].delete, chunkArgs(id, c, nil)})
	}
	for _, c := range chunks(set) {
		p.set = append(p.set, chunkStmt{metadataStmts[len(c)].upsert, chunkArgs(id, c, patch)})
	}
	return p, nil
}

// storedSize returns how many of p's keys guest p.id stores, and their
// bytes.
func (p *metadataPatch) storedSize(ctx context.Context, q querier) (metadataDelta, error) {
	var d metadataDelta
	for _, c := range p.size {
		var n, size int
		if err := q.QueryRowContext(ctx, c.query, c.args...).Scan(&n, &size); err != nil {
			return d, fmt.Errorf("read metadata of guest %s: %w", p.id, err)
		}
		d.keys, d.bytes = d.keys+n, d.bytes+size
	}
	return d, nil
}

// apply deletes and upserts p's keys in tx.
func (p *metadataPatch) apply(ctx context.Context, tx querier) error {
	guestWrite(ctx)
	for _, c := range p.unset {
		if _, err := tx.ExecContext(ctx, c.query, c.args...); err != nil {
			return fmt.Errorf("delete metadata of guest %s: %w", p.id, err)
		}
	}
	for _, c := range p.set {
		if _, err := tx.ExecContext(ctx, c.query, c.args...); err != nil {
			return fmt.Errorf("set metadata of guest %s: %w", p.id, err)
		}
	}
	return nil
}

// chunkSizes are the row counts of the metadata statements: a chunk of n
// keys is padded (by repeating its last key) to the smallest size that
// holds it, so that a handful of statement texts serve every patch.
var chunkSizes = []int{1, 4, 16, 64, 256}

// chunks splits keys into chunks of at most the largest chunk size, each
// padded to a size of chunkSizes.
func chunks(keys []string) [][]string {
	var out [][]string
	for len(keys) > 0 {
		n := min(len(keys), chunkSizes[len(chunkSizes)-1])
		size := chunkSizes[0]
		for _, s := range chunkSizes {
			if size = s; s >= n {
				break
			}
		}
		c := make([]string, size)
		copy(c, keys[:n])
		for i := n; i < size; i++ {
			c[i] = keys[n-1]
		}
		out, keys = append(out, c), keys[n:]
	}
	return out
}

// metadataSQL holds the statement texts of each chunk size.
type metadataSQL struct{ size, delete, upsert string }

// metadataStmts are the statement texts by chunk size, built once.
var metadataStmts = func() map[int]metadataSQL {
	m := map[int]metadataSQL{}
	for _, n := range chunkSizes {
		in := placeholders(n, false)
		m[n] = metadataSQL{
			size: `SELECT COUNT(*), COALESCE(SUM(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0)
				FROM guest_metadata WHERE guest_id = ?1 AND key IN (` + in + `)`,
			delete: `DELETE FROM guest_metadata WHERE guest_id = ?1 AND key IN (` + in + `)`,
			upsert: `INSERT INTO guest_metadata (guest_id, key, value) VALUES ` + placeholders(n, true) +
				` ON CONFLICT (guest_id, key) DO UPDATE SET value = excluded.value`,
		}
	}
	return m
}()

// placeholders returns "?2, ?3, …" for n parameters numbered from 2 (?1
// is the guest ID), or with row n rows "(?1, ?2, ?3), (?1, ?4, ?5), …".
func placeholders(n int, row bool) string {
	var b strings.Builder
	for i := range n {
		if i > 0 {
			b.WriteString(", ")
		}
		if row {
			fmt.Fprintf(&b, "(?1, ?%d, ?%d)", 2+2*i, 3+2*i)
		} else {
			fmt.Fprintf(&b, "?%d", 2+i)
		}
	}
	return b.String()
}

// chunkArgs returns id followed by keys (and, with values, each key's
// value after it).
func chunkArgs(id string, keys []string, values map[string]string) []any {
	args := make([]any, 0, 1+2*len(keys))
	args = append(args, id)
	for _, k := range keys {
		args = append(args, k)
		if values != nil {
			args = append(args, values[k])
		}
	}
	return args
}

// pageMetadata sets the metadata of a page of guests ordered by ID, all
// after after, in one range read of the metadata table (its key leads with
// the guest ID) instead of one query per guest. Rows of guests in the range
// that are not on the page (a page filtered by name) are skipped.
func pageMetadata(ctx context.Context, q querier, after string, guests []*hvagent.Guest) error {
	if len(guests) == 0 {
		return nil
	}
	byID := make(map[string]*hvagent.Guest, len(guests))
	for _, g := range guests {
		byID[g.ID] = g
	}
	last := guests[len(guests)-1].ID
	rows, err := q.QueryContext(ctx, `SELECT guest_id, key, value FROM guest_metadata
		WHERE guest_id > ? AND guest_id <= ?`, after, last)
	if err != nil {
		return fmt.Errorf("read metadata of guests: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id, k, v string
		if err := rows.Scan(&id, &k, &v); err != nil {
			return fmt.Errorf("read metadata of guests: %w", err)
		}
		g := byID[id]
		if g == nil {
			continue
		}
		if g.Metadata == nil {
			g.Metadata = map[string]string{}
		}
		g.Metadata[k] = v
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read metadata of guests: %w", err)
	}
	return nil
}

// withMetadata sets g.Metadata to its stored metadata, nil when it has none
// (so that JSON omits it).
func withMetadata(ctx context.Context, q querier, g *hvagent.Guest) error {
	m, err := readMetadata(ctx, q, g.ID)
	if err != nil {
		return err
	}
	g.Metadata = m
	return nil
}

// readMetadata returns guest id's stored metadata, nil when it has none.
func readMetadata(ctx context.Context, q querier, id string) (map[string]string, error) {
	rows, err := q.QueryContext(ctx, `SELECT key, value FROM guest_metadata WHERE guest_id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("read metadata of guest %s: %w", id, err)
	}
	defer rows.Close()
	var m map[string]string
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return nil, fmt.Errorf("read metadata of guest %s: %w", id, err)
		}
		if m == nil {
			m = map[string]string{}
		}
		m[k] = v
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("read metadata of guest %s: %w", id, err)
	}
	return m, nil
}
