//! `mamori image scan`: image → package inventory, vulnerabilities (vulndb), secrets in files,
//! image config findings → report (table, JSON, SARIF) or SBOM (CycloneDX, SPDX).
//!
//! Without a vulnerability database the scan still runs and says, on stderr and in the report,
//! that vulnerabilities were NOT checked.

use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::{Arc, Mutex};

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mamori_core::report::{ExitPolicy, Format as ReportFormat, Report};
use mamori_core::{Finding, Severity};
use mamori_image::findings::{self, VulnOptions, VulnScan};
use mamori_image::sbom::{self, SbomMeta};
use mamori_image::{
    checks, glob::Glob, scan, Inventory, Limits, Progress, ProgressSink, RegistryOptions,
    ScanOptions, SourceRef,
};
use mamori_vulndb::{Database, OpenError, Suppressions};

/// `mamori image …`.
#[derive(Debug, Args)]
pub struct ImageArgs {
    /// What to do with the image.
    #[command(subcommand)]
    pub command: ImageCommand,
}

/// Image subcommands.
#[derive(Debug, Subcommand)]
pub enum ImageCommand {
    /// Inventory an image's packages and check its configuration.
    Scan(ScanArgs),
}

/// Output formats of `image scan`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ScanFormat {
    /// Human-readable summary.
    Table,
    /// mamori's JSON report (`mamori.report/v1`) with image, package and scan details added.
    Json,
    /// SARIF 2.1.0.
    Sarif,
    /// CycloneDX 1.5 JSON SBOM.
    Cyclonedx,
    /// SPDX 2.3 JSON SBOM.
    SpdxJson,
}

/// Flags shared by `image scan` and `sbom`.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The image: oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE, dir:ROOTFS, or a
    /// registry reference HOST[:PORT]/REPO[:TAG|@DIGEST].
    #[arg(value_name = "REF")]
    pub reference: String,
    /// Platform to pick from a multi-platform image.
    #[arg(long, default_value = "linux/amd64", value_name = "OS/ARCH[/VARIANT]")]
    pub platform: String,
    /// Do not catalog files matching this glob (repeatable; `**` crosses directories).
    #[arg(long = "skip-files", value_name = "GLOB")]
    pub skip_files: Vec<String>,
    /// Do not catalog files under directories matching this glob (repeatable).
    #[arg(long = "skip-dirs", value_name = "GLOB")]
    pub skip_dirs: Vec<String>,
    /// Most uncompressed bytes per layer (decompression-bomb guard).
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_layer_bytes)]
    pub max_layer_bytes: u64,
    /// Largest file read into memory for a cataloger.
    #[arg(long, value_name = "BYTES", default_value_t = Limits::default().max_file_bytes)]
    pub max_file_bytes: u64,
    /// Most tar entries per layer.
    #[arg(long, value_name = "N", default_value_t = Limits::default().max_layer_entries)]
    pub max_layer_entries: u64,
    /// Registry: use plain HTTP (no TLS).
    #[arg(long)]
    pub insecure: bool,
    /// Registry: docker config file with credentials (default ~/.docker/config.json).
    #[arg(long, value_name = "FILE")]
    pub docker_config: Option<std::path::PathBuf>,
    /// Registry: seconds to wait for a connection, for response headers, and for each read of a
    /// response body (a registry that stalls mid-layer is retried, resuming where it stopped).
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// No progress bars and no notes on stderr (warnings and errors are still written). Bars
    /// are drawn only when stderr is a terminal, never into a pipe or the report.
    #[arg(long, short = 'q')]
    pub quiet: bool,
    /// Registry: times a request is sent again after 429/5xx answers or a reset connection
    /// (exponential backoff, or the server's Retry-After up to 60 s).
    #[arg(long, value_name = "N", default_value_t = 3)]
    pub retries: u32,
}

impl SourceArgs {
    /// Parses the flags into the library's settings.
    pub fn settings(&self) -> anyhow::Result<(SourceRef, ScanOptions)> {
        let source: SourceRef = self.reference.parse()?;
        let opts = ScanOptions {
            platform: self.platform.parse()?,
            limits: Limits {
                max_layer_bytes: self.max_layer_bytes,
                max_file_bytes: self.max_file_bytes,
                max_layer_entries: self.max_layer_entries,
                ..Limits::default()
            },
            skip_files: self.skip_files.iter().map(|g| Glob::new(g)).collect(),
            skip_dirs: self.skip_dirs.iter().map(|g| Glob::new(g)).collect(),
            registry: RegistryOptions {
                insecure: self.insecure,
                docker_config: self.docker_config.clone(),
                timeout: Some(std::time::Duration::from_secs(self.timeout.max(1))),
                retries: Some(self.retries),
                ..RegistryOptions::default()
            },
            secrets: false,
            progress: (!self.quiet && std::io::stderr().is_terminal())
                .then(|| ProgressSink(Arc::new(LayerBars::default()))),
        };
        Ok((source, opts))
    }
}

/// `mamori image scan REF`.
#[derive(Debug, Args)]
pub struct ScanArgs {
    /// The image and how to read it.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output format.
    #[arg(long, short = 'f', value_enum, default_value_t = ScanFormat::Table)]
    pub format: ScanFormat,
    /// List every package (table and JSON); otherwise only counts are shown.
    #[arg(long)]
    pub list_all_pkgs: bool,
    /// Report only findings at or above this severity.
    #[arg(long, default_value = "unknown", value_name = "SEVERITY")]
    pub severity: Severity,
    /// Exit with this code when findings at or above --severity remain.
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub exit_code: u8,
    /// Write the report to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Vulnerability database directory (default: $XDG_CACHE_HOME/mamori/db).
    #[arg(long, value_name = "DIR", env = "MAMORI_DB")]
    pub db: Option<PathBuf>,
    /// Fail (exit 1) when there is no vulnerability database instead of scanning without one.
    #[arg(long)]
    pub require_db: bool,
    /// Leave out vulnerabilities that have no fixed version yet.
    #[arg(long)]
    pub ignore_unfixed: bool,
    /// `.mamoriignore` file of suppressed advisory ids (repeatable; default ./.mamoriignore when
    /// it exists).
    #[arg(long, value_name = "FILE")]
    pub ignorefile: Vec<PathBuf>,
    /// OpenVEX document whose not_affected/fixed statements suppress matches (repeatable).
    #[arg(long, value_name = "FILE")]
    pub vex: Vec<PathBuf>,
}

/// Progress bars of layer reads on stderr (one bar at a time, cleared when the layer ends).
#[derive(Default)]
struct LayerBars {
    bar: Mutex<Option<ProgressBar>>,
}

impl Progress for LayerBars {
    fn layer_started(&self, index: usize, count: usize, name: &str, size: u64) {
        let short = name.strip_prefix("sha256:").unwrap_or(name);
        let short: String = short.chars().take(12).collect();
        let bar = if size > 0 {
            ProgressBar::with_draw_target(Some(size), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr())
        };
        let template = if size > 0 {
            "{prefix} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}"
        } else {
            "{prefix} {spinner} {bytes} {bytes_per_sec}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar.set_prefix(format!("layer {}/{count} {short}", index + 1));
        // Draw at once: a small layer may be read before the first timed redraw.
        bar.tick();
        if let Ok(mut slot) = self.bar.lock() {
            *slot = Some(bar);
        }
    }

    fn layer_read(&self, bytes: u64) {
        if let Ok(slot) = self.bar.lock() {
            if let Some(bar) = slot.as_ref() {
                bar.inc(bytes);
            }
        }
    }

    fn layer_finished(&self) {
        if let Ok(mut slot) = self.bar.lock() {
            if let Some(bar) = slot.take() {
                bar.finish_and_clear();
            }
        }
    }
}

/// Runs `mamori image …`; `color` is the global `--color` decision for stdout.
pub fn run(args: ImageArgs, color: bool) -> anyhow::Result<ExitCode> {
    match args.command {
        ImageCommand::Scan(a) => run_scan(a, color),
    }
}

/// What became of vulnerability matching.
enum Vulns {
    /// Matched against the database at this path.
    Checked {
        path: PathBuf,
        advisories: u64,
        scan: VulnScan,
    },
    /// No database at this path: not checked.
    NoDatabase(PathBuf),
}

fn load_rules(a: &ScanArgs) -> anyhow::Result<Suppressions> {
    let mut rules = Suppressions::new();
    let mut ignore = a.ignorefile.clone();
    if ignore.is_empty() && Path::new(".mamoriignore").is_file() {
        if !a.source.quiet {
            eprintln!("note: using ./.mamoriignore");
        }
        ignore.push(PathBuf::from(".mamoriignore"));
    }
    for f in &ignore {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading ignore file {}", f.display()))?;
        rules.add_ignore(&f.display().to_string(), &text)?;
    }
    for f in &a.vex {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading VEX document {}", f.display()))?;
        rules.add_openvex(&f.display().to_string(), &text)?;
    }
    Ok(rules)
}

/// Opens the database; `Err(path)` when there is none and `--require-db` is not given.
fn open_db(a: &ScanArgs) -> anyhow::Result<Result<Database, PathBuf>> {
    let dir = match &a.db {
        Some(d) => d.clone(),
        None => crate::cmd_db::default_db_dir()?,
    };
    match Database::open(&dir) {
        Ok(db) => Ok(Ok(db)),
        Err(OpenError::Missing(path)) if !a.require_db => Ok(Err(path)),
        Err(e) => Err(e).context("opening the vulnerability database"),
    }
}

fn match_vulns(
    a: &ScanArgs,
    inv: &Inventory,
    db: Result<Database, PathBuf>,
    rules: &Suppressions,
) -> Vulns {
    let db = match db {
        Ok(db) => db,
        Err(path) => return Vulns::NoDatabase(path),
    };
    let opts = VulnOptions {
        ignore_unfixed: a.ignore_unfixed,
        today: time::OffsetDateTime::now_utc().date(),
    };
    let scan = findings::vulnerabilities(inv, &db, rules, &opts);
    for e in &scan.errors {
        tracing::warn!("vulnerability matching: {e}");
    }
    Vulns::Checked {
        path: db.path().to_path_buf(),
        advisories: db.metadata().advisories,
        scan,
    }
}

/// `--format cyclonedx|spdx-json`: the SBOM only (no secret search, no vulnerability matching).
fn write_sbom(a: &ScanArgs, source: &SourceRef, opts: &ScanOptions) -> anyhow::Result<ExitCode> {
    let inv = scan(source, opts).with_context(|| format!("scanning {source}"))?;
    let meta = SbomMeta::now(&inv);
    let doc = if a.format == ScanFormat::Cyclonedx {
        sbom::cyclonedx::to_json(&inv, &meta)
    } else {
        sbom::spdx::to_json(&inv, &meta)
    };
    write_out(
        a.output.as_deref(),
        &(serde_json::to_string_pretty(&doc)? + "\n"),
    )?;
    if !a.source.quiet {
        eprintln!("note: an SBOM lists packages only; use --format table|json|sarif for vulnerabilities, secrets and image config findings");
    }
    Ok(ExitCode::SUCCESS)
}

fn run_scan(a: ScanArgs, color: bool) -> anyhow::Result<ExitCode> {
    let (source, mut opts) = a.source.settings()?;
    let format = match a.format {
        ScanFormat::Table => ReportFormat::Table,
        ScanFormat::Json => ReportFormat::Json,
        ScanFormat::Sarif => ReportFormat::Sarif,
        ScanFormat::Cyclonedx | ScanFormat::SpdxJson => {
            return write_sbom(&a, &source, &opts);
        }
    };
    // Bad suppression files and a missing database under --require-db fail before the scan.
    let rules = load_rules(&a)?;
    let db = open_db(&a)?;
    opts.secrets = true;
    let inv = scan(&source, &opts).with_context(|| format!("scanning {source}"))?;
    let vulns = match_vulns(&a, &inv, db, &rules);
    let mut all: Vec<Finding> = checks::check(&inv);
    let mut suppressed = Vec::new();
    match &vulns {
        Vulns::Checked { scan, .. } => {
            all.extend(scan.findings.iter().cloned());
            suppressed = scan.suppressed.clone();
        }
        Vulns::NoDatabase(path) => eprintln!(
            "warning: no vulnerability database at {}: vulnerabilities were NOT checked (run `mamori db import PATH|URL` or pass --db DIR)",
            path.display()
        ),
    }
    let secret_findings = findings::secret_findings(&inv);
    let secrets_found = secret_findings.len();
    all.extend(secret_findings);
    all.retain(|f| f.severity >= a.severity);
    suppressed.retain(|s| s.finding.severity >= a.severity);

    let report = Report::new("mamori", env!("CARGO_PKG_VERSION"))
        .with_targets(vec![inv.source.clone()])
        .with_findings(all);
    let color = color && a.output.is_none();
    let text = match format {
        ReportFormat::Table => {
            let mut s = table_header(&inv, &vulns, secrets_found, a.list_all_pkgs);
            let mut buf = Vec::new();
            report.write(ReportFormat::Table, color, &mut buf)?;
            s.push_str(&String::from_utf8_lossy(&buf));
            if !suppressed.is_empty() {
                s.push_str(&format!("\nSuppressed: {}\n", suppressed.len()));
                for f in &suppressed {
                    s.push_str(&format!(
                        "  {:<8} {}  {}  ({}: {})\n",
                        f.finding.severity.as_str().to_uppercase(),
                        f.finding.rule_id,
                        f.finding.message,
                        f.suppression.source,
                        f.suppression.reason
                    ));
                }
            }
            s
        }
        ReportFormat::Json => {
            let mut buf = Vec::new();
            report.write(ReportFormat::Json, false, &mut buf)?;
            let mut v: serde_json::Value =
                serde_json::from_slice(&buf).context("re-reading the JSON report")?;
            let vuln_json = match &vulns {
                Vulns::Checked {
                    path,
                    advisories,
                    scan,
                } => serde_json::json!({
                    "status": "checked",
                    "database": path,
                    "advisories": advisories,
                    "packages_checked": scan.packages_checked,
                    "found": scan.findings.len(),
                    "suppressed": scan.suppressed.len(),
                    "unfixed_ignored": scan.unfixed_ignored,
                    "errors": scan.errors,
                }),
                Vulns::NoDatabase(path) => serde_json::json!({
                    "status": "no-database",
                    "database": path,
                    "message": format!("no vulnerability database at {}: vulnerabilities were not checked", path.display()),
                }),
            };
            let extra = serde_json::json!({
                "source": inv.source,
                "tags": inv.tags,
                "manifest_digest": inv.manifest_digest,
                "image_id": inv.image_id,
                "os": inv.os,
                "layers": inv.layers,
                "package_count": inv.packages.len(),
                "vulnerabilities": vuln_json,
                "secrets": {
                    "status": "checked",
                    "files_scanned": inv.secret_files_scanned,
                    "found": secrets_found,
                    "max_file_bytes": opts.limits.max_file_bytes.min(mamori_image::SECRET_MAX_FILE_BYTES),
                },
                "suppressed": suppressed,
                "notices": inv.notices,
                "warnings": inv.warnings,
            });
            if let (Some(obj), serde_json::Value::Object(extra)) = (v.as_object_mut(), extra) {
                obj.extend(extra);
                if a.list_all_pkgs {
                    obj.insert("packages".into(), serde_json::to_value(&inv.packages)?);
                }
            }
            serde_json::to_string_pretty(&v)? + "\n"
        }
        ReportFormat::Sarif => {
            let mut buf = Vec::new();
            report.write(ReportFormat::Sarif, false, &mut buf)?;
            String::from_utf8_lossy(&buf).into_owned()
        }
    };
    write_out(a.output.as_deref(), &text)?;
    let policy = ExitPolicy {
        code: a.exit_code,
        threshold: a.severity,
    };
    Ok(ExitCode::from(policy.exit_code(&report.findings)))
}

/// Writes to a file or stdout.
pub fn write_out(path: Option<&std::path::Path>, text: &str) -> anyhow::Result<()> {
    match path {
        Some(p) => std::fs::write(p, text).with_context(|| format!("writing {}", p.display())),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(text.as_bytes()).context("writing to stdout")
        }
    }
}

fn table_header(inv: &Inventory, vulns: &Vulns, secrets: usize, list: bool) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let _ = writeln!(s, "{}", inv.source);
    if let Some(id) = &inv.image_id {
        let _ = writeln!(s, "  image id: {id}");
    }
    match &inv.os {
        Some(os) => {
            let _ = writeln!(
                s,
                "  os:       {} {}{}",
                os.id,
                os.version_id,
                if os.distroless { " (distroless)" } else { "" }
            );
        }
        None => {
            let _ = writeln!(s, "  os:       not detected");
        }
    }
    let _ = writeln!(
        s,
        "  layers:   {}   files: {}   packages: {}",
        inv.layers.len(),
        inv.files,
        inv.packages.len()
    );
    let mut counts: std::collections::BTreeMap<&str, usize> = std::collections::BTreeMap::new();
    for p in &inv.packages {
        *counts.entry(p.kind.as_str()).or_default() += 1;
    }
    if !counts.is_empty() {
        let parts: Vec<String> = counts.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(s, "  by type:  {}", parts.join(", "));
    }
    match vulns {
        Vulns::Checked {
            path,
            advisories,
            scan,
        } => {
            let _ = writeln!(
                s,
                "  vulnerabilities: {} ({} suppressed{}) in {} packages, database {} ({} advisories)",
                scan.findings.len(),
                scan.suppressed.len(),
                if scan.unfixed_ignored > 0 {
                    format!(", {} without fix ignored", scan.unfixed_ignored)
                } else {
                    String::new()
                },
                scan.packages_checked,
                path.display(),
                advisories
            );
        }
        Vulns::NoDatabase(path) => {
            let _ = writeln!(
                s,
                "  vulnerabilities: NOT CHECKED (no vulnerability database at {})",
                path.display()
            );
        }
    }
    let _ = writeln!(
        s,
        "  secrets:  {secrets} in {} text files searched",
        inv.secret_files_scanned
    );
    if list && !inv.packages.is_empty() {
        let _ = writeln!(s, "\nPackages");
        let w = inv
            .packages
            .iter()
            .map(|p| p.package.name.len())
            .max()
            .unwrap_or(4)
            .min(48);
        let vw = inv
            .packages
            .iter()
            .map(|p| p.package.version.len())
            .max()
            .unwrap_or(7)
            .min(40);
        let _ = writeln!(
            s,
            "  {:<w$}  {:<vw$}  {:<9}  {:<12}  PATH",
            "NAME", "VERSION", "TYPE", "LAYER"
        );
        for p in &inv.packages {
            let layer = p.package.layer.as_deref().unwrap_or("-");
            let short = layer
                .split(':')
                .nth(1)
                .map_or(layer, |h| &h[..h.len().min(12)]);
            let _ = writeln!(
                s,
                "  {:<w$}  {:<vw$}  {:<9}  {:<12}  {}",
                p.package.name,
                p.package.version,
                p.kind.as_str(),
                short,
                p.package.path.as_deref().unwrap_or("")
            );
        }
    }
    for n in &inv.notices {
        let _ = writeln!(s, "note: {n}");
    }
    for w in &inv.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s.push('\n');
    s
}
