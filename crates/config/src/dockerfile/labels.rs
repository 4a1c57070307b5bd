//! Label rules (DL3048–DL3058) and the per-stage "missing" trackers shared by DL3049 (label
//! missing) and DL3057 (HEALTHCHECK missing).
//!
//! Semantics follow hadolint 2.15.1 (probed with the binary): DL3048 always runs; the others
//! need a `label-schema`, DL3050 also `strict-labels`.

use super::checks::{env_pairs, Ctx};
use super::Instruction;
use crate::hadolint::{DockerfileSettings, LabelType};

/// hadolint's label key grammar: lower-case letters, digits, `.` and `-`; starts with a letter,
/// ends with a letter or digit, no `..`/`--`, not in Docker's reserved namespaces.
pub(super) fn is_valid_key(k: &str) -> bool {
    let first_ok = k.chars().next().is_some_and(|c| c.is_ascii_lowercase());
    let last_ok = k
        .chars()
        .last()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let chars_ok = k
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let reserved = ["com.docker.", "io.docker.", "org.dockerproject."]
        .iter()
        .any(|p| k.starts_with(p));
    first_ok && last_ok && chars_ok && !reserved && !k.contains("..") && !k.contains("--")
}

/// The label pairs of a `LABEL` instruction, quotes removed.
pub(super) fn label_pairs(ins: &Instruction) -> Vec<(String, String)> {
    env_pairs(&ins.args)
}

/// Checks one `LABEL` instruction.
pub(super) fn check_label(c: &mut Ctx<'_>, ins: &Instruction, settings: &DockerfileSettings) {
    let pairs = label_pairs(ins);
    if let Some((k, _)) = pairs.iter().find(|(k, _)| !is_valid_key(k)) {
        c.add("DL3048", ins.line, format!("invalid label key {k:?}"));
    }
    let schema = &settings.label_schema;
    if schema.is_empty() {
        return;
    }
    if settings.strict_labels {
        if let Some((k, _)) = pairs.iter().find(|(k, _)| !schema.contains_key(k)) {
            c.add(
                "DL3050",
                ins.line,
                format!("superfluous label {k:?} (not in the label schema)"),
            );
        }
    }
    for (k, v) in &pairs {
        let Some(ty) = schema.get(k) else { continue };
        if v.is_empty() {
            c.add_each("DL3051", ins.line, format!("label `{k}` is empty"));
        }
        let (id, ok, what) = match ty {
            LabelType::Text => continue,
            LabelType::Url => ("DL3052", is_url(v), "a valid URL"),
            LabelType::Rfc3339 => ("DL3053", is_rfc3339(v), "a valid RFC 3339 time"),
            LabelType::Spdx => ("DL3054", is_spdx(v), "a valid SPDX license identifier"),
            LabelType::Hash => ("DL3055", is_git_hash(v), "a valid git hash"),
            LabelType::Semver => ("DL3056", is_semver(v), "a semantic version"),
            LabelType::Email => ("DL3058", is_email(v), "a valid e-mail address"),
        };
        if !ok {
            c.add_each(id, ins.line, format!("label `{k}` is not {what}: {v:?}"));
        }
    }
}

/// An absolute URI as RFC 3986 defines it: `scheme:` followed by URI characters only.
fn is_url(v: &str) -> bool {
    let Some((scheme, rest)) = v.split_once(':') else {
        return false;
    };
    let scheme_ok = scheme
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic())
        && scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.'));
    if !scheme_ok {
        return false;
    }
    let b = rest.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c == b'%' {
            if i + 2 >= b.len() {
                return false;
            }
            if !(b[i + 1].is_ascii_hexdigit() && b[i + 2].is_ascii_hexdigit()) {
                return false;
            }
            i += 3;
            continue;
        }
        let ok = c.is_ascii_alphanumeric() || b"-._~:/?#[]@!$&'()*+,;=".contains(&c);
        if !ok {
            return false;
        }
        i += 1;
    }
    true
}

fn digits(s: &str, n: usize) -> Option<u32> {
    (s.len() == n && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// `YYYY-MM-DDTHH:MM:SS[.frac](Z|±HH:MM)`.
fn is_rfc3339(v: &str) -> bool {
    let Some((date, time)) = v.split_once(['T', 't']) else {
        return false;
    };
    let d: Vec<&str> = date.split('-').collect();
    let date_ok = d.len() == 3
        && digits(d[0], 4).is_some()
        && digits(d[1], 2).is_some_and(|m| (1..=12).contains(&m))
        && digits(d[2], 2).is_some_and(|m| (1..=31).contains(&m));
    if !date_ok {
        return false;
    }
    let (clock, offset) = if let Some(t) = time.strip_suffix(['Z', 'z']) {
        (t, None)
    } else if let Some(i) = time.rfind(['+', '-']) {
        (&time[..i], Some(&time[i + 1..]))
    } else {
        return false;
    };
    let (hms, frac) = match clock.split_once('.') {
        Some((h, f)) => (h, Some(f)),
        None => (clock, None),
    };
    let t: Vec<&str> = hms.split(':').collect();
    let clock_ok = t.len() == 3
        && digits(t[0], 2).is_some_and(|h| h <= 23)
        && digits(t[1], 2).is_some_and(|m| m <= 59)
        && digits(t[2], 2).is_some_and(|s| s <= 60)
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
    let offset_ok = offset.is_none_or(|o| {
        o.split_once(':').is_some_and(|(h, m)| {
            digits(h, 2).is_some_and(|h| h <= 23) && digits(m, 2).is_some_and(|m| m <= 59)
        })
    });
    clock_ok && offset_ok
}

/// One SPDX license identifier (not an expression: `MIT OR Apache-2.0` and `GPL-2.0+` are not).
fn is_spdx(v: &str) -> bool {
    !v.ends_with('+') && spdx::license_id(v).is_some()
}

fn is_git_hash(v: &str) -> bool {
    (v.len() == 7 || v.len() == 40) && v.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Semantic Versioning 2.0.0: `MAJOR.MINOR.PATCH[-pre][+build]`, no leading zeros.
fn is_semver(v: &str) -> bool {
    let (rest, build) = match v.split_once('+') {
        Some((r, b)) => (r, Some(b)),
        None => (v, None),
    };
    let (core, pre) = match rest.split_once('-') {
        Some((c, p)) => (c, Some(p)),
        None => (rest, None),
    };
    let numeric = |s: &str| {
        !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) && (s == "0" || !s.starts_with('0'))
    };
    let ident =
        |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() == 3
        && parts.iter().all(|p| numeric(p))
        && pre.is_none_or(|p| {
            p.split('.')
                .all(|i| ident(i) && (!i.bytes().all(|b| b.is_ascii_digit()) || numeric(i)))
        })
        && build.is_none_or(|b| b.split('.').all(ident))
}

/// An RFC 5322 `addr-spec`: dot-atom or quoted local part, dot-atom or literal domain.
fn is_email(v: &str) -> bool {
    let Some(at) = v.rfind('@') else {
        return false;
    };
    let (local, domain) = (&v[..at], &v[at + 1..]);
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let dot_atom =
        |s: &str| !s.is_empty() && s.split('.').all(|a| !a.is_empty() && a.chars().all(atext));
    let quoted = |s: &str| {
        s.len() >= 2
            && s.starts_with('"')
            && s.ends_with('"')
            && s[1..s.len() - 1]
                .chars()
                .all(|c| c.is_ascii() && !c.is_ascii_control())
    };
    let literal = |s: &str| {
        s.starts_with('[')
            && s.ends_with(']')
            && s[1..s.len() - 1]
                .chars()
                .all(|c| c.is_ascii_graphic() && !matches!(c, '[' | ']' | '\\'))
    };
    (dot_atom(local) || quoted(local)) && (dot_atom(domain) || literal(domain))
}

/// hadolint's per-stage "missing" tracker: a stage is good once the thing is seen in it or when
/// it is built `FROM` a good stage; a bad stage named by a later `COPY --from` (DL3049 only) is
/// not reported. Bad stages are reported at their `FROM` line.
#[derive(Debug, Default)]
pub(super) struct StageTracker {
    /// (name to inherit by, FROM line, state)
    stages: Vec<(String, u32, Mark)>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mark {
    Good,
    Bad,
    Silent,
}

impl StageTracker {
    /// A new stage `FROM image [AS alias]`; `by_alias_only` is DL3049's rule that only aliased
    /// good stages are inherited from (DL3057 also matches an unaliased stage by image name).
    pub(super) fn from(
        &mut self,
        image: &str,
        alias: Option<&str>,
        line: u32,
        by_alias_only: bool,
    ) {
        let inherits = self.stages.iter().any(|(name, _, m)| {
            *m == Mark::Good && name == image && (!by_alias_only || !name.is_empty())
        });
        let name = match alias {
            Some(a) => a.to_string(),
            None if by_alias_only => String::new(),
            None => image.to_string(),
        };
        let mark = if inherits { Mark::Good } else { Mark::Bad };
        self.stages.push((name, line, mark));
    }

    /// The current stage has the thing.
    pub(super) fn good(&mut self) {
        if let Some(s) = self.stages.last_mut() {
            s.2 = Mark::Good;
        }
    }

    /// Bad stages called `name` are no longer reported.
    pub(super) fn silence(&mut self, name: &str) {
        for s in &mut self.stages {
            if s.2 == Mark::Bad && !s.0.is_empty() && s.0 == name {
                s.2 = Mark::Silent;
            }
        }
    }

    /// `FROM` lines of the stages still bad.
    pub(super) fn bad_lines(&self) -> impl Iterator<Item = u32> + '_ {
        self.stages.iter().filter(|s| s.2 == Mark::Bad).map(|s| s.1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys() {
        for ok in [
            "maintainer",
            "org.opencontainers.image.source",
            "a1",
            "com.example-x.v2",
        ] {
            assert!(is_valid_key(ok), "{ok}");
        }
        for bad in [
            "Maintainer",
            "a_b",
            "1abc",
            "abc.",
            "a..b",
            "a--b",
            "com.docker.x",
            "io.docker.y",
            "",
        ] {
            assert!(!is_valid_key(bad), "{bad}");
        }
    }

    #[test]
    fn formats() {
        assert!(is_url("https://example.com/a?b=c#d"));
        assert!(is_url("mailto:a@b.c"));
        assert!(!is_url("example.com"));
        assert!(!is_url("https://exa mple.com"));
        assert!(!is_url("https://x/%zz"));
        assert!(!is_url("https://x/%"));
        assert!(is_rfc3339("2024-01-31T12:00:00Z"));
        assert!(is_rfc3339("2024-01-31T12:00:00.123+02:00"));
        assert!(!is_rfc3339("2024-01-31"));
        assert!(!is_rfc3339("2024-13-01T00:00:00Z"));
        assert!(!is_rfc3339("2024-01-31T12:00:00"));
        assert!(is_spdx("Apache-2.0") && is_spdx("MIT"));
        assert!(!is_spdx("MIT OR Apache-2.0") && !is_spdx("GPL-2.0+") && !is_spdx("mit-ish"));
        assert!(is_git_hash("0123abc") && is_git_hash(&"a".repeat(40)));
        assert!(!is_git_hash("0123ABC") && !is_git_hash("0123abcd"));
        assert!(is_semver("1.2.3") && is_semver("1.0.0-rc.1+build.5"));
        assert!(!is_semver("1.2") && !is_semver("v1.2.3") && !is_semver("01.2.3"));
        assert!(is_email("team@example.com") && is_email("a.b+c@sub.example.org"));
        assert!(!is_email("team") && !is_email("a@") && !is_email("a..b@c") && !is_email("a b@c"));
    }

    #[test]
    fn tracker_inherits_and_silences() {
        let mut t = StageTracker::default();
        t.from("alpine:3", Some("base"), 1, true);
        t.good();
        t.from("base", None, 3, true); // inherits from a good aliased stage
        t.from("debian:12", Some("build"), 5, true);
        t.from("debian:12", None, 7, true);
        t.silence("build"); // COPY --from=build
        assert_eq!(t.bad_lines().collect::<Vec<_>>(), [7]);
    }
}
