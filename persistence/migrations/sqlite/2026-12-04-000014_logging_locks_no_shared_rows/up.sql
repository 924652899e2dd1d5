-- Accounts are disabled, never deleted, on both backends. (On PostgreSQL an encounter's
-- worker is no longer a foreign key, whose check locked the account's row; SQLite's
-- check takes no lock, and its keys stay.)
CREATE TRIGGER users_never_deleted
    BEFORE DELETE ON users
BEGIN
    SELECT RAISE(ABORT, 'users are disabled, never deleted');
END;
