CREATE INDEX audit_log_unsealed ON audit_log (seq) WHERE hash IS NULL;
DROP TABLE audit_chain_end;
