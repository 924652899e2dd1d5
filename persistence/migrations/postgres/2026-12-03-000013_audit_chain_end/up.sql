-- The audit sealer found the chain's end (the newest sealed entry) by scanning back over
-- the unsealed entries, and those through an index whose predicate names `hash`: so every
-- seal, which sets `hash`, wrote a new version of its entry with an entry in each of the
-- table's six indexes (a HOT update needs every index to be untouched by it), a second
-- full write of every audit entry. The sealer now keeps the chain's end in a row of its
-- own and reads the entries after it in chain order (`audit_log_chain`); the index goes,
-- and the table leaves room on each page for its entries' sealed versions, which are
-- about half as large again (two hashes of 64 characters), so that a seal is a HOT update.
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
ALTER TABLE audit_log SET (fillfactor = 30);
