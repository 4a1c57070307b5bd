//! Progress of a scan, for a caller that draws it (the binary draws bars on a terminal). The
//! library only reports; it never prints.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;

/// Receives the progress of layer reads (a registry pull is read as it downloads, so this is
/// the pull's progress too).
pub trait Progress: Send + Sync {
    /// Layer `index` (0-based) of `count` starts; `size` is its stored (compressed) size in
    /// bytes when the manifest says, else 0.
    fn layer_started(&self, index: usize, count: usize, name: &str, size: u64);
    /// `bytes` more stored bytes of the current layer were read.
    fn layer_read(&self, bytes: u64);
    /// The current layer was read to the end (or failed).
    fn layer_finished(&self);
}

/// A shared [`Progress`] receiver in [`crate::ScanOptions`].
#[derive(Clone)]
pub struct ProgressSink(pub Arc<dyn Progress>);

impl fmt::Debug for ProgressSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ProgressSink(..)")
    }
}

/// Counts the bytes read through it into a [`Progress`].
pub(crate) struct ProgressReader<'a, R> {
    pub(crate) inner: R,
    pub(crate) progress: &'a dyn Progress,
}

impl<R: Read> Read for ProgressReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.progress.layer_read(n as u64);
        Ok(n)
    }
}
