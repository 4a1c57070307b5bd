//! Container image references: `[REGISTRY[:PORT]/]REPOSITORY[:TAG][@DIGEST]`.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The registry assumed when a reference names none.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed image reference, normalised the way container runtimes do: a reference without a
/// registry is on Docker Hub, and a one-component Docker Hub repository is under `library/`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ImageRef {
    /// Registry host, with port if given (`docker.io`, `127.0.0.1:5000`).
    pub registry: String,
    /// Repository path (`library/nginx`, `team/app`).
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// Digest (`sha256:…`), if given.
    pub digest: Option<String>,
}

/// Why a string is not an image reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ParseImageRefError {
    /// The reference is empty.
    #[error("empty image reference")]
    Empty,
    /// The repository part is not valid.
    #[error("invalid repository {0:?}: path components are lowercase letters, digits and separators (. _ __ -)")]
    Repository(String),
    /// The tag is not valid.
    #[error("invalid tag {0:?}: up to 128 letters, digits, '_', '.' or '-', not starting with '.' or '-'")]
    Tag(String),
    /// The digest is not valid.
    #[error("invalid digest {0:?}: expected ALGORITHM:HEX, e.g. sha256 followed by 64 hex digits")]
    Digest(String),
}

impl ImageRef {
    /// The tag, or `latest` when neither tag nor digest is given (what a runtime would pull).
    pub fn effective_tag(&self) -> Option<&str> {
        match (&self.tag, &self.digest) {
            (Some(t), _) => Some(t),
            (None, None) => Some("latest"),
            (None, Some(_)) => None,
        }
    }

    /// Whether the reference would pull `latest`, explicitly or by default.
    pub fn is_latest(&self) -> bool {
        self.digest.is_none() && self.effective_tag() == Some("latest")
    }

    /// The last path component of the repository (`nginx` for `library/nginx`).
    pub fn name(&self) -> &str {
        self.repository
            .rsplit('/')
            .next()
            .unwrap_or(&self.repository)
    }
}

impl FromStr for ImageRef {
    type Err = ParseImageRefError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseImageRefError::Empty);
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !is_valid_digest(d) {
                    return Err(ParseImageRefError::Digest(d.to_string()));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        // A ':' after the last '/' separates the tag; one before it is a registry port.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => {
                let t = &rest[last_slash + i + 1..];
                if !is_valid_tag(t) {
                    return Err(ParseImageRefError::Tag(t.to_string()));
                }
                (&rest[..last_slash + i], Some(t.to_string()))
            }
            None => (rest, None),
        };
        let (registry, repository) = match name.split_once('/') {
            Some((first, path))
                if first.contains('.') || first.contains(':') || first == "localhost" =>
            {
                (first.to_string(), path.to_string())
            }
            _ => (DEFAULT_REGISTRY.to_string(), name.to_string()),
        };
        let repository = if registry == DEFAULT_REGISTRY && !repository.contains('/') {
            format!("library/{repository}")
        } else {
            repository
        };
        if !is_valid_repository(&repository) {
            return Err(ParseImageRefError::Repository(repository));
        }
        Ok(ImageRef {
            registry,
            repository,
            tag,
            digest,
        })
    }
}

impl fmt::Display for ImageRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

fn is_valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && !t.starts_with(['.', '-'])
        && t.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'))
}

fn is_valid_digest(d: &str) -> bool {
    let Some((alg, hex)) = d.split_once(':') else {
        return false;
    };
    let alg_ok = !alg.is_empty()
        && alg
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '+' | '.' | '_' | '-'));
    let hex_ok = hex.len() >= 32 && hex.chars().all(|c| c.is_ascii_hexdigit());
    let sha256_ok = alg != "sha256" || hex.len() == 64;
    alg_ok && hex_ok && sha256_ok
}

fn is_valid_repository(r: &str) -> bool {
    !r.is_empty()
        && r.split('/').all(|part| {
            !part.is_empty()
                && part.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.ends_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
                && part.chars().all(|c| {
                    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '_' | '-')
                })
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> ImageRef {
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    #[test]
    fn docker_hub_short_names_are_normalised() {
        let r = parse("nginx");
        assert_eq!(r.registry, "docker.io");
        assert_eq!(r.repository, "library/nginx");
        assert!(r.is_latest());
        assert_eq!(r.to_string(), "docker.io/library/nginx");
    }

    #[test]
    fn registry_with_port_is_not_a_tag() {
        let r = parse("127.0.0.1:5000/team/app:1.2");
        assert_eq!(r.registry, "127.0.0.1:5000");
        assert_eq!(r.repository, "team/app");
        assert_eq!(r.tag.as_deref(), Some("1.2"));
        assert_eq!(r.name(), "app");
    }

    #[test]
    fn digests_pin_the_image() {
        let d = format!("sha256:{}", "a".repeat(64));
        let r = parse(&format!("ghcr.io/o/app@{d}"));
        assert_eq!(r.digest.as_deref(), Some(d.as_str()));
        assert!(!r.is_latest());
        assert_eq!(r.effective_tag(), None);
    }

    #[test]
    fn bad_references_say_why() {
        assert_eq!("".parse::<ImageRef>(), Err(ParseImageRefError::Empty));
        assert!(matches!("Nginx".parse::<ImageRef>(), Err(ParseImageRefError::Repository(_))));
        assert!(matches!("nginx:-x".parse::<ImageRef>(), Err(ParseImageRefError::Tag(_))));
        assert!(matches!("nginx@sha256:abc".parse::<ImageRef>(), Err(ParseImageRefError::Digest(_))));
    }
}
