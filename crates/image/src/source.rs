//! Image references with a transport prefix, and the `--platform` value.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use mamori_core::ImageRef;

use crate::error::ParseSourceError;

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceRef {
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    OciDir {
        /// The layout directory.
        dir: PathBuf,
        /// Tag (`org.opencontainers.image.ref.name`), if given.
        tag: Option<String>,
    },
    /// `oci-archive:FILE[:TAG]`: a tar of an OCI image layout.
    OciArchive {
        /// The archive.
        file: PathBuf,
        /// Tag, if given.
        tag: Option<String>,
    },
    /// `docker-archive:FILE`: the `docker save` format.
    DockerArchive {
        /// The archive.
        file: PathBuf,
    },
    /// `dir:ROOTFS`: a plain root file system (one layer).
    Dir {
        /// The root.
        root: PathBuf,
    },
    /// A registry reference (`HOST[:PORT]/REPO[:TAG|@DIGEST]`).
    Registry(ImageRef),
}

/// Splits `PATH[:TAG]`: a tag follows the last `:` when it has no `/`.
fn split_tag(s: &str) -> (PathBuf, Option<String>) {
    match s.rsplit_once(':') {
        Some((p, t)) if !p.is_empty() && !t.is_empty() && !t.contains('/') => {
            (PathBuf::from(p), Some(t.to_string()))
        }
        _ => (PathBuf::from(s), None),
    }
}

impl FromStr for SourceRef {
    type Err = ParseSourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if s.is_empty() {
            return Err(ParseSourceError::Empty);
        }
        let need = |rest: &str| {
            if rest.is_empty() {
                Err(ParseSourceError::MissingPath(s.to_string()))
            } else {
                Ok(())
            }
        };
        if let Some(rest) = s.strip_prefix("oci:") {
            need(rest)?;
            let (dir, tag) = if std::path::Path::new(rest).is_dir() {
                (PathBuf::from(rest), None)
            } else {
                split_tag(rest)
            };
            return Ok(SourceRef::OciDir { dir, tag });
        }
        if let Some(rest) = s.strip_prefix("oci-archive:") {
            need(rest)?;
            let (file, tag) = if std::path::Path::new(rest).is_file() {
                (PathBuf::from(rest), None)
            } else {
                split_tag(rest)
            };
            return Ok(SourceRef::OciArchive { file, tag });
        }
        if let Some(rest) = s.strip_prefix("docker-archive:") {
            need(rest)?;
            // A `:repo:tag` suffix names an image inside a multi-image archive; only the file is
            // used (the first image is read).
            let file = if std::path::Path::new(rest).is_file() {
                PathBuf::from(rest)
            } else {
                PathBuf::from(rest.split(':').next().unwrap_or(rest))
            };
            return Ok(SourceRef::DockerArchive { file });
        }
        if let Some(rest) = s.strip_prefix("dir:") {
            need(rest)?;
            return Ok(SourceRef::Dir {
                root: PathBuf::from(rest),
            });
        }
        let r = s
            .strip_prefix("docker://")
            .or_else(|| s.strip_prefix("registry:"))
            .unwrap_or(s);
        r.parse::<ImageRef>()
            .map(SourceRef::Registry)
            .map_err(|e| ParseSourceError::Registry {
                input: s.to_string(),
                reason: e.to_string(),
            })
    }
}

impl fmt::Display for SourceRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let tag = |t: &Option<String>| t.as_ref().map(|t| format!(":{t}")).unwrap_or_default();
        match self {
            SourceRef::OciDir { dir, tag: t } => write!(f, "oci:{}{}", dir.display(), tag(t)),
            SourceRef::OciArchive { file, tag: t } => {
                write!(f, "oci-archive:{}{}", file.display(), tag(t))
            }
            SourceRef::DockerArchive { file } => write!(f, "docker-archive:{}", file.display()),
            SourceRef::Dir { root } => write!(f, "dir:{}", root.display()),
            SourceRef::Registry(r) => write!(f, "{r}"),
        }
    }
}

/// A platform: `OS/ARCH[/VARIANT]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Platform {
    /// Operating system (`linux`).
    pub os: String,
    /// Architecture (`amd64`, `arm64`).
    pub architecture: String,
    /// Variant (`v8`), if given.
    pub variant: Option<String>,
}

impl Default for Platform {
    fn default() -> Self {
        Platform {
            os: "linux".into(),
            architecture: "amd64".into(),
            variant: None,
        }
    }
}

impl FromStr for Platform {
    type Err = ParseSourceError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        let ok =
            |p: &str| !p.is_empty() && p.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        match parts.as_slice() {
            [os, arch] if ok(os) && ok(arch) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: None,
            }),
            [os, arch, v] if ok(os) && ok(arch) && ok(v) => Ok(Platform {
                os: os.to_string(),
                architecture: arch.to_string(),
                variant: Some(v.to_string()),
            }),
            _ => Err(ParseSourceError::Platform(s.to_string())),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_transports() {
        assert_eq!(
            "oci:/tmp/x:bookworm".parse::<SourceRef>(),
            Ok(SourceRef::OciDir {
                dir: "/tmp/x".into(),
                tag: Some("bookworm".into())
            })
        );
        assert_eq!(
            "oci:./lay".parse::<SourceRef>(),
            Ok(SourceRef::OciDir {
                dir: "./lay".into(),
                tag: None
            })
        );
        assert_eq!(
            "docker-archive:/t/a.tar".parse::<SourceRef>(),
            Ok(SourceRef::DockerArchive {
                file: "/t/a.tar".into()
            })
        );
        assert_eq!(
            "dir:/".parse::<SourceRef>(),
            Ok(SourceRef::Dir { root: "/".into() })
        );
        assert!(matches!(
            "127.0.0.1:5000/a/b:1".parse::<SourceRef>(),
            Ok(SourceRef::Registry(_))
        ));
        assert_eq!(
            "oci:".parse::<SourceRef>(),
            Err(ParseSourceError::MissingPath("oci:".into()))
        );
        let e = "Bad Ref".parse::<SourceRef>().expect_err("bad");
        assert!(e.to_string().contains("oci:DIR"), "{e}");
    }

    #[test]
    fn parses_platforms() {
        assert_eq!("linux/amd64".parse::<Platform>(), Ok(Platform::default()));
        assert_eq!(
            "linux/arm64/v8".parse::<Platform>().map(|p| p.to_string()),
            Ok("linux/arm64/v8".to_string())
        );
        assert!("linux".parse::<Platform>().is_err());
        assert!("linux/../x".parse::<Platform>().is_err());
    }
}
