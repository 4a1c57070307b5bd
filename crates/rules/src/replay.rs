//! The replay source: JSON Lines, one object of Falco field names to values per line.
//!
//! `evt.time` (integer nanoseconds, or a string of digits) becomes the event time; `null`
//! values are treated as absent; arrays of strings become list values.

use std::io::BufRead;

use mamori_core::event::{EventSource, Value};
use mamori_core::Event;

/// A line that is not a valid event.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct BadLine {
    /// 1-based line number.
    pub line: usize,
    /// Why it was rejected.
    pub message: String,
}

/// Reading the replay input failed (I/O), as opposed to one bad line.
#[derive(Debug, thiserror::Error)]
#[error("reading replay input at line {line}")]
pub struct ReplayIoError {
    /// Line being read.
    pub line: usize,
    /// The I/O error.
    #[source]
    pub source: std::io::Error,
}

/// Parses one replay line into an event.
pub fn parse_line(text: &str, line: usize) -> Result<Event, BadLine> {
    let bad = |m: String| BadLine { line, message: m };
    let obj: serde_json::Map<String, serde_json::Value> =
        serde_json::from_str(text).map_err(|e| bad(format!("invalid json object: {e}")))?;
    let mut ev = Event::new(EventSource::Syscall, 0);
    for (k, v) in obj {
        if k == "evt.time" || k == "evt.rawtime" {
            ev.time_ns = match &v {
                serde_json::Value::Number(n) => n.as_u64().ok_or_else(|| {
                    bad(format!(
                        "'{k}' must be a non-negative integer of nanoseconds"
                    ))
                })?,
                serde_json::Value::String(s) => s
                    .parse()
                    .map_err(|_| bad(format!("'{k}' must be an integer of nanoseconds")))?,
                _ => return Err(bad(format!("'{k}' must be an integer of nanoseconds"))),
            };
            continue;
        }
        if k == "evt.source" {
            if let serde_json::Value::String(s) = &v {
                if s != "syscall" {
                    ev.source = EventSource::Policy;
                }
            }
            continue;
        }
        let val = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::Bool(b) => Value::Bool(b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => Value::Int(i),
                None => match n.as_f64() {
                    Some(f) if f.fract() == 0.0 && f.abs() < 9.2e18 => Value::Int(f as i64),
                    _ => Value::Str(n.to_string()),
                },
            },
            serde_json::Value::String(s) => Value::Str(s),
            serde_json::Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items {
                    match it {
                        serde_json::Value::String(s) => out.push(s),
                        serde_json::Value::Number(n) => out.push(n.to_string()),
                        _ => return Err(bad(format!("field '{k}': list items must be strings"))),
                    }
                }
                Value::List(out)
            }
            serde_json::Value::Object(_) => {
                return Err(bad(format!("field '{k}': nested objects are not allowed")))
            }
        };
        ev.fields.insert(k, val);
    }
    Ok(ev)
}

/// Reads a replay stream, calling `on_event` for each good event and `on_bad` for each bad line.
/// Returns (events, bad lines).
pub fn read_replay(
    input: impl BufRead,
    mut on_event: impl FnMut(Event),
    mut on_bad: impl FnMut(BadLine),
) -> Result<(usize, usize), ReplayIoError> {
    let (mut good, mut bad) = (0, 0);
    for (i, line) in input.lines().enumerate() {
        let line_no = i + 1;
        let text = line.map_err(|source| ReplayIoError {
            line: line_no,
            source,
        })?;
        if text.trim().is_empty() {
            continue;
        }
        match parse_line(&text, line_no) {
            Ok(ev) => {
                good += 1;
                on_event(ev);
            }
            Err(b) => {
                bad += 1;
                on_bad(b);
            }
        }
    }
    Ok((good, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_issue_example() {
        let l = r#"{"evt.type":"openat","evt.is_open_read":true,"fd.name":"/etc/shadow","fd.num":3,"proc.aname[2]":"runc","evt.time":1700000000000000000}"#;
        let ev = parse_line(l, 1).unwrap();
        assert_eq!(ev.time_ns, 1_700_000_000_000_000_000);
        assert_eq!(ev.field("fd.num"), Some(&Value::Int(3)));
        assert_eq!(ev.field("evt.is_open_read"), Some(&Value::Bool(true)));
        assert!(ev.field("evt.time").is_none());
    }

    #[test]
    fn bad_lines_are_counted_with_numbers() {
        let input =
            "{\"evt.type\":\"open\"}\nnot json\n\n{\"a\":{\"b\":1}}\n{\"evt.type\":\"mkdir\"}\n";
        let mut bads = Vec::new();
        let (good, bad) = read_replay(input.as_bytes(), |_| {}, |b| bads.push(b)).unwrap();
        assert_eq!((good, bad), (2, 2));
        assert_eq!(bads[0].line, 2);
        assert_eq!(bads[1].line, 4);
    }
}
