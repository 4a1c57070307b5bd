//! Suppression of matches: `.mamoriignore` rules and OpenVEX statements.
//!
//! `.mamoriignore`, one rule per line (`#` starts a comment line):
//!
//! ```text
//! # id            optional expiry    optional package        reason (required)
//! CVE-2023-46136  exp:2026-12-31     pkg:pypi/werkzeug       reason: upload parsing not used
//! GO-2024-3228                       package:github.com/coder/coder/v2  reason: not built in
//! ```
//!
//! A rule matches when its id is the advisory id, a merged id or an alias of the match, its
//! expiry (if any) is today or later, and its package (purl without version = any version, or a
//! plain package name) fits. OpenVEX statements with status `not_affected` or `fixed` suppress
//! (their justification/impact statement becomes the reason); `affected` and
//! `under_investigation` do not. Suppressed matches are marked, never removed.

use std::path::Path;
use std::str::FromStr;

use mamori_core::{Package, Purl};
use serde::{Deserialize, Serialize};

use crate::matching::Match;

/// Why a match is suppressed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Suppression {
    /// `ignore` (a `.mamoriignore` rule) or `vex` (an OpenVEX statement).
    pub kind: String,
    /// Where the rule is (`.mamoriignore:3`, `app.vex.json#statements[1]`).
    pub source: String,
    /// VEX status (`not_affected`, `fixed`), for VEX suppressions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// The reason or justification given.
    pub reason: String,
}

/// Bad suppression input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SuppressError {
    /// A `.mamoriignore` line is invalid.
    #[error("{file}:{line}:{column}: {why}")]
    Ignore {
        /// File name.
        file: String,
        /// Line (1-based).
        line: usize,
        /// Column (1-based).
        column: usize,
        /// What is wrong.
        why: String,
    },
    /// An OpenVEX document is invalid.
    #[error("{file}: {why}")]
    Vex {
        /// File name.
        file: String,
        /// What is wrong.
        why: String,
    },
    /// The file cannot be read.
    #[error("cannot read {file}: {why}")]
    Io {
        /// File name.
        file: String,
        /// Cause.
        why: String,
    },
}

/// What a rule or statement applies to.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Target {
    Any,
    Purl(Purl),
    Name(String),
}

impl Target {
    fn applies(&self, pkg: &Package, m: &Match) -> bool {
        match self {
            Target::Any => true,
            Target::Name(n) => {
                n == &pkg.name || n == &m.package || pkg.source_name.as_deref() == Some(n)
            }
            Target::Purl(want) => {
                let have = pkg
                    .purl
                    .as_deref()
                    .and_then(|p| Purl::from_str(p).ok())
                    .unwrap_or_else(|| Purl::new(pkg.ecosystem.purl_type(), &pkg.name));
                let norm = |s: &str| s.to_ascii_lowercase();
                norm(&want.ty) == norm(&have.ty)
                    && want.namespace.as_deref().map(norm) == have.namespace.as_deref().map(norm)
                    && norm(&want.name) == norm(&have.name)
                    && want
                        .version
                        .as_ref()
                        .is_none_or(|v| v == &pkg.version || have.version.as_ref() == Some(v))
            }
        }
    }
}

#[derive(Debug, Clone)]
struct Rule {
    ids: Vec<String>,
    expires: Option<time::Date>,
    target: Target,
    suppression: Suppression,
}

/// A set of ignore rules and VEX statements.
#[derive(Debug, Clone, Default)]
pub struct Suppressions {
    rules: Vec<Rule>,
}

#[derive(Debug, Deserialize)]
struct RawVex {
    #[serde(rename = "@context")]
    context: Option<String>,
    #[serde(default)]
    statements: Vec<RawStatement>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawVuln {
    Name(String),
    Object {
        name: Option<String>,
        #[serde(rename = "@id")]
        id: Option<String>,
        #[serde(default)]
        aliases: Vec<String>,
    },
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum RawProduct {
    Id(String),
    Object {
        #[serde(rename = "@id")]
        id: Option<String>,
        #[serde(default)]
        identifiers: Option<serde_json::Map<String, serde_json::Value>>,
    },
}

#[derive(Debug, Deserialize)]
struct RawStatement {
    vulnerability: Option<RawVuln>,
    #[serde(default)]
    products: Vec<RawProduct>,
    status: Option<String>,
    justification: Option<String>,
    impact_statement: Option<String>,
    status_notes: Option<String>,
}

fn product_target(p: &RawProduct) -> Option<Target> {
    let id = match p {
        RawProduct::Id(s) => Some(s.clone()),
        RawProduct::Object { id, identifiers } => identifiers
            .as_ref()
            .and_then(|m| m.get("purl"))
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or_else(|| id.clone()),
    }?;
    Some(match Purl::from_str(&id) {
        Ok(p) => Target::Purl(p),
        Err(_) => Target::Name(id),
    })
}

impl Suppressions {
    /// An empty set.
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether there are no rules.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Adds the rules of a `.mamoriignore` text; `file` names it in errors and reports.
    pub fn add_ignore(&mut self, file: &str, text: &str) -> Result<(), SuppressError> {
        for (ln, line) in text.lines().enumerate() {
            let trimmed = line.trim_start();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            let err = |col: usize, why: String| SuppressError::Ignore {
                file: file.to_string(),
                line: ln + 1,
                column: col + 1,
                why,
            };
            let mut id = None;
            let mut expires = None;
            let mut target = Target::Any;
            let mut reason = None;
            let mut rest = line;
            let mut offset = 0;
            while let Some(start) = rest.find(|c: char| !c.is_whitespace()) {
                let tok_rest = &rest[start..];
                let col = offset + start;
                if let Some(r) = tok_rest
                    .strip_prefix("reason:")
                    .or_else(|| tok_rest.strip_prefix('#'))
                {
                    reason = Some(r.trim().to_string());
                    break;
                }
                let end = tok_rest.find(char::is_whitespace).unwrap_or(tok_rest.len());
                let tok = &tok_rest[..end];
                if let Some(d) = tok.strip_prefix("exp:") {
                    let fmt = time::macros::format_description!("[year]-[month]-[day]");
                    expires = Some(time::Date::parse(d, &fmt).map_err(|_| {
                        err(col, format!("expiry {d:?} is not a date (YYYY-MM-DD)"))
                    })?);
                } else if tok.starts_with("pkg:") {
                    target = Target::Purl(
                        Purl::from_str(tok).map_err(|e| err(col, format!("bad purl: {e}")))?,
                    );
                } else if let Some(n) = tok.strip_prefix("package:") {
                    if n.is_empty() {
                        return Err(err(col, "empty package name".into()));
                    }
                    target = Target::Name(n.to_string());
                } else if id.is_none() {
                    id = Some(tok.to_string());
                } else {
                    // Free text after the id without `reason:` is the reason.
                    reason = Some(tok_rest.trim().to_string());
                    break;
                }
                offset = col + end;
                rest = &tok_rest[end..];
            }
            let id = id.ok_or_else(|| err(0, "no vulnerability id".into()))?;
            let reason = reason
                .filter(|r| !r.is_empty())
                .ok_or_else(|| err(line.len(), format!("rule for {id} has no reason")))?;
            self.rules.push(Rule {
                ids: vec![id],
                expires,
                target,
                suppression: Suppression {
                    kind: "ignore".into(),
                    source: format!("{file}:{}", ln + 1),
                    status: None,
                    reason,
                },
            });
        }
        Ok(())
    }

    /// Adds the statements of an OpenVEX JSON document.
    pub fn add_openvex(&mut self, file: &str, text: &str) -> Result<(), SuppressError> {
        let verr = |why: String| SuppressError::Vex {
            file: file.to_string(),
            why,
        };
        let doc: RawVex = serde_json::from_str(text).map_err(|e| verr(e.to_string()))?;
        if !doc
            .context
            .as_deref()
            .is_some_and(|c| c.contains("openvex"))
        {
            return Err(verr(
                "not an OpenVEX document (@context does not name openvex)".into(),
            ));
        }
        for (i, st) in doc.statements.into_iter().enumerate() {
            let at = |why: &str| verr(format!("statements[{i}]: {why}"));
            let status = st.status.ok_or_else(|| at("no status"))?;
            let ids = match st.vulnerability.ok_or_else(|| at("no vulnerability"))? {
                RawVuln::Name(n) => vec![n],
                RawVuln::Object { name, id, aliases } => {
                    name.into_iter().chain(id).chain(aliases).collect()
                }
            };
            if ids.is_empty() {
                return Err(at("vulnerability has no name"));
            }
            match status.as_str() {
                "not_affected" | "fixed" => {}
                "affected" | "under_investigation" => continue,
                other => return Err(at(&format!("unknown status {other:?}"))),
            }
            if status == "not_affected"
                && st.justification.is_none()
                && st.impact_statement.is_none()
            {
                return Err(at("not_affected needs a justification or impact_statement"));
            }
            let reason = [st.justification, st.impact_statement, st.status_notes]
                .into_iter()
                .flatten()
                .collect::<Vec<_>>()
                .join(": ");
            let targets: Vec<Target> = if st.products.is_empty() {
                vec![Target::Any]
            } else {
                st.products.iter().filter_map(product_target).collect()
            };
            for target in targets {
                self.rules.push(Rule {
                    ids: ids.clone(),
                    expires: None,
                    target,
                    suppression: Suppression {
                        kind: "vex".into(),
                        source: format!("{file}#statements[{i}]"),
                        status: Some(status.clone()),
                        reason: if reason.is_empty() {
                            status.clone()
                        } else {
                            reason.clone()
                        },
                    },
                });
            }
        }
        Ok(())
    }

    /// Loads a file: OpenVEX when it parses as JSON with an `@context`, else `.mamoriignore`.
    pub fn add_file(&mut self, path: &Path) -> Result<(), SuppressError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| SuppressError::Io {
            file: file.clone(),
            why: e.to_string(),
        })?;
        if text.trim_start().starts_with('{') {
            self.add_openvex(&file, &text)
        } else {
            self.add_ignore(&file, &text)
        }
    }

    /// Marks the matches of `pkg` that a rule applies to (first applicable rule wins); rules
    /// expired before `today` are ignored. Returns how many were marked.
    pub fn apply(&self, pkg: &Package, matches: &mut [Match], today: time::Date) -> usize {
        let mut n = 0;
        for m in matches.iter_mut() {
            let hit = self.rules.iter().find(|r| {
                r.expires.is_none_or(|d| d >= today)
                    && r.ids
                        .iter()
                        .any(|id| m.all_ids().any(|x| x.eq_ignore_ascii_case(id)))
                    && r.target.applies(pkg, m)
            });
            if let Some(r) = hit {
                m.suppressed = Some(r.suppression.clone());
                n += 1;
            }
        }
        n
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mamori_core::Ecosystem;

    fn m(id: &str, aliases: &[&str]) -> Match {
        Match {
            advisory_id: id.into(),
            aliases: aliases.iter().map(|s| s.to_string()).collect(),
            merged_ids: vec![],
            summary: None,
            severity: None,
            ecosystem: "PyPI".into(),
            package: "werkzeug".into(),
            version: "2.3.7".into(),
            matched: vec![],
            fixed_versions: vec![],
            fix_available: false,
            suppressed: None,
        }
    }

    fn day(s: &str) -> time::Date {
        time::Date::parse(s, time::macros::format_description!("[year]-[month]-[day]")).unwrap()
        // ok: test
    }

    #[test]
    fn ignore_file_rules() {
        let mut s = Suppressions::new();
        s.add_ignore(
            ".mamoriignore",
            "# comment\n\nCVE-2023-46136 exp:2026-12-31 pkg:pypi/werkzeug reason: not reachable\nPYSEC-2000-1 package:other free text reason\n",
        )
        .unwrap(); // ok: test
        let pkg = Package::new(Ecosystem::PyPI, "werkzeug", "2.3.7");
        let mut ms = vec![
            m("PYSEC-2023-221", &["CVE-2023-46136"]),
            m("PYSEC-2000-1", &[]),
        ];
        assert_eq!(s.apply(&pkg, &mut ms, day("2026-12-31")), 1);
        let sup = ms[0].suppressed.as_ref().unwrap(); // ok: test
        assert_eq!(sup.reason, "not reachable");
        assert_eq!(sup.source, ".mamoriignore:3");
        assert!(
            ms[1].suppressed.is_none(),
            "package:other does not apply to werkzeug"
        );
        // Expired the day after.
        let mut ms = vec![m("PYSEC-2023-221", &["CVE-2023-46136"])];
        assert_eq!(s.apply(&pkg, &mut ms, day("2027-01-01")), 0);
        // A purl of another package does not apply.
        let other = Package::new(Ecosystem::PyPI, "flask", "2.3.7");
        assert_eq!(
            s.apply(
                &other,
                &mut [m("PYSEC-2023-221", &["CVE-2023-46136"])],
                day("2026-01-01")
            ),
            0
        );
    }

    #[test]
    fn ignore_file_errors_have_positions() {
        let mut s = Suppressions::new();
        let e = s
            .add_ignore("x", "CVE-1 exp:31-12-2026 reason: r")
            .unwrap_err(); // ok: test
        assert_eq!(
            e.to_string(),
            "x:1:7: expiry \"31-12-2026\" is not a date (YYYY-MM-DD)"
        );
        let e = s.add_ignore("x", "ok-1 reason: fine\nCVE-2").unwrap_err(); // ok: test
        assert!(e.to_string().starts_with("x:2:"), "{e}");
        assert!(e.to_string().contains("no reason"));
    }

    #[test]
    fn openvex_statements() {
        let doc = r#"{
          "@context": "https://openvex.dev/ns/v0.2.0",
          "statements": [
            {"vulnerability": {"name": "CVE-2023-46136"}, "products": [{"@id": "pkg:pypi/werkzeug@2.3.7"}],
             "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"},
            {"vulnerability": {"name": "CVE-2024-1"}, "products": ["pkg:pypi/werkzeug"], "status": "affected"},
            {"vulnerability": "CVE-2024-2", "status": "fixed"}
          ]
        }"#;
        let mut s = Suppressions::new();
        s.add_openvex("app.vex.json", doc).unwrap(); // ok: test
        let pkg = Package::new(Ecosystem::PyPI, "werkzeug", "2.3.7");
        let mut ms = vec![
            m("PYSEC-2023-221", &["CVE-2023-46136"]),
            m("PYSEC-2024-1", &["CVE-2024-1"]),
            m("PYSEC-2024-2", &["CVE-2024-2"]),
        ];
        assert_eq!(s.apply(&pkg, &mut ms, day("2026-01-01")), 2);
        let a = ms[0].suppressed.as_ref().unwrap(); // ok: test
        assert_eq!(a.status.as_deref(), Some("not_affected"));
        assert_eq!(a.reason, "vulnerable_code_not_in_execute_path");
        assert!(ms[1].suppressed.is_none(), "affected keeps the match");
        assert_eq!(
            ms[2].suppressed.as_ref().and_then(|s| s.status.as_deref()),
            Some("fixed")
        );
        // A different version is not covered by a versioned product purl.
        let newer = Package::new(Ecosystem::PyPI, "werkzeug", "2.3.6");
        assert_eq!(
            s.apply(
                &newer,
                &mut [m("PYSEC-2023-221", &["CVE-2023-46136"])],
                day("2026-01-01")
            ),
            0
        );
        assert!(s.add_openvex("x", "{\"statements\": []}").is_err());
        assert!(s
            .add_openvex("x", r#"{"@context":"https://openvex.dev/ns/v0.2.0","statements":[{"vulnerability":"C","status":"not_affected"}]}"#)
            .unwrap_err() // ok: test
            .to_string()
            .contains("justification"));
    }
}
