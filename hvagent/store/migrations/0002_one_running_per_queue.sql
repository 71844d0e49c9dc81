-- 0002_one_running_per_queue: at most one Running job per queue, enforced
-- by SQLite itself.
--
-- Before this migration an agent that failed to record a job's end could
-- claim the next job of the queue while the first one stayed Running. Such a
-- job is stale: a later job of its queue (greater seq) has been claimed
-- since (started_at <> 0), which FIFO order allows only after it ended. Its
-- outcome is unknown, and requeueing it would run it after the jobs queued
-- behind it, reversing their order; so it ends here as Error. A queue is
-- then left with at most one Running job (the newest one claimed), which
-- recovery requeues or fails by its action's policy at the next start.
-- Migrations record no events: event payloads are built by the program.
-- Times are unix nanoseconds at millisecond precision (julianday works on
-- every SQLite version, unlike unixepoch('subsec')).

UPDATE jobs
SET status      = 'Error',
    message     = 'outcome unknown: the end of this job was not recorded and later jobs of its queue ran',
    finished_at = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 1000000,
    updated_at  = CAST((julianday('now') - 2440587.5) * 86400000 AS INTEGER) * 1000000,
    errors      = json_insert(errors, '$[#]', json_object(
                    'at', strftime('%Y-%m-%dT%H:%M:%fZ', 'now'),
                    'attempt', attempt,
                    'stage', stage,
                    'error', 'outcome unknown: the end of this job was not recorded and later jobs of its queue ran'))
WHERE status = 'Running'
  AND EXISTS (SELECT 1 FROM jobs AS later
              WHERE later.queue = jobs.queue AND later.seq > jobs.seq AND later.started_at <> 0);

CREATE UNIQUE INDEX jobs_running_queue ON jobs (queue) WHERE status = 'Running';
