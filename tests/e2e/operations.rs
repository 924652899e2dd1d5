//! What operators rely on: a backup of a live database, and a server that turns a burst
//! of expensive work away instead of queueing it without bound.

use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;
use faltlogg_persistence::{Backend, Database, encounters};

use crate::cli::{faltlogg, scratch_dir};
use crate::fieldlog::{adult, log, open_shift, shift_body};
use crate::helpers::{Db, PASSWORD, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(
    a_backup_is_a_consistent_copy_of_the_live_database,
    expensive_work_beyond_the_limit_answers_503,
    metrics_count_requests_by_route_and_nothing_personal,
);

async fn a_backup_is_a_consistent_copy_of_the_live_database(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let id = log(&app, &mika, &adult(&shift, "selling")).await;
    let dir = scratch_dir();
    let target = dir.join("faltlogg-backup.db");
    let backup = || {
        faltlogg()
            .args(["backup", "--to"])
            .arg(&target)
            .env("FALTLOGG_DATABASE_URL", app.db.url())
            .output()
            .unwrap()
    };
    let output = backup();
    match db {
        Db::Postgres(_) => {
            assert_eq!(output.status.code(), Some(2));
            assert!(String::from_utf8_lossy(&output.stderr).contains("pg_dump"));
            return;
        }
        Db::Sqlite => assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        ),
    }
    // The copy opens on its own and holds what was acknowledged.
    let copy = Database::connect(Backend::Sqlite(target.clone()), 1).unwrap();
    assert_eq!(copy.migrate().unwrap(), 0, "the copy has every migration");
    let found = encounters::get(&mut copy.get().unwrap(), id.parse().unwrap()).unwrap();
    assert_eq!(found.map(|e| e.id.to_string()), Some(id.clone()));
    // The server went on serving, and a backup never overwrites a file.
    app.get_ok(&format!("/api/v1/encounters/{id}"), &mika).await;
    assert!(!backup().status.success());
    let _ = std::fs::remove_dir_all(dir);
}

async fn expensive_work_beyond_the_limit_answers_503(db: Db) {
    let app = TestApp::spawn_with(&db, &[("FALTLOGG_EXPENSIVE_WORK_LIMIT", "1")]).await;
    app.add_user("anna", Role::OutreachWorker, Some(Unit::Mika));
    let burst = (0..6).map(|_| {
        let app = &app;
        async move { app.login_response("anna", PASSWORD).await }
    });
    let responses = futures_util::future::join_all(burst).await;
    let mut busy = 0;
    for response in responses {
        match response.status().as_u16() {
            200 => {}
            503 => {
                busy += 1;
                assert_eq!(response.headers()["retry-after"], "1");
                assert_problem(response, 503).await;
            }
            other => panic!("a burst of logins answered {other}"),
        }
    }
    assert!(
        busy > 0,
        "six password checks at once with one slot: some are turned away"
    );
    // The slot is free again, and turned-away attempts counted for nothing.
    assert_eq!(app.login_response("anna", PASSWORD).await.status(), 200);
}

async fn metrics_count_requests_by_route_and_nothing_personal(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let id = log(&app, &mika, &adult(&shift, "selling")).await;
    for _ in 0..3 {
        app.get_ok(&format!("/api/v1/encounters/{id}"), &mika).await;
    }
    app.get("/healthz").await;
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/plain")
    );
    let text = response.text().await.unwrap();
    assert!(
        text.contains(r#"faltlogg_http_requests_total{method="GET",route="/api/v1/encounters/{id}",status="200"} 3"#),
        "{text}"
    );
    assert!(text.contains(r#"faltlogg_http_requests_total{method="PUT",route="/api/v1/encounters/{id}",status="201"} 1"#));
    assert!(text.contains("faltlogg_http_request_duration_seconds_bucket"));
    assert!(text.contains("faltlogg_db_pool_connections"));
    assert!(text.contains("faltlogg_audit_unsealed_entries"));
    // Route patterns only: no record id, no user.
    for personal in [id.as_str(), shift.as_str(), "mika1"] {
        assert!(!text.contains(personal), "{personal} in the metrics");
    }
}
