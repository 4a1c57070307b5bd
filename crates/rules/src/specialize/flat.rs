//! Rule conditions as flat jumping code: each comparison is one instruction that names where
//! to go when it is true and when it is false, so a rule is evaluated by a loop over an array
//! instead of recursive calls through `and`/`or`/`not` nodes. The instructions are the tree's
//! leaves in the tree's order, and `and`/`or` short-circuit exactly as the tree does.
//!
//! The commonest comparisons of a field the event carries itself (not derived) get their own
//! instruction kinds (`=`, `!=`, `in`, `startswith`, `endswith`, numbers, booleans, `exists`),
//! so that one branch on the instruction kind replaces the generic comparison's branches on
//! test kind, value kind and string test. They decide only the plain case (a string for string
//! tests, an integer for numbers, a boolean for booleans, a missing value); any other value is
//! handed to the generic comparison, so the answer is always the generic one.

use std::sync::Arc;

use mamori_core::event::Value;

use crate::ast::Op;
use crate::matchers::{str_eq, StrSet};
use crate::program::{
    ends_with, num_cmp, starts_with, Cmp, Lhs, Node, NumTest, StrAny, StrTest, Test, View,
};

/// Jump target: the condition holds.
const ACCEPT: u32 = u32::MAX;
/// Jump target: the condition does not hold.
const REJECT: u32 = u32::MAX - 1;

#[derive(Debug)]
enum Leaf {
    Cmp(Arc<Cmp>),
    AnyStr(Arc<StrAny>),
    Macro(u32),
    Const(bool),
    // Fast forms of a comparison of a non-derived slot; the `Arc<Cmp>` answers other values.
    Eq(u32, Box<str>, Arc<Cmp>),
    Ne(u32, Box<str>, Arc<Cmp>),
    In(u32, StrSet, Arc<Cmp>),
    InSmall(u32, Box<[Box<str>]>, Arc<Cmp>),
    Prefix(u32, Box<str>, Arc<Cmp>),
    Suffix(u32, Box<str>, Arc<Cmp>),
    Num(u32, Op, i64, Arc<Cmp>),
    Bool(u32, bool, Arc<Cmp>),
    Exists(u32),
}

impl Leaf {
    /// The instruction for a comparison: a fast form when there is one.
    fn of_cmp(c: &Arc<Cmp>, lazy_of: &[u32]) -> Leaf {
        let generic = || Leaf::Cmp(Arc::clone(c));
        let Lhs::Slot { slot, .. } = c.lhs else {
            return generic();
        };
        if lazy_of.get(slot as usize).copied() != Some(u32::MAX) {
            return generic();
        }
        let c2 = Arc::clone(c);
        match &c.test {
            Test::Exists => Leaf::Exists(slot),
            Test::Str(StrTest::Eq(r)) => Leaf::Eq(slot, r.clone(), c2),
            Test::Str(StrTest::Ne(r)) => Leaf::Ne(slot, r.clone(), c2),
            Test::Str(StrTest::In(set)) => Leaf::In(slot, set.clone(), c2),
            Test::Str(StrTest::InSmall(v)) => Leaf::InSmall(slot, v.clone(), c2),
            Test::Str(StrTest::StartsWith(p)) => Leaf::Prefix(slot, p.clone(), c2),
            Test::Str(StrTest::EndsWith(p)) => Leaf::Suffix(slot, p.clone(), c2),
            Test::Num(NumTest::Cmp(op, r)) => Leaf::Num(slot, *op, *r, c2),
            // `(b == want) != ne`: true exactly when the boolean is `want != ne`.
            Test::Bool { want, ne } => Leaf::Bool(slot, *want != *ne, c2),
            _ => generic(),
        }
    }

    #[inline]
    fn eval(&self, v: &View<'_>) -> bool {
        match self {
            Leaf::Cmp(c) => c.eval(v),
            Leaf::AnyStr(a) => a.eval(v),
            Leaf::Macro(m) => v.macro_value(*m),
            Leaf::Const(b) => *b,
            Leaf::Eq(s, r, c) => match v.raw(*s) {
                Some(Value::Str(x)) => str_eq(x, r),
                None => false,
                Some(_) => c.eval(v),
            },
            Leaf::Ne(s, r, c) => match v.raw(*s) {
                Some(Value::Str(x)) => !str_eq(x, r),
                None => false,
                Some(_) => c.eval(v),
            },
            Leaf::In(s, set, c) => match v.raw(*s) {
                Some(Value::Str(x)) => set.contains(x),
                None => false,
                Some(_) => c.eval(v),
            },
            Leaf::InSmall(s, vals, c) => match v.raw(*s) {
                Some(Value::Str(x)) => vals.iter().any(|r| str_eq(x, r)),
                None => false,
                Some(_) => c.eval(v),
            },
            Leaf::Prefix(s, p, c) => match v.raw(*s) {
                Some(Value::Str(x)) => starts_with(x, p),
                None => false,
                Some(_) => c.eval(v),
            },
            Leaf::Suffix(s, p, c) => match v.raw(*s) {
                Some(Value::Str(x)) => ends_with(x, p),
                None => false,
                Some(_) => c.eval(v),
            },
            Leaf::Num(s, op, r, c) => match v.raw(*s) {
                Some(Value::Int(x)) => num_cmp(*op, *x, *r),
                None => false,
                Some(_) => c.eval(v),
            },
            Leaf::Bool(s, want, c) => match v.raw(*s) {
                Some(Value::Bool(b)) => b == want,
                None => false,
                Some(_) => c.eval(v),
            },
            Leaf::Exists(s) => v.raw(*s).is_some(),
        }
    }
}

#[derive(Debug)]
struct Insn {
    leaf: Leaf,
    /// Next instruction when the leaf is true / false (or [`ACCEPT`], [`REJECT`]).
    on_true: u32,
    on_false: u32,
}

/// The code of all rules of one program, each starting at its own offset.
#[derive(Debug, Default)]
pub(crate) struct Code {
    insns: Box<[Insn]>,
    starts: Box<[u32]>,
}

impl Code {
    /// Compiles each rule's condition, in order.
    pub(crate) fn new<'a>(conds: impl IntoIterator<Item = &'a Node>, lazy_of: &'a [u32]) -> Code {
        let mut e = Emitter {
            lazy_of,
            ..Emitter::default()
        };
        let mut starts = Vec::new();
        for n in conds {
            let start = e.insns.len();
            starts.push(u32::try_from(start).unwrap_or(u32::MAX));
            e.emit(n, ACCEPT, REJECT);
            // Labels are bound now that the rule's code is complete.
            for i in &mut e.insns[start..] {
                i.on_true = resolve(&e.labels, i.on_true);
                i.on_false = resolve(&e.labels, i.on_false);
            }
        }
        Code {
            insns: e.insns.into_boxed_slice(),
            starts: starts.into_boxed_slice(),
        }
    }

    /// Whether rule `i` (of the program) holds for `v`.
    #[inline]
    pub(crate) fn eval(&self, i: usize, v: &View<'_>) -> bool {
        let Some(&start) = self.starts.get(i) else {
            return false;
        };
        let mut pc = start as usize;
        loop {
            let Some(insn) = self.insns.get(pc) else {
                return false;
            };
            match if insn.leaf.eval(v) {
                insn.on_true
            } else {
                insn.on_false
            } {
                ACCEPT => return true,
                REJECT => return false,
                next => pc = next as usize,
            }
        }
    }
}

fn resolve(labels: &[u32], target: u32) -> u32 {
    if target >= REJECT {
        target
    } else {
        labels.get(target as usize).copied().unwrap_or(REJECT)
    }
}

#[derive(Default)]
struct Emitter<'a> {
    /// Per slot: whether (not `u32::MAX`) it is derived.
    lazy_of: &'a [u32],
    insns: Vec<Insn>,
    /// Label id -> instruction index.
    labels: Vec<u32>,
}

impl Emitter<'_> {
    fn push(&mut self, leaf: Leaf, on_true: u32, on_false: u32) {
        self.insns.push(Insn {
            leaf,
            on_true,
            on_false,
        });
    }

    /// A label for the next instruction to be emitted (bound by [`Emitter::bind`]).
    fn label(&mut self) -> u32 {
        self.labels.push(REJECT);
        u32::try_from(self.labels.len() - 1).unwrap_or(REJECT)
    }

    fn bind(&mut self, l: u32) {
        let here = u32::try_from(self.insns.len()).unwrap_or(REJECT);
        if let Some(x) = self.labels.get_mut(l as usize) {
            *x = here;
        }
    }

    /// Emits `n`, jumping to `t` when it holds and to `f` when it does not.
    fn emit(&mut self, n: &Node, t: u32, f: u32) {
        match n {
            Node::Check(c) => self.push(Leaf::of_cmp(c, self.lazy_of), t, f),
            Node::AnyStr(a) => self.push(Leaf::AnyStr(Arc::clone(a)), t, f),
            Node::Macro(m) => self.push(Leaf::Macro(*m), t, f),
            Node::Not(x) => self.emit(x, f, t),
            Node::And(xs) | Node::Or(xs) if xs.is_empty() => {
                self.push(Leaf::Const(matches!(n, Node::And(_))), t, f)
            }
            Node::And(xs) | Node::Or(xs) => {
                let is_and = matches!(n, Node::And(_));
                let last = xs.len() - 1;
                for (i, x) in xs.iter().enumerate() {
                    if i == last {
                        self.emit(x, t, f);
                    } else {
                        let next = self.label();
                        // `and`: a false operand decides; `or`: a true one does.
                        if is_and {
                            self.emit(x, next, f);
                        } else {
                            self.emit(x, t, next);
                        }
                        self.bind(next);
                    }
                }
            }
        }
    }
}
