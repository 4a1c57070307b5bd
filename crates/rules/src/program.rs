//! Compiled conditions and their evaluation over an event view.

use std::borrow::Cow;
use std::cell::{Cell, OnceCell};
use std::net::IpAddr;
use std::sync::Arc;

use mamori_core::event::Value;
use mamori_core::Event;
use memchr::memmem::Finder;
use regex::Regex;

use crate::ast::{Modifier, Op, Transformer};
use crate::compile::Derive;
use crate::matchers::{bytes_eq, str_eq, Cidr, Glob, PathSet, StrSet};

/// The values of the fields a ruleset needs, for one event, by slot. The event's fields are
/// resolved to slots once, when the view is built ([`crate::engine`]); derived values
/// (`fd.directory`, `proc.aname`, `evt.time`, ...) are computed on first use.
#[derive(Debug)]
pub struct View<'e> {
    /// The event's value of each slot (`None`: the event does not carry it).
    pub(crate) vals: &'e [Option<&'e Value>],
    pub(crate) lazy_of: &'e [u32],
    pub(crate) lazy: &'e [OnceCell<Option<Value>>],
    pub(crate) derives: &'e [(u32, Derive)],
    pub(crate) ev: &'e Event,
    pub(crate) hostname: &'e str,
    pub(crate) evt_type: EvtType,
    pub(crate) macros: &'e [Node],
    /// Per-macro memo: 0 unknown, 1 false, 2 true.
    pub(crate) memo: &'e [Cell<u8>],
    /// Evaluate without the shortcuts (derived lists tested value by value): the reference
    /// the optimised evaluation is tested against.
    #[cfg(test)]
    pub(crate) plain: Cell<bool>,
}

/// The event's type as an interned id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EvtType {
    Missing,
    Unknown,
    Known(u32),
}

impl EvtType {
    /// Whether an `evt.type` test with this type bitset (negated when `ne`) passes.
    #[inline]
    pub(crate) fn test(self, bits: &[u64], ne: bool) -> bool {
        match self {
            EvtType::Missing => false,
            EvtType::Unknown => ne,
            EvtType::Known(i) => {
                let hit = bits
                    .get((i / 64) as usize)
                    .is_some_and(|w| w & (1u64 << (i % 64)) != 0);
                hit != ne
            }
        }
    }
}

impl View<'_> {
    #[inline]
    pub(crate) fn macro_value(&self, i: u32) -> bool {
        let Some(cell) = self.memo.get(i as usize) else {
            return false;
        };
        match cell.get() {
            1 => false,
            2 => true,
            _ => {
                let r = self.macros.get(i as usize).is_some_and(|n| n.eval(self));
                cell.set(if r { 2 } else { 1 });
                r
            }
        }
    }

    /// The event's own value of a slot, without derivation (for slots that are not derived).
    #[inline(always)]
    pub(crate) fn raw(&self, slot: u32) -> Option<&Value> {
        self.vals.get(slot as usize).copied().flatten()
    }

    #[inline]
    pub(crate) fn get(&self, slot: u32) -> Option<&Value> {
        let s = slot as usize;
        if let Some(v) = *self.vals.get(s)? {
            return Some(v);
        }
        let li = *self.lazy_of.get(s)?;
        if li == u32::MAX {
            return None;
        }
        self.lazy
            .get(li as usize)?
            .get_or_init(|| self.compute(li as usize))
            .as_ref()
    }

    /// The slots a field is derived from as "any of these values" (`proc.aname`, `fd.ip`,
    /// ...), when the event does not carry the field itself.
    #[inline]
    fn any_of(&self, slot: u32) -> Option<&[u32]> {
        let s = slot as usize;
        #[cfg(test)]
        if self.plain.get() {
            return None;
        }
        if self.vals.get(s)?.is_some() {
            return None;
        }
        let li = *self.lazy_of.get(s)?;
        match self.derives.get(li as usize)? {
            (_, Derive::AnyOf(list)) => Some(list),
            _ => None,
        }
    }

    fn compute(&self, i: usize) -> Option<Value> {
        let (_, d) = self.derives.get(i)?;
        match d {
            Derive::DirOf(p) | Derive::FileOf(p) => match self.get(*p) {
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
                    .filter_map(|&p| match self.get(p) {
                        Some(Value::Str(s)) => Some(s.clone()),
                        Some(Value::Int(i)) => Some(i.to_string()),
                        Some(Value::List(l)) => Some(l.join(",")),
                        _ => None,
                    })
                    .collect();
                (!vals.is_empty()).then_some(Value::List(vals))
            }
            Derive::Time => Some(Value::Str(crate::output::evt_time(self.ev.time_ns))),
            Derive::RawTime => Some(Value::Int(
                i64::try_from(self.ev.time_ns).unwrap_or(i64::MAX),
            )),
            Derive::Source => Some(Value::Str(self.ev.source.as_str().to_string())),
            Derive::Hostname => Some(Value::Str(self.hostname.to_string())),
        }
    }
}

/// A compiled boolean expression. `And([])` is true and `Or([])` is false.
#[derive(Debug, Clone)]
pub(crate) enum Node {
    And(Box<[Node]>),
    Or(Box<[Node]>),
    Not(Box<Node>),
    /// Shared so that per-event-type programs can reuse comparisons without copying matchers.
    Check(Arc<Cmp>),
    /// A compiled macro, evaluated once per event.
    Macro(u32),
    /// Several string comparisons of one field joined by `or`, merged when programs are
    /// built (never in generic conditions).
    AnyStr(Arc<StrAny>),
}

/// An `or` of string comparisons of one field: the field is read once, equality and `in`
/// become one set lookup, prefixes and suffixes are compared in one loop.
#[derive(Debug)]
pub(crate) struct StrAny {
    pub slot: u32,
    /// The merged comparisons, as compiled: a value that is not a plain string is tested by
    /// each of them, so it gets exactly the answer of their `or`.
    pub cmps: Box<[Arc<Cmp>]>,
    /// The values of the `=` and `in` comparisons.
    pub exact: StrSet,
    pub prefixes: Box<[Box<str>]>,
    pub suffixes: Box<[Box<str>]>,
    /// The other string comparisons, tested in turn.
    pub rest: Box<[Arc<Cmp>]>,
}

impl StrAny {
    /// Merges string comparisons of `slot` (each `Test::Str` with that slot as its field).
    pub(crate) fn new(slot: u32, cmps: Vec<Arc<Cmp>>) -> StrAny {
        let mut exact: Vec<Box<str>> = Vec::new();
        let (mut prefixes, mut suffixes, mut rest) = (Vec::new(), Vec::new(), Vec::new());
        for c in &cmps {
            match &c.test {
                Test::Str(StrTest::Eq(v)) => exact.push(v.clone()),
                Test::Str(StrTest::In(set)) => exact.extend(set.keys().map(Box::from)),
                Test::Str(StrTest::InSmall(v)) => exact.extend(v.iter().cloned()),
                Test::Str(StrTest::StartsWith(p)) => prefixes.push(p.clone()),
                Test::Str(StrTest::EndsWith(p)) => suffixes.push(p.clone()),
                _ => rest.push(Arc::clone(c)),
            }
        }
        StrAny {
            slot,
            cmps: cmps.into_boxed_slice(),
            exact: exact.into_iter().collect(),
            prefixes: prefixes.into_boxed_slice(),
            suffixes: suffixes.into_boxed_slice(),
            rest: rest.into_boxed_slice(),
        }
    }

    #[inline]
    pub(crate) fn eval(&self, v: &View<'_>) -> bool {
        match v.get(self.slot) {
            None => false,
            Some(Value::Str(s)) => {
                self.exact.contains(s)
                    || self.prefixes.iter().any(|p| starts_with(s, p))
                    || self.suffixes.iter().any(|p| ends_with(s, p))
                    || self.rest.iter().any(|c| match &c.test {
                        Test::Str(t) => t.test(s),
                        _ => c.eval(v),
                    })
            }
            Some(_) => self.cmps.iter().any(|c| c.eval(v)),
        }
    }
}

/// How a field with several values is compared.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Multi {
    /// True when any value passes (ancestors, derived lists).
    Any,
    /// `in` on a real list field: every value must be in the set.
    All,
}

/// The left-hand side of a comparison.
#[derive(Debug)]
pub(crate) enum Lhs {
    Slot { slot: u32, multi: Multi },
    Tf { tf: Transformer, args: Box<[Lhs]> },
    Lit(Box<str>),
}

/// One comparison.
#[derive(Debug)]
pub(crate) struct Cmp {
    pub lhs: Lhs,
    pub test: Test,
}

#[derive(Debug)]
pub(crate) enum Test {
    Exists,
    Str(StrTest),
    Num(NumTest),
    Bool {
        want: bool,
        ne: bool,
    },
    BoolIn(Vec<bool>),
    Ip {
        set: Vec<Cidr>,
        ne: bool,
    },
    Bytes(BytesTest),
    Modified {
        m: Modifier,
        tests: Box<[StrTest]>,
    },
    Val {
        op: Op,
        rhs: Lhs,
        numeric: bool,
    },
    /// `evt.type` =/!=/in against interned type ids (bitset).
    EvtType {
        bits: Box<[u64]>,
        ne: bool,
    },
}

#[derive(Debug)]
pub(crate) enum StrTest {
    Eq(Box<str>),
    Ne(Box<str>),
    Ord(Op, Box<str>),
    Contains(Box<Finder<'static>>),
    IContains(Box<str>),
    StartsWith(Box<str>),
    EndsWith(Box<str>),
    Glob(Glob),
    IGlob(Glob),
    Regex(Regex),
    In(StrSet),
    InSmall(Box<[Box<str>]>),
    Pmatch(PathSet),
}

#[derive(Debug)]
pub(crate) enum NumTest {
    Cmp(Op, i64),
    In(Box<[i64]>),
}

#[derive(Debug)]
pub(crate) enum BytesTest {
    Contains(Box<Finder<'static>>),
    StartsWith(Box<[u8]>),
    Eq(Box<[u8]>, bool),
}

/// A value produced by the left-hand side.
enum Produced<'v> {
    One(&'v Value),
    Owned(Value),
}

impl Node {
    #[inline]
    pub(crate) fn eval(&self, v: &View<'_>) -> bool {
        match self {
            Node::And(c) => c.iter().all(|n| n.eval(v)),
            Node::Or(c) => c.iter().any(|n| n.eval(v)),
            Node::Not(n) => !n.eval(v),
            Node::Check(c) => c.eval(v),
            Node::Macro(i) => v.macro_value(*i),
            Node::AnyStr(a) => a.eval(v),
        }
    }
}

fn produce<'v>(lhs: &Lhs, v: &'v View<'_>) -> Option<Produced<'v>> {
    match lhs {
        Lhs::Slot { slot, .. } => v.get(*slot).map(Produced::One),
        Lhs::Lit(s) => Some(Produced::Owned(Value::Str(s.to_string()))),
        Lhs::Tf { tf, args } => apply_tf(*tf, args, v).map(Produced::Owned),
    }
}

fn value_text(val: &Value) -> Option<Cow<'_, str>> {
    match val {
        Value::Str(s) => Some(Cow::Borrowed(s)),
        Value::Int(i) => Some(Cow::Owned(i.to_string())),
        Value::Bool(b) => Some(Cow::Borrowed(if *b { "true" } else { "false" })),
        Value::List(l) => Some(Cow::Owned(l.join(","))),
    }
}

fn apply_tf(tf: Transformer, args: &[Lhs], v: &View<'_>) -> Option<Value> {
    let first = || -> Option<String> {
        let p = produce(args.first()?, v)?;
        let val = match &p {
            Produced::One(x) => *x,
            Produced::Owned(x) => x,
        };
        value_text(val).map(Cow::into_owned)
    };
    Some(match tf {
        Transformer::ToLower => Value::Str(first()?.to_lowercase()),
        Transformer::ToUpper => Value::Str(first()?.to_uppercase()),
        Transformer::Basename => {
            let s = first()?;
            Value::Str(s.rsplit('/').next().unwrap_or("").to_string())
        }
        Transformer::Len => {
            let p = produce(args.first()?, v)?;
            let val = match &p {
                Produced::One(x) => *x,
                Produced::Owned(x) => x,
            };
            let n = match val {
                Value::List(l) => l.len(),
                other => value_text(other)?.len(),
            };
            Value::Int(i64::try_from(n).unwrap_or(i64::MAX))
        }
        Transformer::B64 => {
            let s = first()?;
            Value::Str(String::from_utf8_lossy(&b64_decode(s.as_bytes())?).into_owned())
        }
        Transformer::Concat | Transformer::Join => {
            let mut parts = Vec::with_capacity(args.len());
            for a in args {
                let p = produce(a, v)?;
                let val = match &p {
                    Produced::One(x) => *x,
                    Produced::Owned(x) => x,
                };
                parts.push(value_text(val)?.into_owned());
            }
            if tf == Transformer::Join {
                let sep = if parts.is_empty() {
                    String::new()
                } else {
                    parts.remove(0)
                };
                Value::Str(parts.join(&sep))
            } else {
                Value::Str(parts.concat())
            }
        }
    })
}

/// Standard base64 decoding (padding optional); None when invalid.
pub(crate) fn b64_decode(s: &[u8]) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(s.len() * 3 / 4);
    let mut acc = 0u32;
    let mut bits = 0;
    for &c in s {
        let d = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(d);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    Some(out)
}

impl Cmp {
    #[inline]
    pub(crate) fn eval(&self, v: &View<'_>) -> bool {
        if let Test::EvtType { bits, ne } = &self.test {
            return v.evt_type.test(bits, *ne);
        }
        if let Lhs::Slot {
            slot,
            multi: Multi::Any,
        } = self.lhs
        {
            if let Some(r) = v.any_of(slot).and_then(|list| self.eval_any_of(list, v)) {
                return r;
            }
        }
        // Fields (nearly every comparison) are read by reference: going through `produce`
        // returns a large enum through memory on the hottest path.
        let owned;
        let val: &Value = match &self.lhs {
            Lhs::Slot { slot, .. } => match v.get(*slot) {
                Some(x) => x,
                None => return false,
            },
            other => match produce(other, v) {
                Some(Produced::One(x)) => x,
                Some(Produced::Owned(x)) => {
                    owned = x;
                    &owned
                }
                None => return false,
            },
        };
        let multi = match self.lhs {
            Lhs::Slot { multi, .. } => multi,
            _ => Multi::Any,
        };
        match &self.test {
            Test::Exists => true,
            Test::Str(t) => str_values(
                val,
                multi,
                matches!(t, StrTest::In(_) | StrTest::InSmall(_)),
                |s| t.test(s),
            ),
            Test::EvtType { .. } => false,
            Test::Modified { m, tests } => str_values(val, multi, false, |s| {
                let n = tests.iter().filter(|t| t.test(s)).count();
                match m {
                    Modifier::OneOf => n == 1,
                    Modifier::AnyOf => n >= 1,
                    Modifier::AllOf => n == tests.len(),
                }
            }),
            Test::Num(t) => num_values(val, |n| t.test(n)),
            Test::Bool { want, ne } => bool_of(val).is_some_and(|b| (b == *want) != *ne),
            Test::BoolIn(set) => bool_of(val).is_some_and(|b| set.contains(&b)),
            Test::Ip { set, ne } => str_values(val, Multi::Any, false, |s| ip_test(s, set, *ne)),
            Test::Bytes(t) => str_values(val, Multi::Any, false, |s| {
                let b = s.as_bytes();
                match t {
                    BytesTest::Contains(f) => f.find(b).is_some(),
                    BytesTest::StartsWith(p) => b.starts_with(p),
                    BytesTest::Eq(p, ne) => (b == &p[..]) != *ne,
                }
            }),
            Test::Val { op, rhs, numeric } => {
                let Some(rp) = produce(rhs, v) else {
                    return false;
                };
                let rv = match &rp {
                    Produced::One(x) => *x,
                    Produced::Owned(x) => x,
                };
                if *numeric {
                    match (num_of(val), num_of(rv)) {
                        (Some(a), Some(b)) => num_cmp(*op, a, b),
                        _ => false,
                    }
                } else {
                    match (value_text(val), value_text(rv)) {
                        (Some(a), Some(b)) => str_op_dyn(*op, &a, &b),
                        _ => false,
                    }
                }
            }
        }
    }
}

impl Cmp {
    /// A test of a field derived as the list of the texts of other slots (`proc.aname`:
    /// parent and ancestors), on each of those values in turn instead of on the built list:
    /// the same answer (a list passes when any of its values does) without allocating.
    /// `None` when a value is not plain text or the test is not one of these.
    #[inline]
    fn eval_any_of(&self, list: &[u32], v: &View<'_>) -> Option<bool> {
        for &p in list {
            let hit = match (v.get(p), &self.test) {
                // Not part of the derived list.
                (None | Some(Value::Bool(_)), _) => continue,
                (Some(_), Test::Exists) => true,
                (Some(Value::Str(s)), Test::Str(t)) => t.test(s),
                (Some(Value::Str(s)), Test::Num(t)) => parse_num(s).is_some_and(|n| t.test(n)),
                (Some(Value::Int(n)), Test::Num(t)) => t.test(*n),
                (Some(Value::Str(s)), Test::Ip { set, ne }) => ip_test(s, set, *ne),
                _ => return None,
            };
            if hit {
                return Some(true);
            }
        }
        Some(false)
    }
}

impl NumTest {
    #[inline]
    fn test(&self, n: i64) -> bool {
        match self {
            NumTest::Cmp(op, r) => num_cmp(*op, n, *r),
            NumTest::In(set) => set.contains(&n),
        }
    }
}

/// Whether the text is an address inside (or, with `ne`, outside) one of the networks.
fn ip_test(s: &str, set: &[Cidr], ne: bool) -> bool {
    let Ok(ip) = s.parse::<IpAddr>() else {
        return false;
    };
    set.iter().any(|c| c.contains(&ip)) != ne
}

#[inline]
fn str_values(val: &Value, multi: Multi, is_in: bool, mut f: impl FnMut(&str) -> bool) -> bool {
    match val {
        Value::Str(s) => f(s),
        Value::List(l) => {
            if is_in && multi == Multi::All {
                !l.is_empty() && l.iter().all(|s| f(s))
            } else {
                l.iter().any(|s| f(s))
            }
        }
        Value::Int(i) => f(&i.to_string()),
        Value::Bool(b) => f(if *b { "true" } else { "false" }),
    }
}

fn num_of(val: &Value) -> Option<i64> {
    match val {
        Value::Int(i) => Some(*i),
        Value::Str(s) => parse_num(s),
        Value::Bool(b) => Some(i64::from(*b)),
        Value::List(_) => None,
    }
}

#[inline]
fn num_values(val: &Value, f: impl Fn(i64) -> bool) -> bool {
    match val {
        Value::List(l) => l.iter().any(|s| parse_num(s).is_some_and(&f)),
        other => num_of(other).is_some_and(f),
    }
}

fn bool_of(val: &Value) -> Option<bool> {
    match val {
        Value::Bool(b) => Some(*b),
        Value::Int(i) => Some(*i != 0),
        Value::Str(s) => match s.as_str() {
            "true" => Some(true),
            "false" => Some(false),
            _ => None,
        },
        Value::List(_) => None,
    }
}

/// Parses a Falco number literal (decimal, hex, float truncated).
pub(crate) fn parse_num(s: &str) -> Option<i64> {
    let t = s.trim();
    if let Ok(v) = t.parse::<i64>() {
        return Some(v);
    }
    let (neg, body) = match t.strip_prefix('-') {
        Some(b) => (true, b),
        None => (false, t.strip_prefix('+').unwrap_or(t)),
    };
    if let Some(h) = body.strip_prefix("0x").or_else(|| body.strip_prefix("0X")) {
        let v = i64::from_str_radix(h, 16).ok()?;
        return Some(if neg { -v } else { v });
    }
    if let Ok(v) = body.parse::<u64>() {
        return Some(if neg {
            0i64.saturating_sub_unsigned(v)
        } else {
            v.min(i64::MAX as u64) as i64
        });
    }
    let f: f64 = body.parse().ok()?;
    if !f.is_finite() {
        return None;
    }
    let f = if neg { -f } else { f };
    Some(f as i64)
}

#[inline]
pub(crate) fn num_cmp(op: Op, a: i64, b: i64) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        _ => false,
    }
}

fn str_op_dyn(op: Op, a: &str, b: &str) -> bool {
    match op {
        Op::Eq => a == b,
        Op::Ne => a != b,
        Op::Lt => a < b,
        Op::Le => a <= b,
        Op::Gt => a > b,
        Op::Ge => a >= b,
        Op::Contains => a.contains(b),
        Op::IContains => a.to_lowercase().contains(&b.to_lowercase()),
        Op::StartsWith => a.starts_with(b),
        Op::EndsWith => a.ends_with(b),
        Op::Glob => Glob::new(b).is_match(a),
        Op::IGlob => Glob::new(&b.to_lowercase()).is_match(&a.to_lowercase()),
        Op::In | Op::Intersects => a == b,
        Op::Pmatch => PathSet::new([b]).is_match(a),
        _ => false,
    }
}

impl StrTest {
    #[inline]
    pub(crate) fn test(&self, s: &str) -> bool {
        match self {
            StrTest::Eq(r) => str_eq(s, r),
            StrTest::Ne(r) => !str_eq(s, r),
            StrTest::Ord(op, r) => str_op_dyn(*op, s, r),
            StrTest::Contains(f) => f.find(s.as_bytes()).is_some(),
            StrTest::IContains(r) => s.to_lowercase().contains(&**r),
            StrTest::StartsWith(r) => starts_with(s, r),
            StrTest::EndsWith(r) => ends_with(s, r),
            StrTest::Glob(g) => g.is_match(s),
            StrTest::IGlob(g) => g.is_match(&s.to_lowercase()),
            StrTest::Regex(r) => r.is_match(s),
            StrTest::In(set) => set.contains(s),
            StrTest::InSmall(v) => v.iter().any(|x| str_eq(x, s)),
            StrTest::Pmatch(p) => p.is_match(s),
        }
    }
}

/// `s.starts_with(p)` with the inlined comparison.
#[inline]
pub(crate) fn starts_with(s: &str, p: &str) -> bool {
    s.as_bytes()
        .get(..p.len())
        .is_some_and(|h| bytes_eq(h, p.as_bytes()))
}

/// `s.ends_with(p)` with the inlined comparison.
#[inline]
pub(crate) fn ends_with(s: &str, p: &str) -> bool {
    s.len()
        .checked_sub(p.len())
        .and_then(|i| s.as_bytes().get(i..))
        .is_some_and(|t| bytes_eq(t, p.as_bytes()))
}

/// The value of a non-slot left-hand side (transformer or literal), owned.
pub(crate) fn produce_owned(lhs: &Lhs, v: &View<'_>) -> Option<Value> {
    match produce(lhs, v)? {
        Produced::One(x) => Some(x.clone()),
        Produced::Owned(x) => Some(x),
    }
}
