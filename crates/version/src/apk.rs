//! Alpine package versions, ordered like apk-tools.
//!
//! Grammar: `DIGITS ('.' DIGITS)* [a-z]? ('_' SUFFIX DIGITS?)* ('~' HEX+)? ('-r' DIGITS)?`.

use std::cmp::Ordering;

use crate::error::{version_common, ParseVersionError, Scheme};

/// Suffixes in ascending order; the first four are pre-releases.
const SUFFIXES: [&str; 9] = ["alpha", "beta", "pre", "rc", "cvs", "svn", "git", "hg", "p"];
const PRE_RELEASES: usize = 4;

/// One token of an apk version.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Tok {
    /// A digit run; `first` marks the first run (always compared numerically).
    Digits {
        text: String,
        first: bool,
    },
    Letter(u8),
    /// Index into [`SUFFIXES`].
    Suffix(usize),
    SuffixNo(u128),
    Hash(String),
    Revision(u128),
}

impl Tok {
    /// Rank used when the two token types differ: a pre-release suffix is older than anything;
    /// otherwise the type that comes later in the grammar is older (end is oldest).
    fn class(t: Option<&Tok>) -> i8 {
        match t {
            Some(Tok::Suffix(i)) if *i < PRE_RELEASES => -1,
            None => 0,
            Some(Tok::Revision(_)) => 1,
            Some(Tok::Hash(_)) => 2,
            Some(Tok::SuffixNo(_)) => 3,
            Some(Tok::Suffix(_)) => 4,
            Some(Tok::Letter(_)) => 5,
            Some(Tok::Digits { .. }) => 6,
        }
    }
}

/// An Alpine (apk) package version.
#[derive(Debug, Clone)]
pub struct ApkVersion {
    raw: String,
    toks: Vec<Tok>,
}

version_common!(ApkVersion);

fn number(s: &str) -> Option<u128> {
    s.parse().ok()
}

impl ApkVersion {
    /// Parses an apk version; anything outside the grammar is an error naming the offending part.
    pub fn parse(input: &str) -> Result<Self, ParseVersionError> {
        let err = |why: String| ParseVersionError::new(Scheme::Apk, input, why);
        let s = input.trim();
        let b = s.as_bytes();
        let mut toks = Vec::new();
        let mut i = 0;
        let digits = |i: &mut usize| {
            let st = *i;
            while *i < b.len() && b[*i].is_ascii_digit() {
                *i += 1;
            }
            &s[st..*i]
        };
        // DIGITS ('.' DIGITS)*
        let first = digits(&mut i);
        if first.is_empty() {
            return Err(err("must start with a digit".into()));
        }
        toks.push(Tok::Digits {
            text: first.to_string(),
            first: true,
        });
        while i < b.len() && b[i] == b'.' {
            i += 1;
            let d = digits(&mut i);
            if d.is_empty() {
                return Err(err(format!("expected digits after '.' at offset {i}")));
            }
            toks.push(Tok::Digits {
                text: d.to_string(),
                first: false,
            });
        }
        // [a-z]?
        if i < b.len() && b[i].is_ascii_lowercase() {
            toks.push(Tok::Letter(b[i]));
            i += 1;
        }
        // ('_' SUFFIX DIGITS?)*
        while i < b.len() && b[i] == b'_' {
            i += 1;
            let st = i;
            while i < b.len() && b[i].is_ascii_lowercase() {
                i += 1;
            }
            let name = &s[st..i];
            let Some(idx) = SUFFIXES.iter().position(|x| *x == name) else {
                return Err(err(format!("unknown suffix {name:?}")));
            };
            toks.push(Tok::Suffix(idx));
            let d = digits(&mut i);
            if !d.is_empty() {
                let n = number(d).ok_or_else(|| err("suffix number too large".into()))?;
                toks.push(Tok::SuffixNo(n));
            }
        }
        // ('~' HEX+)?
        if i < b.len() && b[i] == b'~' {
            i += 1;
            let st = i;
            while i < b.len() && b[i].is_ascii_hexdigit() && !b[i].is_ascii_uppercase() {
                i += 1;
            }
            if st == i {
                return Err(err("expected a lowercase hex commit after '~'".into()));
            }
            toks.push(Tok::Hash(s[st..i].to_string()));
        }
        // ('-r' DIGITS)?
        if i < b.len() && b[i] == b'-' {
            if b.get(i + 1) != Some(&b'r') {
                return Err(err(format!("expected '-r' at offset {i}")));
            }
            i += 2;
            let d = digits(&mut i);
            if d.is_empty() {
                return Err(err("expected digits after '-r'".into()));
            }
            let n = number(d).ok_or_else(|| err("revision too large".into()))?;
            toks.push(Tok::Revision(n));
        }
        if i < b.len() {
            return Err(err(format!(
                "unexpected {:?} at offset {i}",
                s[i..].chars().next().unwrap_or(' ') // ok: i < len so a char exists
            )));
        }
        Ok(ApkVersion {
            raw: s.to_string(),
            toks,
        })
    }
}

fn cmp_digits(a: &str, fa: bool, b: &str, fb: bool) -> Ordering {
    let leading_zero = (!fa && a.starts_with('0')) || (!fb && b.starts_with('0'));
    if leading_zero {
        a.cmp(b)
    } else {
        let (a, b) = (a.trim_start_matches('0'), b.trim_start_matches('0'));
        a.len().cmp(&b.len()).then_with(|| a.cmp(b))
    }
}

impl Ord for ApkVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let n = self.toks.len().max(other.toks.len());
        for k in 0..=n {
            let (x, y) = (self.toks.get(k), other.toks.get(k));
            let ord = match (x, y) {
                (None, None) => return Ordering::Equal,
                (
                    Some(Tok::Digits { text: a, first: fa }),
                    Some(Tok::Digits { text: b, first: fb }),
                ) => cmp_digits(a, *fa, b, *fb),
                (Some(Tok::Letter(a)), Some(Tok::Letter(b))) => a.cmp(b),
                (Some(Tok::Suffix(a)), Some(Tok::Suffix(b))) => a.cmp(b),
                (Some(Tok::SuffixNo(a)), Some(Tok::SuffixNo(b))) => a.cmp(b),
                (Some(Tok::Hash(a)), Some(Tok::Hash(b))) => a.cmp(b),
                (Some(Tok::Revision(a)), Some(Tok::Revision(b))) => a.cmp(b),
                _ => Tok::class(x).cmp(&Tok::class(y)),
            };
            if ord != Ordering::Equal {
                return ord;
            }
        }
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> ApkVersion {
        ApkVersion::parse(s).unwrap() // ok: test input
    }

    #[test]
    fn notes_vectors() {
        assert!(v("1.0_pre1") < v("1.0_rc1"));
        assert!(v("1.0_git") < v("1.0_hg"));
        assert!(v("1.0") < v("1.0-r0"));
        assert!(v("1.0a") > v("1.0_alpha"));
        assert!(v("1.10") > v("1.9"));
        assert!(v("1.0_alpha10") > v("1.0_alpha9"));
        assert!(v("1.0~abc") > v("1.0"));
        assert!(v("3.0.14-r0") > v("3.0.2-r5"));
        assert!(v("3.1.4-r5") > v("3.1.4-r4"));
    }

    #[test]
    fn errors_say_why() {
        assert!(ApkVersion::parse("1.0_foo")
            .unwrap_err()
            .reason
            .contains("suffix")); // ok: test
        assert!(ApkVersion::parse("x1").is_err());
        assert!(ApkVersion::parse("1.0-1").is_err());
        assert!(ApkVersion::parse("1..0").is_err());
        assert!(ApkVersion::parse("1.0bc").is_err());
    }
}
