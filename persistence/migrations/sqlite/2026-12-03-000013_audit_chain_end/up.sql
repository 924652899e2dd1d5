-- The audit sealer found the chain's end (the newest sealed entry) by scanning back over
-- the unsealed entries, and those through an index of them. It now keeps the chain's end
-- in a row of its own and reads the entries after it in chain order, as on PostgreSQL
-- (where this makes a seal an update in place); the index goes.
CREATE TABLE audit_chain_end (
    one BOOLEAN PRIMARY KEY NOT NULL DEFAULT TRUE CHECK (one),
    tx BIGINT NOT NULL,
    seq BIGINT NOT NULL,
    hash TEXT NOT NULL
);
INSERT INTO audit_chain_end (one, tx, seq, hash)
    SELECT TRUE, tx, seq, hash FROM audit_log WHERE hash IS NOT NULL
    ORDER BY tx DESC, seq DESC LIMIT 1;
DROP INDEX audit_log_unsealed;
