//! Alert outputs of mamori's runtime engine, each with received/sent/dropped counters.
//!
//! - [`StdoutOutput`]: one Falco JSON alert per line on any writer (stdout by default);
//! - [`FileOutput`]: appends JSON lines to a file, reopens it when asked (SIGHUP, log rotation);
//! - [`HttpOutput`]: POSTs batches of alerts as a JSON array to an `http://` URL from a worker
//!   thread, with a bounded queue (full queue = dropped), retries with exponential backoff;
//! - [`SyslogOutput`]: RFC 3164 messages to a local syslog socket or a UDP address.
//!
//! All implement [`Output`]; [`Fanout`] sends each alert to several outputs.
//!
//! ```
//! use mamori_pipeline::{Output, StdoutOutput};
//! let mut out = StdoutOutput::new(Vec::new());
//! let alert: mamori_rules::Alert = serde_json::from_str(r#"{"hostname":"h","output":"o",
//!   "output_fields":{},"priority":"Warning","rule":"r","source":"syscall","tags":[],
//!   "time":"2023-11-14T22:13:20.000000000Z"}"#).unwrap();
//! out.send(&alert).unwrap();
//! out.flush().unwrap();
//! assert_eq!(out.counters().sent, 1);
//! ```

mod file;
mod http;
mod syslog;

use std::io::Write;

pub use file::FileOutput;
pub use http::{HttpOutput, HttpSettings};
pub use syslog::SyslogOutput;

use mamori_rules::Alert;

/// Per-output counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Alerts handed to the output.
    pub received: u64,
    /// Alerts written or delivered.
    pub sent: u64,
    /// Alerts lost (full queue, failed delivery after retries, write error).
    pub dropped: u64,
}

/// An output failed.
#[derive(Debug, thiserror::Error)]
pub enum OutputError {
    /// Writing failed.
    #[error("writing alert to {what}")]
    Io {
        /// Which output.
        what: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// Invalid output settings.
    #[error("invalid output setting: {0}")]
    Config(String),
}

/// Where alerts go.
pub trait Output {
    /// Sends one alert (may buffer).
    fn send(&mut self, alert: &Alert) -> Result<(), OutputError>;
    /// Flushes buffered alerts (called on shutdown).
    fn flush(&mut self) -> Result<(), OutputError>;
    /// Counters so far.
    fn counters(&self) -> Counters;
    /// A short name for reports (`stdout`, `file:/path`, ...).
    fn name(&self) -> String;
}

/// JSON lines on a writer.
#[derive(Debug)]
pub struct StdoutOutput<W: Write> {
    w: W,
    c: Counters,
}

impl<W: Write> StdoutOutput<W> {
    /// Writes to `w`.
    pub fn new(w: W) -> Self {
        StdoutOutput {
            w,
            c: Counters::default(),
        }
    }

    /// The writer back.
    pub fn into_inner(self) -> W {
        self.w
    }
}

/// One alert as a JSON line.
pub fn json_line(alert: &Alert) -> String {
    // Serializing a struct of strings and JSON values cannot fail.
    serde_json::to_string(alert).unwrap_or_default()
}

impl<W: Write> Output for StdoutOutput<W> {
    fn send(&mut self, alert: &Alert) -> Result<(), OutputError> {
        self.c.received += 1;
        let line = json_line(alert);
        match writeln!(self.w, "{line}") {
            Ok(()) => {
                self.c.sent += 1;
                Ok(())
            }
            Err(source) => {
                self.c.dropped += 1;
                Err(OutputError::Io {
                    what: "stdout".into(),
                    source,
                })
            }
        }
    }

    fn flush(&mut self) -> Result<(), OutputError> {
        self.w.flush().map_err(|source| OutputError::Io {
            what: "stdout".into(),
            source,
        })
    }

    fn counters(&self) -> Counters {
        self.c
    }

    fn name(&self) -> String {
        "stdout".into()
    }
}

/// Sends each alert to every output; errors are logged and counted, not fatal.
#[derive(Default)]
pub struct Fanout {
    outputs: Vec<Box<dyn Output>>,
}

impl std::fmt::Debug for Fanout {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.outputs.iter().map(|o| o.name()))
            .finish()
    }
}

impl Fanout {
    /// No outputs yet.
    pub fn new() -> Self {
        Fanout::default()
    }

    /// Adds an output.
    pub fn push(&mut self, o: Box<dyn Output>) {
        self.outputs.push(o);
    }

    /// Sends to all.
    pub fn send(&mut self, alert: &Alert) {
        for o in &mut self.outputs {
            if let Err(e) = o.send(alert) {
                tracing::warn!(output = %o.name(), error = %e, "alert not delivered");
            }
        }
    }

    /// Flushes all, returning (name, counters) for each.
    pub fn finish(&mut self) -> Vec<(String, Counters)> {
        let mut out = Vec::new();
        for o in &mut self.outputs {
            if let Err(e) = o.flush() {
                tracing::warn!(output = %o.name(), error = %e, "flush failed");
            }
            out.push((o.name(), o.counters()));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn alert(rule: &str) -> Alert {
        Alert {
            hostname: "h".into(),
            output: "22:13:20.000000000: Warning x".into(),
            output_fields: serde_json::Map::new(),
            priority: "Warning".into(),
            rule: rule.into(),
            source: "syscall".into(),
            tags: vec!["t".into()],
            time: "2023-11-14T22:13:20.000000000Z".into(),
            status: None,
        }
    }

    #[test]
    fn stdout_writes_json_lines() {
        let mut o = StdoutOutput::new(Vec::new());
        o.send(&alert("a")).unwrap();
        o.send(&alert("b")).unwrap();
        let text = String::from_utf8(o.into_inner()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        let v: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(v["rule"], "b");
        assert_eq!(v["source"], "syscall");
    }

    struct Broken;
    impl Write for Broken {
        fn write(&mut self, _: &[u8]) -> std::io::Result<usize> {
            Err(std::io::Error::other("disk full"))
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn write_errors_count_as_dropped() {
        let mut o = StdoutOutput::new(Broken);
        assert!(o.send(&alert("a")).is_err());
        assert_eq!(
            o.counters(),
            Counters {
                received: 1,
                sent: 0,
                dropped: 1
            }
        );
    }
}
