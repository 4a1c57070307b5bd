//! Compile stage: typed field checks, operator/type compatibility, constant matchers.

use std::collections::BTreeSet;
use std::sync::Arc;

use memchr::memmem::Finder;
use regex::Regex;

use crate::ast::{Check, Expr, FieldExpr, Literal, Modifier, Op, Rhs, Transformer};
use crate::fields::{self, ArgKind, FieldType};
use crate::matchers::{Cidr, FxMap, Glob, PathSet, StrSet};
use crate::parser::is_number;
use crate::program::{parse_num, BytesTest, Cmp, Lhs, Multi, Node, NumTest, StrTest, Test};

/// A condition that does not compile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CompileError {
    /// True when the cause is a field the engine does not know (for `skip-if-unknown-filter`).
    pub unknown_field: bool,
    /// What is wrong.
    pub message: String,
}

fn err(msg: impl Into<String>) -> CompileError {
    CompileError {
        unknown_field: false,
        message: msg.into(),
    }
}

/// How a slot's value is derived when the event does not carry it.
#[derive(Debug, Clone)]
pub(crate) enum Derive {
    /// Directory part of a path slot.
    DirOf(u32),
    /// File-name part of a path slot.
    FileOf(u32),
    /// The values of several slots, as a list (ancestors, either endpoint).
    AnyOf(Vec<u32>),
    /// `evt.time` family from the event timestamp.
    Time,
    /// `evt.rawtime` from the event timestamp.
    RawTime,
    /// `evt.source`.
    Source,
    /// `evt.hostname`.
    Hostname,
}

/// Interned field keys: each distinct field (with argument) gets a slot number.
#[derive(Debug, Default)]
pub(crate) struct Slots {
    pub map: FxMap<Box<str>, u32>,
    /// Interned `evt.type` names.
    pub types: FxMap<Box<str>, u32>,
    pub keys: Vec<(String, FieldType, Option<Derive>)>,
    /// The event keys that hold each slot's value (canonical name first, then aliases).
    pub lookup: Vec<Vec<Box<str>>>,
}

impl Slots {
    /// The id of an event type name, interning it.
    pub(crate) fn type_id(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.types.get(name) {
            return i;
        }
        let i = u32::try_from(self.types.len()).unwrap_or(u32::MAX);
        self.types.insert(name.into(), i);
        i
    }

    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }

    /// The slot of a field, creating it (and its derivation) when new.
    pub(crate) fn slot(&mut self, fi: &fields::FieldInfo, arg: Option<&str>) -> u32 {
        let key = fields::canonical_key(fi.name, arg);
        if let Some(&s) = self.map.get(key.as_str()) {
            return s;
        }
        let id = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        self.map.insert(key.clone().into_boxed_str(), id);
        let mut lookup = vec![key.clone().into_boxed_str()];
        for alias in fields::alias_keys(fi.name, arg) {
            if !self.map.contains_key(alias.as_str()) {
                self.map.insert(alias.clone().into_boxed_str(), id);
                lookup.push(alias.into_boxed_str());
            }
        }
        self.lookup.push(lookup);
        self.keys.push((key, fi.ty, None));
        let derive = self.derive_for(fi.name, arg);
        if let Some(d) = derive {
            self.keys[id as usize].2 = Some(d);
        }
        id
    }

    pub(crate) fn named(&mut self, name: &str, arg: Option<&str>) -> u32 {
        match fields::lookup(name) {
            Some(fi) => self.slot(fi, arg),
            None => u32::MAX,
        }
    }

    fn derive_for(&mut self, name: &str, arg: Option<&str>) -> Option<Derive> {
        let ancestors = |s: &mut Slots, parent: &str, family: &str| {
            let mut v = vec![s.named(parent, None)];
            for i in 2..=8 {
                v.push(s.named(family, Some(&i.to_string())));
            }
            Derive::AnyOf(v)
        };
        Some(match (name, arg) {
            ("fd.directory", None) => Derive::DirOf(self.named("fd.name", None)),
            ("fd.filename", None) => Derive::FileOf(self.named("fd.name", None)),
            ("proc.aname", None) => ancestors(self, "proc.pname", "proc.aname"),
            ("proc.aexe", None) => ancestors(self, "proc.pexe", "proc.aexe"),
            ("proc.aexepath", None) => ancestors(self, "proc.pexepath", "proc.aexepath"),
            ("proc.acmdline", None) => ancestors(self, "proc.pcmdline", "proc.acmdline"),
            ("fd.net" | "fd.ip", None) => {
                Derive::AnyOf(vec![self.named("fd.sip", None), self.named("fd.cip", None)])
            }
            ("fd.snet", None) => Derive::AnyOf(vec![self.named("fd.sip", None)]),
            ("fd.cnet", None) => Derive::AnyOf(vec![self.named("fd.cip", None)]),
            ("fd.rnet", None) => Derive::AnyOf(vec![self.named("fd.rip", None)]),
            ("fd.lnet", None) => Derive::AnyOf(vec![self.named("fd.lip", None)]),
            ("fd.port", None) => Derive::AnyOf(vec![
                self.named("fd.sport", None),
                self.named("fd.cport", None),
            ]),
            ("evt.time" | "evt.time.s" | "evt.time.iso8601" | "evt.datetime", None) => Derive::Time,
            ("evt.rawtime", None) => Derive::RawTime,
            ("evt.source", None) => Derive::Source,
            ("evt.hostname", None) => Derive::Hostname,
            _ => return None,
        })
    }
}

/// Compiled macros, shared by every rule that uses them (and memoized per event).
#[derive(Debug, Default)]
pub(crate) struct Macros<'a> {
    /// Parsed, list-expanded macro conditions by macro index.
    pub asts: Vec<Option<&'a Expr>>,
    /// Macro index by name.
    pub idx: std::collections::HashMap<&'a str, usize>,
    /// Macro index -> compiled node id (or the error it gave).
    pub done: Vec<Option<Result<u32, CompileError>>>,
    /// Compiled macro bodies by node id.
    pub nodes: Vec<Node>,
    /// Macros being compiled (cycle detection).
    pub stack: Vec<usize>,
}

impl Macros<'_> {
    fn node_for(&mut self, name: &str, slots: &mut Slots) -> Result<u32, CompileError> {
        let Some(&i) = self.idx.get(name) else {
            return Err(err(format!("undefined macro '{name}' used in filter")));
        };
        if let Some(r) = &self.done[i] {
            return r.clone();
        }
        if self.stack.contains(&i) {
            return Err(err(format!(
                "macro '{name}' is defined in terms of itself (cycle)"
            )));
        }
        let Some(ast) = self.asts[i] else {
            return Err(err(format!("macro '{name}' has an invalid condition")));
        };
        self.stack.push(i);
        let r = compile(ast, slots, self);
        self.stack.pop();
        let r = r.map(|n| {
            self.nodes.push(n);
            u32::try_from(self.nodes.len() - 1).unwrap_or(u32::MAX)
        });
        self.done[i] = Some(r.clone());
        r
    }
}

/// Compiles an expression; macro references become shared, memoized macro nodes.
pub(crate) fn compile(
    e: &Expr,
    slots: &mut Slots,
    macros: &mut Macros<'_>,
) -> Result<Node, CompileError> {
    Ok(match e {
        Expr::And(v) => Node::And(
            v.iter()
                .map(|c| compile(c, slots, macros))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Or(v) => Node::Or(
            v.iter()
                .map(|c| compile(c, slots, macros))
                .collect::<Result<_, _>>()?,
        ),
        Expr::Not(c) => Node::Not(Box::new(compile(c, slots, macros)?)),
        Expr::Ident(name) => Node::Macro(macros.node_for(name, slots)?),
        Expr::Check(c) => compile_check(c, slots)?,
    })
}

/// The type and left-hand side of a field expression.
pub(crate) fn compile_lhs(
    f: &FieldExpr,
    slots: &mut Slots,
    op: Option<Op>,
) -> Result<(Lhs, FieldType), CompileError> {
    match f {
        FieldExpr::Literal(s) => Ok((Lhs::Lit(s.clone().into_boxed_str()), FieldType::Str)),
        FieldExpr::Field { name, arg } => {
            let Some((fi, arg)) = fields::resolve(name, arg.as_deref()) else {
                return Err(CompileError {
                    unknown_field: true,
                    message: format!("filter field '{name}' is nonexistent"),
                });
            };
            match (fi.arg, &arg) {
                (ArgKind::None, Some(_)) => {
                    return Err(err(format!(
                        "field '{}' does not accept arguments",
                        fi.name
                    )))
                }
                (ArgKind::Required, None) => {
                    return Err(err(format!("field '{}' requires an argument", fi.name)))
                }
                _ => {}
            }
            let slot = slots.slot(fi, arg.as_deref());
            let multi = if fi.multi && arg.is_none() && fi.name == "fd.types" && op == Some(Op::In)
            {
                Multi::All
            } else {
                Multi::Any
            };
            Ok((Lhs::Slot { slot, multi }, fi.ty))
        }
        FieldExpr::Transform { tf, args } => {
            let mut out = Vec::with_capacity(args.len());
            for a in args {
                let (l, ty) = compile_lhs(a, slots, None)?;
                if matches!(l, Lhs::Slot { .. })
                    && matches!(
                        tf,
                        Transformer::ToLower
                            | Transformer::ToUpper
                            | Transformer::B64
                            | Transformer::Basename
                    )
                    && ty != FieldType::Str
                {
                    return Err(err(format!(
                        "transformer '{}' does not support {} fields",
                        tf.name(),
                        ty.name()
                    )));
                }
                if let FieldExpr::Field { name, arg: None } = a {
                    if matches!(
                        name.as_str(),
                        "proc.aname" | "proc.aexe" | "proc.aexepath" | "proc.acmdline"
                    ) {
                        return Err(err(format!("field '{name}' does not support transformers")));
                    }
                }
                out.push(l);
            }
            if *tf == Transformer::Join && out.len() < 2 {
                return Err(err(
                    "transformer 'join' needs a separator and a list of fields",
                ));
            }
            let ty = if *tf == Transformer::Len {
                FieldType::Num
            } else {
                FieldType::Str
            };
            Ok((
                Lhs::Tf {
                    tf: *tf,
                    args: out.into_boxed_slice(),
                },
                ty,
            ))
        }
    }
}

fn texts(rhs: &Rhs) -> Result<Vec<&str>, CompileError> {
    match rhs {
        Rhs::Value(l) => Ok(vec![l.text.as_str()]),
        Rhs::List(items) => Ok(items.iter().map(|l| l.text.as_str()).collect()),
        Rhs::ListRef(n) => Err(err(format!("undefined list '{n}'"))),
        _ => Err(err("expected a value")),
    }
}

fn compile_check(c: &Check, slots: &mut Slots) -> Result<Node, CompileError> {
    let (lhs, ty) = compile_lhs(&c.lhs, slots, Some(c.op))?;
    let op = c.op;
    let bad = || {
        err(format!(
            "operator '{}' is not supported by {} field '{}'",
            op.token(),
            ty.name(),
            c.lhs
        ))
    };
    if op == Op::Exists {
        return Ok(check(lhs, Test::Exists));
    }
    // val(field) and transformers on the right-hand side.
    if let Rhs::Val(f) | Rhs::Transform(f) = &c.rhs {
        let (rhs, rty) = compile_lhs(f, slots, None)?;
        let numeric = ty == FieldType::Num && rty == FieldType::Num;
        if matches!(ty, FieldType::Num | FieldType::Bool)
            && !matches!(
                op,
                Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge | Op::In
            )
        {
            return Err(bad());
        }
        return Ok(check(lhs, Test::Val { op, rhs, numeric }));
    }
    if let Some(m) = c.modifier {
        if ty != FieldType::Str {
            return Err(bad());
        }
        let mut tests = Vec::new();
        for t in texts(&c.rhs)? {
            tests.push(str_test(op, &[t])?);
        }
        return Ok(check(
            lhs,
            Test::Modified {
                m,
                tests: tests.into_boxed_slice(),
            },
        ));
    }
    if op.is_list_op() {
        if matches!(c.rhs, Rhs::Value(_)) {
            return Err(err(format!("operator '{}' needs a list", op.token())));
        }
    } else if matches!(c.rhs, Rhs::List(_) | Rhs::ListRef(_)) {
        return Err(err(format!(
            "operator '{}' does not take a list",
            op.token()
        )));
    }
    let vals = texts(&c.rhs)?;
    if let FieldExpr::Field { name, arg: None } = &c.lhs {
        if name == "evt.type" && matches!(op, Op::Eq | Op::Ne | Op::In | Op::Intersects) {
            let mut bits: Vec<u64> = Vec::new();
            for v in &vals {
                let id = slots.type_id(v) as usize;
                if bits.len() <= id / 64 {
                    bits.resize(id / 64 + 1, 0);
                }
                bits[id / 64] |= 1u64 << (id % 64);
            }
            return Ok(check(
                lhs,
                Test::EvtType {
                    bits: bits.into_boxed_slice(),
                    ne: op == Op::Ne,
                },
            ));
        }
    }
    let test = match ty {
        FieldType::Str => {
            if matches!(op, Op::BContains | Op::BStartsWith) {
                return Err(bad());
            }
            for v in &vals {
                if v.contains('\0') {
                    return Err(err("string values cannot contain NUL bytes"));
                }
            }
            Test::Str(str_test(op, &vals)?)
        }
        FieldType::Num => {
            let mut nums = Vec::with_capacity(vals.len());
            for v in &vals {
                if !is_number(v) {
                    return Err(err(format!("'{v}' is not a number (field '{}')", c.lhs)));
                }
                nums.push(parse_num(v).ok_or_else(|| err(format!("number '{v}' out of range")))?);
            }
            match op {
                Op::Eq | Op::Ne | Op::Lt | Op::Le | Op::Gt | Op::Ge => {
                    Test::Num(NumTest::Cmp(op, nums.first().copied().unwrap_or(0)))
                }
                Op::In | Op::Intersects => Test::Num(NumTest::In(nums.into_boxed_slice())),
                _ => return Err(bad()),
            }
        }
        FieldType::Bool => {
            let mut bs = Vec::new();
            for v in &vals {
                bs.push(match *v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(err(format!("'{v}' is not a boolean (field '{}')", c.lhs))),
                });
            }
            match op {
                Op::Eq | Op::Ne => Test::Bool {
                    want: bs.first().copied().unwrap_or(true),
                    ne: op == Op::Ne,
                },
                Op::In | Op::Intersects => Test::BoolIn(bs),
                _ => return Err(bad()),
            }
        }
        FieldType::Ip | FieldType::Net => {
            let mut set = Vec::new();
            for v in &vals {
                let cidr = Cidr::parse(v).filter(|_| ty == FieldType::Net || !v.contains('/'));
                set.push(cidr.ok_or_else(|| {
                    err(format!(
                        "'{v}' is not a valid {} (field '{}')",
                        ty.name(),
                        c.lhs
                    ))
                })?);
            }
            match op {
                Op::Eq | Op::Ne | Op::In | Op::Intersects => Test::Ip {
                    set,
                    ne: op == Op::Ne,
                },
                _ => return Err(bad()),
            }
        }
        FieldType::Bytes => {
            let v = vals.first().copied().unwrap_or("");
            match op {
                Op::BContains | Op::BStartsWith => {
                    let bytes =
                        hex(v).ok_or_else(|| err(format!("'{v}' is not a valid hex string")))?;
                    if op == Op::BContains {
                        Test::Bytes(BytesTest::Contains(Box::new(
                            Finder::new(&bytes).into_owned(),
                        )))
                    } else {
                        Test::Bytes(BytesTest::StartsWith(bytes.into_boxed_slice()))
                    }
                }
                Op::Eq | Op::Ne => Test::Bytes(BytesTest::Eq(
                    v.as_bytes().to_vec().into_boxed_slice(),
                    op == Op::Ne,
                )),
                Op::Contains | Op::StartsWith | Op::In | Op::EndsWith => {
                    Test::Str(str_test(op, &vals)?)
                }
                _ => return Err(bad()),
            }
        }
    };
    Ok(check(lhs, test))
}

fn hex(s: &str) -> Option<Vec<u8>> {
    if s.len() % 2 != 0 || s.is_empty() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

fn str_test(op: Op, vals: &[&str]) -> Result<StrTest, CompileError> {
    let one = || {
        vals.first()
            .map(|s| (*s).to_string().into_boxed_str())
            .unwrap_or_default()
    };
    Ok(match op {
        Op::Eq => StrTest::Eq(one()),
        Op::Ne => StrTest::Ne(one()),
        Op::Lt | Op::Le | Op::Gt | Op::Ge => StrTest::Ord(op, one()),
        Op::Contains => StrTest::Contains(Box::new(
            Finder::new(vals.first().copied().unwrap_or("")).into_owned(),
        )),
        Op::IContains => StrTest::IContains(one().to_lowercase().into_boxed_str()),
        Op::StartsWith => StrTest::StartsWith(one()),
        Op::EndsWith => StrTest::EndsWith(one()),
        Op::Glob => StrTest::Glob(Glob::new(vals.first().copied().unwrap_or(""))),
        Op::IGlob => StrTest::IGlob(Glob::new(
            &vals.first().copied().unwrap_or("").to_lowercase(),
        )),
        Op::Regex => {
            let pat = vals.first().copied().unwrap_or("");
            let re = Regex::new(&format!("^(?:{pat})$"))
                .map_err(|e| err(format!("invalid regex '{pat}': {e}")))?;
            StrTest::Regex(re)
        }
        Op::In | Op::Intersects if vals.len() <= 6 => {
            StrTest::InSmall(vals.iter().map(|s| (*s).into()).collect())
        }
        Op::In | Op::Intersects => {
            let set: StrSet = vals.iter().map(|s| Box::<str>::from(*s)).collect();
            StrTest::In(set)
        }
        Op::Pmatch => StrTest::Pmatch(PathSet::new(vals.iter().copied())),
        Op::BContains | Op::BStartsWith | Op::Exists => {
            return Err(err(format!(
                "operator '{}' is not supported on strings",
                op.token()
            )))
        }
    })
}

fn check(lhs: Lhs, test: Test) -> Node {
    Node::Check(Arc::new(Cmp { lhs, test }))
}

/// The event types a condition can match; `None` means every type.
pub(crate) fn evttypes(e: &Expr) -> Option<BTreeSet<String>> {
    match e {
        Expr::Check(c) => {
            let FieldExpr::Field { name, arg: None } = &c.lhs else {
                return None;
            };
            if name != "evt.type" || c.modifier.is_some() {
                return None;
            }
            match (&c.op, &c.rhs) {
                (Op::Eq, Rhs::Value(v)) => Some(BTreeSet::from([v.text.clone()])),
                (Op::In | Op::Intersects, Rhs::List(items)) => {
                    Some(items.iter().map(|l| l.text.clone()).collect())
                }
                _ => None,
            }
        }
        Expr::And(v) => {
            let mut acc: Option<BTreeSet<String>> = None;
            for c in v {
                if let Some(s) = evttypes(c) {
                    acc = Some(match acc {
                        None => s,
                        Some(a) => a.intersection(&s).cloned().collect(),
                    });
                }
            }
            acc
        }
        Expr::Or(v) => {
            let mut acc = BTreeSet::new();
            for c in v {
                acc.extend(evttypes(c)?);
            }
            Some(acc)
        }
        Expr::Not(_) | Expr::Ident(_) => None,
    }
}

/// Turns a list item from YAML into a literal (quoted items are unquoted).
pub(crate) fn item_literal(s: &str) -> Literal {
    let b = s.as_bytes();
    if b.len() >= 2 && (b[0] == b'"' || b[0] == b'\'') && b[b.len() - 1] == b[0] {
        if let Ok(Expr::Check(c)) = crate::parser::parse_condition(&format!("x.y = {s}")) {
            if let Rhs::Value(l) = c.rhs {
                return l;
            }
        }
    }
    Literal {
        text: s.to_string(),
        quoted: s.bytes().any(|b| b.is_ascii_whitespace()),
    }
}

/// The operator (and modifier) of an exception comp such as `startswith oneof`.
pub(crate) fn parse_comp(s: &str) -> Option<(Op, Option<Modifier>)> {
    let mut it = s.split_whitespace();
    let op = Op::from_token(it.next()?)?;
    let m = match it.next() {
        Some(w) => Some(Modifier::from_word(w)?),
        None => None,
    };
    if it.next().is_some() || op == Op::Exists {
        return None;
    }
    Some((op, m))
}
