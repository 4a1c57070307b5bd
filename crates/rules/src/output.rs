//! Output formats (`%field` substitution, `<NA>` for missing values) and the Falco JSON alert.

use mamori_core::event::Value;
use serde::Serialize;

use crate::ast::FieldExpr;
use crate::compile::{compile_lhs, Slots};
use crate::fields::{self, FieldType};
use crate::program::{parse_num, Lhs, View};

/// A compiled output format.
#[derive(Debug)]
pub(crate) struct Format {
    pieces: Vec<Piece>,
}

#[derive(Debug)]
enum Piece {
    Lit(String),
    Field {
        key: String,
        lhs: Lhs,
        ty: FieldType,
        width: Option<usize>,
    },
}

/// Output format problems.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FormatError {
    pub unknown_field: bool,
    pub message: String,
}

/// Compiles a format; `warnings` receives deprecation notes.
pub(crate) fn compile_format(
    text: &str,
    slots: &mut Slots,
    warnings: &mut Vec<String>,
) -> Result<Format, FormatError> {
    let mut pieces = Vec::new();
    let mut lit = String::new();
    let b = text.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] != b'%' {
            let ch_len = text[i..].chars().next().map_or(1, char::len_utf8);
            lit.push_str(&text[i..i + ch_len]);
            i += ch_len;
            continue;
        }
        i += 1;
        let wstart = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        let width = text[wstart..i].parse::<usize>().ok();
        let Some((expr, key, len)) = token_at(&text[i..]) else {
            return Err(FormatError {
                unknown_field: text[i..]
                    .bytes()
                    .next()
                    .is_some_and(|c| c.is_ascii_alphabetic()),
                message: format!("invalid formatting token at offset {}", wstart - 1),
            });
        };
        i += len;
        if key == "container.info" {
            warnings
                .push("%container.info is deprecated and is replaced by an empty string".into());
            continue;
        }
        let (lhs, ty) = compile_lhs(&expr, slots, None).map_err(|e| FormatError {
            unknown_field: e.unknown_field,
            message: e.message,
        })?;
        if !lit.is_empty() {
            pieces.push(Piece::Lit(std::mem::take(&mut lit)));
        }
        pieces.push(Piece::Field {
            key,
            lhs,
            ty,
            width,
        });
    }
    if !lit.is_empty() {
        pieces.push(Piece::Lit(lit));
    }
    Ok(Format { pieces })
}

/// The longest field token at the start of `s`: (expression, key as written, length).
fn token_at(s: &str) -> Option<(FieldExpr, String, usize)> {
    let b = s.as_bytes();
    // Transformer form: name(...)
    let mut j = 0;
    while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_' || b[j] == b'.') {
        j += 1;
    }
    if j < b.len() && b[j] == b'(' {
        let close = s[j..].find(')')? + j + 1;
        let text = &s[..close];
        let e = crate::parser::parse_field_expr(text).ok()?;
        return Some((e, text.to_string(), close));
    }
    // Plain field, optionally with [arg]: try the longest dotted prefix that resolves.
    let mut end = j;
    loop {
        let name = s[..end].trim_end_matches('.');
        end = name.len();
        if end == 0 {
            return None;
        }
        let mut len = end;
        let mut arg = None;
        if b.get(end) == Some(&b'[') {
            if let Some(close) = s[end..].find(']') {
                arg = Some(s[end + 1..end + close].to_string());
                len = end + close + 1;
            }
        }
        if fields::resolve(name, arg.as_deref()).is_some() {
            let e = FieldExpr::Field {
                name: name.to_string(),
                arg: arg.clone(),
            };
            return Some((e, s[..len].to_string(), len));
        }
        end = name.rfind('.')?;
    }
}

/// One rendered field of an alert.
fn rendered(val: Option<&Value>, ty: FieldType) -> (String, serde_json::Value) {
    match val {
        None => ("<NA>".to_string(), serde_json::Value::Null),
        Some(Value::Str(s)) => {
            if ty == FieldType::Num {
                if let Some(n) = parse_num(s) {
                    return (s.clone(), serde_json::Value::from(n));
                }
            }
            (s.clone(), serde_json::Value::String(s.clone()))
        }
        Some(Value::Int(i)) => (i.to_string(), serde_json::Value::from(*i)),
        Some(Value::Bool(b)) => (b.to_string(), serde_json::Value::Bool(*b)),
        Some(Value::List(l)) => {
            let s = l.join(",");
            (s.clone(), serde_json::Value::String(s))
        }
    }
}

impl Format {
    /// Renders the text and the `output_fields` map.
    pub(crate) fn render(
        &self,
        v: &View<'_>,
        fields_out: &mut serde_json::Map<String, serde_json::Value>,
    ) -> String {
        let mut out = String::new();
        for p in &self.pieces {
            match p {
                Piece::Lit(s) => out.push_str(s),
                Piece::Field {
                    key,
                    lhs,
                    ty,
                    width,
                } => {
                    let owned;
                    let val = match lhs {
                        Lhs::Slot { slot, .. } => v.get(*slot),
                        other => {
                            owned = crate::program::produce_owned(other, v);
                            owned.as_ref()
                        }
                    };
                    let (text, json) = rendered(val, *ty);
                    match width {
                        Some(w) => {
                            let t: String = text.chars().take(*w).collect();
                            out.push_str(&format!("{t:<w$}"));
                        }
                        None => out.push_str(&text),
                    }
                    fields_out.insert(key.clone(), json);
                }
            }
        }
        out
    }
}

/// A Falco-compatible JSON alert.
#[derive(Debug, Clone, PartialEq, Serialize, serde::Deserialize)]
pub struct Alert {
    /// Host name of the sensor.
    pub hostname: String,
    /// `<time>: <Priority> <rendered output>`.
    pub output: String,
    /// Values of the output's fields (numbers typed, `null` when missing).
    pub output_fields: serde_json::Map<String, serde_json::Value>,
    /// Priority name (`Warning`, ...).
    pub priority: String,
    /// Rule name.
    pub rule: String,
    /// Event source (`syscall`).
    pub source: String,
    /// Rule tags.
    pub tags: Vec<String>,
    /// RFC 3339 UTC time with nanoseconds.
    pub time: String,
    /// mamori's runtime-policy decisions only: `detect` or `block` (absent from rule alerts, so
    /// they stay byte-compatible with Falco's JSON).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

/// Formats nanoseconds since the epoch as `2016-08-04T16:17:57.881781397Z`.
pub fn rfc3339_nanos(ns: u64) -> String {
    let secs = i64::try_from(ns / 1_000_000_000).unwrap_or(i64::MAX);
    let nanos = ns % 1_000_000_000;
    match time::OffsetDateTime::from_unix_timestamp(secs) {
        Ok(t) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:09}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second(),
            nanos
        ),
        Err(_) => "1970-01-01T00:00:00.000000000Z".to_string(),
    }
}

/// Falco's `%evt.time`: `HH:MM:SS.nnnnnnnnn` (UTC here).
pub fn evt_time(ns: u64) -> String {
    let secs = ns / 1_000_000_000;
    format!(
        "{:02}:{:02}:{:02}.{:09}",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60,
        ns % 1_000_000_000
    )
}
