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
                _ => serve(config),
            };
            result.unwrap_or_else(|error| fail(error.as_ref()))
        }
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
