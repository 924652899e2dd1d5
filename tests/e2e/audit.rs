//! The audit log, retention and what the server keeps out of its own log (issue: audit
//! log, retention and data protection).

use diesel::connection::SimpleConnection;
use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cli::faltlogg;
use crate::fieldlog::{adult, log, open_shift, shift_body};
use crate::helpers::{Db, PASSWORD, TestApp, assert_problem, captured_logs};
use crate::on_both_backends;
use crate::sync::{item, push};

on_both_backends!(
    reads_and_writes_are_audited_without_the_records_content,
    a_read_whose_audit_entry_cannot_be_written_shows_nothing,
    only_auditors_read_the_audit_log_and_refusals_are_audited,
    authentication_events_are_audited,
    the_audit_log_is_append_only_and_its_chain_verifies,
    retention_erases_old_details_and_keeps_every_count,
    the_server_log_and_headers_hold_nothing_personal,
);

async fn entries(app: &TestApp, auditor: &str, query: &str) -> Vec<Value> {
    app.get_ok(&format!("/api/v1/audit{query}"), auditor).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

fn actions(entries: &[Value]) -> Vec<&str> {
    entries
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

async fn reads_and_writes_are_audited_without_the_records_content(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let auditor = app.token_for("granskare", Role::Auditor, None).await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let mut body = adult(&shift, "selling");
    body["notes"] = json!("Hemlig anteckning om mötet");
    body["pseudonym"] = json!("P-77");
    let id = log(&app, &mika, &body).await;
    let read = app.get_as(&format!("/api/v1/encounters/{id}"), &mika).await;
    let request_id = read.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(read.status(), 200);

    let found = entries(&app, &auditor, &format!("?record={id}")).await;
    // Newest first.
    assert_eq!(actions(&found), ["read", "create"]);
    let entry = &found[0];
    assert_eq!(entry["username"], "mika1");
    assert_eq!(entry["role"], "outreach_worker");
    assert_eq!(entry["unit"], "mika");
    assert_eq!(entry["record_type"], "encounter");
    assert_eq!(entry["outcome"], "ok");
    assert_eq!(entry["request_id"], request_id);
    assert!(
        entry["session_id"].is_string() && entry["user_id"].is_string() && entry["at"].is_string()
    );
    let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
    assert_eq!(
        keys,
        [
            "at",
            "user_id",
            "username",
            "role",
            "unit",
            "session_id",
            "action",
            "record_type",
            "record_id",
            "request_id",
            "outcome"
        ]
    );
    // Nothing of the record itself, in the answer or in the table.
    let text = serde_json::to_string(&found).unwrap();
    assert!(!text.contains("Hemlig") && !text.contains("P-77"));
    let database = app.db.connect();
    let mut conn = database.get().unwrap();
    type Texts = (
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
        Option<String>,
        Option<String>,
        Option<String>,
        String,
    );
    let dump: Vec<Texts> = {
        use diesel::prelude::*;
        use faltlogg_persistence::schema::audit_log;
        audit_log::table
            .select((
                audit_log::user_id,
                audit_log::username,
                audit_log::role,
                audit_log::unit_code,
                audit_log::session_id,
                audit_log::action,
                audit_log::record_type,
                audit_log::record_id,
                audit_log::request_id,
                audit_log::outcome,
            ))
            .load(&mut *conn)
            .unwrap()
    };
    let dump = format!("{dump:?}");
    assert!(dump.contains(&id), "the table was read");
    assert!(!dump.contains("Hemlig") && !dump.contains("P-77"));

    // A list, a void and a push are audited too; so is reading the audit log.
    app.get_ok(&format!("/api/v1/shifts/{shift}/encounters"), &mika)
        .await;
    app.post_json(
        &format!("/api/v1/encounters/{id}/void"),
        &mika,
        &json!({"reason": "Dubblett"}),
    )
    .await;
    let pushed = Uuid::new_v4().to_string();
    push(
        &app,
        &mika,
        vec![item("encounter", &pushed, None, adult(&shift, "buyer"))],
    )
    .await;
    assert_eq!(
        actions(&entries(&app, &auditor, &format!("?record={shift}")).await)[0],
        "list"
    );
    assert_eq!(
        actions(&entries(&app, &auditor, &format!("?record={id}")).await)[0],
        "void"
    );
    assert_eq!(
        actions(&entries(&app, &auditor, &format!("?record={pushed}")).await),
        ["create"]
    );
    let own = entries(&app, &auditor, "?actor=granskare&action=list").await;
    assert!(own.iter().any(|e| e["record_type"] == "audit"));
    // Filters and CSV.
    let by_mika = entries(&app, &auditor, "?actor=mika1&action=create").await;
    assert!(
        by_mika
            .iter()
            .all(|e| e["username"] == "mika1" && e["action"] == "create")
    );
    let csv = app
        .client
        .get(app.url(&format!("/api/v1/audit?record={id}")))
        .bearer_auth(&auditor)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let rows = faltlogg_api::table::parse_csv(&csv.text().await.unwrap());
    assert_eq!(rows[0][0], "at");
    assert_eq!(rows.len(), 4, "a header and three entries");
    let bad = app.get_as("/api/v1/audit?action=peek", &auditor).await;
    assert_eq!(
        assert_problem(bad, 422).await["errors"][0]["field"],
        "action"
    );
}

/// A read's entry is written after the read and before the answer: when the database
/// refuses it, the reader gets an error and nothing of the records.
async fn a_read_whose_audit_entry_cannot_be_written_shows_nothing(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let mut body = adult(&shift, "selling");
    body["pseudonym"] = json!("P-77");
    let id = log(&app, &mika, &body).await;
    let database = app.db.connect();
    let mut conn = database.get().unwrap();
    let (refuse, allow) = match db {
        Db::Sqlite => (
            "CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             BEGIN SELECT RAISE(ABORT, 'refused'); END;",
            "DROP TRIGGER refuse_audit;",
        ),
        Db::Postgres(_) => (
            "CREATE FUNCTION refuse_audit() RETURNS trigger LANGUAGE plpgsql \
             AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$; \
             CREATE TRIGGER refuse_audit BEFORE INSERT ON audit_log \
             FOR EACH ROW EXECUTE FUNCTION refuse_audit();",
            "DROP TRIGGER refuse_audit ON audit_log;",
        ),
    };
    let reads = [
        format!("/api/v1/encounters/{id}"),
        format!("/api/v1/shifts/{shift}/encounters"),
        "/api/v1/sync/pull".to_owned(),
        "/api/v1/reports/cooperation?from=2026-01-01&to=2026-12-31".to_owned(),
    ];
    conn.batch_execute(refuse).unwrap();
    for path in &reads {
        let answer = app.get_as(path, &mika).await;
        assert_eq!(answer.status(), 500, "{path}");
        let text = answer.text().await.unwrap();
        assert!(
            !text.contains(&id) && !text.contains("P-77"),
            "{path}: {text}"
        );
    }
    conn.batch_execute(allow).unwrap();
    for path in &reads {
        app.get_ok(path, &mika).await;
    }
}

async fn only_auditors_read_the_audit_log_and_refusals_are_audited(db: Db) {
    let app = TestApp::spawn(&db).await;
    let auditor = app.token_for("granskare", Role::Auditor, None).await;
    for (name, role, unit) in [
        ("worker", Role::OutreachWorker, Some(Unit::Kast)),
        ("coordinator", Role::Coordinator, None),
        ("liaison", Role::PoliceLiaison, None),
        ("admin", Role::Admin, None),
    ] {
        let token = app.token_for(name, role, unit).await;
        assert_problem(app.get_as("/api/v1/audit", &token).await, 403).await;
        let denied = entries(&app, &auditor, &format!("?actor={name}&action=denied")).await;
        assert_eq!(denied.len(), 1, "{name}");
        assert_eq!(denied[0]["record_id"], "/api/v1/audit");
        assert_eq!(denied[0]["outcome"], "denied");
    }
    assert_problem(app.get("/api/v1/audit").await, 401).await;
    // Another unit's encounter is a refused access too.
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika", "kast"])).await;
    let id = log(&app, &mika, &adult(&shift, "selling")).await;
    assert_problem(
        app.get_as(&format!("/api/v1/encounters/{id}"), &kast).await,
        404,
    )
    .await;
    let refused = entries(&app, &auditor, &format!("?record={id}&actor=kast1")).await;
    assert_eq!(refused[0]["outcome"], "not_found");
    assert_eq!(refused[0]["action"], "read");
}

async fn authentication_events_are_audited(db: Db) {
    let app = TestApp::spawn(&db).await;
    let auditor = app.token_for("granskare", Role::Auditor, None).await;
    app.add_user("anna", Role::OutreachWorker, Some(Unit::Mika));
    app.login_response("anna", "fel lösenord helt klart").await;
    app.login_response("ingen-sadan", "fel lösenord helt klart")
        .await;
    let tokens = app.login("anna").await;
    let refresh = |token: String| {
        let app = &app;
        async move {
            app.client
                .post(app.url("/api/v1/auth/refresh"))
                .json(&json!({"refresh_token": token}))
                .send()
                .await
                .unwrap()
        }
    };
    assert_eq!(refresh(tokens.refresh_token.clone()).await.status(), 200);
    let second = app.login("anna").await;
    let sessions = app
        .get_ok("/api/v1/me/sessions", &second.access_token)
        .await;
    assert_eq!(sessions.as_array().unwrap().len(), 2);
    let revoke = app
        .client
        .delete(app.url(&format!("/api/v1/me/sessions/{}", tokens.session_id)))
        .bearer_auth(&second.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    let logout = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&second.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    let third = app.login("anna").await;
    let rotated: Value = refresh(third.refresh_token.clone())
        .await
        .json()
        .await
        .unwrap();
    let successor = rotated["refresh_token"].as_str().unwrap().to_owned();
    assert_eq!(refresh(successor).await.status(), 200);
    // The first token again, after its successor was used: a reuse, which ends the session.
    assert_eq!(refresh(third.refresh_token.clone()).await.status(), 401);

    let all = entries(&app, &auditor, "?limit=500").await;
    let of = |action: &str| {
        all.iter()
            .filter(|e| e["action"] == action)
            .cloned()
            .collect::<Vec<_>>()
    };
    assert_eq!(of("login").len(), 4, "three of anna's and the auditor's");
    let failed = of("login_failed");
    assert_eq!(failed.len(), 2);
    // The attempted name is never kept: only the account, when there is one.
    assert!(failed.iter().all(|e| e["username"].is_null()));
    assert_eq!(
        failed.iter().filter(|e| e["record_id"].is_string()).count(),
        1
    );
    assert!(!serde_json::to_string(&all).unwrap().contains("ingen-sadan"));
    assert!(
        of("refresh")
            .iter()
            .any(|e| e["username"] == "anna" && e["outcome"] == "ok")
    );
    assert_eq!(of("revoke")[0]["record_id"], tokens.session_id);
    assert_eq!(of("logout")[0]["record_id"], second.session_id);
    let reuse = of("refresh_reuse");
    assert_eq!(reuse.len(), 1);
    assert_eq!(
        (reuse[0]["record_id"].as_str(), reuse[0]["outcome"].as_str()),
        (Some(third.session_id.as_str()), Some("revoked"))
    );
}

async fn the_audit_log_is_append_only_and_its_chain_verifies(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    for _ in 0..3 {
        log(&app, &mika, &adult(&shift, "selling")).await;
    }
    let database = app.db.connect();
    let mut conn = database.get().unwrap();
    faltlogg_persistence::audit::seal(&mut conn).unwrap();
    for statement in [
        "UPDATE audit_log SET outcome = 'ok' WHERE seq = (SELECT min(seq) FROM audit_log)",
        "UPDATE audit_log SET username = 'someone' WHERE seq = (SELECT min(seq) FROM audit_log)",
        "DELETE FROM audit_log",
    ] {
        assert!(
            conn.batch_execute(statement).is_err(),
            "{statement} went through"
        );
    }

    let verify = |expect_ok: bool| {
        let output = faltlogg()
            .args(["audit", "verify"])
            .env("FALTLOGG_DATABASE_URL", app.db.url())
            .env("FALTLOGG_LOG_FORMAT", "json")
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        assert_eq!(output.status.success(), expect_ok, "{text}");
        text
    };
    assert!(verify(true).contains("audit log intact"));
    if matches!(db, Db::Postgres(_)) {
        assert!(
            conn.batch_execute("TRUNCATE audit_log").is_err(),
            "TRUNCATE went through"
        );
    }
    // Pruning cuts the chain's old end; what is left still verifies from its new start.
    let later = chrono::Utc::now() + chrono::Duration::days(1);
    let pruned = faltlogg_persistence::audit::prune(&mut conn, later, chrono::Utc::now()).unwrap();
    assert!(pruned > 0);
    for _ in 0..2 {
        log(&app, &mika, &adult(&shift, "selling")).await;
    }
    faltlogg_persistence::audit::seal(&mut conn).unwrap();
    assert!(verify(true).contains("audit log intact"));

    // Someone with the database's keys switches the guard off and rewrites an entry.
    let seq: i64 = {
        use diesel::prelude::*;
        use faltlogg_persistence::schema::audit_log;
        audit_log::table
            .filter(audit_log::action.eq("create"))
            .filter(audit_log::hash.is_not_null())
            .select(audit_log::seq)
            .order(audit_log::seq)
            .first(&mut *conn)
            .unwrap()
    };
    let disable = match db {
        Db::Sqlite => "DROP TRIGGER audit_log_no_update;",
        Db::Postgres(_) => "ALTER TABLE audit_log DISABLE TRIGGER audit_log_append_only;",
    };
    conn.batch_execute(&format!(
        "{disable} UPDATE audit_log SET record_id = 'nothing-to-see' WHERE seq = {seq};"
    ))
    .unwrap();
    let report = verify(false);
    assert!(
        report.contains(&format!("BROKEN at entry {seq}")),
        "{report}"
    );
}

async fn retention_erases_old_details_and_keeps_every_count(db: Db) {
    let app = TestApp::spawn_with(&db, &[("FALTLOGG_RETENTION_DAYS", "30")]).await;
    let ujour = app
        .token_for("ujour1", Role::OutreachWorker, Some(Unit::Ungdomsjouren))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    // Met a year ago, logged today; and met yesterday.
    let recent_day = (chrono::Utc::now() - chrono::Duration::days(1)).to_rfc3339();
    let old = Uuid::new_v4().to_string();
    let recent_shift = Uuid::new_v4().to_string();
    let mut old_body = shift_body("raid", &["ungdomsjouren"]);
    old_body["started_at"] = json!("2025-09-10T18:00:00+02:00");
    let mut recent_body = shift_body("raid", &["ungdomsjouren"]);
    recent_body["started_at"] = json!(recent_day);
    let detailed = |shift: &str, at: &str| {
        json!({
            "shift_id": shift, "occurred_at": at, "role": "sugar_dating", "age_group": "under_18",
            "age_years": 15, "gender": "female", "home_municipality": "abroad", "home_country": "EE",
            "pseudonym": "U-15", "notes": "Träffades via appen", "support_offered": true,
            "support_response": "accepted", "referrals": [{"target": "stodcentrum"}],
            "guardian_not_contacted_reason": "Risk för barnet",
            "concern_report": {"filed_at": at, "municipality": "0180"},
        })
    };
    let old_ids = [Uuid::new_v4().to_string(), Uuid::new_v4().to_string()];
    let recent_id = Uuid::new_v4().to_string();
    let results = push(
        &app,
        &ujour,
        vec![
            item("shift", &old, None, old_body),
            item(
                "encounter",
                &old_ids[0],
                None,
                detailed(&old, "2025-09-10T19:00:00+02:00"),
            ),
            item(
                "encounter",
                &old_ids[1],
                None,
                detailed(&old, "2025-09-10T19:30:00+02:00"),
            ),
            item("shift", &recent_shift, None, recent_body),
            item(
                "encounter",
                &recent_id,
                None,
                detailed(&recent_shift, &recent_day),
            ),
        ],
    )
    .await;
    assert!(
        results.iter().all(|r| r["status"] == "created"),
        "{results:?}"
    );
    app.post_json(
        &format!("/api/v1/encounters/{}/void", old_ids[1]),
        &ujour,
        &json!({"reason": "Dubblett"}),
    )
    .await;
    let (_, cursor) = pull(&app, &ujour, None).await;
    let before = all_reports(&app, &coordinator).await;

    let output = faltlogg()
        .args(["retention", "run"])
        .env("FALTLOGG_DATABASE_URL", app.db.url())
        .env("FALTLOGG_RETENTION_DAYS", "30")
        .env("FALTLOGG_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(String::from_utf8_lossy(&output.stdout).contains("details of 2 encounters erased"));

    let erased = app
        .get_ok(&format!("/api/v1/encounters/{}", old_ids[0]), &ujour)
        .await;
    for field in [
        "pseudonym",
        "notes",
        "age_years",
        "home_country",
        "guardian_not_contacted_reason",
    ] {
        assert!(erased[field].is_null(), "{field} kept: {erased}");
    }
    assert_eq!(
        erased["concern_report"],
        json!({"filed_at": null, "municipality": null, "filed_by_unit": null, "details_erased": true})
    );
    // What the reports count stays.
    assert_eq!(erased["age_group"], "under_18");
    assert_eq!(erased["home_municipality"], "abroad");
    assert_eq!(erased["referrals"][0]["target"], "stodcentrum");
    assert_eq!(erased["support_response"], "accepted");
    assert_eq!(erased["version"], 2);
    let voided = app
        .get_ok(&format!("/api/v1/encounters/{}", old_ids[1]), &ujour)
        .await;
    assert!(voided["void_reason"].is_null() && voided["voided"] == true);
    // The phone sends the erased record back, amended: the erased report stays filed.
    let mut amended: Value = [
        "shift_id",
        "occurred_at",
        "role",
        "age_group",
        "age_estimated",
        "gender",
        "home_municipality",
        "support_offered",
        "support_response",
        "referrals",
        "guardian_contacted_at",
        "concern_report",
    ]
    .iter()
    .map(|key| ((*key).to_owned(), erased[*key].clone()))
    .collect::<serde_json::Map<_, _>>()
    .into();
    amended["self_harm"] = json!(true);
    let response = app
        .put_json(
            &format!("/api/v1/encounters/{}", old_ids[0]),
            &ujour,
            &amended,
            Some(2),
        )
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let after = app
        .get_ok(&format!("/api/v1/encounters/{}", old_ids[0]), &ujour)
        .await;
    assert_eq!(after["concern_report"]["details_erased"], true);
    // Only retention erases: a new record cannot claim it.
    let mut claimed = amended.clone();
    claimed["shift_id"] = json!(recent_shift);
    claimed["occurred_at"] = json!(recent_day);
    let refused = app
        .put_json(
            &format!("/api/v1/encounters/{}", Uuid::new_v4()),
            &ujour,
            &claimed,
            None,
        )
        .await;
    assert_eq!(
        assert_problem(refused, 422).await["errors"][0]["code"],
        "erased_only_by_retention"
    );
    let kept = app
        .get_ok(&format!("/api/v1/encounters/{recent_id}"), &ujour)
        .await;
    assert_eq!(
        (kept["pseudonym"].as_str(), kept["notes"].as_str()),
        (Some("U-15"), Some("Träffades via appen"))
    );
    assert_eq!(kept["version"], 1);

    assert_eq!(
        all_reports(&app, &coordinator).await,
        before,
        "every figure of every report is the same"
    );
    assert!(before[2]["retention_note"].is_string() && before[2]["age_min"].is_null());

    // The device gets the erased version through the feed.
    let (changes, _) = pull(&app, &ujour, Some(cursor)).await;
    let pulled = changes.iter().find(|c| c["id"] == old_ids[0]).unwrap();
    // The erased version, and since the amendment.
    assert_eq!(pulled["version"], 3);
    assert!(pulled["data"]["pseudonym"].is_null());
    assert!(changes.iter().all(|c| c["id"] != recent_id));
    // Nothing left to erase; and the run is in the audit log.
    let again = faltlogg()
        .args(["retention", "run"])
        .env("FALTLOGG_DATABASE_URL", app.db.url())
        .env("FALTLOGG_RETENTION_DAYS", "30")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&again.stdout).contains("details of 0 encounters erased"));
    let auditor = app.token_for("granskare", Role::Auditor, None).await;
    assert_eq!(
        entries(&app, &auditor, "?action=retention").await.len(),
        2 + 3,
        "each erased encounter, and each run: the server's own at start and two by hand"
    );
}

/// Every report, for a period before the retention cutoff and one across it.
async fn all_reports(app: &TestApp, coordinator: &str) -> Vec<Value> {
    let mut all = Vec::new();
    for report in ["cooperation", "sugar-dating", "municipalities"] {
        for period in [
            "?from=2025-01-01&to=2025-12-31",
            "?from=2025-01-01&to=2026-12-31",
        ] {
            all.push(
                app.get_ok(&format!("/api/v1/reports/{report}{period}"), coordinator)
                    .await,
            );
        }
    }
    all
}

async fn pull(app: &TestApp, token: &str, cursor: Option<String>) -> (Vec<Value>, String) {
    let path = match &cursor {
        Some(c) => format!("/api/v1/sync/pull?limit=500&cursor={c}"),
        None => "/api/v1/sync/pull?limit=500".to_owned(),
    };
    let page = app.get_ok(&path, token).await;
    (
        page["changes"].as_array().unwrap().clone(),
        page["next_cursor"].as_str().unwrap().to_owned(),
    )
}

async fn the_server_log_and_headers_hold_nothing_personal(db: Db) {
    let app = TestApp::spawn(&db).await;
    app.add_user("ujour1", Role::OutreachWorker, Some(Unit::Ungdomsjouren));
    let ujour = app.login("ujour1").await;
    let shift = open_shift(
        &app,
        &ujour.access_token,
        &shift_body("online_outreach", &["ungdomsjouren"]),
    )
    .await;
    let mut body = adult(&shift, "sugar_dating");
    body["notes"] = json!("Loggfri anteckning");
    body["pseudonym"] = json!("Loggfri-pseudonym");
    let id = log(&app, &ujour.access_token, &body).await;
    let read = app
        .get_as(&format!("/api/v1/encounters/{id}"), &ujour.access_token)
        .await;
    assert_eq!(read.headers()["cache-control"], "no-store");
    assert_eq!(read.headers()["referrer-policy"], "no-referrer");
    assert_eq!(read.headers()["x-content-type-options"], "nosniff");
    let missing = app.get("/nowhere?pseudonym=Loggfri-pseudonym").await;
    assert_eq!(missing.headers()["referrer-policy"], "no-referrer");
    push(
        &app,
        &ujour.access_token,
        vec![item(
            "encounter",
            &Uuid::new_v4().to_string(),
            None,
            body.clone(),
        )],
    )
    .await;
    app.get_as("/api/v1/sync/pull", &ujour.access_token).await;
    let mut bad = body.clone();
    bad["notes"] = json!("811218-9876 Loggfri");
    app.put_json(
        &format!("/api/v1/encounters/{}", Uuid::new_v4()),
        &ujour.access_token,
        &bad,
        None,
    )
    .await;
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;

    let logs = captured_logs();
    for secret in [
        "Loggfri",
        "811218-9876",
        PASSWORD,
        ujour.access_token.as_str(),
        ujour.refresh_token.as_str(),
    ] {
        assert!(!logs.contains(secret), "the log contains {secret:.12}…");
    }
    // Each request is one line with its route pattern, never the path's ids.
    let line = logs
        .lines()
        .find(|l| l.contains("request finished") && l.contains("/api/v1/encounters/{id}"))
        .expect("a request line for the encounter route");
    for field in [
        "\"status\"",
        "\"latency_ms\"",
        "\"request_id\"",
        "\"user_id\"",
        "\"method\"",
    ] {
        assert!(line.contains(field), "{field} missing: {line}");
    }
    assert!(
        !logs.contains(&format!("/api/v1/encounters/{id}")),
        "a path with an id was logged"
    );
    // A line logged while a request runs names its route too.
    assert!(
        logs.lines()
            .any(|l| l.contains("signed in") && l.contains("/api/v1/auth/login")),
        "no sign-in line with its route"
    );
}
