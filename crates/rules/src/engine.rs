//! The compiled ruleset, its event-type index, and the engine that evaluates events.

use mamori_core::event::{EventSource, Value};
use mamori_core::Event;

use crate::compile::{Derive, Slots};

use crate::matchers::StrMap;
use crate::output::{evt_time, rfc3339_nanos, Alert, Format};
use crate::priority::Priority;
use crate::program::{EvtType, Node, View};
use crate::specialize::{specialize, Program};

mod keys;
mod view;

use keys::KeyTable;

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
    pub(crate) rules: Vec<CompiledRule>,
    pub(crate) slots: Slots,
    pub(crate) macro_nodes: Vec<Node>,
    pub(crate) derived: Vec<(u32, Derive)>,
    lazy_of: Vec<u32>,
    /// Event key -> (slot, rank): rank 0 is the canonical key, then its aliases in order.
    pub(crate) keys: KeyTable,
    /// One program per interned event type, then one for unknown and one for missing types.
    pub(crate) programs: Vec<Program>,
    /// The slot of `evt.type`, which picks the program.
    pub(crate) type_slot: u32,
    /// The most memoized macros of any program (the size of the per-event memo).
    pub(crate) max_macros: usize,
    /// `slots.types` as a [`StrMap`], probed once per event.
    type_ids: StrMap<u32>,
    /// Whether some program has a rule (otherwise events are not even looked at).
    has_rules: bool,
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
            keys: KeyTable::default(),
            programs: Vec::new(),
            type_slot: u32::MAX,
            max_macros: 0,
            type_ids: StrMap::default(),
            has_rules: false,
        };
        rs.reindex();
        rs
    }

    fn reindex(&mut self) {
        // Created before the tables below, so that every event's type is resolved with its fields.
        self.type_slot = self.slots.named("evt.type", None);
        self.derived = (0..self.slots.len() as u32)
            .filter_map(|s| self.slots.keys[s as usize].2.clone().map(|d| (s, d)))
            .collect();
        self.lazy_of = vec![u32::MAX; self.slots.len()];
        for (i, (s, _)) in self.derived.iter().enumerate() {
            self.lazy_of[*s as usize] = i as u32;
        }
        self.keys = KeyTable::new(
            self.slots
                .lookup
                .iter()
                .enumerate()
                .flat_map(|(slot, keys)| {
                    keys.iter().enumerate().map(move |(rank, k)| {
                        (
                            k.clone(),
                            slot as u32,
                            u8::try_from(rank).unwrap_or(u8::MAX),
                        )
                    })
                }),
        );
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
        let ntypes = self.slots.types.len();
        self.type_ids = StrMap::new(self.slots.types.iter().map(|(k, v)| (k.clone(), *v)));
        let mut by_type: Vec<Vec<u32>> = vec![Vec::new(); ntypes];
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
        let contexts = (0..ntypes as u32)
            .map(EvtType::Known)
            .chain([EvtType::Unknown, EvtType::Missing]);
        let mut programs = Vec::with_capacity(ntypes + 2);
        for ctx in contexts {
            let mut cands = match ctx {
                EvtType::Known(id) => std::mem::take(&mut by_type[id as usize]),
                _ => Vec::new(),
            };
            cands.extend(untyped.iter().copied());
            cands.sort_unstable();
            cands.dedup();
            programs.push(specialize(
                &self.rules,
                &cands,
                &self.macro_nodes,
                ctx,
                &self.lazy_of,
                &self.derived,
            ));
        }
        self.max_macros = programs.iter().map(|p| p.macros.len()).max().unwrap_or(0);
        self.has_rules = programs.iter().any(|p| !p.rules.is_empty());
        self.programs = programs;
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

    /// The event's type and the program for it.
    #[cfg(test)]
    pub(crate) fn program(&self, ev: &Event) -> (&Program, EvtType) {
        self.program_of(ev.fields.get("evt.type"))
    }

    /// The program for an event whose `evt.type` is `t`.
    #[inline]
    pub(crate) fn program_of(&self, t: Option<&Value>) -> (&Program, EvtType) {
        let ntypes = self.slots.types.len();
        let ctx = match t {
            Some(Value::Str(t)) => match self.type_ids.get(t) {
                Some(&id) => EvtType::Known(id),
                None => EvtType::Unknown,
            },
            Some(_) => EvtType::Unknown,
            None => EvtType::Missing,
        };
        let i = match ctx {
            EvtType::Known(id) => id as usize,
            EvtType::Unknown => ntypes,
            EvtType::Missing => ntypes + 1,
        };
        (&self.programs[i.min(self.programs.len() - 1)], ctx)
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
        let rs = &self.ruleset;
        if !rs.has_rules {
            return 0;
        }
        rs.with_program(ev, &self.settings.hostname, |prog, view| {
            prog.matches(view, |ri| {
                if let Some(emit) = emit.as_mut() {
                    emit(self.alert(&rs.rules[ri as usize], ev, view));
                }
                self.settings.rule_matching == RuleMatching::All
            })
        })
        .unwrap_or(0)
    }

    /// The indices of the enabled rules whose generic (unspecialised, unordered) conditions
    /// match: the reference the per-type programs are tested against.
    #[cfg(test)]
    pub(crate) fn reference_matches(&self, ev: &Event) -> Vec<u32> {
        let rs = &self.ruleset;
        if ev.source != EventSource::Syscall {
            return Vec::new();
        }
        let (_, evt_type) = rs.program(ev);
        rs.with_view(ev, "", evt_type, &rs.macro_nodes, |view| {
            view.plain.set(true);
            (0..rs.rules.len() as u32)
                .filter(|&i| {
                    let r = &rs.rules[i as usize];
                    let typed_ok = match (&r.evttypes, evt_type) {
                        (None, _) => true,
                        (Some(ts), EvtType::Known(id)) => ts
                            .iter()
                            .any(|t| rs.slots.types.get(t.as_str()) == Some(&id)),
                        (Some(_), _) => false,
                    };
                    r.enabled && typed_ok && r.cond.eval(view)
                })
                .collect()
        })
    }

    /// The indices of the rules the optimised programs match (every match, in load order).
    #[cfg(test)]
    pub(crate) fn optimised_matches(&self, ev: &Event) -> Vec<u32> {
        let rs = &self.ruleset;
        if ev.source != EventSource::Syscall {
            return Vec::new();
        }
        rs.with_program(ev, "", |prog, view| {
            let mut out = Vec::new();
            prog.matches(view, |ri| {
                out.push(ri);
                true
            });
            out
        })
        .unwrap_or_default()
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
