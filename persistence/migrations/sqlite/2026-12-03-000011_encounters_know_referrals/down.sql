DROP INDEX encounters_report_sugar_dating;
CREATE INDEX encounters_report_role ON encounters (
    role, occurred_at, id, shift_id, unit_code, age_group, gender, home_municipality,
    support_offered, pseudonym, age_years, guardian_contacted_at_sent, concern_filed_at_sent,
    concern_filed_by_unit
) WHERE voided_at IS NULL;
ALTER TABLE encounters DROP COLUMN referral_targets;
