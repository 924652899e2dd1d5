//! `faltlogg`: see `faltlogg --help`.

fn main() -> std::process::ExitCode {
    faltlogg_api::cli::main()
}
