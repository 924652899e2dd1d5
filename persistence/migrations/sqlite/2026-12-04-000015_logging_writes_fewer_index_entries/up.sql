-- Nothing to change on SQLite. On PostgreSQL this migration drops two indexes that every
-- logged encounter wrote to. Here the change feed's key is its rowid (its `(tx, seq)`
-- index, `tx` always 0, stays for the feed's `ORDER BY tx, seq`), and the home report's
-- index stays partial: SQLite's municipalities report is the nearest to its limit
-- (BENCHMARKS.md), and its logging, in-process, is twice its target.
SELECT 1;
