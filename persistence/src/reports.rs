//! Report figures, aggregated in the database: GROUP BY and COUNT over the rows of a
//! period, never encounters loaded into memory. Periods arrive as UTC bounds (Stockholm
//! days turned into instants in Rust), which both backends compare alike.

use chrono::{DateTime, NaiveDate, Utc};
use diesel::dsl::{self, case_when, count, count_star, max, min};
use diesel::expression::BoxableExpression;
use diesel::prelude::*;
use diesel::query_builder::{AstPass, Query, QueryFragment, QueryId};
use diesel::sql_types::{BigInt, Bool, Text};
use faltlogg_domain::codes::Coded;
use faltlogg_domain::encounter::{AgeGroup, Gender, PersonRole};
use faltlogg_domain::notification::NotificationStatus;
use faltlogg_domain::shift::ShiftKind;
use faltlogg_domain::unit::{ReferralTarget, Unit};

use crate::schema::{encounters, municipality_notifications, shift_units, shifts};
use crate::stored::{coded, referral_targets};
use crate::{DbBackend, DbConnection, StoreError};

/// Readies the open transaction for a report's queries. On PostgreSQL they all read one
/// snapshot (`REPEATABLE READ`), so that a report's figures agree with each other. Its
/// groupings of a year of rows can outgrow the default 4 MB of `work_mem` (a sort of a
/// year's pseudonyms went to disk), so this transaction (only) gets more. And each
/// query is planned for its own period and units: from its sixth run on a connection
/// PostgreSQL may switch a prepared statement to a plan for any parameters, which read the
/// whole table for the cooperation report (578 ms instead of 186 for its first query).
/// Planning takes a millisecond; the reports run for a hundred or more. Reports read
/// their covering indexes in order, pages that are cached or on a solid-state disk: priced
/// as the default's seek on a spinning disk, an index-only scan of the municipalities
/// report cost about as much as reading the whole table, and the plan flipped between
/// the two with the table's width (248 ms through the index, 506 ms through the table).
pub fn begin_report(conn: &mut DbConnection) -> Result<(), StoreError> {
    crate::dialect::for_postgres(
        conn,
        "SET TRANSACTION ISOLATION LEVEL REPEATABLE READ; \
         SET LOCAL work_mem = '64MB'; SET LOCAL plan_cache_mode = force_custom_plan; \
         SET LOCAL random_page_cost = 1.1",
    )
}

/// Instants `[start, end)`.
pub type Bounds = (DateTime<Utc>, DateTime<Utc>);

/// Whose figures: one unit's (an outreach worker's), or every unit's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Units {
    One(Unit),
    All,
}

impl Units {
    /// The rows whose unit, in `column`, is one of these: `column = $1 OR $2`, `$2` true
    /// for every unit. Reports are planned for their parameters ([`begin_report`]), so for
    /// every unit PostgreSQL drops the condition, which no row fails (the database holds
    /// the column to the units: a check on PostgreSQL, a foreign key on SQLite): comparing
    /// each row of a year with every unit's code was a quarter of the municipalities report.
    fn admit<C>(self, column: C) -> dsl::Or<dsl::Eq<C, &'static str>, dsl::AsExprOf<bool, Bool>>
    where
        C: Column<SqlType = Text>,
    {
        let (code, all) = match self {
            Units::One(unit) => (unit.code(), false),
            Units::All => ("", true),
        };
        column.eq(code).or(all.into_sql::<Bool>())
    }
}

fn tally(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

/// Shifts with police that started in the period, by kind. One unit sees the shifts it
/// took part in.
pub fn shifts_with_police(
    conn: &mut DbConnection,
    (start, end): Bounds,
    units: Units,
) -> Result<Vec<(ShiftKind, u64)>, StoreError> {
    shifts::table
        .filter(shifts::with_police.eq(true))
        .filter(shifts::started_at.ge(start.naive_utc()))
        .filter(shifts::started_at.lt(end.naive_utc()))
        .filter(
            shifts::id.eq_any(
                shift_units::table
                    .filter(units.admit(shift_units::unit_code))
                    .select(shift_units::shift_id),
            ),
        )
        .group_by(shifts::kind)
        .select((shifts::kind, count_star()))
        .load::<(String, i64)>(conn)?
        .into_iter()
        .map(|(kind, n)| Ok((coded(&kind)?, tally(n))))
        .collect()
}

/// Encounters with people selling or buying in shifts with police that started in the
/// period, met in it and not voided: the rows both cooperation queries count. Each
/// encounter carries its shift's police flag and start (migrations 000010 and 000012), so
/// that they are found in the report's own indexes without joining a year of them to their
/// shifts.
fn in_cooperation(
    (start, end): Bounds,
    units: Units,
) -> Box<dyn BoxableExpression<encounters::table, DbBackend, SqlType = Bool>> {
    Box::new(
        encounters::shift_with_police
            .and(encounters::shift_started_at.ge(start.naive_utc()))
            .and(encounters::shift_started_at.lt(end.naive_utc()))
            .and(encounters::occurred_at.ge(start.naive_utc()))
            .and(encounters::occurred_at.lt(end.naive_utc()))
            .and(encounters::voided_at.is_null())
            .and(encounters::role.eq_any([PersonRole::Selling.code(), PersonRole::Buyer.code()]))
            .and(units.admit(encounters::unit_code)),
    )
}

/// The cooperation report's encounters counted by role, age group and support offered
/// (`encounters_report_police`).
pub fn cooperation_encounters(
    conn: &mut DbConnection,
    period: Bounds,
    units: Units,
) -> Result<Vec<(PersonRole, AgeGroup, bool, u64)>, StoreError> {
    encounters::table
        .filter(in_cooperation(period, units))
        .group_by((
            encounters::role,
            encounters::age_group,
            encounters::support_offered,
        ))
        .select((
            encounters::role,
            encounters::age_group,
            encounters::support_offered,
            count_star(),
        ))
        .load::<(String, String, bool, i64)>(conn)?
        .into_iter()
        .map(|(role, age, support, n)| Ok((coded(&role)?, coded(&age)?, support, tally(n))))
        .collect()
}

/// Of the same encounters, by role: how many carry a pseudonym, and how many distinct
/// people those are (a pseudonym is a unit's own code, so it links within a unit only).
/// The encounters are grouped by unit and pseudonym as `encounters_report_people` holds
/// them, in order, and the groups counted: `count(DISTINCT unit || pseudonym)` sorted a
/// year of strings instead.
pub fn cooperation_pseudonyms(
    conn: &mut DbConnection,
    period: Bounds,
    units: Units,
) -> Result<Vec<(PersonRole, u64, u64)>, StoreError> {
    let people = encounters::table
        .filter(in_cooperation(period, units))
        .filter(encounters::pseudonym.is_not_null())
        .group_by((
            encounters::role,
            encounters::unit_code,
            encounters::pseudonym,
        ))
        .select((encounters::role, dsl::sql::<BigInt>("COUNT(*) AS n")));
    GroupsByRole(people)
        .load::<(String, i64, i64)>(conn)?
        .into_iter()
        .map(|(role, with, distinct)| Ok((coded(&role)?, tally(with), tally(distinct))))
        .collect()
}

/// `SELECT role, SUM(n), COUNT(*) FROM (<groups>) AS grouped GROUP BY role`, for a query
/// whose rows are groups, each with its `role` and its size `n`: per role, the rows in the
/// groups and the groups. diesel writes no subquery in FROM.
struct GroupsByRole<Q>(Q);

impl<Q> QueryId for GroupsByRole<Q> {
    type QueryId = ();
    const HAS_STATIC_QUERY_ID: bool = false;
}

impl<Q: QueryFragment<DbBackend>> QueryFragment<DbBackend> for GroupsByRole<Q> {
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DbBackend>) -> QueryResult<()> {
        // `SUM` of a BIGINT is a NUMERIC on PostgreSQL.
        out.push_sql("SELECT role, CAST(SUM(n) AS BIGINT), COUNT(*) FROM (");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(") AS grouped GROUP BY role");
        Ok(())
    }
}

impl<Q> Query for GroupsByRole<Q> {
    type SqlType = (Text, BigInt, BigInt);
}

impl<Q> RunQueryDsl<DbConnection> for GroupsByRole<Q> {}

/// How many contacts share one age group, gender, home, answer to support and set of
/// referral targets, and among them the youngest and oldest age recorded and the
/// safeguarding of minors.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactGroup {
    pub age_group: AgeGroup,
    pub gender: Gender,
    /// The stored home: an SCB code or a special home.
    pub home: String,
    pub support_offered: bool,
    pub contacts: u64,
    pub youngest: Option<i32>,
    pub oldest: Option<i32>,
    /// Minors whose guardians were contacted.
    pub guardians_contacted: u64,
    /// Minors for whom a report of concern was filed (by the unit or another).
    pub concern_reported: u64,
    /// The targets each of these contacts was referred to, each once.
    pub referred_to: Vec<ReferralTarget>,
}

/// Sugar-dating contacts met in the period, not voided, in groups: one pass over the
/// report index (`encounters_report_sugar_dating`) answers every figure, the referrals by
/// the targets each encounter carries.
pub fn sugar_dating_contacts(
    conn: &mut DbConnection,
    (start, end): Bounds,
    units: Units,
) -> Result<Vec<ContactGroup>, StoreError> {
    let minor = encounters::age_group.eq(AgeGroup::Under18.code());
    encounters::table
        .filter(encounters::role.eq(PersonRole::SugarDating.code()))
        .filter(encounters::occurred_at.ge(start.naive_utc()))
        .filter(encounters::occurred_at.lt(end.naive_utc()))
        .filter(encounters::voided_at.is_null())
        .filter(units.admit(encounters::unit_code))
        .group_by((
            encounters::age_group,
            encounters::gender,
            encounters::home_municipality,
            encounters::support_offered,
            encounters::referral_targets,
        ))
        .select((
            encounters::age_group,
            encounters::gender,
            encounters::home_municipality,
            encounters::support_offered,
            encounters::referral_targets,
            count_star(),
            min(encounters::age_years),
            max(encounters::age_years),
            // `count(CASE WHEN … THEN unit_code END)`: the rows that match (diesel's
            // MultiConnection has no FILTER clause).
            count(case_when(
                minor.and(encounters::guardian_contacted_at_sent.is_not_null()),
                encounters::unit_code,
            )),
            count(case_when(
                minor.and(
                    encounters::concern_filed_at_sent
                        .is_not_null()
                        .or(encounters::concern_filed_by_unit.is_not_null()),
                ),
                encounters::unit_code,
            )),
        ))
        .load::<(
            String,
            String,
            String,
            bool,
            String,
            i64,
            Option<i32>,
            Option<i32>,
            i64,
            i64,
        )>(conn)?
        .into_iter()
        .map(
            |(age, gender, home, support, targets, n, youngest, oldest, guardians, concern)| {
                Ok(ContactGroup {
                    age_group: coded(&age)?,
                    gender: coded(&gender)?,
                    home,
                    support_offered: support,
                    contacts: tally(n),
                    youngest,
                    oldest,
                    guardians_contacted: tally(guardians),
                    concern_reported: tally(concern),
                    referred_to: referral_targets(&targets)?,
                })
            },
        )
        .collect()
}

/// Encounters met in the period, not voided, by home and role.
pub fn encounters_by_home(
    conn: &mut DbConnection,
    (start, end): Bounds,
    units: Units,
) -> Result<Vec<(String, PersonRole, u64)>, StoreError> {
    encounters::table
        .filter(encounters::occurred_at.ge(start.naive_utc()))
        .filter(encounters::occurred_at.lt(end.naive_utc()))
        .filter(encounters::voided_at.is_null())
        .filter(units.admit(encounters::unit_code))
        .group_by((encounters::home_municipality, encounters::role))
        .select((
            encounters::home_municipality,
            encounters::role,
            count_star(),
        ))
        .load::<(String, String, i64)>(conn)?
        .into_iter()
        .map(|(home, role, n)| Ok((home, coded(&role)?, tally(n))))
        .collect()
}

/// Municipality notifications for meetings on the period's days, by municipality and status.
pub fn notifications_by_municipality(
    conn: &mut DbConnection,
    from: NaiveDate,
    to: NaiveDate,
) -> Result<Vec<(String, NotificationStatus, u64)>, StoreError> {
    use municipality_notifications as n;
    n::table
        .filter(n::occurred_on.ge(from.to_string()))
        .filter(n::occurred_on.le(to.to_string()))
        .group_by((n::municipality_code, n::status))
        .select((n::municipality_code, n::status, count_star()))
        .load::<(String, String, i64)>(conn)?
        .into_iter()
        .map(|(code, status, n)| Ok((code, coded(&status)?, tally(n))))
        .collect()
}
