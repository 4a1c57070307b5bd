//! Container image reader for mamori: images in, package inventory, SBOM and image config
//! findings out.
//!
//! - [`SourceRef`]: where the image is (`oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`,
//!   `docker-archive:FILE`, `dir:ROOTFS`, and registry references `HOST[:PORT]/REPO[:TAG|@DIGEST]`
//!   pulled through the OCI distribution API, see [`RegistryOptions`]);
//! - [`layer`]: streams one layer (gzip, zstd or plain tar) with bounds ([`Limits`]) and digest
//!   checks; nothing is extracted to disk;
//! - [`fsview`]: the squashed file system (whiteouts, opaque directories, hard links, symlinks
//!   resolved inside the root, per-file layer attribution);
//! - [`os`]: OS detection; catalogers live in `mamori-catalog`;
//! - [`scan`] → [`Inventory`]: packages with purls, each attributed to the first layer in which
//!   that exact version appears;
//! - [`sbom`]: CycloneDX 1.5 and SPDX 2.3 JSON; [`checks`]: image configuration findings;
//!   [`findings`]: vulnerability findings (with `mamori-vulndb`) and secret findings (files
//!   searched with `mamori-secrets` when [`ScanOptions::secrets`] is set).
//!
//! ```no_run
//! use mamori_image::{scan, ScanOptions, SourceRef};
//!
//! let source: SourceRef = "oci:/tmp/layout:bookworm".parse()?;
//! let inventory = scan(&source, &ScanOptions::default())?;
//! for p in &inventory.packages {
//!     println!("{} {} {}", p.package.name, p.package.version, p.package.purl.as_deref().unwrap_or(""));
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod blobs;
pub mod checks;
pub mod error;
pub mod findings;
pub mod fsview;
pub mod glob;
mod inventory;
pub mod layer;
pub mod oci;
pub mod os;
pub mod progress;
mod registry;
pub mod sbom;
pub mod source;

pub use blobs::Digest;
pub use error::{LayerError, OpenError, ParseSourceError, ScanError};
pub use inventory::{
    is_config_like, os_packages, scan, FoundPackage, FoundSecret, Inventory, LayerInfo,
    ScanOptions, SpecialFile, MAX_SECRETS, SECRET_MAX_FILE_BYTES,
};
pub use layer::Limits;
pub use progress::{Progress, ProgressSink};
pub use registry::RegistryOptions;
pub use source::{Platform, SourceRef};
