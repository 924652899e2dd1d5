//! Files that users and the phone team rely on, checked against the code.

use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;

use crate::helpers::{Db, TestApp};
use crate::on_both_backends;

/// `openapi.yaml` is generated from the code; the committed file must be what the code
/// generates now.
#[test]
fn openapi_file_matches_the_code() {
    let generated = faltlogg_api::openapi::yaml().unwrap();
    let committed =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap();
    assert!(
        generated == committed,
        "openapi.yaml differs from the code; regenerate it with\n    \
         cargo run -q -p faltlogg-api -- openapi > openapi.new && mv openapi.new openapi.yaml\n\
         (not straight into openapi.yaml: the server embeds the file, and the shell would\n\
         empty it before cargo builds) and review the diff"
    );
    let doc: serde_norway::Value = serde_norway::from_str(&committed).unwrap();
    assert_eq!(doc["openapi"].as_str(), Some("3.1.0"));
}

/// docker-compose.yml cannot be run here (no Docker engine), so its shape is checked:
/// PostgreSQL 16 with a health check and a named volume, the API waiting for it.
#[test]
fn docker_compose_starts_postgres_then_the_api() {
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../docker-compose.yml"
    ))
    .unwrap();
    let compose: serde_norway::Value = serde_norway::from_str(&text).unwrap();
    let services = &compose["services"];
    let db = &services["postgres"];
    assert!(db["image"].as_str().unwrap().starts_with("postgres:16"));
    assert!(db["healthcheck"]["test"].is_sequence());
    let volume = db["volumes"][0].as_str().unwrap();
    let volume_name = volume.split(':').next().unwrap();
    assert!(
        compose["volumes"].get(volume_name).is_some(),
        "named volume {volume_name}"
    );

    let api = &services["api"];
    assert_eq!(
        api["depends_on"]["postgres"]["condition"].as_str(),
        Some("service_healthy")
    );
    let url = api["environment"]["FALTLOGG_DATABASE_URL"]
        .as_str()
        .unwrap();
    assert!(url.starts_with("postgres://"), "{url}");
    assert!(api["build"].is_mapping() || api["build"].is_string());
}

on_both_backends!(every_route_admits_exactly_the_roles_the_contract_names);

/// The roles in each operation's bearer requirement are the server's policy: every other
/// role gets 403 and no token gets 401, before any body or id is looked at.
async fn every_route_admits_exactly_the_roles_the_contract_names(db: Db) {
    let app = TestApp::spawn(&db).await;
    let mut tokens = Vec::new();
    for role in Role::ALL {
        let unit = (role == Role::OutreachWorker).then_some(Unit::Mika);
        let name = format!("as-{}", role.as_str());
        tokens.push((role.as_str(), app.token_for(&name, role, unit).await));
    }
    let doc: serde_norway::Value = serde_norway::from_str(
        &std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.yaml")).unwrap(),
    )
    .unwrap();
    let mut operations = Vec::new();
    for (path, item) in doc["paths"].as_mapping().unwrap() {
        for (method, operation) in item.as_mapping().unwrap() {
            let Some(roles) = operation["security"][0]["bearer"].as_sequence() else {
                continue;
            };
            let roles: Vec<&str> = roles.iter().map(|r| r.as_str().unwrap()).collect();
            operations.push((
                path.as_str().unwrap(),
                method.as_str().unwrap().to_uppercase(),
                operation["operationId"].as_str().unwrap(),
                roles,
            ));
        }
    }
    // Signing out ends the token that every later request needs.
    operations.sort_by_key(|(_, _, id, _)| *id == "logout");
    assert!(operations.len() > 25, "{} operations", operations.len());

    for (path, method, id, roles) in &operations {
        let path = path
            .replace("{id}", &uuid::Uuid::new_v4().to_string())
            .replace("{code}", "0180");
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let request = || {
            app.client
                .request(method.clone(), app.url(&path))
                .json(&serde_json::json!({}))
        };
        let anonymous = request().send().await.unwrap();
        assert_eq!(anonymous.status(), 401, "{id} without a token");
        for (role, token) in &tokens {
            let status = request().bearer_auth(token).send().await.unwrap().status();
            if roles.contains(role) {
                assert!(
                    status != 403 && status != 401,
                    "{id} as {role}: {status}, but the contract admits the role"
                );
            } else {
                assert_eq!(
                    status, 403,
                    "{id} as {role}: the contract does not admit it"
                );
            }
        }
    }
}
