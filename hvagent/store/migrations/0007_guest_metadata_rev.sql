-- 0007_guest_metadata_rev: guests.metadata_rev changes with each write of
-- a guest's metadata, so that a PATCH can read the sizes of the keys it
-- replaces before it reaches the writer (on the read pool) and the write
-- only checks that the rev is the one read with them, instead of reading
-- them again while every other write waits.
--
-- A write sets it to the ID its guest.updated event gets (the events
-- AUTOINCREMENT counter plus one): revs never repeat, even for a guest
-- deleted and created again under the same ID, and are never 0, the rev of
-- the guests stored before this migration.

ALTER TABLE guests ADD COLUMN metadata_rev INTEGER NOT NULL DEFAULT 0 CHECK (metadata_rev >= 0);
