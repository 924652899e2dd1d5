//! Authentication, device sessions and access control (DESIGN.md "Access" and
//! "Authentication").

use std::time::Duration;

use ed25519_dalek::SigningKey;
use ed25519_dalek::pkcs8::DecodePrivateKey;
use ed25519_dalek::pkcs8::EncodePublicKey;
use faltlogg_domain::account::Role;
use faltlogg_domain::unit::Unit;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use serde_json::{Value, json};

use crate::fieldlog::{adult, open_shift, shift_body};
use crate::helpers::{Db, PASSWORD, TestApp, assert_problem, captured_logs};
use crate::on_both_backends;

on_both_backends!(
    login_refresh_logout_round_trip,
    no_token_is_401_and_a_role_not_allowed_is_403,
    every_role_manages_its_own_devices_and_only_admins_all,
    forged_and_expired_tokens_are_refused,
    a_refresh_retry_within_grace_gets_the_same_successor,
    reusing_a_rotated_refresh_token_revokes_the_session,
    revoking_a_session_or_disabling_a_user_stops_access_at_once,
    a_session_unused_longer_than_the_idle_timeout_is_refused,
    unknown_user_and_wrong_password_answer_alike,
    failed_logins_are_throttled_per_address_and_per_account,
    old_failures_leave_the_window,
    login_body_is_validated_before_anything_else,
    admins_create_and_change_users_by_the_rules,
    nothing_secret_reaches_the_log,
);

async fn login_refresh_logout_round_trip(db: Db) {
    let app = TestApp::spawn(&db).await;
    app.add_user("anna.berg", Role::OutreachWorker, Some(Unit::Mika));
    // Usernames are case-insensitive.
    let tokens = app.login("Anna.Berg").await;
    assert_eq!(tokens.token_type, "Bearer");
    assert_eq!(tokens.expires_in, 900);

    let me = app.get_as("/api/v1/me", &tokens.access_token).await;
    assert_eq!(me.status(), 200);
    assert_eq!(me.headers()["cache-control"], "no-store");
    let me: Value = me.json().await.unwrap();
    assert_eq!(me["username"], "anna.berg");
    assert_eq!(me["role"], "outreach_worker");
    assert_eq!(me["unit"], "mika");
    assert_eq!(me["session_id"], tokens.session_id);

    let refreshed = refresh(&app, &tokens.refresh_token).await;
    assert_eq!(refreshed.status(), 200);
    let refreshed: Value = refreshed.json().await.unwrap();
    assert_ne!(refreshed["refresh_token"], tokens.refresh_token.as_str());
    assert_eq!(refreshed["session_id"], tokens.session_id);
    let access = refreshed["access_token"].as_str().unwrap();
    assert_eq!(app.get_as("/api/v1/me", access).await.status(), 200);

    let logout = app
        .client
        .post(app.url("/api/v1/auth/logout"))
        .bearer_auth(access)
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), 204);
    assert_problem(app.get_as("/api/v1/me", access).await, 401).await;
    assert_problem(app.get_as("/api/v1/me", &tokens.access_token).await, 401).await;
    let next = refreshed["refresh_token"].as_str().unwrap();
    assert_problem(refresh(&app, next).await, 401).await;
}

async fn refresh(app: &TestApp, token: &str) -> reqwest::Response {
    app.client
        .post(app.url("/api/v1/auth/refresh"))
        .json(&json!({"refresh_token": token}))
        .send()
        .await
        .unwrap()
}

async fn no_token_is_401_and_a_role_not_allowed_is_403(db: Db) {
    let app = TestApp::spawn(&db).await;
    for path in [
        "/api/v1/me",
        "/api/v1/me/sessions",
        "/api/v1/admin/users",
        "/api/v1/admin/sessions",
    ] {
        let response = app.get(path).await;
        assert!(
            response.headers()["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Bearer"),
            "{path}"
        );
        assert_problem(response, 401).await;
        assert_problem(app.get_as(path, "garbage").await, 401).await;
    }
}

async fn every_role_manages_its_own_devices_and_only_admins_all(db: Db) {
    let app = TestApp::spawn(&db).await;
    let cases = [
        ("worker", Role::OutreachWorker, Some(Unit::Kast)),
        ("liaison", Role::PoliceLiaison, None),
        ("coordinator", Role::Coordinator, None),
        ("auditor", Role::Auditor, None),
        ("admin", Role::Admin, None),
    ];
    for (name, role, unit) in cases {
        app.add_user(name, role, unit);
        let tokens = app.login(name).await;
        let own: Value = app
            .get_as("/api/v1/me/sessions", &tokens.access_token)
            .await
            .json()
            .await
            .unwrap();
        assert_eq!(
            own.as_array().unwrap().len(),
            1,
            "{name} sees own sessions only"
        );
        for path in ["/api/v1/admin/users", "/api/v1/admin/sessions"] {
            let response = app.get_as(path, &tokens.access_token).await;
            if role == Role::Admin {
                assert_eq!(response.status(), 200, "{name} {path}");
            } else {
                assert_problem(response, 403).await;
            }
        }
    }
}

/// Tokens signed with the server's own key (read from its data folder) but with bad
/// claims, and tokens with forged headers.
async fn forged_and_expired_tokens_are_refused(db: Db) {
    let app = TestApp::spawn(&db).await;
    let user_id = app.add_user("anna", Role::Admin, None);
    let tokens = app.login("anna").await;
    let pem = std::fs::read_to_string(app.db.data_dir.join("jwt-ed25519.pem")).unwrap();
    let key = EncodingKey::from_ed_pem(pem.as_bytes()).unwrap();
    let now = chrono::Utc::now().timestamp();
    let claims = |changes: Value| {
        let mut c = json!({
            "iss": "faltlogg", "aud": "faltlogg-api", "sub": user_id.to_string(),
            "iat": now, "exp": now + 600, "jti": "x", "role": "admin", "unit": null,
            "sid": tokens.session_id,
        });
        for (k, v) in changes.as_object().unwrap() {
            c[k] = v.clone();
        }
        c
    };
    let sign = |c: &Value| jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), c, &key).unwrap();

    // The harness itself can make a token the server takes.
    assert_eq!(
        app.get_as("/api/v1/me", &sign(&claims(json!({}))))
            .await
            .status(),
        200
    );

    let b64 = |v: &Value| {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let mut forged = vec![
        sign(&claims(json!({"exp": now - 120}))),
        sign(&claims(json!({"aud": "someone-else"}))),
        sign(&claims(json!({"iss": "not-faltlogg"}))),
        sign(&claims(json!({"sid": uuid::Uuid::new_v4().to_string()}))),
        sign(&claims(json!({"sub": uuid::Uuid::new_v4().to_string()}))),
        // alg: none, no signature.
        format!(
            "{}.{}.",
            b64(&json!({"alg": "none", "typ": "JWT"})),
            b64(&claims(json!({})))
        ),
    ];
    // Claims changed under the old signature.
    let genuine = tokens.access_token.clone();
    let parts: Vec<&str> = genuine.split('.').collect();
    forged.push(format!(
        "{}.{}.{}",
        parts[0],
        b64(&claims(json!({"role": "auditor"}))),
        parts[2]
    ));
    // HS256 with the public key as the secret.
    let public = SigningKey::from_pkcs8_pem(&pem)
        .unwrap()
        .verifying_key()
        .to_public_key_pem(Default::default())
        .unwrap();
    forged.push(
        jsonwebtoken::encode(
            &Header::new(Algorithm::HS256),
            &claims(json!({})),
            &EncodingKey::from_secret(public.as_bytes()),
        )
        .unwrap(),
    );
    for token in forged {
        assert_problem(app.get_as("/api/v1/me", &token).await, 401).await;
    }
}

async fn a_refresh_retry_within_grace_gets_the_same_successor(db: Db) {
    let app = TestApp::spawn(&db).await;
    app.add_user("anna", Role::OutreachWorker, Some(Unit::Ungdomsjouren));
    let tokens = app.login("anna").await;
    let first: Value = refresh(&app, &tokens.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    // The answer was lost in a tunnel; the phone sends the old token again.
    let retry = refresh(&app, &tokens.refresh_token).await;
    assert_eq!(retry.status(), 200);
    let retry: Value = retry.json().await.unwrap();
    assert_eq!(retry["refresh_token"], first["refresh_token"]);
    assert_eq!(
        app.get_as("/api/v1/me", retry["access_token"].as_str().unwrap())
            .await
            .status(),
        200
    );
    // The successor still works: the session was not harmed.
    let next = refresh(&app, first["refresh_token"].as_str().unwrap()).await;
    assert_eq!(next.status(), 200);
}

async fn reusing_a_rotated_refresh_token_revokes_the_session(db: Db) {
    let app = TestApp::spawn(&db).await;
    app.add_user("anna", Role::OutreachWorker, Some(Unit::Mika));
    let tokens = app.login("anna").await;
    let first: Value = refresh(&app, &tokens.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    let second: Value = refresh(&app, first["refresh_token"].as_str().unwrap())
        .await
        .json()
        .await
        .unwrap();
    let access = second["access_token"].as_str().unwrap();
    assert_eq!(app.get_as("/api/v1/me", access).await.status(), 200);

    // The first token again, after its successor was used: a thief or a replay.
    assert_problem(refresh(&app, &tokens.refresh_token).await, 401).await;
    assert_problem(app.get_as("/api/v1/me", access).await, 401).await;
    assert_problem(
        refresh(&app, second["refresh_token"].as_str().unwrap()).await,
        401,
    )
    .await;
    // An unknown token touches nothing and is simply refused.
    assert_problem(refresh(&app, "not-a-token").await, 401).await;
}

async fn revoking_a_session_or_disabling_a_user_stops_access_at_once(db: Db) {
    let app = TestApp::spawn(&db).await;
    let worker_id = app.add_user("worker", Role::OutreachWorker, Some(Unit::Mika));
    app.add_user("admin", Role::Admin, None);
    let admin = app.login("admin").await;
    let phone = app.login("worker").await;
    let tablet = app.login("worker").await;

    // An admin revokes the lost phone.
    let listed: Value = app
        .get_as(
            &format!("/api/v1/admin/sessions?user_id={worker_id}"),
            &admin.access_token,
        )
        .await
        .json()
        .await
        .unwrap();
    assert_eq!(listed.as_array().unwrap().len(), 2);
    let revoke = app
        .client
        .delete(app.url(&format!("/api/v1/admin/sessions/{}", phone.session_id)))
        .bearer_auth(&admin.access_token)
        .send()
        .await
        .unwrap();
    assert_eq!(revoke.status(), 204);
    assert_problem(app.get_as("/api/v1/me", &phone.access_token).await, 401).await;
    assert_problem(refresh(&app, &phone.refresh_token).await, 401).await;
    assert_eq!(
        app.get_as("/api/v1/me", &tablet.access_token)
            .await
            .status(),
        200
    );

    // A worker can end their own session, not anyone else's.
    let other = app
        .client
        .delete(app.url(&format!("/api/v1/me/sessions/{}", admin.session_id)))
        .bearer_auth(&tablet.access_token)
        .send()
        .await
        .unwrap();
    assert_problem(other, 404).await;
    assert_eq!(
        app.get_as("/api/v1/me", &admin.access_token).await.status(),
        200
    );

    // Disabling the account refuses its tokens from the next request on.
    let disable = app
        .client
        .patch(app.url(&format!("/api/v1/admin/users/{worker_id}")))
        .bearer_auth(&admin.access_token)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(disable.status(), 200);
    assert_problem(app.get_as("/api/v1/me", &tablet.access_token).await, 401).await;
    assert_problem(app.login_response("worker", PASSWORD).await, 401).await;
}

/// A session not used (refreshed) for longer than `FALTLOGG_SESSION_IDLE_TIMEOUT` is over:
/// its tokens are refused on every way in (a read, an encounter written in a group, a
/// refresh); a session of the same user used within the timeout goes on.
async fn a_session_unused_longer_than_the_idle_timeout_is_refused(db: Db) {
    use faltlogg_persistence::accounts::touch_session;

    let app = TestApp::spawn_with(&db, &[("FALTLOGG_SESSION_IDLE_TIMEOUT", "3600")]).await;
    app.add_user("worker", Role::OutreachWorker, Some(Unit::Mika));
    let phone = app.login("worker").await;
    let tablet = app.login("worker").await;
    let shift = open_shift(&app, &tablet.access_token, &shift_body("raid", &["mika"])).await;
    let database = app.db.connect();
    let last_used = |minutes_ago: i64, session: &str| {
        let at = chrono::Utc::now() - chrono::Duration::minutes(minutes_ago);
        touch_session(&mut database.get().unwrap(), session.parse().unwrap(), at).unwrap();
    };
    last_used(61, &phone.session_id);
    last_used(59, &tablet.session_id);

    assert_problem(app.get_as("/api/v1/me", &phone.access_token).await, 401).await;
    let path = format!("/api/v1/encounters/{}", uuid::Uuid::new_v4());
    let body = adult(&shift, "selling");
    assert_problem(
        app.put_json(&path, &phone.access_token, &body, None).await,
        401,
    )
    .await;
    assert_problem(refresh(&app, &phone.refresh_token).await, 401).await;

    assert_eq!(
        app.get_as("/api/v1/me", &tablet.access_token)
            .await
            .status(),
        200
    );
    let written = app.put_json(&path, &tablet.access_token, &body, None).await;
    assert_eq!(
        written.status(),
        201,
        "the refused write left nothing behind"
    );
    assert_eq!(refresh(&app, &tablet.refresh_token).await.status(), 200);
}

async fn unknown_user_and_wrong_password_answer_alike(db: Db) {
    let app = TestApp::spawn(&db).await;
    app.add_user("anna", Role::Coordinator, None);
    let wrong = assert_problem(app.login_response("anna", "fel lösenord!").await, 401).await;
    let unknown = assert_problem(app.login_response("nobody", "fel lösenord!").await, 401).await;
    assert_eq!(wrong, unknown);
    assert_eq!(wrong["detail"], "Invalid username or password.");
}

async fn failed_logins_are_throttled_per_address_and_per_account(db: Db) {
    let app = TestApp::spawn_with(&db, &[("FALTLOGG_TRUSTED_PROXIES", "127.0.0.1")]).await;
    app.add_user("anna", Role::OutreachWorker, Some(Unit::Mika));
    app.add_user("bo", Role::OutreachWorker, Some(Unit::Kast));
    let login_from = |address: &'static str, user: &'static str, password: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("X-Forwarded-For", address)
            .json(&json!({"username": user, "password": password, "device_name": "t"}))
            .send()
    };

    // Ten failures from one address: the eleventh attempt is refused, right password or not.
    for _ in 0..10 {
        assert_eq!(
            login_from("198.51.100.1", "bo", "wrong password")
                .await
                .unwrap()
                .status(),
            401
        );
    }
    let refused = login_from("198.51.100.1", "anna", PASSWORD).await.unwrap();
    let retry_after: u64 = refused.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(retry_after > 0 && retry_after <= 900, "{retry_after}");
    assert_problem(refused, 429).await;
    // Another address is not affected, nor is the account (ten is under twenty).
    assert_eq!(
        login_from("198.51.100.2", "bo", PASSWORD)
            .await
            .unwrap()
            .status(),
        200
    );

    // Twenty failures on one account from many addresses lock it for everyone…
    const ADDRESSES: [&str; 4] = ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4"];
    for i in 0..20 {
        let status = login_from(ADDRESSES[i % 4], "anna", "wrong password")
            .await
            .unwrap()
            .status();
        assert_eq!(status, 401);
    }
    let locked = login_from("192.0.2.50", "anna", PASSWORD).await.unwrap();
    assert!(locked.headers().contains_key("retry-after"));
    assert_problem(locked, 429).await;
    // …until an admin unlocks it.
    let output = crate::cli::faltlogg()
        .args(["user", "unlock", "ANNA"])
        .env("FALTLOGG_DATABASE_URL", app.db.url())
        .env("FALTLOGG_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        login_from("192.0.2.50", "anna", PASSWORD)
            .await
            .unwrap()
            .status(),
        200
    );
}

async fn old_failures_leave_the_window(db: Db) {
    let app = TestApp::spawn(&db).await;
    app.add_user("anna", Role::Auditor, None);
    let database = app.db.connect();
    let mut conn = database.get().unwrap();
    let long_ago = chrono::Utc::now() - chrono::Duration::minutes(16);
    for _ in 0..10 {
        faltlogg_persistence::accounts::record_failure(
            &mut conn,
            "127.0.0.1",
            "someone",
            long_ago,
            long_ago - chrono::Duration::hours(1),
        )
        .unwrap();
    }
    assert_eq!(app.login_response("anna", PASSWORD).await.status(), 200);
    let recent = chrono::Utc::now() - chrono::Duration::minutes(1);
    for _ in 0..10 {
        faltlogg_persistence::accounts::record_failure(
            &mut conn,
            "127.0.0.1",
            "someone",
            recent,
            recent - chrono::Duration::hours(1),
        )
        .unwrap();
    }
    assert_problem(app.login_response("anna", PASSWORD).await, 429).await;
}

async fn login_body_is_validated_before_anything_else(db: Db) {
    let app = TestApp::spawn(&db).await;
    let post = |body: reqwest::Body, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/auth/login"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    let malformed = assert_problem(
        post("{\"username\": 1}".into(), "application/json")
            .await
            .unwrap(),
        400,
    )
    .await;
    assert_eq!(malformed["errors"][0]["field"], "username");
    let unknown = assert_problem(
        post(
            json!({"username": "a", "password": "b", "device_name": "c", "extra": 1})
                .to_string()
                .into(),
            "application/json",
        )
        .await
        .unwrap(),
        400,
    )
    .await;
    assert!(
        unknown["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("extra")
    );
    assert_problem(post("username=a".into(), "text/plain").await.unwrap(), 415).await;
    let huge = vec![b' '; 2 * 1024 * 1024 + 1];
    assert_problem(post(huge.into(), "application/json").await.unwrap(), 413).await;
    let invalid = assert_problem(
        post(
            json!({"username": "a", "password": "b", "device_name": " "})
                .to_string()
                .into(),
            "application/json",
        )
        .await
        .unwrap(),
        422,
    )
    .await;
    assert_eq!(invalid["errors"][0]["field"], "device_name");
    // The server keeps serving.
    assert_eq!(app.get("/healthz").await.status(), 200);
    // None of these counted as a failed login.
    for _ in 0..12 {
        assert_problem(post("{".into(), "application/json").await.unwrap(), 400).await;
    }
    app.add_user("anna", Role::Coordinator, None);
    assert_eq!(app.login_response("anna", PASSWORD).await.status(), 200);
}

async fn admins_create_and_change_users_by_the_rules(db: Db) {
    let app = TestApp::spawn(&db).await;
    app.add_user("admin", Role::Admin, None);
    let admin = app.login("admin").await;
    let create = |body: Value| {
        app.client
            .post(app.url("/api/v1/admin/users"))
            .bearer_auth(&admin.access_token)
            .json(&body)
            .send()
    };
    let created = create(json!({"username": "Lisa", "role": "outreach_worker", "unit": "kast", "password": PASSWORD}))
        .await
        .unwrap();
    assert_eq!(created.status(), 201);
    let lisa: Value = created.json().await.unwrap();
    assert_eq!(lisa["unit"], "kast");
    assert!(lisa.get("password").is_none() && lisa.get("password_hash").is_none());
    assert_eq!(app.login_response("lisa", PASSWORD).await.status(), 200);

    let taken = create(json!({"username": "LISA", "role": "auditor", "password": PASSWORD}))
        .await
        .unwrap();
    assert_problem(taken, 409).await;
    let bad = assert_problem(
        create(json!({"username": "bad name", "role": "outreach_worker", "password": "short"}))
            .await
            .unwrap(),
        422,
    )
    .await;
    let fields: Vec<&str> = bad["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["username", "unit", "password"]);
    let liaison_with_unit = create(
        json!({"username": "p", "role": "police_liaison", "unit": "mika", "password": PASSWORD}),
    );
    assert_problem(liaison_with_unit.await.unwrap(), 422).await;

    // A new password takes effect; the old one stops working, and so does every session
    // signed in with it.
    let id = lisa["id"].as_str().unwrap();
    let signed_in = app.login("lisa").await;
    assert_eq!(
        app.get_as("/api/v1/me", &signed_in.access_token)
            .await
            .status(),
        200
    );
    let patch = |body: Value| {
        app.client
            .patch(app.url(&format!("/api/v1/admin/users/{id}")))
            .bearer_auth(&admin.access_token)
            .json(&body)
            .send()
    };
    assert_eq!(
        patch(json!({"password": "ett helt nytt lösenord"}))
            .await
            .unwrap()
            .status(),
        200
    );
    assert_problem(app.login_response("lisa", PASSWORD).await, 401).await;
    assert_problem(app.get_as("/api/v1/me", &signed_in.access_token).await, 401).await;
    assert_problem(refresh(&app, &signed_in.refresh_token).await, 401).await;
    assert_eq!(
        app.login_response("lisa", "ett helt nytt lösenord")
            .await
            .status(),
        200
    );
    assert_problem(patch(json!({"password": "kort"})).await.unwrap(), 422).await;
    let moved: Value = patch(json!({"role": "coordinator"}))
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(moved["role"], "coordinator");
    assert_eq!(moved["unit"], Value::Null);
    let missing = app
        .client
        .patch(app.url(&format!("/api/v1/admin/users/{}", uuid::Uuid::new_v4())))
        .bearer_auth(&admin.access_token)
        .json(&json!({"disabled": true}))
        .send()
        .await
        .unwrap();
    assert_problem(missing, 404).await;

    // Who created and changed the account is in the audit log.
    app.add_user("granskare", Role::Auditor, None);
    let auditor = app.login("granskare").await;
    let log = app
        .get_ok(&format!("/api/v1/audit?record={id}"), &auditor.access_token)
        .await;
    let found: Vec<(&str, &str, &str)> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "create" || e["action"] == "update")
        .map(|e| {
            (
                e["action"].as_str().unwrap(),
                e["username"].as_str().unwrap(),
                e["outcome"].as_str().unwrap(),
            )
        })
        .collect();
    // Newest first: the role, the new password, the account.
    assert_eq!(
        found,
        [
            ("update", "admin", "ok"),
            ("update", "admin", "ok"),
            ("create", "admin", "ok"),
        ]
    );
}

async fn nothing_secret_reaches_the_log(db: Db) {
    let app = TestApp::spawn(&db).await;
    app.add_user("anna", Role::OutreachWorker, Some(Unit::Mika));
    let tokens = app.login("anna").await;
    let refreshed: Value = refresh(&app, &tokens.refresh_token)
        .await
        .json()
        .await
        .unwrap();
    app.get_as("/api/v1/me", &tokens.access_token).await;
    app.get_as("/api/v1/nope", &tokens.access_token).await;
    app.login_response("anna", "ett felaktigt lösenord").await;
    refresh(&app, &tokens.refresh_token).await;
    refresh(&app, &tokens.refresh_token).await;
    tokio::time::sleep(Duration::from_millis(200)).await;

    let logs = captured_logs();
    assert!(logs.contains("signed in"), "the log is captured");
    for secret in [
        PASSWORD,
        "ett felaktigt lösenord",
        tokens.access_token.as_str(),
        tokens.refresh_token.as_str(),
        refreshed["refresh_token"].as_str().unwrap(),
        refreshed["access_token"].as_str().unwrap(),
        "$argon2id$",
        "Bearer ",
        "authorization",
    ] {
        assert!(!logs.contains(secret), "the log contains {secret:.12}…");
    }
}

on_both_backends!(a_key_change_keeps_tokens_of_the_previous_key_valid);

/// Instances share one key file; after a key change the previous key still verifies.
async fn a_key_change_keeps_tokens_of_the_previous_key_valid(db: Db) {
    use ed25519_dalek::pkcs8::EncodePrivateKey;
    let dir = std::env::temp_dir().join(format!("faltlogg_keys_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let write_key = |name: &str, seed: u8| {
        let pem = SigningKey::from_bytes(&[seed; 32])
            .to_pkcs8_pem(Default::default())
            .unwrap();
        let path = dir.join(name);
        std::fs::write(&path, pem.as_bytes()).unwrap();
        (path.display().to_string(), pem.to_string())
    };
    let (old_path, old_pem) = write_key("old.pem", 7);
    let (new_path, _) = write_key("new.pem", 9);
    let (bad_path, _) = {
        let path = dir.join("bad.pem");
        std::fs::write(
            &path,
            "-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----\n",
        )
        .unwrap();
        (path.display().to_string(), ())
    };

    let app = TestApp::spawn_with(
        &db,
        &[
            ("FALTLOGG_JWT_KEY_FILE", &new_path),
            ("FALTLOGG_JWT_PREVIOUS_KEY_FILE", &old_path),
        ],
    )
    .await;
    let user_id = app.add_user("anna", Role::Coordinator, None);
    let tokens = app.login("anna").await;
    assert_eq!(
        app.get_as("/api/v1/me", &tokens.access_token)
            .await
            .status(),
        200
    );
    assert!(
        !app.db.data_dir.join("jwt-ed25519.pem").exists(),
        "no key generated when one is given"
    );

    // A token the old key signed before the change.
    let now = chrono::Utc::now().timestamp();
    let claims = json!({
        "iss": "faltlogg", "aud": "faltlogg-api", "sub": user_id.to_string(), "iat": now,
        "exp": now + 600, "jti": "k", "role": "coordinator", "unit": null, "sid": tokens.session_id,
    });
    let old_key = EncodingKey::from_ed_pem(old_pem.as_bytes()).unwrap();
    let old_token =
        jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &old_key).unwrap();
    assert_eq!(app.get_as("/api/v1/me", &old_token).await.status(), 200);
    // A key that is neither is refused.
    let stranger = SigningKey::from_bytes(&[3; 32])
        .to_pkcs8_pem(Default::default())
        .unwrap();
    let stranger = EncodingKey::from_ed_pem(stranger.as_bytes()).unwrap();
    let forged = jsonwebtoken::encode(&Header::new(Algorithm::EdDSA), &claims, &stranger).unwrap();
    assert_problem(app.get_as("/api/v1/me", &forged).await, 401).await;

    // A key file that is not an Ed25519 key stops start-up, naming the variable.
    let output = crate::cli::faltlogg()
        .env("FALTLOGG_DATABASE_URL", app.db.url())
        .env("FALTLOGG_LISTEN", "127.0.0.1:0")
        .env("FALTLOGG_JWT_KEY_FILE", &bad_path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    assert!(String::from_utf8_lossy(&output.stderr).contains("FALTLOGG_JWT_KEY_FILE"));
    std::fs::remove_dir_all(dir).unwrap();
}
