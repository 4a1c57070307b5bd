//! SemVer 2.0 versions (npm, Rust crates, OSV `SEMVER` ranges).

use std::cmp::Ordering;

use crate::error::{version_common, ParseVersionError, Scheme};

/// One dot-separated pre-release identifier.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Ident {
    /// All digits, no leading zero; kept as text so any length compares correctly.
    Num(String),
    /// Anything else.
    Alnum(String),
}

impl Ord for Ident {
    fn cmp(&self, other: &Self) -> Ordering {
        match (self, other) {
            (Ident::Num(a), Ident::Num(b)) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Ident::Num(_), Ident::Alnum(_)) => Ordering::Less,
            (Ident::Alnum(_), Ident::Num(_)) => Ordering::Greater,
            (Ident::Alnum(a), Ident::Alnum(b)) => a.cmp(b),
        }
    }
}

impl PartialOrd for Ident {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The parsed parts shared by [`SemVer`] and the Go version type.
#[derive(Debug, Clone)]
pub(crate) struct Core {
    pub(crate) major: u64,
    pub(crate) minor: u64,
    pub(crate) patch: u64,
    pub(crate) pre: Vec<Ident>,
}

impl Core {
    pub(crate) fn cmp(&self, other: &Core) -> Ordering {
        (self.major, self.minor, self.patch)
            .cmp(&(other.major, other.minor, other.patch))
            .then_with(|| match (self.pre.is_empty(), other.pre.is_empty()) {
                (true, true) => Ordering::Equal,
                (true, false) => Ordering::Greater,
                (false, true) => Ordering::Less,
                (false, false) => self.pre.cmp(&other.pre),
            })
    }
}

fn numeric(part: &str, what: &str) -> Result<u64, String> {
    if part.is_empty() {
        return Err(format!("{what} is empty"));
    }
    if !part.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("{what} {part:?} is not a number"));
    }
    if part.len() > 1 && part.starts_with('0') {
        return Err(format!("{what} {part:?} has a leading zero"));
    }
    part.parse()
        .map_err(|_| format!("{what} {part:?} is too large"))
}

fn idents<'a>(s: &'a str, what: &str) -> Result<Vec<&'a str>, String> {
    let parts: Vec<&str> = s.split('.').collect();
    for p in &parts {
        if p.is_empty() {
            return Err(format!("empty {what} identifier"));
        }
        if let Some(c) = p
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || *c == '-'))
        {
            return Err(format!("invalid character {c:?} in {what}"));
        }
    }
    Ok(parts)
}

/// Parses `MAJOR[.MINOR[.PATCH]][-PRE][+BUILD]`; `min_parts` says how many numbers are required.
pub(crate) fn parse_core(s: &str, min_parts: usize) -> Result<Core, String> {
    let (rest, build) = match s.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (s, None),
    };
    if let Some(b) = build {
        idents(b, "build metadata")?;
    }
    let (nums, pre) = match rest.split_once('-') {
        Some((n, p)) => (n, Some(p)),
        None => (rest, None),
    };
    let parts: Vec<&str> = nums.split('.').collect();
    if parts.len() > 3 {
        return Err("more than three numeric components".into());
    }
    if parts.len() < min_parts {
        return Err(format!(
            "expected MAJOR.MINOR.PATCH, found {} component(s)",
            parts.len()
        ));
    }
    let names = ["major", "minor", "patch"];
    let mut n = [0u64; 3];
    for (k, p) in parts.iter().enumerate() {
        n[k] = numeric(p, names[k])?;
    }
    if min_parts < 3 && parts.len() < 3 && (pre.is_some() || build.is_some()) {
        return Err("a shorthand version cannot have a pre-release or build".into());
    }
    let mut ids = Vec::new();
    if let Some(p) = pre {
        for id in idents(p, "pre-release")? {
            if id.bytes().all(|b| b.is_ascii_digit()) {
                if id.len() > 1 && id.starts_with('0') {
                    return Err(format!("pre-release identifier {id:?} has a leading zero"));
                }
                ids.push(Ident::Num(id.to_string()));
            } else {
                ids.push(Ident::Alnum(id.to_string()));
            }
        }
    }
    Ok(Core {
        major: n[0],
        minor: n[1],
        patch: n[2],
        pre: ids,
    })
}

/// A SemVer 2.0 version. Build metadata is kept in the text but ignored for ordering.
/// A leading `v` is accepted (as npm does) and kept in the text.
#[derive(Debug, Clone)]
pub struct SemVer {
    raw: String,
    core: Core,
}

version_common!(SemVer);

impl SemVer {
    /// Parses a strict SemVer 2.0 version (optionally prefixed with `v`).
    pub fn parse(input: &str) -> Result<Self, ParseVersionError> {
        let s = input.trim();
        let body = s.strip_prefix('v').unwrap_or(s);
        let core = parse_core(body, 3)
            .map_err(|why| ParseVersionError::new(Scheme::Semver, input, why))?;
        Ok(SemVer {
            raw: s.to_string(),
            core,
        })
    }

    /// `(major, minor, patch)`.
    pub fn triple(&self) -> (u64, u64, u64) {
        (self.core.major, self.core.minor, self.core.patch)
    }

    /// Whether it has a pre-release part.
    pub fn is_prerelease(&self) -> bool {
        !self.core.pre.is_empty()
    }
}

impl Ord for SemVer {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> SemVer {
        SemVer::parse(s).unwrap() // ok: test input
    }

    #[test]
    fn notes_vectors() {
        assert!(v("1.0.0-alpha.1") < v("1.0.0-alpha.beta"));
        assert!(v("1.0.0-beta.11") < v("1.0.0-rc.1"));
        assert_eq!(v("1.0.0+build.1"), v("1.0.0+build.2"));
        assert!(v("1.0.0-99999999999999999999999") > v("1.0.0-9999999999999999999999"));
    }

    #[test]
    fn errors_say_why() {
        assert!(SemVer::parse("01.2.3")
            .unwrap_err()
            .reason
            .contains("leading zero")); // ok: test
        assert!(SemVer::parse("1.0.0-00").is_err());
        assert!(SemVer::parse("1.2").is_err());
        assert!(SemVer::parse("1.2.3.4").is_err());
        assert!(SemVer::parse("1.2.3-").is_err());
        assert!(SemVer::parse("1.2.3-a..b").is_err());
        assert!(SemVer::parse("1.2.3+").is_err());
    }
}
