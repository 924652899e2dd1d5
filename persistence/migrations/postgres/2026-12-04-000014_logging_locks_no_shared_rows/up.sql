-- An encounter's foreign keys are checked by a query that locks the row it names (FOR KEY
-- SHARE). For the unit and the worker that is the same row in every transaction that logs:
-- each lock wrote a WAL record, and two transactions logging at once shared it through a
-- multixact. Without these two checks the headline logged 12–15% more encounters a second
-- (BENCHMARKS.md, the thirteenth fixes). The shift's key stays: it is the record an
-- encounter belongs to.
--
-- Units change only by migration and are a closed list in the code (`Unit`): an
-- encounter's unit is checked against that list, as its role is, without a lookup. A
-- migration that adds a unit changes this constraint too.
ALTER TABLE encounters DROP CONSTRAINT encounters_unit_code_fkey;
ALTER TABLE encounters ADD CONSTRAINT encounters_unit_code_check CHECK (unit_code IN
    ('mika', 'kast', 'ungdomsjouren', 'regionkoordinator_vuxna', 'regionkoordinator_barn'));

-- The worker who logged an encounter is always the account of the session that sent it,
-- read by the server (for a PUT in the transaction that writes, for a push just before
-- it), never a value from a request. What the key also guarded against, an account
-- deleted from under its encounters, the database now refuses for every account: accounts
-- are disabled, never deleted. (TRUNCATE is refused, or with CASCADE takes the shifts and
-- so the encounters with it, through the keys that stay.)
ALTER TABLE encounters DROP CONSTRAINT encounters_logged_by_fkey;
CREATE FUNCTION users_never_deleted() RETURNS trigger AS $$
BEGIN
    RAISE EXCEPTION 'users are disabled, never deleted';
END;
$$ LANGUAGE plpgsql;
CREATE TRIGGER users_never_deleted
    BEFORE DELETE ON users
    FOR EACH ROW EXECUTE FUNCTION users_never_deleted();
