//! One event seen at run time or at admission: the unit the rules engine evaluates and the console
//! stores.
//!
//! An event is a set of Falco-named fields (`evt.type`, `proc.name`, `fd.name`,
//! `container.id`, `k8s.ns.name`, …) with typed values. The replay format of the rules engine is
//! exactly this: one JSON object of field names to values per line.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Where an event comes from.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EventSource {
    /// A system call seen by the sensor (Falco's `syscall` source).
    #[default]
    Syscall,
    /// A decision of the admission webhook.
    Admission,
    /// A decision of a runtime policy (detect or block).
    Policy,
}

impl EventSource {
    /// The lowercase name, as in Falco's `source` alert field.
    pub fn as_str(self) -> &'static str {
        match self {
            EventSource::Syscall => "syscall",
            EventSource::Admission => "admission",
            EventSource::Policy => "policy",
        }
    }
}

/// The value of one event field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A boolean (`evt.is_open_read`).
    Bool(bool),
    /// A signed integer (`proc.pid`, `fd.num`).
    Int(i64),
    /// A string (`proc.name`, `fd.name`, an IP address).
    Str(String),
    /// A list of strings (`proc.env`, `container.mounts`).
    List(Vec<String>),
}

/// One event: its source, its time and its fields by Falco name.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Event {
    /// Where the event comes from.
    #[serde(default)]
    pub source: EventSource,
    /// Nanoseconds since the Unix epoch (`evt.time`).
    #[serde(default)]
    pub time_ns: u64,
    /// Field values by Falco field name.
    #[serde(default)]
    pub fields: BTreeMap<String, Value>,
}

impl Event {
    /// An event of the given source and time with no fields.
    pub fn new(source: EventSource, time_ns: u64) -> Self {
        Event {
            source,
            time_ns,
            fields: BTreeMap::new(),
        }
    }

    /// Sets a field.
    pub fn with(mut self, name: impl Into<String>, value: Value) -> Self {
        self.fields.insert(name.into(), value);
        self
    }

    /// The value of a field, if present.
    pub fn field(&self, name: &str) -> Option<&Value> {
        self.fields.get(name)
    }
}
