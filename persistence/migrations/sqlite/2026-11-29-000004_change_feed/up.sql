-- The change feed phones pull: one row per committed change of a record. SQLite has one
-- writer at a time and numbers rows inside the write transaction, so the sequence is
-- the commit order; `tx` is always 0 here (PostgreSQL needs it, see its migration).
CREATE TABLE changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tx BIGINT NOT NULL DEFAULT 0,
    record_type TEXT NOT NULL CHECK (record_type IN ('shift', 'encounter', 'municipality')),
    record_id TEXT NOT NULL,
    shift_id TEXT,
    unit_code TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX changes_position ON changes (tx, seq);
CREATE INDEX changes_shift ON changes (shift_id, tx, seq);
