//! Inline suppressions: `# mamori:ignore=ID[,ID] reason` in YAML and Dockerfiles (and hadolint's
//! `# hadolint ignore=DLxxxx` in Dockerfiles, for teams switching over).
//!
//! In YAML, a comment on its own line suppresses the ids for the whole document it is in (the
//! lines between `---` separators); a comment at the end of a line suppresses them on that line.
//! In a Dockerfile, a comment line suppresses the ids on the next instruction.

/// Suppressed ids over a range of lines (inclusive, 1-based).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suppression {
    /// First line covered.
    pub first: u32,
    /// Last line covered.
    pub last: u32,
    /// Rule ids (`all` suppresses every rule).
    pub ids: Vec<String>,
    /// Written as a hadolint pragma (`# hadolint ignore=`), which `.hadolint.yaml`
    /// `disable-ignore-pragma` turns off.
    pub hadolint: bool,
}

impl Suppression {
    /// Whether `rule_id` at `line` is covered.
    pub fn covers(&self, rule_id: &str, line: u32) -> bool {
        line >= self.first
            && line <= self.last
            && self.ids.iter().any(|i| i == rule_id || i == "all")
    }
}

/// An ignore comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pragma {
    /// The rule ids.
    pub ids: Vec<String>,
    /// `# hadolint ignore=` or `# hadolint global ignore=` rather than `# mamori:ignore=`.
    pub hadolint: bool,
    /// `# hadolint global ignore=`: the whole file.
    pub global: bool,
}

/// Parses an ignore comment: `# mamori:ignore=ID[,ID] reason`, `# hadolint ignore=ID[,ID]` or
/// `# hadolint global ignore=ID[,ID]`.
pub fn parse_pragma(comment: &str) -> Option<Pragma> {
    let body = comment.trim_start_matches('#').trim();
    let (rest, hadolint, global) = if let Some(r) = body.strip_prefix("mamori:ignore=") {
        (r, false, false)
    } else if let Some(r) = body.strip_prefix("hadolint") {
        let r = r.trim_start();
        match r.strip_prefix("global") {
            Some(g) => (g.trim_start().strip_prefix("ignore=")?, true, true),
            None => (r.strip_prefix("ignore=")?, true, false),
        }
    } else {
        return None;
    };
    let ids = ids_of(rest)?;
    Some(Pragma {
        ids,
        hadolint,
        global,
    })
}

/// Parses the ids of a `mamori:ignore=` (or `hadolint ignore=`) comment body.
pub fn parse_ignore(comment: &str) -> Option<Vec<String>> {
    parse_pragma(comment).map(|p| p.ids)
}

fn ids_of(rest: &str) -> Option<Vec<String>> {
    let ids_part = rest.split_whitespace().next().unwrap_or("");
    let ids: Vec<String> = ids_part
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect();
    (!ids.is_empty()).then_some(ids)
}

/// Finds suppressions in a YAML text.
pub fn yaml_suppressions(text: &str) -> Vec<Suppression> {
    let mut out = Vec::new();
    let mut doc_start = 1u32;
    let mut pending: Vec<Vec<String>> = Vec::new();
    let mut line_no = 0u32;
    for line in text.lines() {
        line_no += 1;
        if line.starts_with("---") {
            for ids in pending.drain(..) {
                out.push(Suppression {
                    first: doc_start,
                    last: line_no,
                    ids,
                    hadolint: false,
                });
            }
            doc_start = line_no;
            continue;
        }
        let Some(idx) = line.find("mamori:ignore=") else {
            continue;
        };
        let Some(hash) = line[..idx].rfind('#') else {
            continue;
        };
        let Some(ids) = parse_ignore(&line[hash..]) else {
            continue;
        };
        if line[..hash].trim().is_empty() {
            pending.push(ids);
        } else {
            out.push(Suppression {
                first: line_no,
                last: line_no,
                ids,
                hadolint: false,
            });
        }
    }
    for ids in pending {
        out.push(Suppression {
            first: doc_start,
            last: u32::MAX,
            ids,
            hadolint: false,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn yaml_document_and_line_scopes() {
        let text = "a: 1\n---\n# mamori:ignore=MK-K8S-001 reviewed\nkind: Pod\n---\nb: 2 # mamori:ignore=X,Y\n";
        let s = yaml_suppressions(text);
        assert!(s.iter().any(|s| s.covers("MK-K8S-001", 4)));
        assert!(!s.iter().any(|s| s.covers("MK-K8S-001", 1)));
        assert!(!s.iter().any(|s| s.covers("MK-K8S-001", 6)));
        assert!(s.iter().any(|s| s.covers("Y", 6)));
    }

    #[test]
    fn parse_forms() {
        assert_eq!(
            parse_ignore("# hadolint ignore=DL3008,DL3009"),
            Some(vec!["DL3008".into(), "DL3009".into()])
        );
        assert_eq!(
            parse_ignore("# mamori:ignore=A why"),
            Some(vec!["A".into()])
        );
        assert_eq!(parse_ignore("# nothing"), None);
        let g = parse_pragma("# hadolint global ignore=DL3003,DL3006").unwrap();
        assert!(g.global && g.hadolint && g.ids == ["DL3003", "DL3006"]);
        let m = parse_pragma("# mamori:ignore=DL3003").unwrap();
        assert!(!m.global && !m.hadolint);
        assert_eq!(parse_pragma("# hadolint shell=powershell"), None);
    }
}
