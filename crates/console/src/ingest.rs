//! Decoding ingest bodies: Falco's JSON alert schema (one object, an array, or NDJSON) and
//! mamori's own events, which use the same schema plus `status`.
//!
//! Batch policy: every valid item is stored; every invalid item is rejected with its index (and its
//! line for NDJSON) and a reason. The caller answers 200 with both lists, or 400 when nothing in
//! the body is valid.

use serde::de::{IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;
use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::model::{normalise_priority, Fields, StoredEvent};

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
                match serde_json::from_str::<Vec<&RawValue>>(text) {
                    Ok(items) => {
                        for (index, item) in items.into_iter().enumerate() {
                            push(&mut out, index, None, decode_item(item.get(), now_ns));
                        }
                    }
                    Err(e) => out.rejected.push(Rejected {
                        index: 0,
                        line: Some(e.line()),
                        reason: format!("invalid JSON array: {e}"),
                    }),
                }
            }
            Ok(text) => match serde_json::from_str::<&RawValue>(text) {
                // A single (possibly pretty-printed) object.
                Ok(value) if raw_kind(value) == RawKind::Object => {
                    push(&mut out, 0, None, decode_item(value.get(), now_ns))
                }
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
            let result = decode_item(line, self.now_ns);
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

/// The members of an alert the console reads; any other member is skipped.
#[derive(Deserialize)]
#[serde(field_identifier)]
enum Member {
    #[serde(rename = "rule")]
    Rule,
    #[serde(rename = "priority")]
    Priority,
    #[serde(rename = "output")]
    Output,
    #[serde(rename = "time")]
    Time,
    #[serde(rename = "source")]
    Source,
    #[serde(rename = "hostname")]
    Hostname,
    #[serde(rename = "status")]
    Status,
    #[serde(rename = "tags")]
    Tags,
    #[serde(rename = "output_fields")]
    OutputFields,
    #[serde(other)]
    Other,
}

/// One alert's members, as the raw JSON of each (a later duplicate replaces an earlier one, as a
/// JSON object decoded to a map would).
#[derive(Default)]
struct Item<'a> {
    rule: Option<&'a RawValue>,
    priority: Option<&'a RawValue>,
    output: Option<&'a RawValue>,
    time: Option<&'a RawValue>,
    source: Option<&'a RawValue>,
    hostname: Option<&'a RawValue>,
    status: Option<&'a RawValue>,
    tags: Option<&'a RawValue>,
    output_fields: Option<&'a RawValue>,
}

impl<'de> Members<'de> for Item<'de> {
    type Key = Member;

    fn slot(&mut self, key: Member) -> Option<&mut Option<&'de RawValue>> {
        Some(match key {
            Member::Rule => &mut self.rule,
            Member::Priority => &mut self.priority,
            Member::Output => &mut self.output,
            Member::Time => &mut self.time,
            Member::Source => &mut self.source,
            Member::Hostname => &mut self.hostname,
            Member::Status => &mut self.status,
            Member::Tags => &mut self.tags,
            Member::OutputFields => &mut self.output_fields,
            Member::Other => return None,
        })
    }
}

impl<'de> Deserialize<'de> for Item<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Item<'de>, D::Error> {
        d.deserialize_map(MembersVisitor(std::marker::PhantomData))
    }
}

/// A JSON object read member by member: the raw value of each member the type wants goes into
/// its slot (a later duplicate replaces an earlier one), any other member is skipped.
trait Members<'de>: Default {
    /// The member names the type knows (a serde field identifier with an `Other` variant).
    type Key: Deserialize<'de>;
    /// Where the raw value of `key` goes; `None`: skip it.
    fn slot(&mut self, key: Self::Key) -> Option<&mut Option<&'de RawValue>>;
}

struct MembersVisitor<T>(std::marker::PhantomData<T>);

impl<'de, T: Members<'de>> Visitor<'de> for MembersVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let mut out = T::default();
        while let Some(key) = map.next_key::<T::Key>()? {
            match out.slot(key) {
                Some(slot) => *slot = Some(map.next_value()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(out)
    }
}

/// The members of `output_fields` lifted into columns; the others are skipped.
#[derive(Deserialize)]
#[serde(field_identifier)]
enum Lifted {
    #[serde(rename = "k8s.ns.name")]
    Namespace,
    #[serde(rename = "k8s.pod.name")]
    Pod,
    #[serde(rename = "container.id")]
    Container,
    #[serde(rename = "container.image.repository")]
    Repository,
    #[serde(rename = "container.image.tag")]
    Tag,
    #[serde(rename = "container.image")]
    Image,
    #[serde(other)]
    Other,
}

/// The lifted members of `output_fields` (raw JSON).
#[derive(Default)]
struct LiftedFields<'a> {
    namespace: Option<&'a RawValue>,
    pod: Option<&'a RawValue>,
    container: Option<&'a RawValue>,
    repository: Option<&'a RawValue>,
    tag: Option<&'a RawValue>,
    image: Option<&'a RawValue>,
}

impl<'de> Members<'de> for LiftedFields<'de> {
    type Key = Lifted;

    fn slot(&mut self, key: Lifted) -> Option<&mut Option<&'de RawValue>> {
        Some(match key {
            Lifted::Namespace => &mut self.namespace,
            Lifted::Pod => &mut self.pod,
            Lifted::Container => &mut self.container,
            Lifted::Repository => &mut self.repository,
            Lifted::Tag => &mut self.tag,
            Lifted::Image => &mut self.image,
            Lifted::Other => return None,
        })
    }
}

impl<'de> Deserialize<'de> for LiftedFields<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<LiftedFields<'de>, D::Error> {
        d.deserialize_map(MembersVisitor(std::marker::PhantomData))
    }
}

/// Decodes one item of a batch (a Falco alert or a mamori event, as JSON text) into a stored
/// event. Members are read in place from the text; `output_fields` is kept as its JSON text.
pub fn decode_item(text: &str, now_ns: i64) -> Result<StoredEvent, String> {
    let first = text.trim_start().as_bytes().first().copied();
    if first != Some(b'{') {
        return Err(match serde_json::from_str::<Value>(text) {
            Ok(v) => format!("expected a JSON object, found {}", kind(&v)),
            Err(e) => format!("invalid JSON at column {}: {e}", e.column()),
        });
    }
    let item: Item<'_> = serde_json::from_str(text)
        .map_err(|e| format!("invalid JSON at column {}: {e}", e.column()))?;
    let rule = string(item.rule, "rule")?.ok_or("missing \"rule\"")?;
    if rule.is_empty() {
        return Err("\"rule\" is empty".into());
    }
    let priority_raw = string(item.priority, "priority")?.ok_or("missing \"priority\"")?;
    let priority = normalise_priority(&priority_raw)
        .ok_or_else(|| format!("unknown priority {priority_raw:?}"))?;
    let output = string(item.output, "output")?.unwrap_or_default();
    let time_ns = match item.time {
        None => now_ns,
        Some(raw) => match raw_kind(raw) {
            RawKind::Null => now_ns,
            RawKind::String => parse_time(&parse::<String>(raw, "time")?)?,
            RawKind::Number => serde_json::from_str::<i64>(raw.get()).map_err(|_| {
                format!(
                    "\"time\" {} is not an integer of nanoseconds",
                    raw.get().trim()
                )
            })?,
            other => {
                return Err(format!(
                    "\"time\" must be a string or number, found {}",
                    other.name()
                ))
            }
        },
    };
    let source = string(item.source, "source")?.unwrap_or_else(|| "syscall".into());
    let hostname = string(item.hostname, "hostname")?.unwrap_or_default();
    let status = string(item.status, "status")?;
    let tags = match item.tags {
        None => Vec::new(),
        Some(raw) => match raw_kind(raw) {
            RawKind::Null => Vec::new(),
            RawKind::Array => parse::<Vec<&RawValue>>(raw, "tags")?
                .into_iter()
                .map(|t| match raw_kind(t) {
                    RawKind::String => parse::<String>(t, "tags"),
                    other => Err(format!(
                        "\"tags\" items must be strings, found {}",
                        other.name()
                    )),
                })
                .collect::<Result<_, _>>()?,
            other => return Err(format!("\"tags\" must be an array, found {}", other.name())),
        },
    };
    let (fields, lifted) = match item.output_fields {
        None => (Fields::default(), LiftedFields::default()),
        Some(raw) => match raw_kind(raw) {
            RawKind::Null => (Fields::default(), LiftedFields::default()),
            RawKind::Object => (Fields::from_raw(raw), parse(raw, "output_fields")?),
            other => {
                return Err(format!(
                    "\"output_fields\" must be an object, found {}",
                    other.name()
                ))
            }
        },
    };
    // A lifted field is a non-empty string other than Falco's "<NA>"; anything else is left
    // in the fields only.
    let field = |raw: Option<&RawValue>| -> Option<String> {
        let raw = raw?;
        if raw_kind(raw) != RawKind::String {
            return None;
        }
        serde_json::from_str::<String>(raw.get())
            .ok()
            .filter(|s| !s.is_empty() && s != "<NA>")
    };
    let image = match (field(lifted.repository), field(lifted.tag)) {
        (Some(repo), Some(tag)) => Some(format!("{repo}:{tag}")),
        (Some(repo), None) => Some(repo),
        (None, _) => field(lifted.image),
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
        namespace: field(lifted.namespace),
        pod: field(lifted.pod),
        container: field(lifted.container),
        image,
        status,
        fields,
    })
}

/// What a raw JSON value is, from its first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RawKind {
    Null,
    Bool,
    Number,
    String,
    Array,
    Object,
}

impl RawKind {
    fn name(self) -> &'static str {
        match self {
            RawKind::Null => "null",
            RawKind::Bool => "a boolean",
            RawKind::Number => "a number",
            RawKind::String => "a string",
            RawKind::Array => "an array",
            RawKind::Object => "an object",
        }
    }
}

fn raw_kind(raw: &RawValue) -> RawKind {
    // serde_json hands out raw values without leading whitespace.
    match raw.get().trim_start().as_bytes().first() {
        Some(b'n') => RawKind::Null,
        Some(b't' | b'f') => RawKind::Bool,
        Some(b'"') => RawKind::String,
        Some(b'[') => RawKind::Array,
        Some(b'{') => RawKind::Object,
        _ => RawKind::Number,
    }
}

/// Decodes a raw member as `T`.
fn parse<'a, T: Deserialize<'a>>(raw: &'a RawValue, member: &str) -> Result<T, String> {
    serde_json::from_str(raw.get()).map_err(|e| format!("\"{member}\": {e}"))
}

/// A member that must be a string when present; null counts as absent.
fn string(raw: Option<&RawValue>, member: &str) -> Result<Option<String>, String> {
    let Some(raw) = raw else {
        return Ok(None);
    };
    match raw_kind(raw) {
        RawKind::Null => Ok(None),
        RawKind::String => parse(raw, member).map(Some),
        other => Err(format!(
            "\"{member}\" must be a string, found {}",
            other.name()
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
    fn members_are_read_in_place_whatever_their_form() {
        // Escapes, a duplicate member (the last wins), unknown members of every kind, numbers
        // for time, "<NA>" and non-string lifted fields, pretty-printed output_fields.
        let item = r#"{"rule":"first","extra":{"a":[1,{"b":null}]},"rule":"Write \"below\" etc",
            "priority":"ERROR","time":1700000000000000001,"output":"tab\there \u00e9",
            "tags":[],"hostname":null,"output_fields": {
                "k8s.ns.name": "<NA>", "k8s.pod.name": 7, "container.id": "",
                "container.image": "busybox", "proc.name": "sh\n"
            }}"#;
        let ev = decode_item(item, 5).expect("valid");
        assert_eq!(ev.rule, "Write \"below\" etc");
        assert_eq!(ev.priority, "error");
        assert_eq!(ev.time_ns, 1_700_000_000_000_000_001);
        assert_eq!(ev.output, "tab\there é");
        assert_eq!(ev.hostname, "");
        assert!(ev.tags.is_empty());
        assert_eq!((ev.namespace, ev.pod, ev.container), (None, None, None));
        assert_eq!(ev.image.as_deref(), Some("busybox"));
        let fields = ev.fields.to_map();
        assert_eq!(fields["proc.name"], "sh\n");
        assert_eq!(fields["k8s.pod.name"], 7);
        assert_eq!(fields.len(), 5);
        // The fields serialise as the object they came in.
        let v: Value = serde_json::to_value(&ev.fields).expect("serialise");
        assert_eq!(v["container.image"], "busybox");
    }

    #[test]
    fn every_wrong_type_is_named() {
        for (item, want) in [
            (
                r#"{"rule":1,"priority":"info"}"#,
                "\"rule\" must be a string, found a number",
            ),
            (
                r#"{"rule":"r","priority":true}"#,
                "\"priority\" must be a string, found a boolean",
            ),
            (
                r#"{"rule":"r","priority":"info","time":[1]}"#,
                "\"time\" must be a string or number, found an array",
            ),
            (
                r#"{"rule":"r","priority":"info","time":1.5}"#,
                "is not an integer of nanoseconds",
            ),
            (
                r#"{"rule":"r","priority":"info","tags":["a",2]}"#,
                "\"tags\" items must be strings, found a number",
            ),
            (
                r#"{"rule":"r","priority":"info","output_fields":[]}"#,
                "\"output_fields\" must be an object, found an array",
            ),
            (
                r#"{"rule":"r","priority":"info","source":{}}"#,
                "\"source\" must be a string, found an object",
            ),
            (r#"{"rule":"","priority":"info"}"#, "\"rule\" is empty"),
            (r#"{"priority":"info"}"#, "missing \"rule\""),
            (r#"[1]"#, "expected a JSON object, found an array"),
            (r#"{"rule":"r","priority":"info""#, "invalid JSON at column"),
            (
                r#"{"rule":"r" "priority":"info"}"#,
                "invalid JSON at column 13",
            ),
        ] {
            let err = decode_item(item, 0).expect_err(item);
            assert!(err.contains(want), "{item}: {err}");
        }
    }

    #[test]
    fn broken_array_is_one_rejection() {
        let d = decode_body(b"[{\"rule\":", 0);
        assert!(d.events.is_empty());
        assert_eq!(d.rejected.len(), 1);
    }
}
