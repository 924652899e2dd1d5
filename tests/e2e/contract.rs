//! Files that users and the phone team rely on, checked against the code.

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
         cargo run -q -p faltlogg-api -- openapi > openapi.yaml\nand review the diff"
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
