//! The HTTP skeleton: probes, request ids, and problem+json for every error.

use faltlogg_domain::account::Role;

use crate::helpers::{Db, TestApp, assert_problem};
use crate::on_both_backends;

on_both_backends!(
    healthz_answers_with_a_request_id,
    readyz_follows_the_database,
    unknown_routes_are_problem_404_with_or_without_a_token,
    wrong_method_is_problem_405_with_allow,
    openapi_document_is_served_as_committed,
    an_unreadable_query_string_is_problem_400_after_sign_in_is_checked,
);

async fn healthz_answers_with_a_request_id(db: Db) {
    let app = TestApp::spawn(&db).await;
    let response = app.get("/healthz").await;
    assert_eq!(response.status(), 200);
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
    assert_eq!(response.headers()["cache-control"], "no-store");
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body, serde_json::json!({"status": "ok"}));

    let again = app.get("/healthz").await;
    assert_ne!(again.headers()["x-request-id"].to_str().unwrap(), id);
}

async fn readyz_follows_the_database(db: Db) {
    let app = TestApp::spawn(&db).await;
    assert_eq!(app.get("/readyz").await.status(), 200);

    app.db.destroy();
    let response = app.get("/readyz").await;
    assert_eq!(response.headers()["retry-after"], "5");
    let problem = assert_problem(response, 503).await;
    // The cause is in the log, not in the answer.
    let text = problem.to_string();
    assert!(
        !text.contains("units") && !text.contains("database \""),
        "{text}"
    );
    // The process itself is still up.
    assert_eq!(app.get("/healthz").await.status(), 200);
}

async fn unknown_routes_are_problem_404_with_or_without_a_token(db: Db) {
    let app = TestApp::spawn(&db).await;
    for path in ["/nope", "/api/v1/nope", "/api/v1/encounters/x/y/z"] {
        let plain = app.get(path).await;
        assert!(plain.headers().contains_key("x-request-id"));
        assert_problem(plain, 404).await;
        let with_token = app
            .client
            .get(app.url(path))
            .bearer_auth("not-a-token")
            .send()
            .await
            .unwrap();
        assert_problem(with_token, 404).await;
    }
}

async fn wrong_method_is_problem_405_with_allow(db: Db) {
    let app = TestApp::spawn(&db).await;
    for path in ["/healthz", "/readyz", "/openapi.yaml"] {
        let response = app.client.delete(app.url(path)).send().await.unwrap();
        assert_eq!(response.headers()["allow"], "GET");
        let problem = assert_problem(response, 405).await;
        assert_eq!(problem["type"], "about:blank");
        assert_eq!(problem["title"], "Method Not Allowed");
    }
}

async fn openapi_document_is_served_as_committed(db: Db) {
    let app = TestApp::spawn(&db).await;
    let response = app.get("/openapi.yaml").await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/yaml");
    let served = response.text().await.unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    assert_eq!(served, committed);
}

/// A repeated or mistyped parameter is 400 problem+json, but only for a caller who may
/// call the route: the anonymous and the wrong role hear 401 and 403 first.
async fn an_unreadable_query_string_is_problem_400_after_sign_in_is_checked(db: Db) {
    let app = TestApp::spawn(&db).await;
    let coordinator = app.token_for("samordnare", Role::Coordinator, None).await;
    let auditor = app.token_for("granskare", Role::Auditor, None).await;
    let path = "/api/v1/reports/cooperation?from=2026-01-01&from=2026-02-01&to=2026-03-01";
    let problem = assert_problem(app.get_as(path, &coordinator).await, 400).await;
    assert_eq!(problem["type"], "/problems/malformed-query");
    assert_problem(
        app.get_as("/api/v1/shifts?limit=10&limit=20", &coordinator)
            .await,
        400,
    )
    .await;
    assert_problem(app.get(path).await, 401).await;
    assert_problem(app.get_as(path, &auditor).await, 403).await;
}
