DROP INDEX encounters_report_home;
DROP INDEX encounters_report_role;
CREATE INDEX encounters_role_occurred ON encounters (role, occurred_at);
