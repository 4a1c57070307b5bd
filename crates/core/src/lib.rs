//! Shared domain types of mamori, with no I/O.
//!
//! Every capability of mamori — the image scanner, the configuration scanner, the admission
//! webhook and the runtime engine — speaks the language defined here:
//!
//! - [`Severity`]: the ordered severity scale (`critical` … `unknown`);
//! - [`Area`] and [`nist`]: the NIST SP 800-190 risk areas, risk sections and countermeasures;
//! - [`Finding`]: one problem found by a scanner, with its rule id, references, target and location;
//! - [`Event`]: one runtime or admission event, as seen by the rules engine and the console;
//! - [`ImageRef`]: a parsed container image reference;
//! - [`Package`] and [`Purl`]: one installed package and its package URL;
//! - [`report`]: the writers every scanning subcommand shares (table, JSON, SARIF) and the
//!   exit-code convention.
//!
//! ```
//! use mamori_core::{Area, Finding, Severity, Target};
//!
//! let finding = Finding::new("MK-K8S-001", "Privileged container", Severity::High, Area::Orchestrator)
//!     .with_target(Target::file("deploy.yaml"))
//!     .with_message("container \"app\" sets securityContext.privileged=true");
//! assert!(finding.severity >= Severity::Medium);
//! ```

pub mod event;
pub mod finding;
pub mod image_ref;
pub mod nist;
pub mod package;
pub mod report;
pub mod severity;

pub use event::Event;
pub use finding::{Finding, Location, Reference, Target};
pub use image_ref::{ImageRef, ParseImageRefError};
pub use nist::Area;
pub use package::{Ecosystem, Package, ParsePurlError, Purl};
pub use severity::{ParseSeverityError, Severity};
