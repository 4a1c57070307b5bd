//! Per-event-type programs: every rule and macro condition is folded for one known `evt.type`
//! (or for an unknown or missing type), so `evt.type` tests become constants, macros that only
//! test the type disappear, rules that cannot match are dropped, and the remaining `and`/`or`
//! operands are ordered cheapest first.
//!
//! Conditions have no side effects and every comparison is total (a missing field makes it
//! false, never an error), so folding and reordering give the same result as evaluating the
//! generic condition; `tests` checks that against the Falco files on random events.

use crate::ast::Op;
use crate::compile::Derive;
use crate::engine::CompiledRule;
use std::sync::Arc;

use crate::program::{BytesTest, Cmp, EvtType, Lhs, Node, NumTest, StrAny, StrTest, Test, View};

mod dispatch;
mod flat;

use dispatch::Dispatch;
use flat::Code;

/// The rules to try for one event-type context, in load order, with their folded conditions,
/// and the macros those conditions share (memoized per event).
#[derive(Debug, Default)]
pub(crate) struct Program {
    pub rules: Box<[(u32, Node)]>,
    pub macros: Box<[Node]>,
    /// Pre-selection of the rules to try by a few field values ([`dispatch`]).
    pub dispatch: Option<Dispatch>,
    /// The rules' conditions as flat code ([`flat`]), which is what is evaluated.
    code: Code,
}

impl Program {
    /// Calls `on_match` with the index (into the ruleset) of each rule whose condition holds for
    /// `view`, in load order, until it returns false. Returns the number of matches.
    #[inline]
    pub(crate) fn matches(&self, view: &View<'_>, mut on_match: impl FnMut(u32) -> bool) -> usize {
        let mut n = 0;
        match &self.dispatch {
            Some(d) => {
                let mut m = d.candidates(view);
                while m != 0 {
                    let i = m.trailing_zeros() as usize;
                    m &= m - 1;
                    let Some((ri, _)) = self.rules.get(i) else {
                        break;
                    };
                    if self.code.eval(i, view) {
                        n += 1;
                        if !on_match(*ri) {
                            break;
                        }
                    }
                }
            }
            None => {
                for (i, (ri, _)) in self.rules.iter().enumerate() {
                    if self.code.eval(i, view) {
                        n += 1;
                        if !on_match(*ri) {
                            break;
                        }
                    }
                }
            }
        }
        n
    }
}

/// What a generic macro became in this context.
#[derive(Debug, Clone)]
enum Done {
    Const(bool),
    Inline(Node),
    Memo(u32),
}

enum Folded {
    Const(bool),
    Node(Node),
}

struct Folder<'a> {
    ctx: EvtType,
    generic: &'a [Node],
    /// How often each generic macro is evaluated by the candidate rules (through memoized
    /// macros, each macro body counts once).
    uses: Vec<u32>,
    done: Vec<Option<Done>>,
    out: Vec<Node>,
    /// Estimated (cost, chance of true) of each memoized macro.
    out_est: Vec<(f64, f64)>,
    lazy_of: &'a [u32],
    derives: &'a [(u32, Derive)],
}

/// Builds the program of one context from the candidate rules (indices into `rules`, ascending).
pub(crate) fn specialize(
    rules: &[CompiledRule],
    candidates: &[u32],
    generic_macros: &[Node],
    ctx: EvtType,
    lazy_of: &[u32],
    derives: &[(u32, Derive)],
) -> Program {
    let mut f = Folder {
        ctx,
        generic: generic_macros,
        uses: count_uses(rules, candidates, generic_macros),
        done: vec![None; generic_macros.len()],
        out: Vec::new(),
        out_est: Vec::new(),
        lazy_of,
        derives,
    };
    let mut out = Vec::with_capacity(candidates.len());
    for &ri in candidates {
        let Some(r) = rules.get(ri as usize) else {
            continue;
        };
        match f.fold(&r.cond) {
            Folded::Const(false) => {}
            Folded::Const(true) => out.push((ri, Node::And(Box::new([])))),
            Folded::Node(n) => out.push((ri, n)),
        }
    }
    let rules = out.into_boxed_slice();
    let macros = f.out.into_boxed_slice();
    Program {
        dispatch: Dispatch::build(&rules, &macros, lazy_of),
        code: Code::new(rules.iter().map(|(_, n)| n), lazy_of),
        rules,
        macros,
    }
}

fn count_uses(rules: &[CompiledRule], candidates: &[u32], macros: &[Node]) -> Vec<u32> {
    fn walk(n: &Node, uses: &mut [u32], seen: &mut [bool], macros: &[Node]) {
        match n {
            Node::And(v) | Node::Or(v) => v.iter().for_each(|c| walk(c, uses, seen, macros)),
            Node::Not(c) => walk(c, uses, seen, macros),
            Node::Check(_) | Node::AnyStr(_) => {}
            Node::Macro(i) => {
                let i = *i as usize;
                if let Some(u) = uses.get_mut(i) {
                    *u += 1;
                }
                if seen.get(i) == Some(&false) {
                    seen[i] = true;
                    if let Some(body) = macros.get(i) {
                        walk(body, uses, seen, macros);
                    }
                }
            }
        }
    }
    let mut uses = vec![0; macros.len()];
    let mut seen = vec![false; macros.len()];
    for &ri in candidates {
        if let Some(r) = rules.get(ri as usize) {
            walk(&r.cond, &mut uses, &mut seen, macros);
        }
    }
    uses
}

impl Folder<'_> {
    fn fold(&mut self, n: &Node) -> Folded {
        match n {
            Node::Check(c) => match &c.test {
                Test::EvtType { bits, ne } => Folded::Const(self.ctx.test(bits, *ne)),
                // `in ()` (an empty list, e.g. a user list left empty for customisation).
                Test::Str(StrTest::InSmall(v)) if v.is_empty() => Folded::Const(false),
                _ => Folded::Node(n.clone()),
            },
            Node::Not(x) => match self.fold(x) {
                Folded::Const(b) => Folded::Const(!b),
                Folded::Node(Node::Not(inner)) => Folded::Node(*inner),
                Folded::Node(y) => Folded::Node(Node::Not(Box::new(y))),
            },
            Node::And(xs) => self.fold_list(xs, true),
            Node::Or(xs) => self.fold_list(xs, false),
            Node::AnyStr(_) => Folded::Node(n.clone()),
            Node::Macro(i) => match self.fold_macro(*i as usize) {
                Done::Const(b) => Folded::Const(b),
                Done::Inline(n) => Folded::Node(n),
                Done::Memo(id) => Folded::Node(Node::Macro(id)),
            },
        }
    }

    /// `and` (`is_and`) or `or`: drops neutral constants, stops at an absorbing one, flattens
    /// nested operands of the same kind and orders the rest by estimated cost.
    fn fold_list(&mut self, xs: &[Node], is_and: bool) -> Folded {
        let mut kids = Vec::with_capacity(xs.len());
        for x in xs {
            match self.fold(x) {
                Folded::Const(b) if b == is_and => {}
                Folded::Const(b) => return Folded::Const(b),
                Folded::Node(Node::And(inner)) if is_and => kids.extend(inner.into_vec()),
                Folded::Node(Node::Or(inner)) if !is_and => kids.extend(inner.into_vec()),
                Folded::Node(n) => kids.push(n),
            }
        }
        if !is_and {
            kids = self.merge_str_ors(kids);
        }
        match kids.len() {
            0 => Folded::Const(is_and),
            1 => Folded::Node(kids.pop().unwrap_or(Node::And(Box::new([])))),
            _ => {
                let mut keyed: Vec<(f64, Node)> = kids
                    .into_iter()
                    .map(|k| (self.order_key(&k, is_and), k))
                    .collect();
                // Stable, so equal keys keep the rule author's order.
                keyed.sort_by(|a, b| a.0.total_cmp(&b.0));
                let kids: Vec<Node> = keyed.into_iter().map(|(_, k)| k).collect();
                let kids = kids.into_boxed_slice();
                Folded::Node(if is_and {
                    Node::And(kids)
                } else {
                    Node::Or(kids)
                })
            }
        }
    }

    /// Merges the string comparisons of one (non-list-derived) field among the operands of an
    /// `or` into one [`StrAny`], where the field is read once.
    fn merge_str_ors(&self, kids: Vec<Node>) -> Vec<Node> {
        let mergeable = |n: &Node| -> Option<u32> {
            let Node::Check(c) = n else {
                return None;
            };
            let (Lhs::Slot { slot, .. }, Test::Str(_)) = (&c.lhs, &c.test) else {
                return None;
            };
            // Derived lists are tested value by value by each comparison instead.
            let derived = self.lazy_of.get(*slot as usize).copied() != Some(u32::MAX);
            let is_list = derived
                && self
                    .lazy_of
                    .get(*slot as usize)
                    .and_then(|li| self.derives.get(*li as usize))
                    .is_some_and(|(_, d)| matches!(d, Derive::AnyOf(_)));
            (!is_list).then_some(*slot)
        };
        let mut count: Vec<(u32, usize)> = Vec::new();
        for k in &kids {
            if let Some(s) = mergeable(k) {
                match count.iter_mut().find(|(x, _)| *x == s) {
                    Some((_, n)) => *n += 1,
                    None => count.push((s, 1)),
                }
            }
        }
        if count.iter().all(|(_, n)| *n < 2) {
            return kids;
        }
        let mut out = Vec::with_capacity(kids.len());
        let mut groups: Vec<(u32, Vec<Arc<Cmp>>)> = Vec::new();
        for k in kids {
            match mergeable(&k) {
                Some(s) if count.iter().any(|&(x, n)| x == s && n >= 2) => {
                    let Node::Check(c) = k else { continue };
                    match groups.iter_mut().find(|(x, _)| *x == s) {
                        Some((_, g)) => g.push(c),
                        None => groups.push((s, vec![c])),
                    }
                }
                _ => out.push(k),
            }
        }
        out.extend(
            groups
                .into_iter()
                .map(|(s, g)| Node::AnyStr(Arc::new(StrAny::new(s, g)))),
        );
        out
    }

    fn fold_macro(&mut self, i: usize) -> Done {
        if let Some(Some(d)) = self.done.get(i) {
            return d.clone();
        }
        let Some(body) = self.generic.get(i) else {
            return Done::Const(false);
        };
        let d = match self.fold(body) {
            Folded::Const(b) => Done::Const(b),
            // A single comparison or a macro used once gains nothing from the memo, and
            // inlining lets its operands be flattened and ordered with the caller's.
            Folded::Node(n) if is_leaf(&n) || self.uses.get(i).copied().unwrap_or(0) <= 1 => {
                Done::Inline(n)
            }
            Folded::Node(n) => {
                let e = self.estimate(&n);
                self.out.push(n);
                self.out_est.push(e);
                Done::Memo(u32::try_from(self.out.len() - 1).unwrap_or(u32::MAX))
            }
        };
        if let Some(slot) = self.done.get_mut(i) {
            *slot = Some(d.clone());
        }
        d
    }

    /// Estimated cost (arbitrary units) and probability of being true, assuming independent
    /// operands: used only to order operands, so it needs to be rough, not right.
    fn estimate(&self, n: &Node) -> (f64, f64) {
        match n {
            Node::And(xs) | Node::Or(xs) => {
                let is_and = matches!(n, Node::And(_));
                // Expected cost with short-circuiting, in the current order.
                let (mut cost, mut reach, mut p) = (0.0, 1.0, if is_and { 1.0 } else { 0.0 });
                for x in xs.iter() {
                    let (c, q) = self.estimate(x);
                    cost += reach * c;
                    if is_and {
                        reach *= q;
                        p *= q;
                    } else {
                        reach *= 1.0 - q;
                        p = 1.0 - (1.0 - p) * (1.0 - q);
                    }
                }
                (cost, p)
            }
            Node::Not(x) => {
                let (c, q) = self.estimate(x);
                (c, 1.0 - q)
            }
            Node::Check(c) => (self.cmp_cost(c), cmp_prob(c)),
            Node::AnyStr(a) => {
                let miss: f64 = a.cmps.iter().map(|c| 1.0 - cmp_prob(c)).product();
                let tests = (a.prefixes.len() + a.suffixes.len()) as f64
                    + a.rest.iter().map(|c| self.cmp_cost(c)).sum::<f64>();
                (4.0 + tests, 1.0 - miss)
            }
            // Memoized: shared macros are often already known when reached.
            Node::Macro(id) => match self.out_est.get(*id as usize) {
                Some(&(c, p)) => (1.0 + c / 2.0, p),
                None => (1.0, 0.5),
            },
        }
    }

    /// The order key of an operand: for `and`, cost per chance of being false (the operand
    /// most likely to stop the evaluation cheaply goes first); for `or`, per chance of true.
    fn order_key(&self, n: &Node, is_and: bool) -> f64 {
        let (c, p) = self.estimate(n);
        let stop = if is_and { 1.0 - p } else { p };
        c / stop.max(1e-3)
    }

    fn lhs_cost(&self, l: &Lhs) -> f64 {
        match l {
            Lhs::Slot { slot, .. } => match self.lazy_of.get(*slot as usize).copied() {
                Some(li) if li != u32::MAX => match self.derives.get(li as usize).map(|(_, d)| d) {
                    // Builds a list of owned strings.
                    Some(Derive::AnyOf(v)) => 20.0 + 4.0 * v.len() as f64,
                    _ => 10.0,
                },
                _ => 1.0,
            },
            Lhs::Lit(_) => 5.0,
            Lhs::Tf { args, .. } => 20.0 + args.iter().map(|a| self.lhs_cost(a)).sum::<f64>(),
        }
    }

    fn cmp_cost(&self, c: &Cmp) -> f64 {
        let test = match &c.test {
            Test::EvtType { .. } => return 1.0,
            Test::Exists | Test::Bool { .. } | Test::BoolIn(_) => 1.0,
            Test::Num(_) => 2.0,
            Test::Str(t) => str_cost(t),
            Test::Modified { tests, .. } => tests.iter().map(str_cost).sum(),
            Test::Ip { set, .. } => 15.0 + set.len() as f64,
            Test::Bytes(_) => 6.0,
            Test::Val { rhs, .. } => 10.0 + self.lhs_cost(rhs),
        };
        test + self.lhs_cost(&c.lhs)
    }
}

/// The guessed chance that a comparison is true: equality-like tests rarely are, their
/// negations usually are.
fn cmp_prob(c: &Cmp) -> f64 {
    const RARE: f64 = 0.1;
    const HALF: f64 = 0.5;
    const USUAL: f64 = 0.9;
    match &c.test {
        Test::EvtType { ne, .. } | Test::Ip { ne, .. } | Test::Bytes(BytesTest::Eq(_, ne)) => {
            if *ne {
                USUAL
            } else {
                RARE
            }
        }
        Test::Exists => 0.7,
        Test::Bool { .. } | Test::BoolIn(_) => HALF,
        Test::Num(NumTest::Cmp(Op::Eq, _)) | Test::Num(NumTest::In(_)) => RARE,
        Test::Num(NumTest::Cmp(Op::Ne, _)) => USUAL,
        Test::Num(_) => HALF,
        Test::Str(StrTest::Ne(_)) => USUAL,
        Test::Str(StrTest::Ord(..)) => HALF,
        Test::Val { op, .. } => match op {
            Op::Eq => RARE,
            Op::Ne => USUAL,
            _ => HALF,
        },
        Test::Str(_) | Test::Modified { .. } | Test::Bytes(_) => RARE,
    }
}

fn str_cost(t: &StrTest) -> f64 {
    match t {
        StrTest::Eq(_) | StrTest::Ne(_) => 2.0,
        StrTest::StartsWith(_) | StrTest::EndsWith(_) => 3.0,
        StrTest::InSmall(v) => 2.0 + v.len() as f64,
        StrTest::In(_) => 6.0,
        StrTest::Ord(..) => 4.0,
        StrTest::Contains(_) => 8.0,
        StrTest::Pmatch(_) => 12.0,
        StrTest::IContains(_) => 20.0,
        StrTest::Glob(_) | StrTest::IGlob(_) => 25.0,
        StrTest::Regex(_) => 40.0,
    }
}

fn is_leaf(n: &Node) -> bool {
    match n {
        Node::Check(_) | Node::AnyStr(_) => true,
        Node::Not(x) => matches!(**x, Node::Check(_)),
        _ => false,
    }
}

#[cfg(test)]
mod tests;
