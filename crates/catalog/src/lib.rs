//! Package catalogers for mamori: bytes of package databases and manifests in, packages out.
//!
//! The crate is pure: it never touches the file system or the network. The image reader
//! (`mamori-image`) decides which files to read with [`classify`] and hands their bytes (or a
//! reader, for executables) to [`catalog`]. Each cataloger is one module:
//!
//! - [`dpkg`] reads `var/lib/dpkg/status` and distroless `status.d/*` (with `Source:` → source package);
//! - [`apk`] reads `lib/apk/db/installed`;
//! - [`python`] reads `*.dist-info/METADATA`, `*.egg-info/PKG-INFO`;
//! - [`npm`] reads `node_modules/**/package.json`, `package-lock.json`;
//! - [`cargo`] reads `Cargo.lock`;
//! - [`binary`] reads ELF executables ([`elf`]): [`golang`] build information embedded in Go
//!   executables (both the Go 1.18+ inline format and the older pointer format), and
//!   [`auditable`] crate lists embedded by `cargo auditable` in Rust executables;
//! - [`java`] reads jar/war/ear archives (`pom.properties`, `MANIFEST.MF`, nested jars);
//! - [`ruby`] reads `specifications/*.gemspec`;
//! - [`composer`] reads `composer.lock`, `vendor/composer/installed.json`;
//! - [`rpm`] reads `rpmdb.sqlite` (BerkeleyDB/NDB `Packages` databases are recognised as
//!   [`FileKind::RpmDb`] but not read).
//!
//! A [`CatalogPackage`] becomes a [`mamori_core::Package`] with a purl through
//! [`CatalogPackage::to_package`], once the distribution of the image is known ([`Distro`]).
//!
//! ```
//! use mamori_catalog::{catalog, classify, Distro, FileKind};
//!
//! let status = b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\n\
//! Source: zlib\nVersion: 1:1.2.13.dfsg-1\n\n";
//! let kind = classify("var/lib/dpkg/status", 0o644).expect("a dpkg database");
//! assert_eq!(kind, FileKind::DpkgStatus);
//! let pkgs = catalog(kind, "var/lib/dpkg/status", status).expect("parses");
//! let distro = Distro::new("debian", "12");
//! let pkg = pkgs[0].to_package(Some(&distro));
//! assert_eq!(pkg.source_name.as_deref(), Some("zlib"));
//! assert_eq!(
//!     pkg.purl.as_deref(),
//!     Some("pkg:deb/debian/zlib1g@1.2.13.dfsg-1?arch=amd64&distro=debian-12&epoch=1")
//! );
//! ```

pub mod apk;
pub mod auditable;
pub mod binary;
pub mod cargo;
pub mod composer;
pub mod dpkg;
pub mod elf;
pub mod golang;
pub mod java;
pub mod npm;
mod package;
pub mod python;
pub mod rpm;
pub mod ruby;

pub use package::{CatalogPackage, Distro, PkgKind};

/// Which cataloger a file belongs to, decided from its path (and mode) alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum FileKind {
    /// `var/lib/dpkg/status`.
    DpkgStatus,
    /// One file of `var/lib/dpkg/status.d/` (distroless).
    DpkgStatusD,
    /// `lib/apk/db/installed`.
    ApkInstalled,
    /// An rpm SQLite database (`rpmdb.sqlite`).
    RpmSqlite,
    /// An older rpm database (BerkeleyDB or NDB `Packages`); recognised, not read.
    RpmDb,
    /// A wheel's `METADATA` or an egg's `PKG-INFO`.
    PythonMetadata,
    /// `package.json` inside `node_modules`.
    NpmPackageJson,
    /// `package-lock.json` outside `node_modules`.
    NpmLock,
    /// `Cargo.lock`.
    CargoLock,
    /// A Ruby gem specification.
    Gemspec,
    /// `composer.lock` or `vendor/composer/installed.json`.
    Composer,
    /// A Java archive (jar, war, ear).
    JavaArchive,
    /// An executable file that may carry Go build information or cargo-auditable data.
    Executable,
}

impl FileKind {
    /// Whether the cataloger needs the whole file in memory (everything but executables, which
    /// are scanned as a stream).
    pub fn needs_bytes(self) -> bool {
        !matches!(self, FileKind::Executable | FileKind::RpmDb)
    }
}

/// Why a file could not be cataloged.
#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    /// The file is not valid UTF-8 where text is required.
    #[error("{path}: not UTF-8 text")]
    NotUtf8 {
        /// File path.
        path: String,
    },
    /// A JSON document is malformed.
    #[error("{path}:{line}:{column}: invalid JSON: {reason}")]
    Json {
        /// File path.
        path: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        reason: String,
    },
    /// A TOML document is malformed.
    #[error("{path}: invalid TOML: {reason}")]
    Toml {
        /// File path.
        path: String,
        /// What the parser said (with line and column).
        reason: String,
    },
    /// A stanza or record is malformed.
    #[error("{path}:{line}: {reason}")]
    Malformed {
        /// File path.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        reason: String,
    },
    /// A zip archive is malformed.
    #[error("{path}: invalid zip archive: {reason}")]
    Zip {
        /// File path (nested archives as `outer.jar!inner.jar`).
        path: String,
        /// What the zip reader said.
        reason: String,
    },
    /// An executable's embedded package data is malformed.
    #[error("{path}: {reason}")]
    Binary {
        /// File path.
        path: String,
        /// What is wrong.
        reason: String,
    },
    /// Reading the input failed.
    #[error("{path}: read failed")]
    Io {
        /// File path.
        path: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

impl CatalogError {
    pub(crate) fn json(path: &str, e: &serde_json::Error) -> Self {
        CatalogError::Json {
            path: path.to_string(),
            line: e.line(),
            column: e.column(),
            reason: e.to_string(),
        }
    }
}

/// Decides from the path (relative to the image root, `/`-separated, no leading slash) and the
/// Unix mode which cataloger wants a file, if any.
pub fn classify(path: &str, mode: u32) -> Option<FileKind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if path == "var/lib/dpkg/status" {
        return Some(FileKind::DpkgStatus);
    }
    if let Some(rest) = path.strip_prefix("var/lib/dpkg/status.d/") {
        if !rest.is_empty() && !rest.contains('/') && !rest.ends_with(".md5sums") {
            return Some(FileKind::DpkgStatusD);
        }
        return None;
    }
    if path == "lib/apk/db/installed" || path == "usr/lib/apk/db/installed" {
        return Some(FileKind::ApkInstalled);
    }
    if matches!(name, "Packages" | "Packages.db" | "rpmdb.sqlite")
        && matches!(
            path.rsplit_once('/').map(|(d, _)| d),
            Some("var/lib/rpm" | "usr/lib/sysimage/rpm" | "usr/share/rpm")
        )
    {
        return Some(if name == "rpmdb.sqlite" {
            FileKind::RpmSqlite
        } else {
            FileKind::RpmDb
        });
    }
    if (name == "METADATA" && parent_ends_with(path, ".dist-info"))
        || (name == "PKG-INFO"
            && (parent_ends_with(path, ".egg-info") || parent_ends_with(path, "EGG-INFO")))
    {
        return Some(FileKind::PythonMetadata);
    }
    if name == "package.json" && path.contains("node_modules/") {
        return Some(FileKind::NpmPackageJson);
    }
    if name == "package-lock.json" && !path.contains("node_modules/") {
        return Some(FileKind::NpmLock);
    }
    if name == "Cargo.lock" {
        return Some(FileKind::CargoLock);
    }
    if name == "composer.lock" || path.ends_with("vendor/composer/installed.json") {
        return Some(FileKind::Composer);
    }
    if name.ends_with(".gemspec") && path.contains("specifications/") {
        return Some(FileKind::Gemspec);
    }
    let lower = name.to_ascii_lowercase();
    if lower.ends_with(".jar") || lower.ends_with(".war") || lower.ends_with(".ear") {
        return Some(FileKind::JavaArchive);
    }
    if mode & 0o111 != 0 {
        return Some(FileKind::Executable);
    }
    None
}

fn parent_ends_with(path: &str, suffix: &str) -> bool {
    path.rsplit_once('/')
        .map(|(dir, _)| dir.rsplit('/').next().unwrap_or(dir))
        .is_some_and(|d| d.ends_with(suffix))
}

/// Catalogs one file whose whole content is in memory (executables through [`binary::scan`];
/// an rpm BerkeleyDB/NDB database gives no packages).
pub fn catalog(
    kind: FileKind,
    path: &str,
    bytes: &[u8],
) -> Result<Vec<CatalogPackage>, CatalogError> {
    match kind {
        FileKind::DpkgStatus | FileKind::DpkgStatusD => dpkg::parse(path, bytes),
        FileKind::ApkInstalled => apk::parse(path, bytes),
        FileKind::PythonMetadata => python::parse(path, bytes).map(|p| p.into_iter().collect()),
        FileKind::NpmPackageJson => {
            npm::parse_package_json(path, bytes).map(|p| p.into_iter().collect())
        }
        FileKind::NpmLock => npm::parse_lock(path, bytes),
        FileKind::CargoLock => cargo::parse(path, bytes),
        FileKind::Gemspec => ruby::parse(path, bytes).map(|p| p.into_iter().collect()),
        FileKind::Composer => composer::parse(path, bytes),
        FileKind::JavaArchive => java::parse(path, bytes),
        FileKind::Executable => binary::scan(path, bytes),
        FileKind::RpmSqlite => rpm::parse_sqlite(path, bytes),
        FileKind::RpmDb => Ok(Vec::new()),
    }
}

pub(crate) fn utf8<'a>(path: &str, bytes: &'a [u8]) -> Result<&'a str, CatalogError> {
    std::str::from_utf8(bytes).map_err(|_| CatalogError::NotUtf8 {
        path: path.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_paths() {
        assert_eq!(
            classify("var/lib/dpkg/status", 0o644),
            Some(FileKind::DpkgStatus)
        );
        assert_eq!(
            classify("var/lib/dpkg/status.d/base", 0o644),
            Some(FileKind::DpkgStatusD)
        );
        assert_eq!(classify("var/lib/dpkg/status.d/base.md5sums", 0o644), None);
        assert_eq!(
            classify("lib/apk/db/installed", 0o644),
            Some(FileKind::ApkInstalled)
        );
        assert_eq!(
            classify("var/lib/rpm/rpmdb.sqlite", 0o644),
            Some(FileKind::RpmSqlite)
        );
        assert_eq!(
            classify("var/lib/rpm/Packages", 0o644),
            Some(FileKind::RpmDb)
        );
        assert_eq!(classify("etc/rpmdb.sqlite", 0o644), None);
        assert_eq!(
            classify(
                "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
                0o644
            ),
            Some(FileKind::PythonMetadata)
        );
        assert_eq!(
            classify("x/foo.egg-info/PKG-INFO", 0o644),
            Some(FileKind::PythonMetadata)
        );
        assert_eq!(classify("app/METADATA", 0o644), None);
        assert_eq!(
            classify("app/node_modules/a/package.json", 0o644),
            Some(FileKind::NpmPackageJson)
        );
        assert_eq!(classify("app/package.json", 0o644), None);
        assert_eq!(
            classify("app/package-lock.json", 0o644),
            Some(FileKind::NpmLock)
        );
        assert_eq!(classify("app/node_modules/.package-lock.json", 0o644), None);
        assert_eq!(classify("src/Cargo.lock", 0o644), Some(FileKind::CargoLock));
        assert_eq!(
            classify(
                "usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.6.gemspec",
                0o644
            ),
            Some(FileKind::Gemspec)
        );
        assert_eq!(
            classify("app/LIB/x.JAR", 0o644),
            Some(FileKind::JavaArchive)
        );
        assert_eq!(classify("usr/bin/ls", 0o755), Some(FileKind::Executable));
        assert_eq!(classify("etc/passwd", 0o644), None);
    }
}
