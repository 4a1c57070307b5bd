//! `mamori.yaml`: the settings file that composes each crate's configuration.
//!
//! ```yaml
//! console:
//!   listen: 127.0.0.1:7777
//!   data_dir: /var/lib/mamori
//!   retention_days: 30
//!   synchronous: full          # or normal: faster, not safe against power loss
//!   rate_limit: {requests_per_sec: 100, request_burst: 200, events_per_sec: 20000, event_burst: 100000}
//!   alarms:
//!     - name: mkdir-binary-dirs
//!       filter: {rule: Mkdir binary dirs}
//!       window_secs: 300
//!       comparison: ">="
//!       threshold: 1
//!       actions: [{type: log}]
//! ```
//!
//! Flags given on the command line win over the file.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::Context;
use mamori_console::alarms::AlarmConfig;
use mamori_console::ratelimit::RateLimitConfig;
use mamori_console::store::Synchronous;
use serde::Deserialize;

/// The whole file. Unknown keys are errors.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MamoriConfig {
    /// The console's section.
    #[serde(default)]
    pub console: ConsoleSection,
}

/// The `console` section.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleSection {
    /// Address to listen on.
    pub listen: Option<SocketAddr>,
    /// Folder for the event store.
    pub data_dir: Option<PathBuf>,
    /// Delete events older than this many days (0 keeps them).
    pub retention_days: Option<u32>,
    /// Keep at most this many events.
    pub retention_rows: Option<u64>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: Option<usize>,
    /// The console's public URL, for links in alarm notifications.
    pub public_url: Option<String>,
    /// Alarms, created or updated at start.
    #[serde(default)]
    pub alarms: Vec<AlarmConfig>,
    /// Rate limits per token (requests and events per second, bursts; 0 turns one off).
    pub rate_limit: Option<RateLimitConfig>,
    /// When the store syncs to disk: `full` (default) or `normal` (faster; acknowledged events
    /// survive a crash of the console but not a power loss).
    pub synchronous: Option<Synchronous>,
}

/// Reads and checks `path`; errors name the file, line and column.
pub fn load(path: &Path) -> anyhow::Result<MamoriConfig> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let cfg: MamoriConfig = serde_saphyr::from_str(&text).map_err(|e| {
        let at = match e.location() {
            Some(l) if l.line() > 0 => format!("{}:{}:{}", path.display(), l.line(), l.column()),
            _ => path.display().to_string(),
        };
        let text = e.to_string();
        let first = text
            .lines()
            .next()
            .unwrap_or("invalid document")
            .trim()
            .to_string();
        anyhow::anyhow!("{at}: {first}")
    })?;
    if let Some(limits) = &cfg.console.rate_limit {
        limits
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    for alarm in &cfg.console.alarms {
        alarm
            .validate()
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    }
    Ok(cfg)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(text: &str) -> (tempfile::TempDir, PathBuf) {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("mamori.yaml");
        std::fs::write(&path, text).expect("write");
        (dir, path)
    }

    #[test]
    fn reads_console_settings_and_alarms() {
        let (_d, p) = write(
            "console:\n  listen: 127.0.0.1:9000\n  retention_days: 7\n  alarms:\n    - name: shells\n      filter: {rule: Terminal shell in container}\n      threshold: 1\n      actions: [{type: log}]\n",
        );
        let cfg = load(&p).expect("valid");
        assert_eq!(
            cfg.console.listen,
            Some("127.0.0.1:9000".parse().expect("addr"))
        );
        assert_eq!(cfg.console.alarms[0].name, "shells");
        assert_eq!(cfg.console.alarms[0].window_secs, 300);
    }

    #[test]
    fn unknown_keys_are_errors_with_a_position() {
        let (_d, p) = write("console:\n  retention_days: 7\n  scoep: x\n");
        let err = load(&p).expect_err("unknown key").to_string();
        assert!(err.contains("mamori.yaml:3:"), "{err}");
        assert!(err.contains("scoep"), "{err}");
    }

    #[test]
    fn reads_rate_limits_and_durability() {
        let (_d, p) = write(
            "console:\n  synchronous: normal\n  rate_limit:\n    requests_per_sec: 5\n    request_burst: 10\n",
        );
        let cfg = load(&p).expect("valid");
        assert_eq!(cfg.console.synchronous, Some(Synchronous::Normal));
        let rl = cfg.console.rate_limit.expect("rate limit");
        assert_eq!((rl.requests_per_sec, rl.request_burst), (5.0, 10.0));
        // Unset members keep their defaults.
        assert_eq!(rl.events_per_sec, RateLimitConfig::default().events_per_sec);
        let (_d, p) = write("console:\n  rate_limit:\n    events_per_sec: -3\n");
        let err = load(&p).expect_err("negative").to_string();
        assert!(err.contains("events_per_sec"), "{err}");
        let (_d, p) = write("console:\n  rate_limit:\n    event_per_sec: 3\n");
        let err = load(&p).expect_err("typo").to_string();
        assert!(err.contains("mamori.yaml:3:"), "{err}");
        let (_d, p) = write("console:\n  synchronous: sometimes\n");
        assert!(load(&p).is_err());
    }

    #[test]
    fn invalid_alarms_are_refused() {
        let (_d, p) = write("console:\n  alarms:\n    - name: x\n      window_secs: 0\n");
        assert!(load(&p)
            .expect_err("invalid")
            .to_string()
            .contains("window_secs"));
    }
}
