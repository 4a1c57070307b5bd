//! Random access to the members of an image: files of a layout directory, or members of a tar
//! archive found through an index of their offsets (nothing is extracted).

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};

use sha2::Digest as _;

use crate::error::OpenError;

/// Most members read from an archive's index.
const MAX_MEMBERS: usize = 100_000;

/// Something that can open members by `/`-separated name.
pub(crate) trait BlobStore {
    /// Opens a member for streaming.
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, OpenError>;

    /// The member name of the manifest or index with this digest.
    fn manifest_name(&self, digest: &Digest) -> String {
        digest.blob_path()
    }
}

/// A layout directory on disk.
pub(crate) struct DirStore {
    pub(crate) root: PathBuf,
}

impl BlobStore for DirStore {
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, OpenError> {
        if name.split('/').any(|c| c == ".." || c.is_empty()) || name.starts_with('/') {
            return Err(OpenError::Missing {
                what: "blob (unsafe name)",
                name: name.to_string(),
            });
        }
        let path = self.root.join(name);
        match File::open(&path) {
            Ok(f) => Ok(Box::new(BufReader::with_capacity(256 * 1024, f))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(OpenError::Missing {
                what: "file",
                name: path.display().to_string(),
            }),
            Err(source) => Err(OpenError::Io { path, source }),
        }
    }
}

#[derive(Debug, Clone)]
enum Member {
    File { offset: u64, size: u64 },
    Link(String),
}

/// A tar archive, indexed once.
pub(crate) struct TarStore {
    path: PathBuf,
    members: HashMap<String, Member>,
}

fn clean(name: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for c in name.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

impl TarStore {
    /// Indexes the members of `path`.
    pub(crate) fn index(path: &Path) -> Result<Self, OpenError> {
        let io = |source| OpenError::Io {
            path: path.to_path_buf(),
            source,
        };
        let arch_err = |reason: String| OpenError::Archive {
            path: path.to_path_buf(),
            reason,
        };
        let f = File::open(path).map_err(io)?;
        let mut ar = tar::Archive::new(BufReader::new(f));
        let mut members = HashMap::new();
        for entry in ar
            .entries()
            .map_err(|e| arch_err(format!("not a tar archive: {e}")))?
        {
            let entry = entry.map_err(|e| arch_err(format!("malformed tar: {e}")))?;
            if members.len() >= MAX_MEMBERS {
                return Err(arch_err(format!("more than {MAX_MEMBERS} members")));
            }
            let name = clean(&String::from_utf8_lossy(&entry.path_bytes()));
            let et = entry.header().entry_type();
            let member = if et.is_symlink() || et.is_hard_link() {
                let target = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .unwrap_or_default();
                let target = if et.is_symlink() {
                    let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                    if target.starts_with('/') {
                        clean(&target)
                    } else {
                        clean(&format!("{dir}/{target}"))
                    }
                } else {
                    clean(&target)
                };
                Member::Link(target)
            } else if et.is_file() || et == tar::EntryType::Continuous {
                Member::File {
                    offset: entry.raw_file_position(),
                    size: entry.size(),
                }
            } else {
                continue;
            };
            members.insert(name, member);
        }
        Ok(TarStore {
            path: path.to_path_buf(),
            members,
        })
    }

    fn resolve(&self, name: &str) -> Option<(u64, u64)> {
        let mut name = clean(name);
        for _ in 0..16 {
            match self.members.get(&name)? {
                Member::File { offset, size } => return Some((*offset, *size)),
                Member::Link(t) => name = t.clone(),
            }
        }
        None
    }

    /// Whether a member exists.
    pub(crate) fn contains(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }
}

impl BlobStore for TarStore {
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, OpenError> {
        let (offset, size) = self.resolve(name).ok_or_else(|| OpenError::Missing {
            what: "archive member",
            name: format!("{}:{name}", self.path.display()),
        })?;
        let io = |source| OpenError::Io {
            path: self.path.clone(),
            source,
        };
        let mut f = File::open(&self.path).map_err(io)?;
        f.seek(SeekFrom::Start(offset)).map_err(io)?;
        Ok(Box::new(BufReader::with_capacity(256 * 1024, f).take(size)))
    }
}

/// A content digest (`sha256:HEX` or `sha512:HEX`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Digest {
    /// `sha256` or `sha512`.
    pub algorithm: &'static str,
    /// Lowercase hex.
    pub hex: String,
}

impl Digest {
    /// Parses and validates a digest string.
    pub fn parse(s: &str) -> Result<Self, OpenError> {
        let bad = || OpenError::BadDigest(s.to_string());
        let (alg, hex) = s.split_once(':').ok_or_else(bad)?;
        let (algorithm, len) = match alg {
            "sha256" => ("sha256", 64),
            "sha512" => ("sha512", 128),
            _ => return Err(bad()),
        };
        if hex.len() != len || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(bad());
        }
        Ok(Digest {
            algorithm,
            hex: hex.to_string(),
        })
    }

    /// The member name in an OCI layout (`blobs/sha256/HEX`).
    pub fn blob_path(&self) -> String {
        format!("blobs/{}/{}", self.algorithm, self.hex)
    }

    /// A hasher for this digest's algorithm.
    pub(crate) fn hasher(&self) -> Hasher {
        if self.algorithm == "sha512" {
            Hasher::Sha512(sha2::Sha512::new())
        } else {
            Hasher::Sha256(sha2::Sha256::new())
        }
    }
}

impl std::fmt::Display for Digest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}", self.algorithm, self.hex)
    }
}

/// A running hash.
pub(crate) enum Hasher {
    Sha256(sha2::Sha256),
    Sha512(sha2::Sha512),
}

impl Hasher {
    pub(crate) fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(b),
            Hasher::Sha512(h) => h.update(b),
        }
    }

    pub(crate) fn finish(self) -> String {
        match self {
            Hasher::Sha256(h) => format!("sha256:{}", hex::encode(h.finalize())),
            Hasher::Sha512(h) => format!("sha512:{}", hex::encode(h.finalize())),
        }
    }
}

/// A reader that hashes what passes through it and counts bytes.
pub(crate) struct HashingReader<R> {
    pub(crate) inner: R,
    pub(crate) hasher: Option<Hasher>,
    pub(crate) count: u64,
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        self.count += n as u64;
        Ok(n)
    }
}

/// Reads a whole small document (index, manifest, config), at most `limit` bytes, and checks
/// its digest when one is given.
pub(crate) fn read_doc(
    store: &dyn BlobStore,
    name: &str,
    digest: Option<&Digest>,
    limit: u64,
) -> Result<Vec<u8>, OpenError> {
    let r = store.open(name)?;
    let mut buf = Vec::new();
    r.take(limit + 1)
        .read_to_end(&mut buf)
        .map_err(|source| OpenError::Io {
            path: PathBuf::from(name),
            source,
        })?;
    if buf.len() as u64 > limit {
        return Err(OpenError::TooLarge {
            name: name.to_string(),
            size: buf.len() as u64,
            limit,
        });
    }
    if let Some(d) = digest {
        let mut h = d.hasher();
        h.update(&buf);
        let actual = h.finish();
        if actual != d.to_string() {
            return Err(OpenError::DigestMismatch {
                name: name.to_string(),
                expected: d.to_string(),
                actual,
            });
        }
    }
    Ok(buf)
}

/// Parses JSON with a located error.
pub(crate) fn parse_json<T: serde::de::DeserializeOwned>(
    doc: &str,
    bytes: &[u8],
) -> Result<T, OpenError> {
    serde_json::from_slice(bytes).map_err(|e| OpenError::Json {
        doc: doc.to_string(),
        line: e.line(),
        column: e.column(),
        reason: e.to_string(),
    })
}
