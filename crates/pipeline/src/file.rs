//! File output: appends JSON lines; reopens the file when the reopen flag is raised (SIGHUP).

use std::fs::{File, OpenOptions};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use mamori_rules::Alert;

use crate::{json_line, Counters, Output, OutputError};

/// Appends alerts to a file.
#[derive(Debug)]
pub struct FileOutput {
    path: PathBuf,
    w: BufWriter<File>,
    reopen: Arc<AtomicBool>,
    c: Counters,
}

fn open(path: &Path) -> Result<File, OutputError> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|source| OutputError::Io {
            what: path.display().to_string(),
            source,
        })
}

impl FileOutput {
    /// Opens (creating if needed) `path` for appending.
    pub fn open(path: impl Into<PathBuf>) -> Result<Self, OutputError> {
        let path = path.into();
        let f = open(&path)?;
        Ok(FileOutput {
            path,
            w: BufWriter::new(f),
            reopen: Arc::new(AtomicBool::new(false)),
            c: Counters::default(),
        })
    }

    /// The flag that, when set, makes the next send reopen the file.
    pub fn reopen_flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.reopen)
    }

    /// Reopens the file on SIGHUP (Unix).
    pub fn reopen_on_sighup(&self) -> Result<(), OutputError> {
        signal_hook::flag::register(signal_hook::consts::SIGHUP, self.reopen_flag())
            .map(|_| ())
            .map_err(|source| OutputError::Io {
                what: "SIGHUP handler".into(),
                source,
            })
    }

    fn io(&self, source: std::io::Error) -> OutputError {
        OutputError::Io {
            what: self.path.display().to_string(),
            source,
        }
    }
}

impl Output for FileOutput {
    fn send(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.c.received += 1;
        if self.reopen.swap(false, Ordering::SeqCst) {
            if let Err(e) = self.w.flush() {
                tracing::warn!(error = %e, "flush before reopen failed");
            }
            match open(&self.path) {
                Ok(f) => self.w = BufWriter::new(f),
                Err(e) => {
                    self.c.dropped += 1;
                    return Err(e);
                }
            }
        }
        match writeln!(self.w, "{}", json_line(alert)) {
            Ok(()) => {
                self.c.sent += 1;
                Ok(())
            }
            Err(e) => {
                self.c.dropped += 1;
                Err(self.io(e))
            }
        }
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        self.w.flush().map_err(|e| self.io(e))
    }

    fn counters(&self) -> Counters {
        self.c
    }

    fn name(&self) -> String {
        format!("file:{}", self.path.display())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tests::alert;

    #[test]
    fn appends_and_reopens_after_rotation() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("alerts.jsonl");
        std::fs::write(&p, "{\"old\":1}\n").unwrap();
        let mut o = FileOutput::open(&p).unwrap();
        o.send(&alert("a")).unwrap();
        o.flush().unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap().lines().count(), 2);
        // Rotate: move the file away, raise the flag, the next alert goes to a new file.
        let rotated = dir.path().join("alerts.jsonl.1");
        std::fs::rename(&p, &rotated).unwrap();
        o.reopen_flag().store(true, Ordering::SeqCst);
        o.send(&alert("b")).unwrap();
        o.flush().unwrap();
        let fresh = std::fs::read_to_string(&p).unwrap();
        assert_eq!(fresh.lines().count(), 1);
        assert!(fresh.contains("\"rule\":\"b\""));
        assert_eq!(o.counters().sent, 2);
    }
}
