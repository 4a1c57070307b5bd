//! Go module versions: SemVer with a `v` prefix, pseudo-versions and `+incompatible`.

use std::cmp::Ordering;

use crate::error::{version_common, ParseVersionError, Scheme};
use crate::semver::{parse_core, Core, Ident};

/// A Go module version (`v1.2.3`, `v0.0.0-20210101000000-abcdef123456`, `v2.0.0+incompatible`).
///
/// The `v` is optional here because OSV `Go` records write versions without it. Like
/// `golang.org/x/mod/semver`, the shorthands `v1` and `v1.2` mean `v1.0.0` and `v1.2.0`.
/// Pseudo-versions are ordinary pre-releases, so SemVer ordering places them correctly.
#[derive(Debug, Clone)]
pub struct GoVersion {
    raw: String,
    core: Core,
}

version_common!(GoVersion);

impl GoVersion {
    /// Parses a Go module version.
    pub fn parse(input: &str) -> Result<Self, ParseVersionError> {
        let s = input.trim();
        let body = s.strip_prefix('v').unwrap_or(s);
        let core =
            parse_core(body, 1).map_err(|why| ParseVersionError::new(Scheme::Go, input, why))?;
        Ok(GoVersion {
            raw: s.to_string(),
            core,
        })
    }

    /// Whether this is a pseudo-version (a pre-release ending in `yyyymmddhhmmss-<12 hex>`).
    pub fn is_pseudo(&self) -> bool {
        let pre = &self.core.pre;
        let Some(Ident::Alnum(last)) = pre.last() else {
            return false;
        };
        let Some((stamp, hash)) = last.split_once('-') else {
            return false;
        };
        let stamp_ok = |t: &str| t.len() == 14 && t.bytes().all(|b| b.is_ascii_digit());
        let hash_ok = hash.len() == 12 && hash.bytes().all(|b| b.is_ascii_hexdigit());
        // `v0.0.0-<stamp>-<hash>` has the stamp fused with the hash in one identifier;
        // `vX.Y.Z-0.<stamp>-<hash>` and `vX.Y.Z-pre.0.<stamp>-<hash>` have it after `0.`.
        stamp_ok(stamp.rsplit('.').next().unwrap_or(stamp)) && hash_ok // ok: rsplit yields ≥1 item
    }

    /// Whether the text carries `+incompatible`.
    pub fn is_incompatible(&self) -> bool {
        self.raw.ends_with("+incompatible")
    }
}

impl Ord for GoVersion {
    fn cmp(&self, other: &Self) -> Ordering {
        self.core.cmp(&other.core)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v(s: &str) -> GoVersion {
        GoVersion::parse(s).unwrap() // ok: test input
    }

    #[test]
    fn notes_vectors() {
        assert!(v("v1.2.3-0.20210101000000-abcdefabcdef") < v("v1.2.3"));
        assert!(v("v1.2.3-pre.0.20210101000000-abcdefabcdef") > v("v1.2.3-pre"));
        assert!(v("v1.0.0-alpha.10") > v("v1.0.0-alpha.9"));
        assert_eq!(v("v1.2"), v("v1.2.0"));
        assert_eq!(v("1.21.3"), v("v1.21.3"));
        assert!(v("v0.0.0-20210101000000-abcdefabcdef").is_pseudo());
        assert!(v("v1.2.4-0.20210101000000-abcdefabcdef").is_pseudo());
        assert!(!v("v1.2.4-rc.1").is_pseudo());
        assert!(v("v2.0.0+incompatible").is_incompatible());
    }

    #[test]
    fn errors_say_why() {
        assert!(GoVersion::parse("v01.2.3").is_err());
        assert!(GoVersion::parse("v1.2-pre").is_err());
        assert!(GoVersion::parse("latest").is_err());
    }
}
