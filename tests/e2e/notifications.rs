//! Municipality notifications: created with the encounter that calls for one, withdrawn
//! with it, resolved by coordinators; connection changes apply from their date.

use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;
use serde_json::{Value, json};

use crate::fieldlog::{adult, log, open_shift, shift_body};
use crate::helpers::{Db, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(
    a_raid_meeting_from_an_unconnected_municipality_notifies_coordinators,
    voiding_or_correcting_the_encounter_withdraws_the_notification,
    coordinators_resolve_a_notification_once,
    a_connection_change_applies_from_its_date,
    a_change_of_shift_kind_follows_its_encounters,
    notifications_paginate_oldest_first,
);

const NOTIFICATIONS: &str = "/api/v1/municipality-notifications";

fn from(shift: &str, home: &str, role: &str, at: &str) -> Value {
    let mut body = adult(shift, role);
    body["home_municipality"] = json!(home);
    body["occurred_at"] = json!(at);
    body
}

async fn notifications(app: &TestApp, token: &str, query: &str) -> Vec<Value> {
    app.get_ok(&format!("{NOTIFICATIONS}{query}"), token).await["items"]
        .as_array()
        .unwrap()
        .clone()
}

async fn a_raid_meeting_from_an_unconnected_municipality_notifies_coordinators(db: Db) {
    let app = TestApp::spawn(&db).await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let raid = open_shift(&app, &kast, &shift_body("raid", &["kast"])).await;
    let surveillance = open_shift(&app, &kast, &shift_body("surveillance", &["kast"])).await;
    // 23:30 UTC on 27 November is the 28th in Stockholm.
    log(
        &app,
        &kast,
        &from(&raid, "0127", "buyer", "2026-11-27T23:30:00Z"),
    )
    .await;
    // Connected (Solna), the host (Stockholm), outside the county, and not a raid: none.
    log(
        &app,
        &kast,
        &from(&raid, "0184", "buyer", "2026-11-28T22:00:00+01:00"),
    )
    .await;
    log(
        &app,
        &kast,
        &from(&raid, "0180", "buyer", "2026-11-28T22:00:00+01:00"),
    )
    .await;
    log(
        &app,
        &kast,
        &from(
            &raid,
            "outside_county",
            "buyer",
            "2026-11-28T22:00:00+01:00",
        ),
    )
    .await;
    log(
        &app,
        &kast,
        &from(&surveillance, "0127", "buyer", "2026-11-28T22:00:00+01:00"),
    )
    .await;

    let open = notifications(&app, &coordinator, "?status=open").await;
    assert_eq!(open.len(), 1, "{open:?}");
    let notice = &open[0];
    assert_eq!(notice["municipality"], "0127");
    assert_eq!(notice["municipality_name"], "Botkyrka");
    assert_eq!(notice["date"], "2026-11-28");
    assert_eq!(notice["role"], "buyer");
    assert_eq!(notice["age_group"], "adult");
    assert_eq!(notice["status"], "open");
    // Nothing about the person, nor a way back to the encounter.
    let keys: Vec<&String> = notice.as_object().unwrap().keys().collect();
    for key in keys {
        assert!(
            [
                "id",
                "municipality",
                "municipality_name",
                "date",
                "role",
                "age_group",
                "status",
                "method",
                "note",
                "resolved_at",
                "created_at",
                "updated_at"
            ]
            .contains(&key.as_str()),
            "unexpected field {key}"
        );
    }
    // Danderyd is not named in the source document: not connected.
    log(
        &app,
        &kast,
        &from(&raid, "0162", "buyer", "2026-11-28T22:00:00+01:00"),
    )
    .await;
    assert_eq!(notifications(&app, &coordinator, "").await.len(), 2);

    // Coordinators only.
    assert_problem(app.get_as(NOTIFICATIONS, &kast).await, 403).await;
    let liaison = app.token_for("liaison", Role::PoliceLiaison, None).await;
    assert_problem(app.get_as(NOTIFICATIONS, &liaison).await, 403).await;
    let problem = app
        .get_as(&format!("{NOTIFICATIONS}?status=sent"), &coordinator)
        .await;
    assert_eq!(
        assert_problem(problem, 422).await["errors"][0]["field"],
        "status"
    );
}

async fn voiding_or_correcting_the_encounter_withdraws_the_notification(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let raid = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let body = from(&raid, "0138", "selling", "2026-11-28T22:00:00+01:00");
    let voided = log(&app, &mika, &body).await;
    let corrected = log(&app, &mika, &body).await;
    assert_eq!(
        notifications(&app, &coordinator, "?status=open")
            .await
            .len(),
        2
    );

    let response = app
        .post_json(
            &format!("/api/v1/encounters/{voided}/void"),
            &mika,
            &json!({"reason": "Dubblett"}),
        )
        .await;
    assert_eq!(response.status(), 200);
    // The home was wrong: Nacka is connected, so no notice is due.
    let mut fixed = body.clone();
    fixed["home_municipality"] = json!("0182");
    let path = format!("/api/v1/encounters/{corrected}");
    assert_eq!(
        app.put_json(&path, &mika, &fixed, Some(1)).await.status(),
        200
    );
    assert!(
        notifications(&app, &coordinator, "?status=open")
            .await
            .is_empty()
    );
    assert_eq!(
        notifications(&app, &coordinator, "?status=withdrawn")
            .await
            .len(),
        2
    );

    // Corrected back: the task opens again.
    assert_eq!(
        app.put_json(&path, &mika, &body, Some(2)).await.status(),
        200
    );
    let open = notifications(&app, &coordinator, "?status=open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["municipality"], "0138");
}

async fn coordinators_resolve_a_notification_once(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let raid = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let encounter = log(
        &app,
        &mika,
        &from(&raid, "0186", "selling", "2026-11-28T22:00:00+01:00"),
    )
    .await;
    let id = notifications(&app, &coordinator, "").await[0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let resolve = format!("{NOTIFICATIONS}/{id}/resolve");

    let bad = app
        .post_json(&resolve, &coordinator, &json!({"method": "email"}))
        .await;
    assert_eq!(
        assert_problem(bad, 422).await["errors"][0]["field"],
        "method"
    );
    let pnr = app
        .post_json(
            &resolve,
            &coordinator,
            &json!({"method": "informed_offer", "note": "811218-9876"}),
        )
        .await;
    assert_eq!(
        assert_problem(pnr, 422).await["errors"][0]["code"],
        "identity_number"
    );
    assert_problem(
        app.post_json(&resolve, &mika, &json!({"method": "informed_offer"}))
            .await,
        403,
    )
    .await;

    let body = json!({"method": "informed_offer", "note": "Socialchefen informerad per telefon"});
    let resolved = app.post_json(&resolve, &coordinator, &body).await;
    assert_eq!(resolved.status(), 200);
    let resolved: Value = resolved.json().await.unwrap();
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["method"], "informed_offer");
    assert!(resolved["resolved_at"].is_string());
    let again = app.post_json(&resolve, &coordinator, &body).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), resolved);
    assert_problem(
        app.post_json(
            &resolve,
            &coordinator,
            &json!({"method": "informed_local_support"}),
        )
        .await,
        409,
    )
    .await;
    // A resolved task stays resolved while its facts stand, but a home corrected to another
    // municipality has not been told: the task opens again for that one.
    let mut to_tyreso = from(&raid, "0138", "selling", "2026-11-28T22:00:00+01:00");
    let path = format!("/api/v1/encounters/{encounter}");
    let mut same_place = from(&raid, "0186", "selling", "2026-11-28T22:00:00+01:00");
    same_place["gender"] = json!("other");
    assert_eq!(
        app.put_json(&path, &mika, &same_place, Some(1))
            .await
            .status(),
        200
    );
    assert_eq!(
        notifications(&app, &coordinator, "?status=resolved")
            .await
            .len(),
        1
    );
    to_tyreso["gender"] = json!("other");
    assert_eq!(
        app.put_json(&path, &mika, &to_tyreso, Some(2))
            .await
            .status(),
        200
    );
    let open = notifications(&app, &coordinator, "?status=open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(
        (
            open[0]["municipality"].as_str(),
            open[0]["method"].is_null()
        ),
        (Some("0138"), true)
    );
    let resolve = format!(
        "{NOTIFICATIONS}/{}/resolve",
        open[0]["id"].as_str().unwrap()
    );
    assert_eq!(
        app.post_json(&resolve, &coordinator, &body).await.status(),
        200
    );

    // Once resolved, the municipality has been told: voiding the encounter leaves it so.
    app.post_json(
        &format!("/api/v1/encounters/{encounter}/void"),
        &mika,
        &json!({"reason": "Fel"}),
    )
    .await;
    assert_eq!(
        notifications(&app, &coordinator, "?status=resolved")
            .await
            .len(),
        1
    );
    assert_problem(
        app.post_json(
            &format!("{NOTIFICATIONS}/{}/resolve", uuid::Uuid::new_v4()),
            &coordinator,
            &body,
        )
        .await,
        404,
    )
    .await;
}

async fn a_connection_change_applies_from_its_date(db: Db) {
    let app = TestApp::spawn(&db).await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let connection = "/api/v1/municipalities/0127/connection";
    let change = json!({"connected": true, "from": "2026-11-01"});

    assert_problem(app.put_json(connection, &kast, &change, None).await, 403).await;
    assert_problem(
        app.put_json(
            "/api/v1/municipalities/0999/connection",
            &coordinator,
            &change,
            None,
        )
        .await,
        404,
    )
    .await;
    let host = app
        .put_json(
            "/api/v1/municipalities/0180/connection",
            &coordinator,
            &change,
            None,
        )
        .await;
    assert_eq!(
        assert_problem(host, 422).await["errors"][0]["code"],
        "host_municipality"
    );
    let bad_date = app
        .put_json(
            connection,
            &coordinator,
            &json!({"connected": true, "from": "1 nov"}),
            None,
        )
        .await;
    assert_eq!(
        assert_problem(bad_date, 422).await["errors"][0]["field"],
        "from"
    );

    let changed = app.put_json(connection, &coordinator, &change, None).await;
    assert_eq!(changed.status(), 200);
    let changed: Value = changed.json().await.unwrap();
    assert_eq!(changed["connected"], true);
    assert_eq!(
        changed["connections"],
        json!([{"since": "2026-11-01", "until": null}])
    );

    let raid = open_shift(&app, &kast, &shift_body("raid", &["kast"])).await;
    // Before the change Botkyrka was not connected; from its first day it is.
    log(
        &app,
        &kast,
        &from(&raid, "0127", "buyer", "2026-10-31T22:00:00+01:00"),
    )
    .await;
    log(
        &app,
        &kast,
        &from(&raid, "0127", "buyer", "2026-11-01T00:30:00+01:00"),
    )
    .await;
    let all = notifications(&app, &coordinator, "").await;
    assert_eq!(all.len(), 1);
    assert_eq!(all[0]["date"], "2026-10-31");

    // A correction dated further back settles the open task for the days it now covers.
    let earlier = json!({"connected": true, "from": "2026-10-01"});
    assert_eq!(
        app.put_json(connection, &coordinator, &earlier, None)
            .await
            .status(),
        200
    );
    assert!(
        notifications(&app, &coordinator, "?status=open")
            .await
            .is_empty()
    );
    assert_eq!(
        notifications(&app, &coordinator, "?status=withdrawn")
            .await
            .len(),
        1
    );

    // Leaving the offer: Solna is not connected from 20 November on.
    let left = app
        .put_json(
            "/api/v1/municipalities/0184/connection",
            &coordinator,
            &json!({"connected": false, "from": "2026-11-20"}),
            None,
        )
        .await;
    let left: Value = left.json().await.unwrap();
    assert_eq!(
        left["connections"],
        json!([{"since": "2021-01-01", "until": "2026-11-19"}])
    );
    log(
        &app,
        &kast,
        &from(&raid, "0184", "buyer", "2026-11-19T22:00:00+01:00"),
    )
    .await;
    log(
        &app,
        &kast,
        &from(&raid, "0184", "buyer", "2026-11-20T22:00:00+01:00"),
    )
    .await;
    let solna: Vec<Value> = notifications(&app, &coordinator, "")
        .await
        .into_iter()
        .filter(|n| n["municipality"] == "0184")
        .collect();
    assert_eq!(solna.len(), 1);
    assert_eq!(solna[0]["date"], "2026-11-20");
    let listed = app.get_ok("/api/v1/municipalities", &kast).await;
    let solna = listed
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["code"] == "0184")
        .unwrap();
    assert_eq!(solna["connected"], false);
}

async fn a_change_of_shift_kind_follows_its_encounters(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let outreach = shift_body("street_outreach", &["mika"]);
    let shift = open_shift(&app, &mika, &outreach).await;
    log(
        &app,
        &mika,
        &from(&shift, "0127", "selling", "2026-11-28T22:00:00+01:00"),
    )
    .await;
    assert!(notifications(&app, &coordinator, "").await.is_empty());

    // It was a raid after all.
    let path = format!("/api/v1/shifts/{shift}");
    assert_eq!(
        app.put_json(&path, &mika, &shift_body("raid", &["mika"]), Some(1))
            .await
            .status(),
        200
    );
    let open = notifications(&app, &coordinator, "?status=open").await;
    assert_eq!(open.len(), 1);
    assert_eq!(open[0]["municipality"], "0127");
    // And back.
    assert_eq!(
        app.put_json(&path, &mika, &outreach, Some(2))
            .await
            .status(),
        200
    );
    assert!(
        notifications(&app, &coordinator, "?status=open")
            .await
            .is_empty()
    );
}

async fn notifications_paginate_oldest_first(db: Db) {
    let app = TestApp::spawn(&db).await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let raid = open_shift(&app, &kast, &shift_body("raid", &["kast"])).await;
    for code in ["0115", "0117", "0126", "0127"] {
        log(
            &app,
            &kast,
            &from(&raid, code, "buyer", "2026-11-28T22:00:00+01:00"),
        )
        .await;
    }
    let seen: Vec<String> = app
        .all_pages(&format!("{NOTIFICATIONS}?limit=1"), &coordinator, 1)
        .await
        .iter()
        .map(|n| n["municipality"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ["0115", "0117", "0126", "0127"]);
}
