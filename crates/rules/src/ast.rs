//! Syntax tree of a Falco condition, and a printer whose output parses back to the same tree.

use std::fmt;

/// A boolean condition.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Expr {
    /// All must hold (two or more children).
    And(Vec<Expr>),
    /// One must hold (two or more children).
    Or(Vec<Expr>),
    /// Negation.
    Not(Box<Expr>),
    /// A bare identifier: a macro reference.
    Ident(String),
    /// A field comparison.
    Check(Box<Check>),
}

/// `lhs op rhs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The left-hand side: a field, maybe transformed.
    pub lhs: FieldExpr,
    /// The operator.
    pub op: Op,
    /// `oneof`/`anyof`/`allof` after a string operator.
    pub modifier: Option<Modifier>,
    /// The right-hand side.
    pub rhs: Rhs,
}

/// A field reference, maybe wrapped in transformers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FieldExpr {
    /// `name` or `name[arg]`.
    Field {
        /// Dotted field name as written (`proc.aname`, `evt.arg.flags`).
        name: String,
        /// Bracketed argument, if any.
        arg: Option<String>,
    },
    /// `tf(args...)`.
    Transform {
        /// Which transformer.
        tf: Transformer,
        /// Arguments: fields, or string literals for `join`/`concat`.
        args: Vec<FieldExpr>,
    },
    /// A string literal (only as an argument of `join`/`concat`).
    Literal(String),
}

/// Field transformers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transformer {
    /// Lowercase.
    ToLower,
    /// Uppercase.
    ToUpper,
    /// Base64 decode.
    B64,
    /// Last path component.
    Basename,
    /// Length.
    Len,
    /// Concatenate arguments.
    Concat,
    /// Join arguments with a separator (first argument).
    Join,
}

impl Transformer {
    /// Parses a transformer name.
    pub fn from_name(s: &str) -> Option<Self> {
        Some(match s {
            "tolower" => Transformer::ToLower,
            "toupper" => Transformer::ToUpper,
            "b64" => Transformer::B64,
            "basename" => Transformer::Basename,
            "len" => Transformer::Len,
            "concat" => Transformer::Concat,
            "join" => Transformer::Join,
            _ => return None,
        })
    }

    /// The name as written in conditions.
    pub fn name(self) -> &'static str {
        match self {
            Transformer::ToLower => "tolower",
            Transformer::ToUpper => "toupper",
            Transformer::B64 => "b64",
            Transformer::Basename => "basename",
            Transformer::Len => "len",
            Transformer::Concat => "concat",
            Transformer::Join => "join",
        }
    }
}

/// Comparison operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Op {
    /// `=` / `==`.
    Eq,
    /// `!=`.
    Ne,
    /// `<`.
    Lt,
    /// `<=`.
    Le,
    /// `>`.
    Gt,
    /// `>=`.
    Ge,
    /// `contains`.
    Contains,
    /// `icontains`.
    IContains,
    /// `bcontains`.
    BContains,
    /// `startswith`.
    StartsWith,
    /// `bstartswith`.
    BStartsWith,
    /// `endswith`.
    EndsWith,
    /// `glob`.
    Glob,
    /// `iglob`.
    IGlob,
    /// `regex`.
    Regex,
    /// `in`.
    In,
    /// `intersects`.
    Intersects,
    /// `pmatch`.
    Pmatch,
    /// `exists`.
    Exists,
}

impl Op {
    /// Parses an operator token (`exists` included).
    pub fn from_token(s: &str) -> Option<Self> {
        Some(match s {
            "=" | "==" => Op::Eq,
            "!=" => Op::Ne,
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "contains" => Op::Contains,
            "icontains" => Op::IContains,
            "bcontains" => Op::BContains,
            "startswith" => Op::StartsWith,
            "bstartswith" => Op::BStartsWith,
            "endswith" => Op::EndsWith,
            "glob" => Op::Glob,
            "iglob" => Op::IGlob,
            "regex" => Op::Regex,
            "in" => Op::In,
            "intersects" => Op::Intersects,
            "pmatch" => Op::Pmatch,
            "exists" => Op::Exists,
            _ => return None,
        })
    }

    /// The canonical token.
    pub fn token(self) -> &'static str {
        match self {
            Op::Eq => "=",
            Op::Ne => "!=",
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Contains => "contains",
            Op::IContains => "icontains",
            Op::BContains => "bcontains",
            Op::StartsWith => "startswith",
            Op::BStartsWith => "bstartswith",
            Op::EndsWith => "endswith",
            Op::Glob => "glob",
            Op::IGlob => "iglob",
            Op::Regex => "regex",
            Op::In => "in",
            Op::Intersects => "intersects",
            Op::Pmatch => "pmatch",
            Op::Exists => "exists",
        }
    }

    /// Operators that take a list.
    pub fn is_list_op(self) -> bool {
        matches!(self, Op::In | Op::Intersects | Op::Pmatch)
    }

    /// Numeric ordering operators.
    pub fn is_num_op(self) -> bool {
        matches!(self, Op::Lt | Op::Le | Op::Gt | Op::Ge)
    }
}

/// `oneof` / `anyof` / `allof` list modifiers of string operators.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Modifier {
    /// Exactly one element matches.
    OneOf,
    /// At least one element matches.
    AnyOf,
    /// Every element matches.
    AllOf,
}

impl Modifier {
    /// Parses a modifier keyword.
    pub fn from_word(s: &str) -> Option<Self> {
        Some(match s {
            "oneof" => Modifier::OneOf,
            "anyof" => Modifier::AnyOf,
            "allof" => Modifier::AllOf,
            _ => return None,
        })
    }

    /// The keyword.
    pub fn word(self) -> &'static str {
        match self {
            Modifier::OneOf => "oneof",
            Modifier::AnyOf => "anyof",
            Modifier::AllOf => "allof",
        }
    }
}

/// A literal value with its quoting (bare values may name lists).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Literal {
    /// The unescaped text.
    pub text: String,
    /// Whether it was written in quotes.
    pub quoted: bool,
}

/// The right-hand side of a check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rhs {
    /// No operand (`exists`).
    None,
    /// A single value.
    Value(Literal),
    /// A parenthesised list.
    List(Vec<Literal>),
    /// A bare identifier naming a list.
    ListRef(String),
    /// A transformer expression.
    Transform(FieldExpr),
    /// `val(field)`.
    Val(FieldExpr),
}

/// Whether a string can be printed without quotes.
fn is_bare_safe(s: &str) -> bool {
    !s.is_empty()
        && !matches!(s, "oneof" | "anyof" | "allof")
        && s.bytes().all(|b| {
            !matches!(
                b,
                b' ' | b'\t'
                    | b'\n'
                    | b'\r'
                    | 8
                    | b'('
                    | b')'
                    | b','
                    | b'='
                    | b'"'
                    | b'\''
                    | b'['
                    | b']'
            ) && b >= 0x20
                && b != 0x7f
        })
}

/// Writes a value, quoting and escaping when needed.
pub fn write_value(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    write_value_quoting(f, s, false)
}

/// Like [`write_value`], and always quoted when `quote` is set (a non-number compared with
/// `<`, `<=`, `>`, `>=` only parses back quoted).
fn write_value_quoting(f: &mut impl fmt::Write, s: &str, quote: bool) -> fmt::Result {
    if !quote && is_bare_safe(s) {
        return f.write_str(s);
    }
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for FieldExpr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FieldExpr::Field { name, arg } => {
                f.write_str(name)?;
                if let Some(a) = arg {
                    f.write_char('[')?;
                    if a.is_empty()
                        || a.bytes().any(|b| {
                            matches!(
                                b,
                                b' ' | b'\t' | b'\n' | b'\r' | 8 | b'[' | b']' | b'"' | b'\''
                            )
                        })
                    {
                        write_quoted(f, a)?;
                    } else {
                        f.write_str(a)?;
                    }
                    f.write_char(']')?;
                }
                Ok(())
            }
            FieldExpr::Transform { tf, args } => {
                write!(f, "{}(", tf.name())?;
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{a}")?;
                }
                f.write_char(')')
            }
            FieldExpr::Literal(s) => write_quoted(f, s),
        }
    }
}

fn write_quoted(f: &mut impl fmt::Write, s: &str) -> fmt::Result {
    // Force quoting by going through the escaping path with an unsafe char check.
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{8}' => f.write_str("\\b")?,
            '\u{c}' => f.write_str("\\f")?,
            c if (c as u32) < 0x20 || c as u32 == 0x7f => write!(f, "\\x{:02x}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

fn write_child(f: &mut fmt::Formatter<'_>, e: &Expr) -> fmt::Result {
    match e {
        Expr::And(_) | Expr::Or(_) => write!(f, "({e})"),
        _ => write!(f, "{e}"),
    }
}

impl fmt::Display for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Expr::And(v) | Expr::Or(v) => {
                let sep = if matches!(self, Expr::And(_)) {
                    " and "
                } else {
                    " or "
                };
                for (i, c) in v.iter().enumerate() {
                    if i > 0 {
                        f.write_str(sep)?;
                    }
                    write_child(f, c)?;
                }
                Ok(())
            }
            Expr::Not(c) => {
                f.write_str("not ")?;
                write_child(f, c)
            }
            Expr::Ident(s) => f.write_str(s),
            Expr::Check(c) => write!(f, "{c}"),
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.lhs, self.op.token())?;
        if let Some(m) = self.modifier {
            write!(f, " {}", m.word())?;
        }
        match &self.rhs {
            Rhs::None => Ok(()),
            Rhs::Value(v) => {
                f.write_char(' ')?;
                let quote = self.op.is_num_op() && !crate::parser::is_number(&v.text);
                write_value_quoting(f, &v.text, quote)
            }
            Rhs::List(items) => {
                f.write_str(" (")?;
                for (i, v) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write_value(f, &v.text)?;
                }
                f.write_char(')')
            }
            Rhs::ListRef(n) => write!(f, " {n}"),
            Rhs::Transform(t) => write!(f, " {t}"),
            Rhs::Val(t) => write!(f, " val({t})"),
        }
    }
}

use std::fmt::Write as _;
