//! The scanner's configuration file (`mamori config scan --config FILE`), YAML:
//!
//! ```yaml
//! severity: medium          # report findings at or above
//! check: [MK-K8S-009]       # only these rule ids (optional)
//! skip-check: [DL3008, MK-K8S-006]
//! max-file-size: 16777216   # bytes
//! ```
//!
//! Unknown keys are errors, so a typo never silently disables a setting.

use mamori_core::Severity;

use crate::node::{Node, Pos, Value};
use crate::{yaml, Limits, ReadError, Settings};

/// Why a configuration file was rejected.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// Not valid YAML.
    #[error("invalid yaml")]
    Yaml(#[source] ReadError),
    /// Valid YAML with a wrong key or value.
    #[error("{}:{}: {message}", pos.line, pos.col)]
    Invalid {
        /// Where.
        pos: Pos,
        /// What is wrong.
        message: String,
    },
}

fn invalid(node: &Node, message: impl Into<String>) -> ConfigFileError {
    ConfigFileError::Invalid {
        pos: node.pos,
        message: message.into(),
    }
}

fn ids(node: &Node) -> Result<Vec<String>, ConfigFileError> {
    match &node.value {
        Value::Seq(items) => items
            .iter()
            .map(|i| {
                i.as_str()
                    .map(String::from)
                    .ok_or_else(|| invalid(i, "expected a rule id"))
            })
            .collect(),
        Value::Null => Ok(Vec::new()),
        _ => Err(invalid(node, "expected a list of rule ids")),
    }
}

/// Applies a configuration file's settings on top of `settings` (command-line flags given
/// afterwards override or extend them).
pub fn apply_config_file(text: &str, settings: &mut Settings) -> Result<(), ConfigFileError> {
    let docs = yaml::read_yaml(text, &Limits::default()).map_err(ConfigFileError::Yaml)?;
    let Some(doc) = docs.first() else {
        return Ok(());
    };
    if !doc.is_map() && doc.value != Value::Null {
        return Err(invalid(doc, "expected a mapping"));
    }
    for (k, v) in doc.entries() {
        match k.as_str() {
            Some("severity") => {
                let s = v
                    .as_str()
                    .ok_or_else(|| invalid(v, "expected a severity"))?;
                let sev: Severity = s
                    .parse()
                    .map_err(|_| invalid(v, format!("unknown severity {s:?}")))?;
                settings.min_severity = Some(sev);
            }
            Some("check") => settings.only.extend(ids(v)?),
            Some("skip-check") => settings.skip.extend(ids(v)?),
            Some("max-file-size") => {
                let n = v
                    .as_i64()
                    .and_then(|n| u64::try_from(n).ok())
                    .ok_or_else(|| invalid(v, "expected a size in bytes"))?;
                settings.limits.max_bytes = n;
            }
            Some(other) => return Err(invalid(k, format!("unknown key {other:?}"))),
            None => return Err(invalid(k, "expected a string key")),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_settings() {
        let mut s = Settings::default();
        apply_config_file(
            "severity: high\nskip-check: [DL3008]\ncheck: []\nmax-file-size: 10\n",
            &mut s,
        )
        .unwrap();
        assert_eq!(s.min_severity, Some(Severity::High));
        assert!(s.skip.contains("DL3008"));
        assert_eq!(s.limits.max_bytes, 10);
    }

    #[test]
    fn rejects_unknown_keys_and_bad_values() {
        let mut s = Settings::default();
        let e = apply_config_file("sevrity: high\n", &mut s).unwrap_err();
        assert_eq!(e.to_string(), "1:1: unknown key \"sevrity\"");
        let e = apply_config_file("severity: hgh\n", &mut s).unwrap_err();
        assert!(e.to_string().starts_with("1:11:"), "{e}");
        assert!(apply_config_file("skip-check: DL3008\n", &mut s).is_err());
        assert!(apply_config_file("a: [\n", &mut s).is_err());
    }
}
