-- The field log: shifts, the units in them, encounters with their referrals, amendment
-- reasons, municipality notifications, and who changed a municipality's connection.
-- Device times are kept twice: as UTC for queries (`*_at`) and as the device sent them,
-- offset included (`*_sent`, RFC 3339). Nothing here is ever deleted: encounters are voided.

CREATE TABLE shifts (
    id TEXT PRIMARY KEY NOT NULL,
    kind TEXT NOT NULL CHECK (kind IN ('surveillance', 'raid', 'street_outreach', 'venue_outreach', 'online_outreach')),
    with_police BOOLEAN NOT NULL,
    police_operation TEXT,
    area TEXT,
    started_at TIMESTAMP NOT NULL,
    started_at_sent TEXT NOT NULL,
    ended_at_sent TEXT,
    status TEXT NOT NULL CHECK (status IN ('open', 'closed')),
    created_by TEXT NOT NULL REFERENCES users (id),
    closed_at TIMESTAMP,
    closed_by TEXT REFERENCES users (id),
    reviewed_at TIMESTAMP,
    reviewed_by TEXT REFERENCES users (id),
    review_comment TEXT,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL,
    -- Surveillance and raids are police operations.
    CHECK (with_police OR kind NOT IN ('surveillance', 'raid'))
);
CREATE INDEX shifts_started ON shifts (started_at, id);

CREATE TABLE shift_units (
    shift_id TEXT NOT NULL REFERENCES shifts (id),
    unit_code TEXT NOT NULL REFERENCES units (code),
    PRIMARY KEY (shift_id, unit_code)
);
CREATE INDEX shift_units_unit ON shift_units (unit_code, shift_id);

CREATE TABLE encounters (
    id TEXT PRIMARY KEY NOT NULL,
    shift_id TEXT NOT NULL REFERENCES shifts (id),
    -- The unit of the worker who logged it; only that unit reads or changes it.
    unit_code TEXT NOT NULL REFERENCES units (code),
    logged_by TEXT NOT NULL REFERENCES users (id),
    occurred_at TIMESTAMP NOT NULL,
    occurred_at_sent TEXT NOT NULL,
    role TEXT NOT NULL CHECK (role IN ('selling', 'buyer', 'sugar_dating')),
    age_group TEXT NOT NULL CHECK (age_group IN ('under_18', 'adult', 'unknown')),
    age_years INTEGER CHECK (age_years BETWEEN 0 AND 120),
    age_estimated BOOLEAN NOT NULL,
    gender TEXT NOT NULL CHECK (gender IN ('female', 'male', 'other', 'unknown')),
    -- An SCB code, or outside_county, abroad, unknown.
    home_municipality TEXT NOT NULL,
    home_country TEXT,
    pseudonym TEXT,
    trafficking_suspected BOOLEAN NOT NULL,
    self_harm BOOLEAN NOT NULL,
    support_offered BOOLEAN NOT NULL,
    support_response TEXT CHECK (support_response IN ('accepted', 'declined', 'undecided')),
    guardian_contacted_at_sent TEXT,
    guardian_not_contacted_reason TEXT,
    concern_filed_at_sent TEXT,
    concern_municipality TEXT REFERENCES municipalities (code),
    concern_filed_by_unit TEXT REFERENCES units (code),
    notes TEXT,
    -- Arrived after its shift was closed.
    late_entry BOOLEAN NOT NULL,
    -- A minor without guardian contact (or the reason why not) or report of concern.
    lacks_safeguarding BOOLEAN NOT NULL,
    voided_at TIMESTAMP,
    voided_by TEXT REFERENCES users (id),
    void_reason TEXT,
    version BIGINT NOT NULL,
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX encounters_shift ON encounters (shift_id, unit_code, occurred_at, id);
CREATE INDEX encounters_occurred ON encounters (occurred_at);

CREATE TABLE encounter_referrals (
    encounter_id TEXT NOT NULL REFERENCES encounters (id),
    position INTEGER NOT NULL,
    target TEXT NOT NULL REFERENCES referral_targets (code),
    at_sent TEXT,
    PRIMARY KEY (encounter_id, position)
);

-- Why a record of a closed shift was changed, for each such change.
CREATE TABLE amendments (
    id TEXT PRIMARY KEY NOT NULL,
    record_type TEXT NOT NULL CHECK (record_type IN ('shift', 'encounter')),
    record_id TEXT NOT NULL,
    version BIGINT NOT NULL,
    reason TEXT NOT NULL,
    user_id TEXT NOT NULL REFERENCES users (id),
    at TIMESTAMP NOT NULL
);
CREATE INDEX amendments_record ON amendments (record_id);

-- A task for coordinators: municipality, day, role and age group, nothing about the person.
-- The encounter is kept only so that voiding or correcting it can withdraw the task.
CREATE TABLE municipality_notifications (
    id TEXT PRIMARY KEY NOT NULL,
    encounter_id TEXT NOT NULL UNIQUE REFERENCES encounters (id),
    municipality_code TEXT NOT NULL REFERENCES municipalities (code),
    occurred_on TEXT NOT NULL CHECK (length(occurred_on) = 10),
    role TEXT NOT NULL,
    age_group TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('open', 'resolved', 'withdrawn')),
    method TEXT CHECK (method IN ('informed_offer', 'informed_local_support')),
    note TEXT,
    resolved_at TIMESTAMP,
    resolved_by TEXT REFERENCES users (id),
    created_at TIMESTAMP NOT NULL,
    updated_at TIMESTAMP NOT NULL
);
CREATE INDEX municipality_notifications_status ON municipality_notifications (status, created_at, id);
CREATE INDEX municipality_notifications_created ON municipality_notifications (created_at, id);

-- Every dated change a coordinator made to a municipality's connection.
CREATE TABLE municipality_connection_changes (
    id TEXT PRIMARY KEY NOT NULL,
    municipality_code TEXT NOT NULL REFERENCES municipalities (code),
    effective_from TEXT NOT NULL CHECK (length(effective_from) = 10),
    connected BOOLEAN NOT NULL,
    recorded_by TEXT NOT NULL REFERENCES users (id),
    recorded_at TIMESTAMP NOT NULL
);
