DROP TRIGGER users_never_deleted ON users;
DROP FUNCTION users_never_deleted();
ALTER TABLE encounters ADD CONSTRAINT encounters_logged_by_fkey
    FOREIGN KEY (logged_by) REFERENCES users (id);
ALTER TABLE encounters DROP CONSTRAINT encounters_unit_code_check;
ALTER TABLE encounters ADD CONSTRAINT encounters_unit_code_fkey
    FOREIGN KEY (unit_code) REFERENCES units (code);
