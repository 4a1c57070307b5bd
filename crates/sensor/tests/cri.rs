//! The CRI client against a fake runtime on a unix socket (tonic's server, routing written by
//! hand): pod labels, pod IP and image digest reach `ContainerInfo`, the Falco fields and a
//! runtime policy's `podLabels` scope; answers are cached; a runtime that hangs, talks garbage
//! or is missing costs a bounded wait (or nothing) and the container still resolves from its
//! annotations. The last test does the same for a real runc container (root, runc, busybox).

#[path = "common/fake_cri.rs"]
mod fake_cri;
#[path = "common/runc.rs"]
mod runc;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use fake_cri::{Fake, Mode};
use mamori_core::event::Value;
use mamori_policy::runtime::{Control, RuntimePolicySet, Workload};
use mamori_sensor::container::cri::proto;
use mamori_sensor::container::{
    ContainerInfo, ContainerResolver, CriClient, CriConfig, CriError, RuntimeKind, RuntimeRoots,
};

const CONTAINERD_ID: &str = "9c3f5b7e2a1d4c6b8e0f2a4c6e8b0d2f4a6c8e0b2d4f6a8c0e2b4d6f8a0c2e4b";
/// The sandbox id in the containerd fixture's annotations.
const SANDBOX_ID: &str = "1b2c3d4e5f6a7b8c9d0e1f2a3b4c5d6e7f8a9b0c1d2e3f4a5b6c7d8e9f0a1b2c";
const DIGEST: &str = "sha256:0d17b565c37bcbd895e9d92315a05c1c3c9a29f762b011a10c54a66cd53c9b31";
const IMAGE_ID: &str = "sha256:a8758716bb6aa4d90071160d27028fe4eaee7ce8166221a97d30440c8eac2be6";

/// A client for tests that expect answers: a deadline loose enough for a loaded machine.
fn config(socket: &Path) -> CriConfig {
    CriConfig {
        sockets: vec![socket.to_path_buf()],
        timeout: Duration::from_secs(2),
        backoff: Duration::from_millis(300),
        ..CriConfig::default()
    }
}

/// A client for tests about deadlines.
fn tight(socket: &Path) -> CriConfig {
    CriConfig {
        timeout: Duration::from_millis(150),
        ..config(socket)
    }
}

/// The containerd fixture's state dir under `root`, live (its init pid is this process).
fn install_containerd_fixture(root: &Path) {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/container/containerd");
    let stat = fs::read_to_string("/proc/self/stat").unwrap();
    let start: u64 = stat[stat.rfind(')').unwrap() + 1..]
        .split_whitespace()
        .nth(19)
        .unwrap()
        .parse()
        .unwrap();
    let bundle = root.join(format!("{CONTAINERD_ID}.bundle"));
    fs::create_dir_all(&bundle).unwrap();
    fs::copy(data.join("bundle/config.json"), bundle.join("config.json")).unwrap();
    let text = fs::read_to_string(data.join("state/state.json"))
        .unwrap()
        .replace("@PID@", &std::process::id().to_string())
        .replace("@START@", &start.to_string())
        .replace("@BUNDLE@", bundle.to_str().unwrap())
        .replace("\"id\":\"web.1\"", &format!("\"id\":\"{CONTAINERD_ID}\""));
    fs::create_dir_all(root.join(CONTAINERD_ID)).unwrap();
    fs::write(root.join(CONTAINERD_ID).join("state.json"), text).unwrap();
}

fn cri_container(id: &str, sandbox: &str) -> proto::Container {
    proto::Container {
        id: id.into(),
        pod_sandbox_id: sandbox.into(),
        metadata: Some(proto::ContainerMetadata {
            name: "web".into(),
            attempt: 0,
        }),
        // What the kubelet passes: the image id, and (newer kubelets) the user's reference.
        image: Some(proto::ImageSpec {
            image: IMAGE_ID.into(),
            user_specified_image: "docker.io/library/nginx:1.25".into(),
        }),
        image_ref: format!("docker.io/library/nginx@{DIGEST}"),
        state: 1,
        image_id: IMAGE_ID.into(),
        labels: [(
            "io.kubernetes.container.name".to_string(),
            "web".to_string(),
        )]
        .into(),
        ..Default::default()
    }
}

fn cri_pod(sandbox: &str) -> proto::PodSandboxStatus {
    proto::PodSandboxStatus {
        id: sandbox.into(),
        metadata: Some(proto::PodSandboxMetadata {
            name: "web-7f9c6d5b8-x2x4k".into(),
            uid: "5a8b2c1d-3e4f-4a5b-9c6d-7e8f9a0b1c2d".into(),
            namespace: "shop".into(),
            attempt: 0,
        }),
        network: Some(proto::PodSandboxNetworkStatus {
            ip: "10.244.1.7".into(),
            additional_ips: vec![proto::PodIp {
                ip: "fd00::7".into(),
            }],
        }),
        labels: [
            ("app", "web"),
            ("app.kubernetes.io/name", "shop-frontend"),
            ("io.kubernetes.pod.name", "web-7f9c6d5b8-x2x4k"),
            ("io.kubernetes.pod.namespace", "shop"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect(),
        ..Default::default()
    }
}

fn answering_fake(dir: &Path) -> (Arc<Fake>, PathBuf) {
    let fake = Fake::new(Mode::Answer);
    fake.containers
        .lock()
        .unwrap()
        .push(cri_container(CONTAINERD_ID, SANDBOX_ID));
    fake.pods.lock().unwrap().push(cri_pod(SANDBOX_ID));
    let sock = dir.join("cri.sock");
    fake_cri::serve(&sock, fake.clone());
    (fake, sock)
}

fn field<'a>(fields: &'a [(&'static str, Value)], name: &str) -> Option<&'a Value> {
    fields.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
}

fn s(v: &str) -> Value {
    Value::Str(v.to_string())
}

fn workload(c: &ContainerInfo) -> Workload<'_> {
    Workload {
        namespace: c.pod_namespace.as_deref(),
        pod_labels: c.pod_labels.as_ref(),
        image: c.image.as_deref(),
        container_name: Some(&c.name),
    }
}

const LABEL_SCOPED: &str = r#"
apiVersion: mamori.dev/v1
kind: RuntimePolicy
metadata: {name: web-no-exec}
spec:
  mode: enforce
  scope:
    podLabels: {app: web}
  controls:
    blockContainerExec: {}
"#;

#[test]
fn labels_arrive_in_container_info_falco_fields_and_policy_scope() {
    let tmp = tempfile::tempdir().unwrap();
    let (fake, sock) = answering_fake(tmp.path());
    let state = tmp.path().join("state");
    install_containerd_fixture(&state);

    // Without CRI: the annotations only, so a podLabels scope cannot match.
    let mut plain = ContainerResolver::new(RuntimeRoots(vec![state.clone()]), 16);
    plain.scan().unwrap();
    let before = plain.by_id(CONTAINERD_ID).expect("fixture resolves");
    assert_eq!(before.pod_labels, None);
    let policies = RuntimePolicySet::from_str_named(LABEL_SCOPED, "web.yaml").unwrap();
    let now = time::OffsetDateTime::now_utc();
    assert!(!policies.enforces(&workload(&before), Control::BlockContainerExec, now));

    let mut r = ContainerResolver::new(RuntimeRoots(vec![state]), 16)
        .with_cri(CriClient::new(config(&sock)));
    r.scan().unwrap();
    let c = r.by_id(CONTAINERD_ID).expect("fixture resolves");
    let want: BTreeMap<String, String> = [
        ("app".to_string(), "web".to_string()),
        (
            "app.kubernetes.io/name".to_string(),
            "shop-frontend".to_string(),
        ),
    ]
    .into();
    assert_eq!(c.pod_labels.as_ref(), Some(&want), "kubelet labels dropped");
    assert_eq!(c.pod_ip.as_deref(), Some("10.244.1.7"));
    assert_eq!(c.image_digest.as_deref(), Some(DIGEST));
    assert_eq!(c.image_id.as_deref(), Some(IMAGE_ID));
    // The annotations' values stay.
    assert_eq!(c.runtime, RuntimeKind::Containerd);
    assert_eq!(c.name, "web");
    assert_eq!(c.image.as_deref(), Some("docker.io/library/nginx:1.25"));
    assert_eq!(c.pod_namespace.as_deref(), Some("shop"));
    assert!(policies.enforces(&workload(&c), Control::BlockContainerExec, now));

    let f = c.fields();
    assert_eq!(
        field(&f, "k8s.pod.labels"),
        Some(&Value::List(vec![
            "app:web".into(),
            "app.kubernetes.io/name:shop-frontend".into()
        ]))
    );
    assert_eq!(field(&f, "k8s.pod.ip"), Some(&s("10.244.1.7")));
    assert_eq!(field(&f, "container.ip"), Some(&s("10.244.1.7")));
    assert_eq!(field(&f, "container.image.digest"), Some(&s(DIGEST)));
    assert_eq!(
        field(&f, "container.image.id"),
        Some(&s(IMAGE_ID.strip_prefix("sha256:").unwrap()))
    );
    for (name, _) in &f {
        assert!(
            mamori_rules::fields::lookup(name).is_some(),
            "{name} is not a Falco field"
        );
    }
    let labels = c.label_fields();
    assert_eq!(
        labels,
        vec![
            ("k8s.pod.label.app".to_string(), s("web")),
            (
                "k8s.pod.label[app.kubernetes.io/name]".to_string(),
                s("shop-frontend")
            ),
        ]
    );

    // A Falco rule reading the labels and the pod IP matches an event carrying these fields.
    let rules = r#"
- rule: Web pod label
  desc: test
  condition: k8s.pod.label.app = web and k8s.pod.label[app.kubernetes.io/name] = shop-frontend and k8s.pod.ip = "10.244.1.7"
  output: "%k8s.pod.label.app %k8s.pod.ip"
  priority: NOTICE
"#;
    let loaded = mamori_rules::load(&[mamori_rules::RulesFile::new("t.yaml", rules)]).unwrap();
    let engine = mamori_rules::Engine::new(loaded.ruleset, mamori_rules::Settings::default());
    let mut ev = mamori_core::event::Event::new(mamori_core::event::EventSource::Syscall, 1);
    for (k, v) in f.into_iter() {
        ev.fields.insert(k.to_string(), v);
    }
    for (k, v) in labels {
        ev.fields.insert(k, v);
    }
    let mut alerts = Vec::new();
    engine.process(&ev, |a| alerts.push(a));
    assert_eq!(alerts.len(), 1, "the rule reads the CRI fields");
    assert!(
        alerts[0].output.ends_with("web 10.244.1.7"),
        "{}",
        alerts[0].output
    );

    // One resolution = one call of each; later scans and lookups come from caches.
    assert_eq!(fake.calls(), (1, 1));
    r.scan().unwrap();
    let stats = r.cri_stats().unwrap();
    assert_eq!(stats.calls, 2);
    assert_eq!(fake.calls(), (1, 1));
}

#[test]
fn answers_are_cached_and_pods_shared_between_containers() {
    let tmp = tempfile::tempdir().unwrap();
    let (fake, sock) = answering_fake(tmp.path());
    let second = "22".repeat(32);
    fake.containers
        .lock()
        .unwrap()
        .push(cri_container(&second, SANDBOX_ID));
    let mut cri = CriClient::new(config(&sock));
    let a = cri.lookup(CONTAINERD_ID, false).unwrap();
    let b = cri.lookup(&second, false).unwrap();
    assert!(Arc::ptr_eq(&a.pod, &b.pod), "one pod status for the pod");
    assert_eq!(fake.calls(), (2, 1));
    let again = cri.lookup(CONTAINERD_ID, false).unwrap();
    assert!(Arc::ptr_eq(&a, &again));
    assert_eq!(fake.calls(), (2, 1));
    // Unknown to the runtime: an answer, cached like one.
    let e = cri.lookup("ff", false).unwrap_err();
    assert_eq!(e, CriError::NotFound("container ff".into()));
    assert!(!e.is_transient());
    assert_eq!(cri.lookup("ff", false).unwrap_err(), e);
    assert_eq!(fake.calls(), (3, 1));
    let st = cri.stats();
    assert_eq!(
        (st.lookups, st.cache_hits, st.calls, st.errors),
        (5, 2, 4, 0)
    );
}

#[test]
fn sandbox_is_looked_up_as_its_pod() {
    let tmp = tempfile::tempdir().unwrap();
    let (fake, sock) = answering_fake(tmp.path());
    let mut cri = CriClient::new(config(&sock));
    let c = cri.lookup(SANDBOX_ID, true).unwrap();
    assert_eq!(c.pod.name.as_deref(), Some("web-7f9c6d5b8-x2x4k"));
    assert_eq!(c.pod.labels.get("app").map(String::as_str), Some("web"));
    assert_eq!(c.name, None);
    assert_eq!(fake.calls(), (0, 1));
    let e = cri.lookup("nope", true).unwrap_err();
    assert_eq!(e, CriError::NotFound("pod sandbox nope".into()));
}

/// A runtime that takes the call and never answers: the lookup fails at its deadline, the
/// container resolves from its annotations, and the next scans make no call until the back-off
/// ends; once the runtime answers, the container gets its labels.
#[test]
fn hung_runtime_times_out_and_container_resolves_from_annotations() {
    let tmp = tempfile::tempdir().unwrap();
    let (fake, sock) = answering_fake(tmp.path());
    *fake.mode.lock().unwrap() = Mode::Hang;
    let state = tmp.path().join("state");
    install_containerd_fixture(&state);
    let cfg = tight(&sock);
    let mut r =
        ContainerResolver::new(RuntimeRoots(vec![state]), 16).with_cri(CriClient::new(cfg.clone()));
    let t = Instant::now();
    r.scan().unwrap();
    let took = t.elapsed();
    // The caller stops waiting at the deadline + 50 ms; the rest is the scan's file reads.
    assert!(
        took >= cfg.timeout && took < cfg.timeout * 2 + Duration::from_millis(100),
        "scan with a hung runtime took {took:?} (deadline {:?})",
        cfg.timeout
    );
    let c = r.by_id(CONTAINERD_ID).expect("resolves from annotations");
    assert_eq!(c.pod_name.as_deref(), Some("web-7f9c6d5b8-x2x4k"));
    assert_eq!(c.pod_labels, None);
    let st = r.cri_stats().unwrap();
    assert_eq!((st.calls, st.timeouts), (1, 1));

    // Backing off: no call, no wait.
    let t = Instant::now();
    r.scan().unwrap();
    assert!(
        t.elapsed() < Duration::from_millis(100),
        "{:?}",
        t.elapsed()
    );
    assert_eq!(r.cri_stats().unwrap().calls, 1);

    // The runtime recovers; after the back-off the pending container is asked again (a few
    // times at most: on a loaded machine one call may pass the tight deadline).
    *fake.mode.lock().unwrap() = Mode::Answer;
    let mut c = r.by_id(CONTAINERD_ID).unwrap();
    for _ in 0..10 {
        std::thread::sleep(cfg.backoff);
        r.scan().unwrap();
        c = r.by_id(CONTAINERD_ID).unwrap();
        if c.pod_labels.is_some() {
            break;
        }
    }
    assert_eq!(c.pod_label("app"), Some("web"));
    assert_eq!(c.pod_ip.as_deref(), Some("10.244.1.7"));
}

/// A socket that accepts and never speaks (hung before the HTTP/2 handshake).
#[test]
fn silent_socket_times_out_within_the_deadline() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("silent.sock");
    fake_cri::serve_silent(&sock);
    let cfg = tight(&sock);
    let mut cri = CriClient::new(cfg.clone());
    let t = Instant::now();
    let e = cri.lookup(CONTAINERD_ID, false).unwrap_err();
    let took = t.elapsed();
    assert!(
        matches!(
            e,
            CriError::Timeout {
                method: "ListContainers",
                ..
            }
        ),
        "{e}"
    );
    assert!(
        took < cfg.timeout * 2 + Duration::from_millis(100),
        "took {took:?}"
    );
    assert!(e.is_transient());
    // Suspended: the next lookup fails at once.
    let t = Instant::now();
    assert!(matches!(
        cri.lookup(CONTAINERD_ID, false),
        Err(CriError::BackingOff(_))
    ));
    assert!(t.elapsed() < Duration::from_millis(20));
}

/// Collects what `tracing` writes.
#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn missing_socket_is_one_info_message() {
    let tmp = tempfile::tempdir().unwrap();
    let state = tmp.path().join("state");
    install_containerd_fixture(&state);
    let logs = Logs::default();
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || sink.clone())
        .finish();
    let missing = tmp.path().join("no-runtime.sock");
    tracing::subscriber::with_default(subscriber, || {
        let mut r = ContainerResolver::new(RuntimeRoots(vec![state.clone()]), 16)
            .with_cri(CriClient::new(config(&missing)));
        let t = Instant::now();
        for _ in 0..200 {
            r.scan().unwrap();
            r.by_pid(std::process::id());
        }
        assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
        let c = r.by_id(CONTAINERD_ID).expect("resolves from annotations");
        assert_eq!(c.pod_name.as_deref(), Some("web-7f9c6d5b8-x2x4k"));
        assert_eq!(r.cri_stats().unwrap().calls, 0);
        let mut cri = CriClient::new(CriConfig {
            sockets: vec![missing.clone()],
            ..CriConfig::default()
        });
        for _ in 0..100 {
            assert!(matches!(
                cri.lookup(CONTAINERD_ID, false),
                Err(CriError::NoSocket(_))
            ));
        }
    });
    let text = String::from_utf8(logs.0.lock().unwrap().clone()).unwrap();
    let info: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("No CRI socket found"))
        .collect();
    assert_eq!(info.len(), 2, "one per client:\n{text}");
    assert!(info.iter().all(|l| l.contains("INFO")), "{text}");
    assert!(
        !text
            .lines()
            .any(|l| l.contains("WARN") || l.contains("ERROR")),
        "{text}"
    );
}

#[test]
fn socket_appearing_later_is_used() {
    let tmp = tempfile::tempdir().unwrap();
    let sock = tmp.path().join("cri.sock");
    let mut cri = CriClient::new(CriConfig {
        negative_ttl: Duration::from_millis(50),
        ..config(&sock)
    });
    assert!(matches!(
        cri.lookup(CONTAINERD_ID, false),
        Err(CriError::NoSocket(_))
    ));
    let fake = Fake::new(Mode::Answer);
    fake.containers
        .lock()
        .unwrap()
        .push(cri_container(CONTAINERD_ID, SANDBOX_ID));
    fake.pods.lock().unwrap().push(cri_pod(SANDBOX_ID));
    fake_cri::serve(&sock, fake.clone());
    std::thread::sleep(Duration::from_millis(60));
    let c = cri.lookup(CONTAINERD_ID, false).unwrap();
    assert_eq!(c.pod.ip.as_deref(), Some("10.244.1.7"));
    assert_eq!(cri.socket(), Some(sock.as_path()));
}

#[test]
fn garbage_answers_are_errors_not_panics() {
    let tmp = tempfile::tempdir().unwrap();

    // A message of the wrong type in the gRPC frame.
    let (fake, sock) = answering_fake(tmp.path());
    *fake.mode.lock().unwrap() = Mode::Garbage;
    let mut cri = CriClient::new(config(&sock));
    match cri.lookup(CONTAINERD_ID, false) {
        Err(CriError::Call {
            method,
            code,
            message,
        }) => {
            assert_eq!(method, "ListContainers");
            assert_eq!(code, tonic::Code::Internal, "{message}");
            assert!(message.contains("decode"), "{message}");
        }
        other => panic!("expected a decode error, got {other:?}"),
    }
    let mut cri = CriClient::new(config(&sock));
    assert!(matches!(
        cri.lookup(SANDBOX_ID, true),
        Err(CriError::Call {
            method: "PodSandboxStatus",
            code: tonic::Code::Internal,
            ..
        })
    ));

    // Not HTTP/2 at all.
    let noise = tmp.path().join("noise.sock");
    fake_cri::serve_noise(&noise);
    let mut cri = CriClient::new(tight(&noise));
    let t = Instant::now();
    let e = cri.lookup(CONTAINERD_ID, false).unwrap_err();
    assert!(
        matches!(e, CriError::Call { .. } | CriError::Timeout { .. }),
        "{e}"
    );
    assert!(t.elapsed() < Duration::from_secs(1), "{:?}", t.elapsed());

    // A socket that serves no CRI (containerd without its CRI plugin).
    let (fake, sock2) = {
        let d = tmp.path().join("u");
        fs::create_dir(&d).unwrap();
        answering_fake(&d)
    };
    *fake.mode.lock().unwrap() = Mode::Unimplemented;
    let mut cri = CriClient::new(config(&sock2));
    assert!(matches!(
        cri.lookup(CONTAINERD_ID, false),
        Err(CriError::Call {
            code: tonic::Code::Unimplemented,
            ..
        })
    ));
    // ... is not asked again soon.
    assert!(matches!(
        cri.lookup("other", false),
        Err(CriError::BackingOff(_))
    ));

    // A container whose sandbox the runtime does not know.
    let (fake, sock3) = {
        let d = tmp.path().join("v");
        fs::create_dir(&d).unwrap();
        answering_fake(&d)
    };
    fake.containers
        .lock()
        .unwrap()
        .push(cri_container("orphan", "gone-sandbox"));
    let mut cri = CriClient::new(config(&sock3));
    assert_eq!(
        cri.lookup("orphan", false).unwrap_err(),
        CriError::NotFound("pod sandbox gone-sandbox".into())
    );
    // A container without a sandbox id.
    fake.containers
        .lock()
        .unwrap()
        .push(cri_container("nosandbox", ""));
    assert!(matches!(
        cri.lookup("nosandbox", false),
        Err(CriError::Incomplete { .. })
    ));
    // The resolver still works with such a runtime.
    let state = tmp.path().join("state");
    install_containerd_fixture(&state);
    *fake.mode.lock().unwrap() = Mode::Garbage;
    let mut r = ContainerResolver::new(RuntimeRoots(vec![state]), 16)
        .with_cri(CriClient::new(config(&sock3)));
    r.scan().unwrap();
    let c = r.by_id(CONTAINERD_ID).unwrap();
    assert_eq!(c.pod_labels, None);
    assert_eq!(c.pod_namespace.as_deref(), Some("shop"));
}

/// A real runc container with containerd's annotations, and the fake CRI answering for its
/// id: the resolver (by host pid) gives the pod labels, and the label-scoped policy applies.
#[test]
fn runc_container_gets_pod_labels_from_cri() {
    if !runc::available() {
        return;
    }
    let opts = runc::Options::new("cri")
        .annotation("io.kubernetes.cri.container-type", "container")
        .annotation("io.kubernetes.cri.container-name", "web")
        .annotation("io.kubernetes.cri.sandbox-name", "web-7f9c6d5b8-x2x4k")
        .annotation("io.kubernetes.cri.sandbox-namespace", "shop")
        .annotation("io.kubernetes.cri.sandbox-id", SANDBOX_ID)
        .annotation(
            "io.kubernetes.cri.image-name",
            "docker.io/library/nginx:1.25",
        );
    let c = runc::TestContainer::start(opts).expect("start container");
    let tmp = tempfile::tempdir().unwrap();
    let (fake, sock) = answering_fake(tmp.path());
    fake.containers
        .lock()
        .unwrap()
        .push(cri_container(c.id(), SANDBOX_ID));
    let mut r = ContainerResolver::new(RuntimeRoots(vec![c.state_root().to_path_buf()]), 16)
        .with_cri(CriClient::new(config(&sock)));
    let t = Instant::now();
    let info = r.by_pid(c.init_pid()).expect("container resolves");
    let cold = t.elapsed();
    assert_eq!(info.id, c.id());
    assert_eq!(info.pod_label("app"), Some("web"));
    assert_eq!(info.pod_ip.as_deref(), Some("10.244.1.7"));
    assert_eq!(info.image_digest.as_deref(), Some(DIGEST));
    let now = time::OffsetDateTime::now_utc();
    let policies = RuntimePolicySet::from_str_named(LABEL_SCOPED, "web.yaml").unwrap();
    assert!(policies.enforces(&workload(&info), Control::BlockContainerExec, now));
    let t = Instant::now();
    let again = r.by_pid(c.init_pid()).unwrap();
    let warm = t.elapsed();
    assert!(Arc::ptr_eq(&info, &again));
    assert_eq!(fake.calls(), (1, 1));
    println!("runc container resolution through the resolver: first {cold:?}, cached {warm:?}");
}
