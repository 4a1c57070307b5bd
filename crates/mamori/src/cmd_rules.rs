//! `mamori rules validate FILE...`: load rules files like the runtime engine does and report.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use mamori_rules::{load, Diagnostic, Level, RulesFile};

/// `mamori rules ...`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// What to do with rules.
    #[command(subcommand)]
    pub command: RulesCommand,
}

/// Rules subcommands.
#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Load rules files in order (later files see earlier items); print counts and every
    /// warning and error. Exit 0 when all load, 1 otherwise.
    Validate {
        /// Rules files (YAML), in load order. Without files, the built-in default ruleset.
        files: Vec<std::path::PathBuf>,
    },
}

/// Reads the named files (or the built-in ruleset when none is given).
pub fn read_rules_files(paths: &[std::path::PathBuf]) -> anyhow::Result<Vec<RulesFile>> {
    if paths.is_empty() {
        return Ok(vec![RulesFile::new(
            mamori_rules::DEFAULT_RULES_NAME,
            mamori_rules::DEFAULT_RULES,
        )]);
    }
    paths
        .iter()
        .map(|p| {
            let text = std::fs::read_to_string(p)
                .map_err(|e| anyhow::anyhow!("cannot read rules file {}: {e}", p.display()))?;
            Ok(RulesFile::new(p.display().to_string(), text))
        })
        .collect()
}

fn print_diags(diags: &[Diagnostic]) {
    for d in diags {
        println!("{d}");
    }
}

/// Runs `mamori rules`.
pub fn run(args: RulesArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        RulesCommand::Validate { files } => {
            let sources = read_rules_files(&files)?;
            match load(&sources) {
                Ok(loaded) => {
                    let s = loaded.ruleset.stats();
                    let warnings = loaded.diagnostics.len();
                    print_diags(&loaded.diagnostics);
                    println!(
                        "ok: {} file(s): {} rules ({} enabled), {} macros, {} lists; {} warning(s)",
                        sources.len(),
                        s.rules,
                        s.enabled,
                        s.macros,
                        s.lists,
                        warnings
                    );
                    Ok(ExitCode::SUCCESS)
                }
                Err(failed) => {
                    print_diags(&failed.diagnostics);
                    let errors = failed
                        .diagnostics
                        .iter()
                        .filter(|d| d.level == Level::Error)
                        .count();
                    println!(
                        "failed: {} file(s): {errors} error(s), {} warning(s)",
                        sources.len(),
                        failed.diagnostics.len() - errors
                    );
                    Ok(ExitCode::from(crate::cli::EXIT_OPERATIONAL))
                }
            }
        }
    }
}
