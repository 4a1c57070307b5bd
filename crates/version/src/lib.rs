//! Exact version ordering for every package ecosystem mamori scans.
//!
//! Each scheme has its own type implementing [`Ord`], parsed with `parse` (or [`str::parse`]);
//! an invalid version is a [`ParseVersionError`] that says why. `Display` gives back the text as
//! written, while equality follows the ecosystem's rules (`1.0` == `1.0.0` in PEP 440).
//!
//! | type | ecosystem | reference behaviour |
//! |---|---|---|
//! | [`DpkgVersion`] | Debian, Ubuntu | `dpkg --compare-versions` |
//! | [`RpmVersion`] | RHEL family, SUSE | `rpm.labelCompare` (`~`, `^`, epoch) |
//! | [`ApkVersion`] | Alpine, Wolfi | apk-tools `version.c` |
//! | [`SemVer`] | npm, Rust crates, OSV `SEMVER` | SemVer 2.0 precedence |
//! | [`GoVersion`] | Go modules | `golang.org/x/mod/semver` (pseudo-versions, `+incompatible`) |
//! | [`Pep440Version`] | PyPI | `packaging.version` |
//! | [`MavenVersion`] | Maven | `ComparableVersion` 3.8 |
//! | [`GemVersion`] | RubyGems | `Gem::Version` |
//!
//! [`Version`] holds any of them, [`Scheme::for_ecosystem`] maps OSV ecosystem names (and the
//! `dpkg`/`rpm`/`apk` aliases) to a scheme, and [`compare`] does both in one call.
//!
//! ```
//! use std::cmp::Ordering;
//! use mamori_version::{compare, DpkgVersion, Scheme};
//!
//! let a: DpkgVersion = "1.0~rc1".parse()?;
//! let b: DpkgVersion = "1.0".parse()?;
//! assert!(a < b);
//! let scheme = Scheme::for_ecosystem("PyPI").unwrap();
//! assert_eq!(compare(scheme, "1.0", "1.0.0")?, Ordering::Equal);
//! # Ok::<(), mamori_version::ParseVersionError>(())
//! ```

mod any;
mod apk;
mod dpkg;
mod error;
mod go;
mod maven;
mod pep440;
mod rpm;
mod rubygems;
mod semver;

pub use any::{compare, Version};
pub use apk::ApkVersion;
pub use dpkg::DpkgVersion;
pub use error::{ParseVersionError, Scheme};
pub use go::GoVersion;
pub use maven::MavenVersion;
pub use pep440::Pep440Version;
pub use rpm::RpmVersion;
pub use rubygems::GemVersion;
pub use semver::SemVer;
