//! The [`ImageScanner`] of the binary: mamori's image scanner (registry pull, package
//! inventory, secrets) and vulnerability database, turned into an [`ImageVerdict`].
//!
//! Only registry references are scanned: a pod's `image` never names a local path (`oci:`,
//! `dir:` and the like are refused), so a pod author cannot make the webhook read its files.
//! Malware is not scanned by mamori; `malware` is always 0.

use std::sync::Arc;

use mamori_core::ImageRef;
use mamori_image::{scan, ScanOptions, SourceRef};
use mamori_policy::document::{AttackComplexity, AttackVector};
use mamori_policy::verdict::{ImageVerdict, VerdictVulnerability};
use mamori_vulndb::{Database, Suppressions};

use crate::verdicts::{ImageScanner, ScannedImage};

/// Scans registry images and matches their packages against a vulnerability database.
pub struct RegistryScanner {
    db: Arc<Database>,
    options: ScanOptions,
    suppressions: Suppressions,
}

impl std::fmt::Debug for RegistryScanner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryScanner")
            .field("db", &self.db.path())
            .finish_non_exhaustive()
    }
}

impl RegistryScanner {
    /// A scanner using `db`, pulling with `options` (platform, limits, registry settings;
    /// secret search is always on) and honouring `suppressions` (`.mamoriignore`, VEX).
    pub fn new(db: Arc<Database>, options: ScanOptions, suppressions: Suppressions) -> Self {
        let mut options = options;
        options.secrets = true;
        RegistryScanner {
            db,
            options,
            suppressions,
        }
    }
}

/// `AV:` and `AC:` of a CVSS v2/v3/v4 vector.
pub fn cvss_parts(vector: &str) -> (Option<AttackVector>, Option<AttackComplexity>) {
    let mut av = None;
    let mut ac = None;
    for part in vector.split('/') {
        match part.split_once(':') {
            Some(("AV", v)) => {
                av = match v {
                    "N" => Some(AttackVector::Network),
                    "A" => Some(AttackVector::Adjacent),
                    "L" => Some(AttackVector::Local),
                    "P" => Some(AttackVector::Physical),
                    _ => None,
                }
            }
            Some(("AC", v)) => {
                ac = match v {
                    "L" => Some(AttackComplexity::Low),
                    "H" | "M" => Some(AttackComplexity::High),
                    _ => None,
                }
            }
            _ => {}
        }
    }
    (av, ac)
}

impl ImageScanner for RegistryScanner {
    fn scan(&self, image: &str) -> Result<ScannedImage, String> {
        const LOCAL: [&str; 5] = [
            "oci:",
            "oci-archive:",
            "docker-archive:",
            "dir:",
            "registry:",
        ];
        if LOCAL.iter().any(|p| image.starts_with(p))
            || image.contains("://")
            || image.starts_with(['/', '.'])
        {
            return Err(format!(
                "not a registry image reference: {image:?} names a local path or transport"
            ));
        }
        let r: ImageRef = image
            .parse()
            .map_err(|e| format!("not a registry image reference: {e}"))?;
        let source = SourceRef::Registry(r);
        let inv = scan(&source, &self.options).map_err(|e| e.to_string())?;
        let digest = inv
            .manifest_digest
            .clone()
            .ok_or_else(|| "the registry gave no manifest digest".to_string())?;
        let today = time::OffsetDateTime::now_utc().date();
        let mut vulnerabilities: Vec<VerdictVulnerability> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        for p in &inv.packages {
            let mut matches = match self.db.match_package(&p.package) {
                Ok(m) => m,
                Err(e) => {
                    tracing::debug!(package = %p.package.name, error = %e, "package not matched");
                    continue;
                }
            };
            self.suppressions.apply(&p.package, &mut matches, today);
            for m in matches.into_iter().filter(|m| m.suppressed.is_none()) {
                if !seen.insert(m.advisory_id.clone()) {
                    continue;
                }
                let (attack_vector, attack_complexity) = m
                    .severity
                    .as_ref()
                    .and_then(|s| s.vector.as_deref())
                    .map(cvss_parts)
                    .unwrap_or((None, None));
                vulnerabilities.push(VerdictVulnerability {
                    severity: m.rating(),
                    fixable: m.fix_available,
                    attack_vector,
                    attack_complexity,
                    id: m.advisory_id,
                });
            }
        }
        Ok(ScannedImage {
            digest,
            verdict: ImageVerdict {
                scanned_at: time::OffsetDateTime::now_utc(),
                vulnerabilities,
                secrets: u32::try_from(inv.secrets.len()).unwrap_or(u32::MAX),
                malware: 0,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cvss_vectors_of_each_version() {
        assert_eq!(
            cvss_parts("CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"),
            (Some(AttackVector::Network), Some(AttackComplexity::Low))
        );
        assert_eq!(
            cvss_parts("AV:L/AC:M/Au:N/C:P/I:P/A:P"),
            (Some(AttackVector::Local), Some(AttackComplexity::High))
        );
        assert_eq!(
            cvss_parts("CVSS:4.0/AV:P/AC:H/AT:N/PR:N/UI:N/VC:H/VI:H/VA:H/SC:N/SI:N/SA:N"),
            (Some(AttackVector::Physical), Some(AttackComplexity::High))
        );
        assert_eq!(cvss_parts("high"), (None, None));
    }

    #[test]
    fn local_paths_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("db");
        // An empty database is enough: the reference is refused before any pull.
        let src = dir.path().join("osv");
        std::fs::create_dir_all(&src).unwrap();
        std::fs::write(
            src.join("X-1.json"),
            r#"{"id":"X-1","modified":"2024-01-01T00:00:00Z","affected":[{"package":{"ecosystem":"Debian:12","name":"x"},"versions":["1"]}]}"#,
        )
        .unwrap();
        mamori_vulndb::import(
            &[mamori_vulndb::Source::Dir(src)],
            &db,
            &mamori_vulndb::ImportOptions::default(),
        )
        .unwrap();
        let s = RegistryScanner::new(
            Arc::new(Database::open(&db).unwrap()),
            ScanOptions::default(),
            Suppressions::new(),
        );
        for bad in ["oci:/etc", "dir:/", "docker-archive:/x.tar", "/etc/passwd"] {
            let e = s.scan(bad).unwrap_err();
            assert!(
                e.starts_with("not a registry image reference"),
                "{bad}: {e}"
            );
        }
    }
}
