//! PEP 440 versions (PyPI), normalised and ordered like `packaging.version.Version`.

use std::cmp::Ordering;

use crate::error::{version_common, ParseVersionError, Scheme};

/// One segment of a local version label: numbers sort after strings.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Local {
    Str(String),
    Num(u128),
}

/// A PEP 440 version.
#[derive(Debug, Clone)]
pub struct Pep440Version {
    raw: String,
    epoch: u64,
    /// Release numbers with trailing zeros removed (`1.0.0` == `1`).
    release: Vec<u64>,
    /// `(0 = a, 1 = b, 2 = rc, number)`.
    pre: Option<(u8, u64)>,
    post: Option<u64>,
    dev: Option<u64>,
    local: Option<Vec<Local>>,
}

version_common!(Pep440Version);

struct Cursor<'a> {
    s: &'a [u8],
    i: usize,
}

impl Cursor<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }
    fn sep(&mut self) -> bool {
        if matches!(self.peek(), Some(b'.' | b'-' | b'_')) {
            self.i += 1;
            true
        } else {
            false
        }
    }
    fn number(&mut self) -> Option<Result<u64, ()>> {
        let st = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        if st == self.i {
            return None;
        }
        let text = std::str::from_utf8(&self.s[st..self.i]).unwrap_or("x"); // ok: ASCII digits
        Some(text.parse().map_err(|_| ()))
    }
    /// Consumes the first word of `words` found at the cursor (case already folded).
    fn word(&mut self, words: &[&str]) -> Option<usize> {
        let rest = &self.s[self.i..];
        let (k, w) = words
            .iter()
            .enumerate()
            .find(|(_, w)| rest.starts_with(w.as_bytes()))?;
        self.i += w.len();
        Some(k)
    }
}

impl Pep440Version {
    /// Parses and normalises a PEP 440 version (`v` prefix, `alpha`/`c`/`pre` spellings, optional
    /// separators and implicit numbers are accepted, as `packaging` does).
    pub fn parse(input: &str) -> Result<Self, ParseVersionError> {
        let err = |why: &str| ParseVersionError::new(Scheme::Pep440, input, why);
        let s = input.trim();
        let lower = s.to_ascii_lowercase();
        let mut c = Cursor {
            s: lower.as_bytes(),
            i: 0,
        };
        if c.peek() == Some(b'v') {
            c.i += 1;
        }
        let too_big = |_| err("number too large");
        let first = match c.number() {
            Some(n) => n.map_err(too_big)?,
            None => return Err(err("must start with a release number")),
        };
        let mut epoch = 0;
        let mut release = vec![first];
        if c.peek() == Some(b'!') {
            c.i += 1;
            epoch = first;
            release.clear();
            match c.number() {
                Some(n) => release.push(n.map_err(too_big)?),
                None => return Err(err("expected a release number after the epoch")),
            }
        }
        while c.peek() == Some(b'.') && c.s.get(c.i + 1).is_some_and(|b| b.is_ascii_digit()) {
            c.i += 1;
            if let Some(n) = c.number() {
                release.push(n.map_err(too_big)?);
            }
        }
        // Pre-release.
        let mut pre = None;
        let save = c.i;
        c.sep();
        const PRE: [&str; 7] = ["alpha", "a", "beta", "b", "preview", "pre", "rc"];
        const PRE_C: [&str; 1] = ["c"];
        let kind = match c.word(&PRE) {
            Some(0 | 1) => Some(0),
            Some(2 | 3) => Some(1),
            Some(_) => Some(2),
            None => c.word(&PRE_C).map(|_| 2),
        };
        match kind {
            Some(k) => {
                c.sep();
                let n = c.number().transpose().map_err(too_big)?.unwrap_or(0);
                pre = Some((k, n));
            }
            None => c.i = save,
        }
        // Post-release: `-N` or [sep](post|rev|r)[sep][N].
        let mut post = None;
        let save = c.i;
        if c.peek() == Some(b'-') && c.s.get(c.i + 1).is_some_and(|b| b.is_ascii_digit()) {
            c.i += 1;
            post = c.number().transpose().map_err(too_big)?;
        } else {
            c.sep();
            if c.word(&["post", "rev", "r"]).is_some() {
                c.sep();
                post = Some(c.number().transpose().map_err(too_big)?.unwrap_or(0));
            } else {
                c.i = save;
            }
        }
        // Dev release.
        let mut dev = None;
        let save = c.i;
        c.sep();
        if c.word(&["dev"]).is_some() {
            c.sep();
            dev = Some(c.number().transpose().map_err(too_big)?.unwrap_or(0));
        } else {
            c.i = save;
        }
        // Local label.
        let mut local = None;
        if c.peek() == Some(b'+') {
            c.i += 1;
            let text = &lower[c.i..];
            let mut segs = Vec::new();
            for seg in text.split(['.', '-', '_']) {
                if seg.is_empty() || !seg.bytes().all(|b| b.is_ascii_alphanumeric()) {
                    return Err(err("invalid local version label"));
                }
                segs.push(if seg.bytes().all(|b| b.is_ascii_digit()) {
                    Local::Num(seg.parse().map_err(|_| err("number too large"))?)
                } else {
                    Local::Str(seg.to_string())
                });
            }
            c.i = c.s.len();
            local = Some(segs);
        }
        if c.i != c.s.len() {
            return Err(err(&format!(
                "unexpected {:?} at offset {}",
                &lower[c.i..],
                c.i
            )));
        }
        while release.len() > 1 && release.last() == Some(&0) {
            release.pop();
        }
        if release == [0] {
            release.clear();
        }
        Ok(Pep440Version {
            raw: s.to_string(),
            epoch,
            release,
            pre,
            post,
            dev,
            local,
        })
    }

    /// Whether this is a pre-release or a development release.
    pub fn is_prerelease(&self) -> bool {
        self.pre.is_some() || self.dev.is_some()
    }
}

/// `packaging`'s comparison key: epoch, release, then pre/post/dev with -inf/+inf sentinels
/// (the leading `i8` of each: -1 = -inf, 0 = present, 1 = +inf).
type Key<'a> = (u64, &'a [u64], (i8, u8, u64), (i8, u64), (i8, u64));

fn key(v: &Pep440Version) -> Key<'_> {
    let pre = match (v.pre, v.post, v.dev) {
        (None, None, Some(_)) => (-1, 0, 0),
        (None, _, _) => (1, 0, 0),
        (Some((k, n)), _, _) => (0, k, n),
    };
    let post = match v.post {
        None => (-1, 0),
        Some(n) => (0, n),
    };
    let dev = match v.dev {
        None => (1, 0),
        Some(n) => (0, n),
    };
    (v.epoch, &v.release, pre, post, dev)
}

impl Ord for Pep440Version {
    fn cmp(&self, other: &Self) -> Ordering {
        key(self)
            .cmp(&key(other))
            .then_with(|| self.local.cmp(&other.local))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> Pep440Version {
        Pep440Version::parse(s).unwrap() // ok: test input
    }

    #[test]
    fn notes_vectors() {
        assert!(v("1.0a1.dev1") < v("1.0a1"));
        assert_eq!(v("1.0c1"), v("1.0rc1"));
        assert_eq!(v("1.0_rc1"), v("1.0rc1"));
        assert_eq!(v("1.0-1"), v("1.0.post1"));
        assert!(v("1.1.dev1") > v("1.0.post1"));
        assert!(v("1.0+abc.5") < v("1.0+abc.10"));
        assert!(v("2.0.0") < v("10.0"));
        assert!(v("2.0a1") < v("2.0"));
        assert!(v("1.0.post1.dev0") > v("1.0"));
        assert_eq!(v("0"), v("0.0"));
        assert!(v("0.0.1") > v("0"));
    }

    #[test]
    fn errors_say_why() {
        assert!(Pep440Version::parse("1.0-foo").is_err());
        assert!(Pep440Version::parse("1..0").is_err());
        assert!(Pep440Version::parse("latest")
            .unwrap_err()
            .reason
            .contains("release")); // ok: test
        assert!(Pep440Version::parse("1.0+").is_err());
    }
}
