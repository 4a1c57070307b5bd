//! Errors of the image reader, one enum per fallible operation.

use std::path::PathBuf;

/// Why an image reference could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseSourceError {
    /// Empty reference.
    #[error("empty image reference")]
    Empty,
    /// A transport prefix without a path (`oci:`).
    #[error("{0:?}: missing path after the transport prefix")]
    MissingPath(String),
    /// A registry reference that does not parse.
    #[error("{input:?}: not a registry reference ({reason}); local images need a prefix: oci:DIR[:TAG], docker-archive:FILE, oci-archive:FILE[:TAG], dir:ROOTFS")]
    Registry {
        /// The reference given.
        input: String,
        /// Why it does not parse.
        reason: String,
    },
    /// A bad `--platform` value.
    #[error("invalid platform {0:?}: expected OS/ARCH[/VARIANT], e.g. linux/amd64")]
    Platform(String),
}

/// Why an image could not be opened (index, manifest, config).
#[derive(Debug, thiserror::Error)]
pub enum OpenError {
    /// A file could not be read.
    #[error("{}: cannot read", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A blob or archive member is missing.
    #[error("{what} not found: {name}")]
    Missing {
        /// What was looked for (blob, archive member, tag).
        what: &'static str,
        /// Its name.
        name: String,
    },
    /// A JSON document is malformed.
    #[error("{doc}:{line}:{column}: {reason}")]
    Json {
        /// Which document (`index.json`, `manifest sha256:…`).
        doc: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What the parser said.
        reason: String,
    },
    /// The content of a blob does not match its digest.
    #[error("digest mismatch for {name}: expected {expected}, content hashes to {actual}")]
    DigestMismatch {
        /// The blob.
        name: String,
        /// Declared digest.
        expected: String,
        /// Digest of the content.
        actual: String,
    },
    /// A digest that is not `sha256:<64 hex>` or `sha512:<128 hex>`.
    #[error("unsupported or malformed digest {0:?}")]
    BadDigest(String),
    /// A document is larger than allowed.
    #[error("{name}: {size} bytes, over the limit of {limit} for a JSON document")]
    TooLarge {
        /// The document.
        name: String,
        /// Its size.
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// The image is not what the reader supports.
    #[error("{0}")]
    Unsupported(String),
    /// No manifest matches the platform.
    #[error("no manifest for platform {wanted} in the index (available: {available})")]
    NoPlatform {
        /// The platform asked for.
        wanted: String,
        /// The platforms the index offers.
        available: String,
    },
    /// A registry request failed (connection, TLS, HTTP status, authentication).
    #[error("registry request {url}: {reason}")]
    Registry {
        /// The URL requested.
        url: String,
        /// What went wrong.
        reason: String,
    },
    /// An archive (docker-archive, oci-archive) is malformed.
    #[error("{}: {reason}", path.display())]
    Archive {
        /// The archive.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
}

/// Why a layer could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// The layer stream could not be read or decompressed.
    #[error("layer {layer}: read failed")]
    Io {
        /// Layer digest or name.
        layer: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The tar stream is malformed (truncated, lying sizes, bad checksums).
    #[error("layer {layer}: malformed tar near entry {entry:?}: {reason}")]
    Tar {
        /// Layer digest or name.
        layer: String,
        /// The last entry read, if any.
        entry: String,
        /// What the tar reader said.
        reason: String,
    },
    /// The uncompressed layer is larger than the limit (decompression bomb guard).
    #[error("layer {layer}: more than {limit} bytes uncompressed (limit --max-layer-bytes)")]
    TooLarge {
        /// Layer digest or name.
        layer: String,
        /// The limit.
        limit: u64,
    },
    /// More bytes follow the end of the compressed stream than the layer limit allows (a
    /// stream that never ends).
    #[error(
        "layer {layer}: more than {limit} bytes after the end of the compressed stream (limit --max-layer-bytes)"
    )]
    TrailingData {
        /// Layer digest or name.
        layer: String,
        /// The limit.
        limit: u64,
    },
    /// The layer has more entries than the limit.
    #[error("layer {layer}: more than {limit} entries (limit --max-layer-entries)")]
    TooManyEntries {
        /// Layer digest or name.
        layer: String,
        /// The limit.
        limit: u64,
    },
    /// The layer content does not match its digest.
    #[error("layer {layer}: digest mismatch: content hashes to {actual}")]
    DigestMismatch {
        /// Layer digest or name.
        layer: String,
        /// Digest of the content.
        actual: String,
    },
}

/// Why a scan failed.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    /// The reference does not parse.
    #[error(transparent)]
    Parse(#[from] ParseSourceError),
    /// The image could not be opened.
    #[error(transparent)]
    Open(#[from] OpenError),
    /// A layer could not be read.
    #[error(transparent)]
    Layer(#[from] LayerError),
}
