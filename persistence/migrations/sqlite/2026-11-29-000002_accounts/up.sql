-- Staff accounts, device sessions with rotating refresh tokens, and failed logins.
-- Every instance reads these, so revocation and throttling hold across all of them.

CREATE TABLE users (
    id TEXT PRIMARY KEY NOT NULL,
    username TEXT NOT NULL,
    -- Lower-case username: names are unique without regard to case.
    username_key TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL CHECK (role IN ('admin', 'coordinator', 'outreach_worker', 'police_liaison', 'auditor')),
    unit_code TEXT REFERENCES units (code),
    -- Argon2id in PHC string form.
    password_hash TEXT NOT NULL,
    disabled BOOLEAN NOT NULL DEFAULT FALSE,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    CHECK ((role = 'outreach_worker') = (unit_code IS NOT NULL))
);

CREATE TABLE sessions (
    id TEXT PRIMARY KEY NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    device_name TEXT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    -- Login or the last refresh: the idle timeout counts from here.
    last_used_at TIMESTAMP NOT NULL,
    -- The absolute end of the session, whatever its use.
    expires_at TIMESTAMP NOT NULL,
    revoked_at TIMESTAMP,
    revoked_reason TEXT
);
CREATE INDEX sessions_user ON sessions (user_id);

-- Only hashes of refresh tokens are stored. A token is used once; its successor is
-- derived from it, so a retry within the grace period can be answered again.
CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY NOT NULL,
    session_id TEXT NOT NULL REFERENCES sessions (id),
    issued_at TIMESTAMP NOT NULL,
    used_at TIMESTAMP
);
CREATE INDEX refresh_tokens_session ON refresh_tokens (session_id);

-- The account is a hash of the lower-case name tried, so that a password typed into the
-- username field is not kept.
CREATE TABLE login_failures (
    id TEXT PRIMARY KEY NOT NULL,
    client_address TEXT NOT NULL,
    account_key TEXT NOT NULL,
    at TIMESTAMP NOT NULL
);
CREATE INDEX login_failures_address ON login_failures (client_address, at);
CREATE INDEX login_failures_account ON login_failures (account_key, at);
