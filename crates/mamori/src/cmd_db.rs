//! `mamori db import PATH|URL... [--db DIR] [--strict] [--update]`, `mamori db status [--db DIR]`
//! and `mamori db match …`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use mamori_core::{Ecosystem, Package};
use mamori_vulndb::{import, Database, ImportOptions, Progress, Source, Suppressions};

/// Manage the vulnerability database.
#[derive(Debug, Args)]
pub struct DbArgs {
    /// What to do.
    #[command(subcommand)]
    pub command: DbCommand,
}

/// `mamori db` subcommands.
#[derive(Debug, Subcommand)]
pub enum DbCommand {
    /// Build the database from OSV sources (replaces the previous database atomically, or
    /// merges into it with --update).
    ///
    /// Each SOURCE is a directory tree of OSV .json/.yaml files, a zip of them (osv.dev
    /// `<ecosystem>/all.zip`), or an http(s) URL of such a zip.
    Import {
        /// Directories, zips or URLs.
        #[arg(required = true, value_name = "PATH|URL")]
        sources: Vec<String>,
        /// Database directory (default: $XDG_CACHE_HOME/mamori/db).
        #[arg(long, value_name = "DIR", env = "MAMORI_DB")]
        db: Option<PathBuf>,
        /// Fail, writing nothing, if any record is malformed.
        #[arg(long)]
        strict: bool,
        /// Merge the sources into the existing database (newer `modified` replaces, withdrawn
        /// removes) instead of replacing it; still written atomically.
        #[arg(long)]
        update: bool,
        /// Print the import report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Match one package against the database and print the matches as JSON.
    ///
    /// For Debian, Ubuntu and Alpine give the source package with --source (advisories name
    /// source packages); for distro packages give the release (12, v3.19, 9) with --release.
    Match {
        /// OSV ecosystem (Debian, Alpine, AlmaLinux, PyPI, Go, npm, Maven, …).
        ecosystem: String,
        /// Package name.
        name: String,
        /// Installed version.
        #[arg(value_name = "VERSION")]
        installed: String,
        /// Distro release (`12`, `v3.19`, `9`).
        #[arg(long)]
        release: Option<String>,
        /// Source package as NAME or NAME@VERSION.
        #[arg(long, value_name = "NAME[@VERSION]")]
        source: Option<String>,
        /// `.mamoriignore` or OpenVEX files whose rules mark matches as suppressed.
        #[arg(long = "ignore", value_name = "FILE")]
        ignore: Vec<PathBuf>,
        /// Database directory (default: $XDG_CACHE_HOME/mamori/db).
        #[arg(long, value_name = "DIR", env = "MAMORI_DB")]
        db: Option<PathBuf>,
    },
    /// Show what the database holds.
    Status {
        /// Database directory (default: $XDG_CACHE_HOME/mamori/db).
        #[arg(long, value_name = "DIR", env = "MAMORI_DB")]
        db: Option<PathBuf>,
        /// Print the metadata as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `$XDG_CACHE_HOME/mamori/db`, else `$HOME/.cache/mamori/db`.
pub fn default_db_dir() -> anyhow::Result<PathBuf> {
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("mamori").join("db"));
    }
    let home = std::env::var_os("HOME")
        .filter(|h| !h.is_empty())
        .context("neither XDG_CACHE_HOME nor HOME is set; pass --db DIR")?;
    Ok(PathBuf::from(home).join(".cache").join("mamori").join("db"))
}

/// One line of progress: a bar when the total is known, else a count.
fn progress_bar(p: Progress) -> String {
    const WIDTH: u64 = 30;
    match p.total {
        Some(t) if t > 0 => {
            let done = (p.files.min(t) * WIDTH / t) as usize;
            format!(
                "reading OSV records [{}{}] {}/{} files",
                "#".repeat(done),
                ".".repeat(WIDTH as usize - done),
                p.files,
                t
            )
        }
        _ => format!("reading OSV records: {} files", p.files),
    }
}

/// Runs `mamori db …`.
pub fn run(args: DbArgs) -> anyhow::Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    match args.command {
        DbCommand::Import {
            sources,
            db,
            strict,
            update,
            json,
        } => {
            let dir = match db {
                Some(d) => d,
                None => default_db_dir()?,
            };
            let sources: Vec<Source> = sources.iter().map(|s| Source::parse(s)).collect();
            let tty = std::io::stderr().is_terminal();
            let progress = |p: Progress| {
                if p.files % 250 == 0 || Some(p.files) == p.total {
                    eprint!("\r{}", progress_bar(p));
                    let _ = std::io::stderr().flush();
                }
            };
            let opts = ImportOptions {
                strict,
                update,
                progress: tty.then_some(&progress as &dyn Fn(Progress)),
            };
            let started = std::time::Instant::now();
            let report = import(&sources, &dir, &opts);
            if tty {
                eprint!("\r\x1b[K");
            }
            let report = report.context("import failed; the previous database is unchanged")?;
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            let m = &report.metadata;
            match &report.update {
                Some(u) => writeln!(
                    out,
                    "updated {} from {} files in {:.2}s: {} added, {} updated, {} unchanged, {} older than stored (kept), {} withdrawn (removed); {} -> {} advisories",
                    report.path.display(),
                    report.files,
                    started.elapsed().as_secs_f64(),
                    u.added,
                    u.updated,
                    u.unchanged,
                    u.stale,
                    u.withdrawn,
                    u.previous,
                    m.advisories
                )?,
                None => writeln!(
                    out,
                    "imported {} advisories from {} files into {} in {:.2}s",
                    m.advisories,
                    report.files,
                    report.path.display(),
                    started.elapsed().as_secs_f64()
                )?,
            }
            writeln!(
                out,
                "withdrawn (left out): {}, duplicates: {}, GIT ranges skipped: {}, affected entries of unsupported ecosystems: {}",
                m.withdrawn, report.duplicates, m.git_ranges_skipped, m.unsupported_affected
            )?;
            if !report.skipped.is_empty() {
                writeln!(out, "skipped {} malformed record(s):", report.skipped.len())?;
                for s in report.skipped.iter().take(20) {
                    writeln!(out, "  {}: {}", s.file, s.reason)?;
                }
                if report.skipped.len() > 20 {
                    writeln!(
                        out,
                        "  … and {} more (use --json for all)",
                        report.skipped.len() - 20
                    )?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Match {
            ecosystem,
            name,
            installed,
            release,
            source,
            ignore,
            db,
        } => {
            let dir = match db {
                Some(d) => d,
                None => default_db_dir()?,
            };
            let db = Database::open(&dir)?;
            let eco: Ecosystem = match ecosystem.parse() {
                Ok(e) => e,
                Err(never) => match never {},
            };
            let mut pkg = Package::new(eco, name, installed);
            pkg.release = release;
            if let Some(src) = source {
                match src.split_once('@') {
                    Some((n, v)) => {
                        pkg.source_name = Some(n.to_string());
                        pkg.source_version = Some(v.to_string());
                    }
                    None => pkg.source_name = Some(src),
                }
            }
            let mut rules = Suppressions::new();
            for f in &ignore {
                rules.add_file(f)?;
            }
            let mut matches = db.match_package(&pkg)?;
            rules.apply(&pkg, &mut matches, time::OffsetDateTime::now_utc().date());
            writeln!(out, "{}", serde_json::to_string_pretty(&matches)?)?;
            Ok(ExitCode::SUCCESS)
        }
        DbCommand::Status { db, json } => {
            let dir = match db {
                Some(d) => d,
                None => default_db_dir()?,
            };
            let db = Database::open(&dir)?;
            let m = db.metadata();
            if json {
                writeln!(out, "{}", serde_json::to_string_pretty(m)?)?;
                return Ok(ExitCode::SUCCESS);
            }
            let size = std::fs::metadata(db.path()).map(|x| x.len()).unwrap_or(0);
            writeln!(
                out,
                "database:        {} ({:.1} MB, schema {})",
                db.path().display(),
                size as f64 / 1e6,
                m.schema
            )?;
            writeln!(
                out,
                "imported at:     {}{}",
                m.imported_at,
                if m.updates > 0 {
                    format!(" ({} update(s) merged since the full import)", m.updates)
                } else {
                    String::new()
                }
            )?;
            writeln!(
                out,
                "newest modified: {}",
                m.newest_modified.as_deref().unwrap_or("-")
            )?;
            writeln!(
                out,
                "advisories:      {} ({} package keys)",
                m.advisories,
                db.package_keys()
            )?;
            writeln!(
                out,
                "left out:        {} withdrawn, {} malformed, {} GIT ranges, {} unsupported-ecosystem entries",
                m.withdrawn, m.skipped, m.git_ranges_skipped, m.unsupported_affected
            )?;
            writeln!(out, "sources:")?;
            for s in &m.sources {
                writeln!(
                    out,
                    "  {} ({}): {} files, {} records",
                    s.location, s.kind, s.files, s.records
                )?;
            }
            writeln!(out, "ecosystems:")?;
            for (e, n) in &m.ecosystems {
                writeln!(out, "  {e:<20} {n}")?;
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn progress_bar_fills_with_the_known_total() {
        let bar = |files, total| progress_bar(Progress { files, total });
        assert_eq!(
            bar(0, Some(10)),
            format!("reading OSV records [{}] 0/10 files", ".".repeat(30))
        );
        assert_eq!(
            bar(5, Some(10)),
            format!(
                "reading OSV records [{}{}] 5/10 files",
                "#".repeat(15),
                ".".repeat(15)
            )
        );
        assert_eq!(
            bar(10, Some(10)),
            format!("reading OSV records [{}] 10/10 files", "#".repeat(30))
        );
        assert_eq!(bar(7, None), "reading OSV records: 7 files");
    }
}
