//! The few Kubernetes CRI v1 messages (`runtime.v1`, cri-api `pkg/apis/runtime/v1/api.proto`)
//! the sensor reads, written by hand with prost's derive: the field numbers and wire types are
//! those of the upstream definition, and the fields the sensor never reads are left out
//! (protobuf decoders skip unknown fields, so the runtime's full answers decode).
//!
//! Public so that tests (and a fake runtime) can speak the same messages.

use std::collections::BTreeMap;

/// The gRPC path of `RuntimeService.ListContainers`.
pub const LIST_CONTAINERS: &str = "/runtime.v1.RuntimeService/ListContainers";
/// The gRPC path of `RuntimeService.PodSandboxStatus`.
pub const POD_SANDBOX_STATUS: &str = "/runtime.v1.RuntimeService/PodSandboxStatus";

/// `ListContainersRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListContainersRequest {
    /// Which containers (all fields are ANDed).
    #[prost(message, optional, tag = "1")]
    pub filter: Option<ContainerFilter>,
}

/// `ContainerFilter` (the `state` wrapper, 2, is not used).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerFilter {
    /// The container id (the runtimes also accept a unique prefix).
    #[prost(string, tag = "1")]
    pub id: String,
    /// The pod sandbox id.
    #[prost(string, tag = "3")]
    pub pod_sandbox_id: String,
    /// Labels the containers must carry.
    #[prost(btree_map = "string, string", tag = "4")]
    pub label_selector: BTreeMap<String, String>,
}

/// `ListContainersResponse`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ListContainersResponse {
    /// The containers that match.
    #[prost(message, repeated, tag = "1")]
    pub containers: Vec<Container>,
}

/// `Container`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct Container {
    /// The container id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// The id of the pod sandbox the container belongs to.
    #[prost(string, tag = "2")]
    pub pod_sandbox_id: String,
    /// Name and attempt.
    #[prost(message, optional, tag = "3")]
    pub metadata: Option<ContainerMetadata>,
    /// The image as the kubelet asked for it.
    #[prost(message, optional, tag = "4")]
    pub image: Option<ImageSpec>,
    /// "Digested reference to the image in use": a `repo@sha256:…` reference, or the image id.
    #[prost(string, tag = "5")]
    pub image_ref: String,
    /// `ContainerState` (0 created, 1 running, 2 exited, 3 unknown).
    #[prost(int32, tag = "6")]
    pub state: i32,
    /// Creation time, nanoseconds since the Unix epoch.
    #[prost(int64, tag = "7")]
    pub created_at: i64,
    /// The container's labels (the kubelet's `io.kubernetes.*` ones).
    #[prost(btree_map = "string, string", tag = "8")]
    pub labels: BTreeMap<String, String>,
    /// The container's annotations.
    #[prost(btree_map = "string, string", tag = "9")]
    pub annotations: BTreeMap<String, String>,
    /// The image id on the node (newer runtimes only).
    #[prost(string, tag = "10")]
    pub image_id: String,
}

/// `ContainerMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct ContainerMetadata {
    /// The container name of the pod spec.
    #[prost(string, tag = "1")]
    pub name: String,
    /// How many times the container was created before.
    #[prost(uint32, tag = "2")]
    pub attempt: u32,
}

/// `ImageSpec` (annotations, 2, and the runtime handler, 19, are not used).
#[derive(Clone, PartialEq, prost::Message)]
pub struct ImageSpec {
    /// The image the runtime was asked for (the kubelet passes the image id or a digest here).
    #[prost(string, tag = "1")]
    pub image: String,
    /// The reference the user wrote in the pod spec (`nginx:1.25`), when the runtime knows it.
    #[prost(string, tag = "18")]
    pub user_specified_image: String,
}

/// `PodSandboxStatusRequest`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxStatusRequest {
    /// The pod sandbox id.
    #[prost(string, tag = "1")]
    pub pod_sandbox_id: String,
    /// Whether to return the runtime's extra `info` map (never asked for: it is large).
    #[prost(bool, tag = "2")]
    pub verbose: bool,
}

/// `PodSandboxStatusResponse` (the `info` map, 2, container statuses, 3, and timestamp, 4,
/// are not used).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxStatusResponse {
    /// The sandbox's status.
    #[prost(message, optional, tag = "1")]
    pub status: Option<PodSandboxStatus>,
}

/// `PodSandboxStatus` (the `linux` status, 6, and runtime handler, 9, are not used).
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxStatus {
    /// The sandbox id.
    #[prost(string, tag = "1")]
    pub id: String,
    /// Pod name, uid and namespace.
    #[prost(message, optional, tag = "2")]
    pub metadata: Option<PodSandboxMetadata>,
    /// `PodSandboxState` (0 ready, 1 not ready).
    #[prost(int32, tag = "3")]
    pub state: i32,
    /// Creation time, nanoseconds since the Unix epoch.
    #[prost(int64, tag = "4")]
    pub created_at: i64,
    /// The pod's network, when the runtime handles it.
    #[prost(message, optional, tag = "5")]
    pub network: Option<PodSandboxNetworkStatus>,
    /// The pod's labels (plus the kubelet's `io.kubernetes.pod.*` ones).
    #[prost(btree_map = "string, string", tag = "7")]
    pub labels: BTreeMap<String, String>,
    /// The pod's annotations.
    #[prost(btree_map = "string, string", tag = "8")]
    pub annotations: BTreeMap<String, String>,
}

/// `PodSandboxMetadata`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxMetadata {
    /// The pod name.
    #[prost(string, tag = "1")]
    pub name: String,
    /// The pod uid.
    #[prost(string, tag = "2")]
    pub uid: String,
    /// The pod namespace.
    #[prost(string, tag = "3")]
    pub namespace: String,
    /// How many times the sandbox was created before.
    #[prost(uint32, tag = "4")]
    pub attempt: u32,
}

/// `PodSandboxNetworkStatus`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodSandboxNetworkStatus {
    /// The pod's primary IP.
    #[prost(string, tag = "1")]
    pub ip: String,
    /// Further IPs (dual stack).
    #[prost(message, repeated, tag = "2")]
    pub additional_ips: Vec<PodIp>,
}

/// `PodIP`.
#[derive(Clone, PartialEq, prost::Message)]
pub struct PodIp {
    /// An IPv4 or IPv6 address.
    #[prost(string, tag = "1")]
    pub ip: String,
}
