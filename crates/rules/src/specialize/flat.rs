//! Rule conditions as flat jumping code: each comparison is one instruction that names where
//! to go when it is true and when it is false, so a rule is evaluated by a loop over an array
//! instead of recursive calls through `and`/`or`/`not` nodes. The instructions are the tree's
//! leaves in the tree's order, and `and`/`or` short-circuit exactly as the tree does.

use std::sync::Arc;

use crate::program::{Cmp, Node, StrAny, View};

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
    pub(crate) fn new<'a>(conds: impl IntoIterator<Item = &'a Node>) -> Code {
        let mut e = Emitter::default();
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
            let r = match &insn.leaf {
                Leaf::Cmp(c) => c.eval(v),
                Leaf::AnyStr(a) => a.eval(v),
                Leaf::Macro(m) => v.macro_value(*m),
                Leaf::Const(b) => *b,
            };
            match if r { insn.on_true } else { insn.on_false } {
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
struct Emitter {
    insns: Vec<Insn>,
    /// Label id -> instruction index.
    labels: Vec<u32>,
}

impl Emitter {
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
            Node::Check(c) => self.push(Leaf::Cmp(Arc::clone(c)), t, f),
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
