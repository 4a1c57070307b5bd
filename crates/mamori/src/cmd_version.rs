//! `mamori version compare ECOSYSTEM A B`: prints `<`, `=` or `>`.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use mamori_version::{Scheme, Version};

/// Version arithmetic per ecosystem.
#[derive(Debug, Args)]
pub struct VersionArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: VersionCommand,
}

/// `mamori version` subcommands.
#[derive(Debug, Subcommand)]
pub enum VersionCommand {
    /// Compare two versions with the ecosystem's rules; prints `<`, `=` or `>`.
    ///
    /// ECOSYSTEM is an OSV name (Debian, Ubuntu, Alpine, AlmaLinux, Red Hat, PyPI, npm, Go, Maven,
    /// RubyGems, …, with or without a `:release` suffix) or one of dpkg, rpm, apk, semver, pep440.
    Compare {
        /// Ecosystem whose ordering to use.
        ecosystem: String,
        /// First version.
        a: String,
        /// Second version.
        b: String,
    },
}

/// Runs `mamori version …`.
pub fn run(args: VersionArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        VersionCommand::Compare { ecosystem, a, b } => {
            let Some(scheme) = Scheme::for_ecosystem(&ecosystem) else {
                eprintln!(
                    "error: no version ordering for ecosystem {ecosystem:?} (known: OSV names such as Debian, Alpine, AlmaLinux, PyPI, npm, Go, Maven, RubyGems; aliases dpkg, rpm, apk, semver, pep440)"
                );
                return Ok(ExitCode::from(crate::cli::EXIT_USAGE));
            };
            let x = Version::parse(scheme, &a).context("first version")?;
            let y = Version::parse(scheme, &b).context("second version")?;
            let sign = match x.cmp(&y) {
                std::cmp::Ordering::Less => "<",
                std::cmp::Ordering::Equal => "=",
                std::cmp::Ordering::Greater => ">",
            };
            println!("{sign}");
            Ok(ExitCode::SUCCESS)
        }
    }
}
