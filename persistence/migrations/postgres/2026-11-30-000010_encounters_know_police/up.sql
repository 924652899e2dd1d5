-- The cooperation report counts a year of encounters in shifts with police. Joining a
-- year of encounters to their shifts to find those read the whole table (a parallel scan
-- with a hash join, 436-821 ms at 1,000,000 encounters). Each encounter now carries its
-- shift's police flag, kept by the writes (an encounter never changes shift; a shift's
-- update copies its flag to its encounters), so that the report reads one narrow index of
-- only those encounters.
ALTER TABLE encounters ADD COLUMN shift_with_police BOOLEAN NOT NULL DEFAULT FALSE;
UPDATE encounters e SET shift_with_police = TRUE
    FROM shifts s WHERE s.id = e.shift_id AND s.with_police;
-- No default from now on: an instance still running the code before this migration (a
-- rolling upgrade) does not know the column, and its insert must fail (the phone retries
-- on a new instance) rather than store an encounter the report would silently miss.
ALTER TABLE encounters ALTER COLUMN shift_with_police DROP DEFAULT;
CREATE INDEX encounters_report_police ON encounters (role, occurred_at)
    INCLUDE (shift_id, unit_code, age_group, support_offered, pseudonym)
    WHERE voided_at IS NULL AND shift_with_police;
