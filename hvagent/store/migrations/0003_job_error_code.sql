-- 0003_job_error_code: the error code word of a job that ended in Error or
-- Canceled (one of the words of hvagent's error table: canceled, timeout,
-- not_found, conflict, subagent, internal, unavailable, ...), '' for any
-- other job.
--
-- Jobs that ended before this migration get the code their message tells
-- for certain: a Canceled job was canceled; a job failed by recovery was
-- interrupted by an agent restart or shutdown (unavailable); a job that ran
-- out of time timed out. Other failed jobs keep '' (unclassified): their
-- cause was not recorded.

ALTER TABLE jobs ADD COLUMN error_code TEXT NOT NULL DEFAULT ''
  CHECK (error_code = '' OR status IN ('Error', 'Canceled'));

UPDATE jobs SET error_code = 'canceled' WHERE status = 'Canceled';

UPDATE jobs
SET error_code = CASE
      WHEN message LIKE 'interrupted by agent %' THEN 'unavailable'
      WHEN message LIKE 'timed out in stage %' THEN 'timeout'
      ELSE '' END
WHERE status = 'Error';
