//! Recursive-descent parser of Falco conditions (libs `filter/parser` grammar).
//!
//! Precedence: `not` > `and` > `or`. `and`/`or` must be followed by a blank or `(`.

use crate::ast::{Check, Expr, FieldExpr, Literal, Modifier, Op, Rhs, Transformer};

/// Maximum nesting depth (libs defaults to 100, Falco raises it to 1000; 200 keeps the
/// recursive parser well inside a 2 MiB thread stack in debug builds).
pub const MAX_DEPTH: usize = 200;

/// A condition that could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message} at offset {offset}")]
pub struct ParseError {
    /// Byte offset in the condition text.
    pub offset: usize,
    /// What was expected or found.
    pub message: String,
}

/// Parses a condition.
pub fn parse_condition(text: &str) -> Result<Expr, ParseError> {
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        i: 0,
        depth: 0,
    };
    let e = p.parse_or()?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err("unexpected token after condition"));
    }
    Ok(e)
}

/// Parses a field expression (field or transformer), as used in exception `fields`.
pub fn parse_field_expr(text: &str) -> Result<FieldExpr, ParseError> {
    let mut p = Parser {
        s: text.as_bytes(),
        src: text,
        i: 0,
        depth: 0,
    };
    p.ws();
    let f = p.field_expr(true)?;
    p.ws();
    if p.i < p.s.len() {
        return Err(p.err("unexpected token after field"));
    }
    Ok(f)
}

struct Parser<'a> {
    s: &'a [u8],
    src: &'a str,
    i: usize,
    depth: usize,
}

fn is_blank(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 8)
}

fn is_ident_start(b: u8) -> bool {
    b.is_ascii_alphabetic()
}

fn is_ident_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

fn is_bare_char(b: u8) -> bool {
    !is_blank(b) && !matches!(b, b'(' | b')' | b',' | b'=' | b'"' | b'\'')
}

impl<'a> Parser<'a> {
    fn err(&self, msg: &str) -> ParseError {
        ParseError {
            offset: self.i,
            message: msg.to_string(),
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    fn ws(&mut self) {
        while self.peek().is_some_and(is_blank) {
            self.i += 1;
        }
    }

    fn enter(&mut self) -> Result<(), ParseError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(self.err(&format!("exceeded max depth limit of {MAX_DEPTH}")));
        }
        Ok(())
    }

    /// Consumes keyword `kw` if present and followed by a blank or `(`.
    fn keyword(&mut self, kw: &str) -> bool {
        let end = self.i + kw.len();
        if self.s.len() > end
            && &self.s[self.i..end] == kw.as_bytes()
            && (is_blank(self.s[end]) || self.s[end] == b'(')
        {
            self.i = end;
            true
        } else {
            false
        }
    }

    fn parse_or(&mut self) -> Result<Expr, ParseError> {
        self.enter()?;
        let mut items = vec![self.parse_and()?];
        loop {
            let save = self.i;
            self.ws();
            if self.keyword("or") {
                items.push(self.parse_and()?);
            } else {
                self.i = save;
                break;
            }
        }
        self.depth -= 1;
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new())) // ok: len is 1
        } else {
            Expr::Or(items)
        })
    }

    fn parse_and(&mut self) -> Result<Expr, ParseError> {
        let mut items = vec![self.parse_not()?];
        loop {
            let save = self.i;
            self.ws();
            if self.keyword("and") {
                items.push(self.parse_not()?);
            } else {
                self.i = save;
                break;
            }
        }
        Ok(if items.len() == 1 {
            items.pop().unwrap_or(Expr::And(Vec::new())) // ok: len is 1
        } else {
            Expr::And(items)
        })
    }

    fn parse_not(&mut self) -> Result<Expr, ParseError> {
        self.ws();
        if self.keyword("not") {
            self.enter()?;
            let inner = self.parse_not()?;
            self.depth -= 1;
            return Ok(Expr::Not(Box::new(inner)));
        }
        self.parse_check()
    }

    fn parse_check(&mut self) -> Result<Expr, ParseError> {
        self.ws();
        match self.peek() {
            None => Err(self.err("unexpected end of condition")),
            Some(b'(') => {
                self.i += 1;
                let e = self.parse_or()?;
                self.ws();
                if self.peek() != Some(b')') {
                    return Err(self.err("expected ')'"));
                }
                self.i += 1;
                Ok(e)
            }
            Some(b) if is_ident_start(b) => {
                let start = self.i;
                let name = self.dotted_name();
                if self.peek() == Some(b'(') {
                    if Transformer::from_name(name).is_some() {
                        self.i = start;
                        let lhs = self.field_expr(false)?;
                        return self.condition(lhs);
                    }
                    if name == "val" {
                        return Err(self.err("'val' cannot be used on the left-hand side"));
                    }
                    return Err(self.err(&format!("unknown transformer '{name}'")));
                }
                if name.contains('.') {
                    self.i = start;
                    let lhs = self.field_expr(false)?;
                    return self.condition(lhs);
                }
                if name.bytes().all(is_ident_char) {
                    Ok(Expr::Ident(name.to_string()))
                } else {
                    self.i = start;
                    Err(self.err("invalid identifier"))
                }
            }
            Some(_) => Err(self.err("expected a field, a macro or '('")),
        }
    }

    /// Reads `[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)*` (dots allowed, validity checked later).
    fn dotted_name(&mut self) -> &'a str {
        let start = self.i;
        while let Some(b) = self.peek() {
            if is_ident_char(b) || b == b'.' {
                self.i += 1;
            } else {
                break;
            }
        }
        &self.src[start..self.i]
    }

    /// A field (`name[arg]`) or a transformer over fields.
    fn field_expr(&mut self, allow_literal: bool) -> Result<FieldExpr, ParseError> {
        if allow_literal && matches!(self.peek(), Some(b'"' | b'\'')) {
            return Ok(FieldExpr::Literal(self.quoted()?));
        }
        let start = self.i;
        if !self.peek().is_some_and(is_ident_start) {
            return Err(self.err("expected a field name"));
        }
        let name = self.dotted_name();
        if self.peek() == Some(b'(') {
            let Some(tf) = Transformer::from_name(name) else {
                self.i = start;
                return Err(self.err(&format!("unknown transformer '{name}'")));
            };
            self.i += 1;
            self.enter()?;
            let mut args = Vec::new();
            loop {
                self.ws();
                if self.peek() == Some(b')') && args.is_empty() {
                    break;
                }
                if tf == Transformer::Join && args.len() == 1 && self.peek() == Some(b'(') {
                    // join(sep, (a, b, ...)): the list is flattened after the separator.
                    self.i += 1;
                    loop {
                        self.ws();
                        args.push(self.field_expr(true)?);
                        self.ws();
                        match self.peek() {
                            Some(b',') => self.i += 1,
                            Some(b')') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(self.err("expected ',' or ')'")),
                        }
                    }
                } else {
                    let lit_ok = matches!(tf, Transformer::Join | Transformer::Concat);
                    args.push(self.field_expr(lit_ok)?);
                }
                self.ws();
                match self.peek() {
                    Some(b',') if matches!(tf, Transformer::Join | Transformer::Concat) => {
                        self.i += 1
                    }
                    Some(b')') => break,
                    _ => return Err(self.err("expected ')'")),
                }
            }
            self.i += 1;
            self.depth -= 1;
            if args.is_empty() {
                return Err(self.err(&format!("transformer '{}' needs an argument", tf.name())));
            }
            if self.peek() == Some(b'[') {
                return Err(self.err(&format!(
                    "transformer '{}' does not support field arguments",
                    tf.name()
                )));
            }
            return Ok(FieldExpr::Transform { tf, args });
        }
        if !valid_field_name(name) {
            self.i = start;
            return Err(self.err(&format!("invalid field name '{name}'")));
        }
        let name = name.to_string();
        let arg = if self.peek() == Some(b'[') {
            self.i += 1;
            let a = match self.peek() {
                Some(b'"' | b'\'') => self.quoted()?,
                _ => {
                    let st = self.i;
                    while self
                        .peek()
                        .is_some_and(|b| !is_blank(b) && !matches!(b, b'[' | b']' | b'"' | b'\''))
                    {
                        self.i += 1;
                    }
                    if st == self.i {
                        return Err(self.err(
                            "expected a valid field argument: a quoted string or a bare string",
                        ));
                    }
                    self.src[st..self.i].to_string()
                }
            };
            if self.peek() != Some(b']') {
                return Err(self.err("expected a ']' token"));
            }
            self.i += 1;
            Some(a)
        } else {
            None
        };
        Ok(FieldExpr::Field { name, arg })
    }

    /// The operator and right-hand side after a field.
    fn condition(&mut self, lhs: FieldExpr) -> Result<Expr, ParseError> {
        self.ws();
        let op_start = self.i;
        let op = match self.peek() {
            Some(b'=') => {
                self.i += 1;
                if self.peek() == Some(b'=') {
                    self.i += 1;
                }
                Op::Eq
            }
            Some(b'!') if self.s.get(self.i + 1) == Some(&b'=') => {
                self.i += 2;
                Op::Ne
            }
            Some(b'<') | Some(b'>') => {
                let lt = self.peek() == Some(b'<');
                self.i += 1;
                let eq = self.peek() == Some(b'=');
                if eq {
                    self.i += 1;
                }
                match (lt, eq) {
                    (true, false) => Op::Lt,
                    (true, true) => Op::Le,
                    (false, false) => Op::Gt,
                    (false, true) => Op::Ge,
                }
            }
            Some(b) if b.is_ascii_lowercase() => {
                if self.s[self.i..].starts_with(b"exists") {
                    self.i += 6;
                    return Ok(check(lhs, Op::Exists, None, Rhs::None));
                }
                let st = self.i;
                while self.peek().is_some_and(|b| b.is_ascii_lowercase()) {
                    self.i += 1;
                }
                let word = &self.src[st..self.i];
                let op = Op::from_token(word).ok_or_else(|| {
                    let mut e = self.err(&format!("unknown operator '{word}'"));
                    e.offset = st;
                    e
                })?;
                let next = self.peek();
                let ok = match next {
                    Some(b) if is_blank(b) => true,
                    Some(b'(') => op.is_list_op(),
                    _ => false,
                };
                if !ok {
                    return Err(self.err(&format!("expected a blank after '{word}'")));
                }
                op
            }
            _ => return Err(self.err("expected an operator")),
        };
        self.ws();
        if op.is_list_op() {
            let rhs = self.list_rhs()?;
            return Ok(check(lhs, op, None, rhs));
        }
        // String/number operators: optional modifier.
        if !op.is_num_op() {
            for m in ["oneof", "anyof", "allof"] {
                let end = self.i + m.len();
                if self.s.len() > end
                    && &self.s[self.i..end] == m.as_bytes()
                    && (is_blank(self.s[end]) || self.s[end] == b'(')
                {
                    self.i = end;
                    self.ws();
                    let rhs = self.list_rhs()?;
                    return Ok(check(lhs, op, Modifier::from_word(m), rhs));
                }
            }
        }
        if let Some(rhs) = self.field_rhs()? {
            return Ok(check(lhs, op, None, rhs));
        }
        match self.peek() {
            None => return Err(self.err("expected a value")),
            Some(b'(') => return Err(self.err("a list needs 'in', 'intersects' or 'pmatch'")),
            _ => {}
        }
        let v = self.value()?;
        if op.is_num_op() && !v.quoted && !is_number(&v.text) {
            let mut e = self.err(&format!("expected a number, found '{}'", v.text));
            e.offset = op_start;
            return Err(e);
        }
        Ok(check(lhs, op, None, Rhs::Value(v)))
    }

    /// `val(field)` or a transformer on the right-hand side.
    fn field_rhs(&mut self) -> Result<Option<Rhs>, ParseError> {
        let start = self.i;
        if !self.peek().is_some_and(is_ident_start) {
            return Ok(None);
        }
        let name = self.dotted_name();
        if self.peek() != Some(b'(') {
            self.i = start;
            return Ok(None);
        }
        if name == "val" {
            self.i += 1;
            self.ws();
            let f = self.field_expr(false)?;
            if !matches!(f, FieldExpr::Field { .. }) {
                return Err(self.err("'val' takes a plain field"));
            }
            self.ws();
            if self.peek() != Some(b')') {
                return Err(self.err("expected ')'"));
            }
            self.i += 1;
            return Ok(Some(Rhs::Val(f)));
        }
        if Transformer::from_name(name).is_some() {
            self.i = start;
            let f = self.field_expr(false)?;
            return Ok(Some(Rhs::Transform(f)));
        }
        self.i = start;
        Ok(None)
    }

    fn list_rhs(&mut self) -> Result<Rhs, ParseError> {
        if let Some(rhs) = self.field_rhs()? {
            return Ok(rhs);
        }
        match self.peek() {
            Some(b'(') => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.peek() == Some(b')') {
                    self.i += 1;
                    return Ok(Rhs::List(items));
                }
                loop {
                    self.ws();
                    items.push(self.value()?);
                    self.ws();
                    match self.peek() {
                        Some(b',') => self.i += 1,
                        Some(b')') => {
                            self.i += 1;
                            return Ok(Rhs::List(items));
                        }
                        _ => return Err(self.err("expected ',' or ')' in list")),
                    }
                }
            }
            Some(b) if is_ident_start(b) => {
                let st = self.i;
                while self.peek().is_some_and(is_ident_char) {
                    self.i += 1;
                }
                Ok(Rhs::ListRef(self.src[st..self.i].to_string()))
            }
            _ => Err(self.err("expected a list")),
        }
    }

    fn value(&mut self) -> Result<Literal, ParseError> {
        match self.peek() {
            Some(b'"' | b'\'') => Ok(Literal {
                text: self.quoted()?,
                quoted: true,
            }),
            Some(b) if is_bare_char(b) => {
                let st = self.i;
                while self.peek().is_some_and(is_bare_char) {
                    self.i += 1;
                }
                Ok(Literal {
                    text: self.src[st..self.i].to_string(),
                    quoted: false,
                })
            }
            _ => Err(self.err("expected a value")),
        }
    }

    /// A quoted string with Falco's escapes.
    fn quoted(&mut self) -> Result<String, ParseError> {
        let q = self.s[self.i];
        let start = self.i;
        self.i += 1;
        let mut out: Vec<u8> = Vec::new();
        loop {
            let Some(b) = self.peek() else {
                self.i = start;
                return Err(self.err("unterminated quoted string"));
            };
            self.i += 1;
            if b == q {
                break;
            }
            if b != b'\\' {
                out.push(b);
                continue;
            }
            let Some(e) = self.peek() else {
                return Err(self.err("unterminated escape"));
            };
            self.i += 1;
            match e {
                b'b' => out.push(8),
                b'f' => out.push(12),
                b'n' => out.push(b'\n'),
                b'r' => out.push(b'\r'),
                b't' => out.push(b'\t'),
                b'\\' => out.push(b'\\'),
                b'/' => out.push(b'/'),
                b'"' if q == b'"' => out.push(b'"'),
                b'\'' if q == b'\'' => out.push(b'\''),
                b'x' => {
                    let h = self.s.get(self.i..self.i + 2).and_then(|h| {
                        std::str::from_utf8(h)
                            .ok()
                            .and_then(|h| u8::from_str_radix(h, 16).ok())
                    });
                    let Some(v) = h else {
                        return Err(self.err("invalid \\x escape"));
                    };
                    self.i += 2;
                    out.push(v);
                }
                b'"' | b'\'' => {
                    self.i -= 1;
                    return Err(self.err("invalid escape sequence (mixed quotes)"));
                }
                // Other escapes are kept as written: Falco's sandbox rules use `"\ "`.
                other => {
                    out.push(b'\\');
                    out.push(other);
                }
            }
        }
        String::from_utf8(out).map_err(|_| {
            let mut e = self.err("invalid utf-8 in quoted string");
            e.offset = start;
            e
        })
    }
}

fn check(lhs: FieldExpr, op: Op, modifier: Option<Modifier>, rhs: Rhs) -> Expr {
    Expr::Check(Box::new(Check {
        lhs,
        op,
        modifier,
        rhs,
    }))
}

/// `[a-zA-Z][a-zA-Z0-9_]*(\.[a-zA-Z0-9_]+)+` with each segment non-empty.
fn valid_field_name(name: &str) -> bool {
    let mut parts = name.split('.');
    let first_ok = parts
        .next()
        .is_some_and(|p| p.bytes().next().is_some_and(is_ident_start));
    first_ok && name.contains('.') && name.split('.').all(|p| !p.is_empty())
}

/// Falco's number syntax (decimal, float with exponent, or hex).
pub fn is_number(s: &str) -> bool {
    let t = s.strip_prefix(['+', '-']).unwrap_or(s);
    if let Some(h) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit());
    }
    let b = t.as_bytes();
    let mut i = 0;
    while i < b.len() && b[i].is_ascii_digit() {
        i += 1;
    }
    if i == 0 {
        return false;
    }
    if i < b.len() && b[i] == b'.' {
        i += 1;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
    }
    if i < b.len() && (b[i] == b'e' || b[i] == b'E') {
        i += 1;
        if i < b.len() && (b[i] == b'+' || b[i] == b'-') {
            i += 1;
        }
        let st = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if st == i {
            return false;
        }
    }
    i == b.len()
}
