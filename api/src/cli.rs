//! The command line of `faltlogg`: serve the API (the default), apply migrations, or
//! print the contract. A library module, so the end-to-end tests run the same code as a
//! binary of their own.

use std::process::ExitCode;

use crate::config::Config;
use crate::error::error_chain;
use crate::startup::Application;
use crate::{openapi, telemetry};
use clap::{Parser, Subcommand};
use faltlogg_persistence::Database;

#[derive(Parser)]
#[command(
    name = "faltlogg",
    version,
    about = "Fältlogg: the field log for outreach shifts with the police"
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Apply pending migrations, then serve the API until SIGTERM (the default).
    Serve,
    /// Apply pending migrations and exit.
    Migrate,
    /// Print the OpenAPI document (regenerates openapi.yaml).
    Openapi,
    /// Manage staff accounts (this is how the first admin is made).
    #[command(subcommand)]
    User(UserCommand),
    /// The audit log's hash chain.
    #[command(subcommand)]
    Audit(AuditCommand),
    /// Erase encounter details past the retention period and prune old audit entries now
    /// (the server also does this daily).
    #[command(subcommand)]
    Retention(RetentionCommand),
    /// Take a consistent copy of the SQLite database while the server runs (on PostgreSQL
    /// use pg_dump).
    Backup {
        /// The new file to write; it must not exist.
        #[arg(long)]
        to: std::path::PathBuf,
    },
}

#[derive(Subcommand)]
enum AuditCommand {
    /// Seal what is waiting, then check every link of the chain; names the first broken
    /// entry and exits 1 if there is one.
    Verify,
}

#[derive(Subcommand)]
enum RetentionCommand {
    /// Run retention once.
    Run,
}

#[derive(Subcommand)]
enum UserCommand {
    /// Create an account. Without --password-stdin a strong password is generated and
    /// printed once.
    Add {
        #[arg(long)]
        username: String,
        /// admin, coordinator, outreach_worker, police_liaison or auditor
        #[arg(long)]
        role: String,
        /// The unit of an outreach worker (mika, kast, ungdomsjouren, …)
        #[arg(long)]
        unit: Option<String>,
        /// Read the password from one line of standard input.
        #[arg(long)]
        password_stdin: bool,
    },
    /// List accounts.
    List,
    /// Disable an account: its tokens stop working at its next request.
    Disable { username: String },
    /// Lift the lock that failed logins put on an account.
    Unlock { username: String },
}

pub fn main() -> ExitCode {
    let cli = parse_cli();
    match cli.command.unwrap_or(Command::Serve) {
        Command::Openapi => match openapi::yaml() {
            Ok(yaml) => {
                print!("{yaml}");
                ExitCode::SUCCESS
            }
            Err(error) => fail(&error),
        },
        command => {
            let config = match Config::from_env() {
                Ok(config) => config,
                Err(error) => {
                    eprintln!("faltlogg: configuration error: {error}");
                    return ExitCode::from(2);
                }
            };
            telemetry::init(config.log_format);
            let result = match command {
                Command::Migrate => migrate(&config),
                Command::User(user) => users::run(&config, user),
                Command::Audit(AuditCommand::Verify) => verify_audit(&config),
                Command::Retention(RetentionCommand::Run) => run_retention(&config),
                Command::Backup { to } => backup(&config, &to),
                _ => serve(config),
            };
            result.unwrap_or_else(|error| fail(error.as_ref()))
        }
    }
}

mod users {
    use std::io::BufRead;
    use std::process::ExitCode;

    use chrono::Utc;
    use faltlogg_domain::account::{Assignment, NewPassword, Role, Username};
    use faltlogg_domain::unit::Unit;
    use faltlogg_persistence::{Database, StoreError, accounts};
    use rand::Rng;
    use rand::distr::Alphanumeric;

    use super::UserCommand;
    use crate::auth::{password, tokens};
    use crate::config::Config;

    type Result<T> = std::result::Result<T, Box<dyn std::error::Error>>;

    pub fn run(config: &Config, command: UserCommand) -> Result<ExitCode> {
        let db = Database::connect(config.database.clone(), 1)?;
        db.migrate()?;
        let mut conn = db.get()?;
        match command {
            UserCommand::Add {
                username,
                role,
                unit,
                password_stdin,
            } => {
                let username = Username::parse(&username)?;
                let role: Role = role.parse()?;
                let unit = unit
                    .map(|u| u.parse::<Unit>().map_err(|_| format!("unknown unit {u}")))
                    .transpose()?;
                let assignment = Assignment::new(role, unit)?;
                let (password, generated) = if password_stdin {
                    let mut line = String::new();
                    std::io::stdin().lock().read_line(&mut line)?;
                    let line = line.strip_suffix('\n').unwrap_or(&line);
                    let line = line.strip_suffix('\r').unwrap_or(line);
                    (line.to_owned(), false)
                } else {
                    let generated: String = rand::rng()
                        .sample_iter(Alphanumeric)
                        .take(24)
                        .map(char::from)
                        .collect();
                    (generated, true)
                };
                let password = NewPassword::parse(password)?;
                let hash = password::hash(&password)?;
                match accounts::insert_user(&mut conn, &username, assignment, &hash, Utc::now()) {
                    Err(StoreError::Duplicate) => return Err(format!("{username} is taken").into()),
                    other => other?,
                };
                println!("created {username} ({role})");
                if generated {
                    println!("password (shown once): {}", password.expose());
                }
            }
            UserCommand::List => {
                for user in accounts::list_users(&mut conn)? {
                    let unit = user.assignment.unit().map_or("-", Unit::code);
                    let state = if user.disabled { "disabled" } else { "active" };
                    println!(
                        "{}\t{}\t{unit}\t{state}",
                        user.username,
                        user.assignment.role()
                    );
                }
            }
            UserCommand::Disable { username } => {
                let username = Username::parse(&username)?;
                let id = accounts::find_user_id(&mut conn, &username)?;
                let changes = accounts::UserChanges {
                    disabled: Some(true),
                    ..Default::default()
                };
                accounts::update_user(&mut conn, id, changes, Utc::now())?;
                println!("disabled {username}");
            }
            UserCommand::Unlock { username } => {
                let username = Username::parse(&username)?;
                accounts::find_user_id(&mut conn, &username)?;
                accounts::clear_account_failures(&mut conn, &tokens::hash(&username.key()))?;
                println!("unlocked {username}");
            }
        }
        Ok(ExitCode::SUCCESS)
    }
}

fn migrate(config: &Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let db = Database::connect(config.database.clone(), 1)?;
    let applied = db.migrate()?;
    tracing::info!(applied, "migrations applied");
    Ok(ExitCode::SUCCESS)
}

fn serve(config: Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    actix_web::rt::System::new().block_on(async move {
        Application::build(config)
            .await?
            .run_until_stopped()
            .await?;
        tracing::info!("stopped");
        Ok(ExitCode::SUCCESS)
    })
}

fn verify_audit(config: &Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let db = faltlogg_persistence::Database::connect(config.database.clone(), 1)?;
    db.migrate()?;
    let mut conn = db.get()?;
    faltlogg_persistence::audit::seal(&mut conn)?;
    let verification = faltlogg_persistence::audit::verify(&mut conn)?;
    match verification.first_broken {
        None => {
            println!(
                "audit log intact: {} entries sealed and verified, {} not yet sealed",
                verification.sealed, verification.unsealed
            );
            Ok(ExitCode::SUCCESS)
        }
        Some(seq) => {
            println!(
                "audit log BROKEN at entry {seq}: its link or hash does not match ({} entries before it verified)",
                verification.sealed
            );
            Ok(ExitCode::FAILURE)
        }
    }
}

fn backup(config: &Config, to: &std::path::Path) -> Result<ExitCode, Box<dyn std::error::Error>> {
    if to.exists() {
        return Err(format!("{} exists already; give a new file", to.display()).into());
    }
    let db = faltlogg_persistence::Database::connect(config.database.clone(), 1)?;
    if faltlogg_persistence::dialect::backup_into(&mut *db.get()?, to)? {
        println!("backup written to {}", to.display());
        Ok(ExitCode::SUCCESS)
    } else {
        eprintln!(
            "faltlogg: the database is PostgreSQL: back it up with pg_dump -Fc (see the README)"
        );
        Ok(ExitCode::from(2))
    }
}

fn run_retention(config: &Config) -> Result<ExitCode, Box<dyn std::error::Error>> {
    let db = faltlogg_persistence::Database::connect(config.database.clone(), 1)?;
    db.migrate()?;
    let run = crate::jobs::run_retention(&mut *db.get()?, config, crate::records::now())?;
    println!(
        "retention: details of {} encounters erased, {} audit entries pruned",
        run.erased, run.pruned
    );
    Ok(ExitCode::SUCCESS)
}

fn fail(error: &dyn std::error::Error) -> ExitCode {
    tracing::error!(error = %error_chain(error), "faltlogg failed");
    eprintln!("faltlogg: {}", error_chain(error));
    ExitCode::FAILURE
}

/// Parses the arguments, with the configuration table after every `--help`.
fn parse_cli() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let help = format!(
        "Configuration is read from the environment:\n{}",
        Config::describe()
    );
    let command = Cli::command()
        .after_help(help.clone())
        .mut_subcommands(|sub| sub.after_help(help.clone()));
    Cli::from_arg_matches(&command.get_matches()).unwrap_or_else(|error| error.exit())
}
