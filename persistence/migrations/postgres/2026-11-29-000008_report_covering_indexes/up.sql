-- A report reads a year of counting encounters. These indexes hold every column a report
-- filters, groups or counts by, so it reads the index alone (an index-only scan) instead
-- of the whole table; voided encounters, which no report counts, are not in them.
DROP INDEX encounters_role_occurred;
CREATE INDEX encounters_report_role ON encounters (role, occurred_at)
    INCLUDE (shift_id, unit_code, age_group, gender, home_municipality, support_offered,
             pseudonym, age_years, guardian_contacted_at_sent, concern_filed_at_sent,
             concern_filed_by_unit)
    WHERE voided_at IS NULL;
CREATE INDEX encounters_report_home ON encounters (occurred_at)
    INCLUDE (home_municipality, role, unit_code)
    WHERE voided_at IS NULL;
