//! The error every version parser returns.

use std::fmt;

/// Which ordering scheme a version belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Scheme {
    /// Debian and Ubuntu (`dpkg --compare-versions`).
    Dpkg,
    /// RHEL family, SUSE, Amazon Linux (`rpmvercmp`, `[E:]V-R`).
    Rpm,
    /// Alpine and Wolfi (apk-tools).
    Apk,
    /// SemVer 2.0 (npm, Rust crates, NuGet-style, OSV `SEMVER` ranges).
    Semver,
    /// Go module versions, including pseudo-versions and `+incompatible`.
    Go,
    /// PEP 440 (PyPI).
    Pep440,
    /// Maven `ComparableVersion`.
    Maven,
    /// RubyGems `Gem::Version`.
    RubyGems,
}

impl Scheme {
    /// Every scheme, in declaration order.
    pub const ALL: [Scheme; 8] = [
        Scheme::Dpkg,
        Scheme::Rpm,
        Scheme::Apk,
        Scheme::Semver,
        Scheme::Go,
        Scheme::Pep440,
        Scheme::Maven,
        Scheme::RubyGems,
    ];

    /// Short lowercase name (`dpkg`, `rpm`, `apk`, `semver`, `go`, `pep440`, `maven`, `rubygems`).
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Dpkg => "dpkg",
            Scheme::Rpm => "rpm",
            Scheme::Apk => "apk",
            Scheme::Semver => "semver",
            Scheme::Go => "go",
            Scheme::Pep440 => "pep440",
            Scheme::Maven => "maven",
            Scheme::RubyGems => "rubygems",
        }
    }
}

impl fmt::Display for Scheme {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A version string that is not valid in its scheme.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {scheme} version {input:?}: {reason}")]
pub struct ParseVersionError {
    /// The scheme the string was parsed as.
    pub scheme: Scheme,
    /// The string as given.
    pub input: String,
    /// Why it is invalid.
    pub reason: String,
}

impl ParseVersionError {
    pub(crate) fn new(scheme: Scheme, input: &str, reason: impl Into<String>) -> Self {
        ParseVersionError {
            scheme,
            input: input.to_string(),
            reason: reason.into(),
        }
    }
}

/// Implements `Display` (the original text), `PartialEq`, `Eq` and `PartialOrd` from `Ord` for a
/// version type with a `raw: String` field.
macro_rules! version_common {
    ($ty:ty) => {
        impl std::fmt::Display for $ty {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(&self.raw)
            }
        }
        impl PartialEq for $ty {
            fn eq(&self, other: &Self) -> bool {
                self.cmp(other) == std::cmp::Ordering::Equal
            }
        }
        impl Eq for $ty {}
        impl PartialOrd for $ty {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }
        impl std::str::FromStr for $ty {
            type Err = $crate::ParseVersionError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                <$ty>::parse(s)
            }
        }
        impl $ty {
            /// The version exactly as it was written.
            pub fn as_str(&self) -> &str {
                &self.raw
            }
        }
    };
}
pub(crate) use version_common;
