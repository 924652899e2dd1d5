-- The audit log: append-only, every entry chained to the one before by a hash. Entries are
-- written unsealed (hash NULL) by the requests themselves; a background task seals them
-- in seq order (SQLite numbers them in commit order; `tx` is 0, see the PostgreSQL migration).
CREATE TABLE audit_log (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    tx BIGINT NOT NULL DEFAULT 0,
    at TIMESTAMP NOT NULL,
    user_id TEXT,
    username TEXT,
    role TEXT,
    unit_code TEXT,
    session_id TEXT,
    action TEXT NOT NULL,
    record_type TEXT,
    record_id TEXT,
    request_id TEXT,
    outcome TEXT NOT NULL,
    prev_hash TEXT,
    hash TEXT
);
CREATE INDEX audit_log_chain ON audit_log (tx, seq);
CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE hash IS NULL;
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_record ON audit_log (record_id);
CREATE INDEX audit_log_user ON audit_log (username);

-- The retention job's permission to prune, held only inside its own transaction.
CREATE TABLE audit_prune_permits (
    id TEXT PRIMARY KEY NOT NULL
);

-- No entry changes once written, except that an unsealed one gets its link and hash;
-- none is deleted, except by the retention job while it holds a permit.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
WHEN NOT (
    OLD.hash IS NULL AND NEW.hash IS NOT NULL
    AND NEW.seq IS OLD.seq AND NEW.tx IS OLD.tx AND NEW.at IS OLD.at
    AND NEW.user_id IS OLD.user_id AND NEW.username IS OLD.username AND NEW.role IS OLD.role
    AND NEW.unit_code IS OLD.unit_code AND NEW.session_id IS OLD.session_id
    AND NEW.action IS OLD.action AND NEW.record_type IS OLD.record_type
    AND NEW.record_id IS OLD.record_id AND NEW.request_id IS OLD.request_id
    AND NEW.outcome IS OLD.outcome
)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;

CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
WHEN NOT EXISTS (SELECT 1 FROM audit_prune_permits)
BEGIN
    SELECT RAISE(ABORT, 'audit_log is append-only');
END;
