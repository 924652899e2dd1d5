-- The change feed phones pull: one row per committed change of a record, in the order a
-- reader may safely pass them. A sequence alone is not that order on PostgreSQL: a
-- transaction holding an earlier number can commit after a later one. So each row also
-- carries its transaction id, and a reader only reads rows of transactions older than
-- every transaction still running (the snapshot's xmin), ordered by (tx, seq).
CREATE TABLE changes (
    seq BIGSERIAL PRIMARY KEY,
    tx BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
    record_type TEXT NOT NULL CHECK (record_type IN ('shift', 'encounter', 'municipality')),
    record_id TEXT NOT NULL,
    -- The shift a shift or encounter change belongs to, for scoping a device's feed.
    shift_id TEXT,
    -- The owning unit of an encounter.
    unit_code TEXT,
    at TIMESTAMP NOT NULL
);
CREATE INDEX changes_position ON changes (tx, seq);
CREATE INDEX changes_shift ON changes (shift_id, tx, seq);
