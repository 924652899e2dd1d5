DROP INDEX encounters_report_police;
ALTER TABLE encounters DROP COLUMN shift_with_police;
