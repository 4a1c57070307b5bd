//! Installed packages and package URLs (purl).

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A package ecosystem, named as OSV names it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Ecosystem {
    /// Debian packages (dpkg).
    Debian,
    /// Ubuntu packages (dpkg).
    Ubuntu,
    /// Alpine packages (apk).
    Alpine,
    /// AlmaLinux packages (rpm).
    AlmaLinux,
    /// Rocky Linux packages (rpm).
    #[serde(rename = "Rocky Linux")]
    RockyLinux,
    /// Red Hat Enterprise Linux packages (rpm).
    #[serde(rename = "Red Hat")]
    RedHat,
    /// Python packages.
    PyPI,
    /// JavaScript packages.
    #[serde(rename = "npm")]
    Npm,
    /// Rust packages.
    #[serde(rename = "crates.io")]
    CratesIo,
    /// Go modules.
    Go,
    /// Java packages.
    Maven,
    /// Ruby gems.
    RubyGems,
    /// .NET packages.
    NuGet,
    /// PHP packages.
    Packagist,
    /// Any other ecosystem, by its OSV name.
    #[serde(untagged)]
    Other(String),
}

impl Ecosystem {
    /// The OSV name of the ecosystem.
    pub fn as_str(&self) -> &str {
        match self {
            Ecosystem::Debian => "Debian",
            Ecosystem::Ubuntu => "Ubuntu",
            Ecosystem::Alpine => "Alpine",
            Ecosystem::AlmaLinux => "AlmaLinux",
            Ecosystem::RockyLinux => "Rocky Linux",
            Ecosystem::RedHat => "Red Hat",
            Ecosystem::PyPI => "PyPI",
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "crates.io",
            Ecosystem::Go => "Go",
            Ecosystem::Maven => "Maven",
            Ecosystem::RubyGems => "RubyGems",
            Ecosystem::NuGet => "NuGet",
            Ecosystem::Packagist => "Packagist",
            Ecosystem::Other(s) => s,
        }
    }

    /// The purl type for packages of this ecosystem.
    pub fn purl_type(&self) -> &str {
        match self {
            Ecosystem::Debian | Ecosystem::Ubuntu => "deb",
            Ecosystem::Alpine => "apk",
            Ecosystem::AlmaLinux | Ecosystem::RockyLinux | Ecosystem::RedHat => "rpm",
            Ecosystem::PyPI => "pypi",
            Ecosystem::Npm => "npm",
            Ecosystem::CratesIo => "cargo",
            Ecosystem::Go => "golang",
            Ecosystem::Maven => "maven",
            Ecosystem::RubyGems => "gem",
            Ecosystem::NuGet => "nuget",
            Ecosystem::Packagist => "composer",
            Ecosystem::Other(_) => "generic",
        }
    }

    /// Whether this is an operating-system package ecosystem (versions per distro release).
    pub fn is_os(&self) -> bool {
        matches!(
            self,
            Ecosystem::Debian
                | Ecosystem::Ubuntu
                | Ecosystem::Alpine
                | Ecosystem::AlmaLinux
                | Ecosystem::RockyLinux
                | Ecosystem::RedHat
        )
    }
}

impl fmt::Display for Ecosystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Ecosystem {
    type Err = std::convert::Infallible;

    /// Parses an OSV ecosystem name; a `:release` suffix (`Debian:12`) is not part of the name and
    /// must be split off by the caller. Unknown names become [`Ecosystem::Other`].
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "Debian" => Ecosystem::Debian,
            "Ubuntu" => Ecosystem::Ubuntu,
            "Alpine" => Ecosystem::Alpine,
            "AlmaLinux" => Ecosystem::AlmaLinux,
            "Rocky Linux" => Ecosystem::RockyLinux,
            "Red Hat" => Ecosystem::RedHat,
            "PyPI" => Ecosystem::PyPI,
            "npm" => Ecosystem::Npm,
            "crates.io" => Ecosystem::CratesIo,
            "Go" => Ecosystem::Go,
            "Maven" => Ecosystem::Maven,
            "RubyGems" => Ecosystem::RubyGems,
            "NuGet" => Ecosystem::NuGet,
            "Packagist" => Ecosystem::Packagist,
            other => Ecosystem::Other(other.to_string()),
        })
    }
}

/// One installed package.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Package {
    /// Its ecosystem.
    pub ecosystem: Ecosystem,
    /// Distro release for OS packages (`12` for Debian bookworm, `v3.19` for Alpine).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<String>,
    /// Package name.
    pub name: String,
    /// Installed version, as the ecosystem writes it.
    pub version: String,
    /// Source package name (Debian `Source:`, rpm source rpm), when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version, when it differs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Package URL.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub purl: Option<String>,
    /// Digest of the image layer that introduced this version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub layer: Option<String>,
    /// Path of the file the package was found in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl Package {
    /// A package with only ecosystem, name and version set.
    pub fn new(ecosystem: Ecosystem, name: impl Into<String>, version: impl Into<String>) -> Self {
        Package {
            ecosystem,
            release: None,
            name: name.into(),
            version: version.into(),
            source_name: None,
            source_version: None,
            purl: None,
            layer: None,
            path: None,
        }
    }
}

/// A package URL (`pkg:TYPE/NAMESPACE/NAME@VERSION?QUALIFIERS#SUBPATH`), per the purl spec.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Purl {
    /// Package type (`deb`, `pypi`, `npm`, …), lowercase.
    pub ty: String,
    /// Namespace (`debian`, `@scope`, a Maven group), if any.
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Version, if any.
    pub version: Option<String>,
    /// Qualifiers (`arch`, `distro`, `epoch`, …), sorted by key.
    pub qualifiers: BTreeMap<String, String>,
    /// Subpath, if any.
    pub subpath: Option<String>,
}

/// Why a string is not a purl.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid purl {input:?}: {reason}")]
pub struct ParsePurlError {
    input: String,
    reason: &'static str,
}

impl Purl {
    /// A purl with the given type and name and nothing else.
    pub fn new(ty: impl Into<String>, name: impl Into<String>) -> Self {
        Purl {
            ty: ty.into().to_ascii_lowercase(),
            namespace: None,
            name: name.into(),
            version: None,
            qualifiers: BTreeMap::new(),
            subpath: None,
        }
    }

    /// Sets the namespace.
    pub fn with_namespace(mut self, ns: impl Into<String>) -> Self {
        self.namespace = Some(ns.into());
        self
    }

    /// Sets the version.
    pub fn with_version(mut self, v: impl Into<String>) -> Self {
        self.version = Some(v.into());
        self
    }

    /// Adds a qualifier; empty values are omitted, as the spec requires.
    pub fn with_qualifier(mut self, k: impl Into<String>, v: impl Into<String>) -> Self {
        let v = v.into();
        if !v.is_empty() {
            self.qualifiers.insert(k.into().to_ascii_lowercase(), v);
        }
        self
    }
}

impl fmt::Display for Purl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "pkg:{}/", self.ty)?;
        if let Some(ns) = &self.namespace {
            for (i, seg) in ns.split('/').filter(|s| !s.is_empty()).enumerate() {
                if i > 0 {
                    f.write_str("/")?;
                }
                f.write_str(&encode(seg))?;
            }
            f.write_str("/")?;
        }
        f.write_str(&encode(&self.name))?;
        if let Some(v) = &self.version {
            write!(f, "@{}", encode(v))?;
        }
        for (i, (k, v)) in self.qualifiers.iter().enumerate() {
            let sep = if i == 0 { '?' } else { '&' };
            write!(f, "{sep}{k}={}", encode(v))?;
        }
        if let Some(sp) = &self.subpath {
            write!(f, "#{}", encode_path(sp))?;
        }
        Ok(())
    }
}

impl FromStr for Purl {
    type Err = ParsePurlError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| ParsePurlError {
            input: s.to_string(),
            reason,
        };
        let rest = s.strip_prefix("pkg:").ok_or_else(|| err("missing pkg: scheme"))?;
        let rest = rest.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, sp)) => (r, Some(decode(sp.trim_matches('/')).map_err(err)?)),
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => {
                let mut map = BTreeMap::new();
                for pair in q.split('&').filter(|p| !p.is_empty()) {
                    let (k, v) = pair.split_once('=').ok_or_else(|| err("qualifier without '='"))?;
                    if k.is_empty() {
                        return Err(err("empty qualifier key"));
                    }
                    let v = decode(v).map_err(err)?;
                    if !v.is_empty() {
                        map.insert(k.to_ascii_lowercase(), v);
                    }
                }
                (r, map)
            }
            None => (rest, BTreeMap::new()),
        };
        let (rest, version) = match rest.rsplit_once('@') {
            Some((r, v)) => (r, Some(decode(v).map_err(err)?)),
            None => (rest, None),
        };
        let rest = rest.trim_end_matches('/');
        let (ty, path) = rest.split_once('/').ok_or_else(|| err("missing name"))?;
        if ty.is_empty()
            || !ty
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '+' | '-'))
        {
            return Err(err("invalid type"));
        }
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => (Some(decode(ns).map_err(err)?), n),
            None => (None, path),
        };
        if name.is_empty() {
            return Err(err("missing name"));
        }
        Ok(Purl {
            ty: ty.to_ascii_lowercase(),
            namespace,
            name: decode(name).map_err(err)?,
            version,
            qualifiers,
            subpath,
        })
    }
}

fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'~' | b':' | b'+') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn encode_path(s: &str) -> String {
    s.split('/').map(encode).collect::<Vec<_>>().join("/")
}

fn decode(s: &str) -> Result<String, &'static str> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or("truncated percent-escape")?;
            let hex = std::str::from_utf8(hex).map_err(|_| "bad percent-escape")?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| "bad percent-escape")?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| "percent-escape is not UTF-8")
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn debian_purl_with_epoch_qualifier() {
        let p = Purl::new("deb", "libc6")
            .with_namespace("debian")
            .with_version("2.36-9+deb12u4")
            .with_qualifier("arch", "amd64")
            .with_qualifier("distro", "debian-12");
        assert_eq!(
            p.to_string(),
            "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64&distro=debian-12"
                .replace("%2B", "+")
        );
        assert_eq!(p.to_string().parse::<Purl>(), Ok(p));
    }

    #[test]
    fn npm_scope_is_encoded() {
        let p = Purl::new("npm", "core").with_namespace("@angular").with_version("1.0.0");
        assert_eq!(p.to_string(), "pkg:npm/%40angular/core@1.0.0");
        assert_eq!(p.to_string().parse::<Purl>(), Ok(p));
    }

    #[test]
    fn bad_purls_say_why() {
        assert!("deb/debian/x".parse::<Purl>().unwrap_err().to_string().contains("scheme"));
        assert!("pkg:deb".parse::<Purl>().is_err());
        assert!("pkg:deb/x%zz".parse::<Purl>().is_err());
    }

    proptest! {
        #[test]
        fn display_parse_round_trip(
            ty in "[a-z]{1,8}",
            ns in proptest::option::of("[a-zA-Z0-9@._ -]{1,10}"),
            name in "[a-zA-Z0-9@._ /-]{1,12}".prop_filter("no slash", |n| !n.contains('/')),
            version in proptest::option::of("[a-zA-Z0-9.+~:@ -]{1,12}"),
        ) {
            let mut p = Purl::new(ty, name);
            p.namespace = ns;
            p.version = version;
            let text = p.to_string();
            prop_assert_eq!(text.parse::<Purl>(), Ok(p));
        }
    }
}
