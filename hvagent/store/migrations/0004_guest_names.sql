-- 0004_guest_names: a guest may have a name, unique on the host; jobs
-- record the name of their guest.
--
-- A name is a DNS label (1 to 63 of a-z, 0-9 and -, not starting or ending
-- with -) that does not parse as a UUID (the 36-character form with dashes,
-- or 32 hex digits), so that a string names a guest either by ID or by name,
-- never both. NULL is no name; the unique index holds any number of them.
-- The name lives in this column only, never in the guest's data, so a stage
-- result cannot change it.
--
-- jobs.guest_name is the guest's name, copied at enqueue and kept up to date
-- by a rename; a deleted guest's jobs keep its last name. '' is no name.

ALTER TABLE guests ADD COLUMN name TEXT CHECK (name IS NULL OR (
  length(name) BETWEEN 1 AND 63
  AND name NOT GLOB '*[^a-z0-9-]*'
  AND name NOT GLOB '-*'
  AND name NOT GLOB '*-'
  AND NOT (length(name) = 32 AND name NOT GLOB '*[^0-9a-f]*')
  AND name NOT GLOB
    '[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f]-[0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f][0-9a-f]'));

CREATE UNIQUE INDEX guests_name ON guests (name);

ALTER TABLE jobs ADD COLUMN guest_name TEXT NOT NULL DEFAULT '';
