//! Runtime-state fixtures (containerd CRI, CRI-O sandbox + app, plain runc with its bundle
//! gone) read through `load_container` and `ContainerResolver`. The fixtures' init pid is this
//! test process (with its real start time), so the resolver sees them as live.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use mamori_core::event::Value;
use mamori_sensor::container::{load_container, ContainerResolver, RuntimeKind, RuntimeRoots};

const CONTAINERD_ID: &str = "9c3f5b7e2a1d4c6b8e0f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b";
const CRIO_SANDBOX: &str = "4e1d2c3b4a5f6e7d8c9b0a1f2e3d4c5b6a7f8e9d0c1b2a3f4e5d6c7b8a9f0e1d";
const CRIO_APP: &str = "7a6b5c4d3e2f1a0b9c8d7e6f5a4b3c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b";

fn data() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/container")
}

fn my_start_ticks() -> u64 {
    let stat = fs::read_to_string("/proc/self/stat").unwrap();
    let rest = &stat[stat.rfind(')').unwrap() + 1..];
    rest.split_whitespace().nth(19).unwrap().parse().unwrap()
}

/// Copies a fixture state dir to `<root>/<id>/` and its bundle next to it, filling in the
/// placeholders (`@PID@`, `@START@`, `@BUNDLE@`).
fn install(root: &Path, id: &str, state: &str, bundle: Option<&str>, pid: u32, start: u64) {
    let bundle_dir = root.join(format!("{id}.bundle"));
    if let Some(b) = bundle {
        fs::create_dir_all(&bundle_dir).unwrap();
        fs::copy(
            data().join(b).join("config.json"),
            bundle_dir.join("config.json"),
        )
        .unwrap();
    }
    let text = fs::read_to_string(data().join(state).join("state.json"))
        .unwrap()
        .replace("@PID@", &pid.to_string())
        .replace("@START@", &start.to_string())
        .replace("@BUNDLE@", bundle_dir.to_str().unwrap())
        .replace("\"id\":\"web.1\"", &format!("\"id\":\"{id}\""));
    fs::create_dir_all(root.join(id)).unwrap();
    fs::write(root.join(id).join("state.json"), text).unwrap();
}

fn field<'a>(fields: &'a [(&'static str, Value)], name: &str) -> Option<&'a Value> {
    fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

#[test]
fn containerd_cri_annotations_become_falco_fields() {
    let tmp = tempfile::tempdir().unwrap();
    let me = std::process::id();
    install(
        tmp.path(),
        CONTAINERD_ID,
        "containerd/state",
        Some("containerd/bundle"),
        me,
        1,
    );
    let c = load_container(
        &tmp.path().join(CONTAINERD_ID),
        RuntimeKind::Runc,
        Path::new("/proc"),
    )
    .unwrap();
    assert_eq!(c.runtime, RuntimeKind::Containerd);
    assert_eq!(c.short_id(), "9c3f5b7e2a1d");
    assert_eq!(c.name, "web");
    assert!(!c.sandbox);
    assert_eq!(
        c.pod_labels, None,
        "containerd annotations carry no pod labels"
    );
    assert_eq!(
        c.rootfs,
        Some(tmp.path().join(format!("{CONTAINERD_ID}.bundle/rootfs")))
    );
    assert!(!c.privileged);
    assert_eq!(c.init_start_ticks, Some(1));
    let f = c.fields();
    assert_eq!(field(&f, "container.id"), Some(&s("9c3f5b7e2a1d")));
    assert_eq!(field(&f, "container.full_id"), Some(&s(CONTAINERD_ID)));
    assert_eq!(field(&f, "container.type"), Some(&s("containerd")));
    assert_eq!(
        field(&f, "container.image"),
        Some(&s("docker.io/library/nginx:1.25"))
    );
    assert_eq!(
        field(&f, "container.image.repository"),
        Some(&s("docker.io/library/nginx"))
    );
    assert_eq!(field(&f, "container.image.tag"), Some(&s("1.25")));
    assert_eq!(field(&f, "container.image.digest"), None);
    assert_eq!(field(&f, "k8s.ns.name"), Some(&s("shop")));
    assert_eq!(field(&f, "k8s.pod.name"), Some(&s("web-7f9c6d5b8-x2x4k")));
    assert_eq!(
        field(&f, "k8s.pod.uid"),
        Some(&s("5a8b2c1d-3e4f-4a5b-9c6d-7e8f9a0b1c2d"))
    );
    assert_eq!(field(&f, "k8s.pod.sandbox_id"), Some(&s("1b2c3d4e5f6a")));
    assert_eq!(field(&f, "k8s.pod.labels"), None);
    assert_eq!(field(&f, "container.privileged"), Some(&Value::Bool(false)));
    assert_eq!(
        field(&f, "container.start_ts"),
        Some(&Value::Int(1_795_166_142_123_456_789))
    );
    assert_eq!(
        field(&f, "container.mounts"),
        Some(&Value::List(vec![
            "/var/lib/kubelet/pods/5a8b2c1d-3e4f-4a5b-9c6d-7e8f9a0b1c2d/etc-hosts:/etc/hosts::true:rprivate".into(),
            "/var/lib/kubelet/pods/5a8b2c1d-3e4f-4a5b-9c6d-7e8f9a0b1c2d/volumes/kubernetes.io~projected/kube-api-access-8kq2z:/var/run/secrets/kubernetes.io/serviceaccount::false:rprivate".into(),
            "/srv/data:/data::true:rslave".into(),
        ]))
    );
    // Every emitted name is one Falco defines.
    const FALCO: &[&str] = &[
        "container.id",
        "container.full_id",
        "container.name",
        "container.image",
        "container.image.repository",
        "container.image.tag",
        "container.image.digest",
        "container.type",
        "container.privileged",
        "container.mounts",
        "container.start_ts",
        "k8s.ns.name",
        "k8s.pod.name",
        "k8s.pod.uid",
        "k8s.pod.sandbox_id",
        "k8s.pod.labels",
    ];
    for (name, _) in &f {
        assert!(FALCO.contains(name), "{name} is not a Falco field");
    }
}

#[test]
fn crio_app_container_gets_pod_labels_from_its_sandbox() {
    let tmp = tempfile::tempdir().unwrap();
    let me = std::process::id();
    let start = my_start_ticks();
    install(
        tmp.path(),
        CRIO_SANDBOX,
        "crio/state-sandbox",
        Some("crio/bundle-sandbox"),
        me,
        start,
    );
    install(
        tmp.path(),
        CRIO_APP,
        "crio/state-app",
        Some("crio/bundle-app"),
        me,
        start,
    );
    let mut r = ContainerResolver::new(RuntimeRoots(vec![tmp.path().to_path_buf()]), 16);
    let all = r.scan().unwrap();
    assert_eq!(all.len(), 2, "{:?}", r.last_errors);
    let labels: BTreeMap<String, String> = [("app", "api"), ("pod-template-hash", "5d8f7c6b9")]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();

    let sb = r.by_id(CRIO_SANDBOX).unwrap();
    assert!(sb.sandbox);
    assert_eq!(sb.runtime, RuntimeKind::CriO);
    assert_eq!(sb.pod_labels.as_ref(), Some(&labels));
    assert_eq!(sb.image.as_deref(), Some("registry.k8s.io/pause:3.9"));

    let app = r.by_id(CRIO_APP).unwrap();
    assert!(!app.sandbox);
    assert_eq!(app.name, "server");
    assert_eq!(app.pod_name.as_deref(), Some("api-5d8f7c6b9-qp7rt"));
    assert_eq!(app.pod_namespace.as_deref(), Some("payments"));
    assert_eq!(
        app.pod_uid.as_deref(),
        Some("0c1d2e3f-4a5b-4c6d-8e7f-9a0b1c2d3e4f")
    );
    assert_eq!(app.pod_labels.as_ref(), Some(&labels));
    assert_eq!(app.pod_label("app"), Some("api"));
    assert!(app.privileged, "SYS_ADMIN + SYS_MODULE and nothing masked");
    assert_eq!(app.image_repository.as_deref(), Some("quay.io/acme/api"));
    assert_eq!(app.image_tag.as_deref(), Some("2.4.1"));
    assert_eq!(
        app.image_digest.as_deref(),
        Some("sha256:5f0e7a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3e4f5a6b7c8d9e0f1a2b3")
    );
    assert_eq!(app.mounts.len(), 2);
    assert_eq!(app.mounts[0].falco_string(), "/:/host::true:rshared");
    assert!(!app.mounts[1].rw);
    // 12:00:03.5+01:00 is 11:00:03.5 UTC.
    assert_eq!(app.started_ns, Some(1_795_258_803_500_000_000));
    let f = app.fields();
    assert_eq!(
        field(&f, "k8s.pod.labels"),
        Some(&Value::List(vec![
            "app:api".into(),
            "pod-template-hash:5d8f7c6b9".into()
        ]))
    );
    assert_eq!(field(&f, "container.type"), Some(&s("cri-o")));
    // Both share this process's pid namespace, which is the host's: not an answer for it.
    assert!(r.by_pidns(app.pidns.unwrap()).is_none());
}

#[test]
fn plain_runc_with_bundle_gone_uses_state_labels() {
    let tmp = tempfile::tempdir().unwrap();
    install(
        tmp.path(),
        "web.1",
        "runc-plain/state",
        None,
        std::process::id(),
        my_start_ticks(),
    );
    let c = load_container(
        &tmp.path().join("web.1"),
        RuntimeKind::Runc,
        Path::new("/proc"),
    )
    .unwrap();
    assert_eq!(c.id, "web.1");
    assert_eq!(c.short_id(), "web.1");
    assert_eq!(c.name, "web.1");
    assert_eq!(c.runtime, RuntimeKind::Runc);
    assert_eq!(c.bundle, Some(PathBuf::from("/nonexistent/bundle-gone")));
    assert_eq!(c.rootfs, Some(PathBuf::from("/tmp/rootfs")));
    assert!(
        c.pidns.is_some() && c.mntns.is_some(),
        "read from /proc/<init pid>/ns"
    );
    let f = c.fields();
    assert_eq!(field(&f, "container.type"), Some(&s("runc")));
    assert_eq!(field(&f, "k8s.pod.name"), None);
}

#[test]
fn scan_skips_dead_reused_and_broken_state() {
    let tmp = tempfile::tempdir().unwrap();
    let me = std::process::id();
    let start = my_start_ticks();
    // Live.
    install(tmp.path(), "live", "runc-plain/state", None, me, start);
    // The pid is alive but is another process than runc started (pid reuse).
    install(
        tmp.path(),
        "reused",
        "runc-plain/state",
        None,
        me,
        start + 1,
    );
    // The init exited.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    install(tmp.path(), "dead", "runc-plain/state", None, dead, 1);
    // Not JSON.
    fs::create_dir_all(tmp.path().join("broken")).unwrap();
    fs::write(
        tmp.path().join("broken/state.json"),
        "{\"id\": \"broken\",\n  oops}",
    )
    .unwrap();
    // Not a state dir at all.
    fs::create_dir_all(tmp.path().join("stray")).unwrap();

    let roots = RuntimeRoots(vec![
        tmp.path().to_path_buf(),
        tmp.path().join("missing-root"),
    ]);
    let mut r = ContainerResolver::new(roots, 16);
    let all = r.scan().unwrap();
    let ids: Vec<&str> = all.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids, vec!["live"]);
    assert_eq!(r.last_errors.len(), 1);
    let msg = r.last_errors[0].1.to_string();
    assert!(msg.contains("broken/state.json:2:3"), "{msg}");

    // forget_dead keeps live ones.
    r.forget_dead();
    assert_eq!(r.len(), 1);
}

#[test]
fn cache_holds_at_most_capacity_containers() {
    let tmp = tempfile::tempdir().unwrap();
    for i in 0..5 {
        install(
            tmp.path(),
            &format!("c{i}"),
            "runc-plain/state",
            None,
            std::process::id(),
            my_start_ticks(),
        );
    }
    let mut r = ContainerResolver::new(RuntimeRoots(vec![tmp.path().to_path_buf()]), 2);
    assert_eq!(r.scan().unwrap().len(), 2);
    assert_eq!(r.len(), 2);
}

#[test]
fn host_processes_resolve_to_none() {
    let mut r = ContainerResolver::new(RuntimeRoots(vec![]), 4);
    assert!(r.by_pid(std::process::id()).is_none());
    assert!(r.by_pid(1).is_none());
    assert!(r.by_pid(u32::MAX).is_none(), "no such pid");
    let host_ns = std::os::unix::fs::MetadataExt::ino(&fs::metadata("/proc/self/ns/pid").unwrap());
    assert!(r.by_pidns(host_ns).is_none());
    assert!(r.by_pidns(12345).is_none());
}
