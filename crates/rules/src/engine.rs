//! The compiled ruleset, its event-type index, and the engine that evaluates events.

use mamori_core::event::{EventSource, Value};
use mamori_core::Event;

use crate::compile::{Derive, Slots};
use crate::matchers::FxMap;
use crate::output::{evt_time, rfc3339_nanos, Alert, Format};
use crate::priority::Priority;
use crate::program::{Node, Slot, View};

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
    derived: Vec<u32>,
    by_type: FxMap<Box<str>, Box<[u32]>>,
    untyped: Box<[u32]>,
    stats: Stats,
}

impl Ruleset {
    pub(crate) fn new(rules: Vec<CompiledRule>, slots: Slots, macros: usize, lists: usize) -> Self {
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
            derived: Vec::new(),
            by_type: FxMap::default(),
            untyped: Box::new([]),
        };
        rs.reindex();
        rs
    }

    fn reindex(&mut self) {
        self.derived = (0..self.slots.len() as u32)
            .filter(|&s| self.slots.keys[s as usize].2.is_some())
            .collect();
        let untyped: Vec<u32> = (0..self.rules.len() as u32)
            .filter(|&i| {
                let r = &self.rules[i as usize];
                r.enabled && r.evttypes.is_none()
            })
            .collect();
        let mut by_type: FxMap<Box<str>, Vec<u32>> = FxMap::default();
        for (i, r) in self.rules.iter().enumerate() {
            if !r.enabled {
                continue;
            }
            if let Some(ts) = &r.evttypes {
                for t in ts {
                    by_type.entry(t.as_str().into()).or_default().push(i as u32);
                }
            }
        }
        self.by_type = by_type
            .into_iter()
            .map(|(k, mut v)| {
                v.extend(untyped.iter().copied());
                v.sort_unstable();
                v.dedup();
                (k, v.into_boxed_slice())
            })
            .collect();
        self.untyped = untyped.into_boxed_slice();
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

    fn candidates(&self, ev: &Event) -> &[u32] {
        match ev.fields.get("evt.type") {
            Some(Value::Str(t)) => self.by_type.get(t.as_str()).unwrap_or(&self.untyped),
            _ => &self.untyped,
        }
    }

    fn view<'e>(&self, ev: &'e Event, hostname: &str) -> View<'e> {
        let mut slots = vec![Slot::None; self.slots.len()];
        for (k, v) in &ev.fields {
            if let Some(&s) = self.slots.map.get(k.as_str()) {
                slots[s as usize] = Slot::Ev(v);
            }
        }
        let mut view = View {
            slots,
            derived: Vec::new(),
        };
        for &s in &self.derived {
            if !matches!(view.slots[s as usize], Slot::None) {
                continue;
            }
            let Some(d) = &self.slots.keys[s as usize].2 else {
                continue;
            };
            let val = match d {
                Derive::DirOf(p) | Derive::FileOf(p) => match view.get(*p) {
                    Some(Value::Str(path)) if path.starts_with('/') => {
                        let (dir, file) = match path.rfind('/') {
                            Some(0) => ("/", &path[1..]),
                            Some(i) => (&path[..i], &path[i + 1..]),
                            None => ("", path.as_str()),
                        };
                        Some(Value::Str(if matches!(d, Derive::DirOf(_)) {
                            dir.to_string()
                        } else {
                            file.to_string()
                        }))
                    }
                    _ => None,
                },
                Derive::AnyOf(list) => {
                    let vals: Vec<String> = list
                        .iter()
                        .filter_map(|&p| match view.get(p) {
                            Some(Value::Str(s)) => Some(s.clone()),
                            Some(Value::Int(i)) => Some(i.to_string()),
                            Some(Value::List(l)) => Some(l.join(",")),
                            _ => None,
                        })
                        .collect();
                    (!vals.is_empty()).then_some(Value::List(vals))
                }
                Derive::Time => Some(Value::Str(evt_time(ev.time_ns))),
                Derive::RawTime => Some(Value::Int(i64::try_from(ev.time_ns).unwrap_or(i64::MAX))),
                Derive::Source => Some(Value::Str(ev.source.as_str().to_string())),
                Derive::Hostname => Some(Value::Str(hostname.to_string())),
            };
            if let Some(v) = val {
                view.derived.push(v);
                view.slots[s as usize] = Slot::Der((view.derived.len() - 1) as u32);
            }
        }
        view
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
        let cands = self.ruleset.candidates(ev);
        if cands.is_empty() {
            return 0;
        }
        let view = self.ruleset.view(ev, &self.settings.hostname);
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
        }
    }
}
