//! The staged loader: read → collect → compile → index.

use std::collections::{BTreeSet, HashMap};

use crate::ast::{Check, Expr, Literal, Op, Rhs};
use crate::collect::{Collected, ExceptionInfo, OneOrMany, Origin};
use crate::compile::{self, evttypes, item_literal, parse_comp, Slots};
use crate::diag::{Code, Diagnostic, Diagnostics};
use crate::engine::{CompiledRule, Ruleset};
use crate::output::compile_format;
use crate::parser::{parse_condition, parse_field_expr};
use crate::yaml::{self, Kind, Node};

/// One rules file to load: its name (for diagnostics) and its text.
#[derive(Debug, Clone)]
pub struct RulesFile {
    /// Name shown in diagnostics (usually the path).
    pub name: String,
    /// YAML text.
    pub text: String,
}

impl RulesFile {
    /// A rules file from a name and text.
    pub fn new(name: impl Into<String>, text: impl Into<String>) -> Self {
        RulesFile {
            name: name.into(),
            text: text.into(),
        }
    }
}

/// Rules loaded without error, with the warnings found.
#[derive(Debug)]
pub struct Loaded {
    /// The compiled, indexed rules.
    pub ruleset: Ruleset,
    /// Warnings (no errors).
    pub diagnostics: Vec<Diagnostic>,
}

/// Loading failed: at least one error.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} error(s) loading rules, first: {}", errors_count(.diagnostics), first_error(.diagnostics))]
pub struct LoadFailed {
    /// All diagnostics (errors and warnings).
    pub diagnostics: Vec<Diagnostic>,
}

fn errors_count(d: &[Diagnostic]) -> usize {
    d.iter()
        .filter(|d| d.level == crate::diag::Level::Error)
        .count()
}

fn first_error(d: &[Diagnostic]) -> String {
    d.iter()
        .find(|d| d.level == crate::diag::Level::Error)
        .map(ToString::to_string)
        .unwrap_or_default()
}

/// Loads rules files in order (later files see and may override earlier items).
pub fn load(files: &[RulesFile]) -> Result<Loaded, LoadFailed> {
    let mut diags = Diagnostics::default();
    let mut col = Collected::default();
    for f in files {
        match yaml::parse(&f.text) {
            Ok(docs) => col.add_file(&f.name, &docs, &mut diags),
            Err(e) => diags.error(Code::LoadErrYamlParse, &f.name, e.pos, "", e.message),
        }
    }
    if diags.has_errors() {
        return Err(LoadFailed {
            diagnostics: diags.items,
        });
    }
    let ruleset = build(&col, &mut diags);
    if diags.has_errors() {
        return Err(LoadFailed {
            diagnostics: diags.items,
        });
    }
    Ok(Loaded {
        ruleset,
        diagnostics: diags.items,
    })
}

struct Expander<'c> {
    lists: HashMap<&'c str, (usize, Vec<Literal>)>,
    list_used: Vec<bool>,
    macro_idx: HashMap<&'c str, usize>,
    macro_ast: Vec<Option<Expr>>,
    macro_done: Vec<Option<Expr>>,
    macro_used: Vec<bool>,
    /// (index, visibility) of each macro: a macro's condition sees only macros with a lower
    /// index than its visibility, like Falco; rule conditions see every macro.
    macro_vis: Vec<(u32, u32)>,
}

impl<'c> Expander<'c> {
    fn expand_lists(&mut self, e: &mut Expr) {
        match e {
            Expr::And(v) | Expr::Or(v) => v.iter_mut().for_each(|c| self.expand_lists(c)),
            Expr::Not(c) => self.expand_lists(c),
            Expr::Ident(_) => {}
            Expr::Check(c) => self.expand_check_lists(c),
        }
    }

    fn expand_check_lists(&mut self, c: &mut Check) {
        match &mut c.rhs {
            Rhs::List(items) => {
                let mut out = Vec::with_capacity(items.len());
                for it in items.drain(..) {
                    match (!it.quoted)
                        .then(|| self.lists.get(it.text.as_str()))
                        .flatten()
                    {
                        Some((idx, vals)) => {
                            self.list_used[*idx] = true;
                            out.extend(vals.iter().cloned());
                        }
                        None => out.push(it),
                    }
                }
                *items = out;
            }
            Rhs::ListRef(name) => {
                if let Some((idx, vals)) = self.lists.get(name.as_str()) {
                    self.list_used[*idx] = true;
                    c.rhs = Rhs::List(vals.clone());
                }
            }
            _ => {}
        }
    }

    fn expand_macros(&mut self, e: &Expr, stack: &mut Vec<usize>) -> Result<Expr, String> {
        Ok(match e {
            Expr::And(v) => Expr::And(
                v.iter()
                    .map(|c| self.expand_macros(c, stack))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Or(v) => Expr::Or(
                v.iter()
                    .map(|c| self.expand_macros(c, stack))
                    .collect::<Result<_, _>>()?,
            ),
            Expr::Not(c) => Expr::Not(Box::new(self.expand_macros(c, stack)?)),
            Expr::Check(_) => e.clone(),
            Expr::Ident(name) => {
                let Some(&i) = self.macro_idx.get(name.as_str()) else {
                    return Err(format!("undefined macro '{name}' used in filter"));
                };
                if let Some(&cur) = stack.last() {
                    let seen_by = |j: usize| self.macro_vis.get(j).copied().unwrap_or((0, 0));
                    if seen_by(i).0 >= seen_by(cur).1 {
                        return Err(format!(
                            "undefined macro '{name}' used in filter (it is defined after \
                             the macro that uses it)"
                        ));
                    }
                }
                self.macro_used[i] = true;
                if let Some(done) = &self.macro_done[i] {
                    return Ok(done.clone());
                }
                if stack.contains(&i) {
                    return Err(format!(
                        "macro '{name}' is defined in terms of itself (cycle)"
                    ));
                }
                let Some(ast) = self.macro_ast[i].clone() else {
                    return Err(format!("macro '{name}' has an invalid condition"));
                };
                stack.push(i);
                let out = self.expand_macros(&ast, stack);
                stack.pop();
                let out = out?;
                self.macro_done[i] = Some(out.clone());
                out
            }
        })
    }
}

fn build(col: &Collected, diags: &mut Diagnostics) -> Ruleset {
    let mut ex = Expander {
        lists: HashMap::new(),
        list_used: vec![false; col.lists.len()],
        macro_idx: HashMap::new(),
        macro_ast: Vec::new(),
        macro_done: vec![None; col.macros.len()],
        macro_used: vec![false; col.macros.len()],
        macro_vis: col.macros.iter().map(|m| (m.index, m.visibility)).collect(),
    };
    // Lists, in order: an item naming a list whose first definition comes before this list's
    // last definition (or append) is expanded inline, like Falco; other items are literals.
    let list_pos: HashMap<&str, usize> = col
        .lists
        .iter()
        .enumerate()
        .map(|(i, l)| (l.name.as_str(), i))
        .collect();
    for (i, l) in col.lists.iter().enumerate() {
        let mut vals = Vec::with_capacity(l.items.len());
        for it in &l.items {
            let visible = list_pos
                .get(it.as_str())
                .filter(|&&j| col.lists[j].index < l.visibility);
            match (visible, ex.lists.get(it.as_str())) {
                (Some(_), Some((j, inner))) => {
                    ex.list_used[*j] = true;
                    vals.extend(inner.iter().cloned());
                }
                // Defined later but visible (this list was redefined or appended after it):
                // its own items, as Falco takes them.
                (Some(&j), None) => {
                    ex.list_used[j] = true;
                    vals.extend(col.lists[j].items.iter().map(|x| item_literal(x)));
                }
                (None, _) => vals.push(item_literal(it)),
            }
        }
        ex.lists.insert(l.name.as_str(), (i, vals));
    }
    // Macros: parse every one (errors even if unused), substitute lists.
    for (i, m) in col.macros.iter().enumerate() {
        ex.macro_idx.insert(m.name.as_str(), i);
        match parse_condition(&m.condition) {
            Ok(mut ast) => {
                ex.expand_lists(&mut ast);
                ex.macro_ast.push(Some(ast));
            }
            Err(e) => {
                diag_at(
                    diags,
                    Code::LoadErrCompileCondition,
                    &m.cond_origin,
                    &format!("macro '{}'", m.name),
                    e.to_string(),
                );
                ex.macro_ast.push(None);
            }
        }
    }
    // Falco resolves every macro, used or not: an undefined (or not yet defined) macro in an
    // unused macro is an error too.
    // Done before the rules, like Falco, so the error names the macro; a macro that fails
    // here fails the rules using it as "invalid condition".
    for (i, m) in col.macros.iter().enumerate() {
        if ex.macro_done[i].is_some() {
            continue;
        }
        let Some(ast) = ex.macro_ast[i].clone() else {
            continue;
        };
        match ex.expand_macros(&ast, &mut vec![i]) {
            Ok(x) => ex.macro_done[i] = Some(x),
            Err(msg) => {
                diag_at(
                    diags,
                    Code::LoadErrCompileCondition,
                    &m.cond_origin,
                    &format!("macro '{}'", m.name),
                    msg,
                );
                ex.macro_ast[i] = None;
            }
        }
    }
    let mut slots = Slots::default();
    let mut rules = Vec::new();
    let macro_asts = ex.macro_ast.clone();
    let mut cmacros = compile::Macros {
        asts: macro_asts.iter().map(Option::as_ref).collect(),
        idx: ex.macro_idx.clone(),
        done: vec![None; col.macros.len()],
        ..compile::Macros::default()
    };
    for r in &col.rules {
        let item = format!("rule '{}'", r.name);
        if r.source != "syscall" {
            diags.warn(
                Code::LoadSkippedRule,
                &r.origin.file,
                r.origin.pos,
                &item,
                format!("event source '{}' is not supported; rule skipped", r.source),
            );
            continue;
        }
        let mut ast = match parse_condition(&r.condition) {
            Ok(a) => a,
            Err(e) => {
                diag_at(
                    diags,
                    Code::LoadErrCompileCondition,
                    &r.cond_origin,
                    &item,
                    e.to_string(),
                );
                continue;
            }
        };
        let mut exc_ok = true;
        let mut nots = Vec::new();
        for e in &r.exceptions {
            match exception_expr(e) {
                Ok(Some(x)) => nots.push(Expr::Not(Box::new(x))),
                Ok(None) => {}
                Err(msg) => {
                    diag_at(diags, Code::LoadErrException, &e.origin, &item, msg);
                    exc_ok = false;
                }
            }
        }
        if !exc_ok {
            continue;
        }
        if !nots.is_empty() {
            let mut v = vec![ast];
            v.extend(nots);
            ast = Expr::And(v);
        }
        ex.expand_lists(&mut ast);
        let expanded = match ex.expand_macros(&ast, &mut Vec::new()) {
            Ok(x) => x,
            Err(msg) => {
                diag_at(
                    diags,
                    Code::LoadErrCompileCondition,
                    &r.cond_origin,
                    &item,
                    msg,
                );
                continue;
            }
        };
        let skip = |diags: &mut Diagnostics, msg: &str| {
            diags.warn(
                Code::LoadSkippedRule,
                &r.origin.file,
                r.origin.pos,
                &item,
                format!("rule skipped (skip-if-unknown-filter): {msg}"),
            );
        };
        let cond = match compile::compile(&ast, &mut slots, &mut cmacros) {
            Ok(n) => n,
            Err(e) if e.unknown_field && r.skip_if_unknown_filter => {
                skip(diags, &e.message);
                continue;
            }
            Err(e) => {
                diag_at(
                    diags,
                    Code::LoadErrCompileCondition,
                    &r.cond_origin,
                    &item,
                    e.message,
                );
                continue;
            }
        };
        let mut warns = Vec::new();
        let output = match compile_format(&r.output, &mut slots, &mut warns) {
            Ok(f) => f,
            Err(e) if e.unknown_field && r.skip_if_unknown_filter => {
                skip(diags, &e.message);
                continue;
            }
            Err(e) => {
                diags.error(
                    Code::LoadErrCompileOutput,
                    &r.origin.file,
                    r.origin.pos,
                    &item,
                    e.message,
                );
                continue;
            }
        };
        for w in warns {
            diags.warn(Code::LoadWarning, &r.origin.file, r.origin.pos, &item, w);
        }
        let types = evttypes(&expanded);
        if types.is_none() && r.warn_evttypes {
            diags.warn(
                Code::LoadNoEvttype,
                &r.origin.file,
                r.origin.pos,
                &item,
                "rule matches too many evt.type values; it runs on every event",
            );
        }
        rules.push(CompiledRule {
            name: r.name.clone(),
            desc: r.desc.clone(),
            priority: r.priority,
            tags: r.tags.clone(),
            enabled: r.enabled,
            evttypes: types.map(|s: BTreeSet<String>| s.into_iter().collect()),
            cond,
            output,
        });
    }
    for (i, used) in ex.list_used.iter().enumerate() {
        if !used {
            let l = &col.lists[i];
            diags.warn(
                Code::LoadUnusedList,
                &l.origin.file,
                l.origin.pos,
                &format!("list '{}'", l.name),
                "list not referred to by any other rule/macro",
            );
        }
    }
    // Macros referenced only from other unused macros still count as referenced, like Falco.
    let mut referenced = vec![false; col.macros.len()];
    for ast in ex.macro_ast.iter().flatten() {
        mark_idents(ast, &ex.macro_idx, &mut referenced);
    }
    for (i, m) in col.macros.iter().enumerate() {
        if !ex.macro_used[i] && !referenced[i] {
            diags.warn(
                Code::LoadUnusedMacro,
                &m.origin.file,
                m.origin.pos,
                &format!("macro '{}'", m.name),
                "macro not referred to by any other rule/macro",
            );
        }
    }
    let nodes = std::mem::take(&mut cmacros.nodes);
    Ruleset::new(rules, slots, nodes, col.macros.len(), col.lists.len())
}

fn mark_idents(e: &Expr, idx: &HashMap<&str, usize>, out: &mut [bool]) {
    match e {
        Expr::And(v) | Expr::Or(v) => v.iter().for_each(|c| mark_idents(c, idx, out)),
        Expr::Not(c) => mark_idents(c, idx, out),
        Expr::Ident(n) => {
            if let Some(&i) = idx.get(n.as_str()) {
                out[i] = true;
            }
        }
        Expr::Check(_) => {}
    }
}

fn diag_at(diags: &mut Diagnostics, code: Code, o: &Origin, item: &str, msg: String) {
    diags.error(code, &o.file, o.pos, item, msg);
}

fn literal_of(n: &Node) -> Option<Literal> {
    n.as_scalar().map(|s| Literal {
        quoted: s.bytes().any(|b| b.is_ascii_whitespace()) || s.is_empty(),
        text: s,
    })
}

fn value_rhs(n: &Node, op: Op, modifier: bool) -> Result<Rhs, String> {
    match &n.kind {
        Kind::Seq(items) => {
            if !op.is_list_op() && !modifier {
                return Err(format!(
                    "a list value needs a list operator, not '{}'",
                    op.token()
                ));
            }
            items
                .iter()
                .map(|i| {
                    literal_of(i).ok_or_else(|| "exception values must be strings".to_string())
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Rhs::List)
        }
        _ => {
            let lit =
                literal_of(n).ok_or_else(|| "exception values must be strings".to_string())?;
            Ok(if op.is_list_op() || modifier {
                Rhs::List(vec![lit])
            } else {
                Rhs::Value(lit)
            })
        }
    }
}

/// The condition an exception excludes, or None when it has no values.
fn exception_expr(e: &ExceptionInfo) -> Result<Option<Expr>, String> {
    if e.values.is_empty() {
        return Ok(None);
    }
    let name = &e.name;
    let field = |f: &str| {
        let fe = parse_field_expr(f)
            .map_err(|_| format!("exception '{name}': '{f}' is not a supported filter field"))?;
        if let crate::ast::FieldExpr::Field { name: n, arg } = &fe {
            if crate::fields::resolve(n, arg.as_deref()).is_none() {
                return Err(format!(
                    "exception '{name}': '{f}' is not a supported filter field"
                ));
            }
        }
        Ok(fe)
    };
    let comp = |c: &str| {
        parse_comp(c).ok_or_else(|| {
            format!("exception '{name}': '{c}' is not a supported comparison operator")
        })
    };
    match e.fields.as_ref() {
        Some(OneOrMany::One(f)) => {
            let (op, m) = match &e.comps {
                None => (Op::In, None),
                Some(OneOrMany::One(c)) => comp(c)?,
                Some(OneOrMany::Many(_)) => {
                    return Err(format!(
                        "exception '{name}': fields and comps must both be strings"
                    ))
                }
            };
            if !op.is_list_op() && m.is_none() {
                return Err(format!(
                    "exception '{name}': comparison '{}' is not a list operator (use in, pmatch, intersects or a oneof/anyof/allof modifier)",
                    op.token()
                ));
            }
            let mut items = Vec::new();
            for v in &e.values {
                items.push(
                    literal_of(v)
                        .ok_or_else(|| format!("exception '{name}': values must be strings"))?,
                );
            }
            Ok(Some(Expr::Check(Box::new(Check {
                lhs: field(f)?,
                op,
                modifier: m,
                rhs: Rhs::List(items),
            }))))
        }
        Some(OneOrMany::Many(fs)) => {
            let comps: Vec<(Op, Option<crate::ast::Modifier>)> = match &e.comps {
                None => vec![(Op::Eq, None); fs.len()],
                Some(OneOrMany::Many(cs)) => {
                    if cs.len() != fs.len() {
                        return Err(format!(
                            "exception '{name}': fields and comps lists must have equal length"
                        ));
                    }
                    cs.iter().map(|c| comp(c)).collect::<Result<_, _>>()?
                }
                Some(OneOrMany::One(_)) => {
                    return Err(format!(
                        "exception '{name}': fields and comps must both be lists"
                    ))
                }
            };
            let lhs: Vec<_> = fs.iter().map(|f| field(f)).collect::<Result<_, _>>()?;
            let mut rows = Vec::new();
            for row in &e.values {
                let Kind::Seq(cells) = &row.kind else {
                    return Err(format!(
                        "exception '{name}': each value must be a list matching 'fields'"
                    ));
                };
                if cells.len() != fs.len() {
                    return Err(format!(
                        "exception '{name}': fields and values lists must have equal length"
                    ));
                }
                let mut conj = Vec::new();
                for ((cell, l), (op, m)) in cells.iter().zip(&lhs).zip(&comps) {
                    conj.push(Expr::Check(Box::new(Check {
                        lhs: l.clone(),
                        op: *op,
                        modifier: *m,
                        rhs: value_rhs(cell, *op, m.is_some())
                            .map_err(|m| format!("exception '{name}': {m}"))?,
                    })));
                }
                rows.push(if conj.len() == 1 {
                    conj.remove(0)
                } else {
                    Expr::And(conj)
                });
            }
            Ok(Some(if rows.len() == 1 {
                rows.remove(0)
            } else {
                Expr::Or(rows)
            }))
        }
        None => Err(format!("exception '{name}' has no fields")),
    }
}
