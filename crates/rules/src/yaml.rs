//! Read stage: YAML text to a small positioned tree (via `saphyr`, which keeps spans).

use saphyr::{LoadableYamlNode, MarkedYaml, Scalar, YamlData};

use crate::diag::Pos;

/// A YAML node with its position.
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// Where the node starts.
    pub pos: Pos,
    /// What it holds.
    pub kind: Kind,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum Kind {
    /// `null` or empty.
    Null,
    /// A boolean scalar.
    Bool(bool),
    /// Any other scalar, as text (numbers keep their text).
    Str(String),
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping with string keys, in document order.
    Map(Vec<(String, Node)>),
}

impl Node {
    /// The scalar text of a string, number or boolean node.
    pub fn as_scalar(&self) -> Option<String> {
        match &self.kind {
            Kind::Str(s) => Some(s.clone()),
            Kind::Bool(b) => Some(b.to_string()),
            _ => None,
        }
    }

    /// A human name of the node's kind.
    pub fn kind_name(&self) -> &'static str {
        match self.kind {
            Kind::Null => "null",
            Kind::Bool(_) => "boolean",
            Kind::Str(_) => "string",
            Kind::Seq(_) => "sequence",
            Kind::Map(_) => "mapping",
        }
    }
}

/// A YAML syntax error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    /// Where.
    pub pos: Pos,
    /// Why.
    pub message: String,
}

/// Maximum nesting of YAML nodes we convert (hostile input guard).
const MAX_NEST: usize = 256;

/// Parses YAML text into documents.
///
/// Like libyaml and yaml-cpp (which Falco uses), a closing `]` or `}` of a flow collection may
/// be indented less than the collection's content (Falco's own files do this); such lines are
/// re-indented before a retry, which does not change the document's meaning.
pub fn parse(text: &str) -> Result<Vec<Node>, YamlError> {
    let mut owned: Option<String> = None;
    let mut retries = 0usize;
    loop {
        let src = owned.as_deref().unwrap_or(text);
        match MarkedYaml::load_from_str(src) {
            Ok(docs) => return docs.iter().map(|d| convert(d, 0)).collect(),
            Err(e) => {
                let line = e.marker().line();
                let err = YamlError {
                    pos: Pos {
                        line,
                        col: e.marker().col() + 1,
                    },
                    message: e.info().to_string(),
                };
                if e.info() != "invalid indentation" || retries >= 10_000 {
                    return Err(err);
                }
                let Some(fixed) = reindent_closer(src, line) else {
                    return Err(err);
                };
                owned = Some(fixed);
                retries += 1;
            }
        }
    }
}

/// Adds two spaces before a line (1-based) that holds only a flow closer (`]`, `}`).
fn reindent_closer(src: &str, line: usize) -> Option<String> {
    let target = src.split_inclusive('\n').nth(line.checked_sub(1)?)?;
    let t = target.trim_start();
    if !(t.starts_with(']') || t.starts_with('}')) || target.len() - t.len() > 200 {
        return None;
    }
    let mut out = String::with_capacity(src.len() + 2);
    for (i, l) in src.split_inclusive('\n').enumerate() {
        if i + 1 == line {
            out.push_str("  ");
        }
        out.push_str(l);
    }
    Some(out)
}

fn pos_of(n: &MarkedYaml<'_>) -> Pos {
    Pos {
        line: n.span.start.line(),
        col: n.span.start.col() + 1,
    }
}

fn convert(n: &MarkedYaml<'_>, depth: usize) -> Result<Node, YamlError> {
    let pos = pos_of(n);
    if depth > MAX_NEST {
        return Err(YamlError {
            pos,
            message: "yaml nested too deeply".into(),
        });
    }
    let kind = match &n.data {
        YamlData::Value(s) => match s {
            Scalar::Null => Kind::Null,
            Scalar::Boolean(b) => Kind::Bool(*b),
            Scalar::Integer(i) => Kind::Str(i.to_string()),
            Scalar::FloatingPoint(f) => Kind::Str(f.to_string()),
            Scalar::String(s) => Kind::Str(s.to_string()),
        },
        YamlData::Representation(s, _, _) => Kind::Str(s.to_string()),
        YamlData::Sequence(items) => Kind::Seq(
            items
                .iter()
                .map(|i| convert(i, depth + 1))
                .collect::<Result<_, _>>()?,
        ),
        YamlData::Mapping(map) => {
            let mut out = Vec::with_capacity(map.len());
            for (k, v) in map.iter() {
                let key = match &k.data {
                    YamlData::Value(Scalar::String(s)) => s.to_string(),
                    YamlData::Value(Scalar::Integer(i)) => i.to_string(),
                    YamlData::Value(Scalar::Boolean(b)) => b.to_string(),
                    YamlData::Representation(s, _, _) => s.to_string(),
                    _ => {
                        return Err(YamlError {
                            pos: pos_of(k),
                            message: "mapping keys must be strings".into(),
                        })
                    }
                };
                out.push((key, convert(v, depth + 1)?));
            }
            Kind::Map(out)
        }
        YamlData::Tagged(_, inner) => return convert(inner, depth + 1),
        YamlData::Alias(_) => {
            return Err(YamlError {
                pos,
                message: "unresolved yaml alias".into(),
            })
        }
        YamlData::BadValue => {
            return Err(YamlError {
                pos,
                message: "invalid yaml value".into(),
            })
        }
    };
    Ok(Node { pos, kind })
}
