//! Streaming one layer: decompression (gzip, zstd or none, sniffed from the first bytes),
//! tar entries with normalised paths, whiteouts, bounds and digest checks. Nothing is written
//! to disk.

use std::cell::Cell;
use std::io::{self, BufRead, BufReader, Read};
use std::rc::Rc;

use crate::blobs::{Digest, HashingReader};
use crate::error::LayerError;

/// Bounds on what a layer may make the reader do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most uncompressed bytes per layer (decompression-bomb guard).
    pub max_layer_bytes: u64,
    /// Most entries per layer.
    pub max_layer_entries: u64,
    /// Largest file whose content is read into memory for a cataloger; larger ones are skipped
    /// with a warning.
    pub max_file_bytes: u64,
    /// Most layers per image.
    pub max_layers: usize,
    /// Largest executable held in memory to read its ELF headers (Go build information,
    /// cargo-auditable data); larger ones are only searched as a stream for Go 1.18+ build
    /// information, and a notice counts them.
    pub max_binary_bytes: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_layer_bytes: 32 << 30,
            max_layer_entries: 2_000_000,
            max_file_bytes: 256 << 20,
            max_layers: 512,
            max_binary_bytes: 128 << 20,
        }
    }
}

/// What a tar entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
    /// A symbolic link with its target as written.
    Symlink(String),
    /// A hard link to another path of the image (normalised).
    Hardlink(String),
    /// A device, fifo or other special file.
    Other,
}

/// One normalised tar entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Path relative to the image root, `/`-separated, no `.`/`..`, no leading slash.
    pub path: String,
    /// Kind.
    pub kind: EntryKind,
    /// Permission bits including setuid/setgid/sticky (`mode & 0o7777`).
    pub mode: u32,
    /// Size of the content.
    pub size: u64,
}

/// What the walker reports to its visitor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Event {
    /// An entry; for files the visitor may read the content from the reader it is given.
    Entry(Entry),
    /// `.wh.NAME`: delete this path (and everything under it) from lower layers.
    Whiteout(String),
    /// `.wh..wh..opq`: hide everything under this directory from lower layers.
    Opaque(String),
    /// Something suspicious that was skipped or changed.
    Warning(String),
}

/// Counts of a walked layer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayerStats {
    /// Tar entries seen.
    pub entries: u64,
    /// Uncompressed bytes read.
    pub bytes: u64,
    /// Stored (possibly compressed) bytes read.
    pub stored_bytes: u64,
}

/// Normalises a tar path. Absolute names are taken relative to the root; `..` that would leave
/// the root is an error.
pub fn normalize(raw: &str) -> Result<String, String> {
    let mut parts: Vec<&str> = Vec::new();
    for c in raw.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err(format!("{raw:?} escapes the image root"));
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

struct Limited<R> {
    inner: R,
    left: u64,
    tripped: Rc<Cell<bool>>,
    consumed: Rc<Cell<u64>>,
}

impl<R: Read> Read for Limited<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // Probe for one more byte: only data beyond the limit is an error.
            let mut one = [0u8; 1];
            return match self.inner.read(&mut one)? {
                0 => Ok(0),
                _ => {
                    self.tripped.set(true);
                    Err(io::Error::other("uncompressed layer size limit exceeded"))
                }
            };
        }
        let max = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..max])?;
        self.left -= n as u64;
        self.consumed.set(self.consumed.get() + n as u64);
        Ok(n)
    }
}

/// Walks one layer stream. `blob_digest` is checked against the stored bytes, `diff_id`
/// against the uncompressed tar; both only after the whole stream was read, so a mismatch
/// turns the whole layer into an error.
pub fn walk_layer<R: Read>(
    raw: R,
    layer: &str,
    blob_digest: Option<&Digest>,
    diff_id: Option<&Digest>,
    limits: &Limits,
    mut visit: impl FnMut(Event, &mut dyn Read) -> io::Result<()>,
) -> Result<LayerStats, LayerError> {
    let io_err = |source| LayerError::Io {
        layer: layer.to_string(),
        source,
    };
    let mut stored = HashingReader {
        inner: raw,
        hasher: blob_digest.map(Digest::hasher),
        count: 0,
    };
    let tripped = Rc::new(Cell::new(false));
    let consumed = Rc::new(Cell::new(0u64));
    let mut stats = LayerStats::default();
    {
        let mut buffered = BufReader::with_capacity(256 * 1024, &mut stored);
        let head = buffered.fill_buf().map_err(io_err)?.to_vec();
        let decoded: Box<dyn Read + '_> = if head.starts_with(&[0x1f, 0x8b]) {
            Box::new(flate2::bufread::MultiGzDecoder::new(buffered))
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Box::new(
                ruzstd::decoding::StreamingDecoder::new(buffered)
                    .map_err(|e| io_err(io::Error::other(format!("zstd: {e}"))))?,
            )
        } else {
            Box::new(buffered)
        };
        let mut plain = HashingReader {
            inner: Limited {
                inner: decoded,
                left: limits.max_layer_bytes,
                tripped: tripped.clone(),
                consumed: consumed.clone(),
            },
            hasher: diff_id.map(Digest::hasher),
            count: 0,
        };
        let mut last = String::new();
        let result = read_entries(
            &mut plain, layer, limits, &mut stats, &mut last, &consumed, &mut visit,
        );
        // Drain what the tar reader left (end-of-archive blocks, padding) for the digests.
        let drained = result.and_then(|()| {
            io::copy(&mut plain, &mut io::sink()).map_err(|e| tar_err(layer, &last, &e))
        });
        if tripped.get() {
            return Err(LayerError::TooLarge {
                layer: layer.to_string(),
                limit: limits.max_layer_bytes,
            });
        }
        drained.map(|_| ())?;
        stats.bytes = plain.count;
        if let (Some(want), Some(h)) = (diff_id, plain.hasher.take()) {
            let actual = h.finish();
            if actual != want.to_string() {
                return Err(LayerError::DigestMismatch {
                    layer: layer.to_string(),
                    actual,
                });
            }
        }
    }
    // Bytes after the end of the compressed stream count for the blob digest, but a stream
    // that never ends must not keep the scan reading: at most the layer limit more.
    let trailing = io::copy(
        &mut (&mut stored).take(limits.max_layer_bytes.saturating_add(1)),
        &mut io::sink(),
    )
    .map_err(io_err)?;
    if trailing > limits.max_layer_bytes {
        return Err(LayerError::TrailingData {
            layer: layer.to_string(),
            limit: limits.max_layer_bytes,
        });
    }
    stats.stored_bytes = stored.count;
    if let (Some(want), Some(h)) = (blob_digest, stored.hasher.take()) {
        let actual = h.finish();
        if actual != want.to_string() {
            return Err(LayerError::DigestMismatch {
                layer: layer.to_string(),
                actual,
            });
        }
    }
    Ok(stats)
}

fn tar_err(layer: &str, entry: &str, e: &io::Error) -> LayerError {
    LayerError::Tar {
        layer: layer.to_string(),
        entry: entry.to_string(),
        reason: e.to_string(),
    }
}

fn read_entries<R: Read>(
    r: R,
    layer: &str,
    limits: &Limits,
    stats: &mut LayerStats,
    last: &mut String,
    consumed: &Rc<Cell<u64>>,
    visit: &mut impl FnMut(Event, &mut dyn Read) -> io::Result<()>,
) -> Result<(), LayerError> {
    let mut ar = tar::Archive::new(r);
    let entries = ar.entries().map_err(|e| tar_err(layer, last, &e))?;
    let mut empty = io::empty();
    let mut warned_absolute = false;
    // End of the last entry's content in the uncompressed stream.
    let mut content_end = 0u64;
    for entry in entries {
        let mut entry = match entry {
            Ok(e) => e,
            // Some writers (umoci 0.4 `insert` of a single file) end the stream right after the
            // last file's content, without padding or end-of-archive blocks: all content is
            // there, so accept it with a warning. A stream cut inside content stays an error.
            Err(e) if content_end > 0 && consumed.get() == content_end => {
                tracing::debug!("layer {layer}: tar ends without padding or end-of-archive marker after {last:?} ({e}); accepted");
                return Ok(());
            }
            Err(e) => return Err(tar_err(layer, last, &e)),
        };
        content_end = entry.raw_file_position() + entry.size();
        stats.entries += 1;
        if stats.entries > limits.max_layer_entries {
            return Err(LayerError::TooManyEntries {
                layer: layer.to_string(),
                limit: limits.max_layer_entries,
            });
        }
        let raw = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        last.clone_from(&raw);
        if raw.starts_with('/') && !raw.trim_matches(['/', '.']).is_empty() && !warned_absolute {
            warned_absolute = true;
            let w =
                format!("layer {layer}: absolute entry name {raw:?} taken relative to the root");
            visit(Event::Warning(w), &mut empty).map_err(|e| tar_err(layer, last, &e))?;
        }
        let path = match normalize(&raw) {
            Ok(p) => p,
            Err(why) => {
                let w = format!("layer {layer}: entry skipped: {why}");
                visit(Event::Warning(w), &mut empty).map_err(|e| tar_err(layer, last, &e))?;
                continue;
            }
        };
        if path.is_empty() {
            continue;
        }
        let (dir, base) = match path.rsplit_once('/') {
            Some((d, b)) => (d, b),
            None => ("", path.as_str()),
        };
        if let Some(hidden) = base.strip_prefix(".wh.") {
            let ev = if hidden == ".wh..opq" {
                Event::Opaque(dir.to_string())
            } else if hidden.is_empty() || hidden.starts_with(".wh.") {
                Event::Warning(format!("layer {layer}: unknown whiteout {path:?} ignored"))
            } else if dir.is_empty() {
                Event::Whiteout(hidden.to_string())
            } else {
                Event::Whiteout(format!("{dir}/{hidden}"))
            };
            visit(ev, &mut empty).map_err(|e| tar_err(layer, last, &e))?;
            continue;
        }
        let header = entry.header();
        let et = header.entry_type();
        let mode = header.mode().unwrap_or(0) & 0o7777;
        let size = entry.size();
        let link = || {
            entry
                .link_name_bytes()
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_default()
        };
        let kind = if et.is_file()
            || et == tar::EntryType::Continuous
            || et == tar::EntryType::GNUSparse
        {
            EntryKind::File
        } else if et.is_dir() {
            EntryKind::Dir
        } else if et.is_symlink() {
            EntryKind::Symlink(link())
        } else if et.is_hard_link() {
            match normalize(&link()) {
                Ok(t) => EntryKind::Hardlink(t),
                Err(why) => {
                    let w = format!("layer {layer}: hard link {path:?} skipped: target {why}");
                    visit(Event::Warning(w), &mut empty).map_err(|e| tar_err(layer, last, &e))?;
                    continue;
                }
            }
        } else if matches!(
            et,
            tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo
        ) {
            EntryKind::Other
        } else {
            continue;
        };
        let ev = Event::Entry(Entry {
            path,
            kind,
            mode,
            size,
        });
        visit(ev, &mut entry).map_err(|e| tar_err(layer, last, &e))?;
    }
    Ok(())
}
