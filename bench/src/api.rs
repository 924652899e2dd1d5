//! Talking to the server as a phone does: signing in, opening a shift, and the bodies the
//! end-to-end tests use (tests/e2e/fieldlog.rs `shift_body` and `adult`), dated now.

use std::time::Duration;

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::Result;
use crate::server::PASSWORD;

#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    pub base_url: String,
}

impl Api {
    pub fn new(base_url: &str) -> Result<Self> {
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(120))
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            client,
            base_url: base_url.to_owned(),
        })
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub fn login_request(&self, username: &str, device_name: &str) -> reqwest::RequestBuilder {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&json!({
                "username": username,
                "password": PASSWORD,
                "device_name": device_name,
            }))
    }

    /// A new session's access token.
    pub async fn login(&self, username: &str, device_name: &str) -> Result<String> {
        let response = self.login_request(username, device_name).send().await?;
        let status = response.status();
        let body: Value = response.json().await?;
        match body["access_token"].as_str() {
            Some(token) if status.is_success() => Ok(token.to_owned()),
            _ => Err(format!("login of {username}: {status} {body}").into()),
        }
    }

    /// Creates an open shift started an hour ago; its id.
    pub async fn open_shift(&self, token: &str, kind: &str, units: &[&str]) -> Result<String> {
        let id = uuid::Uuid::new_v4().to_string();
        let started = Utc::now() - chrono::Duration::hours(1);
        let response = self
            .client
            .put(self.url(&format!("/api/v1/shifts/{id}")))
            .bearer_auth(token)
            .json(&shift_body(kind, units, started))
            .send()
            .await?;
        if response.status() != 201 {
            let status = response.status();
            return Err(format!("opening a shift: {status} {}", response.text().await?).into());
        }
        Ok(id)
    }
}

pub fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::Secs, false)
}

pub fn shift_body(kind: &str, units: &[&str], started_at: DateTime<Utc>) -> Value {
    json!({
        "kind": kind,
        "with_police": matches!(kind, "raid" | "surveillance"),
        "police_operation": "Insats torsk",
        "area": "Norrmalm",
        "started_at": rfc3339(started_at),
        "units": units,
    })
}

/// One adult encounter, met a minute ago: after any shift opened by [`Api::open_shift`],
/// never in the future.
pub fn adult(shift_id: &str, role: &str) -> Value {
    json!({
        "shift_id": shift_id,
        "occurred_at": rfc3339(Utc::now() - chrono::Duration::minutes(1)),
        "role": role,
        "age_group": "adult",
        "gender": "female",
        "home_municipality": "0180",
        "support_offered": true,
        "referrals": [],
    })
}
