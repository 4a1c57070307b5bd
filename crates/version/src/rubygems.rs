//! RubyGems versions, ordered like `Gem::Version#<=>`.

use std::cmp::Ordering;

use crate::error::{version_common, ParseVersionError, Scheme};

/// One segment: numbers sort after strings.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Seg {
    Num(String),
    Str(String),
}

impl Seg {
    fn is_zero(&self) -> bool {
        matches!(self, Seg::Num(n) if n == "0")
    }
}

fn cmp_seg(a: &Seg, b: &Seg) -> Ordering {
    match (a, b) {
        (Seg::Num(x), Seg::Num(y)) => x.len().cmp(&y.len()).then_with(|| x.cmp(y)),
        (Seg::Num(_), Seg::Str(_)) => Ordering::Greater,
        (Seg::Str(_), Seg::Num(_)) => Ordering::Less,
        (Seg::Str(x), Seg::Str(y)) => x.cmp(y),
    }
}

/// A RubyGems version (`Gem::Version`).
#[derive(Debug, Clone)]
pub struct GemVersion {
    raw: String,
    /// Canonical segments: trailing zeros dropped from the numeric head and the string tail.
    segs: Vec<Seg>,
}

version_common!(GemVersion);

impl GemVersion {
    /// Parses a gem version: `N(.[0-9A-Za-z]+)*(-[0-9A-Za-z-]+(.[0-9A-Za-z-]+)*)?`; an empty or
    /// blank string is `0`, as in RubyGems.
    pub fn parse(input: &str) -> Result<Self, ParseVersionError> {
        let err = |why: &str| ParseVersionError::new(Scheme::RubyGems, input, why);
        let s = input.trim();
        let (main, pre) = match s.split_once('-') {
            Some((m, p)) => (m, Some(p)),
            None => (s, None),
        };
        if !s.is_empty() {
            let mut parts = main.split('.');
            let first = parts.next().unwrap_or(""); // ok: split yields at least one item
            if first.is_empty() || !first.bytes().all(|b| b.is_ascii_digit()) {
                return Err(err("must start with a number"));
            }
            for p in parts {
                if p.is_empty() || !p.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(err("segments must be non-empty and alphanumeric"));
                }
            }
            if let Some(p) = pre {
                for q in p.split('.') {
                    if q.is_empty() || !q.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-') {
                        return Err(err("invalid pre-release part after '-'"));
                    }
                }
            }
        }
        let text = if s.is_empty() {
            "0".to_string()
        } else {
            s.replace('-', ".pre.")
        };
        let mut segs = Vec::new();
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            let st = i;
            if b[i].is_ascii_digit() {
                while i < b.len() && b[i].is_ascii_digit() {
                    i += 1;
                }
                let t = text[st..i].trim_start_matches('0');
                segs.push(Seg::Num(if t.is_empty() { "0".into() } else { t.into() }));
            } else if b[i].is_ascii_alphabetic() {
                while i < b.len() && b[i].is_ascii_alphabetic() {
                    i += 1;
                }
                segs.push(Seg::Str(text[st..i].to_string()));
            } else {
                i += 1;
            }
        }
        // Canonical form: split at the first string, drop trailing zeros of both parts.
        let split = segs
            .iter()
            .position(|s| matches!(s, Seg::Str(_)))
            .unwrap_or(segs.len());
        let mut tail = segs.split_off(split);
        while segs.last().is_some_and(Seg::is_zero) {
            segs.pop();
        }
        while tail.last().is_some_and(Seg::is_zero) {
            tail.pop();
        }
        segs.extend(tail);
        Ok(GemVersion {
            raw: s.to_string(),
            segs,
        })
    }

    /// Whether it is a pre-release (contains a letter).
    pub fn is_prerelease(&self) -> bool {
        self.segs.iter().any(|s| matches!(s, Seg::Str(_)))
    }
}

impl Ord for GemVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        let zero = Seg::Num("0".into());
        let n = self.segs.len().max(other.segs.len());
        for k in 0..n {
            let a = self.segs.get(k).unwrap_or(&zero);
            let b = other.segs.get(k).unwrap_or(&zero);
            let r = cmp_seg(a, b);
            if r != Ordering::Equal {
                return r;
            }
        }
        Ordering::Equal
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> GemVersion {
        GemVersion::parse(s).unwrap() // ok: test input
    }

    #[test]
    fn notes_vectors() {
        assert!(v("1.0.a") < v("1.0.b"));
        assert!(v("1.0.a10") < v("1.0.b1"));
        assert!(v("1.A") < v("1.a"));
        assert!(v("1.0.0.1") > v("1.0.0"));
        assert!(v("1.0.pre1") < v("1.0.pre.2"));
        assert_eq!(v(""), v("0"));
    }

    #[test]
    fn errors_say_why() {
        assert!(GemVersion::parse("a.1").is_err());
        assert!(GemVersion::parse("1..2").is_err());
        assert!(GemVersion::parse("1.0 beta").is_err());
    }
}
