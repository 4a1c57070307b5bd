//! Rule pre-selection: many rules of one event type can only match for a few values of one
//! field (`proc.name in (shell_binaries)`, `evt.is_open_write = true`). For up to [`MAX_KEYS`]
//! such fields a program keeps, per value, the set of rules that value leaves possible, so an
//! event looks each field up once instead of testing every rule's set in turn.
//!
//! A rule is *pinned* to a set of values of a field when its condition can only be true if the
//! field holds one of them: a conjunct `f = v`, `f in (...)`, `f = true`, an `or` whose every
//! operand pins `f`, or a macro whose body does. The values are compared as the comparisons
//! compare them: a string value by its text, a boolean by `true`/`false`. Any other value (a
//! number or a list) makes every rule possible; a missing field leaves only the rules that are
//! not pinned (a comparison of a missing field is false). So the rules skipped are exactly rules
//! whose condition is false, and the rules tried are tried in the same (load) order.

use std::collections::BTreeSet;

use mamori_core::event::Value;

use crate::matchers::{FxMap, StrMap};
use crate::program::{Cmp, Lhs, Node, StrTest, Test, View};

/// The most fields a program is pre-selected on (each costs one lookup per event).
pub(crate) const MAX_KEYS: usize = 4;
/// Programs with fewer rules than this are not pre-selected (testing them is as cheap).
const MIN_RULES: usize = 6;
/// A field is used only when at least this many rules are pinned by it.
const MIN_PINNED: usize = 3;

/// A rule set as bits (rule `i` of the program is bit `i`); programs of more than 128 rules
/// are not pre-selected.
pub(crate) type Mask = u128;

/// The pre-selection of one program.
#[derive(Debug)]
pub(crate) struct Dispatch {
    keys: Box<[Key]>,
    all: Mask,
}

#[derive(Debug)]
struct Key {
    slot: u32,
    /// Rules not pinned by this field.
    free: Mask,
    /// For each value some rule is pinned to: `free` and the rules that allow it.
    by_value: StrMap<Mask>,
    /// The masks of the boolean values `false` and `true` (their texts' masks), so a boolean
    /// field needs no table lookup.
    by_bool: [Mask; 2],
}

/// The text a field value is compared as, for pre-selection (`None`: not pre-selectable).
#[inline]
fn key_text(v: &Value) -> Option<&str> {
    match v {
        Value::Str(s) => Some(s),
        Value::Bool(b) => Some(if *b { "true" } else { "false" }),
        Value::Int(_) | Value::List(_) => None,
    }
}

impl Dispatch {
    /// The rules of a program worth trying for the event `v` (a superset of those that match).
    #[inline]
    pub(crate) fn candidates(&self, v: &View<'_>) -> Mask {
        let mut m = self.all;
        for k in self.keys.iter() {
            m &= match v.get(k.slot) {
                None => k.free,
                Some(Value::Bool(b)) => k.by_bool[usize::from(*b)],
                Some(val) => match key_text(val) {
                    Some(t) => k.by_value.get(t).copied().unwrap_or(k.free),
                    None => continue,
                },
            };
            if m == 0 {
                break;
            }
        }
        m
    }

    /// Builds the pre-selection of a program's rules, or `None` when it would not pay.
    pub(crate) fn build(rules: &[(u32, Node)], macros: &[Node], lazy_of: &[u32]) -> Option<Self> {
        if rules.len() < MIN_RULES || rules.len() > Mask::BITS as usize {
            return None;
        }
        let mut slots = BTreeSet::new();
        for (_, n) in rules {
            collect_slots(n, macros, &mut slots, &mut vec![false; macros.len()]);
        }
        // Derived fields are computed on demand; reading them up front would cost more.
        slots.retain(|s| lazy_of.get(*s as usize).copied() == Some(u32::MAX));
        let mut keys: Vec<(usize, Key)> = Vec::new();
        for slot in slots {
            let pins: Vec<Option<BTreeSet<&str>>> =
                rules.iter().map(|(_, n)| pin(n, slot, macros)).collect();
            let pinned = pins.iter().filter(|p| p.is_some()).count();
            if pinned < MIN_PINNED {
                continue;
            }
            let mut free: Mask = 0;
            let mut by_value: FxMap<Box<str>, Mask> = FxMap::default();
            for (i, p) in pins.iter().enumerate() {
                match p {
                    None => free |= 1 << i,
                    Some(vals) => {
                        for v in vals {
                            *by_value.entry((*v).into()).or_default() |= 1 << i;
                        }
                    }
                }
            }
            keys.push((
                pinned,
                Key {
                    slot,
                    free,
                    by_bool: ["false", "true"].map(|t| by_value.get(t).map_or(free, |m| m | free)),
                    by_value: StrMap::new(by_value.into_iter().map(|(v, m)| (v, m | free))),
                },
            ));
        }
        if keys.is_empty() {
            return None;
        }
        // The fields pinning the most rules first; stable, so ties keep slot order.
        keys.sort_by_key(|k| std::cmp::Reverse(k.0));
        keys.truncate(MAX_KEYS);
        Some(Dispatch {
            keys: keys.into_iter().map(|(_, k)| k).collect(),
            all: all_mask(rules.len()),
        })
    }

    /// The slots the program is pre-selected on (tests).
    #[cfg(test)]
    pub(crate) fn slots(&self) -> Vec<u32> {
        self.keys.iter().map(|k| k.slot).collect()
    }
}

/// The mask of a program's `n` rules (`n` at most 128).
fn all_mask(n: usize) -> Mask {
    if n >= Mask::BITS as usize {
        Mask::MAX
    } else {
        (1 << n) - 1
    }
}

/// Every slot compared anywhere in `n` (through macros, each visited once).
fn collect_slots(n: &Node, macros: &[Node], out: &mut BTreeSet<u32>, seen: &mut Vec<bool>) {
    match n {
        Node::And(xs) | Node::Or(xs) => xs.iter().for_each(|x| collect_slots(x, macros, out, seen)),
        Node::Not(x) => collect_slots(x, macros, out, seen),
        Node::AnyStr(a) => {
            out.insert(a.slot);
        }
        Node::Check(c) => {
            if let Lhs::Slot { slot, .. } = c.lhs {
                out.insert(slot);
            }
        }
        Node::Macro(i) => {
            let i = *i as usize;
            if seen.get(i) == Some(&false) {
                seen[i] = true;
                if let Some(body) = macros.get(i) {
                    collect_slots(body, macros, out, seen);
                }
            }
        }
    }
}

/// The values of `slot` outside which `n` is false (`None`: no such set is known).
fn pin<'a>(n: &'a Node, slot: u32, macros: &'a [Node]) -> Option<BTreeSet<&'a str>> {
    match n {
        // An `or`: pinned when each of its comparisons is.
        Node::AnyStr(a) => a.cmps.iter().try_fold(BTreeSet::new(), |mut acc, c| {
            acc.extend(pin_cmp(c, slot)?);
            Some(acc)
        }),
        Node::Check(c) => pin_cmp(c, slot),
        // True only if every operand is: any operand's set pins it, so their intersection does.
        Node::And(xs) => xs
            .iter()
            .filter_map(|x| pin(x, slot, macros))
            .reduce(|a, b| a.intersection(&b).copied().collect()),
        // True only if some operand is: pinned when every operand is, to their union.
        Node::Or(xs) => xs.iter().try_fold(BTreeSet::new(), |mut acc, x| {
            acc.extend(pin(x, slot, macros)?);
            Some(acc)
        }),
        Node::Not(_) => None,
        Node::Macro(i) => pin(macros.get(*i as usize)?, slot, macros),
    }
}

/// The values of `slot` outside which the comparison is false.
fn pin_cmp(c: &Cmp, slot: u32) -> Option<BTreeSet<&str>> {
    let Lhs::Slot { slot: s, .. } = c.lhs else {
        return None;
    };
    if s != slot {
        return None;
    }
    let text = |b: bool| if b { "true" } else { "false" };
    match &c.test {
        Test::Str(StrTest::Eq(r)) => Some(BTreeSet::from([&**r])),
        Test::Str(StrTest::In(set)) => Some(set.keys().collect()),
        Test::Str(StrTest::InSmall(v)) => Some(v.iter().map(|x| &**x).collect()),
        // Passes when the value reads as the boolean `want` (or not, with `!=`).
        Test::Bool { want, ne } => Some(BTreeSet::from([text(*want != *ne)])),
        Test::BoolIn(v) => Some(v.iter().map(|b| text(*b)).collect()),
        _ => None,
    }
}
