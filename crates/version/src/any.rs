//! A version of any scheme, and the mapping from OSV ecosystem names to schemes.

use std::cmp::Ordering;
use std::fmt;

use crate::{
    ApkVersion, DpkgVersion, GemVersion, GoVersion, MavenVersion, ParseVersionError, Pep440Version,
    RpmVersion, Scheme, SemVer,
};

/// A parsed version of one of the supported schemes.
///
/// Versions of different schemes are not comparable in any meaningful way; [`Ord`] orders them by
/// scheme first so that the type still has a total order.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum Version {
    /// dpkg.
    Dpkg(DpkgVersion),
    /// rpm.
    Rpm(RpmVersion),
    /// apk.
    Apk(ApkVersion),
    /// SemVer 2.0.
    Semver(SemVer),
    /// Go modules.
    Go(GoVersion),
    /// PEP 440.
    Pep440(Pep440Version),
    /// Maven.
    Maven(MavenVersion),
    /// RubyGems.
    RubyGems(GemVersion),
}

impl Version {
    /// Parses `s` in `scheme`.
    pub fn parse(scheme: Scheme, s: &str) -> Result<Version, ParseVersionError> {
        Ok(match scheme {
            Scheme::Dpkg => Version::Dpkg(DpkgVersion::parse(s)?),
            Scheme::Rpm => Version::Rpm(RpmVersion::parse(s)?),
            Scheme::Apk => Version::Apk(ApkVersion::parse(s)?),
            Scheme::Semver => Version::Semver(SemVer::parse(s)?),
            Scheme::Go => Version::Go(GoVersion::parse(s)?),
            Scheme::Pep440 => Version::Pep440(Pep440Version::parse(s)?),
            Scheme::Maven => Version::Maven(MavenVersion::parse(s)?),
            Scheme::RubyGems => Version::RubyGems(GemVersion::parse(s)?),
        })
    }

    /// The scheme of this version.
    pub fn scheme(&self) -> Scheme {
        match self {
            Version::Dpkg(_) => Scheme::Dpkg,
            Version::Rpm(_) => Scheme::Rpm,
            Version::Apk(_) => Scheme::Apk,
            Version::Semver(_) => Scheme::Semver,
            Version::Go(_) => Scheme::Go,
            Version::Pep440(_) => Scheme::Pep440,
            Version::Maven(_) => Scheme::Maven,
            Version::RubyGems(_) => Scheme::RubyGems,
        }
    }
}

impl fmt::Display for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Version::Dpkg(v) => v.fmt(f),
            Version::Rpm(v) => v.fmt(f),
            Version::Apk(v) => v.fmt(f),
            Version::Semver(v) => v.fmt(f),
            Version::Go(v) => v.fmt(f),
            Version::Pep440(v) => v.fmt(f),
            Version::Maven(v) => v.fmt(f),
            Version::RubyGems(v) => v.fmt(f),
        }
    }
}

/// Parses both strings in `scheme` and compares them.
pub fn compare(scheme: Scheme, a: &str, b: &str) -> Result<Ordering, ParseVersionError> {
    Ok(Version::parse(scheme, a)?.cmp(&Version::parse(scheme, b)?))
}

impl Scheme {
    /// The ordering used by an OSV ecosystem name (`Debian:12`, `PyPI`, `AlmaLinux:9`, …) for
    /// `ECOSYSTEM` ranges; a `:release` suffix is ignored. Also accepts the aliases `dpkg`,
    /// `deb`, `rpm`, `apk`, `semver`, `pep440`, `maven`, `gem` and the scheme names themselves.
    /// `None` for ecosystems whose ordering is not implemented.
    pub fn for_ecosystem(ecosystem: &str) -> Option<Scheme> {
        let base = ecosystem.split(':').next().unwrap_or(ecosystem); // ok: split yields ≥1 item
        let lower = base.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "debian" | "ubuntu" | "dpkg" | "deb" => Scheme::Dpkg,
            "alpine"
            | "wolfi"
            | "chainguard"
            | "apk"
            | "alpaquita"
            | "bellsoft hardened containers"
            | "minimos" => Scheme::Apk,
            "almalinux" | "rocky linux" | "red hat" | "redhat" | "rhel" | "opensuse" | "suse"
            | "photon os" | "azure linux" | "mageia" | "openeuler" | "amazon linux" | "fedora"
            | "centos" | "oracle linux" | "rpm" => Scheme::Rpm,
            "npm" | "crates.io" | "nuget" | "semver" | "hex" | "pub" | "swifturl" => Scheme::Semver,
            "go" | "golang" => Scheme::Go,
            "pypi" | "pep440" | "python" => Scheme::Pep440,
            "maven" => Scheme::Maven,
            "rubygems" | "gem" => Scheme::RubyGems,
            _ => return None,
        })
    }
}
