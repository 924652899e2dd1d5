ALTER TABLE audit_log RESET (fillfactor);
CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE hash IS NULL;
DROP TABLE audit_chain_end;
