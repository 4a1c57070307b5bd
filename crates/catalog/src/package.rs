//! The catalogers' package type and its conversion to [`mamori_core::Package`] with a purl.

use mamori_core::{Ecosystem, Package, Purl};
use serde::Serialize;

/// Which cataloger found a package; decides the ecosystem and the purl type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PkgKind {
    /// A Debian/Ubuntu binary package.
    Dpkg,
    /// An Alpine package.
    Apk,
    /// An rpm package (RHEL family).
    Rpm,
    /// A Python distribution.
    Python,
    /// An npm package.
    Npm,
    /// A Rust crate.
    Cargo,
    /// A Go module compiled into a binary.
    GoModule,
    /// The Go standard library of a binary (version = Go toolchain version).
    GoStdlib,
    /// A Java archive with Maven coordinates.
    Maven,
    /// A Ruby gem.
    Gem,
    /// A PHP Composer package.
    Composer,
}

impl PkgKind {
    /// Short name used in tables (`dpkg`, `python`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            PkgKind::Dpkg => "dpkg",
            PkgKind::Apk => "apk",
            PkgKind::Rpm => "rpm",
            PkgKind::Python => "python",
            PkgKind::Npm => "npm",
            PkgKind::Cargo => "cargo",
            PkgKind::GoModule => "gobinary",
            PkgKind::GoStdlib => "gobinary",
            PkgKind::Maven => "jar",
            PkgKind::Gem => "gemspec",
            PkgKind::Composer => "composer",
        }
    }

    /// Whether packages of this kind belong to the operating system.
    pub fn is_os(self) -> bool {
        matches!(self, PkgKind::Dpkg | PkgKind::Apk | PkgKind::Rpm)
    }
}

/// The distribution an image runs, as far as purls and OSV ecosystems need it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Distro {
    /// `ID` from os-release (`debian`, `ubuntu`, `alpine`, `rhel`, …), lowercase.
    pub id: String,
    /// `VERSION_ID` (`12`, `22.04`, `3.19.1`), or the content of a distro version file.
    pub version_id: String,
}

impl Distro {
    /// A distro from its id and version.
    pub fn new(id: impl Into<String>, version_id: impl Into<String>) -> Self {
        Distro {
            id: id.into().to_ascii_lowercase(),
            version_id: version_id.into(),
        }
    }

    /// The OSV release part: Debian `12`, Ubuntu `22.04`, Alpine `v3.19`.
    pub fn osv_release(&self) -> String {
        match self.id.as_str() {
            "alpine" => {
                let mut parts = self.version_id.split('.');
                match (parts.next(), parts.next()) {
                    (Some(a), Some(b)) => format!("v{a}.{b}"),
                    _ => format!("v{}", self.version_id),
                }
            }
            "debian" | "rhel" | "almalinux" | "rocky" | "centos" => self
                .version_id
                .split('.')
                .next()
                .unwrap_or(&self.version_id)
                .to_string(),
            _ => self.version_id.clone(),
        }
    }
}

/// One package as a cataloger found it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct CatalogPackage {
    /// The cataloger.
    pub kind: PkgKind,
    /// Namespace: Maven group id, npm scope (`@types`), Composer vendor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// Version as the ecosystem writes it (dpkg versions keep their `epoch:`).
    pub version: String,
    /// Architecture, for OS packages.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// Source package name (dpkg `Source:`, apk origin).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_name: Option<String>,
    /// Source package version, when given separately.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_version: Option<String>,
    /// Declared licenses.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub licenses: Vec<String>,
}

impl CatalogPackage {
    /// A package of `kind` with a name and version and nothing else.
    pub fn new(kind: PkgKind, name: impl Into<String>, version: impl Into<String>) -> Self {
        CatalogPackage {
            kind,
            namespace: None,
            name: name.into(),
            version: version.into(),
            arch: None,
            source_name: None,
            source_version: None,
            licenses: Vec::new(),
        }
    }

    /// The OSV ecosystem; OS packages need the distro to choose (Debian vs Ubuntu).
    pub fn ecosystem(&self, distro: Option<&Distro>) -> Ecosystem {
        match self.kind {
            PkgKind::Dpkg => match distro.map(|d| d.id.as_str()) {
                Some("ubuntu") => Ecosystem::Ubuntu,
                Some("debian") | None => Ecosystem::Debian,
                Some(other) => Ecosystem::Other(other.to_string()),
            },
            PkgKind::Apk => Ecosystem::Alpine,
            PkgKind::Rpm => match distro.map(|d| d.id.as_str()) {
                Some("almalinux") => Ecosystem::AlmaLinux,
                Some("rocky") => Ecosystem::RockyLinux,
                Some("rhel") | None => Ecosystem::RedHat,
                Some(other) => Ecosystem::Other(other.to_string()),
            },
            PkgKind::Python => Ecosystem::PyPI,
            PkgKind::Npm => Ecosystem::Npm,
            PkgKind::Cargo => Ecosystem::CratesIo,
            PkgKind::GoModule | PkgKind::GoStdlib => Ecosystem::Go,
            PkgKind::Maven => Ecosystem::Maven,
            PkgKind::Gem => Ecosystem::RubyGems,
            PkgKind::Composer => Ecosystem::Packagist,
        }
    }

    /// The package URL. OS packages carry `arch` and `distro=ID-VERSION_ID` qualifiers; a dpkg
    /// epoch goes into an `epoch` qualifier (as Trivy writes it), not into the version.
    pub fn purl(&self, distro: Option<&Distro>) -> Purl {
        let (ty, version) = match self.kind {
            PkgKind::Dpkg => ("deb", strip_epoch(&self.version).1.to_string()),
            PkgKind::Apk => ("apk", self.version.clone()),
            PkgKind::Rpm => ("rpm", strip_epoch(&self.version).1.to_string()),
            PkgKind::Python => ("pypi", self.version.clone()),
            PkgKind::Npm => ("npm", self.version.clone()),
            PkgKind::Cargo => ("cargo", self.version.clone()),
            PkgKind::GoModule | PkgKind::GoStdlib => ("golang", self.version.clone()),
            PkgKind::Maven => ("maven", self.version.clone()),
            PkgKind::Gem => ("gem", self.version.clone()),
            PkgKind::Composer => ("composer", self.version.clone()),
        };
        let (go_ns, name) = match self.kind {
            // PEP 503 normalisation, as the purl spec asks for pypi.
            PkgKind::Python => (None, pep503(&self.name)),
            // A Go module path is namespace (all but the last segment) and name.
            PkgKind::GoModule => match self.name.rsplit_once('/') {
                Some((ns, n)) => (Some(ns.to_string()), n.to_string()),
                None => (None, self.name.clone()),
            },
            _ => (None, self.name.clone()),
        };
        let mut purl = Purl::new(ty, name).with_version(version);
        if let Some(ns) = go_ns {
            purl = purl.with_namespace(ns);
        }
        match self.kind {
            PkgKind::Dpkg | PkgKind::Apk | PkgKind::Rpm => {
                let default_ns = match self.kind {
                    PkgKind::Dpkg => "debian",
                    PkgKind::Apk => "alpine",
                    _ => "redhat",
                };
                let ns = distro.map_or(default_ns, |d| d.id.as_str());
                purl = purl.with_namespace(ns);
                if let Some(arch) = &self.arch {
                    purl = purl.with_qualifier("arch", arch.clone());
                }
                if let Some(d) = distro {
                    purl = purl.with_qualifier("distro", format!("{}-{}", d.id, d.version_id));
                }
                if matches!(self.kind, PkgKind::Dpkg | PkgKind::Rpm) {
                    if let (Some(epoch), _) = strip_epoch(&self.version) {
                        purl = purl.with_qualifier("epoch", epoch);
                    }
                }
            }
            _ => {
                if let Some(ns) = &self.namespace {
                    purl = purl.with_namespace(ns.clone());
                }
            }
        }
        purl
    }

    /// Converts to the shared [`Package`], computing ecosystem, release and purl.
    pub fn to_package(&self, distro: Option<&Distro>) -> Package {
        let mut p = Package::new(
            self.ecosystem(distro),
            self.full_name(),
            self.version.clone(),
        );
        if self.kind.is_os() {
            p.release = distro.map(Distro::osv_release);
        }
        p.source_name = self.source_name.clone();
        p.source_version = self.source_version.clone();
        p.purl = Some(self.purl(distro).to_string());
        p
    }

    /// The name as the ecosystem's advisories spell it: `group:artifact` for Maven,
    /// `@scope/name` for npm, `vendor/name` for Composer, the plain name otherwise.
    pub fn full_name(&self) -> String {
        match (&self.namespace, self.kind) {
            (Some(ns), PkgKind::Maven) => format!("{ns}:{}", self.name),
            (Some(ns), PkgKind::Npm | PkgKind::Composer) => format!("{ns}/{}", self.name),
            _ => self.name.clone(),
        }
    }
}

/// Splits a dpkg version into `(epoch, rest)`.
pub(crate) fn strip_epoch(version: &str) -> (Option<&str>, &str) {
    match version.split_once(':') {
        Some((e, rest)) if !e.is_empty() && e.bytes().all(|b| b.is_ascii_digit()) => {
            (Some(e), rest)
        }
        _ => (None, version),
    }
}

/// PEP 503 name normalisation: runs of `-`, `_`, `.` become one `-`, lowercase.
pub fn pep503(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn purls_per_kind() {
        let mut p = CatalogPackage::new(PkgKind::Maven, "log4j-core", "2.14.1");
        p.namespace = Some("org.apache.logging.log4j".into());
        assert_eq!(
            p.purl(None).to_string(),
            "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"
        );
        assert_eq!(p.full_name(), "org.apache.logging.log4j:log4j-core");
        let py = CatalogPackage::new(PkgKind::Python, "Foo_Bar.baz", "1.0");
        assert_eq!(py.purl(None).to_string(), "pkg:pypi/foo-bar-baz@1.0");
        let mut npm = CatalogPackage::new(PkgKind::Npm, "node", "20.1.0");
        npm.namespace = Some("@types".into());
        assert_eq!(npm.purl(None).to_string(), "pkg:npm/%40types/node@20.1.0");
        assert_eq!(npm.full_name(), "@types/node");
        let mut apk = CatalogPackage::new(PkgKind::Apk, "musl", "1.2.4-r2");
        apk.arch = Some("x86_64".into());
        let d = Distro::new("alpine", "3.19.1");
        assert_eq!(
            apk.purl(Some(&d)).to_string(),
            "pkg:apk/alpine/musl@1.2.4-r2?arch=x86_64&distro=alpine-3.19.1"
        );
        assert_eq!(apk.to_package(Some(&d)).release.as_deref(), Some("v3.19"));
    }

    #[test]
    fn ubuntu_dpkg_is_ubuntu_ecosystem() {
        let p = CatalogPackage::new(PkgKind::Dpkg, "bash", "5.1-6ubuntu1");
        let d = Distro::new("ubuntu", "22.04");
        let pkg = p.to_package(Some(&d));
        assert_eq!(pkg.ecosystem, Ecosystem::Ubuntu);
        assert_eq!(pkg.release.as_deref(), Some("22.04"));
        assert!(pkg
            .purl
            .as_deref()
            .is_some_and(|u| u.starts_with("pkg:deb/ubuntu/bash@")));
    }

    #[test]
    fn rpm_purl_and_ecosystem() {
        let mut p = CatalogPackage::new(PkgKind::Rpm, "openssl-libs", "1:3.0.7-27.el9");
        p.arch = Some("x86_64".into());
        let d = Distro::new("rocky", "9.3");
        assert_eq!(
            p.purl(Some(&d)).to_string(),
            "pkg:rpm/rocky/openssl-libs@3.0.7-27.el9?arch=x86_64&distro=rocky-9.3&epoch=1"
        );
        let pkg = p.to_package(Some(&d));
        assert_eq!(pkg.ecosystem, Ecosystem::RockyLinux);
        assert_eq!(pkg.release.as_deref(), Some("9"));
    }

    #[test]
    fn epoch_split() {
        assert_eq!(strip_epoch("1:2.3-4"), (Some("1"), "2.3-4"));
        assert_eq!(strip_epoch("2.3-4"), (None, "2.3-4"));
        assert_eq!(strip_epoch("a:b"), (None, "a:b"));
    }
}
