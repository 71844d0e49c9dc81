-- 0005_guest_metadata: a guest's metadata moves from the JSON column
-- guests.metadata to one row per key, so that a PATCH writes the keys it
-- names and nothing else (json_patch rewrote the whole object, in time
-- proportional to all the guest's keys, while holding the writer).
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

UPDATE guests SET metadata = '{}' WHERE metadata <> '{}';
