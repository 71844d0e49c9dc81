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
// of at most 128 rows, so other writes wait for one batch at most.
package store
