//! The same command line as `faltlogg`, for the end-to-end tests of the binary.

fn main() -> std::process::ExitCode {
    faltlogg_api::cli::main()
}
