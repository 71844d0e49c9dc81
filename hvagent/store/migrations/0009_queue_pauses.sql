-- 0009_queue_pauses: the actions whose jobs the agent does not start
-- (PauseQueue), so that a pause outlives a restart of the agent: an
-- operator who paused the queues for maintenance finds them paused until
-- a resume. "*" pauses every action.

CREATE TABLE queue_pauses (
  action    TEXT PRIMARY KEY NOT NULL CHECK (action <> ''),
  paused_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
