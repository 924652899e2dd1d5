//! A fresh database for one run, and the folder beside it (the server's data folder, its
//! log, generated scripts). Both go away when the run ends, however it ends.

use std::path::{Path, PathBuf};

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection, SqliteConnection};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    pub fn name(self) -> &'static str {
        match self {
            Backend::Sqlite => "SQLite",
            Backend::Postgres => "PostgreSQL",
        }
    }
}

pub struct Fresh {
    pub backend: Backend,
    /// Scratch space of this run only.
    pub dir: PathBuf,
    /// `FALTLOGG_DATABASE_URL` for the server.
    pub url: String,
    /// PostgreSQL: the admin URL and the database made from it, dropped at the end.
    created: Option<(String, String)>,
    keep: bool,
}

impl Fresh {
    pub fn create(backend: Backend, admin_url: &str, keep: bool) -> Result<Self> {
        let name = format!("faltlogg_bench_{:016x}", rand::random::<u64>());
        let dir = std::env::temp_dir().join(&name);
        std::fs::create_dir_all(dir.join("data"))?;
        let (url, created) = match backend {
            Backend::Sqlite => (format!("sqlite://{}", dir.join("bench.db").display()), None),
            Backend::Postgres => {
                let mut admin = PgConnection::establish(admin_url)
                    .map_err(|e| format!("PostgreSQL at {admin_url}: {e}"))?;
                admin.batch_execute(&format!("CREATE DATABASE {name}"))?;
                (
                    with_database(admin_url, &name),
                    Some((admin_url.to_owned(), name)),
                )
            }
        };
        Ok(Self {
            backend,
            dir,
            url,
            created,
            keep,
        })
    }

    pub fn data_dir(&self) -> PathBuf {
        self.dir.join("data")
    }

    pub fn sqlite_path(&self) -> Option<&Path> {
        self.url.strip_prefix("sqlite://").map(Path::new)
    }

    pub fn connect_postgres(&self) -> Result<PgConnection> {
        Ok(PgConnection::establish(&self.url)?)
    }

    /// A connection set up as the server sets up its own.
    pub fn connect_sqlite(&self) -> Result<SqliteConnection> {
        let path = self
            .sqlite_path()
            .ok_or_else(|| Error::from("not an SQLite run"))?;
        let mut conn = SqliteConnection::establish(&path.display().to_string())?;
        conn.batch_execute(faltlogg_persistence::dialect::SQLITE_BUSY_TIMEOUT)?;
        conn.batch_execute(faltlogg_persistence::dialect::SQLITE_PRAGMAS)?;
        Ok(conn)
    }
}

impl Drop for Fresh {
    fn drop(&mut self) {
        if self.keep {
            eprintln!(
                "kept for inspection: {} and {}",
                self.url,
                self.dir.display()
            );
            return;
        }
        if let Some((admin_url, name)) = &self.created {
            let dropped = PgConnection::establish(admin_url)
                .map_err(Error::from)
                .and_then(|mut admin| {
                    admin
                        .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .map_err(Error::from)
                });
            if let Err(error) = dropped {
                eprintln!("could not drop the database {name}: {error}");
            }
        }
        if let Err(error) = std::fs::remove_dir_all(&self.dir) {
            eprintln!("could not remove {}: {error}", self.dir.display());
        }
    }
}

/// The admin URL with its database name replaced, query string kept.
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = match url.split_once('?') {
        Some((base, query)) => (base, format!("?{query}")),
        None => (url, String::new()),
    };
    let authority_end = base
        .find("://")
        .map(|i| i + 3)
        .and_then(|start| base.get(start..)?.find('/').map(|i| start + i))
        .unwrap_or(base.len());
    format!(
        "{}/{name}{query}",
        base.get(..authority_end).unwrap_or(base)
    )
}

#[cfg(test)]
mod tests {
    use super::with_database;

    #[test]
    fn the_database_name_is_replaced() {
        assert_eq!(
            with_database("postgres://postgres@127.0.0.1:5432/postgres", "b"),
            "postgres://postgres@127.0.0.1:5432/b"
        );
        assert_eq!(
            with_database("postgres://u@h/postgres?sslmode=disable", "b"),
            "postgres://u@h/b?sslmode=disable"
        );
        assert_eq!(with_database("postgres://u@h", "b"), "postgres://u@h/b");
    }
}
