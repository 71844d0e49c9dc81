-- 0008_live_queue_index: the queue index holds only the jobs that are still
-- Queued or Running, in queue order.
--
-- Every query that reads a queue asks for its Queued or its Running jobs
-- (the head, the length, a position, the running job), never for its
-- finished ones, which the index held too: with the status before seq in
-- the key, a job's claim and its end each moved its entry to another part
-- of its queue's range, often to another page, and those pages were a
-- third of what each commit wrote to the WAL. Keyed by seq and holding
-- only live jobs, a claim rewrites its entry in place and an end removes
-- the entry next to the one the next claim rewrites: one page for both.
-- The status, last in the key, still answers the queries from the index.
-- The terms are ORed (not IN) so that SQLite sees that a query's
-- status = 'Queued' or status = 'Running' falls within the index.

DROP INDEX jobs_queue_status_seq;
CREATE INDEX jobs_queue_live ON jobs (queue, seq, status) WHERE status = 'Queued' OR status = 'Running';
