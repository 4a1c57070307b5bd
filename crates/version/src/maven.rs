//! Maven versions, ordered like `org.apache.maven.artifact.versioning.ComparableVersion` (3.8).

use std::cmp::Ordering;

use crate::error::{version_common, ParseVersionError, Scheme};

/// Well-known qualifiers in ascending order; `""` stands for a release (`ga`, `final`, `release`).
const QUALIFIERS: [&str; 7] = ["alpha", "beta", "milestone", "rc", "snapshot", "", "sp"];
const RELEASE_INDEX: usize = 5;

/// One item of a parsed Maven version.
#[derive(Debug, Clone)]
enum Item {
    /// A number without leading zeros (as text, so any length works).
    Int(String),
    /// A qualifier after aliasing (`cr` → `rc`, `ga`/`final`/`release` → `""`).
    Str(String),
    /// A nested list, opened by `-` or a digit/letter transition.
    List(Vec<Item>),
}

/// Sort key of a qualifier: known ones by rank, unknown ones after all of them, lexically.
fn qualifier_key(q: &str) -> (usize, &str) {
    match QUALIFIERS.iter().position(|k| *k == q) {
        Some(i) => (i, ""),
        None => (QUALIFIERS.len(), q),
    }
}

impl Item {
    fn is_null(&self) -> bool {
        match self {
            Item::Int(n) => n == "0",
            Item::Str(s) => s.is_empty(),
            Item::List(l) => l.is_empty(),
        }
    }

    /// Compares with another item, `None` standing for "missing" (padding).
    fn cmp_opt(&self, other: Option<&Item>) -> Ordering {
        match (self, other) {
            (Item::Int(n), None) => {
                if n == "0" {
                    Ordering::Equal
                } else {
                    Ordering::Greater
                }
            }
            (Item::Int(a), Some(Item::Int(b))) => a.len().cmp(&b.len()).then_with(|| a.cmp(b)),
            (Item::Int(_), Some(_)) => Ordering::Greater,
            (Item::Str(s), None) => qualifier_key(s).cmp(&(RELEASE_INDEX, "")),
            (Item::Str(_), Some(Item::Int(_) | Item::List(_))) => Ordering::Less,
            (Item::Str(a), Some(Item::Str(b))) => qualifier_key(a).cmp(&qualifier_key(b)),
            (Item::List(l), None) => {
                for it in l {
                    let r = it.cmp_opt(None);
                    if r != Ordering::Equal {
                        return r;
                    }
                }
                Ordering::Equal
            }
            (Item::List(_), Some(Item::Int(_))) => Ordering::Less,
            (Item::List(_), Some(Item::Str(_))) => Ordering::Greater,
            (Item::List(a), Some(Item::List(b))) => cmp_lists(a, b),
        }
    }
}

fn cmp_lists(a: &[Item], b: &[Item]) -> Ordering {
    let n = a.len().max(b.len());
    for k in 0..n {
        let r = match (a.get(k), b.get(k)) {
            (Some(l), r) => l.cmp_opt(r),
            (None, Some(r)) => r.cmp_opt(None).reverse(),
            (None, None) => Ordering::Equal,
        };
        if r != Ordering::Equal {
            return r;
        }
    }
    Ordering::Equal
}

fn parse_item(is_digit: bool, buf: &str, followed_by_digit: bool) -> Item {
    if is_digit {
        let t = buf.trim_start_matches('0');
        return Item::Int(if t.is_empty() { "0".into() } else { t.into() });
    }
    let mut s = buf;
    if followed_by_digit && s.len() == 1 {
        s = match s {
            "a" => "alpha",
            "b" => "beta",
            "m" => "milestone",
            other => other,
        };
    }
    let s = match s {
        "ga" | "final" | "release" => "",
        "cr" => "rc",
        other => other,
    };
    Item::Str(s.to_string())
}

/// Removes trailing null items (stopping at the first non-null non-list item), as Maven does.
fn normalize(list: &mut Vec<Item>) {
    let mut i = list.len();
    while i > 0 {
        i -= 1;
        if list[i].is_null() {
            list.remove(i);
        } else if !matches!(list[i], Item::List(_)) {
            break;
        }
    }
}

/// Builds the nested item list. `path` holds the open lists; each new list is a child of the top.
fn parse_items(v: &str) -> Vec<Item> {
    // Flat representation first: each list is a Vec of items, plus child links.
    let mut stack: Vec<Vec<Item>> = vec![Vec::new()];
    let b = v.as_bytes();
    let mut is_digit = false;
    let mut start = 0;
    // Close every open list into its parent at the end; opening a list pushes a new Vec.
    for i in 0..b.len() {
        let c = b[i];
        if c == b'.' || c == b'-' {
            let top = stack.len() - 1;
            if i == start {
                stack[top].push(Item::Int("0".into()));
            } else {
                stack[top].push(parse_item(is_digit, &v[start..i], false));
            }
            start = i + 1;
            if c == b'-' {
                stack.push(Vec::new());
            }
        } else if c.is_ascii_digit() {
            if !is_digit && i > start {
                let top = stack.len() - 1;
                stack[top].push(parse_item(false, &v[start..i], true));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = true;
        } else {
            if is_digit && i > start {
                let top = stack.len() - 1;
                stack[top].push(parse_item(true, &v[start..i], false));
                start = i;
                stack.push(Vec::new());
            }
            is_digit = false;
        }
    }
    if b.len() > start {
        let top = stack.len() - 1;
        stack[top].push(parse_item(is_digit, &v[start..], false));
    }
    // Each pushed list is the last element of its parent: fold from the innermost outwards.
    while stack.len() > 1 {
        let mut child = stack.pop().unwrap_or_default(); // ok: len > 1
        normalize(&mut child);
        let top = stack.len() - 1;
        stack[top].push(Item::List(child));
    }
    let mut root = stack.pop().unwrap_or_default(); // ok: one list left
    normalize(&mut root);
    root
}

/// A Maven artifact version.
#[derive(Debug, Clone)]
pub struct MavenVersion {
    raw: String,
    items: Vec<Item>,
}

version_common!(MavenVersion);

impl MavenVersion {
    /// Parses a Maven version. Maven accepts any text; mamori rejects only empty strings,
    /// whitespace and control characters, which never occur in real versions.
    pub fn parse(input: &str) -> Result<Self, ParseVersionError> {
        let s = input.trim();
        if s.is_empty() {
            return Err(ParseVersionError::new(
                Scheme::Maven,
                input,
                "version is empty",
            ));
        }
        if let Some(c) = s.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(ParseVersionError::new(
                Scheme::Maven,
                input,
                format!("invalid character {c:?}"),
            ));
        }
        let lower = s.to_lowercase();
        Ok(MavenVersion {
            raw: s.to_string(),
            items: parse_items(&lower),
        })
    }
}

impl Ord for MavenVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_lists(&self.items, &other.items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> MavenVersion {
        MavenVersion::parse(s).unwrap() // ok: test input
    }

    #[test]
    fn notes_vectors() {
        assert_eq!(v("1.0-alpha1"), v("1.0-a1"));
        assert!(v("1.0-beta1") < v("1.0-milestone1"));
        assert!(v("1.0-rc1") < v("1.0-SNAPSHOT"));
        assert_eq!(v("1.0-final"), v("1.0"));
        assert_eq!(v("1.0.Final"), v("1.0"));
        assert!(v("1.0-foo") < v("1.0-1"));
        assert!(v("1.0.1") > v("1.0-2"));
        assert!(v("1.0-jre") > v("1.0-android"));
        assert!(v("1.0.0.0.0") == v("1"));
    }

    #[test]
    fn errors_say_why() {
        assert!(MavenVersion::parse("").is_err());
        assert!(MavenVersion::parse("1 0").is_err());
    }
}
