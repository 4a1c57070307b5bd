//! SBOM writers: CycloneDX 1.5 JSON ([`cyclonedx`]) and SPDX 2.3 JSON ([`spdx`]).

use sha2::Digest as _;

use crate::Inventory;

pub mod cyclonedx;
pub mod spdx;

/// Document identity: creation time and a unique id. Fixed values make output reproducible.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SbomMeta {
    /// RFC 3339 UTC creation time.
    pub timestamp: String,
    /// A UUID (lowercase, hyphenated).
    pub uuid: String,
    /// Version of the tool that wrote it.
    pub tool_version: String,
}

impl SbomMeta {
    /// Now, with a UUID derived from the inventory, the time and the process.
    pub fn now(inv: &Inventory) -> Self {
        let now = time::OffsetDateTime::now_utc();
        let ts = now
            .replace_nanosecond(0)
            .unwrap_or(now)
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_else(|_| "1970-01-01T00:00:00Z".to_string());
        let mut h = sha2::Sha256::new();
        h.update(inv.source.as_bytes());
        h.update(now.unix_timestamp_nanos().to_le_bytes());
        h.update(std::process::id().to_le_bytes());
        SbomMeta {
            timestamp: ts,
            uuid: uuid_from(&h.finalize()),
            tool_version: env!("CARGO_PKG_VERSION").to_string(),
        }
    }
}

/// Formats 16 bytes of `bytes` as a version-4 style UUID.
fn uuid_from(bytes: &[u8]) -> String {
    let mut b = [0u8; 16];
    for (d, s) in b.iter_mut().zip(bytes) {
        *d = *s;
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h = hex::encode(b);
    format!(
        "{}-{}-{}-{}-{}",
        &h[0..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// The name of the scanned image for documents: first tag, else the source.
pub(crate) fn image_name(inv: &Inventory) -> String {
    inv.tags
        .first()
        .cloned()
        .unwrap_or_else(|| inv.source.clone())
}

#[cfg(test)]
mod tests {
    #[test]
    fn uuid_shape() {
        let u = super::uuid_from(&[0xffu8; 32]);
        assert_eq!(u, "ffffffff-ffff-4fff-bfff-ffffffffffff");
    }
}
