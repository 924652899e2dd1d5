-- The cooperation report counts encounters in shifts with police that started in the
-- period, and how many distinct people they were. It joined a year of encounters to their
-- shifts for the start (a hash join, 40-60 ms of each of its two queries at 1,000,000
-- encounters), and counted the people by sorting 170,000 `unit|pseudonym` strings with the
-- database's collation (`count(DISTINCT …)`: 120-180 ms). Each encounter now carries its
-- shift's start, kept as the police flag is (an encounter never changes shift; a shift's
-- update copies a changed start to its encounters under the shift's exclusive lock).
ALTER TABLE encounters ADD COLUMN shift_started_at TIMESTAMP;
UPDATE encounters e SET shift_started_at = s.started_at FROM shifts s WHERE s.id = e.shift_id;
-- NOT NULL and no default, as for the police flag: an instance still running the code
-- before this migration must fail to insert rather than store an encounter the report
-- would miss.
ALTER TABLE encounters ALTER COLUMN shift_started_at SET NOT NULL;
DROP INDEX encounters_report_police;
-- A pseudonym is a unit's opaque code: compared for equality and grouped, never sorted for
-- people to read, so byte order (C) instead of the locale's rules, which cost a `strcoll`
-- per comparison in every index that holds it.
ALTER TABLE encounters ALTER COLUMN pseudonym TYPE TEXT COLLATE "C";
CREATE INDEX encounters_report_police ON encounters (role, occurred_at)
    INCLUDE (shift_started_at, unit_code, age_group, support_offered)
    WHERE voided_at IS NULL AND shift_with_police;
-- The distinct people: in this order the report groups by unit and pseudonym as it reads,
-- without a sort. Not keyed by time, but it holds only encounters that still have a
-- pseudonym, and retention erases pseudonyms, so it spans the retention period at most.
CREATE INDEX encounters_report_people ON encounters (role, unit_code, pseudonym)
    INCLUDE (occurred_at, shift_started_at)
    WHERE voided_at IS NULL AND shift_with_police AND pseudonym IS NOT NULL;
