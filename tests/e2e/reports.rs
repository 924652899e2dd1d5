//! Reports for the steering group, checked against figures the tests compute from what
//! they wrote: voids, periods, shifts without police, the New Year in Stockholm, homes.

use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;
use serde_json::{Value, json};
use uuid::Uuid;

use faltlogg_api::table::parse_csv;
use faltlogg_persistence::dialect;

use crate::fieldlog::{adult, log};
use crate::helpers::{Db, TestApp, assert_problem};
use crate::on_both_backends;
use crate::sync::{item, push};

on_both_backends!(
    the_cooperation_report_counts_shifts_with_police_and_their_meetings,
    a_shift_that_turns_out_to_be_with_police_brings_its_meetings_into_the_report,
    the_source_documents_figures_give_its_paragraph,
    the_sugar_dating_report_counts_ungdomsjourens_contacts,
    referrals_stored_before_encounters_carried_their_targets_are_counted,
    the_municipalities_report_follows_homes_connections_and_notifications,
    reports_come_as_csv_and_excel_and_refuse_bad_periods,
    each_role_gets_the_reports_design_gives_it,
);

const YEAR: &str = "?from=2025-01-01&to=2025-12-31";

fn shift_at(kind: &str, with_police: bool, started_at: &str, units: &[&str]) -> Value {
    json!({"kind": kind, "with_police": with_police, "started_at": started_at, "units": units})
}

/// An encounter in a shift at a time, with changes to the adult default.
fn met(shift: &str, role: &str, at: &str, changes: Value) -> Value {
    let mut body = adult(shift, role);
    body["occurred_at"] = json!(at);
    for (key, value) in changes.as_object().unwrap() {
        body[key] = value.clone();
    }
    body
}

/// Pushes a shift and its encounters; returns the encounters' ids.
async fn logged(
    app: &TestApp,
    token: &str,
    shift: &str,
    body: Value,
    encounters: Vec<Value>,
) -> Vec<String> {
    let mut items = vec![item("shift", shift, None, body)];
    let ids: Vec<String> = encounters
        .iter()
        .map(|_| Uuid::new_v4().to_string())
        .collect();
    items.extend(
        ids.iter()
            .zip(encounters)
            .map(|(id, e)| item("encounter", id, None, e)),
    );
    let results = push(app, token, items).await;
    assert!(
        results.iter().all(|r| r["status"] == "created"),
        "{results:?}"
    );
    ids
}

async fn the_cooperation_report_counts_shifts_with_police_and_their_meetings(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;

    // A joint raid in the year: Mika meets four people selling (one a minor, one without
    // support, one voided), two of them under one pseudonym; KAST two buyers, one a minor.
    let raid = Uuid::new_v4().to_string();
    let at = "2025-03-14T22:00:00+01:00";
    let mika_ids = logged(
        &app,
        &mika,
        &raid,
        shift_at("raid", true, "2025-03-14T20:00:00+01:00", &["mika", "kast"]),
        vec![
            met(&raid, "selling", at, json!({"pseudonym": "A"})),
            met(&raid, "selling", at, json!({"pseudonym": "A"})),
            met(&raid, "selling", at, json!({"age_group": "under_18"})),
            met(&raid, "selling", at, json!({"support_offered": false})),
            met(&raid, "selling", at, json!({})),
        ],
    )
    .await;
    app.post_json(
        &format!("/api/v1/encounters/{}/void", mika_ids[4]),
        &mika,
        &json!({"reason": "Dubblett"}),
    )
    .await;
    let kast_items = vec![
        item(
            "encounter",
            &Uuid::new_v4().to_string(),
            None,
            met(&raid, "buyer", at, json!({})),
        ),
        item(
            "encounter",
            &Uuid::new_v4().to_string(),
            None,
            met(
                &raid,
                "buyer",
                at,
                json!({"age_group": "under_18", "pseudonym": "A"}),
            ),
        ),
    ];
    push(&app, &kast, kast_items).await;
    // Surveillance that began at 00:30 on New Year's Day in Stockholm (23:30 UTC the day before).
    let early = Uuid::new_v4().to_string();
    logged(
        &app,
        &mika,
        &early,
        shift_at("surveillance", true, "2024-12-31T23:30:00Z", &["mika"]),
        vec![met(
            &early,
            "selling",
            "2025-01-01T01:00:00+01:00",
            json!({}),
        )],
    )
    .await;
    // Street outreach with police counts as a shift with police, but not as "spaning eller tillslag".
    let street = Uuid::new_v4().to_string();
    logged(
        &app,
        &mika,
        &street,
        shift_at(
            "street_outreach",
            true,
            "2025-06-01T20:00:00+02:00",
            &["mika"],
        ),
        vec![
            met(&street, "selling", "2025-06-01T21:00:00+02:00", json!({})),
            // Met after the period: not counted.
            met(&street, "selling", "2026-01-01T00:10:00+01:00", json!({})),
        ],
    )
    .await;
    // Without police: not counted at all.
    let alone = Uuid::new_v4().to_string();
    logged(
        &app,
        &mika,
        &alone,
        shift_at(
            "street_outreach",
            false,
            "2025-06-02T20:00:00+02:00",
            &["mika"],
        ),
        vec![met(
            &alone,
            "selling",
            "2025-06-02T21:00:00+02:00",
            json!({}),
        )],
    )
    .await;
    // Begun on New Year's Eve at 23:30 Stockholm time is last year; at 00:30 next year, next year.
    for started in ["2024-12-31T23:30:00+01:00", "2025-12-31T23:30:00Z"] {
        let shift = Uuid::new_v4().to_string();
        logged(
            &app,
            &mika,
            &shift,
            shift_at("raid", true, started, &["mika"]),
            vec![met(
                &shift,
                "selling",
                "2026-01-01T02:00:00+01:00",
                json!({}),
            )],
        )
        .await;
    }

    let report = app
        .get_ok(&format!("/api/v1/reports/cooperation{YEAR}"), &coordinator)
        .await;
    assert_eq!(
        report["period"],
        json!({"from": "2025-01-01", "to": "2025-12-31"})
    );
    assert_eq!(report["shifts_with_police"]["total"], 3);
    assert_eq!(
        report["shifts_with_police"]["by_kind"],
        json!({"surveillance": 1, "raid": 1, "street_outreach": 1, "venue_outreach": 0, "online_outreach": 0})
    );
    // 4 in the raid + 1 surveillance + 1 street outreach with police.
    assert_eq!(
        report["selling"],
        json!({"encounters": 6, "under_18": 1, "support_offered": 5, "distinct_people": 5})
    );
    // KAST's pseudonym "A" is KAST's own code: it does not link to Mika's "A".
    assert_eq!(
        report["buyer"],
        json!({"encounters": 2, "under_18": 1, "support_offered": 2, "distinct_people": 2})
    );
    let text = report["text_sv"].as_str().unwrap();
    assert!(
        text.contains("genomfört två arbetspass tillsammans med polisen"),
        "{text}"
    );
    assert!(
        text.contains("Sex personer utsatta i prostitution och två personer misstänkta"),
        "{text}"
    );
    assert!(text.contains("Av dessa var en person under 18 år utsatt i prostitution och en person under 18 år köpare"), "{text}");
    assert!(
        text.ends_with("Sju av dem har erbjudits stöd av förvaltningens verksamheter."),
        "{text}"
    );

    // An outreach worker gets the unit's own figures: the shifts it took part in and its
    // own encounters.
    let kast_view = app
        .get_ok(&format!("/api/v1/reports/cooperation{YEAR}"), &kast)
        .await;
    assert_eq!(kast_view["shifts_with_police"]["total"], 1);
    assert_eq!(kast_view["selling"]["encounters"], 0);
    assert_eq!(kast_view["buyer"]["encounters"], 2);
    assert_eq!(kast_view["selling"]["distinct_people"], 0);
    assert_eq!(kast_view["buyer"]["distinct_people"], 2);
    let mika_view = app
        .get_ok(&format!("/api/v1/reports/cooperation{YEAR}"), &mika)
        .await;
    assert_eq!(mika_view["selling"], report["selling"]);
    assert_eq!(mika_view["buyer"]["encounters"], 0);

    // The encounters stored before they carried their shift's start (migration 000012)
    // are counted alike once it has filled it in.
    let database = app.db.connect();
    let mut conn = database.get().unwrap();
    let reverted = dialect::revert_migrations_through(&mut conn, "000012").unwrap();
    drop(conn);
    assert_eq!(database.migrate().unwrap(), reverted);
    let again = app
        .get_ok(&format!("/api/v1/reports/cooperation{YEAR}"), &coordinator)
        .await;
    assert_eq!(
        (&again["selling"], &again["buyer"]),
        (&report["selling"], &report["buyer"])
    );
}

/// Each encounter carries its shift's police flag and start for the report's indexes:
/// encounters logged one by one and pushed together both take them, and a shift's
/// correction carries over to the encounters it already has, both ways.
async fn a_shift_that_turns_out_to_be_with_police_brings_its_meetings_into_the_report(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let selling = |report: &Value| report["selling"]["encounters"].clone();
    let path = format!("/api/v1/reports/cooperation{YEAR}");
    let report = || app.get_ok(&path, &coordinator);

    let started = "2025-06-01T20:00:00+02:00";
    let at = "2025-06-01T21:00:00+02:00";
    let with_police = Uuid::new_v4().to_string();
    logged(
        &app,
        &mika,
        &with_police,
        shift_at("street_outreach", true, started, &["mika"]),
        vec![met(&with_police, "selling", at, json!({}))],
    )
    .await;
    log(&app, &mika, &met(&with_police, "selling", at, json!({}))).await;
    assert_eq!(selling(&report().await), 2);

    let corrected = Uuid::new_v4().to_string();
    let body = |police: bool| shift_at("street_outreach", police, started, &["mika"]);
    logged(
        &app,
        &mika,
        &corrected,
        body(false),
        vec![
            met(&corrected, "selling", at, json!({})),
            met(&corrected, "selling", at, json!({})),
        ],
    )
    .await;
    log(&app, &mika, &met(&corrected, "selling", at, json!({}))).await;
    assert_eq!(selling(&report().await), 2);

    let shift = format!("/api/v1/shifts/{corrected}");
    let response = app.put_json(&shift, &mika, &body(true), Some(1)).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let counted = report().await;
    assert_eq!(selling(&counted), 5);
    assert_eq!(counted["shifts_with_police"]["total"], 2);

    // The shift began the year before after all: its encounters leave this year's report,
    // though they were met in it, and come back when the start is corrected again.
    let earlier = shift_at(
        "street_outreach",
        true,
        "2024-12-31T20:00:00+01:00",
        &["mika"],
    );
    let response = app.put_json(&shift, &mika, &earlier, Some(2)).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    let counted = report().await;
    assert_eq!(selling(&counted), 2);
    assert_eq!(counted["shifts_with_police"]["total"], 1);
    let response = app.put_json(&shift, &mika, &body(true), Some(3)).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(selling(&report().await), 5);

    let response = app.put_json(&shift, &mika, &body(false), Some(4)).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(selling(&report().await), 2);
}

async fn the_source_documents_figures_give_its_paragraph(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let liaison = app.token_for("liaison", Role::PoliceLiaison, None).await;
    // 201 shifts with police in spaning or tillslag; 364 people in prostitution (18 under
    // 18) and 306 suspected buyers (3 under 18) met in them; all offered support.
    let shifts: Vec<String> = (0..201).map(|_| Uuid::new_v4().to_string()).collect();
    let mut items: Vec<Value> = shifts
        .iter()
        .enumerate()
        .map(|(i, id)| {
            let kind = if i % 3 == 0 { "surveillance" } else { "raid" };
            let day = 1 + i % 28;
            item(
                "shift",
                id,
                None,
                shift_at(
                    kind,
                    true,
                    &format!("2022-05-{day:02}T20:00:00+02:00"),
                    &["mika", "kast"],
                ),
            )
        })
        .collect();
    let meeting = |n: usize, role: &str, minor: bool| {
        let shift = &shifts[n % shifts.len()];
        let day = 1 + (n % shifts.len()) % 28;
        let mut body = met(
            shift,
            role,
            &format!("2022-05-{day:02}T22:00:00+02:00"),
            json!({}),
        );
        if minor {
            body["age_group"] = json!("under_18");
            body["referrals"] = json!([{"target": "stodcentrum"}]);
        }
        item("encounter", &Uuid::new_v4().to_string(), None, body)
    };
    items.extend((0..364).map(|n| meeting(n, "selling", n < 18)));
    items.extend((0..306).map(|n| meeting(n, "buyer", n < 3)));
    for batch in items.chunks(500) {
        let results = push(&app, &mika, batch.to_vec()).await;
        assert!(results.iter().all(|r| r["status"] == "created"));
    }

    let report = app
        .get_ok(
            "/api/v1/reports/cooperation?from=2021-04-01&to=2023-12-31",
            &liaison,
        )
        .await;
    assert_eq!(report["shifts_with_police"]["total"], 201);
    assert_eq!(report["selling"]["encounters"], 364);
    assert_eq!(report["selling"]["under_18"], 18);
    assert_eq!(report["selling"]["support_offered"], 364);
    assert_eq!(report["buyer"]["encounters"], 306);
    assert_eq!(report["buyer"]["under_18"], 3);
    assert_eq!(
        report["text_sv"],
        "Under perioden 1 april 2021–31 december 2023 har socialförvaltningens verksamheter \
         genomfört 201 arbetspass tillsammans med polisen i samband med spaning eller tillslag. \
         364 personer utsatta i prostitution och 306 personer misstänkta för köp av sexuella \
         tjänster har påträffats. Av dessa var arton personer under 18 år utsatta i prostitution \
         och tre personer under 18 år köpare av sexuella tjänster. Samtliga som påträffats har \
         erbjudits stöd av förvaltningens verksamheter."
    );
}

async fn the_sugar_dating_report_counts_ungdomsjourens_contacts(db: Db) {
    let app = TestApp::spawn(&db).await;
    let ujour = app
        .token_for("ujour1", Role::OutreachWorker, Some(Unit::Ungdomsjouren))
        .await;
    let barn = app
        .token_for(
            "barn1",
            Role::OutreachWorker,
            Some(Unit::RegionkoordinatorBarn),
        )
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let shift = Uuid::new_v4().to_string();
    let at = "2025-09-10T19:00:00+02:00";
    let minor = |years: i64, changes: Value| {
        let mut body = met(
            &shift,
            "sugar_dating",
            at,
            json!({"age_group": "under_18", "age_years": years}),
        );
        for (key, value) in changes.as_object().unwrap() {
            body[key] = value.clone();
        }
        body
    };
    let ids = logged(&app, &ujour, &shift, shift_at("online_outreach", false, "2025-09-10T18:00:00+02:00", &["ungdomsjouren", "regionkoordinator_barn"]), vec![
        minor(15, json!({"home_municipality": "0180", "guardian_contacted_at": at,
            "concern_report": {"filed_at": at, "municipality": "0180"},
            // One encounter naming a target twice is one contact referred there.
            "referrals": [{"target": "stodcentrum"}, {"target": "regionkoordinator_barn"},
                {"target": "stodcentrum"}]})),
        minor(16, json!({"gender": "male", "home_municipality": "0127",
            "guardian_not_contacted_reason": "Risk för barnet",
            "concern_report": {"filed_by_unit": "regionkoordinator_barn"},
            "referrals": [{"target": "stodcentrum"}]})),
        minor(14, json!({"home_municipality": "0980", "support_offered": false})),
        met(&shift, "sugar_dating", at, json!({"age_years": 22, "gender": "other", "home_municipality": "abroad", "home_country": "EE"})),
        met(&shift, "sugar_dating", at, json!({"age_years": 19, "home_municipality": "outside_county"})),
        met(&shift, "sugar_dating", at, json!({"home_municipality": "unknown", "gender": "unknown"})),
        // Voided, and outside the period: not counted.
        met(&shift, "sugar_dating", at, json!({"age_years": 30})),
        met(&shift, "sugar_dating", "2024-12-31T23:30:00+01:00", json!({"age_years": 13, "age_group": "under_18"})),
        // Another role: not a sugar-dating contact.
        met(&shift, "selling", at, json!({})),
    ]).await;
    app.post_json(
        &format!("/api/v1/encounters/{}/void", ids[6]),
        &ujour,
        &json!({"reason": "Fel"}),
    )
    .await;
    // A correction that refers the 14-year-old after all counts with its new referrals.
    let corrected = minor(
        14,
        json!({"home_municipality": "0980", "support_offered": false,
        "referrals": [{"target": "mika_halsa"}]}),
    );
    let response = app
        .put_json(
            &format!("/api/v1/encounters/{}", ids[2]),
            &ujour,
            &corrected,
            Some(1),
        )
        .await;
    assert_eq!(response.status(), 200, "{}", response.text().await.unwrap());
    // Another unit's contact in the same shift.
    push(
        &app,
        &barn,
        vec![item(
            "encounter",
            &Uuid::new_v4().to_string(),
            None,
            met(&shift, "sugar_dating", at, json!({"gender": "male"})),
        )],
    )
    .await;

    let report = app
        .get_ok(&format!("/api/v1/reports/sugar-dating{YEAR}"), &coordinator)
        .await;
    assert_eq!(report["contacts"], 7);
    assert_eq!(report["under_18"], 3);
    // Female by default: the two female minors, the 19-year-old; male: a minor and barn's contact.
    assert_eq!(
        report["gender"],
        json!({"female": 3, "male": 2, "other": 1, "unknown": 1})
    );
    assert_eq!(
        (report["age_min"].as_i64(), report["age_max"].as_i64()),
        (Some(14), Some(22))
    );
    // Gotland and abroad live outside Stockholm County.
    assert_eq!(
        report["home"],
        json!({"stockholm": 2, "other_county_municipality": 1, "outside_county": 3, "unknown": 1})
    );
    assert_eq!(
        report["minors"],
        json!({"guardian_contacted": 1, "concern_reported": 2})
    );
    assert_eq!(report["support_offered"], 6);
    assert_eq!(report["referrals"]["stodcentrum"], 2);
    assert_eq!(report["referrals"]["regionkoordinator_barn"], 1);
    assert_eq!(report["referrals"]["mika_halsa"], 1);
    assert_eq!(report["referrals"]["mika"], 0);

    let own = app
        .get_ok(&format!("/api/v1/reports/sugar-dating{YEAR}"), &ujour)
        .await;
    assert_eq!(own["contacts"], 6);
    assert_eq!(own["gender"]["male"], 1);
}

/// Migration 000011 gives every stored encounter the targets of its referrals, which the
/// report counts from then on: stepping back before it (which drops them) and migrating
/// again gives the same figures.
async fn referrals_stored_before_encounters_carried_their_targets_are_counted(db: Db) {
    let app = TestApp::spawn(&db).await;
    let ujour = app
        .token_for("ujour1", Role::OutreachWorker, Some(Unit::Ungdomsjouren))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let shift = Uuid::new_v4().to_string();
    let at = "2025-09-10T19:00:00+02:00";
    let referred = |targets: &[&str]| {
        let referrals: Vec<Value> = targets.iter().map(|t| json!({"target": t})).collect();
        met(&shift, "sugar_dating", at, json!({"referrals": referrals}))
    };
    logged(
        &app,
        &ujour,
        &shift,
        shift_at(
            "online_outreach",
            false,
            "2025-09-10T18:00:00+02:00",
            &["ungdomsjouren"],
        ),
        vec![
            referred(&["stodcentrum", "mika_halsa", "stodcentrum"]),
            referred(&["mika_halsa"]),
            referred(&[]),
        ],
    )
    .await;
    let path = format!("/api/v1/reports/sugar-dating{YEAR}");
    let before = app.get_ok(&path, &coordinator).await["referrals"].clone();
    assert_eq!(
        (
            before["stodcentrum"].as_u64(),
            before["mika_halsa"].as_u64()
        ),
        (Some(1), Some(2))
    );

    let database = app.db.connect();
    let mut conn = database.get().unwrap();
    let reverted = dialect::revert_migrations_through(&mut conn, "000011").unwrap();
    drop(conn);
    assert_eq!(database.migrate().unwrap(), reverted);
    assert_eq!(app.get_ok(&path, &coordinator).await["referrals"], before);
}

async fn the_municipalities_report_follows_homes_connections_and_notifications(db: Db) {
    let app = TestApp::spawn(&db).await;
    let kast = app
        .token_for("kast1", Role::OutreachWorker, Some(Unit::Kast))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let raid = Uuid::new_v4().to_string();
    let ids = logged(
        &app,
        &kast,
        &raid,
        shift_at("raid", true, "2025-03-01T20:00:00+01:00", &["kast"]),
        vec![
            met(
                &raid,
                "buyer",
                "2025-03-01T22:00:00+01:00",
                json!({"home_municipality": "0127"}),
            ),
            met(
                &raid,
                "buyer",
                "2025-03-01T22:10:00+01:00",
                json!({"home_municipality": "0127"}),
            ),
            met(
                &raid,
                "buyer",
                "2025-03-01T22:20:00+01:00",
                json!({"home_municipality": "0127"}),
            ),
            met(
                &raid,
                "buyer",
                "2025-03-01T22:30:00+01:00",
                json!({"home_municipality": "0184"}),
            ),
            met(
                &raid,
                "buyer",
                "2025-03-01T22:40:00+01:00",
                json!({"home_municipality": "0980"}),
            ),
        ],
    )
    .await;
    app.post_json(
        &format!("/api/v1/encounters/{}/void", ids[2]),
        &kast,
        &json!({"reason": "Fel"}),
    )
    .await;
    // Mika meets someone from Botkyrka on a street round (no raid, so no notice): in the
    // coordinator's figures, not in KAST's.
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let round = Uuid::new_v4().to_string();
    logged(
        &app,
        &mika,
        &round,
        shift_at(
            "street_outreach",
            false,
            "2025-04-02T20:00:00+02:00",
            &["mika"],
        ),
        vec![met(
            &round,
            "selling",
            "2025-04-02T21:00:00+02:00",
            json!({"home_municipality": "0127"}),
        )],
    )
    .await;
    let notices = app
        .get_ok(
            "/api/v1/municipality-notifications?status=open",
            &coordinator,
        )
        .await;
    let botkyrka = notices["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["municipality"] == "0127")
        .unwrap();
    let resolve = format!(
        "/api/v1/municipality-notifications/{}/resolve",
        botkyrka["id"].as_str().unwrap()
    );
    app.post_json(&resolve, &coordinator, &json!({"method": "informed_offer"}))
        .await;
    // Botkyrka joins the offer in June.
    app.put_json(
        "/api/v1/municipalities/0127/connection",
        &coordinator,
        &json!({"connected": true, "from": "2025-06-01"}),
        None,
    )
    .await;

    let row = |report: &Value, code: &str| {
        report["municipalities"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["code"] == code)
            .unwrap()
            .clone()
    };
    let year = app
        .get_ok(
            &format!("/api/v1/reports/municipalities{YEAR}"),
            &coordinator,
        )
        .await;
    assert_eq!(year["municipalities"].as_array().unwrap().len(), 27);
    let b = row(&year, "0127");
    assert_eq!(b["name"], "Botkyrka");
    assert_eq!(b["connected"], true);
    assert_eq!(
        b["encounters"],
        json!({"selling": 1, "buyer": 2, "sugar_dating": 0})
    );
    assert_eq!(b["notifications"], json!({"open": 1, "resolved": 1}));
    assert_eq!(row(&year, "0184")["encounters"]["buyer"], 1);
    assert_eq!(
        row(&year, "0184")["notifications"],
        json!({"open": 0, "resolved": 0})
    );
    assert_eq!(row(&year, "0980")["notifications"]["open"], 1);
    let spring = app
        .get_ok(
            "/api/v1/reports/municipalities?from=2025-01-01&to=2025-05-31",
            &coordinator,
        )
        .await;
    assert_eq!(row(&spring, "0127")["connected"], false);
    let summer = app
        .get_ok(
            "/api/v1/reports/municipalities?from=2025-06-01&to=2025-08-31",
            &coordinator,
        )
        .await;
    assert_eq!(row(&summer, "0127")["encounters"]["buyer"], 0);
    // Outreach workers see their unit's encounters, not the coordinators' tasks.
    let own = app
        .get_ok(&format!("/api/v1/reports/municipalities{YEAR}"), &kast)
        .await;
    assert_eq!(
        row(&own, "0127")["encounters"],
        json!({"selling": 0, "buyer": 2, "sugar_dating": 0})
    );
    assert!(row(&own, "0127")["notifications"].is_null());
}

async fn reports_come_as_csv_and_excel_and_refuse_bad_periods(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mika = app
        .token_for("mika1", Role::OutreachWorker, Some(Unit::Mika))
        .await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let raid = Uuid::new_v4().to_string();
    logged(
        &app,
        &mika,
        &raid,
        shift_at("raid", true, "2025-03-01T20:00:00+01:00", &["mika"]),
        vec![
            met(
                &raid,
                "selling",
                "2025-03-01T22:00:00+01:00",
                json!({"home_municipality": "0127"}),
            ),
            met(
                &raid,
                "selling",
                "2025-03-01T22:00:00+01:00",
                json!({"age_group": "under_18"}),
            ),
        ],
    )
    .await;
    let path = format!("/api/v1/reports/cooperation{YEAR}");
    let json = app.get_ok(&path, &coordinator).await;
    let csv = app
        .client
        .get(app.url(&path))
        .bearer_auth(&coordinator)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    assert_eq!(csv.status(), 200);
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        csv.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("samverkan-2025-01-01-2025-12-31.csv")
    );
    let rows = parse_csv(&csv.text().await.unwrap());
    assert_eq!(rows[0], ["measure", "value"]);
    let value = |measure: &str| {
        rows.iter()
            .find(|r| r[0] == measure)
            .map(|r| r[1].clone())
            .unwrap()
    };
    assert_eq!(
        value("selling.encounters"),
        json["selling"]["encounters"].to_string()
    );
    assert_eq!(
        value("selling.under_18"),
        json["selling"]["under_18"].to_string()
    );
    assert_eq!(value("shifts_with_police.by_kind.raid"), "1");
    // The paragraph, commas and all, survives the quoting.
    assert_eq!(value("text_sv"), json["text_sv"].as_str().unwrap());

    let municipalities = app
        .client
        .get(app.url(&format!("/api/v1/reports/municipalities{YEAR}")))
        .bearer_auth(&coordinator)
        .header("Accept", "text/csv")
        .send()
        .await
        .unwrap();
    let rows = parse_csv(&municipalities.text().await.unwrap());
    assert_eq!(
        rows[0],
        [
            "code",
            "name",
            "connected",
            "encounters.selling",
            "encounters.buyer",
            "encounters.sugar_dating",
            "notifications.open",
            "notifications.resolved"
        ]
    );
    assert_eq!(rows.len(), 28);
    let botkyrka = rows.iter().find(|r| r[0] == "0127").unwrap();
    assert_eq!(botkyrka[1..5], ["Botkyrka", "false", "1", "0"]);

    let xlsx = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";
    let workbook = app
        .client
        .get(app.url(&path))
        .bearer_auth(&coordinator)
        .header("Accept", xlsx)
        .send()
        .await
        .unwrap();
    assert_eq!(workbook.status(), 200);
    assert_eq!(workbook.headers()["content-type"], xlsx);
    let bytes = workbook.bytes().await.unwrap();
    assert_eq!(&bytes[..2], b"PK", "an xlsx file is a zip archive");

    for (query, field, code) in [
        ("", "from", "required"),
        ("?from=2025-01-01", "to", "required"),
        ("?from=2025-02-30&to=2025-12-31", "from", "invalid_date"),
        ("?from=2025-12-31&to=2025-01-01", "to", "reversed_period"),
        ("?from=2015-01-01&to=2025-01-01", "to", "period_too_long"),
    ] {
        for report in ["cooperation", "sugar-dating", "municipalities"] {
            let response = app
                .get_as(&format!("/api/v1/reports/{report}{query}"), &coordinator)
                .await;
            let problem = assert_problem(response, 422).await;
            assert_eq!(
                (
                    problem["errors"][0]["field"].as_str(),
                    problem["errors"][0]["code"].as_str()
                ),
                (Some(field), Some(code)),
                "{report}{query}"
            );
        }
    }
}

async fn each_role_gets_the_reports_design_gives_it(db: Db) {
    let app = TestApp::spawn(&db).await;
    let cases = [
        (
            "worker",
            Role::OutreachWorker,
            Some(Unit::Mika),
            [200, 200, 200],
        ),
        ("coordinator", Role::Coordinator, None, [200, 200, 200]),
        ("liaison", Role::PoliceLiaison, None, [200, 403, 403]),
        ("admin", Role::Admin, None, [403, 403, 403]),
        ("auditor", Role::Auditor, None, [403, 403, 403]),
    ];
    for (name, role, unit, expected) in cases {
        let token = app.token_for(name, role, unit).await;
        for (report, status) in ["cooperation", "sugar-dating", "municipalities"]
            .iter()
            .zip(expected)
        {
            let response = app
                .get_as(&format!("/api/v1/reports/{report}{YEAR}"), &token)
                .await;
            assert_eq!(response.status(), status, "{name} {report}");
        }
    }
    assert_problem(
        app.get(&format!("/api/v1/reports/cooperation{YEAR}")).await,
        401,
    )
    .await;
}
