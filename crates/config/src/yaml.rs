//! Bounded YAML reader: multi-document streams into [`Node`] trees with positions.
//!
//! Built on the `saphyr-parser` event stream so that every limit is enforced while reading:
//! nesting depth, total node count including alias expansion (YAML "billion laughs" bombs), and
//! document count. Input size is capped by the caller ([`crate::Limits::max_bytes`]).

use std::collections::HashMap;

use saphyr_parser::{Event, Marker, Parser, ScalarStyle, Tag};

use crate::node::{Node, Pos, Value};
use crate::{Limits, ReadError};

enum Frame {
    Seq {
        items: Vec<Node>,
        pos: Pos,
        tag: Option<String>,
        anchor: usize,
    },
    Map {
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
        pos: Pos,
        tag: Option<String>,
        anchor: usize,
    },
}

fn pos_of(m: &Marker) -> Pos {
    Pos {
        line: u32::try_from(m.line()).unwrap_or(u32::MAX),
        col: u32::try_from(m.col() + 1).unwrap_or(u32::MAX),
    }
}

fn tag_name(tag: Option<&Tag>) -> Option<String> {
    let tag = tag?;
    if tag.handle == "tag:yaml.org,2002:" || tag.handle == "!!" {
        return None;
    }
    if tag.handle == "!" {
        Some(tag.suffix.clone())
    } else {
        Some(format!("{}{}", tag.handle, tag.suffix))
    }
}

struct Builder<'l> {
    limits: &'l Limits,
    stack: Vec<Frame>,
    anchors: HashMap<usize, Node>,
    docs: Vec<Node>,
    nodes: usize,
}

impl Builder<'_> {
    fn count(&mut self, n: usize, pos: Pos) -> Result<(), ReadError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > self.limits.max_nodes {
            return Err(ReadError::new(
                pos,
                format!(
                    "document too large: more than {} nodes (alias expansion included)",
                    self.limits.max_nodes
                ),
            ));
        }
        Ok(())
    }

    fn open(&mut self, frame: Frame, pos: Pos) -> Result<(), ReadError> {
        if self.stack.len() >= self.limits.max_depth {
            return Err(ReadError::new(
                pos,
                format!("nesting deeper than {} levels", self.limits.max_depth),
            ));
        }
        self.count(1, pos)?;
        self.stack.push(frame);
        Ok(())
    }

    fn finish(&mut self, node: Node, anchor: usize) {
        if anchor > 0 {
            self.anchors.insert(anchor, node.clone());
        }
        match self.stack.last_mut() {
            None => self.docs.push(node),
            Some(Frame::Seq { items, .. }) => items.push(node),
            Some(Frame::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => entries.push((k, node)),
            },
        }
    }

    fn close(&mut self) {
        match self.stack.pop() {
            Some(Frame::Seq {
                items,
                pos,
                tag,
                anchor,
            }) => self.finish(
                Node {
                    value: Value::Seq(items),
                    pos,
                    tag,
                },
                anchor,
            ),
            Some(Frame::Map {
                entries,
                pos,
                tag,
                anchor,
                ..
            }) => self.finish(
                Node {
                    value: Value::Map(entries),
                    pos,
                    tag,
                },
                anchor,
            ),
            None => {}
        }
    }
}

/// Reads every document of a YAML stream.
pub fn read_yaml(text: &str, limits: &Limits) -> Result<Vec<Node>, ReadError> {
    let mut b = Builder {
        limits,
        stack: Vec::new(),
        anchors: HashMap::new(),
        docs: Vec::new(),
        nodes: 0,
    };
    let mut parser = Parser::new_from_str(text);
    while let Some(next) = parser.next_event() {
        let (event, span) = next.map_err(|e| ReadError::new(pos_of(e.marker()), e.info()))?;
        let pos = pos_of(&span.start);
        match event {
            Event::StreamStart | Event::StreamEnd | Event::Nothing | Event::DocumentEnd => {}
            Event::DocumentStart(_) => {
                b.anchors.clear();
                if b.docs.len() >= limits.max_documents {
                    return Err(ReadError::new(
                        pos,
                        format!("more than {} documents", limits.max_documents),
                    ));
                }
            }
            Event::Alias(id) => {
                let node = b.anchors.get(&id).cloned().ok_or_else(|| {
                    ReadError::new(pos, "alias refers to an unknown anchor".to_string())
                })?;
                b.count(node.size(), pos)?;
                b.finish(node, 0);
            }
            Event::Scalar(text, style, anchor, tag) => {
                b.count(1, pos)?;
                let tag = tag_name(tag.as_deref());
                let plain = matches!(style, ScalarStyle::Plain);
                let value = if plain
                    && tag.is_none()
                    && matches!(&*text, "" | "~" | "null" | "Null" | "NULL")
                {
                    Value::Null
                } else {
                    Value::Scalar(text.into_owned(), !plain)
                };
                b.finish(Node { value, pos, tag }, anchor);
            }
            Event::SequenceStart(anchor, tag) => {
                let frame = Frame::Seq {
                    items: Vec::new(),
                    pos,
                    tag: tag_name(tag.as_deref()),
                    anchor,
                };
                b.open(frame, pos)?;
            }
            Event::MappingStart(anchor, tag) => {
                let frame = Frame::Map {
                    entries: Vec::new(),
                    key: None,
                    pos,
                    tag: tag_name(tag.as_deref()),
                    anchor,
                };
                b.open(frame, pos)?;
            }
            Event::SequenceEnd | Event::MappingEnd => b.close(),
        }
    }
    Ok(b.docs)
}

/// Blanks out (keeping every line break, so positions stay right) the documents of a stream
/// whose top-level `kind:` is `CustomResourceDefinition`: no check reads CRD schemas, and they
/// are most of the bytes of real manifests (0.5–0.8 MB each). Returns the text to parse and the
/// number of documents blanked.
pub fn blank_crds(text: &str) -> (std::borrow::Cow<'_, str>, usize) {
    const CRD: &str = "kind: CustomResourceDefinition";
    if !text.contains(CRD) {
        return (std::borrow::Cow::Borrowed(text), 0);
    }
    let mut out = String::with_capacity(text.len());
    let mut blanked = 0;
    let mut doc = String::new();
    let mut flush = |doc: &mut String, out: &mut String| {
        let is_crd = doc
            .lines()
            .any(|l| l.trim_end() == CRD || l.starts_with("kind: \"CustomResourceDefinition\""));
        if is_crd {
            blanked += 1;
            out.extend(doc.chars().filter(|c| *c == '\n'));
        } else {
            out.push_str(doc);
        }
        doc.clear();
    };
    for line in text.split_inclusive('\n') {
        if line.starts_with("---") || line.starts_with("...") {
            flush(&mut doc, &mut out);
            out.push_str(line);
        } else {
            doc.push_str(line);
        }
    }
    flush(&mut doc, &mut out);
    (std::borrow::Cow::Owned(out), blanked)
}

/// Most lines [`read_yaml_lenient`] will re-indent before giving up.
const MAX_RELAXED_LINES: usize = 64;

/// Like [`read_yaml`], but accepts the under-indented flow collections and quoted scalars that
/// PyYAML (and so CloudFormation tooling) accepts, e.g. a closing `}` at the indentation of its
/// key. Each offending line gets one more leading space and the text is read again; the lines
/// changed are returned so that the caller can warn. Other errors are returned unchanged.
pub fn read_yaml_lenient(text: &str, limits: &Limits) -> Result<(Vec<Node>, Vec<u32>), ReadError> {
    let mut relaxed: Vec<u32> = Vec::new();
    let mut owned: Option<String> = None;
    loop {
        let current = owned.as_deref().unwrap_or(text);
        match read_yaml(current, limits) {
            Ok(docs) => return Ok((docs, relaxed)),
            Err(e) => {
                // A quoted scalar is reported at its first line: its continuation lines are the
                // under-indented ones, so re-indent the first one not yet re-indented.
                let target = if e.message.contains("quoted scalar") {
                    let mut t = e.pos.line.saturating_add(1);
                    while relaxed.contains(&t) {
                        t = t.saturating_add(1);
                    }
                    t
                } else {
                    e.pos.line
                };
                let fixable = e.message.contains("invalid indentation")
                    && relaxed.len() < MAX_RELAXED_LINES
                    && !relaxed.contains(&target)
                    && target >= 1;
                let line_idx = usize::try_from(target)
                    .unwrap_or(usize::MAX)
                    .saturating_sub(1);
                let Some(start) = fixable.then(|| line_start(current, line_idx)).flatten() else {
                    return Err(e);
                };
                let mut next = String::with_capacity(current.len() + 1);
                next.push_str(&current[..start]);
                next.push(' ');
                next.push_str(&current[start..]);
                relaxed.push(target);
                owned = Some(next);
            }
        }
    }
}

/// Byte offset of the start of line `idx` (0-based).
fn line_start(text: &str, idx: usize) -> Option<usize> {
    if idx == 0 {
        return Some(0);
    }
    text.match_indices('\n').nth(idx - 1).map(|(i, _)| i + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> Result<Vec<Node>, ReadError> {
        read_yaml(text, &Limits::default())
    }

    #[test]
    fn multi_document_with_positions() {
        let docs = read("a: 1\n---\nkind: Pod\nmetadata:\n  name: x\n").unwrap();
        assert_eq!(docs.len(), 2);
        let name = docs[1].path(&["metadata", "name"]).unwrap();
        assert_eq!(name.as_str(), Some("x"));
        assert_eq!(name.pos, Pos { line: 5, col: 9 });
    }

    #[test]
    fn short_form_tags_are_kept() {
        let docs = read("A: !Ref Foo\nB: !GetAtt X.Arn\nC: !If [c, a, b]\n").unwrap();
        let a = docs[0].get("A").unwrap();
        assert_eq!(a.tag.as_deref(), Some("Ref"));
        assert_eq!(a.scalar_text(), Some("Foo"));
        assert_eq!(docs[0].get("C").unwrap().items().len(), 3);
    }

    #[test]
    fn syntax_error_has_position() {
        let err = read("a: [1, 2\nb: c\n").unwrap_err();
        assert!(err.pos.line >= 1, "{err}");
    }

    #[test]
    fn alias_bomb_is_bounded() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for i in 1..12 {
            let prev = i - 1;
            text.push_str(&format!(
                "a{i}: &a{i} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let err = read(&text).unwrap_err();
        assert!(err.message.contains("nodes"), "{err}");
    }

    #[test]
    fn depth_is_bounded() {
        let text = "[".repeat(10_000);
        let err = read(&text).unwrap_err();
        assert!(err.message.contains("nesting") || !err.message.is_empty());
    }

    #[test]
    fn lenient_reading_of_under_indented_flow() {
        let text =
            "Resources:\n  K:\n    Policy: {\n      \"a\": 1\n    }\n  B:\n    D: \"x\n    y\"\n";
        assert!(read(text).is_err());
        let (docs, relaxed) = read_yaml_lenient(text, &Limits::default()).unwrap();
        assert!(!relaxed.is_empty());
        assert_eq!(
            docs[0]
                .path(&["Resources", "K", "Policy", "a"])
                .and_then(Node::as_i64),
            Some(1)
        );
        assert!(read_yaml_lenient("a: [1\nb: c\n", &Limits::default()).is_err());
    }

    #[test]
    fn crd_documents_are_blanked_keeping_lines() {
        let text = "kind: CustomResourceDefinition\nspec: {a: [1\n---\nkind: Service\nmetadata: {name: s}\n";
        let (t, n) = blank_crds(text);
        assert_eq!(n, 1);
        let docs = read(&t).unwrap();
        let svc = docs.iter().find(|d| d.get("kind").is_some()).unwrap();
        assert_eq!(svc.get("kind").unwrap().pos.line, 4);
    }

    #[test]
    fn nulls_and_quoted_scalars() {
        let docs = read("a:\nb: ~\nc: \"true\"\n").unwrap();
        assert_eq!(docs[0].get("a").unwrap().value, Value::Null);
        assert_eq!(docs[0].get("c").unwrap().as_str(), Some("true"));
    }
}
