DROP TABLE municipality_connections;
DROP TABLE special_homes;
DROP TABLE municipalities;
DROP TABLE referral_targets;
DROP TABLE units;
