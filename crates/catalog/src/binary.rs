//! Executables: ELF files are read through their headers ([`crate::elf`]) for Go build
//! information ([`crate::golang`]) and cargo-auditable dependency data ([`crate::auditable`]).

use crate::elf::Elf;
use crate::golang::{self, GoBinary};
use crate::{auditable, CatalogError, CatalogPackage};

/// What an executable held in memory says about its packages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Binary {
    /// Not an ELF file, or one without package information.
    Plain,
    /// A Go binary with its build information.
    Go(golang::BuildInfo),
    /// A Rust binary built with cargo-auditable, with the crates compiled into it.
    Rust(Vec<CatalogPackage>),
}

impl Binary {
    /// The packages (empty for [`Binary::Plain`]).
    pub fn packages(self) -> Vec<CatalogPackage> {
        match self {
            Binary::Plain => Vec::new(),
            Binary::Go(info) => info.packages(),
            Binary::Rust(p) => p,
        }
    }
}

/// Reads an executable held in memory. A non-ELF file is [`Binary::Plain`] after 4 bytes.
pub fn inspect(path: &str, bytes: &[u8]) -> Result<Binary, CatalogError> {
    let Ok(elf) = Elf::parse(bytes) else {
        return Ok(Binary::Plain);
    };
    if let Some(found) = auditable::from_elf(path, &elf) {
        return found.map(Binary::Rust);
    }
    Ok(match golang::from_elf(&elf) {
        GoBinary::Info(info) => Binary::Go(info),
        GoBinary::NotGo | GoBinary::LegacyFormat => Binary::Plain,
    })
}

/// The packages of an executable held in memory.
pub fn scan(path: &str, bytes: &[u8]) -> Result<Vec<CatalogPackage>, CatalogError> {
    inspect(path, bytes).map(Binary::packages)
}
