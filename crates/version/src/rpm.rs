//! RPM versions (`[epoch:]version[-release]`), ordered like rpm's `labelCompare`/`rpmvercmp`.

use std::cmp::Ordering;

use crate::error::{version_common, ParseVersionError, Scheme};

/// An rpm `[E:]V[-R]` (EVR). A missing epoch is 0; a missing release sorts before any release.
#[derive(Debug, Clone)]
pub struct RpmVersion {
    raw: String,
    epoch: u64,
    version: String,
    release: Option<String>,
}

version_common!(RpmVersion);

impl RpmVersion {
    /// Parses `[epoch:]version[-release]`; the epoch may also be written `(none)`.
    ///
    /// Errors: empty version or release, non-numeric epoch, whitespace or control characters.
    pub fn parse(input: &str) -> Result<Self, ParseVersionError> {
        let err = |why: &str| ParseVersionError::new(Scheme::Rpm, input, why);
        let s = input.trim();
        if s.is_empty() {
            return Err(err("version is empty"));
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(err(&format!("invalid character {c:?}")));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some(("(none)", rest)) => (0, rest),
            Some((e, rest)) => {
                if e.is_empty() || !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err("epoch is not a number"));
                }
                (
                    e.parse::<u64>().map_err(|_| err("epoch is too large"))?,
                    rest,
                )
            }
            None => (0, s),
        };
        if rest.contains(':') {
            return Err(err("more than one ':'"));
        }
        let (version, release) = match rest.rsplit_once('-') {
            Some((_, "")) => return Err(err("release is empty")),
            Some((v, r)) => (v, Some(r.to_string())),
            None => (rest, None),
        };
        if version.is_empty() {
            return Err(err("version part is empty"));
        }
        Ok(RpmVersion {
            raw: s.to_string(),
            epoch,
            version: version.to_string(),
            release,
        })
    }

    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The version part.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The release part, if any.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }
}

impl Ord for RpmVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| rpmvercmp(&self.version, &other.version))
            .then_with(|| match (&self.release, &other.release) {
                (Some(a), Some(b)) => rpmvercmp(a, b),
                (None, None) => Ordering::Equal,
                (None, Some(_)) => Ordering::Less,
                (Some(_), None) => Ordering::Greater,
            })
    }
}

/// One token of an rpm version string (separators are dropped).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok<'a> {
    Tilde,
    Caret,
    Alpha(&'a [u8]),
    Num(&'a [u8]),
}

struct Tokens<'a> {
    s: &'a [u8],
    i: usize,
}

impl<'a> Iterator for Tokens<'a> {
    type Item = Tok<'a>;
    fn next(&mut self) -> Option<Tok<'a>> {
        let s = self.s;
        while self.i < s.len()
            && !s[self.i].is_ascii_alphanumeric()
            && s[self.i] != b'~'
            && s[self.i] != b'^'
        {
            self.i += 1;
        }
        let c = *s.get(self.i)?;
        let start = self.i;
        match c {
            b'~' => {
                self.i += 1;
                Some(Tok::Tilde)
            }
            b'^' => {
                self.i += 1;
                Some(Tok::Caret)
            }
            c if c.is_ascii_digit() => {
                while self.i < s.len() && s[self.i].is_ascii_digit() {
                    self.i += 1;
                }
                let mut digits = &s[start..self.i];
                while digits.len() > 1 && digits[0] == b'0' {
                    digits = &digits[1..];
                }
                Some(Tok::Num(digits))
            }
            _ => {
                while self.i < s.len() && s[self.i].is_ascii_alphabetic() {
                    self.i += 1;
                }
                Some(Tok::Alpha(&s[start..self.i]))
            }
        }
    }
}

/// Rank of a token position: `~` < end < `^` < letters < digits.
fn rank(t: Option<Tok<'_>>) -> u8 {
    match t {
        Some(Tok::Tilde) => 0,
        None => 1,
        Some(Tok::Caret) => 2,
        Some(Tok::Alpha(_)) => 3,
        Some(Tok::Num(_)) => 4,
    }
}

/// rpm's `rpmvercmp`, as a comparison of token sequences.
pub(crate) fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let mut ta = Tokens {
        s: a.as_bytes(),
        i: 0,
    };
    let mut tb = Tokens {
        s: b.as_bytes(),
        i: 0,
    };
    loop {
        let (x, y) = (ta.next(), tb.next());
        let ord = match (x, y) {
            (None, None) => return Ordering::Equal,
            (Some(Tok::Num(p)), Some(Tok::Num(q))) => p.len().cmp(&q.len()).then(p.cmp(q)),
            (Some(Tok::Alpha(p)), Some(Tok::Alpha(q))) => p.cmp(q),
            _ => rank(x).cmp(&rank(y)),
        };
        if ord != Ordering::Equal {
            return ord;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> RpmVersion {
        RpmVersion::parse(s).unwrap() // ok: test input
    }

    #[test]
    fn notes_vectors() {
        assert!(v("1.0~rc1~git1") < v("1.0~rc1"));
        assert!(v("1.0^git1") < v("1.0.1"));
        assert!(v("2.0.1a") > v("2.0.1"));
        assert!(v("a") < v("1"));
        assert!(v("6.0.rc1") > v("6.0"));
        assert!(v("1.0-1.el8") < v("1.0-1.el8_4"));
        assert!(v("1.0-5.el7") < v("1.0-5.el7_9.1"));
        assert!(v("1.0-10.el8") > v("1.0-9.el8"));
        assert!(v("1:1.0-1") > v("0:2.0-1"));
        assert_eq!(v("(none):1.0-1"), v("0:1.0-1"));
        assert!(v("1:9.0.87-3.el9_6.3") > v("9.0.100-1.el9"));
    }

    #[test]
    fn errors_say_why() {
        assert!(RpmVersion::parse("x:1")
            .unwrap_err()
            .reason
            .contains("epoch")); // ok: test
        assert!(RpmVersion::parse("1.0-").is_err());
        assert!(RpmVersion::parse("").is_err());
        assert!(RpmVersion::parse("1:2:3").is_err());
    }
}
