//! From an [`Inventory`] to [`Finding`]s: vulnerabilities (packages matched against a
//! [`mamori_vulndb::Database`]) and secrets found in the image's files.
//!
//! Vulnerability findings use the advisory id as rule id (aliases and merged ids become
//! [`Reference::Advisory`]s), the match's severity (`unknown` when the advisory gives none),
//! NIST SP 800-190 risk 3.1.1, and the package's file and layer as location. Matches that a
//! `.mamoriignore` rule or an OpenVEX statement suppresses are returned apart, with the reason,
//! never silently dropped.
//!
//! Secret findings use `MK-SEC-<KIND>` rule ids (see [`secret_rule_id`]), NIST risk 3.1.4, the
//! file, line and layer as location, and carry only the redacted value. Secrets in files that a
//! later layer deletes are reported too (the layer still holds them), saying so.

use mamori_core::{Area, Finding, Location, Package, Reference, Severity, Target};
use mamori_secrets::SecretKind;
use mamori_vulndb::{Database, Match, Suppression, Suppressions};
use serde::Serialize;

use crate::Inventory;

/// How vulnerabilities are matched.
#[derive(Debug, Clone, Copy)]
pub struct VulnOptions {
    /// Leave out matches for which no fixed version exists (Trivy's `--ignore-unfixed`).
    pub ignore_unfixed: bool,
    /// The day against which ignore-rule expiry dates are checked.
    pub today: time::Date,
}

/// A finding that a suppression rule applies to.
#[derive(Debug, Clone, Serialize)]
pub struct SuppressedFinding {
    /// The finding as it would have been reported.
    #[serde(flatten)]
    pub finding: Finding,
    /// Which rule suppresses it and why.
    pub suppression: Suppression,
}

/// What vulnerability matching produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct VulnScan {
    /// Packages looked up in the database.
    pub packages_checked: usize,
    /// Reported vulnerabilities.
    pub findings: Vec<Finding>,
    /// Vulnerabilities suppressed by `.mamoriignore` rules or VEX statements.
    pub suppressed: Vec<SuppressedFinding>,
    /// Matches left out because no fix exists (`ignore_unfixed`).
    pub unfixed_ignored: usize,
    /// Packages that could not be matched (e.g. a version invalid in its ecosystem).
    pub errors: Vec<String>,
}

/// Matches every package of `inv` against `db`; `rules` mark suppressed matches.
pub fn vulnerabilities(
    inv: &Inventory,
    db: &Database,
    rules: &Suppressions,
    opts: &VulnOptions,
) -> VulnScan {
    let target = Target::image(inv.source.clone());
    let mut out = VulnScan::default();
    for p in &inv.packages {
        out.packages_checked += 1;
        let mut matches = match db.match_package(&p.package) {
            Ok(m) => m,
            Err(e) => {
                out.errors.push(format!(
                    "{} {} ({}): {e}",
                    p.package.name,
                    p.package.version,
                    p.package.path.as_deref().unwrap_or("-")
                ));
                continue;
            }
        };
        if opts.ignore_unfixed {
            let before = matches.len();
            matches.retain(|m| m.fix_available);
            out.unfixed_ignored += before - matches.len();
        }
        rules.apply(&p.package, &mut matches, opts.today);
        for m in matches {
            let f = vuln_finding(&target, &p.package, &m);
            match m.suppressed {
                Some(suppression) => out.suppressed.push(SuppressedFinding {
                    finding: f,
                    suppression,
                }),
                None => out.findings.push(f),
            }
        }
    }
    out
}

/// The finding for one match of one package.
pub fn vuln_finding(target: &Target, pkg: &Package, m: &Match) -> Finding {
    let title = m
        .summary
        .clone()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| format!("{} is vulnerable", pkg.name));
    let fix = if m.fixed_versions.is_empty() {
        "no fix yet".to_string()
    } else {
        format!("fixed in {}", m.fixed_versions.join(", "))
    };
    let mut f = Finding::new(m.advisory_id.clone(), title, m.rating(), Area::Image)
        .with_target(target.clone())
        .with_nist("3.1.1")
        .with_location(Location {
            path: pkg.path.clone(),
            layer: pkg.layer.clone(),
            ..Location::default()
        })
        .with_message(format!(
            "{} {} is affected by {}; {fix}",
            pkg.name, pkg.version, m.advisory_id
        ));
    if let Some(first) = m.fixed_versions.first() {
        f = f.with_remediation(format!("upgrade {} to {first} or later", pkg.name));
    }
    for id in m.merged_ids.iter().chain(&m.aliases) {
        f = f.with_reference(Reference::Advisory(id.clone()));
    }
    f
}

/// The rule id of a secret kind: `MK-SEC-AWS-ACCESS-KEY-ID`, `MK-SEC-PRIVATE-KEY`, ….
pub fn secret_rule_id(kind: SecretKind) -> &'static str {
    match kind {
        SecretKind::AwsAccessKeyId => "MK-SEC-AWS-ACCESS-KEY-ID",
        SecretKind::AwsSecretAccessKey => "MK-SEC-AWS-SECRET-ACCESS-KEY",
        SecretKind::PrivateKey => "MK-SEC-PRIVATE-KEY",
        SecretKind::GithubToken => "MK-SEC-GITHUB-TOKEN",
        SecretKind::GitlabToken => "MK-SEC-GITLAB-TOKEN",
        SecretKind::SlackToken => "MK-SEC-SLACK-TOKEN",
        SecretKind::Jwt => "MK-SEC-JWT",
        SecretKind::Password => "MK-SEC-PASSWORD",
    }
}

/// How severe a leaked secret of this kind is: cloud keys and access tokens are critical,
/// private keys, JWTs and literal passwords high.
pub fn secret_severity(kind: SecretKind) -> Severity {
    match kind {
        SecretKind::AwsAccessKeyId
        | SecretKind::AwsSecretAccessKey
        | SecretKind::GithubToken
        | SecretKind::GitlabToken
        | SecretKind::SlackToken => Severity::Critical,
        SecretKind::PrivateKey | SecretKind::Jwt | SecretKind::Password => Severity::High,
    }
}

/// One finding per secret found in the image's files (see [`Inventory::secrets`]).
pub fn secret_findings(inv: &Inventory) -> Vec<Finding> {
    let target = Target::image(inv.source.clone());
    inv.secrets
        .iter()
        .map(|s| {
            let kind = s.secret.kind;
            Finding::new(
                secret_rule_id(kind),
                format!("Secret in image file: {}", kind.describe()),
                secret_severity(kind),
                Area::Image,
            )
            .with_target(target.clone())
            .with_nist("3.1.4")
            .with_location(Location {
                path: Some(s.path.clone()),
                line: Some(s.secret.line),
                column: Some(s.secret.column),
                layer: s.layer.clone(),
                ..Location::default()
            })
            .with_message(format!(
                "{} {} at {}:{} (redacted){}",
                kind.describe(),
                s.secret.redacted,
                s.path,
                s.secret.line,
                if s.hidden {
                    "; a later layer deletes or replaces the file, but this layer still holds it"
                } else {
                    ""
                }
            ))
            .with_remediation(
                "remove the secret from the image (it stays in the layer even if a later layer deletes it), rotate it, and pass secrets at run time",
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_core::Ecosystem;

    #[test]
    fn match_becomes_finding_with_fix_and_aliases() {
        let mut pkg = Package::new(Ecosystem::PyPI, "requests", "2.25.0");
        pkg.path = Some("usr/lib/python3/dist-packages/requests-2.25.0.dist-info/METADATA".into());
        pkg.layer = Some("sha256:abc".into());
        let m = Match {
            advisory_id: "PYSEC-2023-74".into(),
            aliases: vec!["CVE-2023-32681".into()],
            merged_ids: vec!["GHSA-j8r2-6x86-q33q".into()],
            summary: None,
            severity: None,
            ecosystem: "PyPI".into(),
            package: "requests".into(),
            version: "2.25.0".into(),
            matched: vec![],
            fixed_versions: vec!["2.31.0".into()],
            fix_available: true,
            suppressed: None,
        };
        let f = vuln_finding(&Target::image("oci:x"), &pkg, &m);
        assert_eq!(f.rule_id, "PYSEC-2023-74");
        assert_eq!(f.severity, Severity::Unknown);
        assert_eq!(
            f.message,
            "requests 2.25.0 is affected by PYSEC-2023-74; fixed in 2.31.0"
        );
        assert_eq!(
            f.remediation.as_deref(),
            Some("upgrade requests to 2.31.0 or later")
        );
        let refs: Vec<&str> = f.references.iter().map(Reference::id).collect();
        assert_eq!(refs, ["GHSA-j8r2-6x86-q33q", "CVE-2023-32681"]);
        assert_eq!(f.location.layer.as_deref(), Some("sha256:abc"));
        let unfixed = Match {
            fixed_versions: vec![],
            fix_available: false,
            ..m
        };
        let f = vuln_finding(&Target::image("oci:x"), &pkg, &unfixed);
        assert!(f.message.ends_with("; no fix yet"), "{}", f.message);
        assert!(f.remediation.is_none());
    }
}
