//! A year of field work written straight into the database for the reports to count:
//! shifts spread evenly over a year, twenty encounters each, roles, age groups, homes and
//! safeguarding in plausible proportions, referrals and municipality notifications.
//! Through the API this would take an hour; one INSERT … SELECT per table takes seconds.
//!
//! Everything seeded ends two days before now, so that a report period ending yesterday
//! counts exactly the seeded year and none of the encounters the other steps logged.

use std::time::{Duration, Instant};

use chrono::{NaiveDate, NaiveDateTime, Utc};
use diesel::Connection;
use diesel::connection::SimpleConnection;

use crate::Result;
use crate::database::{Backend, Fresh};

/// Encounters per shift: 1,000,000 encounters make the 50,000 shifts.
pub const PER_SHIFT: u64 = 20;

const SHIFT_ID: &str = "5eed0000-0000-4000-8000-";
const ENCOUNTER_ID: &str = "5eed0000-0000-4000-9000-";
const NOTIFICATION_ID: &str = "5eed0000-0000-4000-a000-";

/// Municipalities without a connection to the county offer (see the reference-data
/// migration): a raid meeting someone living there calls for a notification.
const NOT_CONNECTED: &str =
    "'0115', '0117', '0126', '0127', '0138', '0139', '0140', '0162', '0186', '0188', '0980'";

/// Every municipality but Stockholm, which gets its own share.
const OTHER_MUNICIPALITIES: [&str; 26] = [
    "0114", "0115", "0117", "0120", "0123", "0125", "0126", "0127", "0128", "0136", "0138", "0139",
    "0140", "0160", "0162", "0163", "0181", "0182", "0183", "0184", "0186", "0187", "0188", "0191",
    "0192", "0980",
];

pub struct Seeded {
    pub encounters: u64,
    pub shifts: u64,
    pub took: Duration,
    /// The report period that holds exactly the seeded year.
    pub from: NaiveDate,
    pub to: NaiveDate,
}

pub fn seed(store: &Fresh, encounters: u64) -> Result<Seeded> {
    let shifts = encounters.div_ceil(PER_SHIFT).max(1);
    let now = Utc::now().naive_utc();
    let start = now - chrono::Duration::days(367);
    let sql = Sql {
        backend: store.backend,
    };
    let statements = statements(&sql, start, now, shifts, encounters);
    let started = Instant::now();
    match store.backend {
        Backend::Postgres => {
            let mut conn = store.connect_postgres()?;
            conn.transaction(|conn| {
                statements
                    .iter()
                    .try_for_each(|statement| conn.batch_execute(statement))
            })?;
            // Autovacuum would do this within a minute of a bulk load; a report run right
            // after the load should not be measured against a table without statistics.
            conn.batch_execute(
                "VACUUM ANALYZE shifts, shift_units, encounters, encounter_referrals, \
                 municipality_notifications",
            )?;
        }
        // No ANALYZE here: the server runs one when it starts, as in production, and the
        // reports are measured with the statistics it gathers.
        Backend::Sqlite => {
            let mut conn = store.connect_sqlite()?;
            conn.immediate_transaction(|conn| {
                statements
                    .iter()
                    .try_for_each(|statement| conn.batch_execute(statement))
            })?;
            conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE);")?;
        }
    }
    let today = now.date();
    Ok(Seeded {
        encounters,
        shifts,
        took: started.elapsed(),
        from: today - chrono::Duration::days(368),
        to: today - chrono::Duration::days(1),
    })
}

/// What only one backend can say, as SQL fragments.
struct Sql {
    backend: Backend,
}

impl Sql {
    /// Opens the WITH clause with `n(i)`, the integers 1 to `count`.
    fn series(&self, count: u64) -> String {
        match self.backend {
            Backend::Postgres => {
                format!("WITH n(i) AS (SELECT g FROM generate_series(1, {count}) AS g)")
            }
            Backend::Sqlite => format!(
                "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {count})"
            ),
        }
    }

    /// A uniform integer in `0..bound`, drawn anew wherever the fragment is evaluated (so
    /// the draws live in a MATERIALIZED CTE and are read from there).
    fn random(&self, bound: u32) -> String {
        match self.backend {
            Backend::Postgres => format!("floor(random() * {bound})::int"),
            Backend::Sqlite => format!("(abs(random()) % {bound})"),
        }
    }

    fn timestamp(&self, at: NaiveDateTime) -> String {
        let text = at.format("%Y-%m-%d %H:%M:%S");
        match self.backend {
            Backend::Postgres => format!("timestamp '{text}'"),
            Backend::Sqlite => format!("'{text}'"),
        }
    }

    /// Diesel stores an SQLite timestamp as `YYYY-MM-DD HH:MM:SS[.ffffff]` text, which
    /// `datetime()` writes (whole seconds) and which sorts as time does.
    fn plus_seconds(&self, at: &str, seconds: &str) -> String {
        match self.backend {
            Backend::Postgres => format!("({at} + ({seconds}) * interval '1 second')"),
            Backend::Sqlite => format!("datetime({at}, '+' || ({seconds}) || ' seconds')"),
        }
    }

    /// As a phone sends a time: RFC 3339 with its offset.
    fn rfc3339(&self, at: &str) -> String {
        match self.backend {
            Backend::Postgres => format!("to_char({at}, 'YYYY-MM-DD\"T\"HH24:MI:SS\"+00:00\"')"),
            Backend::Sqlite => format!("strftime('%Y-%m-%dT%H:%M:%S+00:00', {at})"),
        }
    }

    /// The Stockholm calendar day of a UTC timestamp (on SQLite, which knows no time
    /// zones, winter time's offset: close enough for seeded data).
    fn stockholm_day(&self, at: &str) -> String {
        match self.backend {
            Backend::Postgres => format!(
                "to_char(({at} AT TIME ZONE 'UTC') AT TIME ZONE 'Europe/Stockholm', 'YYYY-MM-DD')"
            ),
            Backend::Sqlite => format!("date({at}, '+1 hour')"),
        }
    }

    /// A UUID-shaped id: a fixed 24-character prefix and the number in 12 hex digits.
    fn id(&self, prefix: &str, n: &str) -> String {
        match self.backend {
            Backend::Postgres => format!("'{prefix}' || lpad(to_hex({n}), 12, '0')"),
            Backend::Sqlite => format!("printf('{prefix}%012x', {n})"),
        }
    }
}

/// The unit a shift (by number) belongs to; its encounters are logged by that unit.
fn unit_of(shift: &str) -> String {
    format!(
        "CASE WHEN ({shift} * 37) % 100 < 35 THEN 'mika' \
         WHEN ({shift} * 37) % 100 < 60 THEN 'kast' \
         WHEN ({shift} * 37) % 100 < 80 THEN 'ungdomsjouren' \
         WHEN ({shift} * 37) % 100 < 90 THEN 'regionkoordinator_vuxna' \
         ELSE 'regionkoordinator_barn' END"
    )
}

fn statements(
    sql: &Sql,
    start: NaiveDateTime,
    now: NaiveDateTime,
    shifts: u64,
    encounters: u64,
) -> Vec<String> {
    // A year less eight hours: the last shift still ends (and its last encounter is met)
    // two days before now.
    let step = (365 * 86_400 - 8 * 3_600) / shifts;
    let t0 = sql.timestamp(start);
    let rand = |bound| sql.random(bound);
    let plus = |at: &str, seconds: &str| sql.plus_seconds(at, seconds);
    let home_case: String = OTHER_MUNICIPALITIES
        .iter()
        .enumerate()
        .map(|(i, code)| format!("WHEN {i} THEN '{code}' "))
        .collect();

    let shifts_sql = format!(
        "{series}, \
         g AS MATERIALIZED (SELECT i, {k} AS k, {p} AS p, {a} AS a, {jitter} AS jitter FROM n), \
         h AS (SELECT i, p, a, \
             CASE WHEN k < 20 THEN 'surveillance' WHEN k < 35 THEN 'raid' \
                  WHEN k < 70 THEN 'street_outreach' WHEN k < 88 THEN 'venue_outreach' \
                  ELSE 'online_outreach' END AS kind, \
             {unit} AS unit, \
             {started} AS started \
           FROM g), \
         w AS (SELECT unit_code, min(id) AS id FROM users \
               WHERE role = 'outreach_worker' GROUP BY unit_code) \
         INSERT INTO shifts (id, kind, with_police, police_operation, area, started_at, \
             started_at_sent, ended_at_sent, status, created_by, closed_at, closed_by, \
             version, created_at, updated_at) \
         SELECT {shift_id}, h.kind, \
             (h.kind IN ('surveillance', 'raid') OR (h.kind = 'street_outreach' AND h.p < 15)), \
             CASE WHEN h.kind IN ('surveillance', 'raid') THEN 'Insats ' || h.i ELSE NULL END, \
             CASE h.a WHEN 0 THEN 'Norrmalm' WHEN 1 THEN 'Södermalm' WHEN 2 THEN 'Kungsholmen' \
                 WHEN 3 THEN 'Östermalm' WHEN 4 THEN 'Solna' WHEN 5 THEN 'Sundbyberg' \
                 WHEN 6 THEN 'Huddinge' ELSE NULL END, \
             h.started, {started_sent}, {ended_sent}, 'closed', w.id, {closed}, w.id, \
             2, h.started, {closed} \
         FROM h JOIN w ON w.unit_code = h.unit",
        series = sql.series(shifts),
        k = rand(100),
        p = rand(100),
        a = rand(8),
        jitter = rand(3600),
        unit = unit_of("i"),
        started = plus(&t0, &format!("(i - 1) * {step} + jitter")),
        shift_id = sql.id(SHIFT_ID, "h.i"),
        started_sent = sql.rfc3339("h.started"),
        ended_sent = sql.rfc3339(&plus("h.started", "21600")),
        closed = plus("h.started", "25200"),
    );

    let shift_units_sql = format!(
        "{series} \
         INSERT INTO shift_units (shift_id, unit_code) SELECT {shift_id}, {unit} FROM n",
        series = sql.series(shifts),
        shift_id = sql.id(SHIFT_ID, "i"),
        unit = unit_of("i"),
    );
    // Mikamottagningen goes on raids with KAST.
    let joint_raids_sql = format!(
        "INSERT INTO shift_units (shift_id, unit_code) \
         SELECT su.shift_id, 'kast' FROM shift_units su JOIN shifts s ON s.id = su.shift_id \
         WHERE s.kind = 'raid' AND su.unit_code = 'mika' AND s.id LIKE '{SHIFT_ID}%'"
    );

    let occurred = "e.occurred";
    let encounters_sql = format!(
        "{series}, \
         g AS MATERIALIZED (SELECT i, (i - 1) / {PER_SHIFT} + 1 AS s, \
             {r100} AS r_role, {r100} AS r_age, {r100} AS r_years, {r100} AS r_gender, \
             {r1000} AS r_home, {r100} AS r_pseudonym, {person} AS person, {r100} AS r_flags, \
             {r100} AS r_support, {r1000} AS r_void, {after} AS after_start, \
             {r100} AS r_refer, {r35} AS r_target FROM n), \
         e AS (SELECT g.*, \
             CASE WHEN r_role < 45 THEN 'selling' WHEN r_role < 85 THEN 'buyer' \
                  ELSE 'sugar_dating' END AS role, \
             CASE WHEN r_age < 8 THEN 'under_18' WHEN r_age < 93 THEN 'adult' \
                  ELSE 'unknown' END AS age_group, \
             CASE WHEN r_home < 400 THEN '0180' \
                  WHEN r_home < 850 THEN CASE r_home % 26 {home_case} END \
                  WHEN r_home < 900 THEN 'outside_county' WHEN r_home < 950 THEN 'abroad' \
                  ELSE 'unknown' END AS home, \
             sh.id AS shift, sh.with_police AS police, sh.started_at AS shift_start, \
             sh.created_by AS author, {unit} AS unit, \
             {occurred_at} AS occurred \
           FROM g JOIN shifts sh ON sh.id = {shift_id}) \
         INSERT INTO encounters (id, shift_id, unit_code, logged_by, occurred_at, \
             occurred_at_sent, role, age_group, age_years, age_estimated, gender, \
             home_municipality, home_country, pseudonym, trafficking_suspected, self_harm, \
             support_offered, support_response, guardian_contacted_at_sent, \
             guardian_not_contacted_reason, concern_filed_at_sent, concern_municipality, \
             concern_filed_by_unit, notes, late_entry, lacks_safeguarding, voided_at, \
             voided_by, void_reason, version, created_at, updated_at, shift_with_police, \
             referral_targets, shift_started_at) \
         SELECT {encounter_id}, e.shift, e.unit, e.author, {occurred}, {occurred_sent}, \
             e.role, e.age_group, \
             CASE WHEN e.age_group = 'under_18' THEN 13 + e.r_years % 5 \
                  WHEN e.age_group = 'adult' AND e.r_years < 60 THEN 18 + e.r_years % 45 \
                  ELSE NULL END, \
             (e.age_group <> 'unknown' AND e.r_years % 2 = 0), \
             CASE WHEN e.r_gender < 60 THEN 'female' WHEN e.r_gender < 90 THEN 'male' \
                  WHEN e.r_gender < 93 THEN 'other' ELSE 'unknown' END, \
             e.home, CASE WHEN e.home = 'abroad' THEN 'RO' ELSE NULL END, \
             CASE WHEN e.r_pseudonym < 50 THEN 'P' || e.person ELSE NULL END, \
             (e.r_flags < 3), (e.r_flags >= 98), (e.r_support < 80), \
             CASE WHEN e.r_support < 50 THEN 'accepted' WHEN e.r_support < 70 THEN 'declined' \
                  WHEN e.r_support < 80 THEN 'undecided' ELSE NULL END, \
             CASE WHEN e.age_group = 'under_18' THEN {guardian} ELSE NULL END, \
             NULL, \
             CASE WHEN e.age_group = 'under_18' THEN {concern} ELSE NULL END, \
             CASE WHEN e.age_group = 'under_18' THEN '0180' ELSE NULL END, \
             NULL, NULL, FALSE, FALSE, \
             CASE WHEN e.r_void < 10 THEN {voided} ELSE NULL END, \
             CASE WHEN e.r_void < 10 THEN e.author ELSE NULL END, \
             CASE WHEN e.r_void < 10 THEN 'Dubblett' ELSE NULL END, \
             CASE WHEN e.r_void < 10 THEN 2 ELSE 1 END, \
             {occurred}, {occurred}, e.police, \
             CASE WHEN e.r_refer >= 20 THEN '' \
                  WHEN e.age_group = 'under_18' THEN \
                 CASE e.r_target % 5 WHEN 0 THEN 'ungdomsjouren' \
                     WHEN 1 THEN 'regionkoordinator_barn' WHEN 2 THEN 'stodcentrum' \
                     WHEN 3 THEN 'mika_halsa' ELSE 'local_social_services' END \
             ELSE \
                 CASE e.r_target % 7 WHEN 0 THEN 'mika' WHEN 1 THEN 'kast' \
                     WHEN 2 THEN 'mika_halsa' WHEN 3 THEN 'protected_housing' \
                     WHEN 4 THEN 'local_social_services' WHEN 5 THEN 'reflection_period' \
                     ELSE 'iom_return' END \
             END, \
             e.shift_start \
         FROM e",
        series = sql.series(encounters),
        r100 = rand(100),
        r1000 = rand(1000),
        person = rand(20_000),
        r35 = rand(35),
        after = rand(21_600),
        unit = unit_of("g.s"),
        occurred_at = plus("sh.started_at", "g.after_start"),
        shift_id = sql.id(SHIFT_ID, "g.s"),
        encounter_id = sql.id(ENCOUNTER_ID, "e.i"),
        occurred_sent = sql.rfc3339(occurred),
        guardian = sql.rfc3339(&plus(occurred, "1800")),
        concern = sql.rfc3339(&plus(occurred, "3600")),
        voided = plus(occurred, "86400"),
    );

    // One referral for a fifth of the encounters, to the target each carries.
    let referrals_sql = format!(
        "INSERT INTO encounter_referrals (encounter_id, position, target, at_sent) \
         SELECT id, 0, referral_targets, NULL FROM encounters \
         WHERE id LIKE '{ENCOUNTER_ID}%' AND referral_targets <> ''"
    );

    // Older notifications have been dealt with; the last month's are still open.
    let month_ago = sql.timestamp(now - chrono::Duration::days(30));
    let notifications_sql = format!(
        "INSERT INTO municipality_notifications (id, encounter_id, municipality_code, \
             occurred_on, role, age_group, status, method, note, resolved_at, resolved_by, \
             created_at, updated_at) \
         SELECT '{NOTIFICATION_ID}' || substr(e.id, 25), e.id, e.home_municipality, {day}, \
             e.role, e.age_group, \
             CASE WHEN e.occurred_at < {month_ago} THEN 'resolved' ELSE 'open' END, \
             CASE WHEN e.occurred_at < {month_ago} THEN 'informed_offer' ELSE NULL END, \
             NULL, \
             CASE WHEN e.occurred_at < {month_ago} THEN {resolved} ELSE NULL END, \
             CASE WHEN e.occurred_at < {month_ago} THEN \
                 (SELECT min(id) FROM users WHERE role = 'coordinator') ELSE NULL END, \
             e.occurred_at, e.occurred_at \
         FROM encounters e JOIN shifts s ON s.id = e.shift_id \
         WHERE e.id LIKE '{ENCOUNTER_ID}%' AND e.voided_at IS NULL AND s.kind = 'raid' \
             AND e.home_municipality IN ({NOT_CONNECTED})",
        day = sql.stockholm_day("e.occurred_at"),
        resolved = plus("e.occurred_at", "172800"),
    );

    vec![
        shifts_sql,
        shift_units_sql,
        joint_raids_sql,
        encounters_sql,
        referrals_sql,
        notifications_sql,
    ]
}
