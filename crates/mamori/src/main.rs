//! The `mamori` command: turns flags into typed settings and hands them to the library crates.

mod cli;
mod cmd_admission;
mod cmd_config;
mod cmd_console;
mod cmd_db;
mod cmd_image;
mod cmd_policy;
mod cmd_rules;
mod cmd_runtime;
mod cmd_sbom;
mod cmd_sensor;
mod cmd_version;
mod config;

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match cli::Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => return cli::usage_error(err),
    };
    cli::init_logging(&cli.global);
    match cli::run(cli) {
        Ok(code) => code,
        Err(err) => {
            eprintln!("error: {}", cli::error_chain(&err));
            ExitCode::from(cli::EXIT_OPERATIONAL)
        }
    }
}
