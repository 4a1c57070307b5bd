//! mamori's runtime sensor: what happens inside containers, seen from the kernel, with the
//! container and Kubernetes context the rules and runtime policies need.
//!
//! - [`ebpf`]: loads `bpf/sensor.bpf.o` (C, CO-RE, committed with `bpf/build.sh`) with aya:
//!   BTF tracepoints only (no kprobes, no trampolines), one ring buffer, drop counters;
//! - [`wire`]: the kernel → userspace record layout, decoded without `unsafe`;
//! - [`proctable`]: the bounded process table (parents, command lines);
//! - [`enrich`]: raw records → [`mamori_core::event::Event`] with Falco's field names;
//! - [`container`]: cgroup path → container id (runc, containerd, CRI-O, Docker shapes) and the
//!   container's metadata from the runtime's state (bundle `config.json` annotations put there by
//!   CRI runtimes: pod name, namespace, image, container name) and, when a CRI socket exists,
//!   from the CRI API (pod labels, pod IP, image digest: [`container::cri`]);
//! - [`users`]: user and group names resolved inside a container's root;
//! - [`drift`]: whether an executed file comes from the container's overlay upper layer;
//! - [`fanotify`]: exec enforcement with fanotify permission events, with a watchdog that answers
//!   events the policy did not answer in time (fail-open by default, counted);
//! - [`supervisor`]: a child process that kills a frozen sensor so the kernel releases the
//!   execs waiting on its fanotify group (fail-open);
//! - [`lsm`]: the BPF LSM enforcement backend (`bpf/lsm.bpf.o`): exec, open and path-change
//!   controls decided in the kernel where BPF LSM is available (fanotify is the fallback);
//! - [`netblock`]: outbound-connection enforcement (`blockedOutbound`) with cgroup
//!   connect/sendmsg programs (`bpf/netblock.bpf.o`), keyed per container by cgroup v2 id.
#![cfg_attr(not(target_os = "linux"), allow(unused))]

#[cfg(target_os = "linux")]
pub mod agent;
pub mod container;
pub mod drift;
#[cfg(target_os = "linux")]
pub mod ebpf;
pub mod enrich;
#[cfg(target_os = "linux")]
pub mod fanotify;
#[cfg(target_os = "linux")]
pub mod lsm;
#[cfg(target_os = "linux")]
pub mod netblock;
pub mod proctable;
#[cfg(target_os = "linux")]
pub mod supervisor;
#[cfg(target_os = "linux")]
mod sys;
pub mod syscalls;
pub mod users;
pub mod wire;
