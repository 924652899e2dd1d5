//! The test harness: a fresh database per test on either backend, and the real server
//! on port 0 in front of it.

use std::path::PathBuf;

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use faltlogg_api::auth::password;
use faltlogg_api::config::Config;
use faltlogg_api::startup::Application;
use faltlogg_domain::account::{Assignment, NewPassword, Role, Username};
use faltlogg_domain::ids::UserId;
use faltlogg_domain::unit::Unit;
use faltlogg_persistence::{Backend, Database, accounts};

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
    /// A folder of this test's own (the generated signing key goes here).
    pub data_dir: PathBuf,
    cleanup: Cleanup,
}

enum Cleanup {
    File(PathBuf),
    Database { admin_url: String, name: String },
}

impl TestDb {
    pub fn create(db: &Db) -> TestDb {
        let name = format!("faltlogg_test_{}", uuid::Uuid::new_v4().simple());
        let data_dir = std::env::temp_dir().join(format!("{name}_data"));
        match db {
            Db::Sqlite => {
                let dir = std::env::temp_dir().join(&name);
                let path = dir.join("faltlogg.db");
                TestDb {
                    backend: Backend::Sqlite(path),
                    data_dir,
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
                    data_dir,
                    cleanup: Cleanup::Database {
                        admin_url: admin_url.clone(),
                        name,
                    },
                }
            }
        }
    }

    /// The value `FALTLOGG_DATABASE_URL` takes for this database.
    pub fn url(&self) -> String {
        match &self.backend {
            Backend::Sqlite(path) => path.display().to_string(),
            Backend::Postgres(url) => url.clone(),
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

/// The database out of reach while it lasts: on SQLite another connection holds the
/// file's write lock (SQLite's locks behave between connections of one process as
/// between processes); on PostgreSQL the database refuses connections and every
/// connection to it is terminated, as when its server goes away.
pub struct Outage {
    hold: Option<OutageHold>,
}

enum OutageHold {
    Lock(diesel::SqliteConnection),
    Refusal { admin: PgConnection, name: String },
}

impl TestDb {
    pub fn take_away(&self) -> Outage {
        let hold = match (&self.backend, &self.cleanup) {
            (Backend::Sqlite(path), _) => {
                let mut conn =
                    diesel::SqliteConnection::establish(&path.to_string_lossy()).unwrap();
                conn.batch_execute("PRAGMA busy_timeout = 10000; BEGIN EXCLUSIVE;")
                    .unwrap();
                OutageHold::Lock(conn)
            }
            (_, Cleanup::Database { admin_url, name }) => {
                let mut admin = PgConnection::establish(admin_url).unwrap();
                admin
                    .batch_execute(&format!(
                        "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS false"
                    ))
                    .unwrap();
                terminate_connections(&mut admin, name);
                OutageHold::Refusal {
                    admin,
                    name: name.clone(),
                }
            }
            (Backend::Postgres(_), Cleanup::File(_)) => unreachable!("a PostgreSQL file"),
        };
        Outage { hold: Some(hold) }
    }

    /// Ends every connection to a PostgreSQL test database, as an administrator or a
    /// restart of the server would; the database itself stays.
    pub fn terminate_connections(&self) {
        if let Cleanup::Database { admin_url, name } = &self.cleanup {
            terminate_connections(&mut PgConnection::establish(admin_url).unwrap(), name);
        }
    }
}

/// Ends the database's connections and waits until they have ended (up to 5 s each): a
/// backend told to end sends its goodbye a moment later, and a request in that moment
/// still finds its connection open.
fn terminate_connections(admin: &mut PgConnection, name: &str) {
    admin
        .batch_execute(&format!(
            "SELECT pg_terminate_backend(pid, 5000) FROM pg_stat_activity \
             WHERE datname = '{name}' AND pid <> pg_backend_pid()"
        ))
        .unwrap();
}

impl Outage {
    pub fn end(mut self) {
        self.restore();
    }

    fn restore(&mut self) {
        match self.hold.take() {
            Some(OutageHold::Lock(mut conn)) => {
                let _ = conn.batch_execute("ROLLBACK");
            }
            Some(OutageHold::Refusal { mut admin, name }) => {
                let _ = admin.batch_execute(&format!(
                    "ALTER DATABASE {name} WITH ALLOW_CONNECTIONS true"
                ));
            }
            None => {}
        }
    }
}

impl Drop for Outage {
    fn drop(&mut self) {
        self.restore();
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.data_dir);
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

/// Starts a server on port 0 over a test database; its address. Several may share one.
pub async fn serve(test_db: &TestDb, settings: &[(&str, &str)]) -> String {
    capture_logs();
    let mut vars = vec![
        ("FALTLOGG_DATABASE_URL".to_owned(), test_db.url()),
        ("FALTLOGG_DATABASE_POOL_SIZE".to_owned(), "4".to_owned()),
        ("FALTLOGG_LISTEN".to_owned(), "127.0.0.1:0".to_owned()),
        ("FALTLOGG_LOG_FORMAT".to_owned(), "json".to_owned()),
        (
            "FALTLOGG_DATA_DIR".to_owned(),
            test_db.data_dir.display().to_string(),
        ),
    ];
    vars.extend(
        settings
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
    );
    let config = Config::from_vars(vars).unwrap();
    let app = Application::build(config).await.unwrap();
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    address
}

/// Adds an account straight to a test database, as `faltlogg user add` does.
pub fn add_user_to(test_db: &TestDb, username: &str, role: Role, unit: Option<Unit>) -> UserId {
    let database = test_db.connect();
    let hash = password::hash(&NewPassword::parse(PASSWORD.into()).unwrap()).unwrap();
    accounts::insert_user(
        &mut database.get().unwrap(),
        &Username::parse(username).unwrap(),
        Assignment::new(role, unit).unwrap(),
        &hash,
        chrono::Utc::now(),
    )
    .unwrap()
    .id
}

/// The server, running on port 0 over its own fresh database.
pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    pub db: TestDb,
}

pub const PASSWORD: &str = "långt och hemligt lösen";

impl TestApp {
    pub async fn spawn(db: &Db) -> TestApp {
        Self::spawn_with(db, &[]).await
    }

    /// Starts the server with extra `FALTLOGG_*` settings.
    pub async fn spawn_with(db: &Db, settings: &[(&str, &str)]) -> TestApp {
        let test_db = TestDb::create(db);
        let address = serve(&test_db, settings).await;
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

    pub async fn get_as(&self, path: &str, token: &str) -> reqwest::Response {
        self.client
            .get(self.url(path))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// Adds an account straight to the database, as `faltlogg user add` does.
    pub fn add_user(&self, username: &str, role: Role, unit: Option<Unit>) -> UserId {
        add_user_to(&self.db, username, role, unit)
    }

    /// Adds an account and signs it in: its access token.
    pub async fn token_for(&self, username: &str, role: Role, unit: Option<Unit>) -> String {
        self.add_user(username, role, unit);
        self.login(username).await.access_token
    }

    /// Sends JSON with a token and, when given, `If-Match: "<version>"`.
    pub async fn send_json(
        &self,
        method: reqwest::Method,
        path: &str,
        token: &str,
        body: &serde_json::Value,
        if_match: Option<i64>,
    ) -> reqwest::Response {
        let mut request = self
            .client
            .request(method, self.url(path))
            .bearer_auth(token)
            .json(body);
        if let Some(version) = if_match {
            request = request.header("If-Match", format!("\"{version}\""));
        }
        request.send().await.unwrap()
    }

    pub async fn put_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
        if_match: Option<i64>,
    ) -> reqwest::Response {
        self.send_json(reqwest::Method::PUT, path, token, body, if_match)
            .await
    }

    pub async fn post_json(
        &self,
        path: &str,
        token: &str,
        body: &serde_json::Value,
    ) -> reqwest::Response {
        self.send_json(reqwest::Method::POST, path, token, body, None)
            .await
    }

    /// GETs JSON that must be there (200).
    pub async fn get_ok(&self, path: &str, token: &str) -> serde_json::Value {
        let response = self.get_as(path, token).await;
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    /// Follows a list's cursors from `path` (which names its `limit`) to the last page:
    /// every item, in order. Each page holds at most `limit` items.
    pub async fn all_pages(&self, path: &str, token: &str, limit: usize) -> Vec<serde_json::Value> {
        let mut items = Vec::new();
        let mut next = path.to_owned();
        loop {
            let page = self.get_ok(&next, token).await;
            let on_page = page["items"].as_array().unwrap();
            assert!(on_page.len() <= limit, "{path}: {} items", on_page.len());
            items.extend(on_page.iter().cloned());
            match page["next_cursor"].as_str() {
                Some(cursor) => next = format!("{path}&cursor={cursor}"),
                None => return items,
            }
        }
    }

    pub async fn login_response(&self, username: &str, password: &str) -> reqwest::Response {
        self.client
            .post(self.url("/api/v1/auth/login"))
            .json(&serde_json::json!({"username": username, "password": password, "device_name": "Telefon 1"}))
            .send()
            .await
            .unwrap()
    }

    /// Signs in and returns the token answer.
    pub async fn login(&self, username: &str) -> Tokens {
        let response = self.login_response(username, PASSWORD).await;
        assert_eq!(response.status(), 200);
        response.json().await.unwrap()
    }
}

#[derive(Debug, serde::Deserialize)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub session_id: String,
    pub token_type: String,
    pub expires_in: u64,
}

/// Every line the servers of this test process log, for tests that check what is never
/// logged.
pub fn captured_logs() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

static LOG: std::sync::Mutex<Vec<u8>> = std::sync::Mutex::new(Vec::new());

struct LogSink;

impl std::io::Write for LogSink {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() {
    static INIT: std::sync::Once = std::sync::Once::new();
    INIT.call_once(|| {
        // Everything, at every level, as the binary writes it.
        let _ = tracing_subscriber::fmt()
            .json()
            .with_current_span(true)
            .with_span_list(true)
            .with_max_level(tracing::Level::TRACE)
            .with_writer(|| LogSink)
            .try_init();
    });
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
