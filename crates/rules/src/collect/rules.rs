//! Collecting `rule` items: definitions, `append`, `override`, standalone `enabled`.

use super::{
    bool_of, get, str_list, Collected, Ctx, RuleInfo, RULE_APPENDABLE, RULE_KEYS, RULE_REPLACEABLE,
};
use crate::diag::{Code, Pos};
use crate::priority::Priority;
use crate::yaml::Node;

impl Collected {
    pub(super) fn rule(&mut self, cx: &mut Ctx<'_>, pos: Pos, map: &[(String, Node)]) {
        let Some(name) = get(map, "rule").and_then(Node::as_scalar) else {
            cx.err(
                Code::LoadErrYamlValidate,
                pos,
                "rule",
                "rule name must be a string",
            );
            return;
        };
        let item = format!("rule '{name}'");
        Self::check_keys(cx, map, RULE_KEYS, &item);
        let Some(ov) = Self::overrides(cx, map, RULE_APPENDABLE, RULE_REPLACEABLE, &item, "rule")
        else {
            return;
        };
        let legacy_append = get(map, "append").and_then(bool_of) == Some(true);
        let existing = self.rule_idx.get(&name).copied();
        if let Some(ov) = ov {
            let Some(i) = existing else {
                cx.err(
                    Code::LoadErrNoPrevious,
                    pos,
                    &item,
                    "rule has 'override' but no rule by that name already exists",
                );
                return;
            };
            for (key, is_append) in ov {
                let Some(v) = get(map, &key) else { continue };
                self.apply_rule_key(cx, i, &key, v, is_append, &item);
            }
            return;
        }
        if legacy_append {
            cx.warn(
                Code::LoadDeprecatedAppend,
                pos,
                &item,
                "'append' key is deprecated, use 'override' instead",
            );
            let Some(i) = existing else {
                cx.err(
                    Code::LoadErrNoPrevious,
                    pos,
                    &item,
                    "rule has 'append' but no rule by that name already exists",
                );
                return;
            };
            for (key, v) in map {
                if RULE_APPENDABLE.contains(&key.as_str()) {
                    self.apply_rule_key(cx, i, key, v, true, &item);
                } else if !matches!(key.as_str(), "rule" | "append" | "enabled") {
                    cx.err(
                        Code::LoadErrOverride,
                        v.pos,
                        &item,
                        format!("key '{key}' cannot be appended to"),
                    );
                }
            }
            return;
        }
        let mandatory = ["condition", "output", "desc", "priority"];
        let has_any = mandatory.iter().any(|k| get(map, k).is_some());
        if !has_any {
            if let Some(en) = get(map, "enabled") {
                cx.warn(
                    Code::LoadDeprecatedEnabled,
                    pos,
                    &item,
                    "standalone 'enabled' is deprecated, use 'override: {enabled: replace}'",
                );
                match existing {
                    Some(i) => self.apply_rule_key(cx, i, "enabled", en, false, &item),
                    None => cx.err(
                        Code::LoadErrNoPrevious,
                        pos,
                        &item,
                        "rule has 'enabled' but no rule by that name already exists",
                    ),
                }
                return;
            }
        }
        for k in mandatory {
            if get(map, k).is_none() {
                cx.err(
                    Code::LoadErrYamlValidate,
                    pos,
                    &item,
                    format!("item has no mandatory key '{k}'"),
                );
                return;
            }
        }
        let mut rule = RuleInfo {
            name: name.clone(),
            condition: String::new(),
            cond_origin: cx.origin(pos),
            output: String::new(),
            desc: String::new(),
            priority: Priority::Debug,
            source: "syscall".into(),
            enabled: true,
            tags: Vec::new(),
            exceptions: Vec::new(),
            warn_evttypes: true,
            skip_if_unknown_filter: false,
            origin: cx.origin(pos),
        };
        let idx = match existing {
            Some(i) => i,
            None => self.rules.len(),
        };
        if existing.is_none() {
            self.rules.push(rule.clone());
            self.rule_idx.insert(name, idx);
        }
        for (key, v) in map {
            if key == "rule" {
                continue;
            }
            if key == "source" {
                match v.as_scalar() {
                    Some(s) => rule.source = s,
                    None => cx.err(
                        Code::LoadErrYamlValidate,
                        v.pos,
                        &item,
                        "'source' must be a string",
                    ),
                }
            }
        }
        self.rules[idx] = rule;
        for (key, v) in map {
            if !matches!(key.as_str(), "rule" | "source" | "append") {
                self.apply_rule_key(cx, idx, key, v, false, &item);
            }
        }
    }

    fn apply_rule_key(
        &mut self,
        cx: &mut Ctx<'_>,
        i: usize,
        key: &str,
        v: &Node,
        append: bool,
        item: &str,
    ) {
        let text = |cx: &mut Ctx<'_>| -> Option<String> {
            let t = v.as_scalar();
            if t.is_none() {
                cx.err(
                    Code::LoadErrYamlValidate,
                    v.pos,
                    item,
                    format!("'{key}' must be a string"),
                );
            }
            t
        };
        let boolean = |cx: &mut Ctx<'_>| -> Option<bool> {
            let b = bool_of(v);
            if b.is_none() {
                cx.err(
                    Code::LoadErrYamlValidate,
                    v.pos,
                    item,
                    format!("'{key}' must be a boolean"),
                );
            }
            b
        };
        match key {
            "condition" | "output" | "desc" => {
                let Some(t) = text(cx) else { return };
                let origin = cx.origin(v.pos);
                let r = &mut self.rules[i];
                let slot = match key {
                    "condition" => {
                        if !append {
                            r.cond_origin = origin;
                        }
                        &mut r.condition
                    }
                    "output" => &mut r.output,
                    _ => &mut r.desc,
                };
                if append {
                    *slot = format!("{} {}", slot.trim_end(), t.trim());
                } else {
                    *slot = t.trim().to_string();
                }
            }
            "priority" => {
                let Some(t) = text(cx) else { return };
                match t.parse::<Priority>() {
                    Ok(p) => self.rules[i].priority = p,
                    Err(e) => cx.err(Code::LoadErrYamlValidate, v.pos, item, e.to_string()),
                }
            }
            "enabled" => {
                if let Some(b) = boolean(cx) {
                    self.rules[i].enabled = b;
                }
            }
            "warn_evttypes" => {
                if let Some(b) = boolean(cx) {
                    self.rules[i].warn_evttypes = b;
                }
            }
            "skip-if-unknown-filter" => {
                if let Some(b) = boolean(cx) {
                    self.rules[i].skip_if_unknown_filter = b;
                }
            }
            "capture" => {
                let _ = boolean(cx);
            }
            "capture_duration" => {}
            "tags" => {
                let Some(tags) = str_list(v) else {
                    cx.err(
                        Code::LoadErrYamlValidate,
                        v.pos,
                        item,
                        "'tags' must be a sequence of strings",
                    );
                    return;
                };
                let r = &mut self.rules[i];
                if append {
                    for t in tags {
                        if !r.tags.contains(&t) {
                            r.tags.push(t);
                        }
                    }
                } else {
                    r.tags = tags;
                }
            }
            "exceptions" => self.exceptions(cx, i, v, append, item),
            _ => {}
        }
    }
}
