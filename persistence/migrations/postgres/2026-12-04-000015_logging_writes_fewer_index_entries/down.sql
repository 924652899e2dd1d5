CREATE INDEX encounters_occurred ON encounters (occurred_at);
DROP INDEX encounters_report_home;
CREATE INDEX encounters_report_home ON encounters (occurred_at)
    INCLUDE (home_municipality, role, unit_code)
    WHERE voided_at IS NULL;

CREATE INDEX changes_position ON changes (tx, seq);
ALTER TABLE changes DROP CONSTRAINT changes_pkey;
ALTER TABLE changes ADD CONSTRAINT changes_pkey PRIMARY KEY (seq);
