-- The sugar-dating report counted referrals by joining a year of contacts to every
-- referral and counting distinct encounters, since one may name a target twice. Each
-- encounter now carries the distinct targets of its referrals, sorted codes joined by
-- commas, written with the referrals themselves (they change only with the encounter),
-- so the report's one pass over its index answers every figure. Retention erases no
-- target: the column stays. (The default stays too: one process owns an SQLite file.)
ALTER TABLE encounters ADD COLUMN referral_targets TEXT NOT NULL DEFAULT '';
UPDATE encounters SET referral_targets = (
    SELECT group_concat(target, ',') FROM (
        SELECT DISTINCT target FROM encounter_referrals r
        WHERE r.encounter_id = encounters.id ORDER BY target))
    WHERE id IN (SELECT encounter_id FROM encounter_referrals);
-- Only the sugar-dating report reads this index, so it holds only sugar-dating contacts:
-- an encounter with someone selling or buying no longer writes it.
DROP INDEX encounters_report_role;
CREATE INDEX encounters_report_sugar_dating ON encounters (
    occurred_at, unit_code, age_group, gender, home_municipality, support_offered, age_years,
    guardian_contacted_at_sent, concern_filed_at_sent, concern_filed_by_unit, referral_targets
) WHERE voided_at IS NULL AND role = 'sugar_dating';
