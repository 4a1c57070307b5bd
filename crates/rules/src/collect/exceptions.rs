//! Collecting rule exceptions (`exceptions:` entries, appended by name).

use super::{get, str_list, Collected, Ctx, ExceptionInfo, OneOrMany, Origin};
use crate::diag::Code;
use crate::yaml::{Kind, Node};

impl Collected {
    pub(super) fn exceptions(
        &mut self,
        cx: &mut Ctx<'_>,
        i: usize,
        v: &Node,
        append: bool,
        item: &str,
    ) {
        let Kind::Seq(list) = &v.kind else {
            if !matches!(v.kind, Kind::Null) {
                cx.err(
                    Code::LoadErrException,
                    v.pos,
                    item,
                    "'exceptions' must be a sequence",
                );
            }
            return;
        };
        if !append {
            self.rules[i].exceptions.clear();
        }
        for e in list {
            let Kind::Map(m) = &e.kind else {
                cx.err(
                    Code::LoadErrException,
                    e.pos,
                    item,
                    "exception must be a mapping",
                );
                continue;
            };
            let Some(name) = get(m, "name").and_then(Node::as_scalar) else {
                cx.err(
                    Code::LoadErrException,
                    e.pos,
                    item,
                    "exception has no mandatory key 'name'",
                );
                continue;
            };
            let one_or_many = |n: &Node| -> Option<OneOrMany> {
                match &n.kind {
                    Kind::Seq(_) => str_list(n).map(OneOrMany::Many),
                    _ => n.as_scalar().map(OneOrMany::One),
                }
            };
            let fields = get(m, "fields").map(|n| (n.pos, one_or_many(n)));
            let comps = get(m, "comps").map(|n| (n.pos, one_or_many(n)));
            for (what, opt) in [("fields", &fields), ("comps", &comps)] {
                if let Some((p, None)) = opt {
                    cx.err(
                        Code::LoadErrException,
                        *p,
                        item,
                        format!("exception '{name}': '{what}' must be a string or a sequence of strings"),
                    );
                    return;
                }
            }
            let values = match get(m, "values").map(|n| &n.kind) {
                Some(Kind::Seq(vs)) => vs.clone(),
                Some(Kind::Null) | None => Vec::new(),
                Some(_) => {
                    cx.err(
                        Code::LoadErrException,
                        e.pos,
                        item,
                        format!("exception '{name}': 'values' must be a sequence"),
                    );
                    continue;
                }
            };
            let rule = &mut self.rules[i];
            if let Some(prev) = rule.exceptions.iter_mut().find(|x| x.name == name) {
                if append {
                    if fields.is_some() || comps.is_some() {
                        cx.err(
                            Code::LoadErrException,
                            e.pos,
                            item,
                            format!("exception '{name}': can not append exception fields or comps to existing exception, only values"),
                        );
                        continue;
                    }
                    if values.is_empty() {
                        cx.warn(
                            Code::LoadWarning,
                            e.pos,
                            item,
                            format!(
                                "exception '{name}': overriding/appending exception with no values"
                            ),
                        );
                    }
                    prev.values.extend(values);
                } else {
                    cx.warn(
                        Code::LoadWarning,
                        e.pos,
                        item,
                        format!("multiple definitions of exception '{name}' in the same rule"),
                    );
                }
                continue;
            }
            if fields.is_none() {
                cx.err(
                    Code::LoadErrException,
                    e.pos,
                    item,
                    format!("exception '{name}' has no mandatory key 'fields'"),
                );
                continue;
            }
            rule.exceptions.push(ExceptionInfo {
                name,
                fields: fields.and_then(|(_, f)| f),
                comps: comps.and_then(|(_, c)| c),
                values,
                origin: Origin {
                    file: cx.file.to_string(),
                    pos: e.pos,
                },
            });
        }
    }
}
