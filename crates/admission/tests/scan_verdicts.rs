//! The real verdict source: an image built with umoci (a Debian 12 root with a vulnerable
//! util-linux in its dpkg database), served by a small registry in the test, scanned through
//! [`RegistryScanner`] against a vulnerability database imported from an OSV record, behind
//! the digest-keyed [`ScanCache`]; then reviews decided by scan-result rules. Needs root and
//! umoci (skipped with a reason otherwise; required in CI).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use mamori_admission::review::review;
use mamori_admission::scanner::RegistryScanner;
use mamori_admission::verdicts::{CacheSettings, ScanCache};
use mamori_image::{RegistryOptions, ScanOptions};
use mamori_policy::{Engine, Policy};
use mamori_vulndb::{Database, Suppressions};
use serde_json::json;

const ADVISORY: &str = r#"{
  "id": "DEBIAN-CVE-2099-0001",
  "modified": "2099-01-01T00:00:00Z",
  "summary": "util-linux: test advisory",
  "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
  "affected": [{"package": {"ecosystem": "Debian:12", "name": "util-linux"},
    "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.38.1-5+deb12u1"}]}]}]
}"#;

const STATUS: &str = "Package: util-linux\nStatus: install ok installed\nArchitecture: amd64\nVersion: 2.38.1-5+b1\nSource: util-linux (2.38.1-5)\n\nPackage: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4+deb12u5\n\n";

fn run(cmd: &Path, args: &[&str]) {
    let out = Command::new(cmd).args(args).output().expect("spawn");
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        cmd.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn write(root: &Path, rel: &str, text: &str) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, text).unwrap();
}

fn respond(s: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    let _ = s.write_all(out.as_bytes());
    let _ = s.write_all(body);
}

/// Serves `layout` as repository `mamori/app` (anonymous, plain HTTP); counts manifest pulls.
fn serve(layout: PathBuf, pulls: Arc<std::sync::atomic::AtomicUsize>) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let mut r = BufReader::new(s.try_clone().unwrap());
            let mut line = String::new();
            if r.read_line(&mut line).is_err() {
                continue;
            }
            loop {
                let mut h = String::new();
                if r.read_line(&mut h).is_err() || h.trim().is_empty() {
                    break;
                }
            }
            let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
            let Some(rest) = path.strip_prefix("/v2/mamori/app/") else {
                respond(&mut s, "404 Not Found", &[], b"");
                continue;
            };
            let (kind, reference) = rest.split_once('/').unwrap_or(("", ""));
            let digest = if kind == "manifests" && !reference.starts_with("sha256:") {
                let index: serde_json::Value =
                    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap())
                        .unwrap();
                index["manifests"][0]["digest"]
                    .as_str()
                    .unwrap_or("")
                    .to_string()
            } else {
                reference.to_string()
            };
            if kind == "manifests" {
                pulls.fetch_add(1, Ordering::SeqCst);
            }
            let file = layout
                .join("blobs/sha256")
                .join(digest.trim_start_matches("sha256:"));
            match std::fs::read(&file) {
                Ok(body) => {
                    let ct = if kind == "manifests" {
                        "application/vnd.oci.image.manifest.v1+json"
                    } else {
                        "application/octet-stream"
                    };
                    respond(
                        &mut s,
                        "200 OK",
                        &[
                            ("Content-Type", ct.to_string()),
                            ("Docker-Content-Digest", digest),
                        ],
                        &body,
                    );
                }
                Err(_) => respond(&mut s, "404 Not Found", &[], b""),
            }
        }
    });
    port
}

const POLICY: &str = r#"
apiVersion: mamori.dev/v1
kind: Policy
metadata: {name: scan}
spec:
  rules:
  - id: no-critical
    action: enforce
    scanResult: {vulnerabilities: {severity: critical, fixableOnly: true}}
  - id: no-network-cves
    action: warn
    scanResult: {cvss: {attackVector: network, severity: high}}
  - id: unscanned
    action: enforce
    scanResult: {unscanned: {maxScanAgeDays: 30}}
"#;

fn pod_review(image: &str) -> Vec<u8> {
    serde_json::to_vec(
        &json!({"apiVersion": "admission.k8s.io/v1", "kind": "AdmissionReview",
        "request": {"uid": "u", "kind": {"kind": "Pod"}, "resource": {"resource": "pods"},
        "name": "web", "namespace": "team-a", "operation": "CREATE",
        "userInfo": {"username": "alice"},
        "object": {"kind": "Pod", "metadata": {"name": "web"},
            "spec": {"containers": [{"name": "c", "image": image}]}}}}),
    )
    .unwrap()
}

#[test]
fn registry_image_is_scanned_cached_by_digest_and_gated() {
    if !mamori_testkit::require_root("building images with umoci") {
        return;
    }
    let Some(umoci) = mamori_testkit::tool("umoci") else {
        return;
    };
    let w = tempfile::tempdir().unwrap();
    let rootfs = w.path().join("rootfs");
    write(
        &rootfs,
        "etc/os-release",
        "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n",
    );
    write(&rootfs, "etc/debian_version", "12.4\n");
    write(&rootfs, "var/lib/dpkg/status", STATUS);
    let layout = w.path().join("oci");
    let img = format!("{}:1", layout.display());
    let s = |p: &Path| p.display().to_string();
    run(&umoci, &["init", "--layout", &s(&layout)]);
    run(&umoci, &["new", "--image", &img]);
    run(&umoci, &["insert", "--image", &img, &s(&rootfs), "/"]);

    let osv = w.path().join("osv");
    write(&osv, "DEBIAN-CVE-2099-0001.json", ADVISORY);
    let db_dir = w.path().join("db");
    mamori_vulndb::import(
        &[mamori_vulndb::Source::Dir(osv)],
        &db_dir,
        &mamori_vulndb::ImportOptions::default(),
    )
    .unwrap();
    let db = Arc::new(Database::open(&db_dir).unwrap());

    let pulls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let port = serve(layout.clone(), pulls.clone());
    let options = ScanOptions {
        registry: RegistryOptions {
            insecure: true,
            docker_config: None,
            timeout: Some(Duration::from_secs(5)),
            ..RegistryOptions::default()
        },
        ..ScanOptions::default()
    };
    let scanner = RegistryScanner::new(db, options, Suppressions::new());
    let cache = ScanCache::start(
        Arc::new(scanner),
        CacheSettings {
            budget: Duration::from_secs(20),
            ..CacheSettings::default()
        },
    );
    let engine =
        Engine::new(Policy::from_str_named(POLICY, "p.yaml").unwrap()).with_verdicts(cache.clone());
    let now = time::OffsetDateTime::now_utc();

    let tagged = format!("127.0.0.1:{port}/mamori/app:1");
    let r = review(&engine, &pod_review(&tagged), now).unwrap();
    let d = &r.decision;
    assert!(!d.allowed(), "{d:?}");
    let msg = d.message.clone().unwrap();
    assert!(
        msg.contains("violates mamori rule \"no-critical\"")
            && msg.contains(
                "1 fixable vulnerabilities of severity critical or higher (DEBIAN-CVE-2099-0001)"
            ),
        "{msg}"
    );
    assert!(
        d.warnings.iter().any(|w| w.contains("no-network-cves")),
        "{:?}",
        d.warnings
    );
    assert!(
        !msg.contains("\"unscanned\""),
        "scanned within the budget: {msg}"
    );
    assert_eq!(cache.stats().scans.load(Ordering::SeqCst), 1);

    // Cached: no second pull for the same tag, nor for the digest it resolved to.
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let digest = index["manifests"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    let pulled = pulls.load(Ordering::SeqCst);
    let r2 = review(&engine, &pod_review(&tagged), now).unwrap();
    assert!(!r2.decision.allowed());
    // The same image pinned by digest: the tag's scan already cached that digest.
    let pinned = format!("127.0.0.1:{port}/mamori/app@{digest}");
    let r3 = review(&engine, &pod_review(&pinned), now).unwrap();
    assert!(!r3.decision.allowed());
    assert_eq!(cache.len(), 1, "one digest cached");
    assert_eq!(
        pulls.load(Ordering::SeqCst),
        pulled,
        "no pull for tag or digest"
    );
    assert_eq!(cache.stats().scans.load(Ordering::SeqCst), 1);
    // Each of the three scan-result rules looks the image up: review 1 = 1 miss + 2 hits,
    // reviews 2 and 3 = 3 hits each.
    assert_eq!(cache.stats().hits.load(Ordering::SeqCst), 8);
    assert_eq!(cache.stats().misses.load(Ordering::SeqCst), 1);

    // An image the registry does not have: the scan fails and the image counts as unscanned.
    let missing = format!("127.0.0.1:{port}/other/app:1");
    let r4 = review(&engine, &pod_review(&missing), now).unwrap();
    let m = r4.decision.message.unwrap_or_default();
    assert!(
        m.contains("violates mamori rule \"unscanned\"") && m.contains("scan failed"),
        "{m}"
    );
}
