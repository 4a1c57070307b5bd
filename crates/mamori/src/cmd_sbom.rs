//! `mamori sbom REF --format cyclonedx|spdx-json`: only the SBOM of an image.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, ValueEnum};
use mamori_image::sbom::{self, SbomMeta};
use mamori_image::scan;

use crate::cmd_image::{write_out, SourceArgs};

/// SBOM formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum SbomFormat {
    /// CycloneDX 1.5 JSON.
    Cyclonedx,
    /// SPDX 2.3 JSON.
    SpdxJson,
}

/// `mamori sbom REF`.
#[derive(Debug, Args)]
pub struct SbomArgs {
    /// The image and how to read it.
    #[command(flatten)]
    pub source: SourceArgs,
    /// SBOM format.
    #[arg(long, short = 'f', value_enum, default_value_t = SbomFormat::Cyclonedx)]
    pub format: SbomFormat,
    /// Write the SBOM to this file instead of stdout.
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// Runs `mamori sbom`.
pub fn run(a: SbomArgs) -> anyhow::Result<ExitCode> {
    let (source, opts) = a.source.settings()?;
    let inv = scan(&source, &opts).with_context(|| format!("scanning {source}"))?;
    for w in &inv.warnings {
        tracing::warn!("{w}");
    }
    if !a.source.quiet {
        for n in &inv.notices {
            eprintln!("note: {n}");
        }
    }
    let meta = SbomMeta::now(&inv);
    let doc = match a.format {
        SbomFormat::Cyclonedx => sbom::cyclonedx::to_json(&inv, &meta),
        SbomFormat::SpdxJson => sbom::spdx::to_json(&inv, &meta),
    };
    write_out(
        a.output.as_deref(),
        &(serde_json::to_string_pretty(&doc)? + "\n"),
    )?;
    Ok(ExitCode::SUCCESS)
}
