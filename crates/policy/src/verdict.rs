//! Scan results of images, obtained through a [`VerdictSource`] the binary provides.

use mamori_core::Severity;
use time::OffsetDateTime;

use crate::document::{AttackComplexity, AttackVector};

/// One vulnerability found in an image, as far as rules need it.
#[derive(Debug, Clone, PartialEq)]
pub struct VerdictVulnerability {
    /// Advisory id (`CVE-2024-1234`, `GHSA-…`).
    pub id: String,
    /// Severity.
    pub severity: Severity,
    /// Whether a fixed version exists.
    pub fixable: bool,
    /// CVSS attack vector, when known.
    pub attack_vector: Option<AttackVector>,
    /// CVSS attack complexity, when known.
    pub attack_complexity: Option<AttackComplexity>,
}

/// What a scan found in one image.
#[derive(Debug, Clone, PartialEq)]
pub struct ImageVerdict {
    /// When the scan ran.
    pub scanned_at: OffsetDateTime,
    /// Vulnerabilities found.
    pub vulnerabilities: Vec<VerdictVulnerability>,
    /// Number of secrets found.
    pub secrets: u32,
    /// Number of malware findings.
    pub malware: u32,
}

/// Looking up a verdict failed (the image then counts as unscanned).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("scan result unavailable for {image}: {reason}")]
pub struct VerdictError {
    /// The image reference.
    pub image: String,
    /// Why.
    pub reason: String,
}

/// Where scan verdicts come from. The binary implements it with mamori's scanner and a cache
/// keyed by image digest; a scan on a miss must respect its own time budget and otherwise return
/// `Ok(None)` (unscanned). Implementations must be cheap to call from many threads.
pub trait VerdictSource: Send + Sync {
    /// The verdict for `image` (as written in the pod spec), or `None` when it was never scanned.
    fn verdict(&self, image: &str) -> Result<Option<ImageVerdict>, VerdictError>;
}

/// A verdict source that knows nothing: every image is unscanned.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVerdicts;

impl VerdictSource for NoVerdicts {
    fn verdict(&self, _image: &str) -> Result<Option<ImageVerdict>, VerdictError> {
        Ok(None)
    }
}

/// A fixed map of verdicts by image reference (tests, offline use).
#[derive(Debug, Clone, Default)]
pub struct StaticVerdicts(pub std::collections::BTreeMap<String, ImageVerdict>);

impl VerdictSource for StaticVerdicts {
    fn verdict(&self, image: &str) -> Result<Option<ImageVerdict>, VerdictError> {
        Ok(self.0.get(image).cloned())
    }
}
