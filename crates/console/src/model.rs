//! The stored event: one runtime alert, admission decision or runtime-policy decision.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::value::RawValue;
use serde_json::Value;

/// One event as the console stores and returns it.
///
/// The columns the query API filters on are lifted out of the event's fields when it is ingested;
/// everything else stays in `fields` (Falco's `output_fields`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredEvent {
    /// Row id, assigned by the store; also the pagination cursor.
    #[serde(default)]
    pub id: i64,
    /// Nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// `syscall` (runtime alert), `admission` or `policy` (runtime-policy decision), or the
    /// source a Falco alert names.
    pub source: String,
    /// Rule (or policy control) that produced the event.
    pub rule: String,
    /// Falco priority, lowercase (`emergency` … `debug`).
    pub priority: String,
    /// The rendered output line.
    pub output: String,
    /// Host that produced it.
    #[serde(default)]
    pub hostname: String,
    /// Rule tags.
    #[serde(default)]
    pub tags: Vec<String>,
    /// Kubernetes namespace (`k8s.ns.name`), if any.
    #[serde(default)]
    pub namespace: Option<String>,
    /// Pod name (`k8s.pod.name`), if any.
    #[serde(default)]
    pub pod: Option<String>,
    /// Container id (`container.id`), if any.
    #[serde(default)]
    pub container: Option<String>,
    /// Image (`container.image.repository[:tag]`), if any.
    #[serde(default)]
    pub image: Option<String>,
    /// Decision status: `detect`, `block`, `allow`, `deny`, `warn`; runtime alerts have none.
    #[serde(default)]
    pub status: Option<String>,
    /// All other fields, by Falco name.
    #[serde(default)]
    pub fields: Fields,
}

/// An event's fields by Falco name (Falco's `output_fields`): a JSON object, kept as the JSON
/// text it arrived in, so that ingest stores it without building a map and writing it out again.
/// It serialises as that object.
#[derive(Clone, Default)]
pub struct Fields(
    /// `None`: no fields (`{}`).
    Option<Box<RawValue>>,
);

impl Fields {
    /// The JSON text of a field object; an error when it is not a JSON object.
    pub fn from_json(text: &str) -> Result<Fields, String> {
        if !text.trim_start().starts_with('{') {
            return Err("fields must be a JSON object".into());
        }
        RawValue::from_string(text.to_string())
            .map(|raw| Fields(Some(raw)))
            .map_err(|e| format!("fields are not valid JSON: {e}"))
    }

    /// An already checked JSON object (a raw value that starts with `{`).
    pub(crate) fn from_raw(raw: &RawValue) -> Fields {
        Fields(Some(raw.to_owned()))
    }

    /// The JSON text.
    pub fn as_json(&self) -> &str {
        self.0.as_deref().map_or("{}", RawValue::get)
    }

    /// The fields as a map.
    pub fn to_map(&self) -> BTreeMap<String, Value> {
        serde_json::from_str(self.as_json()).unwrap_or_default()
    }
}

impl From<BTreeMap<String, Value>> for Fields {
    fn from(map: BTreeMap<String, Value>) -> Fields {
        if map.is_empty() {
            return Fields(None);
        }
        Fields(serde_json::value::to_raw_value(&map).ok())
    }
}

/// Equal when they hold the same fields (whatever the spacing or member order of their text).
impl PartialEq for Fields {
    fn eq(&self, other: &Fields) -> bool {
        self.as_json() == other.as_json() || self.to_map() == other.to_map()
    }
}

impl std::fmt::Debug for Fields {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_json())
    }
}

impl Serialize for Fields {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match &self.0 {
            Some(raw) => raw.serialize(s),
            None => BTreeMap::<String, Value>::new().serialize(s),
        }
    }
}

impl<'de> Deserialize<'de> for Fields {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Fields, D::Error> {
        // Through a map, so any deserializer (also `serde_json::from_value`) can produce it.
        BTreeMap::<String, Value>::deserialize(d).map(Fields::from)
    }
}

/// The Falco priorities, most severe first, as Falco writes them in JSON alerts.
pub const PRIORITIES: [&str; 8] = [
    "emergency",
    "alert",
    "critical",
    "error",
    "warning",
    "notice",
    "informational",
    "debug",
];

/// Normalises a Falco priority name (`Warning`, `WARNING`, `info`) to its lowercase JSON form.
pub fn normalise_priority(p: &str) -> Option<&'static str> {
    let lower = p.trim().to_ascii_lowercase();
    let lower = match lower.as_str() {
        "info" => "informational",
        "warn" => "warning",
        "err" => "error",
        "crit" => "critical",
        "emerg" => "emergency",
        other => other,
    };
    PRIORITIES.iter().copied().find(|x| *x == lower)
}

/// A filter on stored events; every part is optional and parts combine with AND.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventFilter {
    /// Events at or after this time (ns).
    pub since_ns: Option<i64>,
    /// Events before this time (ns).
    pub until_ns: Option<i64>,
    /// Source equals.
    pub source: Option<String>,
    /// Rule equals.
    pub rule: Option<String>,
    /// Priority at least as severe as this one.
    pub min_priority: Option<String>,
    /// Priority equals.
    pub priority: Option<String>,
    /// Namespace equals.
    pub namespace: Option<String>,
    /// Pod equals.
    pub pod: Option<String>,
    /// Container id equals.
    pub container: Option<String>,
    /// Image contains.
    pub image: Option<String>,
    /// Status equals.
    pub status: Option<String>,
    /// Output contains (case-insensitive for ASCII letters; other characters match exactly).
    pub text: Option<String>,
}

/// One page of events, newest first, with the cursor of the next page.
///
/// A substring filter (`text`, `image`) examines a bounded window of events per page (for a
/// `text` of three bytes or more, only events in blocks the search index cannot rule out count),
/// so such a page may hold fewer events than asked for while `next_cursor` is still set: keep
/// following the cursor to search older events.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Page {
    /// The events.
    pub events: Vec<StoredEvent>,
    /// Pass as `before` to get the next (older) page; absent on the last page.
    pub next_cursor: Option<i64>,
}

/// What to group counts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GroupBy {
    /// By rule.
    Rule,
    /// By priority.
    Priority,
    /// By namespace.
    Namespace,
    /// By source.
    Source,
    /// By status.
    Status,
    /// By time bucket of the given width (`bucket_secs`).
    Time,
}

/// One group of an aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Bucket {
    /// The group's key (for time buckets: the bucket start in ns, as a string).
    pub key: String,
    /// How many events fall in it.
    pub count: u64,
}
