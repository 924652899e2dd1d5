//! Configuration, read once from `FALTLOGG_*` environment variables into a typed value.
//! The app is built from that value, so tests start it with their own.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;
use std::time::Duration;

use faltlogg_persistence::Backend;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log collectors.
    Json,
    /// Human-readable, for a terminal.
    Pretty,
}

#[derive(Debug, Clone)]
pub struct Config {
    pub database: Backend,
    pub database_pool_size: u32,
    pub listen: SocketAddr,
    pub log_format: LogFormat,
    /// Where a single instance keeps the signing key it generated.
    pub data_dir: PathBuf,
    pub jwt_key_file: Option<PathBuf>,
    pub jwt_previous_key_file: Option<PathBuf>,
    pub access_token_ttl: Duration,
    pub session_idle_timeout: Duration,
    pub session_lifetime: Duration,
    /// Peers whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Whether encounters may carry free-text notes.
    pub notes_enabled: bool,
    /// How long a closed shift stays on its units' devices.
    pub device_window: chrono::Duration,
    /// How long encounter details are kept, counted from when the person was met.
    pub retention: chrono::Duration,
    /// How long audit entries are kept.
    pub audit_retention: chrono::Duration,
    /// How many CPU-heavy operations (password hashing, reports) run at once.
    pub expensive_work_limit: usize,
    /// How long one request may take, reading its body included.
    pub request_timeout: Duration,
}

/// A variable that is set but unusable; start-up stops with this message.
#[derive(Debug, thiserror::Error)]
#[error("{variable}: {message}")]
pub struct ConfigError {
    pub variable: String,
    pub message: String,
}

struct Variable {
    name: &'static str,
    default: &'static str,
    meaning: &'static str,
}

/// Every variable the server reads. A `FALTLOGG_` variable not in this list stops
/// start-up, because a misspelt setting silently ignored is worse than no start.
const VARIABLES: &[Variable] = &[
    Variable {
        name: "FALTLOGG_DATABASE_URL",
        default: "data/faltlogg.db",
        meaning: "sqlite://PATH or a file path (embedded SQLite), or postgres://…",
    },
    Variable {
        name: "FALTLOGG_DATABASE_POOL_SIZE",
        default: "8",
        meaning: "connections in the pool, 1 to 256",
    },
    Variable {
        name: "FALTLOGG_LISTEN",
        default: "127.0.0.1:8080",
        meaning: "address and port to listen on",
    },
    Variable {
        name: "FALTLOGG_LOG_FORMAT",
        default: "pretty on a terminal, else json",
        meaning: "json or pretty",
    },
    Variable {
        name: "FALTLOGG_DATA_DIR",
        default: "data",
        meaning: "folder for a generated signing key",
    },
    Variable {
        name: "FALTLOGG_JWT_KEY_FILE",
        default: "generated in the data folder",
        meaning: "Ed25519 private key, PKCS#8 PEM; give every instance the same file",
    },
    Variable {
        name: "FALTLOGG_JWT_PREVIOUS_KEY_FILE",
        default: "none",
        meaning: "the key before a key change, still accepted for verification",
    },
    Variable {
        name: "FALTLOGG_ACCESS_TOKEN_TTL",
        default: "900",
        meaning: "seconds an access token is valid, 60 to 3600",
    },
    Variable {
        name: "FALTLOGG_SESSION_IDLE_TIMEOUT",
        default: "43200",
        meaning: "seconds a device session may go unrefreshed",
    },
    Variable {
        name: "FALTLOGG_SESSION_LIFETIME",
        default: "2592000",
        meaning: "seconds a device session lasts at most",
    },
    Variable {
        name: "FALTLOGG_TRUSTED_PROXIES",
        default: "none",
        meaning: "comma-separated IP addresses whose X-Forwarded-For is believed",
    },
    Variable {
        name: "FALTLOGG_NOTES_ENABLED",
        default: "true",
        meaning: "false refuses free-text notes on encounters (an installation's choice)",
    },
    Variable {
        name: "FALTLOGG_RETENTION_DAYS",
        default: "730",
        meaning: "days encounter details are kept after the meeting; set from the disposal decision",
    },
    Variable {
        name: "FALTLOGG_AUDIT_RETENTION_DAYS",
        default: "1825",
        meaning: "days audit entries are kept",
    },
    Variable {
        name: "FALTLOGG_REQUEST_TIMEOUT",
        default: "30",
        meaning: "seconds a request may take, its body included, before it is answered 503 (1 to 600)",
    },
    Variable {
        name: "FALTLOGG_EXPENSIVE_WORK_LIMIT",
        default: "one less than the cores, at least 1",
        meaning: "password hashes and reports computed at once; more answer 503 with Retry-After",
    },
    Variable {
        name: "FALTLOGG_DEVICE_WINDOW_DAYS",
        default: "2",
        meaning: "days a closed shift stays on its units' phones, 1 to 60",
    },
];

/// Variables of the test suite, which share the prefix but are not the server's.
const NOT_OURS_PREFIX: &str = "FALTLOGG_TEST_";

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_vars(std::env::vars().filter(|(k, _)| k.starts_with("FALTLOGG_")))
    }

    /// Reads the given variables; anything unset takes its default.
    pub fn from_vars(
        vars: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Self, ConfigError> {
        let vars: BTreeMap<String, String> = vars.into_iter().collect();
        if let Some(unknown) = vars.keys().find(|k| {
            !k.starts_with(NOT_OURS_PREFIX) && !VARIABLES.iter().any(|v| v.name == k.as_str())
        }) {
            return Err(ConfigError {
                variable: unknown.clone(),
                message: "unknown setting (see the configuration table in README.md)".into(),
            });
        }
        let get = |name: &str| vars.get(name).map(String::as_str).filter(|v| !v.is_empty());

        let database =
            Backend::from_url(get("FALTLOGG_DATABASE_URL").unwrap_or("data/faltlogg.db"))
                .map_err(|e| invalid("FALTLOGG_DATABASE_URL", e))?;
        let database_pool_size = parse_or("FALTLOGG_DATABASE_POOL_SIZE", get, 8u32)?;
        if !(1..=256).contains(&database_pool_size) {
            return Err(invalid(
                "FALTLOGG_DATABASE_POOL_SIZE",
                "must be between 1 and 256",
            ));
        }
        let listen = parse_or(
            "FALTLOGG_LISTEN",
            get,
            SocketAddr::from(([127, 0, 0, 1], 8080)),
        )?;
        let log_format = match get("FALTLOGG_LOG_FORMAT") {
            None if std::io::IsTerminal::is_terminal(&std::io::stdout()) => LogFormat::Pretty,
            None | Some("json") => LogFormat::Json,
            Some("pretty") => LogFormat::Pretty,
            Some(_) => return Err(invalid("FALTLOGG_LOG_FORMAT", "must be json or pretty")),
        };
        let seconds = |name: &str, default: u64, range: std::ops::RangeInclusive<u64>| {
            let value = parse_or(name, get, default)?;
            if range.contains(&value) {
                Ok(Duration::from_secs(value))
            } else {
                Err(invalid(
                    name,
                    format!(
                        "must be between {} and {} seconds",
                        range.start(),
                        range.end()
                    ),
                ))
            }
        };
        let days = |name: &str, default: i64, range: std::ops::RangeInclusive<i64>| {
            let value = parse_or(name, get, default)?;
            if range.contains(&value) {
                Ok(chrono::Duration::days(value))
            } else {
                Err(invalid(
                    name,
                    format!("must be between {} and {} days", range.start(), range.end()),
                ))
            }
        };
        let access_token_ttl = seconds("FALTLOGG_ACCESS_TOKEN_TTL", 900, 60..=3600)?;
        let session_idle_timeout =
            seconds("FALTLOGG_SESSION_IDLE_TIMEOUT", 43_200, 60..=31_536_000)?;
        let session_lifetime = seconds("FALTLOGG_SESSION_LIFETIME", 2_592_000, 60..=31_536_000)?;
        let trusted_proxies = get("FALTLOGG_TRUSTED_PROXIES")
            .map(|list| {
                list.split(',')
                    .map(|ip| {
                        ip.trim().parse().map_err(|_| {
                            invalid(
                                "FALTLOGG_TRUSTED_PROXIES",
                                format!("`{}` is not an IP address", ip.trim()),
                            )
                        })
                    })
                    .collect::<Result<Vec<IpAddr>, _>>()
            })
            .transpose()?
            .unwrap_or_default();
        Ok(Self {
            database,
            database_pool_size,
            listen,
            log_format,
            data_dir: PathBuf::from(get("FALTLOGG_DATA_DIR").unwrap_or("data")),
            jwt_key_file: get("FALTLOGG_JWT_KEY_FILE").map(PathBuf::from),
            jwt_previous_key_file: get("FALTLOGG_JWT_PREVIOUS_KEY_FILE").map(PathBuf::from),
            access_token_ttl,
            session_idle_timeout,
            session_lifetime,
            trusted_proxies,
            notes_enabled: parse_or("FALTLOGG_NOTES_ENABLED", get, true)?,
            device_window: days("FALTLOGG_DEVICE_WINDOW_DAYS", 2, 1..=60)?,
            retention: days("FALTLOGG_RETENTION_DAYS", 730, 1..=36_500)?,
            audit_retention: days("FALTLOGG_AUDIT_RETENTION_DAYS", 1825, 1..=36_500)?,
            expensive_work_limit: {
                // One core stays free for everything else (probes, logging) while
                // sign-ins and reports are computed.
                let cores = std::thread::available_parallelism().map_or(1, usize::from);
                let limit: usize = parse_or(
                    "FALTLOGG_EXPENSIVE_WORK_LIMIT",
                    get,
                    cores.saturating_sub(1).max(1),
                )?;
                if !(1..=256).contains(&limit) {
                    return Err(invalid(
                        "FALTLOGG_EXPENSIVE_WORK_LIMIT",
                        "must be between 1 and 256",
                    ));
                }
                limit
            },
            request_timeout: seconds("FALTLOGG_REQUEST_TIMEOUT", 30, 1..=600)?,
        })
    }

    /// The configuration table, for `--help`.
    pub fn describe() -> String {
        VARIABLES
            .iter()
            .map(|v| format!("  {:<30} {} (default: {})", v.name, v.meaning, v.default))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

fn invalid(variable: &str, message: impl ToString) -> ConfigError {
    ConfigError {
        variable: variable.to_owned(),
        message: message.to_string(),
    }
}

fn parse_or<'a, T>(
    name: &str,
    get: impl Fn(&str) -> Option<&'a str>,
    default: T,
) -> Result<T, ConfigError>
where
    T: std::str::FromStr,
    T::Err: std::fmt::Display,
{
    get(name).map_or(Ok(default), |value| {
        value
            .parse()
            .map_err(|e: T::Err| invalid(name, format!("`{value}` is not valid: {e}")))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[test]
    fn defaults_serve_a_local_trial() {
        let config = Config::from_vars(vars(&[])).unwrap();
        assert_eq!(config.database, Backend::Sqlite("data/faltlogg.db".into()));
        assert_eq!(config.listen.to_string(), "127.0.0.1:8080");
        assert_eq!(config.database_pool_size, 8);
    }

    #[test]
    fn a_malformed_value_names_its_variable() {
        for (name, value) in [
            ("FALTLOGG_LISTEN", "localhost"),
            ("FALTLOGG_DATABASE_URL", "mysql://h/db"),
            ("FALTLOGG_LOG_FORMAT", "xml"),
            ("FALTLOGG_DATABASE_POOL_SIZE", "0"),
            ("FALTLOGG_DATABASE_POOL_SIZE", "many"),
            ("FALTLOGG_ACCESS_TOKEN_TTL", "5"),
            ("FALTLOGG_SESSION_LIFETIME", "forever"),
            ("FALTLOGG_TRUSTED_PROXIES", "10.0.0.1,proxy"),
            ("FALTLOGG_NOTES_ENABLED", "nej"),
            ("FALTLOGG_DEVICE_WINDOW_DAYS", "0"),
            ("FALTLOGG_EXPENSIVE_WORK_LIMIT", "0"),
            ("FALTLOGG_RETENTION_DAYS", "0"),
            ("FALTLOGG_AUDIT_RETENTION_DAYS", "forever"),
        ] {
            let error = Config::from_vars(vars(&[(name, value)])).unwrap_err();
            assert_eq!(error.variable, name);
            assert!(error.to_string().starts_with(name), "{error}");
        }
    }

    #[test]
    fn unknown_settings_are_refused_but_test_settings_are_not_ours() {
        let error = Config::from_vars(vars(&[("FALTLOGG_LISTN", "x")])).unwrap_err();
        assert_eq!(error.variable, "FALTLOGG_LISTN");
        assert!(Config::from_vars(vars(&[("FALTLOGG_TEST_POSTGRES_URL", "x")])).is_ok());
    }

    #[test]
    fn a_database_password_is_not_printed() {
        let config = Config::from_vars(vars(&[(
            "FALTLOGG_DATABASE_URL",
            "postgres://u:hunter2@h/d",
        )]))
        .unwrap();
        assert!(!format!("{config:?}").contains("hunter2"));
    }
}
