// Package store is the SQLite implementation of hvagent.Store: guests,
// hypervisor metadata, the job log with its FIFO queues, the event log and
// idempotency keys, in one database file.
//
// # Durability
//
// Every change is one transaction on a single writer connection (BEGIN
// IMMEDIATE) and inserts its events in the same transaction; queries use a
// separate read-only pool, so reads never wait for the writer. With
// Options.Durability "full" a committed change survives a power loss, with
// "normal" it survives a process crash.
//
// Concurrent changes share a commit (group commit): each is atomic and
// fails alone (in a savepoint of its own, or, for a job's transitions, run
// again in a new transaction when a later one fails), the committer takes
// in the changes that arrive while its transaction runs, for at most 2 ms
// of statements, and every caller returns only once the commit that holds
// its change is durable. A change, once
// started, runs to its end; the caller's context bounds its wait for the
// writer. A large change (a guest metadata PATCH or new guest of more than
// 16 keys) is never taken in behind other changes, whose commit would wait
// for it: it begins a transaction of its own, and the changes that arrive
// while it runs share its commit.
//
// A guest metadata PATCH does its reads before it reaches the writer: the
// guest's metadata, and the metadata_rev that every write of it changes,
// are read on the read pool; the write applies the sizes of the keys it
// replaces from that read only if the rev is unchanged (else it reads them
// again), so the writer only updates the guest row, writes the keys (one
// upsert and one delete statement per 256 keys) and records the event.
//
// A write refused for want of disk space (SQLITE_FULL, ENOSPC; also the
// max_page_count cap) gives EUNAVAILABLE, "the database disk is full":
// nothing of it is kept, reads go on, and writes succeed again once space
// is freed, with no reopening.
//
// # Ownership
//
// Open takes an exclusive flock on <path>.lock, which records the owner's
// pid; a second Open of the same database, from any process, fails with
// ECONFLICT until the first DB is closed or its process exits.
//
// # Schema
//
// Migrations are numbered SQL files embedded in the binary and applied by
// Open, each in its own transaction. Tables are STRICT and CHECK the job
// state machine. Times are unix nanoseconds, 0 for the zero time. Every
// filter and page of the API reads an index (TestDB_QueryPlans checks each
// statement's plan).
//
// # Retention
//
// Prune keeps the newest finished jobs and events; it deletes in commits
// of at most 16 jobs or 256 events or keys, pausing after each batch as
// long as it took, so other writes wait for one short batch at most.
//
// # Checkpoints
//
// The WAL is copied into the database file off the writer's path: SQLite's
// auto-checkpoint, which runs inside the commit that brings the WAL to
// 1,000 pages and holds every write meanwhile, is off on the writer
// connection. A background goroutine runs PASSIVE checkpoints on its own
// connection (with the writer's synchronous setting, so they fsync as
// SQLite's own do), kicked after commits, at most every 20 ms; they never
// take the write lock. Since a PASSIVE checkpoint cannot restart the WAL,
// once the WAL reaches 16,384 pages the committer, before its next
// transaction, checkpoints the few frames committed since the last
// background pass, and SQLite starts the WAL over: the WAL stays bounded
// under continuous writes, and journal_size_limit trims its file after a
// burst.
package store
