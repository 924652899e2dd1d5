-- Each logged encounter writes an entry into every index of its encounter row, its
-- change-feed row and its audit entry. Two of those indexes hold nothing another does not:
--
-- The change feed is read in (tx, seq) order and never by `seq` alone, so its position is
-- its key, and the key on `seq` alone goes (`seq` stays unique: it is numbered by its
-- sequence). The new key is built over the whole feed while the table is locked: the
-- server runs this at startup, before it serves (an older instance still serving waits).
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ADD CONSTRAINT changes_pkey PRIMARY KEY (tx, seq);
DROP INDEX changes_position;

-- Encounters by when they were met: the home report's index now holds voided encounters
-- too (with `voided_at`, so the report still reads the index alone and leaves them out),
-- and retention, which erases voided encounters' details as well, reads it instead of an
-- index of its own.
DROP INDEX encounters_report_home;
CREATE INDEX encounters_report_home ON encounters (occurred_at)
    INCLUDE (home_municipality, role, unit_code, voided_at);
DROP INDEX encounters_occurred;
