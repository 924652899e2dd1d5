//! The field log: shifts and encounters, their write semantics, the safeguarding rules and
//! who sees what (DESIGN.md "The data" and "Access").

use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;
use serde_json::{Value, json};
use uuid::Uuid;

use crate::helpers::{Db, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(
    a_shift_is_created_retried_and_updated_with_if_match,
    shift_rules_answer_422_and_store_nothing,
    an_encounter_is_logged_retried_and_updated_with_if_match,
    encounter_rules_answer_422_naming_the_field_and_store_nothing,
    notes_are_refused_when_switched_off,
    closing_waits_for_every_minors_safeguarding,
    a_closed_shift_takes_amendments_and_late_entries,
    voiding_keeps_the_record_and_removes_it_from_counts,
    encounters_are_their_units_alone,
    summaries_follow_the_roles_and_hold_counts_only,
    police_liaisons_acknowledge_a_closed_summary_once,
    racing_creates_of_one_id_end_as_one_create,
    lists_paginate_and_filter,
    reference_data_is_served_to_every_role,
    an_amendment_that_takes_safeguarding_away_needs_attention,
    a_closed_shift_is_amended_with_a_reason_that_is_kept,
    encounter_lists_paginate,
    rules_between_fields_and_units_leaving_a_shift,
    puts_arriving_together_are_each_written_as_their_own,
);

pub const STARTED: &str = "2026-11-28T20:00:00+01:00";
pub const MET: &str = "2026-11-28T22:30:00+01:00";

pub fn shift_body(kind: &str, units: &[&str]) -> Value {
    json!({
        "kind": kind,
        "with_police": matches!(kind, "raid" | "surveillance"),
        "police_operation": "Insats torsk",
        "area": "Norrmalm",
        "started_at": STARTED,
        "units": units,
    })
}

pub fn adult(shift: &str, role: &str) -> Value {
    json!({
        "shift_id": shift,
        "occurred_at": MET,
        "role": role,
        "age_group": "adult",
        "gender": "female",
        "home_municipality": "0180",
        "support_offered": true,
        "referrals": [],
    })
}

/// A minor with every safeguard recorded.
pub fn safeguarded_minor(shift: &str) -> Value {
    let mut body = adult(shift, "sugar_dating");
    body["age_group"] = json!("under_18");
    body["age_years"] = json!(15);
    body["guardian_contacted_at"] = json!("2026-11-28T23:00:00+01:00");
    body["concern_report"] =
        json!({"filed_at": "2026-11-28T23:10:00+01:00", "municipality": "0180"});
    body["referrals"] = json!([{"target": "stodcentrum", "at": "2026-11-28T23:15:00+01:00"}]);
    body
}

pub fn unsafeguarded_minor(shift: &str) -> Value {
    let mut body = safeguarded_minor(shift);
    body.as_object_mut().unwrap().remove("concern_report");
    body
}

/// Opens a shift as `token` and returns its id.
pub async fn open_shift(app: &TestApp, token: &str, body: &Value) -> String {
    let id = Uuid::new_v4().to_string();
    let response = app
        .put_json(&format!("/api/v1/shifts/{id}"), token, body, None)
        .await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    id
}

/// Logs an encounter as `token` and returns its id.
pub async fn log(app: &TestApp, token: &str, body: &Value) -> String {
    let id = Uuid::new_v4().to_string();
    let response = app
        .put_json(&format!("/api/v1/encounters/{id}"), token, body, None)
        .await;
    assert_eq!(response.status(), 201, "{:?}", response.text().await);
    id
}

fn etag(response: &reqwest::Response) -> String {
    response.headers()["etag"].to_str().unwrap().to_owned()
}

/// The field names a 422 names, in order.
async fn fields_of(response: reqwest::Response) -> Vec<(String, String)> {
    let problem = assert_problem(response, 422).await;
    problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["field"].as_str().unwrap().to_owned(),
                e["code"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

async fn a_shift_is_created_retried_and_updated_with_if_match(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let id = Uuid::new_v4();
    let path = format!("/api/v1/shifts/{id}");
    let body = shift_body("raid", &["mika", "kast"]);

    let created = app.put_json(&path, &mika, &body, None).await;
    assert_eq!(created.status(), 201);
    assert_eq!(etag(&created), "\"1\"");
    assert_eq!(created.headers()["cache-control"], "no-store");
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["id"], id.to_string());
    assert_eq!(created["version"], 1);
    assert_eq!(created["status"], "open");
    assert_eq!(created["units"], json!(["mika", "kast"]));
    // The device's time comes back as it was sent, offset included.
    assert_eq!(created["started_at"], "2026-11-28T20:00:00+01:00");
    assert!(created["created_at"].is_string() && created["updated_at"].is_string());

    // A phone's retry: same content, no If-Match, nothing changes.
    let retry = app.put_json(&path, &mika, &body, None).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(etag(&retry), "\"1\"");
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry, created);

    let mut changed = body.clone();
    changed["area"] = json!("Södermalm");
    let problem = assert_problem(app.put_json(&path, &mika, &changed, None).await, 428).await;
    assert!(problem["detail"].as_str().unwrap().contains("If-Match"));

    let updated = app.put_json(&path, &mika, &changed, Some(1)).await;
    assert_eq!(updated.status(), 200);
    assert_eq!(etag(&updated), "\"2\"");
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["area"], "Södermalm");
    assert_eq!(updated["created_at"], created["created_at"]);

    // Another phone still on version 1.
    let mut other = body.clone();
    other["area"] = json!("Kungsholmen");
    let stale = assert_problem(app.put_json(&path, &mika, &other, Some(1)).await, 412).await;
    assert_eq!(stale["current"], updated);
    assert_eq!(app.get_ok(&path, &mika).await, updated);
}

async fn shift_rules_answer_422_and_store_nothing(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (
            json!({"kind": "raid", "with_police": false, "started_at": STARTED, "units": ["mika"]}),
            vec![("with_police", "police_operation_without_police")],
        ),
        (
            json!({"kind": "surveillance", "with_police": false, "started_at": STARTED, "units": ["mika"]}),
            vec![("with_police", "police_operation_without_police")],
        ),
        (
            json!({"kind": "picnic", "with_police": false, "started_at": "igår", "units": ["mika", "polisen"]}),
            vec![
                ("kind", "unknown_value"),
                ("started_at", "invalid_time"),
                ("units[1]", "unknown_value"),
            ],
        ),
        (
            json!({"kind": "street_outreach", "with_police": false, "started_at": STARTED, "units": ["kast"]}),
            vec![("units", "own_unit_missing")],
        ),
        (
            json!({"kind": "street_outreach", "with_police": false, "started_at": STARTED,
                   "ended_at": "2026-11-28T18:00:00Z", "units": ["mika"]}),
            vec![("ended_at", "ends_before_start")],
        ),
        (
            json!({"kind": "raid", "with_police": true, "started_at": STARTED, "units": ["mika"],
                   "police_operation": "Insats 19811218-9876", "area": "811218-9876"}),
            vec![
                ("police_operation", "identity_number"),
                ("area", "identity_number"),
            ],
        ),
        (
            json!({"kind": "raid", "with_police": true, "started_at": STARTED, "units": ["mika"],
                   "area": "x".repeat(101)}),
            vec![("area", "too_long")],
        ),
    ];
    for (body, expected) in cases {
        let id = Uuid::new_v4();
        let path = format!("/api/v1/shifts/{id}");
        let fields = fields_of(app.put_json(&path, &mika, &body, None).await).await;
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect();
        assert_eq!(fields, expected, "{body}");
        assert_problem(app.get_as(&path, &mika).await, 404).await;
    }
    // A malformed body names the field, never the value.
    let bad = app
        .put_json(
            &format!("/api/v1/shifts/{}", Uuid::new_v4()),
            &mika,
            &json!({"kind": "raid", "with_police": "811218-9876", "started_at": STARTED, "units": []}),
            None,
        )
        .await;
    let problem = assert_problem(bad, 400).await;
    assert_eq!(problem["errors"][0]["field"], "with_police");
    assert!(!problem.to_string().contains("811218"));
    let listed = app.get_ok("/api/v1/shifts", &mika).await;
    assert_eq!(listed["items"], json!([]));
}

async fn an_encounter_is_logged_retried_and_updated_with_if_match(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("street_outreach", &["mika"])).await;
    let id = Uuid::new_v4();
    let path = format!("/api/v1/encounters/{id}");
    let mut body = adult(&shift, "selling");
    body["home_municipality"] = json!("abroad");
    body["home_country"] = json!("RO");
    body["pseudonym"] = json!("M-17");
    body["support_response"] = json!("accepted");
    body["referrals"] = json!([{"target": "mika_halsa"}, {"target": "reflection_period", "at": "2026-11-28T23:00:00Z"}]);
    body["notes"] = json!("Ville ha kontakt med Mika hälsa.");
    body["trafficking_suspected"] = json!(true);

    let created = app.put_json(&path, &mika, &body, None).await;
    assert_eq!(created.status(), 201);
    assert_eq!(etag(&created), "\"1\"");
    let created: Value = created.json().await.unwrap();
    assert_eq!(created["unit"], "mika");
    assert_eq!(created["occurred_at"], MET);
    assert_eq!(created["home_municipality"], "abroad");
    assert_eq!(created["home_country"], "RO");
    assert_eq!(created["referrals"][1]["target"], "reflection_period");
    assert_eq!(created["late_entry"], false);
    assert_eq!(created["voided"], false);
    assert_eq!(created["trafficking_suspected"], true);
    assert_eq!(created["self_harm"], false);

    let retry = app.put_json(&path, &mika, &body, None).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.json::<Value>().await.unwrap(), created);
    // The same instant written with another offset is the same content.
    let mut same_instant = body.clone();
    same_instant["occurred_at"] = json!("2026-11-28T21:30:00Z");
    let retry = app.put_json(&path, &mika, &same_instant, None).await;
    assert_eq!(retry.status(), 200);
    assert_eq!(retry.json::<Value>().await.unwrap()["version"], 1);

    let mut changed = body.clone();
    changed["support_response"] = json!("undecided");
    assert_problem(app.put_json(&path, &mika, &changed, None).await, 428).await;
    let updated = app.put_json(&path, &mika, &changed, Some(1)).await;
    assert_eq!(updated.status(), 200);
    assert_eq!(etag(&updated), "\"2\"");
    let updated: Value = updated.json().await.unwrap();
    assert_eq!(updated["support_response"], "undecided");

    let mut other = body.clone();
    other["gender"] = json!("other");
    let stale = assert_problem(app.put_json(&path, &mika, &other, Some(1)).await, 412).await;
    assert_eq!(stale["current"], updated);
    let garbage = app
        .client
        .put(app.url(&path))
        .bearer_auth(&mika)
        .header("If-Match", "nonsense")
        .json(&other)
        .send()
        .await
        .unwrap();
    assert_problem(garbage, 412).await;
    assert_eq!(app.get_ok(&path, &mika).await, updated);

    // An encounter stays in its shift.
    let second = open_shift(&app, &mika, &shift_body("street_outreach", &["mika"])).await;
    let mut moved = changed.clone();
    moved["shift_id"] = json!(second);
    assert_eq!(
        fields_of(app.put_json(&path, &mika, &moved, Some(2)).await).await,
        [("shift_id".to_owned(), "immutable".to_owned())]
    );
}

async fn encounter_rules_answer_422_naming_the_field_and_store_nothing(db: Db) {
    let app = TestApp::spawn(&db).await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &kast, &shift_body("raid", &["kast"])).await;
    let mika_shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let future = (chrono::Utc::now() + chrono::Duration::minutes(11)).to_rfc3339();
    let with = |changes: Value| {
        let mut body = adult(&shift, "buyer");
        for (key, value) in changes.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let cases: Vec<(Value, Vec<(&str, &str)>)> = vec![
        (
            with(json!({"age_years": 16})),
            vec![("age_years", "age_group_mismatch")],
        ),
        (
            with(json!({"age_group": "under_18", "age_years": 19})),
            vec![("age_years", "age_group_mismatch")],
        ),
        (
            with(json!({"age_years": 121})),
            vec![("age_years", "out_of_range")],
        ),
        // Minors who buy sex are not referred to KAST either.
        (
            with(
                json!({"age_group": "under_18", "referrals": [{"target": "stodcentrum"}, {"target": "kast"}]}),
            ),
            vec![("referrals[1].target", "adults_only_target")],
        ),
        (
            with(json!({"age_group": "under_18", "referrals": [{"target": "mika"}]})),
            vec![("referrals[0].target", "adults_only_target")],
        ),
        (
            with(
                json!({"notes": "pnr 811218-9876", "pseudonym": "198112189876",
                        "guardian_not_contacted_reason": "se 8112189876"}),
            ),
            vec![
                ("pseudonym", "identity_number"),
                ("guardian_not_contacted_reason", "identity_number"),
                ("notes", "identity_number"),
            ],
        ),
        (
            with(json!({"home_municipality": "0999"})),
            vec![("home_municipality", "invalid_home")],
        ),
        (
            with(json!({"home_country": "RO"})),
            vec![("home_country", "invalid_home")],
        ),
        (
            with(
                json!({"referrals": [{"target": "polisen"}], "gender": "kvinna", "role": "seller", "age_group": "ung"}),
            ),
            vec![
                ("role", "unknown_value"),
                ("age_group", "unknown_value"),
                ("gender", "unknown_value"),
                ("referrals[0].target", "unknown_value"),
            ],
        ),
        (
            with(json!({"occurred_at": future})),
            vec![("occurred_at", "in_future")],
        ),
        (
            with(json!({"occurred_at": "2026-11-28 22:30"})),
            vec![("occurred_at", "invalid_time")],
        ),
        (
            with(json!({"support_offered": false, "support_response": "declined"})),
            vec![("support_response", "support_not_offered")],
        ),
        (
            with(json!({"pseudonym": "p".repeat(65)})),
            vec![("pseudonym", "too_long")],
        ),
        (
            with(json!({"concern_report": {"filed_by_unit": "mika", "municipality": "0180"}})),
            vec![("concern_report", "invalid_concern_report")],
        ),
        (
            with(json!({"concern_report": {"filed_at": MET, "municipality": "9999"}})),
            vec![("concern_report.municipality", "unknown_municipality")],
        ),
        (
            with(json!({"shift_id": Uuid::new_v4()})),
            vec![("shift_id", "unknown_shift")],
        ),
        // Another unit's shift is no shift of KAST's.
        (
            with(json!({"shift_id": mika_shift})),
            vec![("shift_id", "unknown_shift")],
        ),
    ];
    for (body, expected) in cases {
        let path = format!("/api/v1/encounters/{}", Uuid::new_v4());
        let fields = fields_of(app.put_json(&path, &kast, &body, None).await).await;
        let expected: Vec<(String, String)> = expected
            .iter()
            .map(|(f, c)| ((*f).to_owned(), (*c).to_owned()))
            .collect();
        assert_eq!(fields, expected, "{body}");
        assert_problem(app.get_as(&path, &kast).await, 404).await;
    }
    let listed = app
        .get_ok(&format!("/api/v1/shifts/{shift}/encounters"), &kast)
        .await;
    assert_eq!(listed["items"], json!([]));
    let summary = app
        .get_ok(&format!("/api/v1/shifts/{shift}/summary"), &kast)
        .await;
    assert_eq!(summary["counts"]["buyer"]["encounters"], 0);
    // Ten minutes ahead is still a clock's drift.
    let soon = (chrono::Utc::now() + chrono::Duration::minutes(9)).to_rfc3339();
    log(&app, &kast, &with(json!({"occurred_at": soon}))).await;
}

async fn notes_are_refused_when_switched_off(db: Db) {
    let app = TestApp::spawn_with(&db, &[("FALTLOGG_NOTES_ENABLED", "false")]).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("venue_outreach", &["mika"])).await;
    let mut body = adult(&shift, "selling");
    body["notes"] = json!("Träffades i lobbyn.");
    let path = format!("/api/v1/encounters/{}", Uuid::new_v4());
    let problem = assert_problem(app.put_json(&path, &mika, &body, None).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "notes");
    assert_eq!(problem["errors"][0]["code"], "notes_disabled");
    assert_problem(app.get_as(&path, &mika).await, 404).await;
    body.as_object_mut().unwrap().remove("notes");
    assert_eq!(app.put_json(&path, &mika, &body, None).await.status(), 201);
}

async fn closing_waits_for_every_minors_safeguarding(db: Db) {
    let app = TestApp::spawn(&db).await;
    let ujour = app
        .token_for("ujour1", Role::OutreachWorker, Some(Unit::Ungdomsjouren))
        .await;
    let shift = open_shift(
        &app,
        &ujour,
        &shift_body("online_outreach", &["ungdomsjouren"]),
    )
    .await;
    let close = format!("/api/v1/shifts/{shift}/close");
    log(&app, &ujour, &safeguarded_minor(&shift)).await;
    let mut no_guardian = safeguarded_minor(&shift);
    no_guardian
        .as_object_mut()
        .unwrap()
        .remove("guardian_contacted_at");
    let missing_guardian = log(&app, &ujour, &no_guardian).await;
    let missing_report = log(&app, &ujour, &unsafeguarded_minor(&shift)).await;
    // An estimated minor counts as a minor.
    let mut estimated = unsafeguarded_minor(&shift);
    estimated["age_estimated"] = json!(true);
    estimated.as_object_mut().unwrap().remove("age_years");
    let missing_estimated = log(&app, &ujour, &estimated).await;
    log(&app, &ujour, &adult(&shift, "sugar_dating")).await;

    let problem = assert_problem(app.post_json(&close, &ujour, &json!({})).await, 409).await;
    let mut listed: Vec<String> = problem["encounters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    listed.sort();
    let mut expected = vec![
        missing_guardian.clone(),
        missing_report.clone(),
        missing_estimated.clone(),
    ];
    expected.sort();
    assert_eq!(listed, expected);
    assert_eq!(
        app.get_ok(&format!("/api/v1/shifts/{shift}"), &ujour).await["status"],
        "open"
    );

    // The reason guardians were not contacted counts; a report filed by another unit counts.
    let mut fixed = no_guardian.clone();
    fixed["guardian_not_contacted_reason"] = json!("Kontakt skulle utsätta barnet för risk");
    let path = format!("/api/v1/encounters/{missing_guardian}");
    assert_eq!(
        app.put_json(&path, &ujour, &fixed, Some(1)).await.status(),
        200
    );
    let mut fixed = unsafeguarded_minor(&shift);
    fixed["concern_report"] = json!({"filed_by_unit": "regionkoordinator_barn"});
    let path = format!("/api/v1/encounters/{missing_report}");
    assert_eq!(
        app.put_json(&path, &ujour, &fixed, Some(1)).await.status(),
        200
    );
    let problem = assert_problem(app.post_json(&close, &ujour, &json!({})).await, 409).await;
    assert_eq!(problem["encounters"], json!([missing_estimated]));
    // Voided encounters do not hold a shift open.
    let void = format!("/api/v1/encounters/{missing_estimated}/void");
    assert_eq!(
        app.post_json(&void, &ujour, &json!({"reason": "Dubblett"}))
            .await
            .status(),
        200
    );

    let closed = app.post_json(&close, &ujour, &json!({})).await;
    assert_eq!(closed.status(), 200);
    let closed: Value = closed.json().await.unwrap();
    assert_eq!(closed["status"], "closed");
    assert!(closed["closed_at"].is_string());
    // Closing again is a retry.
    let again = app.post_json(&close, &ujour, &json!({})).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), closed);
}

async fn a_closed_shift_takes_amendments_and_late_entries(db: Db) {
    let app = TestApp::spawn(&db).await;
    let ujour = app
        .token_for("ujour1", Role::OutreachWorker, Some(Unit::Ungdomsjouren))
        .await;
    let other_unit = app
        .token_for(
            "barn1",
            Role::OutreachWorker,
            Some(Unit::RegionkoordinatorBarn),
        )
        .await;
    let shift = open_shift(
        &app,
        &ujour,
        &shift_body("online_outreach", &["ungdomsjouren"]),
    )
    .await;
    let kept = log(&app, &ujour, &adult(&shift, "sugar_dating")).await;
    let closed = app
        .post_json(&format!("/api/v1/shifts/{shift}/close"), &ujour, &json!({}))
        .await;
    assert_eq!(closed.status(), 200);

    let path = format!("/api/v1/encounters/{kept}");
    let mut amended = adult(&shift, "sugar_dating");
    amended["gender"] = json!("male");
    assert_eq!(
        fields_of(app.put_json(&path, &ujour, &amended, Some(1)).await).await,
        [(
            "amendment_reason".to_owned(),
            "amendment_reason_required".to_owned()
        )]
    );
    amended["amendment_reason"] = json!("Fel kön registrerat");
    let response = app.put_json(&path, &ujour, &amended, Some(1)).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.unwrap()["gender"], "male");
    // The reason is not part of the record: the same amendment again is a retry.
    assert_eq!(
        app.put_json(&path, &ujour, &amended, None).await.status(),
        200
    );

    // A phone that was offline sends a minor after the shift was closed.
    let late = log(&app, &ujour, &unsafeguarded_minor(&shift)).await;
    let late_path = format!("/api/v1/encounters/{late}");
    let record = app.get_ok(&late_path, &ujour).await;
    assert_eq!(record["late_entry"], true);
    let attention = app
        .get_ok("/api/v1/shifts?needs_attention=true", &ujour)
        .await;
    assert_eq!(attention["items"][0]["id"], shift);
    assert_eq!(attention["items"].as_array().unwrap().len(), 1);
    // Only for the shift's units.
    let theirs = app
        .get_ok("/api/v1/shifts?needs_attention=true", &other_unit)
        .await;
    assert_eq!(theirs["items"], json!([]));

    let mut completed = safeguarded_minor(&shift);
    completed["amendment_reason"] = json!("Orosanmälan gjord");
    assert_eq!(
        app.put_json(&late_path, &ujour, &completed, Some(1))
            .await
            .status(),
        200
    );
    let attention = app
        .get_ok("/api/v1/shifts?needs_attention=true", &ujour)
        .await;
    assert_eq!(attention["items"], json!([]));
}

async fn voiding_keeps_the_record_and_removes_it_from_counts(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let kept = log(&app, &mika, &adult(&shift, "selling")).await;
    let voided = log(&app, &mika, &adult(&shift, "selling")).await;
    let void = format!("/api/v1/encounters/{voided}/void");

    let missing = app.post_json(&void, &mika, &json!({})).await;
    assert_problem(missing, 400).await;
    let with_pnr = app
        .post_json(&void, &mika, &json!({"reason": "gäller 811218-9876"}))
        .await;
    assert_eq!(
        fields_of(with_pnr).await,
        [("reason".to_owned(), "identity_number".to_owned())]
    );

    let response = app
        .post_json(&void, &mika, &json!({"reason": "Registrerad två gånger"}))
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(etag(&response), "\"2\"");
    let record: Value = response.json().await.unwrap();
    assert_eq!(record["voided"], true);
    assert_eq!(record["void_reason"], "Registrerad två gånger");
    // Nothing is deleted: the record is still there.
    assert_eq!(
        app.get_ok(&format!("/api/v1/encounters/{voided}"), &mika)
            .await,
        record
    );
    let again = app
        .post_json(&void, &mika, &json!({"reason": "Registrerad två gånger"}))
        .await;
    assert_eq!(again.status(), 200);
    // A voided record no longer changes.
    let mut changed = adult(&shift, "selling");
    changed["gender"] = json!("male");
    assert_problem(
        app.put_json(
            &format!("/api/v1/encounters/{voided}"),
            &mika,
            &changed,
            Some(2),
        )
        .await,
        409,
    )
    .await;

    let summary = app
        .get_ok(&format!("/api/v1/shifts/{shift}/summary"), &mika)
        .await;
    assert_eq!(summary["counts"]["selling"]["encounters"], 1);
    let listed = app
        .get_ok(&format!("/api/v1/shifts/{shift}/encounters"), &mika)
        .await;
    let ids: Vec<&str> = listed["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 2, "voided records stay listed, marked");
    assert!(ids.contains(&kept.as_str()) && ids.contains(&voided.as_str()));
}

async fn encounters_are_their_units_alone(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let ujour = app
        .token_for("ujour1", Role::OutreachWorker, Some(Unit::Ungdomsjouren))
        .await;
    // One joint raid: KAST meets the buyers, Mika the people selling.
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika", "kast"])).await;
    let selling = log(&app, &mika, &adult(&shift, "selling")).await;
    let buyer = log(&app, &kast, &adult(&shift, "buyer")).await;

    let listed = |token: String| {
        let app = &app;
        let shift = shift.clone();
        async move {
            app.get_ok(&format!("/api/v1/shifts/{shift}/encounters"), &token)
                .await["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|e| e["id"].as_str().unwrap().to_owned())
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(listed(mika.clone()).await, vec![selling.clone()]);
    assert_eq!(listed(kast.clone()).await, vec![buyer.clone()]);
    assert_eq!(
        app.get_ok(&format!("/api/v1/encounters/{buyer}"), &kast)
            .await["unit"],
        "kast"
    );

    // Mika cannot read, change or void KAST's encounter, even in the joint shift.
    let path = format!("/api/v1/encounters/{buyer}");
    assert_problem(app.get_as(&path, &mika).await, 404).await;
    let mut changed = adult(&shift, "buyer");
    changed["gender"] = json!("male");
    assert_problem(app.put_json(&path, &mika, &changed, Some(1)).await, 404).await;
    assert_problem(
        app.post_json(&format!("{path}/void"), &mika, &json!({"reason": "fel"}))
            .await,
        404,
    )
    .await;
    // A unit outside the shift sees neither the shift nor its encounters.
    assert_problem(
        app.get_as(&format!("/api/v1/shifts/{shift}/encounters"), &ujour)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get_as(&format!("/api/v1/shifts/{shift}"), &ujour).await,
        404,
    )
    .await;
    assert_problem(
        app.post_json(&format!("/api/v1/shifts/{shift}/close"), &ujour, &json!({}))
            .await,
        404,
    )
    .await;

    // No other role ever reads an encounter.
    for (name, role) in [
        ("liaison", Role::PoliceLiaison),
        ("coordinator", Role::Coordinator),
        ("admin", Role::Admin),
        ("auditor", Role::Auditor),
    ] {
        let token = app.token_for(name, role, None).await;
        assert_problem(app.get_as(&path, &token).await, 403).await;
        assert_problem(
            app.get_as(&format!("/api/v1/shifts/{shift}/encounters"), &token)
                .await,
            403,
        )
        .await;
        assert_problem(app.put_json(&path, &token, &changed, Some(1)).await, 403).await;
        let new_shift = format!("/api/v1/shifts/{}", Uuid::new_v4());
        assert_problem(
            app.put_json(&new_shift, &token, &shift_body("raid", &["mika"]), None)
                .await,
            403,
        )
        .await;
    }
    // The buyer's record is untouched.
    assert_eq!(app.get_ok(&path, &kast).await["version"], 1);
}

async fn summaries_follow_the_roles_and_hold_counts_only(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let liaison = app.token_for("liaison", Role::PoliceLiaison, None).await;
    let coordinator = app.token_for("coordinator", Role::Coordinator, None).await;
    let raid = open_shift(&app, &mika, &shift_body("raid", &["mika", "kast"])).await;
    let street = open_shift(&app, &mika, &shift_body("street_outreach", &["mika"])).await;
    let mut selling = adult(&raid, "selling");
    selling["pseudonym"] = json!("M-1");
    selling["notes"] = json!("Anteckning");
    selling["home_municipality"] = json!("0127");
    log(&app, &mika, &selling).await;
    let mut minor = adult(&raid, "selling");
    minor["age_group"] = json!("under_18");
    minor["support_offered"] = json!(false);
    log(&app, &mika, &minor).await;
    log(&app, &kast, &adult(&raid, "buyer")).await;

    let summary = app
        .get_ok(&format!("/api/v1/shifts/{raid}/summary"), &liaison)
        .await;
    assert_eq!(
        summary["counts"],
        json!({
            "selling": {"encounters": 2, "under_18": 1, "support_offered": 1},
            "buyer": {"encounters": 1, "under_18": 0, "support_offered": 1},
            "sugar_dating": {"encounters": 0, "under_18": 0, "support_offered": 0},
        })
    );
    let text = summary.to_string();
    for secret in [
        "M-1",
        "Anteckning",
        "0127",
        "Botkyrka",
        "age_years",
        "referrals",
        "support_response",
    ] {
        assert!(!text.contains(secret), "summary leaks {secret}");
    }
    assert_eq!(summary["shift"]["id"], raid);
    // Each of the shift's units sees the whole shift's counts; coordinators see every shift.
    assert_eq!(
        app.get_ok(&format!("/api/v1/shifts/{raid}/summary"), &kast)
            .await["counts"],
        summary["counts"]
    );
    app.get_ok(&format!("/api/v1/shifts/{street}/summary"), &coordinator)
        .await;
    // Police liaisons see shifts with police only.
    assert_problem(
        app.get_as(&format!("/api/v1/shifts/{street}/summary"), &liaison)
            .await,
        404,
    )
    .await;
    assert_problem(
        app.get_as(&format!("/api/v1/shifts/{street}"), &liaison)
            .await,
        404,
    )
    .await;
    let listed = app.get_ok("/api/v1/shifts", &liaison).await;
    assert_eq!(listed["items"].as_array().unwrap().len(), 1);
    assert_eq!(listed["items"][0]["id"], raid);
    assert_eq!(
        app.get_ok("/api/v1/shifts", &coordinator).await["items"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // Admins and auditors see no shifts.
    for (name, role) in [("admin", Role::Admin), ("auditor", Role::Auditor)] {
        let token = app.token_for(name, role, None).await;
        assert_problem(
            app.get_as(&format!("/api/v1/shifts/{raid}/summary"), &token)
                .await,
            403,
        )
        .await;
        assert_problem(app.get_as("/api/v1/shifts", &token).await, 403).await;
    }
}

async fn police_liaisons_acknowledge_a_closed_summary_once(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let liaison = app.token_for("liaison", Role::PoliceLiaison, None).await;
    let second = app.token_for("liaison2", Role::PoliceLiaison, None).await;
    let raid = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let review = format!("/api/v1/shifts/{raid}/review");
    let comment = json!({"comment": "Genomgånget med insatsledningen"});

    assert_problem(app.post_json(&review, &liaison, &comment).await, 409).await;
    assert_problem(app.post_json(&review, &mika, &comment).await, 403).await;
    app.post_json(&format!("/api/v1/shifts/{raid}/close"), &mika, &json!({}))
        .await;
    let pnr = app
        .post_json(&review, &liaison, &json!({"comment": "gäller 8112189876"}))
        .await;
    assert_eq!(
        fields_of(pnr).await,
        [("comment".to_owned(), "identity_number".to_owned())]
    );

    let reviewed = app.post_json(&review, &liaison, &comment).await;
    assert_eq!(reviewed.status(), 200);
    let reviewed: Value = reviewed.json().await.unwrap();
    assert_eq!(reviewed["review"]["reviewed_by"], "liaison");
    assert_eq!(
        reviewed["review"]["comment"],
        "Genomgånget med insatsledningen"
    );
    assert!(reviewed["review"]["reviewed_at"].is_string());
    // Once: the same acknowledgement again is a retry; another is a conflict.
    let again = app.post_json(&review, &liaison, &comment).await;
    assert_eq!(again.status(), 200);
    assert_eq!(again.json::<Value>().await.unwrap(), reviewed);
    assert_problem(app.post_json(&review, &second, &json!({})).await, 409).await;
    assert_problem(
        app.post_json(&review, &liaison, &json!({"comment": "Ändrat"}))
            .await,
        409,
    )
    .await;
    let summary = app
        .get_ok(&format!("/api/v1/shifts/{raid}/summary"), &liaison)
        .await;
    assert_eq!(summary["shift"]["review"], reviewed["review"]);

    let street = open_shift(&app, &mika, &shift_body("street_outreach", &["mika"])).await;
    app.post_json(&format!("/api/v1/shifts/{street}/close"), &mika, &json!({}))
        .await;
    assert_problem(
        app.post_json(
            &format!("/api/v1/shifts/{street}/review"),
            &liaison,
            &comment,
        )
        .await,
        404,
    )
    .await;
}

async fn racing_creates_of_one_id_end_as_one_create(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let same = adult(&shift, "selling");
    let mut different = adult(&shift, "selling");
    different["gender"] = json!("other");
    // Several ids, each sent by several phones at once, half with other content.
    let paths: Vec<String> = (0..6)
        .map(|_| format!("/api/v1/encounters/{}", Uuid::new_v4()))
        .collect();
    let sends: Vec<(&String, &Value)> = paths
        .iter()
        .flat_map(|path| [(path, &same), (path, &different)].repeat(3))
        .collect();
    let requests = sends.into_iter().map(|(path, body)| {
        let app = &app;
        let mika = &mika;
        async move {
            (
                path.clone(),
                app.put_json(path, mika, body, None).await.status().as_u16(),
            )
        }
    });
    let statuses = futures_util::future::join_all(requests).await;
    for path in &paths {
        let of_path: Vec<u16> = statuses
            .iter()
            .filter(|(p, _)| p == path)
            .map(|(_, s)| *s)
            .collect();
        assert_eq!(
            of_path.iter().filter(|s| **s == 201).count(),
            1,
            "{of_path:?}"
        );
        assert!(
            of_path.iter().all(|s| [200, 201, 428].contains(s)),
            "{of_path:?}"
        );
        assert_eq!(app.get_ok(path, &mika).await["version"], 1);
    }
    let listed = app
        .get_ok(&format!("/api/v1/shifts/{shift}/encounters"), &mika)
        .await;
    assert_eq!(listed["items"].as_array().unwrap().len(), paths.len());
}

/// Sends each `(token, shift, id)` PUT of an adult encounter at once; their statuses, in
/// order.
async fn put_all(app: &TestApp, puts: Vec<(&String, &String, String)>) -> Vec<u16> {
    futures_util::future::join_all(puts.into_iter().map(|(token, shift, id)| async move {
        app.put_json(
            &format!("/api/v1/encounters/{id}"),
            token,
            &adult(shift, "selling"),
            None,
        )
        .await
        .status()
        .as_u16()
    }))
    .await
}

/// Encounter PUTs that arrive at the same moment are written in one transaction, their
/// sessions checked in one query inside it (see `api/src/together.rs`); each must still be
/// checked, answered and audited as its own: two units' workers, a signed-out session
/// beside its live sibling, a disabled account and one made coordinator, creates beside
/// refusals, and writes the database refuses, which must not take the others with them.
async fn puts_arriving_together_are_each_written_as_their_own(db: Db) {
    use diesel::connection::SimpleConnection;

    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let auditor = app.token_for("granskare", Role::Auditor, None).await;
    // Another session of the same worker, signed out: its requests' sessions are checked
    // together with the live one's, in the transaction that writes them.
    let signed_out = app.login("mika1").await.access_token;
    let logout = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(&signed_out)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    // Two more workers of Mika, signed in, then changed by an administrator: one
    // account disabled, the other made a coordinator. Their tokens still say "outreach
    // worker"; the sessions are checked in the transaction that writes, with the others'.
    let disabled_id = app.add_user("mika2", Role::OutreachWorker, Some(Unit::Mika));
    let disabled = app.login("mika2").await.access_token;
    let promoted_id = app.add_user("mika3", Role::OutreachWorker, Some(Unit::Mika));
    let promoted = app.login("mika3").await.access_token;
    let admin = app.token_for("admin", Role::Admin, None).await;
    for (id, change) in [
        (disabled_id, json!({"disabled": true})),
        (promoted_id, json!({"role": "coordinator", "unit": null})),
    ] {
        let changed = app
            .client
            .patch(app.url(&format!("/api/v1/admin/users/{id}")))
            .bearer_auth(&admin)
            .json(&change)
            .send()
            .await
            .unwrap();
        assert_eq!(changed.status(), 200, "{:?}", changed.text().await);
    }
    let mika_shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let kast_shift = open_shift(&app, &kast, &shift_body("raid", &["kast"])).await;
    // Ids the database refuses; several, so that some share a group with writes that pass.
    let refused_by_database = || format!("deadbeef{}", &Uuid::new_v4().to_string()[8..]);
    let database = app.db.connect();
    database
        .get()
        .unwrap()
        .batch_execute(match db {
            Db::Sqlite => {
                "CREATE TRIGGER refuse_one BEFORE INSERT ON encounters \
                 WHEN NEW.id LIKE 'deadbeef%' \
                 BEGIN SELECT RAISE(ABORT, 'refused'); END;"
            }
            Db::Postgres(_) => {
                "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN \
                 IF NEW.id LIKE 'deadbeef%' THEN RAISE EXCEPTION 'refused'; END IF; \
                 RETURN NEW; END $$; \
                 CREATE TRIGGER refuse_one BEFORE INSERT ON encounters \
                 FOR EACH ROW EXECUTE FUNCTION refuse_one();"
            }
        })
        .unwrap();

    // (who, token, shift, expected status, id)
    let mut sends: Vec<(&str, &String, &String, u16, String)> = Vec::new();
    for _ in 0..4 {
        for _ in 0..2 {
            sends.push(("mika", &mika, &mika_shift, 201, Uuid::new_v4().to_string()));
            sends.push(("kast", &kast, &kast_shift, 201, Uuid::new_v4().to_string()));
        }
        // Into the other unit's shift: refused by scope, among creates that pass.
        sends.push(("mika", &mika, &kast_shift, 422, Uuid::new_v4().to_string()));
        sends.push(("kast", &kast, &kast_shift, 500, refused_by_database()));
        for (token, status) in [(&signed_out, 401), (&disabled, 401), (&promoted, 403)] {
            sends.push((
                "mika",
                token,
                &mika_shift,
                status,
                Uuid::new_v4().to_string(),
            ));
        }
    }
    let statuses = put_all(
        &app,
        sends
            .iter()
            .map(|(_, token, shift, _, id)| (*token, *shift, id.clone()))
            .collect(),
    )
    .await;
    let expected: Vec<u16> = sends.iter().map(|send| send.3).collect();
    assert_eq!(statuses, expected);

    for (unit, token, shift, status, id) in &sends {
        let path = format!("/api/v1/encounters/{id}");
        if *status == 201 {
            let stored = app.get_ok(&path, token).await;
            assert_eq!(
                (stored["unit"].as_str(), stored["shift_id"].as_str()),
                (Some(*unit), Some(shift.as_str()))
            );
        } else {
            // (The signed-out session reads as its live sibling.)
            assert_problem(app.get_as(&path, &mika).await, 404).await;
        }
        let entries = app
            .get_ok(&format!("/api/v1/audit?record={id}"), &auditor)
            .await;
        let written: Vec<(&str, &str, &str)> = entries["items"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["action"] != "read")
            .map(|e| {
                (
                    e["unit"].as_str().unwrap(),
                    e["action"].as_str().unwrap(),
                    e["outcome"].as_str().unwrap(),
                )
            })
            .collect();
        let expected_entry = match status {
            201 => vec![(*unit, "create", "ok")],
            422 => vec![(*unit, "update", "invalid")],
            500 => vec![(*unit, "update", "failed")],
            // Refused before any record: the denial names the route, not the record.
            _ => vec![],
        };
        assert_eq!(written, expected_entry, "{id}");
    }
    let listed = |token: String, shift: String| {
        let app = &app;
        async move {
            app.get_ok(&format!("/api/v1/shifts/{shift}/encounters"), &token)
                .await["items"]
                .as_array()
                .unwrap()
                .len()
        }
    };
    assert_eq!(listed(mika.clone(), mika_shift.clone()).await, 8);
    assert_eq!(listed(kast.clone(), kast_shift.clone()).await, 8);
    // Each refused caller's attempts are recorded as refusals of the route.
    let refusals = |unauthenticated: usize, denied: usize| {
        let app = &app;
        let auditor = &auditor;
        async move {
            let denials = app
                .get_ok("/api/v1/audit?action=denied&limit=100", auditor)
                .await;
            let mut refused: Vec<(Option<String>, String)> = denials["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|e| e["record_id"] == "/api/v1/encounters/{id}")
                .map(|e| {
                    (
                        e["username"].as_str().map(str::to_owned),
                        e["outcome"].as_str().unwrap().to_owned(),
                    )
                })
                .collect();
            refused.sort_unstable();
            let mut expected = vec![(None, "unauthenticated".to_owned()); unauthenticated];
            expected.extend(vec![
                (Some("mika3".to_owned()), "denied".to_owned());
                denied
            ]);
            assert_eq!(refused, expected);
        }
    };
    refusals(8, 4).await;
    // With a body that breaks a rule, they are still answered for who they are.
    for (token, status) in [(&signed_out, 401), (&disabled, 401), (&promoted, 403)] {
        let response = app
            .put_json(
                &format!("/api/v1/encounters/{}", Uuid::new_v4()),
                token,
                &json!({"shift_id": mika_shift, "role": "selling"}),
                None,
            )
            .await;
        assert_problem(response, status).await;
    }
    refusals(10, 5).await;
    // Again without writes the database refuses, so that no group falls back to writing
    // its PUTs one by one: the refusals are made in the group's own transaction.
    let again: Vec<(&String, u16)> = (0..6)
        .flat_map(|_| {
            [
                (&mika, 201),
                (&signed_out, 401),
                (&disabled, 401),
                (&promoted, 403),
            ]
        })
        .collect();
    let statuses = put_all(
        &app,
        again
            .iter()
            .map(|(token, _)| (*token, &mika_shift, Uuid::new_v4().to_string()))
            .collect(),
    )
    .await;
    let expected: Vec<u16> = again.iter().map(|(_, status)| *status).collect();
    assert_eq!(statuses, expected);
    assert_eq!(listed(mika.clone(), mika_shift.clone()).await, 8 + 6);
    refusals(22, 11).await;
}

async fn lists_paginate_and_filter(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let mut ids = Vec::new();
    for day in 1..=5 {
        let mut body = shift_body("street_outreach", &["mika"]);
        body["started_at"] = json!(format!("2026-11-0{day}T23:30:00+01:00"));
        ids.push(open_shift(&app, &mika, &body).await);
    }
    ids.reverse(); // newest first
    let seen: Vec<String> = app
        .all_pages("/api/v1/shifts?limit=2", &mika, 2)
        .await
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(seen, ids);
    // Days are Stockholm's: 23:30 on 2 November is still 2 November.
    let period = app
        .get_ok("/api/v1/shifts?from=2026-11-02&to=2026-11-03", &mika)
        .await;
    let found: Vec<&str> = period["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(found, [ids[2].as_str(), ids[3].as_str()]);
    assert_eq!(
        app.get_ok("/api/v1/shifts?status=closed", &mika).await["items"],
        json!([])
    );
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=501", "limit"),
        ("limit=ten", "limit"),
        ("cursor=bm9wZQ", "cursor"),
        ("from=2026-13-01", "from"),
        ("from=2026-11-05&to=2026-11-01", "to"),
        ("status=paused", "status"),
        ("needs_attention=ja", "needs_attention"),
    ] {
        let response = app.get_as(&format!("/api/v1/shifts?{query}"), &mika).await;
        assert_eq!(fields_of(response).await[0].0, field, "{query}");
    }
}

async fn reference_data_is_served_to_every_role(db: Db) {
    let app = TestApp::spawn(&db).await;
    let auditor = app.token_for("auditor", Role::Auditor, None).await;
    let units = app.get_ok("/api/v1/units", &auditor).await;
    let codes: Vec<&str> = units
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["code"].as_str().unwrap())
        .collect();
    assert_eq!(codes.len(), 5);
    assert!(codes.contains(&"mika") && codes.contains(&"regionkoordinator_barn"));
    let mika = units
        .as_array()
        .unwrap()
        .iter()
        .find(|u| u["code"] == "mika")
        .unwrap();
    assert_eq!(mika["adults_only"], true);

    let all = app.get_ok("/api/v1/municipalities", &auditor).await;
    let all = all.as_array().unwrap();
    assert_eq!(all.len(), 27);
    let find = |code: &str| all.iter().find(|m| m["code"] == code).unwrap().clone();
    assert_eq!(find("0184")["name"], "Solna");
    assert_eq!(find("0184")["connected"], true);
    assert_eq!(
        find("0184")["connections"],
        json!([{"since": "2021-01-01", "until": null}])
    );
    assert_eq!(find("0127")["connected"], false);
    assert_eq!(find("0980")["in_stockholm_county"], false);
    assert_problem(app.get("/api/v1/units").await, 401).await;
}

async fn an_amendment_that_takes_safeguarding_away_needs_attention(db: Db) {
    let app = TestApp::spawn(&db).await;
    let ujour = app
        .token_for("ujour1", Role::OutreachWorker, Some(Unit::Ungdomsjouren))
        .await;
    let liaison = app.token_for("liaison", Role::PoliceLiaison, None).await;
    let coordinator = app.token_for("coordinator", Role::Coordinator, None).await;
    let shift = open_shift(
        &app,
        &ujour,
        &shift_body("online_outreach", &["ungdomsjouren"]),
    )
    .await;
    let minor = log(&app, &ujour, &safeguarded_minor(&shift)).await;
    let close = format!("/api/v1/shifts/{shift}/close");
    assert_eq!(
        app.post_json(&close, &ujour, &json!({})).await.status(),
        200
    );

    // Saying the unit itself filed it "as another unit" does not count as a report.
    let mut own = safeguarded_minor(&shift);
    own["concern_report"] = json!({"filed_by_unit": "ungdomsjouren"});
    own["amendment_reason"] = json!("Rättelse");
    let path = format!("/api/v1/encounters/{minor}");
    assert_eq!(
        fields_of(app.put_json(&path, &ujour, &own, Some(1)).await).await,
        [(
            "concern_report.filed_by_unit".to_owned(),
            "own_unit".to_owned()
        )]
    );
    let mut taken_away = unsafeguarded_minor(&shift);
    taken_away["amendment_reason"] = json!("Orosanmälan var inte gjord");
    assert_eq!(
        app.put_json(&path, &ujour, &taken_away, Some(1))
            .await
            .status(),
        200
    );
    let attention = app
        .get_ok("/api/v1/shifts?needs_attention=true", &ujour)
        .await;
    assert_eq!(attention["items"][0]["id"], shift);
    // Which children lack safeguarding is the units' own matter.
    for token in [&liaison, &coordinator] {
        assert_problem(
            app.get_as("/api/v1/shifts?needs_attention=true", token)
                .await,
            403,
        )
        .await;
    }
}

async fn a_closed_shift_is_amended_with_a_reason_that_is_kept(db: Db) {
    use diesel::prelude::*;
    use faltlogg_persistence::schema::amendments;

    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    app.post_json(&format!("/api/v1/shifts/{shift}/close"), &mika, &json!({}))
        .await;
    let path = format!("/api/v1/shifts/{shift}");
    let mut changed = shift_body("raid", &["mika"]);
    changed["area"] = json!("Vasastan");
    assert_eq!(
        fields_of(app.put_json(&path, &mika, &changed, Some(2)).await).await,
        [(
            "amendment_reason".to_owned(),
            "amendment_reason_required".to_owned()
        )]
    );
    changed["amendment_reason"] = json!("Fel område angivet");
    let amended = app.put_json(&path, &mika, &changed, Some(2)).await;
    assert_eq!(amended.status(), 200);
    let amended: Value = amended.json().await.unwrap();
    assert_eq!(
        (amended["area"].as_str(), amended["status"].as_str()),
        (Some("Vasastan"), Some("closed"))
    );
    let database = app.db.connect();
    let kept: Vec<(String, String, i64)> = amendments::table
        .select((
            amendments::record_id,
            amendments::reason,
            amendments::version,
        ))
        .load(&mut *database.get().unwrap())
        .unwrap();
    assert_eq!(kept, [(shift.clone(), "Fel område angivet".to_owned(), 3)]);
}

async fn encounter_lists_paginate(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika"])).await;
    let mut logged = Vec::new();
    for minute in 0..5 {
        let mut body = adult(&shift, "selling");
        // Two at the same instant, with sub-microsecond digits the databases do not keep.
        body["occurred_at"] = json!(format!(
            "2026-11-28T22:0{}:00.123456789+01:00",
            minute.min(3)
        ));
        logged.push(log(&app, &mika, &body).await);
    }
    let seen: Vec<String> = app
        .all_pages(
            &format!("/api/v1/shifts/{shift}/encounters?limit=2"),
            &mika,
            2,
        )
        .await
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    let mut expected = logged.clone();
    expected[3..].sort();
    assert_eq!(seen, expected);
}

async fn rules_between_fields_and_units_leaving_a_shift(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let shift = open_shift(&app, &mika, &shift_body("raid", &["mika", "kast"])).await;
    // Guardians contacted, and a reason they were not: one or the other.
    let mut both = safeguarded_minor(&shift);
    both["guardian_not_contacted_reason"] = json!("Risk för barnet");
    let path = format!("/api/v1/encounters/{}", Uuid::new_v4());
    assert_eq!(
        fields_of(app.put_json(&path, &mika, &both, None).await).await,
        [(
            "guardian_not_contacted_reason".to_owned(),
            "guardian_contacted".to_owned()
        )]
    );
    let mut many = adult(&shift, "selling");
    many["referrals"] = json!(vec![json!({"target": "mika_halsa"}); 21]);
    assert_eq!(
        fields_of(app.put_json(&path, &mika, &many, None).await).await,
        [("referrals".to_owned(), "too_many".to_owned())]
    );
    let mut units = shift_body("raid", &["mika"]);
    units["units"] = json!(["mika", "kast", "mika", "kast", "mika", "kast"]);
    assert_eq!(
        fields_of(
            app.put_json(
                &format!("/api/v1/shifts/{}", Uuid::new_v4()),
                &mika,
                &units,
                None
            )
            .await
        )
        .await,
        [("units".to_owned(), "too_many".to_owned())]
    );
    assert_problem(app.get_as(&path, &mika).await, 404).await;

    // KAST logged in the joint raid, so KAST stays one of its units.
    log(&app, &kast, &adult(&shift, "buyer")).await;
    let shift_path = format!("/api/v1/shifts/{shift}");
    assert_eq!(
        fields_of(
            app.put_json(&shift_path, &mika, &shift_body("raid", &["mika"]), Some(1))
                .await
        )
        .await,
        [("units".to_owned(), "unit_has_encounters".to_owned())]
    );
    assert_eq!(
        app.get_ok(&shift_path, &mika).await["units"],
        json!(["mika", "kast"])
    );
}
