-- 0001_init: guests, hypervisor metadata, jobs, events and idempotency keys.
-- Times are INTEGER unix nanoseconds; 0 means unset.

CREATE TABLE guests (
  id         TEXT PRIMARY KEY NOT NULL CHECK (id <> ''),
  -- the guest's JSON without its metadata, which lives in its own column
  data       TEXT NOT NULL CHECK (json_valid(data) AND json_type(data) = 'object'),
  metadata   TEXT NOT NULL DEFAULT '{}'
             CHECK (json_valid(metadata) AND json_type(metadata) = 'object'),
  created_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
) STRICT;

CREATE TABLE hypervisor_metadata (
  key   TEXT PRIMARY KEY NOT NULL CHECK (key <> ''),
  value TEXT NOT NULL CHECK (value <> '')
) STRICT;

CREATE TABLE jobs (
  -- seq orders each queue (FIFO) and the job log (newest first)
  seq              INTEGER PRIMARY KEY AUTOINCREMENT,
  id               TEXT NOT NULL UNIQUE CHECK (id <> ''),
  queue            TEXT NOT NULL CHECK (queue <> ''),
  guest_id         TEXT NOT NULL CHECK (guest_id <> ''),
  action           TEXT NOT NULL CHECK (action <> ''),
  status           TEXT NOT NULL DEFAULT 'Queued'
                   CHECK (status IN ('Queued', 'Running', 'Complete', 'Error', 'Canceled')),
  message          TEXT NOT NULL DEFAULT '',
  stage            TEXT NOT NULL DEFAULT '',
  stage_started_at INTEGER NOT NULL DEFAULT 0,
  progress_done    INTEGER,
  progress_total   INTEGER,
  attempt          INTEGER NOT NULL DEFAULT 0 CHECK (attempt >= 0),
  requested_by     TEXT NOT NULL DEFAULT '',
  idempotency_key  TEXT NOT NULL DEFAULT '',
  queued_at        INTEGER NOT NULL,
  started_at       INTEGER NOT NULL DEFAULT 0,
  updated_at       INTEGER NOT NULL,
  finished_at      INTEGER,
  result           TEXT CHECK (result IS NULL OR json_valid(result)),
  request          TEXT CHECK (request IS NULL OR json_valid(request)),
  -- attempt errors: [{at, attempt, stage, error}]
  errors           TEXT NOT NULL DEFAULT '[]'
                   CHECK (json_valid(errors) AND json_type(errors) = 'array'),
  CHECK ((progress_done IS NULL) = (progress_total IS NULL)),
  CHECK ((finished_at IS NULL) = (status IN ('Queued', 'Running')))
) STRICT;

CREATE INDEX jobs_queue_status_seq ON jobs (queue, status, seq);
CREATE INDEX jobs_status_seq ON jobs (status, seq);
CREATE INDEX jobs_guest_seq ON jobs (guest_id, seq);

-- events.id is the rowid, so the primary key is the index by id.
CREATE TABLE events (
  id      INTEGER PRIMARY KEY AUTOINCREMENT,
  type    TEXT NOT NULL CHECK (type IN ('job.updated', 'guest.updated', 'guest.deleted')),
  at      INTEGER NOT NULL,
  payload TEXT NOT NULL CHECK (json_valid(payload) AND json_type(payload) = 'object')
) STRICT;

CREATE TABLE idempotency_keys (
  scope      TEXT NOT NULL,
  key        TEXT NOT NULL CHECK (key <> ''),
  hash       TEXT NOT NULL,
  job_id     TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  expires_at INTEGER NOT NULL,
  PRIMARY KEY (scope, key)
) STRICT;

CREATE INDEX idempotency_keys_job_id ON idempotency_keys (job_id);
CREATE INDEX idempotency_keys_expires_at ON idempotency_keys (expires_at);
