-- The cooperation report counts encounters in shifts with police that started in the
-- period, and how many distinct people they were. It joined a year of encounters to their
-- shifts for the start, and counted the people by sorting their `unit|pseudonym` strings
-- (`count(DISTINCT …)`). Each encounter now carries its shift's start, kept as the police
-- flag is (an encounter never changes shift; a shift's update copies a changed start to
-- its encounters). (The default stays: one process owns an SQLite file.)
ALTER TABLE encounters ADD COLUMN shift_started_at TIMESTAMP NOT NULL DEFAULT '1970-01-01 00:00:00';
UPDATE encounters
    SET shift_started_at = (SELECT started_at FROM shifts WHERE shifts.id = encounters.shift_id);
DROP INDEX encounters_report_police;
CREATE INDEX encounters_report_police ON encounters (
    role, occurred_at, shift_started_at, unit_code, age_group, support_offered
) WHERE voided_at IS NULL AND shift_with_police;
-- The distinct people: in this order the report groups by unit and pseudonym as it reads,
-- without a sort. Not keyed by time, but it holds only encounters that still have a
-- pseudonym, and retention erases pseudonyms, so it spans the retention period at most.
CREATE INDEX encounters_report_people ON encounters (
    role, unit_code, pseudonym, occurred_at, shift_started_at
) WHERE voided_at IS NULL AND shift_with_police AND pseudonym IS NOT NULL;
