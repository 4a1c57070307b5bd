//! Debian package versions (`[epoch:]upstream[-revision]`), ordered like `dpkg --compare-versions`.

use std::cmp::Ordering;

use crate::error::{version_common, ParseVersionError, Scheme};

/// A Debian/Ubuntu package version.
#[derive(Debug, Clone)]
pub struct DpkgVersion {
    raw: String,
    epoch: u64,
    upstream: String,
    revision: String,
}

version_common!(DpkgVersion);

impl DpkgVersion {
    /// Parses `[epoch:]upstream[-revision]`.
    ///
    /// Errors: empty version, non-numeric or too large epoch, empty upstream or revision,
    /// characters outside `[A-Za-z0-9.+~-:]`.
    pub fn parse(input: &str) -> Result<Self, ParseVersionError> {
        let err = |why: &str| ParseVersionError::new(Scheme::Dpkg, input, why);
        let s = input.trim();
        if s.is_empty() {
            return Err(err("version is empty"));
        }
        if s.contains(char::is_whitespace) {
            return Err(err("version contains whitespace"));
        }
        let (epoch, rest) = match s.split_once(':') {
            Some((e, rest)) => {
                if e.is_empty() {
                    return Err(err("epoch is empty"));
                }
                if !e.bytes().all(|b| b.is_ascii_digit()) {
                    return Err(err("epoch is not a number"));
                }
                let epoch = e.parse::<u64>().map_err(|_| err("epoch is too large"))?;
                (epoch, rest)
            }
            None => (0, s),
        };
        let (upstream, revision) = match rest.rsplit_once('-') {
            Some((_, "")) => return Err(err("revision number is empty")),
            Some((u, r)) => (u, r),
            None => (rest, ""),
        };
        if upstream.is_empty() {
            return Err(err("upstream version is empty"));
        }
        if let Some(c) = upstream
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".+~-:".contains(*c)))
        {
            return Err(err(&format!("invalid character {c:?} in upstream version")));
        }
        if let Some(c) = revision
            .chars()
            .find(|c| !(c.is_ascii_alphanumeric() || ".+~".contains(*c)))
        {
            return Err(err(&format!("invalid character {c:?} in revision")));
        }
        Ok(DpkgVersion {
            raw: s.to_string(),
            epoch,
            upstream: upstream.to_string(),
            revision: revision.to_string(),
        })
    }

    /// The epoch (0 when absent).
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The upstream part.
    pub fn upstream(&self) -> &str {
        &self.upstream
    }

    /// The Debian revision (empty when absent).
    pub fn revision(&self) -> &str {
        &self.revision
    }
}

impl Ord for DpkgVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.epoch
            .cmp(&other.epoch)
            .then_with(|| verrevcmp(&self.upstream, &other.upstream))
            .then_with(|| verrevcmp(&self.revision, &other.revision))
    }
}

/// Weight of one character of a non-digit run: `~` < end < letters < everything else.
fn order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// dpkg's `verrevcmp`: alternate non-digit runs (by [`order`]) and digit runs (numerically).
pub(crate) fn verrevcmp(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let (mut i, mut j) = (0, 0);
    while i < a.len() || j < b.len() {
        // Non-digit prefix.
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = order(a.get(i).copied());
            let bc = order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        // Digit run, compared as integers of any length.
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        let si = i;
        let sj = j;
        while i < a.len() && a[i].is_ascii_digit() {
            i += 1;
        }
        while j < b.len() && b[j].is_ascii_digit() {
            j += 1;
        }
        let ord = (i - si)
            .cmp(&(j - sj))
            .then_with(|| a[si..i].cmp(&b[sj..j]));
        if ord != Ordering::Equal {
            return ord;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> DpkgVersion {
        DpkgVersion::parse(s).unwrap() // ok: test input
    }

    #[test]
    fn notes_vectors() {
        assert!(v("1:1.0") > v("2.0"));
        assert!(v("1.0~beta1") > v("1.0~alpha2"));
        assert!(v("1.0+") < v("1.0."));
        assert!(v("1.0.0") > v("1.0"));
        assert!(v("2.30-1") < v("2.30-1+b1"));
        assert!(v("1.2.3-1") < v("1.2.3-1build1"));
        assert!(v("1.0-1+deb12u1") < v("1.0-1+deb12u10"));
        assert!(v("1:2.38.1-5+deb12u1") > v("2.38.1-5+deb12u3"));
        assert!(v("99999999999999999999999") > v("9999999999999999999999"));
    }

    #[test]
    fn errors_say_why() {
        let e = DpkgVersion::parse("1.0-").unwrap_err(); // ok: test
        assert_eq!(
            e.to_string(),
            "invalid dpkg version \"1.0-\": revision number is empty"
        );
        assert!(DpkgVersion::parse("a:1.0")
            .unwrap_err()
            .reason
            .contains("epoch")); // ok: test
        assert!(DpkgVersion::parse("").is_err());
        assert!(DpkgVersion::parse("1.0 2").is_err());
        assert!(DpkgVersion::parse("1.0_1").is_err());
        assert!(DpkgVersion::parse(":1.0").is_err());
    }
}
