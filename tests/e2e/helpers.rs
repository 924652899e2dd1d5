//! The test harness: a fresh database per test on either backend, and the real server
//! on port 0 in front of it.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use faltlogg_api::config::{Config, LogFormat};
use faltlogg_api::startup::Application;
use faltlogg_persistence::{Backend, Database};

/// Runs each named test (an `async fn(Db)`) once on SQLite and once on PostgreSQL.
/// Without `FALTLOGG_TEST_POSTGRES_URL` the PostgreSQL case says it was skipped.
#[macro_export]
macro_rules! on_both_backends {
    ($($name:ident),* $(,)?) => {$(
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                super::$name($crate::helpers::Db::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                if let Some(db) = $crate::helpers::Db::postgres() {
                    super::$name(db).await
                }
            }
        }
    )*};
}

#[derive(Debug, Clone)]
pub enum Db {
    Sqlite,
    /// The URL of a PostgreSQL database that a test may create databases from.
    Postgres(String),
}

impl Db {
    pub fn postgres() -> Option<Db> {
        match std::env::var("FALTLOGG_TEST_POSTGRES_URL") {
            Ok(url) if !url.is_empty() => Some(Db::Postgres(url)),
            _ => {
                eprintln!(
                    "skipped: FALTLOGG_TEST_POSTGRES_URL is not set, so this test did not run on PostgreSQL"
                );
                None
            }
        }
    }
}

/// A database that exists for one test and is removed after it.
pub struct TestDb {
    pub backend: Backend,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    pub fn create(db: &Db) -> TestDb {
        let name = format!("faltlogg_test_{}", uuid::Uuid::new_v4().simple());
        match db {
            Db::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                let path = dir.join("faltlogg.db");
                TestDb {
                    backend: Backend::Sqlite(path),
                    cleanup: Cleanup::File(dir),
                }
            }
            Db::Postgres(admin_url) => {
                let mut admin = PgConnection::establish(admin_url).unwrap_or_else(|e| {
                    panic!("PostgreSQL at FALTLOGG_TEST_POSTGRES_URL does not answer: {e}")
                });
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .unwrap();
                TestDb {
                    backend: Backend::from_url(&with_database(admin_url, &name)).unwrap(),
                    cleanup: Cleanup::Database {
                        admin_url: admin_url.clone(),
                        name,
                    },
                }
            }
        }
    }

    pub fn connect(&self) -> Database {
        Database::connect(self.backend.clone(), 4).unwrap()
    }

    /// Makes the database unusable under a running server.
    pub fn destroy(&self) {
        match &self.cleanup {
            // Open SQLite connections keep reading a removed or overwritten file through
            // their own handles, so the schema is taken away instead.
            Cleanup::File(_) => {
                let database = self.connect();
                let mut conn = database.get().unwrap();
                conn.batch_execute(
                    "PRAGMA foreign_keys = OFF; DROP TABLE referral_targets; DROP TABLE units;",
                )
                .unwrap();
            }
            Cleanup::Database { admin_url, name } => drop_database(admin_url, name),
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        match &self.cleanup {
            Cleanup::File(dir) => {
                let _ = std::fs::remove_dir_all(dir);
            }
            Cleanup::Database { admin_url, name } => drop_database(admin_url, name),
        }
    }
}

fn drop_database(admin_url: &str, name: &str) {
    if let Ok(mut admin) = PgConnection::establish(admin_url) {
        let _ = admin.batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"));
    }
}

/// The admin URL with its database name replaced.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base[start..].find('/').map(|i| start + i))
        .unwrap_or(base.len());
    format!("{}/{name}{query}", &base[..authority_end])
}

/// The server, running on port 0 over its own fresh database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
}

impl TestApp {
    pub async fn spawn(db: &Db) -> TestApp {
        let test_db = TestDb::create(db);
        let config = Config {
            database: test_db.backend.clone(),
            database_pool_size: 4,
            listen: "127.0.0.1:0".parse().unwrap(),
            log_format: LogFormat::Json,
        };
        let app = Application::build(config).await.unwrap();
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        TestApp {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            db: test_db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.url(path)).send().await.unwrap()
    }
}

/// Asserts that a response is an RFC 9457 problem with this status, and returns it.
pub async fn assert_problem(response: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(response.status().as_u16(), status);
    assert_eq!(
        response.headers()["content-type"],
        "application/problem+json",
        "an error must be a problem"
    );
    let body: serde_json::Value = response.json().await.unwrap();
    assert_eq!(body["status"], status);
    assert!(body["type"].is_string() && body["title"].is_string() && body["detail"].is_string());
    body
}

#[test]
fn admin_url_gets_the_test_database() {
    assert_eq!(
        with_database("postgres://postgres@127.0.0.1:5432/postgres", "t1"),
        "postgres://postgres@127.0.0.1:5432/t1"
    );
    assert_eq!(
        with_database("postgresql://u:p@h/db?sslmode=disable", "t1"),
        "postgresql://u:p@h/t1?sslmode=disable"
    );
    assert_eq!(with_database("postgres://h", "t1"), "postgres://h/t1");
}
