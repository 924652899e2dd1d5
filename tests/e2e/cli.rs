//! The `faltlogg` binary as an operator uses it.

use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::helpers::{Db, TestDb};
use crate::on_both_backends;

/// The `faltlogg` command line, with an empty environment.
pub fn faltlogg() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_faltlogg-under-test"));
    command
        .env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default());
    command
}

pub fn scratch_dir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("faltlogg_cli_{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

#[test]
fn help_lists_the_subcommands_and_the_configuration() {
    let top = faltlogg().arg("--help").output().unwrap();
    assert!(top.status.success());
    let text = String::from_utf8(top.stdout).unwrap();
    for word in [
        "serve",
        "migrate",
        "FALTLOGG_DATABASE_URL",
        "FALTLOGG_LISTEN",
        "FALTLOGG_LOG_FORMAT",
    ] {
        assert!(text.contains(word), "--help lacks {word}:\n{text}");
    }
    for sub in ["serve", "migrate"] {
        let help = faltlogg().args([sub, "--help"]).output().unwrap();
        assert!(help.status.success());
        assert!(
            String::from_utf8(help.stdout)
                .unwrap()
                .contains("FALTLOGG_DATABASE_URL")
        );
    }
}

#[test]
fn a_malformed_setting_stops_start_up_naming_the_variable() {
    let dir = scratch_dir();
    for (name, value) in [
        ("FALTLOGG_LISTEN", "everywhere"),
        ("FALTLOGG_DATABASE_URL", "mysql://db/faltlogg"),
        ("FALTLOGG_LOG_FORMAT", "xml"),
        ("FALTLOGG_LISTN", "127.0.0.1:1"),
    ] {
        let output = faltlogg()
            .current_dir(&dir)
            .env(name, value)
            .output()
            .unwrap();
        assert_eq!(output.status.code(), Some(2), "{name}={value}");
        let stderr = String::from_utf8(output.stderr).unwrap();
        assert!(stderr.contains(name), "{stderr}");
    }
    assert!(!dir.join("data").exists(), "nothing was created");
    std::fs::remove_dir_all(dir).unwrap();
}

/// `faltlogg` with no environment at all: SQLite under `data/`, answering its probes,
/// and a clean stop on SIGTERM.
#[test]
fn serve_with_no_environment_creates_the_sqlite_file_and_stops_on_sigterm() {
    let dir = scratch_dir();
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    // The default port may be taken on a shared machine; everything else is default.
    let mut child = faltlogg()
        .current_dir(&dir)
        .env("FALTLOGG_LISTEN", format!("127.0.0.1:{port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let ready = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(100));
        http_get(port, "/readyz").is_some_and(|r| r.starts_with("HTTP/1.1 200"))
    });
    assert!(ready, "the server did not become ready");
    assert!(
        http_get(port, "/healthz")
            .unwrap()
            .starts_with("HTTP/1.1 200")
    );
    assert!(dir.join("data/faltlogg.db").is_file());

    let kill = Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let status = (0..100)
        .find_map(|_| {
            std::thread::sleep(Duration::from_millis(100));
            child.try_wait().unwrap()
        })
        .expect("the server did not stop after SIGTERM");
    assert!(status.success(), "{status:?}");
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("graceful shutdown"), "{log}");
    std::fs::remove_dir_all(dir).unwrap();
}

on_both_backends!(migrate_subcommand_applies_the_migrations);

async fn migrate_subcommand_applies_the_migrations(db: Db) {
    let test_db = TestDb::create(&db);
    let url = test_db.url();
    let output = faltlogg()
        .args(["migrate"])
        .env("FALTLOGG_DATABASE_URL", &url)
        .env("FALTLOGG_LOG_FORMAT", "json")
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let database = test_db.connect();
    assert_eq!(
        database.migrate().unwrap(),
        0,
        "already applied by the binary"
    );
}

/// A bare HTTP/1.1 GET, so that this test needs no async runtime.
fn http_get(port: u16, path: &str) -> Option<String> {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .ok()?;
    let mut response = String::new();
    stream.read_to_string(&mut response).ok()?;
    Some(response)
}

on_both_backends!(user_commands_make_the_first_admin);

/// The server never creates default credentials: the first admin comes from the CLI.
async fn user_commands_make_the_first_admin(db: Db) {
    let test_db = TestDb::create(&db);
    let url = test_db.url();
    let run = |args: &[&str], stdin: Option<&str>| {
        let mut child = faltlogg()
            .args(args)
            .env("FALTLOGG_DATABASE_URL", &url)
            .env("FALTLOGG_LOG_FORMAT", "json")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(input) = stdin {
            std::io::Write::write_all(child.stdin.as_mut().unwrap(), input.as_bytes()).unwrap();
        }
        drop(child.stdin.take());
        child.wait_with_output().unwrap()
    };
    let added = run(
        &[
            "user",
            "add",
            "--username",
            "Chef",
            "--role",
            "admin",
            "--password-stdin",
        ],
        Some("ett långt lösenord\n"),
    );
    assert!(
        added.status.success(),
        "{}",
        String::from_utf8_lossy(&added.stderr)
    );
    assert!(!String::from_utf8_lossy(&added.stdout).contains("ett långt"));

    let generated = run(
        &[
            "user",
            "add",
            "--username",
            "anna",
            "--role",
            "outreach_worker",
            "--unit",
            "mika",
        ],
        None,
    );
    assert!(generated.status.success());
    let out = String::from_utf8(generated.stdout).unwrap();
    let password = out
        .lines()
        .find_map(|l| l.strip_prefix("password (shown once): "))
        .unwrap();
    assert!(password.len() >= 12);

    // Refused: a short password, a worker without a unit, a taken name.
    assert!(
        !run(
            &[
                "user",
                "add",
                "--username",
                "x",
                "--role",
                "auditor",
                "--password-stdin"
            ],
            Some("kort\n")
        )
        .status
        .success()
    );
    assert!(
        !run(
            &[
                "user",
                "add",
                "--username",
                "y",
                "--role",
                "outreach_worker"
            ],
            None
        )
        .status
        .success()
    );
    assert!(
        !run(
            &["user", "add", "--username", "CHEF", "--role", "auditor"],
            None
        )
        .status
        .success()
    );

    let listed = String::from_utf8(run(&["user", "list"], None).stdout).unwrap();
    assert!(
        listed.contains("Chef\tadmin\t-\tactive")
            && listed.contains("anna\toutreach_worker\tmika\tactive"),
        "{listed}"
    );
    assert!(run(&["user", "disable", "anna"], None).status.success());
    let listed = String::from_utf8(run(&["user", "list"], None).stdout).unwrap();
    assert!(
        listed.contains("anna\toutreach_worker\tmika\tdisabled"),
        "{listed}"
    );

    // The passwords stored are the ones given and printed.
    let database = test_db.connect();
    let mut conn = database.get().unwrap();
    let hash_of = |conn: &mut faltlogg_persistence::DbConnection, name: &str| {
        let username = faltlogg_domain::account::Username::parse(name).unwrap();
        faltlogg_persistence::accounts::credentials(conn, &username)
            .unwrap()
            .unwrap()
            .1
    };
    let chef = hash_of(&mut conn, "chef");
    assert!(faltlogg_api::auth::password::verify(
        "ett långt lösenord",
        Some(&chef)
    ));
    let anna = hash_of(&mut conn, "anna");
    assert!(faltlogg_api::auth::password::verify(password, Some(&anna)));
}
