//! Faults: the database going away and coming back, and SIGTERM in the middle of a batch
//! push. Whatever the server acknowledged is there afterwards.

use std::process::Stdio;
use std::time::Duration;

use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::cli::faltlogg;
use crate::fieldlog::{adult, log, open_shift, shift_body};
use crate::helpers::{Db, TestApp, TestDb, add_user_to, assert_problem, serve};
use crate::on_both_backends;
use crate::sync::item;

on_both_backends!(
    the_database_going_away_is_503_and_coming_back_needs_no_restart,
    sigterm_during_batch_pushes_loses_no_acknowledged_item,
);

async fn the_database_going_away_is_503_and_coming_back_needs_no_restart(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let mut acknowledged = vec![log(&app, &mika, &adult(&shift, "selling")).await];

    // Connections ended under the pool (an administrator, a failover) are replaced at
    // the next checkout: the very next request works.
    app.db.terminate_connections();
    acknowledged.push(log(&app, &mika, &adult(&shift, "buyer")).await);

    let outage = app.db.take_away();
    let during = Uuid::new_v4().to_string();
    let path = format!("/api/v1/encounters/{during}");
    let refused = app
        .put_json(&path, &mika, &adult(&shift, "selling"), None)
        .await;
    assert!(refused.headers().contains_key("retry-after"));
    assert_problem(refused, 503).await;
    assert_problem(app.get("/readyz").await, 503).await;
    outage.end();

    let ready = async {
        for _ in 0..50 {
            if app.get("/readyz").await.status() == 200 {
                return true;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        false
    };
    assert!(ready.await, "/readyz did not recover");
    let retried = app
        .put_json(&path, &mika, &adult(&shift, "selling"), None)
        .await;
    assert_eq!(retried.status(), 201, "the refused write was not kept");
    acknowledged.push(during);
    for id in &acknowledged {
        let found = app.get_as(&format!("/api/v1/encounters/{id}"), &mika).await;
        assert_eq!(found.status(), 200, "acknowledged encounter {id}");
    }
    let listed = app
        .all_pages(
            &format!("/api/v1/shifts/{shift}/encounters?limit=100"),
            &mika,
            100,
        )
        .await;
    assert_eq!(listed.len(), acknowledged.len());
}

/// Phones push batch after batch; SIGTERM arrives while one is in flight. The server
/// finishes what it has begun and stops; every item of every batch it answered is
/// there when it starts again.
async fn sigterm_during_batch_pushes_loses_no_acknowledged_item(db: Db) {
    let test_db = TestDb::create(&db);
    test_db.connect().migrate().unwrap();
    add_user_to(&test_db, "mika1", Role::OutreachWorker, Some(Unit::Mika));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::create_dir_all(&test_db.data_dir).unwrap();
    let mut child = faltlogg()
        .env("FALTLOGG_DATABASE_URL", test_db.url())
        .env("FALTLOGG_LISTEN", format!("127.0.0.1:{port}"))
        .env("FALTLOGG_DATA_DIR", &test_db.data_dir)
        .env("FALTLOGG_LOG_FORMAT", "json")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let app = TestApp {
        address: format!("http://127.0.0.1:{port}"),
        client: reqwest::Client::new(),
        db: test_db,
    };
    let mut ready = false;
    for _ in 0..100 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        if let Ok(r) = app.client.get(app.url("/readyz")).send().await
            && r.status() == 200
        {
            ready = true;
            break;
        }
    }
    assert!(ready, "the server did not start");
    let mika = app.login("mika1").await.access_token;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;

    let pusher = {
        let (client, url, mika, shift) = (
            app.client.clone(),
            app.url("/api/v1/sync/push"),
            mika.clone(),
            shift.clone(),
        );
        tokio::spawn(async move {
            let mut acknowledged = Vec::new();
            loop {
                let ids: Vec<String> = (0..250).map(|_| Uuid::new_v4().to_string()).collect();
                let items: Vec<Value> = ids
                    .iter()
                    .map(|id| item("encounter", id, None, adult(&shift, "selling")))
                    .collect();
                let sent = client
                    .post(&url)
                    .bearer_auth(&mika)
                    .json(&json!({ "items": items }))
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                if response.status() != 200 {
                    break;
                }
                let Ok(body) = response.json::<Value>().await else {
                    break;
                };
                let results = body["results"].as_array().unwrap();
                assert_eq!(results.len(), ids.len());
                for (id, result) in ids.into_iter().zip(results) {
                    assert_eq!(result["status"], "created", "{result}");
                    acknowledged.push(id);
                }
            }
            acknowledged
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let acknowledged = pusher.await.unwrap();
    let mut stopped = None;
    for _ in 0..300 {
        stopped = child.try_wait().unwrap();
        if stopped.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(stopped.is_some_and(|s| s.success()), "{stopped:?}");
    assert!(
        !acknowledged.is_empty(),
        "no batch was answered before SIGTERM"
    );

    let restarted = TestApp {
        address: serve(&app.db, &[]).await,
        client: reqwest::Client::new(),
        db: app.db,
    };
    let mika = restarted.login("mika1").await.access_token;
    let listed: std::collections::HashSet<String> = restarted
        .all_pages(
            &format!("/api/v1/shifts/{shift}/encounters?limit=500"),
            &mika,
            500,
        )
        .await
        .into_iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let missing: Vec<&String> = acknowledged
        .iter()
        .filter(|id| !listed.contains(*id))
        .collect();
    assert!(
        missing.is_empty(),
        "{} of {} acknowledged items are missing",
        missing.len(),
        acknowledged.len()
    );
}
