//! A small renderer for the subset of Helm templates (Go text/template + a few Sprig functions)
//! that `deploy/helm/mamori-admission` uses, because helm is not installable here (not in apt).
//! It is a test substitute, not Helm: it implements `define`/`include`, `if`/`else`/`end`,
//! `$var :=`, whitespace trimming (`{{-`/`-}}`), comments, pipelines with parentheses, and the
//! functions `quote b64enc toYaml toJson nindent indent sha256sum eq ne not int printf list dict
//! append default genCA genSignedCert`. `genCA`/`genSignedCert` return fixed placeholder PEM
//! text and `sha256sum` a placeholder digest: the test checks structure, not cryptography.
//! Anything else is an error naming the template and the construct, so a chart change that
//! needs more of Helm fails the test loudly instead of rendering wrongly.

use std::collections::HashMap;

use serde_json::{json, Map, Value};

#[derive(Debug)]
enum Node {
    Text(String),
    Action(String),
    If(String, Vec<Node>, Vec<Node>),
}

/// Splits into text and actions, applying `{{-`/`-}}` trimming and dropping comments.
fn lex(src: &str, name: &str) -> Result<Vec<(bool, String)>, String> {
    let mut out: Vec<(bool, String)> = Vec::new();
    let mut rest = src;
    let mut trim_next = false;
    while let Some(i) = rest.find("{{") {
        let mut text = rest[..i].to_string();
        if trim_next {
            text = text.trim_start().to_string();
        }
        let after = &rest[i + 2..];
        let trim_left = after.starts_with('-') && after[1..].starts_with(char::is_whitespace);
        if trim_left {
            text = text.trim_end().to_string();
        }
        out.push((false, text));
        let j = after
            .find("}}")
            .ok_or_else(|| format!("{name}: unclosed {{{{"))?;
        let mut inner = &after[..j];
        if trim_left {
            inner = &inner[1..];
        }
        trim_next = inner.ends_with('-') && inner[..inner.len() - 1].ends_with(char::is_whitespace);
        if trim_next {
            inner = &inner[..inner.len() - 1];
        }
        let inner = inner.trim();
        if !(inner.starts_with("/*") && inner.ends_with("*/")) {
            out.push((true, inner.to_string()));
        }
        rest = &after[j + 2..];
    }
    let mut text = rest.to_string();
    if trim_next {
        text = text.trim_start().to_string();
    }
    out.push((false, text));
    Ok(out)
}

/// Parses the token list into nodes, collecting `define` blocks into `defs`.
fn parse(
    toks: &mut std::iter::Peekable<std::vec::IntoIter<(bool, String)>>,
    defs: &mut HashMap<String, Vec<Node>>,
    name: &str,
    inside: bool,
) -> Result<(Vec<Node>, Option<String>), String> {
    let mut nodes = Vec::new();
    while let Some((action, s)) = toks.next() {
        if !action {
            nodes.push(Node::Text(s));
            continue;
        }
        if s == "end" || s == "else" {
            if !inside {
                return Err(format!("{name}: unexpected {s}"));
            }
            return Ok((nodes, Some(s)));
        }
        if let Some(d) = s.strip_prefix("define ") {
            let dname = d.trim().trim_matches('"').to_string();
            let (body, end) = parse(toks, defs, name, true)?;
            if end.as_deref() != Some("end") {
                return Err(format!("{name}: define {dname} without end"));
            }
            defs.insert(dname, body);
            continue;
        }
        if let Some(cond) = s.strip_prefix("if ") {
            let (then, end) = parse(toks, defs, name, true)?;
            let otherwise = match end.as_deref() {
                Some("else") => {
                    let (e, end2) = parse(toks, defs, name, true)?;
                    if end2.as_deref() != Some("end") {
                        return Err(format!("{name}: if without end"));
                    }
                    e
                }
                Some("end") => Vec::new(),
                _ => return Err(format!("{name}: if without end")),
            };
            nodes.push(Node::If(cond.trim().to_string(), then, otherwise));
            continue;
        }
        for kw in ["range ", "with ", "template ", "block "] {
            if s.starts_with(kw) {
                return Err(format!("{name}: {kw}is not supported by the test renderer"));
            }
        }
        nodes.push(Node::Action(s));
    }
    if inside {
        return Err(format!("{name}: missing end"));
    }
    Ok((nodes, None))
}

/// A chart: its named templates and each template file's nodes.
pub struct Chart {
    defs: HashMap<String, Vec<Node>>,
    files: Vec<(String, Vec<Node>)>,
}

impl Chart {
    /// Reads every file of `templates/`.
    pub fn load(dir: &std::path::Path) -> Result<Chart, String> {
        let mut defs = HashMap::new();
        let mut files = Vec::new();
        let mut paths: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        paths.sort();
        for p in paths {
            let name = p.file_name().unwrap().to_string_lossy().to_string();
            let src = std::fs::read_to_string(&p).map_err(|e| e.to_string())?;
            let toks = lex(&src, &name)?;
            let (nodes, _) = parse(&mut toks.into_iter().peekable(), &mut defs, &name, false)?;
            if !name.starts_with('_') {
                files.push((name, nodes));
            }
        }
        Ok(Chart { defs, files })
    }

    /// Renders every non-helper template with `values` and the release: (file, text).
    pub fn render(
        &self,
        values: &Value,
        release: &str,
        namespace: &str,
    ) -> Result<Vec<(String, String)>, String> {
        let dot = json!({"Values": values,
            "Release": {"Name": release, "Namespace": namespace, "Service": "Helm"},
            "Chart": {"Name": "mamori-admission", "Version": "0.1.0", "AppVersion": "0.1.0"}});
        let mut out = Vec::new();
        for (name, nodes) in &self.files {
            let mut r = Render {
                chart: self,
                vars: HashMap::new(),
                file: name,
            };
            let mut s = String::new();
            r.nodes(nodes, &dot, &mut s)?;
            out.push((name.clone(), s));
        }
        Ok(out)
    }
}

struct Render<'c> {
    chart: &'c Chart,
    vars: HashMap<String, Value>,
    file: &'c str,
}

fn truthy(v: &Value) -> bool {
    match v {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64() != Some(0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

fn text(v: &Value) -> String {
    match v {
        Value::Null => String::new(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn b64(data: &[u8]) -> String {
    const T: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16)
            | (u32::from(*c.get(1).unwrap_or(&0)) << 8)
            | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                s.push(char::from(T[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                s.push('=');
            }
        }
    }
    s
}

/// Splits on `sep` outside quotes and parentheses.
fn split_top(s: &str, sep: char) -> Vec<String> {
    let (mut out, mut cur, mut depth, mut quoted) = (Vec::new(), String::new(), 0i32, false);
    for ch in s.chars() {
        match ch {
            '"' => quoted = !quoted,
            '(' if !quoted => depth += 1,
            ')' if !quoted => depth -= 1,
            _ => {}
        }
        if ch == sep && !quoted && depth == 0 {
            out.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    out.push(cur);
    out.into_iter()
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect()
}

fn field(mut v: &Value, path: &str) -> Value {
    for part in path.split('.').filter(|p| !p.is_empty()) {
        match v.get(part) {
            Some(x) => v = x,
            None => return Value::Null,
        }
    }
    v.clone()
}

impl Render<'_> {
    fn err(&self, what: String) -> String {
        format!("{}: {what}", self.file)
    }

    fn nodes(&mut self, nodes: &[Node], dot: &Value, out: &mut String) -> Result<(), String> {
        for n in nodes {
            match n {
                Node::Text(t) => out.push_str(t),
                Node::If(cond, then, otherwise) => {
                    let v = self.pipeline(cond, dot)?;
                    let branch = if truthy(&v) { then } else { otherwise };
                    self.nodes(branch, dot, out)?;
                }
                Node::Action(a) => {
                    if let Some((var, expr)) = a.split_once(":=") {
                        let var = var.trim().to_string();
                        if !var.starts_with('$') {
                            return Err(self.err(format!("bad assignment {a}")));
                        }
                        let v = self.pipeline(expr.trim(), dot)?;
                        self.vars.insert(var, v);
                    } else {
                        let v = self.pipeline(a, dot)?;
                        out.push_str(&text(&v));
                    }
                }
            }
        }
        Ok(())
    }

    fn pipeline(&mut self, p: &str, dot: &Value) -> Result<Value, String> {
        let mut acc: Option<Value> = None;
        for cmd in split_top(p, '|') {
            let words = split_top(&cmd, ' ');
            let (head, rest) = words
                .split_first()
                .ok_or_else(|| self.err(format!("empty command in {p}")))?;
            let mut args = Vec::new();
            for w in rest {
                args.push(self.term(w, dot)?);
            }
            if let Some(prev) = acc.take() {
                args.push(prev);
            }
            let is_fn = head.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
                && head != "nil"
                && head != "true"
                && head != "false";
            acc = Some(if is_fn {
                self.call(head, args, dot)?
            } else {
                if !args.is_empty() {
                    return Err(self.err(format!("{head} takes no arguments in {p}")));
                }
                self.term(head, dot)?
            });
        }
        acc.ok_or_else(|| self.err(format!("empty pipeline {p:?}")))
    }

    fn term(&mut self, t: &str, dot: &Value) -> Result<Value, String> {
        if let Some(inner) = t.strip_prefix('(').and_then(|t| t.strip_suffix(')')) {
            return self.pipeline(inner, dot);
        }
        if let Some(s) = t.strip_prefix('"').and_then(|t| t.strip_suffix('"')) {
            return Ok(Value::String(s.replace("\\n", "\n")));
        }
        if t == "." {
            return Ok(dot.clone());
        }
        if let Some(path) = t.strip_prefix('.') {
            return Ok(field(dot, path));
        }
        if let Some(var) = t.strip_prefix('$') {
            let (name, path) = var.split_once('.').unwrap_or((var, ""));
            let v = self
                .vars
                .get(&format!("${name}"))
                .ok_or_else(|| self.err(format!("undefined variable ${name}")))?;
            return Ok(field(v, path));
        }
        match t {
            "nil" => return Ok(Value::Null),
            "true" => return Ok(Value::Bool(true)),
            "false" => return Ok(Value::Bool(false)),
            _ => {}
        }
        if let Ok(n) = t.parse::<i64>() {
            return Ok(json!(n));
        }
        // A function with no arguments used as a term.
        self.call(t, Vec::new(), dot)
    }

    fn call(&mut self, f: &str, a: Vec<Value>, _dot: &Value) -> Result<Value, String> {
        let need = |n: usize| -> Result<(), String> {
            if a.len() == n {
                Ok(())
            } else {
                Err(format!(
                    "{}: {f} wants {n} arguments, got {}",
                    self.file,
                    a.len()
                ))
            }
        };
        let num = |v: &Value| -> Result<usize, String> {
            v.as_u64()
                .map(|n| n as usize)
                .ok_or_else(|| format!("{}: {f}: not a number: {v}", self.file))
        };
        Ok(match f {
            "include" => {
                need(2)?;
                let name = text(&a[0]);
                let body = self
                    .chart
                    .defs
                    .get(&name)
                    .ok_or_else(|| self.err(format!("include of undefined {name:?}")))?;
                let mut s = String::new();
                let saved = std::mem::take(&mut self.vars);
                let r = self.nodes(body, &a[1], &mut s);
                self.vars = saved;
                r?;
                Value::String(s)
            }
            "quote" => {
                need(1)?;
                Value::String(Value::String(text(&a[0])).to_string())
            }
            "b64enc" => {
                need(1)?;
                Value::String(b64(text(&a[0]).as_bytes()))
            }
            "toYaml" => {
                need(1)?;
                let y = serde_saphyr::to_string(&a[0]).map_err(|e| self.err(e.to_string()))?;
                Value::String(y.trim_end().to_string())
            }
            "toJson" => {
                need(1)?;
                Value::String(a[0].to_string())
            }
            "nindent" | "indent" => {
                need(2)?;
                let pad = " ".repeat(num(&a[0])?);
                let body: Vec<String> = text(&a[1]).lines().map(|l| format!("{pad}{l}")).collect();
                let s = body.join("\n");
                Value::String(if f == "nindent" { format!("\n{s}") } else { s })
            }
            "sha256sum" => {
                need(1)?;
                Value::String("5eed".repeat(16))
            }
            "eq" | "ne" => {
                need(2)?;
                Value::Bool((a[0] == a[1]) == (f == "eq"))
            }
            "not" => {
                need(1)?;
                Value::Bool(!truthy(&a[0]))
            }
            "int" => {
                need(1)?;
                match &a[0] {
                    Value::Number(_) => a[0].clone(),
                    v => json!(text(v)
                        .parse::<i64>()
                        .map_err(|e| self.err(format!("int: {e}")))?),
                }
            }
            "printf" => {
                let (fmt, rest) = a
                    .split_first()
                    .ok_or_else(|| self.err("printf without format".into()))?;
                let mut s = text(fmt);
                for v in rest {
                    if !s.contains("%s") {
                        return Err(self.err("printf: only %s is supported".into()));
                    }
                    s = s.replacen("%s", &text(v), 1);
                }
                Value::String(s)
            }
            "list" => Value::Array(a),
            "dict" => {
                let mut m = Map::new();
                for kv in a.chunks(2) {
                    m.insert(text(&kv[0]), kv.get(1).cloned().unwrap_or(Value::Null));
                }
                Value::Object(m)
            }
            "append" => {
                need(2)?;
                let mut l = a[0].as_array().cloned().unwrap_or_default();
                l.push(a[1].clone());
                Value::Array(l)
            }
            "default" => {
                need(2)?;
                if truthy(&a[1]) {
                    a[1].clone()
                } else {
                    a[0].clone()
                }
            }
            "genCA" => {
                need(2)?;
                json!({"Cert": "-----BEGIN CERTIFICATE-----\nTEST-CA\n-----END CERTIFICATE-----\n",
                       "Key": "-----BEGIN RSA PRIVATE KEY-----\nTEST-CA-KEY\n-----END RSA PRIVATE KEY-----\n"})
            }
            "genSignedCert" => {
                need(5)?;
                json!({"Cert": format!("-----BEGIN CERTIFICATE-----\nTEST-LEAF {}\n-----END CERTIFICATE-----\n", text(&a[0])),
                       "Key": "-----BEGIN RSA PRIVATE KEY-----\nTEST-LEAF-KEY\n-----END RSA PRIVATE KEY-----\n"})
            }
            other => {
                return Err(self.err(format!(
                    "function {other} is not supported by the test renderer"
                )))
            }
        })
    }
}

/// Parses rendered templates into their YAML documents (empty documents skipped).
pub fn documents(rendered: &[(String, String)]) -> Result<Vec<(String, Value)>, String> {
    let mut out = Vec::new();
    for (file, text) in rendered {
        for doc in text.split("\n---") {
            let doc = doc.trim_start_matches("---");
            if doc
                .lines()
                .all(|l| l.trim().is_empty() || l.trim_start().starts_with('#'))
            {
                continue;
            }
            let v: Value = serde_saphyr::from_str(doc)
                .map_err(|e| format!("{file}: rendered YAML does not parse: {e}\n{doc}"))?;
            out.push((file.clone(), v));
        }
    }
    Ok(out)
}
