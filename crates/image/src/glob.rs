//! Minimal glob patterns for `--skip-files` and `--skip-dirs`: `*` (within one path component),
//! `**` (any number of components), `?` (one character); a leading `/` or `./` is ignored.

/// A compiled pattern.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    parts: Vec<String>,
}

impl Glob {
    /// Compiles a pattern.
    pub fn new(pattern: &str) -> Self {
        let p = pattern.trim_start_matches("./").trim_start_matches('/');
        Glob {
            parts: p
                .split('/')
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .collect(),
        }
    }

    /// Whether `path` (relative, `/`-separated) matches the whole pattern.
    pub fn matches(&self, path: &str) -> bool {
        let comps: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match_parts(&self.parts, &comps)
    }

    /// Whether `path` is inside a directory matching the pattern (or is that directory).
    pub fn matches_dir_of(&self, path: &str) -> bool {
        let comps: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        (1..=comps.len()).any(|n| match_parts(&self.parts, &comps[..n]))
    }
}

fn match_parts(pat: &[String], comps: &[&str]) -> bool {
    match pat.split_first() {
        None => comps.is_empty(),
        Some((first, rest)) if first == "**" => {
            (0..=comps.len()).any(|i| match_parts(rest, &comps[i..]))
        }
        Some((first, rest)) => match comps.split_first() {
            Some((c, crest)) => {
                match_one(first.as_bytes(), c.as_bytes()) && match_parts(rest, crest)
            }
            None => false,
        },
    }
}

fn match_one(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| match_one(rest, &s[i..])),
        Some((b'?', rest)) => !s.is_empty() && match_one(rest, &s[1..]),
        Some((c, rest)) => s.first() == Some(c) && match_one(rest, &s[1..]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(Glob::new("**/*.jar").matches("opt/app/lib/x.jar"));
        assert!(Glob::new("**/*.jar").matches("x.jar"));
        assert!(!Glob::new("*.jar").matches("a/x.jar"));
        assert!(Glob::new("/usr/lib/python3/dist-packages")
            .matches_dir_of("usr/lib/python3/dist-packages/six.dist-info/METADATA"));
        assert!(Glob::new("usr/lib/python?").matches_dir_of("usr/lib/python3/x"));
        assert!(!Glob::new("usr/lib/python3").matches_dir_of("usr/lib/python31/x"));
    }
}
