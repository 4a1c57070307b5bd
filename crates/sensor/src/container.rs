//! Container and Kubernetes context for kernel events: which container a host pid (or a pid
//! namespace) belongs to, and that container's Falco `container.*` and `k8s.*` fields.
//!
//! Where the context comes from:
//!
//! - the **cgroup path** of the process ([`container_id_from_cgroup`]) gives the container id
//!   and the runtime's kind for every runtime shape (runc, containerd, CRI-O, Docker, Podman;
//!   cgroup v1, v2 and hybrid; cgroupfs and systemd drivers);
//! - the **runtime state** that runc writes (`<root>/<id>/state.json`, for every runtime built
//!   on runc) gives the init pid, the bundle and its OCI `config.json`, whose annotations hold
//!   what the CRI runtimes know about the pod: pod name, namespace and uid, container name,
//!   image ([`RuntimeRoots`], [`load_container`]);
//! - **`/proc/<init pid>`** gives the overlay upper dir (from `mountinfo`) and the pid and
//!   mount namespace inodes.
//!
//! - the **CRI API** ([`cri`]), when a CRI socket exists and the resolver has a
//!   [`CriClient`]: what only the CRI knows, pod labels for containerd pods (CRI-O also
//!   writes them into the sandbox's annotations, which are read), the pod IP, the image digest
//!   and id. Asked once per container when it is first loaded, under a deadline; when the
//!   runtime does not answer, the context comes from the runtime state alone.
//!   [`ContainerInfo::pod_labels`] is `None` when unknown.
//!
//! [`ContainerResolver`] caches all this by pid namespace inode (what the BPF side reads per
//! task) and by container id, with a bounded size.

use std::collections::BTreeMap;
use std::path::PathBuf;

use mamori_core::event::Value;

mod cgroup;
pub mod cri;
mod resolver;
mod runtime;
#[cfg(target_os = "linux")]
mod watch;

pub use cgroup::{
    best_cgroup_path, cgroup_paths_by_preference, container_id_from_cgroup,
    container_id_from_proc_cgroup, parse_proc_cgroup, CgroupEntry, ContainerIdMatch,
};
pub use cri::{CriClient, CriConfig, CriContainer, CriError, CriPod, CriStats};
pub use resolver::{ContainerResolver, ScanError};
pub use runtime::{
    load_container, overlay_upperdir, split_image, LoadContainerError, RuntimeRoots,
};
#[cfg(target_os = "linux")]
pub use watch::StateWatch;

/// The runtime that created a container, as far as it can be told.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub enum RuntimeKind {
    /// Docker (Moby).
    Docker,
    /// containerd (its CRI plugin for Kubernetes, or `ctr`).
    Containerd,
    /// CRI-O.
    CriO,
    /// Podman (libpod).
    Podman,
    /// Some CRI runtime managed by the kubelet; which one is not known.
    Cri,
    /// Plain runc (`runc run`), or a runtime that left no mark.
    Runc,
    /// A container id with no hint of the runtime.
    #[default]
    Unknown,
}

impl RuntimeKind {
    /// The value of Falco's `container.type` (`docker`, `containerd`, `cri-o`, `podman`, `cri`).
    /// Falco has no value for plain runc; mamori uses `runc`, and `unknown` when nothing is known.
    pub fn falco_type(self) -> &'static str {
        match self {
            RuntimeKind::Docker => "docker",
            RuntimeKind::Containerd => "containerd",
            RuntimeKind::CriO => "cri-o",
            RuntimeKind::Podman => "podman",
            RuntimeKind::Cri => "cri",
            RuntimeKind::Runc => "runc",
            RuntimeKind::Unknown => "unknown",
        }
    }
}

/// One volume mount of a container (bind mounts of the OCI spec, which is what Falco lists:
/// the runtime's own `proc`, `sysfs`, `tmpfs` and similar mounts are left out).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MountInfo {
    /// Host path.
    pub source: String,
    /// Path inside the container.
    pub dest: String,
    /// Docker's mode string (SELinux relabel `z`/`Z`); empty when the runtime gives none.
    pub mode: String,
    /// Whether the mount is writable.
    pub rw: bool,
    /// Propagation (`private`, `rprivate`, `rslave`, `rshared`, ...; empty when not given).
    pub propagation: String,
}

impl MountInfo {
    /// Falco's `container.mounts` item: `source:dest:mode:rdwr:propagation`.
    pub fn falco_string(&self) -> String {
        format!(
            "{}:{}:{}:{}:{}",
            self.source, self.dest, self.mode, self.rw, self.propagation
        )
    }
}

/// What is known about one container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerInfo {
    /// The full container id.
    pub id: String,
    /// The runtime that created it.
    pub runtime: RuntimeKind,
    /// The container name (the Kubernetes container name for CRI containers, the Docker name,
    /// else the id).
    pub name: String,
    /// The image reference as the runtime gives it (`docker.io/library/nginx:1.25`).
    pub image: Option<String>,
    /// The image without tag and digest (`docker.io/library/nginx`), as Falco's
    /// `container.image.repository`.
    pub image_repository: Option<String>,
    /// The image tag.
    pub image_tag: Option<String>,
    /// The image digest (`sha256:…`) when the reference carries one.
    pub image_digest: Option<String>,
    /// The pod name.
    pub pod_name: Option<String>,
    /// The pod namespace.
    pub pod_namespace: Option<String>,
    /// The pod uid.
    pub pod_uid: Option<String>,
    /// The pod labels, or `None` when unknown (containerd's annotations do not carry them;
    /// the CRI API does).
    pub pod_labels: Option<BTreeMap<String, String>>,
    /// The pod's primary IP (from the CRI API only).
    pub pod_ip: Option<String>,
    /// The image id (`sha256:…`, from the CRI API only).
    pub image_id: Option<String>,
    /// The pod sandbox's container id, when the runtime says.
    pub sandbox_id: Option<String>,
    /// Whether this is a pod sandbox (the `pause` container) rather than an app container.
    pub sandbox: bool,
    /// Host pid of the container's init process.
    pub init_pid: u32,
    /// The OCI bundle folder.
    pub bundle: Option<PathBuf>,
    /// The root filesystem on the host.
    pub rootfs: Option<PathBuf>,
    /// The overlay upper dir of the root filesystem (where files the container writes land).
    pub upperdir: Option<PathBuf>,
    /// Whether the container looks privileged (see [`load_container`] for the rule).
    pub privileged: bool,
    /// Volume mounts.
    pub mounts: Vec<MountInfo>,
    /// Inode of the container's pid namespace.
    pub pidns: Option<u64>,
    /// Inode of the container's mount namespace.
    pub mntns: Option<u64>,
    /// When the container was created, in nanoseconds since the Unix epoch.
    pub started_ns: Option<u64>,
    /// The init process's start time in clock ticks after boot (field 22 of
    /// `/proc/<pid>/stat`), to tell a live init from a reused pid.
    pub init_start_ticks: Option<u64>,
}

impl ContainerInfo {
    /// The first 12 characters of the id: Falco's `container.id`.
    pub fn short_id(&self) -> &str {
        match self.id.char_indices().nth(12) {
            Some((i, _)) => &self.id[..i],
            None => &self.id,
        }
    }

    /// A pod label, when labels are known.
    pub fn pod_label(&self, key: &str) -> Option<&str> {
        self.pod_labels.as_ref()?.get(key).map(String::as_str)
    }

    /// This container's fields under Falco's names: `container.id` (short), `container.full_id`,
    /// `container.name`, `container.type`, `container.privileged`, `container.mounts`,
    /// `container.image[.repository|.tag|.digest]`, `container.start_ts`, and `k8s.ns.name`,
    /// `k8s.pod.name`, `k8s.pod.uid`, `k8s.pod.sandbox_id` (12 characters, like Falco),
    /// `k8s.pod.labels` (`key:value` items), `k8s.pod.ip` and `container.ip` (the pod IP),
    /// `container.image.id` (without `sha256:`) when known. Unknown values are left out rather
    /// than filled with placeholders. One pod label at a time is [`label_fields`](Self::label_fields).
    pub fn fields(&self) -> Vec<(&'static str, Value)> {
        let mut out = vec![
            ("container.id", Value::Str(self.short_id().to_string())),
            ("container.full_id", Value::Str(self.id.clone())),
            ("container.name", Value::Str(self.name.clone())),
            (
                "container.type",
                Value::Str(self.runtime.falco_type().into()),
            ),
            ("container.privileged", Value::Bool(self.privileged)),
            (
                "container.mounts",
                Value::List(self.mounts.iter().map(MountInfo::falco_string).collect()),
            ),
        ];
        let opt = [
            ("container.image", &self.image),
            ("container.image.repository", &self.image_repository),
            ("container.image.tag", &self.image_tag),
            ("container.image.digest", &self.image_digest),
            ("k8s.ns.name", &self.pod_namespace),
            ("k8s.pod.name", &self.pod_name),
            ("k8s.pod.uid", &self.pod_uid),
        ];
        for (name, value) in opt {
            if let Some(v) = value {
                out.push((name, Value::Str(v.clone())));
            }
        }
        if let Some(sb) = &self.sandbox_id {
            let short: String = sb.chars().take(12).collect();
            out.push(("k8s.pod.sandbox_id", Value::Str(short)));
        }
        if let Some(labels) = &self.pod_labels {
            out.push((
                "k8s.pod.labels",
                Value::List(labels.iter().map(|(k, v)| format!("{k}:{v}")).collect()),
            ));
        }
        if let Some(ip) = &self.pod_ip {
            out.push(("k8s.pod.ip", Value::Str(ip.clone())));
            out.push(("container.ip", Value::Str(ip.clone())));
        }
        if let Some(id) = &self.image_id {
            let id = id.strip_prefix("sha256:").unwrap_or(id);
            out.push(("container.image.id", Value::Str(id.to_string())));
        }
        if let Some(ns) = self.started_ns.and_then(|n| i64::try_from(n).ok()) {
            out.push(("container.start_ts", Value::Int(ns)));
        }
        out
    }

    /// Falco's `k8s.pod.label[KEY]` for every known pod label, under the key the rules engine
    /// reads (`k8s.pod.label.app`, or `k8s.pod.label[app.kubernetes.io/name]` when the key is
    /// not a plain word). Empty when the labels are unknown.
    pub fn label_fields(&self) -> Vec<(String, Value)> {
        self.pod_labels
            .iter()
            .flatten()
            .map(|(k, v)| {
                (
                    mamori_rules::fields::canonical_key("k8s.pod.label", Some(k)),
                    Value::Str(v.clone()),
                )
            })
            .collect()
    }
}
