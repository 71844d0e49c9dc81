-- 0005_guest_metadata: a guest's metadata moves from the JSON column
-- guests.metadata to one row per key, so that a PATCH writes the keys it
-- names and nothing else (json_patch rewrote the whole object, in time
-- proportional to all the guest's keys, while holding the writer).
--
-- guests.metadata_keys and metadata_bytes count a guest's keys and the
-- bytes of its keys and values, kept by each write, so that checking the
-- limits of a PATCH costs O(keys in the patch) too.
--
-- guests.metadata stays (SQLite cannot drop a column named by a CHECK) but
-- is '{}' from here on and no longer read. Keys and values are never empty,
-- as before; a guest's rows go with it.

CREATE TABLE guest_metadata (
  guest_id TEXT NOT NULL REFERENCES guests (id) ON DELETE CASCADE,
  key      TEXT NOT NULL CHECK (key <> ''),
  value    TEXT NOT NULL CHECK (value <> ''),
  PRIMARY KEY (guest_id, key)
) STRICT, WITHOUT ROWID;

INSERT INTO guest_metadata (guest_id, key, value)
SELECT g.id, m.key, m.value
FROM guests AS g, json_each(g.metadata) AS m
WHERE m.key <> '' AND m.type = 'text' AND m.value <> '';

ALTER TABLE guests ADD COLUMN metadata_keys INTEGER NOT NULL DEFAULT 0 CHECK (metadata_keys >= 0);
ALTER TABLE guests ADD COLUMN metadata_bytes INTEGER NOT NULL DEFAULT 0 CHECK (metadata_bytes >= 0);

UPDATE guests SET
  metadata_keys  = (SELECT COUNT(*) FROM guest_metadata WHERE guest_id = guests.id),
  metadata_bytes = (SELECT COALESCE(SUM(length(CAST(key AS BLOB)) + length(CAST(value AS BLOB))), 0)
                    FROM guest_metadata WHERE guest_id = guests.id),
  metadata       = '{}';
