//! What the database alone can do of a logged encounter's work, beside the bare-INSERT
//! ceiling: pgbench runs the statements the server sends for one `PUT
//! /api/v1/encounters/{id}` (as `log_statement = 'all'` shows them, prepared, one round
//! trip each), and the same work written as one statement. No HTTP, JSON, token or Rust
//! is in the way, so the server's ratio to the ceiling can be no better than these.

use std::time::Duration;

use diesel::RunQueryDsl;
use diesel::sql_types::Text;

use crate::Result;
use crate::ceiling;
use crate::database::Fresh;
use crate::logging::describe_ceiling;
use crate::stats::{percent, rate};
use crate::table::Row;

const CONNECTIONS: usize = 16;

#[derive(diesel::QueryableByName)]
struct Session {
    #[diesel(sql_type = Text)]
    id: String,
    #[diesel(sql_type = Text)]
    user_id: String,
}

/// The encounter a script logs: an adult selling, met now, into the open raid (a shift with
/// police, so the cooperation report's index takes it, as the server's insert does).
const COLUMNS: &str = "shift_id, occurred_at, occurred_at_sent, role, age_group, age_years, \
    age_estimated, gender, home_municipality, home_country, pseudonym, trafficking_suspected, \
    self_harm, support_offered, support_response, guardian_contacted_at_sent, \
    guardian_not_contacted_reason, concern_filed_at_sent, concern_municipality, \
    concern_filed_by_unit, notes, lacks_safeguarding, id, unit_code, logged_by, late_entry, \
    version, created_at, updated_at, shift_with_police, referral_targets, shift_started_at";

fn values(shift: &str, id: &str, user: &str) -> String {
    format!(
        "'{shift}', now(), '2026-11-29T19:10:19+00:00', 'selling', 'adult', NULL, false, \
         'female', '0180', NULL, NULL, false, false, true, NULL, NULL, NULL, NULL, NULL, NULL, \
         NULL, false, {id}, 'mika', '{user}', false, 1, now(), now(), true, '', now()"
    )
}

fn session_check(session: &Session) -> String {
    format!(
        "SELECT u.id, u.username, u.role, u.unit_code FROM sessions s JOIN users u ON s.user_id = u.id \
         WHERE s.id = '{}' AND s.revoked_at IS NULL AND s.expires_at > now() \
         AND s.last_used_at > now() - interval '12 hours' AND u.disabled = false LIMIT 1",
        session.id
    )
}

fn audit_values(session: &Session, id: &str, request: &str) -> String {
    format!(
        "now(), '{}', 'logger', 'outreach_worker', 'mika', '{}', 'create', 'encounter', {id}, {request}, 'ok'",
        session.user_id, session.id
    )
}

const AUDIT_COLUMNS: &str = "at, user_id, username, role, unit_code, session_id, action, \
    record_type, record_id, request_id, outcome";

/// The nine statements of a logged encounter, each its own round trip. (The lock's key is
/// the server's `shift:<id>`, written so that pgbench does not take `:<id>` for one of
/// its variables.)
fn nine_statements(shift: &str, session: &Session) -> String {
    format!(
        "SELECT gen_random_uuid()::text AS eid, gen_random_uuid()::text AS rid \\gset\n\
         {check};\n\
         BEGIN;\n\
         SELECT * FROM encounters WHERE id = :eid;\n\
         SELECT pg_advisory_xact_lock_shared(hashtextextended('shift' || ':' || '{shift}', 0)) IS NOT NULL;\n\
         SELECT s.*, su.unit_code FROM shifts s JOIN shift_units su ON su.shift_id = s.id WHERE s.id = '{shift}';\n\
         INSERT INTO encounters ({COLUMNS}) VALUES ({values}) ON CONFLICT DO NOTHING;\n\
         INSERT INTO changes (record_type, record_id, shift_id, unit_code, at) VALUES ('encounter', :eid, '{shift}', 'mika', now());\n\
         INSERT INTO audit_log ({AUDIT_COLUMNS}) VALUES ({audit});\n\
         COMMIT;\n",
        check = session_check(session),
        values = values(shift, ":eid", &session.user_id),
        audit = audit_values(session, ":eid", ":rid"),
    )
}

/// The same work as one statement: the checks and the three inserts in one data-modifying
/// query, committed on its own.
fn one_statement(shift: &str, session: &Session) -> String {
    format!(
        "WITH sess AS ({check}), \
         lk AS (SELECT pg_advisory_xact_lock_shared(hashtextextended('shift' || ':' || '{shift}', 0)) IS NOT NULL AS ok), \
         sh AS (SELECT s.id FROM shifts s JOIN shift_units su ON su.shift_id = s.id, lk \
                WHERE s.id = '{shift}' AND su.unit_code = 'mika' AND s.status = 'open' AND lk.ok), \
         ids AS (SELECT gen_random_uuid()::text AS eid, gen_random_uuid()::text AS rid), \
         e AS (INSERT INTO encounters ({COLUMNS}) SELECT {values} FROM ids, sess, sh \
               ON CONFLICT DO NOTHING RETURNING id), \
         c AS (INSERT INTO changes (record_type, record_id, shift_id, unit_code, at) \
               SELECT 'encounter', e.id, '{shift}', 'mika', now() FROM e), \
         a AS (INSERT INTO audit_log ({AUDIT_COLUMNS}) SELECT {audit} FROM e, ids) \
         SELECT count(*) FROM e;\n",
        check = session_check(session),
        values = values(shift, "ids.eid", &session.user_id),
        audit = audit_values(session, "e.id", "ids.rid"),
    )
}

pub fn run(store: &Fresh, shift_id: &str, duration: Duration) -> Result<Vec<Row>> {
    let session: Session = diesel::sql_query(
        "SELECT id, user_id FROM sessions WHERE revoked_at IS NULL ORDER BY last_used_at DESC LIMIT 1",
    )
    .get_result(&mut store.connect_postgres()?)?;
    let seconds = duration.as_secs().max(1);
    let mut rows = Vec::new();
    for (label, name, script) in [
        (
            "its nine statements, one round trip each",
            "nine_statements.sql",
            nine_statements(shift_id, &session),
        ),
        (
            "the same work as one statement",
            "one_statement.sql",
            one_statement(shift_id, &session),
        ),
    ] {
        let bare = ceiling::pgbench(store, shift_id, CONNECTIONS, duration)?;
        let alone = ceiling::pgbench_script(
            store,
            name,
            &script,
            &["-M", "prepared"],
            CONNECTIONS,
            duration,
        )?;
        rows.push(
            Row::new(
                format!("The database alone, a logged encounter as {label} (`pgbench -M prepared -c16 -j2 -T{seconds}`)"),
                rate(alone.tps),
            )
            .ceiling(
                format!("`pgbench -n -c16 -j2 -T{seconds}`: {}", describe_ceiling(&bare)),
                percent(alone.tps / bare.tps),
            ),
        );
    }
    Ok(rows)
}
