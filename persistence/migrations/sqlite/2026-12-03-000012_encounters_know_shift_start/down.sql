DROP INDEX encounters_report_people;
DROP INDEX encounters_report_police;
ALTER TABLE encounters DROP COLUMN shift_started_at;
CREATE INDEX encounters_report_police ON encounters (
    role, occurred_at, shift_id, unit_code, age_group, support_offered, pseudonym
) WHERE voided_at IS NULL AND shift_with_police;
