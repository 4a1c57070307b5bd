//! Operating-system detection from `etc/os-release` (or `usr/lib/os-release`),
//! `etc/debian_version`, `etc/alpine-release` and `etc/redhat-release`.

use mamori_catalog::Distro;
use serde::Serialize;

use crate::fsview::FsView;

/// Files read for OS detection (paths relative to the image root).
pub const OS_FILES: [&str; 5] = [
    "etc/os-release",
    "usr/lib/os-release",
    "etc/debian_version",
    "etc/alpine-release",
    "etc/redhat-release",
];

/// The detected operating system.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct OsInfo {
    /// `ID` (`debian`, `alpine`, `ubuntu`, `rhel`, …).
    pub id: String,
    /// `VERSION_ID`, or the version from a release file.
    pub version_id: String,
    /// `PRETTY_NAME`, if given.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pretty_name: Option<String>,
    /// Whether this looks like a distroless image (no package manager database, only
    /// `status.d`, or a `Distroless` pretty name).
    pub distroless: bool,
    /// The file the answer came from.
    pub source: String,
}

impl OsInfo {
    /// The distro as the catalogers need it.
    pub fn distro(&self) -> Distro {
        Distro::new(self.id.clone(), self.version_id.clone())
    }
}

/// Parses os-release `KEY=value` lines (values may be quoted).
pub fn parse_os_release(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| {
            let v = v.trim();
            let v = v
                .strip_prefix('"')
                .and_then(|x| x.strip_suffix('"'))
                .or_else(|| v.strip_prefix('\'').and_then(|x| x.strip_suffix('\'')))
                .unwrap_or(v);
            (k.trim().to_string(), v.to_string())
        })
        .collect()
}

/// Detects the OS of a squashed view.
pub fn detect(view: &FsView) -> Option<OsInfo> {
    let text = |p: &str| {
        view.text(p)
            .map(|b| String::from_utf8_lossy(b).trim().to_string())
    };
    let distroless_db = view.get("var/lib/dpkg/status").is_none()
        && view
            .iter()
            .any(|(p, _)| p.starts_with("var/lib/dpkg/status.d/"));
    for file in ["etc/os-release", "usr/lib/os-release"] {
        if let Some(t) = text(file) {
            let kv = parse_os_release(&t);
            let get = |k: &str| kv.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            if let Some(id) = get("ID") {
                let mut version = get("VERSION_ID").unwrap_or_default();
                if id == "debian" {
                    // Debian testing/sid has no VERSION_ID; debian_version names it.
                    if version.is_empty() {
                        version = text("etc/debian_version").unwrap_or_default();
                    }
                }
                let pretty = get("PRETTY_NAME");
                return Some(OsInfo {
                    distroless: distroless_db
                        || pretty.as_deref().is_some_and(|p| p.contains("Distroless")),
                    id: id.to_ascii_lowercase(),
                    version_id: version,
                    pretty_name: pretty,
                    source: file.to_string(),
                });
            }
        }
    }
    let simple = |id: &str, version: String, source: &str| OsInfo {
        id: id.to_string(),
        version_id: version,
        pretty_name: None,
        distroless: distroless_db,
        source: source.to_string(),
    };
    if let Some(v) = text("etc/alpine-release") {
        return Some(simple("alpine", v, "etc/alpine-release"));
    }
    if let Some(v) = text("etc/debian_version") {
        let major = v.split('.').next().unwrap_or(&v).to_string();
        return Some(simple("debian", major, "etc/debian_version"));
    }
    if let Some(v) = text("etc/redhat-release") {
        // "Red Hat Enterprise Linux release 8.9 (Ootpa)", "Rocky Linux release 9.3 (Blue Onyx)".
        let lower = v.to_ascii_lowercase();
        let id = if lower.starts_with("red hat") {
            "rhel"
        } else if lower.starts_with("rocky") {
            "rocky"
        } else if lower.starts_with("almalinux") {
            "almalinux"
        } else if lower.starts_with("centos") {
            "centos"
        } else if lower.starts_with("fedora") {
            "fedora"
        } else {
            "redhat"
        };
        let version = v
            .split(" release ")
            .nth(1)
            .and_then(|r| r.split_whitespace().next())
            .unwrap_or("")
            .to_string();
        return Some(simple(id, version, "etc/redhat-release"));
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fsview::{FileData, Node};
    use crate::layer::EntryKind;
    use std::rc::Rc;

    fn view(files: &[(&str, &str)]) -> FsView {
        let mut v = FsView::default();
        for (p, t) in files {
            let node = match t.strip_prefix("->") {
                Some(target) => Node {
                    layer: 0,
                    kind: EntryKind::Symlink(target.to_string()),
                    mode: 0o777,
                    size: 0,
                    data: None,
                },
                None => Node {
                    layer: 0,
                    kind: EntryKind::File,
                    mode: 0o644,
                    size: t.len() as u64,
                    data: Some(Rc::new(FileData::Text(t.as_bytes().to_vec()))),
                },
            };
            v.insert(p.to_string(), node);
        }
        v
    }

    #[test]
    fn debian_through_symlink() {
        let v = view(&[
            ("etc/os-release", "->../usr/lib/os-release"),
            (
                "usr/lib/os-release",
                "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
            ),
            ("etc/debian_version", "12.15\n"),
        ]);
        let os = detect(&v).expect("detected");
        assert_eq!(
            (os.id.as_str(), os.version_id.as_str(), os.distroless),
            ("debian", "12", false)
        );
    }

    #[test]
    fn fallbacks() {
        let a = detect(&view(&[("etc/alpine-release", "3.19.1\n")])).expect("alpine");
        assert_eq!((a.id.as_str(), a.version_id.as_str()), ("alpine", "3.19.1"));
        let r = detect(&view(&[(
            "etc/redhat-release",
            "Rocky Linux release 9.3 (Blue Onyx)\n",
        )]))
        .expect("rocky");
        assert_eq!((r.id.as_str(), r.version_id.as_str()), ("rocky", "9.3"));
        let d = detect(&view(&[
            (
                "etc/os-release",
                "PRETTY_NAME=\"Distroless\"\nID=debian\nVERSION_ID=\"12\"\n",
            ),
            ("var/lib/dpkg/status.d/base", "x"),
        ]))
        .expect("distroless");
        assert!(d.distroless);
        assert!(detect(&view(&[])).is_none());
    }
}
