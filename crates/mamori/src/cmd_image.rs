//! `mamori image scan`: image → package inventory, SBOM and image config findings.
//!
//! Vulnerability matching and secret detection are not wired into this command yet; the output
//! says so instead of pretending the image is clean.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand, ValueEnum};
use mamori_core::{Finding, Severity};
use mamori_image::sbom::{self, SbomMeta};
use mamori_image::{
    checks, glob::Glob, scan, Inventory, Limits, RegistryOptions, ScanOptions, SourceRef,
};

/// What is said wherever vulnerabilities would appear.
pub const VULN_NOT_WIRED: &str =
    "vulnerability matching is not wired into `mamori image scan` yet: this is a package inventory and image config scan only, not a vulnerability verdict";

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
    /// Machine-readable JSON.
    Json,
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
    /// Registry: seconds to wait for a connection and for response headers.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
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
            },
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
    pub output: Option<std::path::PathBuf>,
}

/// Runs `mamori image …`.
pub fn run(args: ImageArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        ImageCommand::Scan(a) => run_scan(a),
    }
}

fn run_scan(a: ScanArgs) -> anyhow::Result<ExitCode> {
    let (source, opts) = a.source.settings()?;
    let inv = scan(&source, &opts).with_context(|| format!("scanning {source}"))?;
    let findings: Vec<Finding> = checks::check(&inv)
        .into_iter()
        .filter(|f| f.severity >= a.severity)
        .collect();
    let text = match a.format {
        ScanFormat::Table => table(&inv, &findings, a.list_all_pkgs),
        ScanFormat::Json => {
            let mut v = serde_json::json!({
                "source": inv.source,
                "tags": inv.tags,
                "manifest_digest": inv.manifest_digest,
                "image_id": inv.image_id,
                "os": inv.os,
                "layers": inv.layers,
                "package_count": inv.packages.len(),
                "findings": findings,
                "vulnerabilities": {"status": "not-wired", "message": VULN_NOT_WIRED},
                "secrets": {"status": "not-wired", "message": "secret detection is not wired into `mamori image scan` yet"},
                "notices": inv.notices,
                "warnings": inv.warnings,
            });
            if a.list_all_pkgs {
                v["packages"] = serde_json::to_value(&inv.packages)?;
            }
            serde_json::to_string_pretty(&v)? + "\n"
        }
        ScanFormat::Cyclonedx => {
            serde_json::to_string_pretty(&sbom::cyclonedx::to_json(&inv, &SbomMeta::now(&inv)))?
                + "\n"
        }
        ScanFormat::SpdxJson => {
            serde_json::to_string_pretty(&sbom::spdx::to_json(&inv, &SbomMeta::now(&inv)))? + "\n"
        }
    };
    write_out(a.output.as_deref(), &text)?;
    if matches!(a.format, ScanFormat::Cyclonedx | ScanFormat::SpdxJson) {
        eprintln!("note: {VULN_NOT_WIRED}");
    }
    if a.exit_code != 0 && !findings.is_empty() {
        return Ok(ExitCode::from(a.exit_code));
    }
    Ok(ExitCode::SUCCESS)
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

fn table(inv: &Inventory, findings: &[Finding], list: bool) -> String {
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
    let _ = writeln!(s, "  vulnerabilities: NOT CHECKED ({VULN_NOT_WIRED})");
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
    let _ = writeln!(s, "\nImage config findings: {}", findings.len());
    for f in findings {
        let loc = f
            .location
            .path
            .as_deref()
            .or(f.location.pointer.as_deref())
            .unwrap_or("");
        let _ = writeln!(
            s,
            "  {:<8} {:<11} {}  {}",
            f.severity.as_str().to_uppercase(),
            f.rule_id,
            f.message,
            loc
        );
    }
    for n in &inv.notices {
        let _ = writeln!(s, "note: {n}");
    }
    for w in &inv.warnings {
        let _ = writeln!(s, "warning: {w}");
    }
    s
}
