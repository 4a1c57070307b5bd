//! Pod Security Standards, checked exactly as upstream Pod Security Admission checks them, at
//! every policy version from `v1.0` to `latest`.
//!
//! ```
//! use mamori_policy::pss::{check_pod, Level, PodLike, Version};
//! let pod = serde_json::json!({
//!     "metadata": {"name": "web"},
//!     "spec": {"containers": [{"name": "app", "image": "nginx",
//!              "securityContext": {"privileged": true}}]}
//! });
//! let pod = PodLike::from_value(&pod).unwrap();
//! let v = check_pod(Level::Baseline, "v1.25".parse().unwrap(), &pod);
//! assert_eq!(v[0].check, "privileged");
//! assert_eq!(v[0].pointer, "/spec/containers/0/securityContext/privileged");
//! ```

mod checks;
mod pod;

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

pub use pod::{
    Capabilities, Container, ContainerKind, ContainerPort, ContainerRef, Handler, HostField,
    Lifecycle, ObjectMeta, PodDecodeError, PodLike, PodOs, PodSecurityContext, PodSpec,
    ProfileType, Resources, SeLinuxOptions, SecurityContext, Sysctl, Volume, WindowsOptions,
};

/// A Pod Security Standards level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Level {
    /// No restrictions.
    Privileged,
    /// Prevents known privilege escalations.
    Baseline,
    /// Hardening best practices on top of baseline.
    Restricted,
}

impl Level {
    /// The label value (`privileged`, `baseline`, `restricted`).
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Privileged => "privileged",
            Level::Baseline => "baseline",
            Level::Restricted => "restricted",
        }
    }
}

impl fmt::Display for Level {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A level or version string could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseError {
    /// Not `privileged`, `baseline` or `restricted`.
    #[error("unknown pod security level {0:?} (expected privileged, baseline or restricted)")]
    Level(String),
    /// Not `latest` or `v1.<minor>`.
    #[error("invalid pod security version {0:?} (expected \"latest\" or \"v1.<minor>\", e.g. \"v1.25\")")]
    Version(String),
}

impl FromStr for Level {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "privileged" => Ok(Level::Privileged),
            "baseline" => Ok(Level::Baseline),
            "restricted" => Ok(Level::Restricted),
            _ => Err(ParseError::Level(s.to_string())),
        }
    }
}

/// A Pod Security Standards policy version: `v1.<minor>` or `latest`.
///
/// Any minor parses, including ones newer than the checks know (they then behave like `latest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Version {
    /// `v1.<minor>`.
    V1(u32),
    /// `latest`: the newest check bodies.
    Latest,
}

impl Version {
    /// The newest minor version for which check bodies changed or fixtures exist.
    pub const NEWEST_KNOWN_MINOR: u32 = 37;

    /// The minor number used to pick check bodies (`latest` = no upper bound).
    pub(crate) fn minor(self) -> u32 {
        match self {
            Version::V1(m) => m,
            Version::Latest => u32::MAX,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::V1(m) => write!(f, "v1.{m}"),
            Version::Latest => f.write_str("latest"),
        }
    }
}

impl FromStr for Version {
    type Err = ParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s == "latest" {
            return Ok(Version::Latest);
        }
        let minor = s
            .strip_prefix("v1.")
            .filter(|m| !m.is_empty() && m.bytes().all(|b| b.is_ascii_digit()))
            .filter(|m| m.len() == 1 || !m.starts_with('0'))
            .and_then(|m| m.parse::<u32>().ok())
            .ok_or_else(|| ParseError::Version(s.to_string()))?;
        Ok(Version::V1(minor))
    }
}

impl Serialize for Version {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Version {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A level at a version, written `level:version` (`restricted:v1.25`, `baseline:latest`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct LevelVersion {
    /// The level.
    pub level: Level,
    /// The version.
    pub version: Version,
}

impl fmt::Display for LevelVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.level, self.version)
    }
}

impl FromStr for LevelVersion {
    type Err = ParseError;
    /// Parses `LEVEL` or `LEVEL:VERSION` (the version defaults to `latest`).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let (level, version) = match s.split_once(':') {
            Some((l, v)) => (l.parse()?, v.parse()?),
            None => (s.parse()?, Version::Latest),
        };
        Ok(LevelVersion { level, version })
    }
}

/// One failed Pod Security check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Violation {
    /// The check id as Pod Security Admission names it (`privileged`, `runAsNonRoot`, …).
    pub check: &'static str,
    /// The forbidden reason as PSA words it (`privileged`, `runAsNonRoot != true`, …).
    pub reason: String,
    /// The detail as PSA words it (`container "app" must not set securityContext.privileged=true`).
    pub detail: String,
    /// JSON pointer (relative to the Pod) of the first offending field.
    pub pointer: String,
}

impl Violation {
    /// `reason (detail)`, the form used in PSA messages.
    pub fn summary(&self) -> String {
        if self.detail.is_empty() {
            self.reason.clone()
        } else {
            format!("{} ({})", self.reason, self.detail)
        }
    }
}

/// Checks a pod against `level` at `version`; an empty result means allowed.
///
/// Applies every baseline check (and, for `restricted`, every restricted check, with restricted
/// checks replacing the baseline checks they override) using, for each check, the body with the
/// highest minimum version not above `version`.
pub fn check_pod(level: Level, version: Version, pod: &PodLike) -> Vec<Violation> {
    checks::run(level, version, pod)
}

/// The PSA denial text: `violates PodSecurity "restricted:v1.25": reason (detail), …`.
pub fn violation_message(lv: LevelVersion, violations: &[Violation]) -> String {
    let parts: Vec<String> = violations.iter().map(Violation::summary).collect();
    format!("violates PodSecurity \"{lv}\": {}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_and_order() {
        assert_eq!("v1.25".parse::<Version>(), Ok(Version::V1(25)));
        assert_eq!("latest".parse::<Version>(), Ok(Version::Latest));
        assert!("1.25".parse::<Version>().is_err());
        assert!("v2.0".parse::<Version>().is_err());
        assert!("v1.".parse::<Version>().is_err());
        assert!("v1.01".parse::<Version>().is_err());
        assert!(Version::V1(99) < Version::Latest);
        let lv: LevelVersion = "restricted:v1.25".parse().unwrap();
        assert_eq!(lv.to_string(), "restricted:v1.25");
        assert_eq!(
            "baseline".parse::<LevelVersion>().unwrap().version,
            Version::Latest
        );
        assert!("root:v1.2".parse::<LevelVersion>().is_err());
    }

    #[test]
    fn message_is_worded_like_psa() {
        let pod = serde_json::json!({"spec": {"containers": [{"name": "c"}]}});
        let pod = PodLike::from_value(&pod).unwrap();
        let lv: LevelVersion = "restricted:v1.25".parse().unwrap();
        let v = check_pod(lv.level, lv.version, &pod);
        let msg = violation_message(lv, &v);
        assert!(msg.starts_with("violates PodSecurity \"restricted:v1.25\": "));
        assert!(msg.contains("allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false)"), "{msg}");
        assert!(msg.contains("runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true)"), "{msg}");
    }

    #[test]
    fn wrong_types_fail_to_decode() {
        let pod = serde_json::json!({"spec": {"containers": [{"name": "c",
            "securityContext": {"privileged": "yes"}}]}});
        assert!(PodLike::from_value(&pod).is_err());
        let pod = serde_json::json!({"spec": {"containers": null, "volumes": null}});
        assert!(PodLike::from_value(&pod).is_ok());
    }

    #[test]
    fn ephemeral_containers_are_checked() {
        let pod = serde_json::json!({"spec": {"containers": [{"name": "c"}],
            "ephemeralContainers": [{"name": "dbg", "securityContext": {"privileged": true}}]}});
        let pod = PodLike::from_value(&pod).unwrap();
        let v = check_pod(Level::Baseline, Version::Latest, &pod);
        assert_eq!(v.len(), 1);
        assert_eq!(
            v[0].pointer,
            "/spec/ephemeralContainers/0/securityContext/privileged"
        );
        assert_eq!(
            v[0].detail,
            "container \"dbg\" must not set securityContext.privileged=true"
        );
    }
}
