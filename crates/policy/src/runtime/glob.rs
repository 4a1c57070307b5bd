//! Compiled globs for runtime policies: paths, process names, namespaces, images.
//!
//! Syntax: `*` matches any run of characters *including `/`* (so `/tmp/*` covers the whole tree
//! under `/tmp`), `?` one character, `[abc]` / `[a-z]` / `[!a-z]` one character of (or not of) a
//! set, `\x` the character `x` literally. Matching is on whole strings and case-sensitive.
//!
//! The pattern is compiled once at load time so that matching, which runs on every exec in a
//! watched container, allocates nothing; literal, prefix (`/usr/*`) and suffix (`*.sh`) patterns
//! take a fast path.

use std::fmt;

/// A glob pattern that compiled; see the module documentation for the syntax.
#[derive(Clone)]
pub struct Glob {
    text: Box<str>,
    kind: Kind,
}

#[derive(Clone, Debug)]
enum Kind {
    /// No metacharacters (after unescaping).
    Literal(Box<str>),
    /// `lit*`.
    Prefix(Box<str>),
    /// `*lit`.
    Suffix(Box<str>),
    /// `*lit*`.
    Contains(Box<str>),
    /// `*` alone (or several).
    Any,
    /// Anything else.
    Tokens(Box<[Token]>),
}

#[derive(Clone, Debug, PartialEq)]
enum Token {
    Lit(Box<str>),
    One,
    Class {
        negated: bool,
        ranges: Box<[(char, char)]>,
    },
    Star,
}

/// A glob pattern did not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid glob {pattern:?}: {reason}")]
pub struct GlobError {
    /// The pattern as written.
    pub pattern: String,
    /// What is wrong with it.
    pub reason: &'static str,
}

impl Glob {
    /// Compiles `pattern`. Fails on an empty pattern, an unterminated or empty `[...]` class, a
    /// reversed range (`[z-a]`) or a trailing `\`.
    pub fn new(pattern: &str) -> Result<Glob, GlobError> {
        let err = |reason| GlobError {
            pattern: pattern.to_string(),
            reason,
        };
        if pattern.is_empty() {
            return Err(err("empty pattern"));
        }
        let mut tokens: Vec<Token> = Vec::new();
        let mut lit = String::new();
        let mut chars = pattern.chars().peekable();
        let flush = |lit: &mut String, tokens: &mut Vec<Token>| {
            if !lit.is_empty() {
                tokens.push(Token::Lit(std::mem::take(lit).into_boxed_str()));
            }
        };
        while let Some(c) = chars.next() {
            match c {
                '\\' => lit.push(chars.next().ok_or_else(|| err("trailing backslash"))?),
                '*' => {
                    flush(&mut lit, &mut tokens);
                    if tokens.last() != Some(&Token::Star) {
                        tokens.push(Token::Star);
                    }
                }
                '?' => {
                    flush(&mut lit, &mut tokens);
                    tokens.push(Token::One);
                }
                '[' => {
                    flush(&mut lit, &mut tokens);
                    let negated = chars.next_if(|c| *c == '!' || *c == '^').is_some();
                    let mut ranges = Vec::new();
                    let mut closed = false;
                    // A ']' right after '[' (or '[!') is a member, as in POSIX.
                    let mut first = true;
                    while let Some(c) = chars.next() {
                        if c == ']' && !first {
                            closed = true;
                            break;
                        }
                        first = false;
                        let lo = if c == '\\' {
                            chars.next().ok_or_else(|| err("trailing backslash"))?
                        } else {
                            c
                        };
                        let hi = if chars.peek() == Some(&'-') {
                            let mut ahead = chars.clone();
                            ahead.next();
                            match ahead.peek() {
                                Some(']') | None => lo,
                                Some(_) => {
                                    chars.next();
                                    let h = chars.next().unwrap_or(lo);
                                    if h == '\\' {
                                        chars.next().ok_or_else(|| err("trailing backslash"))?
                                    } else {
                                        h
                                    }
                                }
                            }
                        } else {
                            lo
                        };
                        if hi < lo {
                            return Err(err("reversed range in [...]"));
                        }
                        ranges.push((lo, hi));
                    }
                    if !closed {
                        return Err(err("unterminated [...]"));
                    }
                    tokens.push(Token::Class {
                        negated,
                        ranges: ranges.into_boxed_slice(),
                    });
                }
                c => lit.push(c),
            }
        }
        flush(&mut lit, &mut tokens);
        let kind = match tokens.as_slice() {
            [Token::Lit(l)] => Kind::Literal(l.clone()),
            [Token::Lit(l), Token::Star] => Kind::Prefix(l.clone()),
            [Token::Star, Token::Lit(l)] => Kind::Suffix(l.clone()),
            [Token::Star, Token::Lit(l), Token::Star] => Kind::Contains(l.clone()),
            [Token::Star] => Kind::Any,
            _ => Kind::Tokens(tokens.into_boxed_slice()),
        };
        Ok(Glob {
            text: pattern.into(),
            kind,
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Whether the pattern contains a `/` (for allowed and blocked executables: a path glob
    /// rather than a process name).
    pub fn has_slash(&self) -> bool {
        self.text.contains('/')
    }

    /// Whether the pattern can match an absolute path: it starts with `/`, or with a
    /// metacharacter that can stand for one.
    pub fn can_match_absolute(&self) -> bool {
        self.text.starts_with(['/', '*', '?', '['])
    }

    /// Whether `text` matches the whole pattern.
    pub fn is_match(&self, text: &str) -> bool {
        match &self.kind {
            Kind::Literal(l) => text == &**l,
            Kind::Prefix(p) => text.starts_with(&**p),
            Kind::Suffix(s) => text.ends_with(&**s),
            Kind::Contains(s) => text.contains(&**s),
            Kind::Any => true,
            Kind::Tokens(t) => match_tokens(t, text),
        }
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.text)
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl PartialEq for Glob {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for Glob {}

/// Matches one token (not `Star`) at the start of `text`; returns the bytes consumed.
fn match_one(token: &Token, text: &str) -> Option<usize> {
    match token {
        Token::Lit(l) => text.starts_with(&**l).then_some(l.len()),
        Token::One => text.chars().next().map(char::len_utf8),
        Token::Class { negated, ranges } => {
            let c = text.chars().next()?;
            let member = ranges.iter().any(|(lo, hi)| (*lo..=*hi).contains(&c));
            (member != *negated).then_some(c.len_utf8())
        }
        Token::Star => None,
    }
}

/// Iterative wildcard matching with one backtrack point: on a mismatch, the most recent `*`
/// takes one more character. Earlier stars never need to grow because a later star can absorb
/// anything they would have, so this is exact and linear in practice. A star followed by a
/// literal jumps straight to the literal's next occurrence (a substring search) instead of
/// trying every position.
fn match_tokens(tokens: &[Token], text: &str) -> bool {
    /// The first position at or after `from` where the token after the star at `st` can
    /// start, or `None` when there is none.
    fn skip(tokens: &[Token], st: usize, text: &str, from: usize) -> Option<usize> {
        match tokens.get(st + 1) {
            Some(Token::Lit(l)) => text[from..].find(&**l).map(|off| from + off),
            _ => Some(from),
        }
    }
    let (mut ti, mut si) = (0usize, 0usize);
    let mut star: Option<(usize, usize)> = None;
    loop {
        if ti < tokens.len() {
            if tokens[ti] == Token::Star {
                match skip(tokens, ti, text, si) {
                    Some(at) => si = at,
                    None => return false,
                }
                star = Some((ti, si));
                ti += 1;
                continue;
            }
            if let Some(n) = match_one(&tokens[ti], &text[si..]) {
                ti += 1;
                si += n;
                continue;
            }
        } else if si == text.len() {
            return true;
        }
        // Mismatch (or pattern exhausted with text left): let the last star eat one character.
        match star {
            Some((st, ss)) => match text[ss..].chars().next() {
                Some(c) => {
                    let Some(ss) = skip(tokens, st, text, ss + c.len_utf8()) else {
                        return false;
                    };
                    star = Some((st, ss));
                    ti = st + 1;
                    si = ss;
                }
                None => return false,
            },
            None => return false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn m(p: &str, t: &str) -> bool {
        Glob::new(p).expect("test pattern compiles").is_match(t)
    }

    #[test]
    fn table() {
        let cases: &[(&str, &str, bool)] = &[
            ("/usr/bin/ls", "/usr/bin/ls", true),
            ("/usr/bin/ls", "/usr/bin/lsx", false),
            ("/tmp/*", "/tmp/a/b/c", true),
            ("/tmp/*", "/tmp", false),
            ("/tmp/*", "/tmp/", true),
            ("*.sh", "/opt/run.sh", true),
            ("*.sh", "/opt/run.shx", false),
            ("*", "", true),
            ("/usr/*/python3*", "/usr/local/bin/python3.12", true),
            ("/usr/*/python3*", "/usr/python2", false),
            ("a?c", "abc", true),
            ("a?c", "ac", false),
            ("a?c", "aéc", true),
            ("[ab]x", "bx", true),
            ("[ab]x", "cx", false),
            ("[!ab]x", "cx", true),
            ("[a-c]*", "b-anything", true),
            ("[a-]", "-", true),
            ("[]]", "]", true),
            ("\\*", "*", true),
            ("\\*", "x", false),
            ("a*b*c", "axxbyyc", true),
            ("*/xmrig*", "/tmp/.x/xmrig-6.21", true),
            ("*/xmrig*", "/tmp/xmri", false),
            ("*ab?", "xabxabz", true),
            ("a*b*c", "axxbyy", false),
            ("prod-*", "prod-eu", true),
            ("prod-*", "staging", false),
            (
                "docker.io/library/nginx*",
                "docker.io/library/nginx:1.27",
                true,
            ),
            ("*a*a*a*a*b", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", false),
        ];
        for (p, t, want) in cases {
            assert_eq!(m(p, t), *want, "pattern {p:?} on {t:?}");
        }
    }

    #[test]
    fn compile_errors() {
        for (p, reason) in [
            ("", "empty pattern"),
            ("[abc", "unterminated [...]"),
            ("/etc/[", "unterminated [...]"),
            ("x\\", "trailing backslash"),
            ("[z-a]", "reversed range in [...]"),
        ] {
            let e = Glob::new(p).expect_err(p);
            assert_eq!(e.reason, reason, "{p:?}");
            assert!(e.to_string().contains(&format!("{p:?}")), "{e}");
        }
    }

    #[test]
    fn absolute_and_slash() {
        assert!(Glob::new("/bin/sh").unwrap().can_match_absolute());
        assert!(Glob::new("*/sh").unwrap().can_match_absolute());
        assert!(!Glob::new("bin/sh").unwrap().can_match_absolute());
        assert!(Glob::new("bin/sh").unwrap().has_slash());
        assert!(!Glob::new("sh").unwrap().has_slash());
    }

    /// A deliberately naive recursive matcher for `*` and `?`, used as the oracle.
    fn oracle(p: &[char], t: &[char]) -> bool {
        match p.split_first() {
            None => t.is_empty(),
            Some(('*', rest)) => (0..=t.len()).any(|i| oracle(rest, &t[i..])),
            Some(('?', rest)) => !t.is_empty() && oracle(rest, &t[1..]),
            Some((c, rest)) => t.first() == Some(c) && oracle(rest, &t[1..]),
        }
    }

    proptest! {
        #[test]
        fn agrees_with_naive_matcher(p in "[ab/*?]{1,8}", t in "[ab/é]{0,10}") {
            let pc: Vec<char> = p.chars().collect();
            let tc: Vec<char> = t.chars().collect();
            prop_assert_eq!(m(&p, &t), oracle(&pc, &tc), "pattern {:?} text {:?}", p, t);
        }

        #[test]
        fn never_panics(p in "\\PC{0,12}", t in "\\PC{0,12}") {
            if let Ok(g) = Glob::new(&p) {
                let _ = g.is_match(&t);
            }
        }
    }
}
