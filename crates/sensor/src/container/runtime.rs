//! runc's state (`<root>/<id>/state.json`), the OCI bundle's `config.json`, and what
//! `/proc/<init pid>` adds (overlay upper dir, namespace inodes).

use std::collections::BTreeMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::{ContainerInfo, MountInfo, RuntimeKind};

/// The largest `state.json` or `config.json` read (runc's are a few tens of KiB).
const MAX_JSON_BYTES: u64 = 4 << 20;

/// The folders where runtimes built on runc keep their state: each holds `<id>/state.json`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeRoots(pub Vec<PathBuf>);

impl Default for RuntimeRoots {
    /// `runc`'s own default and the roots containerd (namespaces `k8s.io`, `default`, `moby`)
    /// and Docker pass to runc. CRI-O runs runc with its default root, `/run/runc`.
    fn default() -> Self {
        RuntimeRoots(
            [
                "/run/runc",
                "/run/containerd/runc/k8s.io",
                "/run/containerd/runc/default",
                "/run/containerd/runc/moby",
                "/run/docker/runtime-runc/moby",
            ]
            .iter()
            .map(PathBuf::from)
            .collect(),
        )
    }
}

impl RuntimeRoots {
    /// The runtime a root belongs to, guessed from its path (annotations override it).
    pub fn kind_of(root: &Path) -> RuntimeKind {
        let s = root.to_string_lossy();
        if s.contains("docker") || s.ends_with("/moby") {
            RuntimeKind::Docker
        } else if s.contains("containerd") {
            RuntimeKind::Containerd
        } else if s.contains("crio") {
            RuntimeKind::CriO
        } else {
            RuntimeKind::Runc
        }
    }
}

/// Why a container's state could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadContainerError {
    /// A file could not be read.
    #[error("cannot read {path}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A file is larger than any runtime writes.
    #[error("{path} is larger than {MAX_JSON_BYTES} bytes")]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// A file is not the JSON expected.
    #[error("{path}:{line}:{column}: {message}")]
    Json {
        /// The file.
        path: PathBuf,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// What is wrong.
        message: String,
    },
}

#[derive(Deserialize)]
struct RawState {
    id: String,
    init_process_pid: u32,
    #[serde(default)]
    init_process_start: Option<u64>,
    #[serde(default)]
    created: Option<String>,
    config: RawStateConfig,
}

#[derive(Deserialize)]
struct RawStateConfig {
    #[serde(default)]
    rootfs: Option<String>,
    #[serde(default)]
    labels: Option<Vec<String>>,
}

#[derive(Deserialize, Default)]
struct RawSpec {
    #[serde(default)]
    annotations: Option<BTreeMap<String, String>>,
    #[serde(default)]
    root: Option<RawRoot>,
    #[serde(default)]
    process: Option<RawProcess>,
    #[serde(default)]
    mounts: Option<Vec<RawMount>>,
    #[serde(default)]
    linux: Option<RawLinux>,
}

#[derive(Deserialize)]
struct RawRoot {
    path: String,
}

#[derive(Deserialize)]
struct RawProcess {
    #[serde(default)]
    capabilities: Option<RawCaps>,
}

#[derive(Deserialize)]
struct RawCaps {
    #[serde(default)]
    bounding: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawMount {
    destination: String,
    #[serde(default)]
    source: Option<String>,
    #[serde(default, rename = "type")]
    kind: Option<String>,
    #[serde(default)]
    options: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawLinux {
    #[serde(default, rename = "maskedPaths")]
    masked_paths: Option<Vec<String>>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T, LoadContainerError> {
    let read_err = |source| LoadContainerError::Read {
        path: path.to_path_buf(),
        source,
    };
    let file = fs::File::open(path).map_err(read_err)?;
    let mut bytes = Vec::new();
    file.take(MAX_JSON_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(read_err)?;
    if bytes.len() as u64 > MAX_JSON_BYTES {
        return Err(LoadContainerError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    serde_json::from_slice(&bytes).map_err(|e| LoadContainerError::Json {
        path: path.to_path_buf(),
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    })
}

/// Loads a container from its runc state folder (`<root>/<id>`): `state.json`, then the
/// bundle's `config.json` (its annotations; when the bundle is gone, the annotations runc copied
/// into `state.json`'s `labels`), then `/proc/<init pid>` for the upper dir and namespaces
/// (left `None` when the process is gone or unreadable). `hint` is the runtime the root
/// belongs to; annotations override it.
///
/// `privileged` is a heuristic, because the OCI spec has no such flag: the bounding set holds
/// `CAP_SYS_ADMIN` and `CAP_SYS_MODULE` and no paths are masked, which is what Docker,
/// containerd and CRI-O generate for `--privileged` / `securityContext.privileged`.
pub fn load_container(
    state_dir: &Path,
    hint: RuntimeKind,
    proc_root: &Path,
) -> Result<ContainerInfo, LoadContainerError> {
    let state: RawState = read_json(&state_dir.join("state.json"))?;
    let labels = state.config.labels.unwrap_or_default();
    let bundle = labels
        .iter()
        .find_map(|l| l.strip_prefix("bundle="))
        .map(PathBuf::from);
    let spec: RawSpec = match &bundle {
        Some(b) => match read_json(&b.join("config.json")) {
            Ok(spec) => spec,
            Err(LoadContainerError::Read { .. }) => RawSpec::default(),
            Err(e) => return Err(e),
        },
        None => RawSpec::default(),
    };
    let annotations = spec.annotations.unwrap_or_else(|| {
        labels
            .iter()
            .filter(|l| !l.starts_with("bundle="))
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    });
    let meta = Annotations::read(&annotations, hint);
    let rootfs = spec
        .root
        .map(|r| r.path)
        .or(state.config.rootfs)
        .map(|p| match &bundle {
            Some(b) if Path::new(&p).is_relative() => b.join(p),
            _ => PathBuf::from(p),
        });
    let privileged = {
        let caps = spec
            .process
            .and_then(|p| p.capabilities)
            .and_then(|c| c.bounding)
            .unwrap_or_default();
        let has = |c: &str| caps.iter().any(|x| x == c);
        let masked = spec.linux.and_then(|l| l.masked_paths).unwrap_or_default();
        has("CAP_SYS_ADMIN") && has("CAP_SYS_MODULE") && masked.is_empty()
    };
    let mounts = spec
        .mounts
        .unwrap_or_default()
        .into_iter()
        .filter_map(volume_mount)
        .collect();
    let pid = state.init_process_pid;
    let proc_dir = proc_root.join(pid.to_string());
    let ns_inode = |ns: &str| {
        fs::metadata(proc_dir.join("ns").join(ns))
            .ok()
            .map(|m| m.ino())
    };
    let upperdir = fs::read_to_string(proc_dir.join("mountinfo"))
        .ok()
        .and_then(|text| overlay_upperdir(&text));
    let (image_repository, image_tag, image_digest) = match &meta.image {
        Some(i) => split_image(i),
        None => (None, None, None),
    };
    let name = meta.name.clone().unwrap_or_else(|| state.id.clone());
    Ok(ContainerInfo {
        name,
        runtime: meta.kind,
        image: meta.image,
        image_repository,
        image_tag,
        image_digest,
        pod_name: meta.pod_name,
        pod_namespace: meta.pod_namespace,
        pod_uid: meta.pod_uid,
        pod_labels: meta.pod_labels,
        pod_ip: None,
        image_id: None,
        sandbox_id: meta.sandbox_id,
        sandbox: meta.sandbox,
        init_pid: pid,
        bundle,
        rootfs,
        upperdir,
        privileged,
        mounts,
        pidns: ns_inode("pid"),
        mntns: ns_inode("mnt"),
        started_ns: state.created.as_deref().and_then(parse_rfc3339_ns),
        init_start_ticks: state.init_process_start,
        id: state.id,
    })
}

/// What the annotations say about the container and its pod.
#[derive(Debug, Default)]
struct Annotations {
    kind: RuntimeKind,
    name: Option<String>,
    image: Option<String>,
    pod_name: Option<String>,
    pod_namespace: Option<String>,
    pod_uid: Option<String>,
    pod_labels: Option<BTreeMap<String, String>>,
    sandbox_id: Option<String>,
    sandbox: bool,
}

// containerd's CRI plugin (pkg/cri/annotations).
const CRI_TYPE: &str = "io.kubernetes.cri.container-type";
const CRI_NAME: &str = "io.kubernetes.cri.container-name";
const CRI_IMAGE: &str = "io.kubernetes.cri.image-name";
const CRI_POD: &str = "io.kubernetes.cri.sandbox-name";
const CRI_NS: &str = "io.kubernetes.cri.sandbox-namespace";
const CRI_UID: &str = "io.kubernetes.cri.sandbox-uid";
const CRI_SANDBOX: &str = "io.kubernetes.cri.sandbox-id";
// CRI-O (internal annotations) and the kubelet labels it copies into annotations.
const CRIO_TYPE: &str = "io.kubernetes.cri-o.ContainerType";
const CRIO_IMAGE: &str = "io.kubernetes.cri-o.ImageName";
const CRIO_USER_IMAGE: &str = "io.kubernetes.cri-o.Image";
const CRIO_LABELS: &str = "io.kubernetes.cri-o.Labels";
const CRIO_SANDBOX: &str = "io.kubernetes.cri-o.SandboxID";
const CRIO_NS: &str = "io.kubernetes.cri-o.Namespace";
const CRIO_KUBE_NAME: &str = "io.kubernetes.cri-o.KubeName";
const KUBE_POD: &str = "io.kubernetes.pod.name";
const KUBE_NS: &str = "io.kubernetes.pod.namespace";
const KUBE_UID: &str = "io.kubernetes.pod.uid";
const KUBE_CONTAINER: &str = "io.kubernetes.container.name";
const MANAGER: &str = "io.container.manager";

impl Annotations {
    fn read(a: &BTreeMap<String, String>, hint: RuntimeKind) -> Self {
        let get = |k: &str| a.get(k).filter(|v| !v.is_empty()).cloned();
        if let Some(t) = a.get(CRI_TYPE) {
            return Annotations {
                kind: RuntimeKind::Containerd,
                sandbox: t == "sandbox",
                name: get(CRI_NAME),
                image: get(CRI_IMAGE),
                pod_name: get(CRI_POD),
                pod_namespace: get(CRI_NS),
                pod_uid: get(CRI_UID),
                // containerd does not put pod labels in the OCI spec.
                pod_labels: None,
                sandbox_id: get(CRI_SANDBOX),
            };
        }
        if a.contains_key(CRIO_TYPE) || a.get(MANAGER).map(String::as_str) == Some("cri-o") {
            let sandbox = a.get(CRIO_TYPE).map(String::as_str) == Some("sandbox");
            let labels: Option<BTreeMap<String, String>> = a
                .get(CRIO_LABELS)
                .and_then(|j| serde_json::from_str(j).ok());
            // The sandbox's labels are the pod's labels plus the kubelet's own
            // `io.kubernetes.*` ones; an app container's labels are only the kubelet's, so
            // its pod labels come from its sandbox (the resolver links them).
            let pod_labels = if sandbox {
                labels.as_ref().map(|l| {
                    l.iter()
                        .filter(|(k, _)| !k.starts_with("io.kubernetes."))
                        .map(|(k, v)| (k.clone(), v.clone()))
                        .collect()
                })
            } else {
                None
            };
            let from_labels = |k: &str| labels.as_ref().and_then(|l| l.get(k)).cloned();
            return Annotations {
                kind: RuntimeKind::CriO,
                sandbox,
                name: get(KUBE_CONTAINER).or_else(|| from_labels(KUBE_CONTAINER)),
                image: get(CRIO_IMAGE).or_else(|| get(CRIO_USER_IMAGE)),
                pod_name: get(KUBE_POD)
                    .or_else(|| from_labels(KUBE_POD))
                    .or_else(|| get(CRIO_KUBE_NAME)),
                pod_namespace: get(KUBE_NS)
                    .or_else(|| from_labels(KUBE_NS))
                    .or_else(|| get(CRIO_NS)),
                pod_uid: get(KUBE_UID).or_else(|| from_labels(KUBE_UID)),
                pod_labels,
                sandbox_id: get(CRIO_SANDBOX),
            };
        }
        let kind = if a.get(MANAGER).map(String::as_str) == Some("libpod") {
            RuntimeKind::Podman
        } else {
            hint
        };
        Annotations {
            kind,
            ..Default::default()
        }
    }
}

/// A bind mount of the OCI spec as Falco lists it; other mounts → `None`.
fn volume_mount(m: RawMount) -> Option<MountInfo> {
    let options = m.options.unwrap_or_default();
    let is_bind =
        m.kind.as_deref() == Some("bind") || options.iter().any(|o| o == "bind" || o == "rbind");
    if !is_bind {
        return None;
    }
    let rw = !options.iter().any(|o| o == "ro");
    const PROPAGATION: &[&str] = &[
        "private",
        "rprivate",
        "shared",
        "rshared",
        "slave",
        "rslave",
        "unbindable",
        "runbindable",
    ];
    let propagation = options
        .iter()
        .rev()
        .find(|o| PROPAGATION.contains(&o.as_str()))
        .cloned()
        .unwrap_or_default();
    let mode = options
        .iter()
        .find(|o| *o == "z" || *o == "Z")
        .cloned()
        .unwrap_or_default();
    Some(MountInfo {
        source: m.source.unwrap_or_default(),
        dest: m.destination,
        mode,
        rw,
        propagation,
    })
}

/// Splits an image reference as Falco does: repository is everything before the tag and the
/// digest, registry included (`docker.io/library/nginx`); a `:` before the last `/` is a
/// registry port, not a tag. Returns (repository, tag, digest); empty parts are `None`.
pub fn split_image(image: &str) -> (Option<String>, Option<String>, Option<String>) {
    let (rest, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image, None),
    };
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (repo, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
        None => (rest, None),
    };
    let some = |s: Option<&str>| s.filter(|s| !s.is_empty()).map(str::to_string);
    (some(Some(repo)), some(tag), some(digest))
}

/// The overlay upper dir of the mount at `/` in a `/proc/<pid>/mountinfo` text (the last one,
/// when mounts are stacked), with mountinfo's octal escapes (`\040` for a space) undone.
/// `None` when the root is not an overlay or has no upper dir.
pub fn overlay_upperdir(mountinfo: &str) -> Option<PathBuf> {
    let root = mountinfo
        .lines()
        .rfind(|l| l.split(' ').nth(4) == Some("/"))?;
    // Fields after the optional ones: ` - fstype source super-options`.
    let (_, after) = root.split_once(" - ")?;
    let mut parts = after.split(' ');
    let fstype = parts.next()?;
    let _source = parts.next()?;
    let super_opts = parts.next()?;
    if fstype != "overlay" {
        return None;
    }
    super_opts
        .split(',')
        .find_map(|o| o.strip_prefix("upperdir="))
        .map(|p| PathBuf::from(unescape_mountinfo(p)))
}

/// Undoes the kernel's `\NNN` octal escapes (space, tab, newline, backslash, comma…).
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            let v = (b[i + 1] - b'0') as u32 * 64
                + (b[i + 2] - b'0') as u32 * 8
                + (b[i + 3] - b'0') as u32;
            if let Ok(byte) = u8::try_from(v) {
                out.push(byte);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `2026-11-23T00:26:03.532993194Z` (or with a `+hh:mm` offset) → ns since the epoch.
pub(crate) fn parse_rfc3339_ns(s: &str) -> Option<u64> {
    let s = s.trim();
    let (date, time) = s.split_once(['T', 't', ' '])?;
    let mut d = date.split('-');
    let year: i64 = d.next()?.parse().ok()?;
    let month: i64 = d.next()?.parse().ok()?;
    let day: i64 = d.next()?.parse().ok()?;
    let (clock, offset_s) = if let Some(c) = time.strip_suffix(['Z', 'z']) {
        (c, 0)
    } else {
        let i = time.rfind(['+', '-'])?;
        let (c, off) = time.split_at(i);
        let sign = if off.starts_with('-') { -1 } else { 1 };
        let (h, m) = off[1..].split_once(':')?;
        (
            c,
            sign * (h.parse::<i64>().ok()? * 3600 + m.parse::<i64>().ok()? * 60),
        )
    };
    let (hms, frac) = clock.split_once('.').unwrap_or((clock, ""));
    let mut t = hms.split(':');
    let h: i64 = t.next()?.parse().ok()?;
    let mi: i64 = t.next()?.parse().ok()?;
    let se: i64 = t.next()?.parse().ok()?;
    if !(1..=12).contains(&month) || !(1..=31).contains(&day) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let nanos: i64 = if frac.is_empty() {
        0
    } else {
        if frac.len() > 9 || !frac.bytes().all(|c| c.is_ascii_digit()) {
            return None;
        }
        format!("{frac:0<9}").parse().ok()?
    };
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + h * 3600 + mi * 60 + se - offset_s;
    u64::try_from(secs.checked_mul(1_000_000_000)?.checked_add(nanos)?).ok()
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// Field 22 of `/proc/<pid>/stat` (start time in clock ticks after boot), or `None` when the
/// process is gone or is a zombie (dead, not yet reaped).
pub(crate) fn proc_start_ticks(proc_root: &Path, pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(proc_root.join(pid.to_string()).join("stat")).ok()?;
    // The command name may hold spaces and parens; fields resume after the last ')'.
    let mut fields = stat[stat.rfind(')')? + 1..].split_whitespace();
    if matches!(fields.next(), Some("Z" | "X" | "x")) {
        return None;
    }
    fields.nth(18)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_image_references_like_falco() {
        let cases = [
            (
                "docker.io/library/nginx:1.25",
                ("docker.io/library/nginx", Some("1.25"), None),
            ),
            ("nginx", ("nginx", None, None)),
            (
                "localhost:5000/team/app:v2",
                ("localhost:5000/team/app", Some("v2"), None),
            ),
            (
                "localhost:5000/team/app",
                ("localhost:5000/team/app", None, None),
            ),
            (
                "quay.io/x/y@sha256:abcd",
                ("quay.io/x/y", None, Some("sha256:abcd")),
            ),
            (
                "registry.k8s.io/pause:3.9@sha256:ef01",
                ("registry.k8s.io/pause", Some("3.9"), Some("sha256:ef01")),
            ),
        ];
        for (input, (repo, tag, digest)) in cases {
            let got = split_image(input);
            assert_eq!(
                got,
                (
                    Some(repo.to_string()),
                    tag.map(str::to_string),
                    digest.map(str::to_string)
                ),
                "{input}"
            );
        }
        assert_eq!(split_image(""), (None, None, None));
        assert_eq!(split_image(":"), (None, None, None));
    }

    #[test]
    fn finds_upperdir_of_root_overlay() {
        let text = "\
812 700 0:52 / / rw,relatime master:1 - overlay overlay rw,lowerdir=/l1:/l2,upperdir=/var/lib/c/my\\040dir/fs,workdir=/var/lib/c/work\n\
813 812 0:53 / /proc rw,nosuid - proc proc rw\n";
        assert_eq!(
            overlay_upperdir(text),
            Some(PathBuf::from("/var/lib/c/my dir/fs"))
        );
        let ext4 = "65 43 254:0 /tmp/rootfs / ro,relatime - ext4 /dev/vda rw,discard\n";
        assert_eq!(overlay_upperdir(ext4), None);
        assert_eq!(overlay_upperdir(""), None);
        assert_eq!(overlay_upperdir("garbage / -\n1 2 3 4 / 6 - overlay"), None);
        assert_eq!(unescape_mountinfo("a\\134b\\054c\\"), "a\\b,c\\");
    }

    #[test]
    fn parses_runc_created_times() {
        assert_eq!(parse_rfc3339_ns("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ns("2026-11-23T00:26:03.532993194Z"),
            Some(1_795_393_563_532_993_194)
        );
        assert_eq!(
            parse_rfc3339_ns("2022-01-07T11:33:26.5-06:00"),
            parse_rfc3339_ns("2022-01-07T17:33:26.5Z")
        );
        assert_eq!(parse_rfc3339_ns("2022-13-07T11:33:26Z"), None);
        assert_eq!(parse_rfc3339_ns("yesterday"), None);
    }

    #[test]
    fn reads_own_start_ticks() {
        let me = std::process::id();
        assert!(proc_start_ticks(Path::new("/proc"), me).is_some());
        assert_eq!(proc_start_ticks(Path::new("/nonexistent"), me), None);
    }
}
