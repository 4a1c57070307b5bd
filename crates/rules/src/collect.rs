//! Collect stage: rules-file items to definitions, applying `append` and `override`.

use std::collections::HashMap;

use crate::diag::{Code, Diagnostics, Pos};
use crate::priority::Priority;
use crate::yaml::{Kind, Node};

mod exceptions;
mod rules;

/// The engine version mamori implements the rules language of.
pub const ENGINE_VERSION: (u64, u64, u64) = (0, 63, 0);

/// Plugins whose fields mamori provides natively.
pub const NATIVE_PLUGINS: &[&str] = &["container", "k8smeta"];

/// Where an item came from.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Origin {
    /// File name.
    pub file: String,
    /// Position of the item.
    pub pos: Pos,
}

/// A collected list.
#[derive(Debug, Clone)]
pub struct ListInfo {
    /// Name.
    pub name: String,
    /// Items (not yet expanded).
    pub items: Vec<String>,
    /// Where it was (last) defined.
    pub origin: Origin,
    /// Position of the first definition among all lists, macros and rules (Falco's `index`).
    pub index: u32,
    /// Position of the last definition, append or override (Falco's `visibility`): a macro
    /// sees the macros, and a list the lists, whose `index` is lower.
    pub visibility: u32,
}

/// A collected macro.
#[derive(Debug, Clone)]
pub struct MacroInfo {
    /// Name.
    pub name: String,
    /// Condition text.
    pub condition: String,
    /// Where the condition is.
    pub cond_origin: Origin,
    /// Where it was defined.
    pub origin: Origin,
    /// Position of the first definition among all lists, macros and rules (Falco's `index`).
    pub index: u32,
    /// Position of the last definition, append or override (Falco's `visibility`): a macro
    /// sees the macros, and a list the lists, whose `index` is lower.
    pub visibility: u32,
}

/// An exception's `fields` or `comps`: scalar or list form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OneOrMany {
    /// Scalar form.
    One(String),
    /// List form.
    Many(Vec<String>),
}

/// A collected exception.
#[derive(Debug, Clone)]
pub struct ExceptionInfo {
    /// Name, unique within a rule.
    pub name: String,
    /// Fields.
    pub fields: Option<OneOrMany>,
    /// Comparison operators.
    pub comps: Option<OneOrMany>,
    /// Values (rows).
    pub values: Vec<Node>,
    /// Where it is.
    pub origin: Origin,
}

/// A collected rule.
#[derive(Debug, Clone)]
pub struct RuleInfo {
    /// Name.
    pub name: String,
    /// Condition text.
    pub condition: String,
    /// Where the condition is.
    pub cond_origin: Origin,
    /// Output format.
    pub output: String,
    /// Description.
    pub desc: String,
    /// Priority.
    pub priority: Priority,
    /// Event source.
    pub source: String,
    /// Enabled.
    pub enabled: bool,
    /// Tags.
    pub tags: Vec<String>,
    /// Exceptions.
    pub exceptions: Vec<ExceptionInfo>,
    /// Warn when the rule matches every event type.
    pub warn_evttypes: bool,
    /// Skip the rule (with a warning) when it names an unknown field.
    pub skip_if_unknown_filter: bool,
    /// Where it was defined.
    pub origin: Origin,
}

/// Everything collected from the files, in definition order.
#[derive(Debug, Default, Clone)]
pub struct Collected {
    /// Lists.
    pub lists: Vec<ListInfo>,
    /// Macros.
    pub macros: Vec<MacroInfo>,
    /// Rules.
    pub rules: Vec<RuleInfo>,
    list_idx: HashMap<String, usize>,
    macro_idx: HashMap<String, usize>,
    rule_idx: HashMap<String, usize>,
    /// Sequence number of the item being collected (lists, macros and rules share it).
    seq: u32,
}

const LIST_KEYS: &[&str] = &["list", "items", "append", "override"];
const MACRO_KEYS: &[&str] = &["macro", "condition", "append", "override"];
const RULE_KEYS: &[&str] = &[
    "rule",
    "condition",
    "output",
    "desc",
    "priority",
    "source",
    "enabled",
    "tags",
    "exceptions",
    "warn_evttypes",
    "skip-if-unknown-filter",
    "capture",
    "capture_duration",
    "append",
    "override",
];
const RULE_APPENDABLE: &[&str] = &["condition", "output", "desc", "tags", "exceptions"];
const RULE_REPLACEABLE: &[&str] = &[
    "condition",
    "output",
    "desc",
    "priority",
    "capture",
    "capture_duration",
    "tags",
    "exceptions",
    "enabled",
    "warn_evttypes",
    "skip-if-unknown-filter",
];

struct Ctx<'a> {
    file: &'a str,
    diags: &'a mut Diagnostics,
}

impl Ctx<'_> {
    fn origin(&self, pos: Pos) -> Origin {
        Origin {
            file: self.file.to_string(),
            pos,
        }
    }
    fn err(&mut self, code: Code, pos: Pos, item: &str, msg: impl Into<String>) {
        self.diags.error(code, self.file, pos, item, msg);
    }
    fn warn(&mut self, code: Code, pos: Pos, item: &str, msg: impl Into<String>) {
        self.diags.warn(code, self.file, pos, item, msg);
    }
}

fn get<'n>(map: &'n [(String, Node)], key: &str) -> Option<&'n Node> {
    map.iter().find(|(k, _)| k == key).map(|(_, v)| v)
}

fn str_list(n: &Node) -> Option<Vec<String>> {
    match &n.kind {
        Kind::Seq(items) => items.iter().map(Node::as_scalar).collect(),
        Kind::Null => Some(Vec::new()),
        _ => None,
    }
}

fn bool_of(n: &Node) -> Option<bool> {
    match &n.kind {
        Kind::Bool(b) => Some(*b),
        Kind::Str(s) if s == "true" => Some(true),
        Kind::Str(s) if s == "false" => Some(false),
        _ => None,
    }
}

fn parse_semver(s: &str) -> Option<(u64, u64, u64)> {
    let mut it = s.trim().split('.');
    let a = it.next()?.parse().ok()?;
    let b = it.next().map(str::parse).transpose().ok()?.unwrap_or(0);
    let c = it.next().map(str::parse).transpose().ok()?.unwrap_or(0);
    if it.next().is_some() {
        return None;
    }
    Some((a, b, c))
}

impl Collected {
    /// Processes one rules file's YAML documents.
    pub fn add_file(&mut self, file: &str, docs: &[Node], diags: &mut Diagnostics) {
        let mut cx = Ctx { file, diags };
        for doc in docs {
            match &doc.kind {
                Kind::Null => {}
                Kind::Seq(items) => {
                    for item in items {
                        self.add_item(&mut cx, item);
                    }
                }
                _ => cx.err(
                    Code::LoadErrYamlValidate,
                    doc.pos,
                    "",
                    "rules content is not a yaml sequence of items",
                ),
            }
        }
    }

    fn add_item(&mut self, cx: &mut Ctx<'_>, item: &Node) {
        let Kind::Map(map) = &item.kind else {
            cx.err(
                Code::LoadErrYamlValidate,
                item.pos,
                "",
                format!("unexpected {} item, expected a mapping", item.kind_name()),
            );
            return;
        };
        // Only the order of these numbers matters, so every item takes one.
        self.seq = self.seq.saturating_add(1);
        if let Some(v) = get(map, "required_engine_version") {
            self.engine_version(cx, v);
        } else if let Some(v) = get(map, "required_plugin_versions") {
            self.plugin_versions(cx, v);
        } else if get(map, "list").is_some() {
            self.list(cx, item.pos, map);
        } else if get(map, "macro").is_some() {
            self.macro_item(cx, item.pos, map);
        } else if get(map, "rule").is_some() {
            self.rule(cx, item.pos, map);
        } else {
            let keys: Vec<&str> = map.iter().map(|(k, _)| k.as_str()).collect();
            cx.warn(
                Code::LoadUnknownItem,
                item.pos,
                "",
                format!("unknown top level item with keys [{}]", keys.join(", ")),
            );
        }
    }

    fn engine_version(&mut self, cx: &mut Ctx<'_>, v: &Node) {
        let Some(text) = v.as_scalar() else {
            cx.err(
                Code::LoadErrRequiredEngineVersion,
                v.pos,
                "required_engine_version",
                "value must be a version string",
            );
            return;
        };
        if text.bytes().all(|b| b.is_ascii_digit()) {
            // Legacy integer versions are accepted (all are older than 0.x semver).
            return;
        }
        match parse_semver(&text) {
            Some(req) if req <= ENGINE_VERSION => {}
            Some(_) => cx.err(
                Code::LoadErrRequiredEngineVersion,
                v.pos,
                "required_engine_version",
                format!(
                    "rules require engine version {text}, but mamori implements {}.{}.{}",
                    ENGINE_VERSION.0, ENGINE_VERSION.1, ENGINE_VERSION.2
                ),
            ),
            None => cx.err(
                Code::LoadErrRequiredEngineVersion,
                v.pos,
                "required_engine_version",
                format!("unable to parse engine version '{text}'"),
            ),
        }
    }

    fn plugin_versions(&mut self, cx: &mut Ctx<'_>, v: &Node) {
        let Kind::Seq(items) = &v.kind else {
            cx.err(
                Code::LoadErrYamlValidate,
                v.pos,
                "required_plugin_versions",
                "value must be a sequence",
            );
            return;
        };
        for it in items {
            let Kind::Map(m) = &it.kind else {
                cx.err(
                    Code::LoadErrYamlValidate,
                    it.pos,
                    "required_plugin_versions",
                    "entry must be a mapping with name and version",
                );
                continue;
            };
            let name = get(m, "name").and_then(Node::as_scalar).unwrap_or_default();
            let mut names = vec![name.clone()];
            if let Some(Kind::Seq(alts)) = get(m, "alternatives").map(|a| &a.kind) {
                for a in alts {
                    if let Kind::Map(am) = &a.kind {
                        if let Some(n) = get(am, "name").and_then(Node::as_scalar) {
                            names.push(n);
                        }
                    }
                }
            }
            let item = format!("required_plugin_versions '{name}'");
            if let Some(native) = names.iter().find(|n| NATIVE_PLUGINS.contains(&n.as_str())) {
                cx.warn(
                    Code::LoadPluginNative,
                    it.pos,
                    &item,
                    format!(
                        "plugin '{native}' is provided natively by mamori; requirement satisfied"
                    ),
                );
            } else {
                cx.err(
                    Code::LoadErrRequiredPluginVersion,
                    it.pos,
                    &item,
                    format!("plugin '{name}' is required but not provided by mamori"),
                );
            }
        }
    }

    fn check_keys(cx: &mut Ctx<'_>, map: &[(String, Node)], allowed: &[&str], item: &str) {
        for (k, v) in map {
            if !allowed.contains(&k.as_str()) {
                cx.warn(
                    Code::LoadUnknownItem,
                    v.pos,
                    item,
                    format!("unknown key '{k}'"),
                );
            }
        }
    }

    /// Parses `override:`; returns key -> is_append, or None after an error.
    fn overrides(
        cx: &mut Ctx<'_>,
        map: &[(String, Node)],
        appendable: &[&str],
        replaceable: &[&str],
        item: &str,
        name_key: &str,
    ) -> Option<Option<Vec<(String, bool)>>> {
        let Some(ov) = get(map, "override") else {
            return Some(None);
        };
        if get(map, "append").and_then(bool_of) == Some(true) {
            cx.err(
                Code::LoadErrOverride,
                ov.pos,
                item,
                "keys 'override' and 'append: true' cannot be used together",
            );
            return None;
        }
        let Kind::Map(om) = &ov.kind else {
            cx.err(
                Code::LoadErrOverride,
                ov.pos,
                item,
                "'override' must be a mapping",
            );
            return None;
        };
        let mut out = Vec::new();
        for (k, v) in om {
            let mode = v.as_scalar().unwrap_or_default();
            let is_append = match mode.as_str() {
                "append" => true,
                "replace" => false,
                _ => {
                    cx.err(
                        Code::LoadErrOverride,
                        v.pos,
                        item,
                        format!("override for '{k}' must be 'append' or 'replace'"),
                    );
                    return None;
                }
            };
            if is_append && !appendable.contains(&k.as_str()) {
                if replaceable.contains(&k.as_str()) {
                    cx.err(
                        Code::LoadErrOverride,
                        v.pos,
                        item,
                        format!("key '{k}' cannot be appended to, use 'replace' instead"),
                    );
                } else {
                    cx.err(
                        Code::LoadErrOverride,
                        v.pos,
                        item,
                        format!("key '{k}' cannot be overridden"),
                    );
                }
                return None;
            }
            if !is_append && !replaceable.contains(&k.as_str()) {
                cx.err(
                    Code::LoadErrOverride,
                    v.pos,
                    item,
                    format!("key '{k}' cannot be replaced"),
                );
                return None;
            }
            if get(map, k).is_none() {
                cx.err(
                    Code::LoadErrOverride,
                    v.pos,
                    item,
                    format!("an override for '{k}' was specified but '{k}' is not defined"),
                );
                return None;
            }
            out.push((k.clone(), is_append));
        }
        for (k, v) in map {
            if k != name_key && k != "override" && !om.iter().any(|(ok, _)| ok == k) {
                cx.err(
                    Code::LoadErrOverride,
                    v.pos,
                    item,
                    format!(
                        "unexpected key '{k}': no corresponding entry under 'override' is defined"
                    ),
                );
                return None;
            }
        }
        Some(Some(out))
    }

    fn list(&mut self, cx: &mut Ctx<'_>, pos: Pos, map: &[(String, Node)]) {
        let Some(name) = get(map, "list").and_then(Node::as_scalar) else {
            cx.err(
                Code::LoadErrYamlValidate,
                pos,
                "list",
                "list name must be a string",
            );
            return;
        };
        let item = format!("list '{name}'");
        Self::check_keys(cx, map, LIST_KEYS, &item);
        if name.is_empty()
            || name.bytes().any(|b| {
                matches!(b, b'(' | b')' | b'"' | b'\'' | b'=' | b',') || b.is_ascii_whitespace()
            })
        {
            cx.warn(
                Code::LoadInvalidName,
                pos,
                &item,
                "list name contains invalid characters",
            );
        }
        let Some(items_node) = get(map, "items") else {
            cx.err(
                Code::LoadErrYamlValidate,
                pos,
                &item,
                "item has no mandatory key 'items'",
            );
            return;
        };
        let Some(items) = str_list(items_node) else {
            cx.err(
                Code::LoadErrYamlValidate,
                items_node.pos,
                &item,
                "'items' must be a sequence of strings",
            );
            return;
        };
        let Some(ov) = Self::overrides(cx, map, &["items"], &["items"], &item, "list") else {
            return;
        };
        let legacy_append = get(map, "append").and_then(bool_of) == Some(true);
        if legacy_append {
            cx.warn(
                Code::LoadDeprecatedAppend,
                pos,
                &item,
                "'append' key is deprecated, use 'override' instead",
            );
        }
        let append = legacy_append || ov.as_ref().is_some_and(|o| o.iter().any(|(_, a)| *a));
        match self.list_idx.get(&name).copied() {
            Some(i) if append => {
                self.lists[i].items.extend(items);
                self.lists[i].visibility = self.seq;
            }
            None if append => cx.err(
                Code::LoadErrNoPrevious,
                pos,
                &item,
                "list has 'append' but no list by that name already exists",
            ),
            Some(i) => {
                self.lists[i].items = items;
                self.lists[i].origin = cx.origin(pos);
                self.lists[i].visibility = self.seq;
            }
            None => {
                self.list_idx.insert(name.clone(), self.lists.len());
                self.lists.push(ListInfo {
                    name,
                    items,
                    origin: cx.origin(pos),
                    index: self.seq,
                    visibility: self.seq,
                });
            }
        }
    }

    fn macro_item(&mut self, cx: &mut Ctx<'_>, pos: Pos, map: &[(String, Node)]) {
        let Some(name) = get(map, "macro").and_then(Node::as_scalar) else {
            cx.err(
                Code::LoadErrYamlValidate,
                pos,
                "macro",
                "macro name must be a string",
            );
            return;
        };
        let item = format!("macro '{name}'");
        Self::check_keys(cx, map, MACRO_KEYS, &item);
        let valid = name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic())
            && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_');
        if !valid {
            cx.warn(
                Code::LoadInvalidName,
                pos,
                &item,
                "macro name should match [a-zA-Z]+[a-zA-Z0-9_]*",
            );
        }
        let Some(cnode) = get(map, "condition") else {
            cx.err(
                Code::LoadErrYamlValidate,
                pos,
                &item,
                "item has no mandatory key 'condition'",
            );
            return;
        };
        let Some(cond) = cnode.as_scalar() else {
            cx.err(
                Code::LoadErrYamlValidate,
                cnode.pos,
                &item,
                "'condition' must be a string",
            );
            return;
        };
        let Some(ov) = Self::overrides(cx, map, &["condition"], &["condition"], &item, "macro")
        else {
            return;
        };
        let legacy_append = get(map, "append").and_then(bool_of) == Some(true);
        if legacy_append {
            cx.warn(
                Code::LoadDeprecatedAppend,
                pos,
                &item,
                "'append' key is deprecated, use 'override' instead",
            );
        }
        let append = legacy_append || ov.as_ref().is_some_and(|o| o.iter().any(|(_, a)| *a));
        let cond_origin = cx.origin(cnode.pos);
        match self.macro_idx.get(&name).copied() {
            Some(i) if append => {
                let m = &mut self.macros[i];
                m.condition = format!("{} {}", m.condition.trim_end(), cond.trim());
                m.visibility = self.seq;
            }
            None if append => cx.err(
                Code::LoadErrNoPrevious,
                pos,
                &item,
                "macro has 'append' but no macro by that name already exists",
            ),
            Some(i) => {
                let m = &mut self.macros[i];
                m.condition = cond;
                m.cond_origin = cond_origin;
                m.origin = cx.origin(pos);
                m.visibility = self.seq;
            }
            None => {
                self.macro_idx.insert(name.clone(), self.macros.len());
                self.macros.push(MacroInfo {
                    name,
                    condition: cond,
                    cond_origin,
                    origin: cx.origin(pos),
                    index: self.seq,
                    visibility: self.seq,
                });
            }
        }
    }
}
