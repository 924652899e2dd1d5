-- The sugar-dating report counted referrals by joining a year of contacts to every
-- referral (a hash of 150,000 ids, 150-450 ms at 1,000,000 encounters) and counting
-- distinct encounters, since one may name a target twice. Each encounter now carries the
-- distinct targets of its referrals, sorted codes joined by commas, written with the
-- referrals themselves (they change only with the encounter), so the report's one pass
-- over its index answers every figure. Retention erases no target: the column stays.
ALTER TABLE encounters ADD COLUMN referral_targets TEXT NOT NULL DEFAULT '';
UPDATE encounters e SET referral_targets = r.targets
    FROM (SELECT encounter_id, string_agg(DISTINCT target, ',' ORDER BY target) AS targets
          FROM encounter_referrals GROUP BY encounter_id) r
    WHERE r.encounter_id = e.id;
-- As for the police flag: an instance still running the code before this migration must
-- fail to insert rather than store an encounter whose referrals the report would miss.
ALTER TABLE encounters ALTER COLUMN referral_targets DROP DEFAULT;
-- Only the sugar-dating report reads this index, so it holds only sugar-dating contacts:
-- an encounter with someone selling or buying no longer writes it.
DROP INDEX encounters_report_role;
CREATE INDEX encounters_report_sugar_dating ON encounters (occurred_at)
    INCLUDE (unit_code, age_group, gender, home_municipality, support_offered, age_years,
             guardian_contacted_at_sent, concern_filed_at_sent, concern_filed_by_unit,
             referral_targets)
    WHERE voided_at IS NULL AND role = 'sugar_dating';
