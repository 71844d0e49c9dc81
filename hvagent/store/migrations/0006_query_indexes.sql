-- 0006_query_indexes: an index for each filter of the job list that had
-- none, so that GET /jobs?action= and ?guest= by name read only the
-- matching jobs, newest first, instead of walking the whole log.
--
-- The job list orders by seq; each index ends with seq so that a filter
-- and a page (before=<job>) are one index range read in order.

CREATE INDEX jobs_action_seq ON jobs (action, seq);
CREATE INDEX jobs_guest_name_seq ON jobs (guest_name, seq);
