//! The parts of a Pod (or pod template) that policy checks read, decoded from JSON.
//!
//! Only the fields mamori looks at are decoded; everything else is ignored, as the API server's
//! own decoder ignores nothing but we do not need it. A field of the wrong type is a decode error
//! (Pod Security Admission answers such a pod with BadRequest), `null` counts as absent.

use std::collections::BTreeMap;

use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// Decoding a Pod or pod template failed.
#[derive(Debug, thiserror::Error)]
#[error("cannot decode pod: {0}")]
pub struct PodDecodeError(#[from] serde_json::Error);

/// `null` or missing → `T::default()` (Go decodes `null` slices and maps as empty).
fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A Pod or pod template: its metadata and spec, as far as policy checks need them.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodLike {
    /// `metadata`.
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: ObjectMeta,
    /// `spec`.
    #[serde(default, deserialize_with = "nullable")]
    pub spec: PodSpec,
}

impl PodLike {
    /// Decodes a Pod object or a pod template (`{metadata, spec}`) from JSON.
    pub fn from_value(value: &Value) -> Result<PodLike, PodDecodeError> {
        Ok(PodLike::deserialize(value)?)
    }

    /// Every container with its kind and index: initContainers, containers, then
    /// ephemeralContainers (the order Pod Security Admission visits them).
    pub fn all_containers(&self) -> impl Iterator<Item = ContainerRef<'_>> {
        let s = &self.spec;
        let init = s
            .init_containers
            .iter()
            .enumerate()
            .map(|(i, c)| ContainerRef {
                kind: ContainerKind::Init,
                index: i,
                container: c,
            });
        let main = s.containers.iter().enumerate().map(|(i, c)| ContainerRef {
            kind: ContainerKind::Regular,
            index: i,
            container: c,
        });
        let eph = s
            .ephemeral_containers
            .iter()
            .enumerate()
            .map(|(i, c)| ContainerRef {
                kind: ContainerKind::Ephemeral,
                index: i,
                container: c,
            });
        init.chain(main).chain(eph)
    }
}

/// Which list of the pod spec a container is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContainerKind {
    /// `spec.initContainers`.
    Init,
    /// `spec.containers`.
    Regular,
    /// `spec.ephemeralContainers`.
    Ephemeral,
}

impl ContainerKind {
    /// The field name in the pod spec.
    pub fn field(self) -> &'static str {
        match self {
            ContainerKind::Init => "initContainers",
            ContainerKind::Regular => "containers",
            ContainerKind::Ephemeral => "ephemeralContainers",
        }
    }
}

/// A container together with where it sits in the pod spec.
#[derive(Debug, Clone, Copy)]
pub struct ContainerRef<'a> {
    /// Which list.
    pub kind: ContainerKind,
    /// Index in that list.
    pub index: usize,
    /// The container.
    pub container: &'a Container,
}

impl ContainerRef<'_> {
    /// JSON pointer of this container relative to the pod (`/spec/containers/0`) plus `suffix`.
    pub fn pointer(&self, suffix: &str) -> String {
        format!("/spec/{}/{}{}", self.kind.field(), self.index, suffix)
    }
}

/// `metadata`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ObjectMeta {
    /// `metadata.name`.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `metadata.generateName`.
    #[serde(default, rename = "generateName", deserialize_with = "nullable")]
    pub generate_name: String,
    /// `metadata.namespace`.
    #[serde(default, deserialize_with = "nullable")]
    pub namespace: String,
    /// `metadata.labels`.
    #[serde(default, deserialize_with = "nullable")]
    pub labels: BTreeMap<String, String>,
    /// `metadata.annotations`.
    #[serde(default, deserialize_with = "nullable")]
    pub annotations: BTreeMap<String, String>,
}

/// `spec` of a Pod.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSpec {
    /// `hostNetwork`.
    #[serde(default)]
    pub host_network: Option<bool>,
    /// `hostPID`.
    #[serde(default, rename = "hostPID")]
    pub host_pid: Option<bool>,
    /// `hostIPC`.
    #[serde(default, rename = "hostIPC")]
    pub host_ipc: Option<bool>,
    /// `hostUsers` (`false` = the pod runs in a user namespace).
    #[serde(default)]
    pub host_users: Option<bool>,
    /// `os`.
    #[serde(default)]
    pub os: Option<PodOs>,
    /// `runtimeClassName`.
    #[serde(default)]
    pub runtime_class_name: Option<String>,
    /// `serviceAccountName`.
    #[serde(default)]
    pub service_account_name: Option<String>,
    /// `automountServiceAccountToken`.
    #[serde(default)]
    pub automount_service_account_token: Option<bool>,
    /// `securityContext`.
    #[serde(default)]
    pub security_context: Option<PodSecurityContext>,
    /// `containers`.
    #[serde(default, deserialize_with = "nullable")]
    pub containers: Vec<Container>,
    /// `initContainers`.
    #[serde(default, deserialize_with = "nullable")]
    pub init_containers: Vec<Container>,
    /// `ephemeralContainers` (decoded with the fields they share with containers).
    #[serde(default, deserialize_with = "nullable")]
    pub ephemeral_containers: Vec<Container>,
    /// `volumes`.
    #[serde(default, deserialize_with = "nullable")]
    pub volumes: Vec<Volume>,
}

impl PodSpec {
    /// `spec.os.name == "windows"`.
    pub fn is_windows(&self) -> bool {
        self.os.as_ref().is_some_and(|o| o.name == "windows")
    }

    /// `spec.hostUsers == false`: the pod runs in a user namespace.
    pub fn in_user_namespace(&self) -> bool {
        self.host_users == Some(false)
    }
}

/// `spec.os`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PodOs {
    /// `name` (`linux` or `windows`).
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

/// `spec.securityContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PodSecurityContext {
    /// `runAsNonRoot`.
    #[serde(default)]
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`.
    #[serde(default)]
    pub run_as_user: Option<i64>,
    /// `seLinuxOptions`.
    #[serde(default, rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    /// `seccompProfile`.
    #[serde(default)]
    pub seccomp_profile: Option<ProfileType>,
    /// `appArmorProfile`.
    #[serde(default)]
    pub app_armor_profile: Option<ProfileType>,
    /// `windowsOptions`.
    #[serde(default)]
    pub windows_options: Option<WindowsOptions>,
    /// `sysctls`.
    #[serde(default, deserialize_with = "nullable")]
    pub sysctls: Vec<Sysctl>,
}

/// One `spec.securityContext.sysctls[*]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Sysctl {
    /// `name`.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
}

/// `seLinuxOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SeLinuxOptions {
    /// `type`.
    #[serde(default, rename = "type", deserialize_with = "nullable")]
    pub type_: String,
    /// `user`.
    #[serde(default, deserialize_with = "nullable")]
    pub user: String,
    /// `role`.
    #[serde(default, deserialize_with = "nullable")]
    pub role: String,
}

/// A `seccompProfile` or `appArmorProfile` (only the `type` matters to the checks).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct ProfileType {
    /// `type`.
    #[serde(default, rename = "type", deserialize_with = "nullable")]
    pub type_: String,
}

/// `windowsOptions`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WindowsOptions {
    /// `hostProcess`.
    #[serde(default)]
    pub host_process: Option<bool>,
}

/// A container (also used for init and ephemeral containers).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Container {
    /// `name`.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// `image`.
    #[serde(default, deserialize_with = "nullable")]
    pub image: String,
    /// `securityContext`.
    #[serde(default)]
    pub security_context: Option<SecurityContext>,
    /// `ports`.
    #[serde(default, deserialize_with = "nullable")]
    pub ports: Vec<ContainerPort>,
    /// `resources`.
    #[serde(default)]
    pub resources: Option<Resources>,
    /// `livenessProbe`.
    #[serde(default)]
    pub liveness_probe: Option<Handler>,
    /// `readinessProbe`.
    #[serde(default)]
    pub readiness_probe: Option<Handler>,
    /// `startupProbe`.
    #[serde(default)]
    pub startup_probe: Option<Handler>,
    /// `lifecycle`.
    #[serde(default)]
    pub lifecycle: Option<Lifecycle>,
}

/// `resources`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Resources {
    /// `limits` (quantities kept as JSON: numbers or strings).
    #[serde(default, deserialize_with = "nullable")]
    pub limits: BTreeMap<String, Value>,
}

/// A probe or lifecycle handler: only the host of `httpGet` and `tcpSocket` matters.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Handler {
    /// `httpGet`.
    #[serde(default)]
    pub http_get: Option<HostField>,
    /// `tcpSocket`.
    #[serde(default)]
    pub tcp_socket: Option<HostField>,
}

/// The `host` field of an `httpGet` or `tcpSocket` action.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct HostField {
    /// `host`.
    #[serde(default, deserialize_with = "nullable")]
    pub host: String,
}

/// `lifecycle`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Lifecycle {
    /// `postStart`.
    #[serde(default)]
    pub post_start: Option<Handler>,
    /// `preStop`.
    #[serde(default)]
    pub pre_stop: Option<Handler>,
}

/// One `ports[*]` entry.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerPort {
    /// `hostPort`.
    #[serde(default)]
    pub host_port: Option<i64>,
}

/// Container `securityContext`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SecurityContext {
    /// `privileged`.
    #[serde(default)]
    pub privileged: Option<bool>,
    /// `allowPrivilegeEscalation`.
    #[serde(default)]
    pub allow_privilege_escalation: Option<bool>,
    /// `runAsNonRoot`.
    #[serde(default)]
    pub run_as_non_root: Option<bool>,
    /// `runAsUser`.
    #[serde(default)]
    pub run_as_user: Option<i64>,
    /// `readOnlyRootFilesystem`.
    #[serde(default)]
    pub read_only_root_filesystem: Option<bool>,
    /// `capabilities`.
    #[serde(default)]
    pub capabilities: Option<Capabilities>,
    /// `procMount`.
    #[serde(default)]
    pub proc_mount: Option<String>,
    /// `seLinuxOptions`.
    #[serde(default, rename = "seLinuxOptions")]
    pub se_linux_options: Option<SeLinuxOptions>,
    /// `seccompProfile`.
    #[serde(default)]
    pub seccomp_profile: Option<ProfileType>,
    /// `appArmorProfile`.
    #[serde(default)]
    pub app_armor_profile: Option<ProfileType>,
    /// `windowsOptions`.
    #[serde(default)]
    pub windows_options: Option<WindowsOptions>,
}

/// `capabilities`.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Capabilities {
    /// `add`.
    #[serde(default, deserialize_with = "nullable")]
    pub add: Vec<String>,
    /// `drop`.
    #[serde(default, deserialize_with = "nullable")]
    pub drop: Vec<String>,
}

/// One volume: its name and its source fields (`hostPath`, `emptyDir`, …) kept as JSON.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Volume {
    /// `name`.
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    /// Every other field, by name.
    #[serde(flatten)]
    pub sources: BTreeMap<String, Value>,
}

impl Volume {
    /// The source fields that are set (not `null`).
    pub fn set_sources(&self) -> impl Iterator<Item = &str> {
        self.sources
            .iter()
            .filter(|(_, v)| !v.is_null())
            .map(|(k, _)| k.as_str())
    }
}
