//! What operators rely on: a backup of a live database, and a server that turns a burst
//! of expensive work away instead of queueing it without bound.

use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;
use faltlogg_persistence::{Backend, Database, encounters};

use crate::cli::{faltlogg, scratch_dir};
use crate::fieldlog::{adult, log, open_shift, shift_body};
use crate::helpers::{Db, PASSWORD, TestApp, TestDb, add_user_to, assert_problem, serve};
use crate::on_both_backends;

on_both_backends!(
    a_backup_is_a_consistent_copy_of_the_live_database,
    expensive_work_beyond_the_limit_answers_503,
    metrics_count_requests_by_route_and_nothing_personal,
    two_instances_on_one_database_behave_as_one,
    a_request_that_outlives_the_timeout_is_answered_503,
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
    app.get(&format!("/api/v1/nowhere/{id}")).await;
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
    assert!(text.contains(
        r#"faltlogg_http_requests_total{method="GET",route="unmatched",status="404"} 1"#
    ));
    assert!(text.contains("faltlogg_http_request_duration_seconds_bucket"));
    assert!(text.contains("faltlogg_db_pool_connections"));
    assert!(text.contains("faltlogg_audit_unsealed_entries"));
    // Route patterns only: no record id, no user.
    for personal in [id.as_str(), shift.as_str(), "mika1"] {
        assert!(!text.contains(personal), "{personal} in the metrics");
    }
}

/// Two instances started at the same moment on an empty database: they migrate once, both
/// serve, and a session is one session on both (all state is in the database).
async fn two_instances_on_one_database_behave_as_one(db: Db) {
    use ed25519_dalek::SigningKey;
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    use serde_json::{Value, json};

    let test_db = TestDb::create(&db);
    std::fs::create_dir_all(&test_db.data_dir).unwrap();
    // Instances share the signing key as a mounted secret.
    let key = test_db.data_dir.join("shared.pem");
    let pem = SigningKey::from_bytes(&[5; 32])
        .to_pkcs8_pem(Default::default())
        .unwrap();
    std::fs::write(&key, pem.as_bytes()).unwrap();
    let key = key.display().to_string();
    let settings = [("FALTLOGG_JWT_KEY_FILE", key.as_str())];
    let (a, b) = tokio::join!(serve(&test_db, &settings), serve(&test_db, &settings));
    let client = reqwest::Client::new();
    for address in [&a, &b] {
        let ready = client
            .get(format!("{address}/readyz"))
            .send()
            .await
            .unwrap();
        assert_eq!(ready.status(), 200);
    }
    let migrations = std::fs::read_dir(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../persistence/migrations/sqlite"
    ))
    .unwrap()
    .count();
    #[derive(diesel::QueryableByName)]
    struct Count {
        #[diesel(sql_type = diesel::sql_types::BigInt)]
        n: i64,
    }
    let applied: Count = {
        use diesel::RunQueryDsl;
        let database = test_db.connect();
        let mut conn = database.get().unwrap();
        diesel::sql_query("SELECT COUNT(*) AS n FROM __diesel_schema_migrations")
            .get_result(&mut *conn)
            .unwrap()
    };
    assert_eq!(
        usize::try_from(applied.n).unwrap(),
        migrations,
        "each migration applied once"
    );

    add_user_to(&test_db, "anna", Role::OutreachWorker, Some(Unit::Mika));
    let login: Value = client
        .post(format!("{a}/api/v1/auth/login"))
        .json(&json!({"username": "anna", "password": PASSWORD, "device_name": "Telefon"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    // Refreshed on B.
    let refreshed: Value = client
        .post(format!("{b}/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": login["refresh_token"]}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let access = refreshed["access_token"].as_str().unwrap();
    for address in [&a, &b] {
        let me = client
            .get(format!("{address}/api/v1/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_eq!(me.status(), 200);
    }
    // Revoked on A: refused on both, at once.
    let revoke = client
        .delete(format!(
            "{a}/api/v1/me/sessions/{}",
            login["session_id"].as_str().unwrap()
        ))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    for address in [&a, &b] {
        let me = client
            .get(format!("{address}/api/v1/me"))
            .bearer_auth(access)
            .send()
            .await
            .unwrap();
        assert_problem(me, 401).await;
        let again = client
            .post(format!("{address}/api/v1/auth/refresh"))
            .json(&json!({"refresh_token": refreshed["refresh_token"]}))
            .send()
            .await
            .unwrap();
        assert_problem(again, 401).await;
    }
}

/// A client that sends its headers and then trickles (or stops sending) its body is
/// answered 503 when `FALTLOGG_REQUEST_TIMEOUT` runs out, and the server goes on serving.
async fn a_request_that_outlives_the_timeout_is_answered_503(db: Db) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::spawn_with(&db, &[("FALTLOGG_REQUEST_TIMEOUT", "1")]).await;
    let authority = app.address.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&authority).await.unwrap();
    stream
        .write_all(
            format!(
                "POST /api/v1/auth/login HTTP/1.1\r\nHost: {authority}\r\n\
                 Content-Type: application/json\r\nContent-Length: 200\r\n\r\n{{\"username\":"
            )
            .as_bytes(),
        )
        .await
        .unwrap();
    let mut answer = Vec::new();
    let read = tokio::time::timeout(
        std::time::Duration::from_secs(20),
        stream.read_to_end(&mut answer),
    )
    .await;
    let answer = String::from_utf8_lossy(&answer);
    assert!(
        read.is_ok(),
        "no answer before the client gave up: {answer}"
    );
    assert!(answer.starts_with("HTTP/1.1 503"), "{answer}");
    assert!(
        answer.to_ascii_lowercase().contains("retry-after: 5"),
        "{answer}"
    );
    assert!(answer.contains("application/problem+json"), "{answer}");
    let lowercase = answer.to_ascii_lowercase();
    for header in [
        "x-request-id: ",
        "cache-control: no-store",
        "x-content-type-options: nosniff",
        "referrer-policy: no-referrer",
    ] {
        assert!(lowercase.contains(header), "{header} missing: {answer}");
    }

    let health = app.get("/healthz").await;
    assert_eq!(health.status(), 200);
    // Counted by its route, though its answer is an error that no longer carries it.
    let metrics = app.get("/metrics").await.text().await.unwrap();
    assert!(
        metrics.contains(r#"faltlogg_http_requests_total{method="POST",route="/api/v1/auth/login",status="503"} 1"#),
        "{metrics}"
    );
}
