//! mamori's vulnerability database.
//!
//! - [`osv`]: the OSV model — raw serde types ([`osv::RawRecord`]) validated into
//!   [`osv::Advisory`] (parse, don't validate); severities scored from CVSS vectors ([`severity`]).
//! - [`import()`]: reads OSV JSON/YAML from directories, zips (osv.dev `all.zip`) and http(s) URLs,
//!   skips and reports malformed records, and writes the [`store`] atomically.
//! - [`Database`]: the compact indexed store; [`Database::match_package`] returns the [`Match`]es
//!   of one [`mamori_core::Package`], duplicates merged.
//! - [`range`]: OSV range evaluation in every ordering of [`mamori_version`].
//! - [`suppress`]: `.mamoriignore` rules and OpenVEX statements that mark matches as suppressed.
//!
//! ```no_run
//! use mamori_core::{Ecosystem, Package};
//! use mamori_vulndb::{import, Database, ImportOptions, Source};
//!
//! let dir = std::path::Path::new("/tmp/mamori-db");
//! import(&[Source::parse("osv/")], dir, &ImportOptions::default())?;
//! let db = Database::open(dir)?;
//! let pkg = Package::new(Ecosystem::PyPI, "accesscontrol", "4.2");
//! for m in db.match_package(&pkg)? {
//!     println!("{} fixed in {:?}", m.advisory_id, m.fixed_versions);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

pub mod import;
pub mod matching;
pub mod osv;
pub mod range;
pub mod severity;
pub mod store;
pub mod suppress;

pub use import::{
    import, ImportError, ImportOptions, ImportReport, Progress, Skipped, Source, UpdateReport,
};
pub use matching::{Match, MatchError, MatchView, MatchedBy, Matches};
pub use store::{Database, Metadata, OpenError};
pub use suppress::{SuppressError, Suppression, Suppressions};
