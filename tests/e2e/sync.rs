//! Offline sync: batch push by the same rules as PUT, item by item in outcome, and a pull
//! feed that never skips a change and holds only what the worker's phone needs.

use std::collections::HashSet;

use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::fieldlog::{adult, open_shift, shift_body};
use crate::helpers::{Db, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(
    a_lost_answer_pushed_again_changes_nothing,
    only_the_invalid_item_is_rejected,
    a_push_answers_each_item_as_its_put_would,
    two_phones_editing_one_version_get_one_update_and_one_conflict,
    concurrent_writers_never_leave_a_reader_behind,
    a_device_pulls_its_units_records_and_drops_what_leaves_the_window,
    envelopes_are_bounded_and_for_outreach_workers,
    pull_answers_are_gzipped_when_accepted,
);

const PUSH: &str = "/api/v1/sync/push";

pub fn item(record_type: &str, id: &str, base_version: Option<i64>, data: Value) -> Value {
    json!({"type": record_type, "id": id, "base_version": base_version, "data": data})
}

pub async fn push(app: &TestApp, token: &str, items: Vec<Value>) -> Vec<Value> {
    let response = app.post_json(PUSH, token, &json!({"items": items})).await;
    assert_eq!(response.status(), 200);
    response.json::<Value>().await.unwrap()["results"]
        .as_array()
        .unwrap()
        .clone()
}

fn statuses(results: &[Value]) -> Vec<&str> {
    results
        .iter()
        .map(|r| r["status"].as_str().unwrap())
        .collect()
}

/// Pulls until the feed has nothing more: the changes and the cursor to go on from.
async fn pull_all(app: &TestApp, token: &str, cursor: Option<String>) -> (Vec<Value>, String) {
    let mut cursor = cursor;
    let mut changes = Vec::new();
    loop {
        let path = match &cursor {
            Some(c) => format!("/api/v1/sync/pull?limit=50&cursor={c}"),
            None => "/api/v1/sync/pull?limit=50".to_owned(),
        };
        let page = app.get_ok(&path, token).await;
        changes.extend(page["changes"].as_array().unwrap().iter().cloned());
        cursor = Some(page["next_cursor"].as_str().unwrap().to_owned());
        if page["has_more"] == false {
            return (changes, cursor.unwrap_or_default());
        }
    }
}

fn ids_of(changes: &[Value], record_type: &str) -> Vec<String> {
    changes
        .iter()
        .filter(|c| c["type"] == record_type && c["evicted"].is_null())
        .map(|c| c["id"].as_str().unwrap().to_owned())
        .collect()
}

async fn a_lost_answer_pushed_again_changes_nothing(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = Uuid::new_v4().to_string();
    let mut batch = vec![item(
        "shift",
        &shift,
        None,
        shift_body("raid", &["mika", "kast"]),
    )];
    let encounters: Vec<String> = (0..3).map(|_| Uuid::new_v4().to_string()).collect();
    for id in &encounters {
        batch.push(item("encounter", id, None, adult(&shift, "selling")));
    }
    // A shift and its encounters in one batch.
    let first = push(&app, &mika, batch.clone()).await;
    assert_eq!(statuses(&first), ["created"; 4]);
    assert!(first.iter().all(|r| r["version"] == 1));
    assert_eq!(first[1]["id"], encounters[0]);

    // The answer was lost in a tunnel: the same batch again.
    let again = push(&app, &mika, batch).await;
    assert_eq!(statuses(&again), ["unchanged"; 4]);
    let listed = app
        .get_ok(&format!("/api/v1/shifts/{shift}/encounters"), &mika)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 3);
    let (changes, _) = pull_all(&app, &mika, None).await;
    assert_eq!(ids_of(&changes, "shift"), vec![shift.clone()]);
    let mut pulled = ids_of(&changes, "encounter");
    pulled.sort();
    let mut expected = encounters.clone();
    expected.sort();
    assert_eq!(pulled, expected, "each record once");
    // What a pull carries is what GET answers.
    let one = changes.iter().find(|c| c["id"] == encounters[0]).unwrap();
    assert_eq!(one["version"], 1);
    assert_eq!(
        one["data"],
        app.get_ok(&format!("/api/v1/encounters/{}", encounters[0]), &mika)
            .await
    );
}

async fn only_the_invalid_item_is_rejected(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = Uuid::new_v4().to_string();
    let mut minor_to_mika = adult(&shift, "selling");
    minor_to_mika["age_group"] = json!("under_18");
    minor_to_mika["referrals"] = json!([{"target": "mika"}]);
    let mut wrong_type = adult(&shift, "selling");
    wrong_type["support_offered"] = json!("ja");
    let good = [Uuid::new_v4().to_string(), Uuid::new_v4().to_string()];
    let bad = Uuid::new_v4().to_string();
    let results = push(
        &app,
        &mika,
        vec![
            item("shift", &shift, None, shift_body("raid", &["mika"])),
            item("encounter", &good[0], None, adult(&shift, "selling")),
            item("encounter", &bad, None, minor_to_mika),
            item("encounter", &Uuid::new_v4().to_string(), None, wrong_type),
            item("encounter", "not-a-uuid", None, adult(&shift, "selling")),
            item("photo", &Uuid::new_v4().to_string(), None, json!({})),
            item("encounter", &good[1], None, adult(&shift, "buyer")),
        ],
    )
    .await;
    assert_eq!(
        statuses(&results),
        [
            "created", "created", "rejected", "rejected", "rejected", "rejected", "created"
        ]
    );
    assert_eq!(results[2]["errors"][0]["field"], "referrals[0].target");
    assert_eq!(results[2]["errors"][0]["code"], "adults_only_target");
    assert!(results[2]["version"].is_null() && results[2]["current"].is_null());
    assert_eq!(results[3]["errors"][0]["field"], "support_offered");
    assert!(
        !results[3].to_string().contains("\"ja\""),
        "values sent are not echoed"
    );
    assert_eq!(results[4]["errors"][0]["field"], "id");
    assert_eq!(results[5]["errors"][0]["field"], "type");
    assert_problem(
        app.get_as(&format!("/api/v1/encounters/{bad}"), &mika)
            .await,
        404,
    )
    .await;
    for id in &good {
        app.get_ok(&format!("/api/v1/encounters/{id}"), &mika).await;
    }
}

/// New encounters of a push are written together, everything else one by one: the
/// answers, records, notifications and feed are those of the items' PUTs in order.
async fn a_push_answers_each_item_as_its_put_would(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let coordinator = app.token_for("coord", Role::Coordinator, None).await;
    let raid = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let kasts_own = open_shift(&app, &kast, &shift_body("street_outreach", &["kast"])).await;
    let logged = crate::fieldlog::log(&app, &mika, &adult(&raid, "buyer")).await;
    let [referred, foreign, later, botkyrka] = [(); 4].map(|()| Uuid::new_v4().to_string());
    let new_shift = Uuid::new_v4().to_string();
    let mut with_referral = adult(&raid, "selling");
    with_referral["referrals"] = json!([{"target": "mika"}]);
    let mut changed = with_referral.clone();
    changed["gender"] = json!("other");
    let mut from_botkyrka = adult(&raid, "selling");
    from_botkyrka["home_municipality"] = json!("0127");

    let results = push(
        &app,
        &mika,
        vec![
            item("encounter", &referred, None, with_referral.clone()),
            item("encounter", &referred, None, changed),
            item("encounter", &foreign, None, adult(&kasts_own, "selling")),
            item("encounter", &logged, None, adult(&raid, "buyer")),
            item(
                "shift",
                &new_shift,
                None,
                shift_body("street_outreach", &["mika"]),
            ),
            item("encounter", &later, None, adult(&new_shift, "buyer")),
            item("encounter", &botkyrka, None, from_botkyrka),
        ],
    )
    .await;
    assert_eq!(
        statuses(&results),
        [
            "created",
            "conflict",
            "rejected",
            "unchanged",
            "created",
            "created",
            "created"
        ]
    );
    assert_eq!(results[1]["current"]["gender"], "female");
    assert_eq!(results[2]["errors"][0]["code"], "unknown_shift");
    assert_eq!(results[3]["version"], 1);

    let stored = app
        .get_ok(&format!("/api/v1/encounters/{referred}"), &mika)
        .await;
    assert_eq!(stored["referrals"], json!([{"target": "mika", "at": null}]));
    assert_eq!(stored["version"], 1);
    assert_eq!(
        app.get_ok(&format!("/api/v1/encounters/{later}"), &mika)
            .await["shift_id"],
        new_shift.as_str()
    );
    assert_problem(
        app.get_as(&format!("/api/v1/encounters/{foreign}"), &mika)
            .await,
        404,
    )
    .await;
    let notices = app
        .get_ok("/api/v1/municipality-notifications", &coordinator)
        .await;
    let notices = notices["items"].as_array().unwrap();
    assert_eq!(notices.len(), 1, "{notices:?}");
    assert_eq!(notices[0]["municipality"], "0127");

    let (changes, _) = pull_all(&app, &mika, None).await;
    let pulled: HashSet<&str> = changes
        .iter()
        .filter(|c| c["type"] == "encounter")
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    let expected: HashSet<&str> = [&referred, &logged, &later, &botkyrka]
        .map(String::as_str)
        .into();
    assert_eq!(pulled, expected);
}

async fn two_phones_editing_one_version_get_one_update_and_one_conflict(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let other_phone = app.login("mika1").await.access_token;
    let shift = open_shift(&app, &mika, &shift_body("street_outreach", &["mika"])).await;
    let id = Uuid::new_v4().to_string();
    push(
        &app,
        &mika,
        vec![item("encounter", &id, None, adult(&shift, "selling"))],
    )
    .await;

    let mut first = adult(&shift, "selling");
    first["support_response"] = json!("accepted");
    let mut second = adult(&shift, "selling");
    second["gender"] = json!("other");
    let a = push(&app, &mika, vec![item("encounter", &id, Some(1), first)]).await;
    assert_eq!(statuses(&a), ["updated"]);
    assert_eq!(a[0]["version"], 2);
    let b = push(
        &app,
        &other_phone,
        vec![item("encounter", &id, Some(1), second.clone())],
    )
    .await;
    assert_eq!(statuses(&b), ["conflict"]);
    assert_eq!(b[0]["version"], 2);
    let stored = app.get_ok(&format!("/api/v1/encounters/{id}"), &mika).await;
    assert_eq!(b[0]["current"], stored);
    assert_eq!(stored["support_response"], "accepted");
    assert_eq!(stored["gender"], "female");
    // A copy that says nothing of its base is a conflict too, with the server's copy.
    let c = push(
        &app,
        &other_phone,
        vec![item("encounter", &id, None, second)],
    )
    .await;
    assert_eq!(statuses(&c), ["conflict"]);
    assert_eq!(c[0]["current"], stored);
    // Another unit's record is not shown, not even in a conflict.
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let theirs = push(
        &app,
        &kast,
        vec![item("encounter", &id, Some(2), adult(&shift, "buyer"))],
    )
    .await;
    assert_eq!(statuses(&theirs), ["rejected"]);
    assert!(theirs[0]["current"].is_null());
}

async fn concurrent_writers_never_leave_a_reader_behind(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let reader = app.login("mika1").await.access_token;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let (_, start) = pull_all(&app, &reader, None).await;

    let writers = (0..8).map(|_| {
        let app = &app;
        let mika = &mika;
        let shift = &shift;
        async move {
            let mut written = Vec::new();
            for _ in 0..5 {
                let batch: Vec<(String, Value)> = (0..4)
                    .map(|_| (Uuid::new_v4().to_string(), adult(shift, "selling")))
                    .collect();
                let items = batch
                    .iter()
                    .map(|(id, body)| item("encounter", id, None, body.clone()))
                    .collect();
                let results = push(app, mika, items).await;
                assert!(statuses(&results).iter().all(|s| *s == "created"));
                written.extend(batch.into_iter().map(|(id, _)| id));
            }
            written
        }
    });
    let done = std::sync::atomic::AtomicBool::new(false);
    let reading = async {
        let mut seen = HashSet::new();
        let mut cursor = start.clone();
        // After the writers are done, until the feed has been quiet three times running
        // (another transaction of the database, such as the audit sealer's, may hold the
        // horizon back for a moment; a change skipped would never come).
        let mut quiet = 0;
        for _ in 0..2000 {
            let finished = done.load(std::sync::atomic::Ordering::SeqCst);
            let (changes, next) = pull_all(&app, &reader, Some(cursor)).await;
            quiet = if finished && changes.is_empty() {
                quiet + 1
            } else {
                0
            };
            seen.extend(ids_of(&changes, "encounter"));
            cursor = next;
            if quiet == 3 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        seen
    };
    let writing = async {
        let written = futures_util::future::join_all(writers).await;
        done.store(true, std::sync::atomic::Ordering::SeqCst);
        written
    };
    let (written, seen) = tokio::join!(writing, reading);
    let written: HashSet<String> = written.into_iter().flatten().collect();
    assert_eq!(written.len(), 160);
    let missing: Vec<_> = written.difference(&seen).collect();
    assert!(
        missing.is_empty(),
        "the reader skipped {} changes",
        missing.len()
    );
}

async fn a_device_pulls_its_units_records_and_drops_what_leaves_the_window(db: Db) {
    let app = TestApp::spawn_with(&db, &[("FALTLOGG_DEVICE_WINDOW_DAYS", "1")]).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let ujour = app
        .token_for("ujour1", Role::OutreachWorker, Some(Unit::Ungdomsjouren))
        .await;
    let joint = open_shift(&app, &mika, &shift_body("raid", &["mika", "kast"])).await;
    let theirs = Uuid::new_v4().to_string();
    let ours = Uuid::new_v4().to_string();
    push(
        &app,
        &kast,
        vec![item("encounter", &theirs, None, adult(&joint, "buyer"))],
    )
    .await;
    push(
        &app,
        &mika,
        vec![item("encounter", &ours, None, adult(&joint, "selling"))],
    )
    .await;

    // A new device gets the reference data, the shift and its own unit's encounters.
    let (changes, cursor) = pull_all(&app, &mika, None).await;
    assert_eq!(ids_of(&changes, "unit").len(), 5);
    assert_eq!(ids_of(&changes, "municipality").len(), 27);
    let botkyrka = changes
        .iter()
        .find(|c| c["type"] == "municipality" && c["id"] == "0127")
        .unwrap();
    assert_eq!(botkyrka["data"]["connected"], false);
    assert_eq!(ids_of(&changes, "shift"), vec![joint.clone()]);
    assert_eq!(ids_of(&changes, "encounter"), vec![ours.clone()]);
    let (kast_changes, _) = pull_all(&app, &kast, None).await;
    assert_eq!(ids_of(&kast_changes, "encounter"), vec![theirs.clone()]);
    let (ujour_changes, _) = pull_all(&app, &ujour, None).await;
    assert!(ids_of(&ujour_changes, "shift").is_empty());
    assert!(ids_of(&ujour_changes, "encounter").is_empty());

    // A void comes through the feed; so does a coordinator's connection change.
    let void = format!("/api/v1/encounters/{ours}/void");
    app.post_json(&void, &mika, &json!({"reason": "Dubblett"}))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    app.put_json(
        "/api/v1/municipalities/0127/connection",
        &coordinator,
        &json!({"connected": true, "from": "2026-01-01"}),
        None,
    )
    .await;
    let (changes, cursor) = pull_all(&app, &mika, Some(cursor)).await;
    let voided = changes.iter().find(|c| c["id"] == ours).unwrap();
    assert_eq!(voided["voided"], true);
    assert_eq!(voided["version"], 2);
    let botkyrka = changes.iter().find(|c| c["id"] == "0127").unwrap();
    assert_eq!(botkyrka["data"]["connected"], true);
    assert!(
        changes.iter().all(|c| c["id"] != theirs),
        "another unit's encounter"
    );

    // Closed longer ago than the window: the shift and the unit's encounters leave.
    app.post_json(&format!("/api/v1/shifts/{joint}/close"), &mika, &json!({}))
        .await;
    let (_, cursor) = pull_all(&app, &mika, Some(cursor)).await;
    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    set_closed_at(
        &app,
        &joint,
        chrono::Utc::now() - chrono::Duration::days(1) - chrono::Duration::milliseconds(20),
    );
    let (changes, cursor) = pull_all(&app, &mika, Some(cursor)).await;
    let evicted: Vec<(&str, &str)> = changes
        .iter()
        .filter(|c| c["evicted"] == true)
        .map(|c| (c["type"].as_str().unwrap(), c["id"].as_str().unwrap()))
        .collect();
    assert_eq!(evicted.len(), 2, "{changes:?}");
    assert!(evicted.contains(&("shift", joint.as_str())));
    assert!(evicted.contains(&("encounter", ours.as_str())));
    assert!(
        changes.iter().all(|c| c["data"].is_null()),
        "nothing of an evicted record is sent"
    );
    // Once.
    let (changes, _) = pull_all(&app, &mika, Some(cursor)).await;
    assert!(changes.is_empty(), "{changes:?}");
    // And a new device never gets it.
    let (fresh, _) = pull_all(&app, &mika, None).await;
    assert!(ids_of(&fresh, "shift").is_empty());
}

fn set_closed_at(app: &TestApp, shift: &str, at: chrono::DateTime<chrono::Utc>) {
    use diesel::prelude::*;
    use faltlogg_persistence::schema::shifts;
    let database = app.db.connect();
    let mut conn = database.get().unwrap();
    let at = faltlogg_domain::time::to_micros(at).naive_utc();
    diesel::update(shifts::table.filter(shifts::id.eq(shift)))
        .set(shifts::closed_at.eq(Some(at)))
        .execute(&mut *conn)
        .unwrap();
}

async fn envelopes_are_bounded_and_for_outreach_workers(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let items: Vec<Value> = (0..501)
        .map(|_| item("shift", &Uuid::new_v4().to_string(), None, json!({})))
        .collect();
    let too_many = app.post_json(PUSH, &mika, &json!({"items": items})).await;
    assert_eq!(
        assert_problem(too_many, 422).await["errors"][0]["field"],
        "items"
    );
    let malformed = app.post_json(PUSH, &mika, &json!({"things": []})).await;
    assert_problem(malformed, 400).await;
    // An item whose data is not an object breaks the schema: the batch is refused whole.
    let not_an_object = json!({"items": [item("encounter", &Uuid::new_v4().to_string(), None, json!([null, null]))]});
    let refused = assert_problem(app.post_json(PUSH, &mika, &not_an_object).await, 400).await;
    assert_eq!(refused["errors"][0]["field"], "items[0].data");
    let huge = json!({"items": [item("shift", &Uuid::new_v4().to_string(), None, json!({"area": "x".repeat(3 * 1024 * 1024)}))]});
    assert_problem(app.post_json(PUSH, &mika, &huge).await, 413).await;
    assert_eq!(app.get("/healthz").await.status(), 200);
    for (name, role) in [
        ("coordinator", Role::Coordinator),
        ("liaison", Role::PoliceLiaison),
    ] {
        let token = app.token_for(name, role, None).await;
        assert_problem(
            app.post_json(PUSH, &token, &json!({"items": []})).await,
            403,
        )
        .await;
        assert_problem(app.get_as("/api/v1/sync/pull", &token).await, 403).await;
    }
    let bad_cursor = app.get_as("/api/v1/sync/pull?cursor=eHl6", &mika).await;
    assert_eq!(
        assert_problem(bad_cursor, 422).await["errors"][0]["field"],
        "cursor"
    );
}

async fn pull_answers_are_gzipped_when_accepted(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let plain = app.get_as("/api/v1/sync/pull", &mika).await;
    assert!(plain.headers().get("content-encoding").is_none());
    let plain_size = plain.bytes().await.unwrap().len();
    let gzipped = app
        .client
        .get(app.url("/api/v1/sync/pull"))
        .bearer_auth(&mika)
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(gzipped.status(), 200);
    assert_eq!(gzipped.headers()["content-encoding"], "gzip");
    let body = gzipped.bytes().await.unwrap();
    assert!(
        body.len() < plain_size / 2,
        "{} of {plain_size}",
        body.len()
    );
    let mut text = String::new();
    std::io::Read::read_to_string(&mut flate2::read::GzDecoder::new(&body[..]), &mut text).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(value["changes"].as_array().unwrap().len(), 5 + 27);
}
