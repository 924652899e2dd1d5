-- The cooperation report counts a year of encounters in shifts with police. Each
-- encounter carries its shift's police flag, kept by the writes (an encounter never
-- changes shift; a shift's update copies its flag to its encounters), so that the report
-- reads one narrow covering index of only those encounters instead of joining a year of
-- encounters to their shifts. (SQLite cannot drop a column's default as PostgreSQL's
-- migration does; one process owns an SQLite file, so no older instance writes beside it.)
ALTER TABLE encounters ADD COLUMN shift_with_police BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE encounters SET shift_with_police = TRUE
    WHERE shift_id IN (SELECT id FROM shifts WHERE with_police);
CREATE INDEX encounters_report_police ON encounters (
    role, occurred_at, shift_id, unit_code, age_group, support_offered, pseudonym
) WHERE voided_at IS NULL AND shift_with_police;
