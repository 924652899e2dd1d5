DROP TABLE municipality_connection_changes;
DROP TABLE municipality_notifications;
DROP TABLE amendments;
DROP TABLE encounter_referrals;
DROP TABLE encounters;
DROP TABLE shift_units;
DROP TABLE shifts;
