-- The audit log: append-only, every entry chained to the one before by a hash. Entries are
-- written unsealed (hash NULL) by the requests themselves; a background task seals them
-- in (tx, seq) order, the order in which they become visible, as the change feed reads.
CREATE TABLE audit_log (
    seq BIGSERIAL PRIMARY KEY,
    tx BIGINT NOT NULL DEFAULT (pg_current_xact_id()::text::bigint),
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
CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$
BEGIN
    IF TG_OP = 'UPDATE'
        AND OLD.hash IS NULL AND NEW.hash IS NOT NULL
        AND (NEW.seq, NEW.tx, NEW.at, NEW.user_id, NEW.username, NEW.role, NEW.unit_code,
             NEW.session_id, NEW.action, NEW.record_type, NEW.record_id, NEW.request_id,
             NEW.outcome)
            IS NOT DISTINCT FROM
            (OLD.seq, OLD.tx, OLD.at, OLD.user_id, OLD.username, OLD.role, OLD.unit_code,
             OLD.session_id, OLD.action, OLD.record_type, OLD.record_id, OLD.request_id,
             OLD.outcome)
    THEN
        RETURN NEW;
    END IF;
    IF TG_OP = 'DELETE' AND EXISTS (SELECT 1 FROM audit_prune_permits) THEN
        RETURN OLD;
    END IF;
    RAISE EXCEPTION 'audit_log is append-only';
END;
$$ LANGUAGE plpgsql;

CREATE TRIGGER audit_log_append_only
    BEFORE UPDATE OR DELETE ON audit_log
    FOR EACH ROW EXECUTE FUNCTION audit_log_append_only();
