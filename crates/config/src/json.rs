//! Bounded JSON reader into [`Node`] trees with the position of every value.
//!
//! A small recursive-descent parser (RFC 8259) because `serde_json` does not keep positions.
//! Depth and node count are bounded by [`Limits`].

use crate::node::{Node, Pos, Value};
use crate::{Limits, ReadError};

struct Reader<'a> {
    chars: std::iter::Peekable<std::str::Chars<'a>>,
    line: u32,
    col: u32,
    nodes: usize,
    limits: &'a Limits,
}

impl Reader<'_> {
    fn pos(&self) -> Pos {
        Pos {
            line: self.line,
            col: self.col,
        }
    }

    fn err(&self, message: impl Into<String>) -> ReadError {
        ReadError::new(self.pos(), message.into())
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.chars.next()?;
        if c == '\n' {
            self.line += 1;
            self.col = 1;
        } else {
            self.col += 1;
        }
        Some(c)
    }

    fn skip_ws(&mut self) {
        while let Some(&c) = self.chars.peek() {
            if matches!(c, ' ' | '\t' | '\n' | '\r' | '\u{feff}') {
                self.bump();
            } else {
                break;
            }
        }
    }

    fn expect(&mut self, want: char) -> Result<(), ReadError> {
        self.skip_ws();
        match self.chars.peek() {
            Some(&c) if c == want => {
                self.bump();
                Ok(())
            }
            Some(&c) => Err(self.err(format!("expected '{want}', found '{c}'"))),
            None => Err(self.err(format!("expected '{want}', found end of input"))),
        }
    }

    fn value(&mut self, depth: usize) -> Result<Node, ReadError> {
        self.skip_ws();
        if depth > self.limits.max_depth {
            return Err(self.err(format!(
                "nesting deeper than {} levels",
                self.limits.max_depth
            )));
        }
        self.nodes += 1;
        if self.nodes > self.limits.max_nodes {
            return Err(self.err(format!("more than {} values", self.limits.max_nodes)));
        }
        let pos = self.pos();
        let value = match self.chars.peek().copied() {
            None => return Err(self.err("unexpected end of input")),
            Some('{') => {
                self.bump();
                let mut entries = Vec::new();
                self.skip_ws();
                if self.chars.peek() == Some(&'}') {
                    self.bump();
                } else {
                    loop {
                        self.skip_ws();
                        let kpos = self.pos();
                        if self.chars.peek() != Some(&'"') {
                            return Err(self.err("expected a string key"));
                        }
                        let key = Node::new(Value::Scalar(self.string()?, true), kpos);
                        self.expect(':')?;
                        let v = self.value(depth + 1)?;
                        entries.push((key, v));
                        self.skip_ws();
                        match self.bump() {
                            Some(',') => continue,
                            Some('}') => break,
                            _ => return Err(self.err("expected ',' or '}' in object")),
                        }
                    }
                }
                Value::Map(entries)
            }
            Some('[') => {
                self.bump();
                let mut items = Vec::new();
                self.skip_ws();
                if self.chars.peek() == Some(&']') {
                    self.bump();
                } else {
                    loop {
                        items.push(self.value(depth + 1)?);
                        self.skip_ws();
                        match self.bump() {
                            Some(',') => continue,
                            Some(']') => break,
                            _ => return Err(self.err("expected ',' or ']' in array")),
                        }
                    }
                }
                Value::Seq(items)
            }
            Some('"') => Value::Scalar(self.string()?, true),
            Some(_) => {
                let mut word = String::new();
                while let Some(&c) = self.chars.peek() {
                    if c.is_ascii_alphanumeric() || matches!(c, '-' | '+' | '.') {
                        word.push(c);
                        self.bump();
                    } else {
                        break;
                    }
                }
                match word.as_str() {
                    "null" => Value::Null,
                    "true" | "false" => Value::Scalar(word, false),
                    w if !w.is_empty() && w.parse::<f64>().is_ok() => Value::Scalar(word, false),
                    _ => return Err(ReadError::new(pos, "invalid JSON value".to_string())),
                }
            }
        };
        Ok(Node::new(value, pos))
    }

    fn string(&mut self) -> Result<String, ReadError> {
        self.bump(); // the opening quote
        let mut out = String::new();
        loop {
            match self.bump() {
                None => return Err(self.err("unterminated string")),
                Some('"') => return Ok(out),
                Some('\\') => match self.bump() {
                    Some('n') => out.push('\n'),
                    Some('t') => out.push('\t'),
                    Some('r') => out.push('\r'),
                    Some('b') => out.push('\u{8}'),
                    Some('f') => out.push('\u{c}'),
                    Some('u') => {
                        let mut code = 0u32;
                        for _ in 0..4 {
                            let d = self
                                .bump()
                                .and_then(|c| c.to_digit(16))
                                .ok_or_else(|| self.err("invalid \\u escape"))?;
                            code = code * 16 + d;
                        }
                        out.push(char::from_u32(code).unwrap_or('\u{fffd}'));
                    }
                    Some(c @ ('"' | '\\' | '/')) => out.push(c),
                    _ => return Err(self.err("invalid escape in string")),
                },
                Some(c) => out.push(c),
            }
        }
    }
}

/// Reads one JSON document.
pub fn read_json(text: &str, limits: &Limits) -> Result<Node, ReadError> {
    let mut r = Reader {
        chars: text.chars().peekable(),
        line: 1,
        col: 1,
        nodes: 0,
        limits,
    };
    let node = r.value(0)?;
    r.skip_ws();
    if r.chars.peek().is_some() {
        return Err(r.err("trailing characters after the JSON value"));
    }
    Ok(node)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_of_values() {
        let n = read_json(
            "{\n  \"a\": [1, \"x\"],\n  \"b\": {\"c\": true}\n}",
            &Limits::default(),
        )
        .unwrap();
        let a = n.get("a").unwrap();
        assert_eq!(a.pos, Pos { line: 2, col: 8 });
        assert_eq!(a.items()[1].as_str(), Some("x"));
        assert_eq!(n.path(&["b", "c"]).and_then(Node::as_bool), Some(true));
    }

    #[test]
    fn errors_have_positions() {
        let e = read_json("{\n  \"a\": tru\n}", &Limits::default()).unwrap_err();
        assert_eq!(e.pos.line, 2);
        let e = read_json("{\"a\": 1,}", &Limits::default()).unwrap_err();
        assert!(e.message.contains("string key"), "{e}");
        assert!(read_json("[1] x", &Limits::default()).is_err());
    }

    #[test]
    fn depth_is_bounded() {
        let text = "[".repeat(100_000);
        let e = read_json(&text, &Limits::default()).unwrap_err();
        assert!(e.message.contains("nesting"), "{e}");
    }
}
