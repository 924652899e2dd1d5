-- SQLite has no TRUNCATE, and DELETE without WHERE fires the triggers of 2026-11-29-000006
-- (the truncate optimisation is off for tables with triggers). Kept in step with PostgreSQL.
SELECT 1;
