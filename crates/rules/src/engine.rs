//! The compiled ruleset, its event-type index, and the engine that evaluates events.

use mamori_core::event::{EventSource, Value};
use mamori_core::Event;

use crate::compile::{Derive, Slots};
use std::cell::{Cell, OnceCell};

use crate::output::{evt_time, rfc3339_nanos, Alert, Format};
use crate::priority::Priority;
use crate::program::{EvtType, Node, View};

/// One compiled rule.
#[derive(Debug)]
pub struct CompiledRule {
    /// Rule name.
    pub name: String,
    /// Description.
    pub desc: String,
    /// Priority.
    pub priority: Priority,
    /// Tags.
    pub tags: Vec<String>,
    /// Whether it is active.
    pub enabled: bool,
    /// Event types it can match (`None`: all).
    pub evttypes: Option<Vec<String>>,
    pub(crate) cond: Node,
    pub(crate) output: Format,
}

/// Counts shown by `mamori rules validate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Stats {
    /// Rules compiled.
    pub rules: usize,
    /// Of which enabled.
    pub enabled: usize,
    /// Macros defined.
    pub macros: usize,
    /// Lists defined.
    pub lists: usize,
    /// Rules that run on every event type.
    pub all_types: usize,
}

/// Compiled rules indexed by event type.
#[derive(Debug)]
pub struct Ruleset {
    rules: Vec<CompiledRule>,
    slots: Slots,
    macro_nodes: Vec<Node>,
    derived: Vec<(u32, Derive)>,
    lazy_of: Vec<u32>,
    by_type: Vec<Box<[u32]>>,
    untyped: Box<[u32]>,
    stats: Stats,
}

impl Ruleset {
    pub(crate) fn new(
        rules: Vec<CompiledRule>,
        slots: Slots,
        macro_nodes: Vec<Node>,
        macros: usize,
        lists: usize,
    ) -> Self {
        let mut rs = Ruleset {
            stats: Stats {
                rules: rules.len(),
                enabled: rules.iter().filter(|r| r.enabled).count(),
                macros,
                lists,
                all_types: rules.iter().filter(|r| r.evttypes.is_none()).count(),
            },
            rules,
            slots,
            macro_nodes,
            derived: Vec::new(),
            lazy_of: Vec::new(),
            by_type: Vec::new(),
            untyped: Box::new([]),
        };
        rs.reindex();
        rs
    }

    fn reindex(&mut self) {
        self.derived = (0..self.slots.len() as u32)
            .filter_map(|s| self.slots.keys[s as usize].2.clone().map(|d| (s, d)))
            .collect();
        self.lazy_of = vec![u32::MAX; self.slots.len()];
        for (i, (s, _)) in self.derived.iter().enumerate() {
            self.lazy_of[*s as usize] = i as u32;
        }
        let untyped: Vec<u32> = (0..self.rules.len() as u32)
            .filter(|&i| {
                let r = &self.rules[i as usize];
                r.enabled && r.evttypes.is_none()
            })
            .collect();
        for r in &self.rules {
            for t in r.evttypes.iter().flatten() {
                self.slots.type_id(t);
            }
        }
        let mut by_type: Vec<Vec<u32>> = vec![Vec::new(); self.slots.types.len()];
        for (i, r) in self.rules.iter().enumerate() {
            if !r.enabled {
                continue;
            }
            for t in r.evttypes.iter().flatten() {
                if let Some(&id) = self.slots.types.get(t.as_str()) {
                    by_type[id as usize].push(i as u32);
                }
            }
        }
        self.by_type = by_type
            .into_iter()
            .map(|mut v| {
                v.extend(untyped.iter().copied());
                v.sort_unstable();
                v.dedup();
                v.into_boxed_slice()
            })
            .collect();
        self.untyped = untyped.into_boxed_slice();
    }

    /// Every event key the compiled conditions and outputs may read (canonical names and their
    /// aliases, e.g. `proc.aname[1]` and `proc.pname`). A sensor can skip computing the rest.
    pub fn field_keys(&self) -> impl Iterator<Item = &str> + '_ {
        self.slots.lookup.iter().flatten().map(|k| &**k)
    }

    /// Counts of rules, macros and lists.
    pub fn stats(&self) -> Stats {
        self.stats
    }

    /// The rules in load order.
    pub fn rules(&self) -> &[CompiledRule] {
        &self.rules
    }

    /// Enables or disables rules by exact name; returns how many matched.
    pub fn set_enabled(&mut self, name: &str, enabled: bool) -> usize {
        let mut n = 0;
        for r in &mut self.rules {
            if r.name == name {
                r.enabled = enabled;
                n += 1;
            }
        }
        self.stats.enabled = self.rules.iter().filter(|r| r.enabled).count();
        self.reindex();
        n
    }

    /// Drops rules less severe than `min` (Falco's `priority:` setting).
    pub fn set_min_priority(&mut self, min: Priority) {
        for r in &mut self.rules {
            if r.priority > min {
                r.enabled = false;
            }
        }
        self.stats.enabled = self.rules.iter().filter(|r| r.enabled).count();
        self.reindex();
    }

    fn candidates(&self, ev: &Event) -> (&[u32], EvtType) {
        match ev.fields.get("evt.type") {
            Some(Value::Str(t)) => match self.slots.types.get(t.as_str()) {
                Some(&id) => (
                    self.by_type
                        .get(id as usize)
                        .map_or(&self.untyped[..], |b| &b[..]),
                    EvtType::Known(id),
                ),
                None => (&self.untyped, EvtType::Unknown),
            },
            Some(_) => (&self.untyped, EvtType::Unknown),
            None => (&self.untyped, EvtType::Missing),
        }
    }

    fn view<'e>(&'e self, ev: &'e Event, hostname: &'e str, evt_type: EvtType) -> View<'e> {
        let n = self.slots.len();
        View {
            refs: vec![Cell::new(None); n],
            resolved: vec![Cell::new(false); n],
            keys: &self.slots.lookup,
            lazy_of: &self.lazy_of,
            lazy: (0..self.derived.len()).map(|_| OnceCell::new()).collect(),
            derives: &self.derived,
            ev,
            hostname,
            evt_type,
            macros: &self.macro_nodes,
            memo: vec![Cell::new(0); self.macro_nodes.len()],
        }
    }
}

/// Falco's `rule_matching`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RuleMatching {
    /// Stop at the first matching rule (Falco's default).
    #[default]
    First,
    /// Emit an alert for every matching rule.
    All,
}

/// Engine settings.
#[derive(Debug, Clone)]
pub struct Settings {
    /// First or all matching rules.
    pub rule_matching: RuleMatching,
    /// Host name put in alerts.
    pub hostname: String,
    /// Render the output prefix time as ISO 8601 (Falco `time_format_iso_8601`).
    pub time_format_iso_8601: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            rule_matching: RuleMatching::First,
            hostname: String::new(),
            time_format_iso_8601: false,
        }
    }
}

/// Evaluates events against a ruleset.
#[derive(Debug)]
pub struct Engine {
    ruleset: Ruleset,
    settings: Settings,
}

impl Engine {
    /// An engine over a ruleset.
    pub fn new(ruleset: Ruleset, settings: Settings) -> Self {
        Engine { ruleset, settings }
    }

    /// The ruleset.
    pub fn ruleset(&self) -> &Ruleset {
        &self.ruleset
    }

    /// Evaluates one event; calls `emit` for each alert. Returns the number of matches.
    pub fn process(&self, ev: &Event, mut emit: impl FnMut(Alert)) -> usize {
        self.process_inner(ev, Some(&mut emit))
    }

    /// Evaluates one event and only counts matches (no output rendering).
    pub fn count_matches(&self, ev: &Event) -> usize {
        self.process_inner(ev, None::<&mut fn(Alert)>)
    }

    fn process_inner<F: FnMut(Alert)>(&self, ev: &Event, mut emit: Option<&mut F>) -> usize {
        if ev.source != EventSource::Syscall {
            return 0;
        }
        let (cands, evt_type) = self.ruleset.candidates(ev);
        if cands.is_empty() {
            return 0;
        }
        let view = self.ruleset.view(ev, &self.settings.hostname, evt_type);
        let mut n = 0;
        for &ri in cands {
            let r = &self.ruleset.rules[ri as usize];
            if !r.cond.eval(&view) {
                continue;
            }
            n += 1;
            if let Some(emit) = emit.as_mut() {
                emit(self.alert(r, ev, &view));
            }
            if self.settings.rule_matching == RuleMatching::First {
                break;
            }
        }
        n
    }

    fn alert(&self, r: &CompiledRule, ev: &Event, view: &View<'_>) -> Alert {
        let mut fields = serde_json::Map::new();
        let text = r.output.render(view, &mut fields);
        let time = rfc3339_nanos(ev.time_ns);
        let prefix = if self.settings.time_format_iso_8601 {
            time.replace('Z', "+0000")
        } else {
            evt_time(ev.time_ns)
        };
        let key = if self.settings.time_format_iso_8601 {
            "evt.time.iso8601"
        } else {
            "evt.time"
        };
        fields.insert(key.to_string(), serde_json::Value::from(ev.time_ns));
        Alert {
            hostname: self.settings.hostname.clone(),
            output: format!("{prefix}: {} {text}", r.priority),
            output_fields: fields,
            priority: r.priority.as_str().to_string(),
            rule: r.name.clone(),
            source: "syscall".to_string(),
            tags: r.tags.clone(),
            time,
            status: None,
        }
    }
}
