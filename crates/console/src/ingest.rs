//! Decoding ingest bodies: Falco's JSON alert schema (one object, an array, or NDJSON) and
//! mamori's own events, which use the same schema plus `status`.
//!
//! Batch policy: every valid item is stored; every invalid item is rejected with its index (and its
//! line for NDJSON) and a reason. The caller answers 200 with both lists, or 400 when nothing in
//! the body is valid.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::model::{normalise_priority, StoredEvent};

/// One item of a batch that could not be ingested.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Rejected {
    /// 0-based index of the item in the batch.
    pub index: usize,
    /// 1-based line of the item, for NDJSON bodies.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// Why it was rejected.
    pub reason: String,
}

/// The result of decoding a body.
#[derive(Debug, Default)]
pub struct Decoded {
    /// The valid events, in body order.
    pub events: Vec<StoredEvent>,
    /// The invalid items.
    pub rejected: Vec<Rejected>,
}

/// Decodes an ingest body; `now_ns` stamps events that carry no time.
pub fn decode_body(body: &[u8], now_ns: i64) -> Decoded {
    let mut decoder = Decoder::new(body, now_ns);
    let events = decoder.by_ref().collect();
    Decoded {
        events,
        rejected: decoder.into_rejected(),
    }
}

/// Decodes an ingest body item by item: an iterator over its valid events, in body order, for a
/// caller that stores the first events while later ones are still being decoded. NDJSON bodies
/// are decoded line by line as the iterator advances; an array or a single object is decoded at
/// once. The invalid items are in [`Decoder::into_rejected`] once the iterator is exhausted.
#[derive(Debug)]
pub struct Decoder<'a> {
    /// NDJSON lines still to decode, with their 0-based line number.
    lines: Option<std::iter::Enumerate<std::str::Lines<'a>>>,
    /// Events decoded already (arrays and single objects).
    ready: std::vec::IntoIter<StoredEvent>,
    /// Index of the next NDJSON item.
    index: usize,
    now_ns: i64,
    rejected: Vec<Rejected>,
    yielded: usize,
}

impl<'a> Decoder<'a> {
    /// Starts decoding `body`; `now_ns` stamps events that carry no time.
    pub fn new(body: &'a [u8], now_ns: i64) -> Decoder<'a> {
        let mut out = Decoded::default();
        let mut lines = None;
        match std::str::from_utf8(body) {
            Err(e) => out.rejected.push(Rejected {
                index: 0,
                line: None,
                reason: format!("body is not UTF-8: {e}"),
            }),
            Ok(text) if text.trim_start().starts_with('[') => {
                match serde_json::from_str::<Vec<Value>>(text) {
                    Ok(items) => {
                        for (index, item) in items.into_iter().enumerate() {
                            push(&mut out, index, None, from_value(item, now_ns));
                        }
                    }
                    Err(e) => out.rejected.push(Rejected {
                        index: 0,
                        line: Some(e.line()),
                        reason: format!("invalid JSON array: {e}"),
                    }),
                }
            }
            Ok(text) => match serde_json::from_str::<Value>(text) {
                // A single (possibly pretty-printed) object.
                Ok(value @ Value::Object(_)) => push(&mut out, 0, None, from_value(value, now_ns)),
                // NDJSON: one object per line; blank lines are ignored.
                _ => lines = Some(text.lines().enumerate()),
            },
        }
        Decoder {
            lines,
            ready: out.events.into_iter(),
            index: 0,
            now_ns,
            rejected: out.rejected,
            yielded: 0,
        }
    }

    /// How many valid events the iterator has yielded so far.
    pub fn yielded(&self) -> usize {
        self.yielded
    }

    /// The invalid items (complete once the iterator is exhausted).
    pub fn into_rejected(self) -> Vec<Rejected> {
        self.rejected
    }
}

impl Iterator for Decoder<'_> {
    type Item = StoredEvent;

    fn next(&mut self) -> Option<StoredEvent> {
        if let Some(ev) = self.ready.next() {
            self.yielded += 1;
            return Some(ev);
        }
        let lines = self.lines.as_mut()?;
        for (n, line) in lines.by_ref() {
            if line.trim().is_empty() {
                continue;
            }
            let index = self.index;
            self.index += 1;
            let result = serde_json::from_str::<Value>(line)
                .map_err(|e| format!("invalid JSON at column {}: {e}", e.column()))
                .and_then(|v| from_value(v, self.now_ns));
            match result {
                Ok(ev) => {
                    self.yielded += 1;
                    return Some(ev);
                }
                Err(reason) => self.rejected.push(Rejected {
                    index,
                    line: Some(n + 1),
                    reason,
                }),
            }
        }
        None
    }
}

fn push(out: &mut Decoded, index: usize, line: Option<usize>, r: Result<StoredEvent, String>) {
    match r {
        Ok(ev) => out.events.push(ev),
        Err(reason) => out.rejected.push(Rejected {
            index,
            line,
            reason,
        }),
    }
}

/// Converts one decoded JSON value (a Falco alert or a mamori event) into a stored event.
pub fn from_value(value: Value, now_ns: i64) -> Result<StoredEvent, String> {
    let Value::Object(mut obj) = value else {
        return Err(format!("expected a JSON object, found {}", kind(&value)));
    };
    let rule = take_str(&mut obj, "rule")?.ok_or("missing \"rule\"")?;
    if rule.is_empty() {
        return Err("\"rule\" is empty".into());
    }
    let priority_raw = take_str(&mut obj, "priority")?.ok_or("missing \"priority\"")?;
    let priority = normalise_priority(&priority_raw)
        .ok_or_else(|| format!("unknown priority {priority_raw:?}"))?;
    let output = take_str(&mut obj, "output")?.unwrap_or_default();
    let time_ns = match obj.remove("time") {
        None | Some(Value::Null) => now_ns,
        Some(Value::String(s)) => parse_time(&s)?,
        Some(Value::Number(n)) => n
            .as_i64()
            .ok_or_else(|| format!("\"time\" {n} is not an integer of nanoseconds"))?,
        Some(other) => {
            return Err(format!(
                "\"time\" must be a string or number, found {}",
                kind(&other)
            ))
        }
    };
    let source = take_str(&mut obj, "source")?.unwrap_or_else(|| "syscall".into());
    let hostname = take_str(&mut obj, "hostname")?.unwrap_or_default();
    let status = take_str(&mut obj, "status")?;
    let tags = match obj.remove("tags") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => items
            .into_iter()
            .map(|t| match t {
                Value::String(s) => Ok(s),
                other => Err(format!(
                    "\"tags\" items must be strings, found {}",
                    kind(&other)
                )),
            })
            .collect::<Result<_, _>>()?,
        Some(other) => return Err(format!("\"tags\" must be an array, found {}", kind(&other))),
    };
    let fields: BTreeMap<String, Value> = match obj.remove("output_fields") {
        None | Some(Value::Null) => BTreeMap::new(),
        Some(Value::Object(m)) => m.into_iter().collect(),
        Some(other) => {
            return Err(format!(
                "\"output_fields\" must be an object, found {}",
                kind(&other)
            ))
        }
    };
    let field = |name: &str| match fields.get(name) {
        Some(Value::String(s)) if !s.is_empty() && s != "<NA>" => Some(s.clone()),
        _ => None,
    };
    let image = match (
        field("container.image.repository"),
        field("container.image.tag"),
    ) {
        (Some(repo), Some(tag)) => Some(format!("{repo}:{tag}")),
        (Some(repo), None) => Some(repo),
        (None, _) => field("container.image"),
    };
    Ok(StoredEvent {
        id: 0,
        time_ns,
        source,
        rule,
        priority: priority.to_string(),
        output,
        hostname,
        tags,
        namespace: field("k8s.ns.name"),
        pod: field("k8s.pod.name"),
        container: field("container.id"),
        image,
        status,
        fields,
    })
}

fn take_str(obj: &mut Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match obj.remove(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(other) => Err(format!(
            "\"{key}\" must be a string, found {}",
            kind(&other)
        )),
    }
}

fn parse_time(s: &str) -> Result<i64, String> {
    let t = OffsetDateTime::parse(s, &Rfc3339)
        .map_err(|e| format!("\"time\" {s:?} is not RFC 3339: {e}"))?;
    i64::try_from(t.unix_timestamp_nanos()).map_err(|_| format!("\"time\" {s:?} is out of range"))
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALERT: &str = r#"{"hostname":"node-1","output":"13:00:00.000000000: Warning Sensitive file opened for reading by non-trusted program (file=/etc/shadow)","priority":"Warning","rule":"Read sensitive file untrusted","source":"syscall","tags":["T1555","container","filesystem"],"time":"2023-11-14T22:13:20.123456789Z","output_fields":{"container.id":"3ad7b26ded6d","container.image.repository":"nginx","container.image.tag":"1.25","fd.name":"/etc/shadow","k8s.ns.name":"default","k8s.pod.name":"nginx2-7844999d9c-8xgkx","proc.name":"cat"}}"#;

    #[test]
    fn falco_alert_is_lifted_into_columns() {
        let d = decode_body(ALERT.as_bytes(), 0);
        assert!(d.rejected.is_empty(), "{:?}", d.rejected);
        let ev = &d.events[0];
        assert_eq!(ev.rule, "Read sensitive file untrusted");
        assert_eq!(ev.priority, "warning");
        assert_eq!(ev.namespace.as_deref(), Some("default"));
        assert_eq!(ev.pod.as_deref(), Some("nginx2-7844999d9c-8xgkx"));
        assert_eq!(ev.container.as_deref(), Some("3ad7b26ded6d"));
        assert_eq!(ev.image.as_deref(), Some("nginx:1.25"));
        assert_eq!(ev.time_ns, 1_700_000_000_123_456_789);
        assert_eq!(ev.tags.len(), 3);
    }

    #[test]
    fn arrays_and_ndjson_are_batches() {
        let array = format!("[{ALERT},{ALERT}]");
        assert_eq!(decode_body(array.as_bytes(), 0).events.len(), 2);
        let nd = format!("{ALERT}\n\n{ALERT}\n");
        assert_eq!(decode_body(nd.as_bytes(), 0).events.len(), 2);
    }

    #[test]
    fn bad_lines_are_rejected_with_index_and_line_while_good_ones_stay() {
        let nd = format!("{ALERT}\n{{not json\n{{\"rule\":\"x\"}}\n{ALERT}\n");
        let d = decode_body(nd.as_bytes(), 0);
        assert_eq!(d.events.len(), 2);
        assert_eq!(d.rejected.len(), 2);
        assert_eq!((d.rejected[0].index, d.rejected[0].line), (1, Some(2)));
        assert!(d.rejected[0].reason.contains("invalid JSON"));
        assert_eq!((d.rejected[1].index, d.rejected[1].line), (2, Some(3)));
        assert!(
            d.rejected[1].reason.contains("priority"),
            "{}",
            d.rejected[1].reason
        );
    }

    #[test]
    fn the_decoder_yields_what_decode_body_collects() {
        let nd = format!("{ALERT}\n{{not json\n\n{ALERT}\n{{\"rule\":\"x\"}}\n{ALERT}");
        let whole = decode_body(nd.as_bytes(), 7);
        let mut d = Decoder::new(nd.as_bytes(), 7);
        let first = d.next().expect("first event");
        assert_eq!(d.yielded(), 1);
        let rest: Vec<_> = d.by_ref().collect();
        assert_eq!(d.yielded(), 3);
        assert_eq!(
            std::iter::once(first).chain(rest).collect::<Vec<_>>(),
            whole.events
        );
        assert_eq!(d.into_rejected(), whole.rejected);
        let array = format!("[{ALERT},1]");
        let mut d = Decoder::new(array.as_bytes(), 0);
        assert_eq!(d.by_ref().count(), 1);
        assert_eq!(d.into_rejected().len(), 1);
    }

    #[test]
    fn wrong_types_say_which_member() {
        let d = decode_body(br#"{"rule":"r","priority":"Warning","tags":"x"}"#, 0);
        assert!(d.rejected[0].reason.contains("\"tags\" must be an array"));
        let d = decode_body(br#"{"rule":"r","priority":"Loud"}"#, 0);
        assert!(d.rejected[0].reason.contains("unknown priority"));
        let d = decode_body(br#"{"rule":"r","priority":"Notice","time":"yesterday"}"#, 0);
        assert!(d.rejected[0].reason.contains("RFC 3339"));
    }

    #[test]
    fn missing_time_is_stamped_now() {
        let d = decode_body(
            br#"{"rule":"r","priority":"info","status":"block","source":"policy"}"#,
            42,
        );
        assert_eq!(d.events[0].time_ns, 42);
        assert_eq!(d.events[0].priority, "informational");
        assert_eq!(d.events[0].status.as_deref(), Some("block"));
    }

    #[test]
    fn broken_array_is_one_rejection() {
        let d = decode_body(b"[{\"rule\":", 0);
        assert!(d.events.is_empty());
        assert_eq!(d.rejected.len(), 1);
    }
}
