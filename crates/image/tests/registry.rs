//! Pulling from a registry: a small OCI distribution server in the test (anonymous, basic,
//! bearer token flow, a tampered blob, a hanging server), serving a layout the test builds.

#[path = "support/image_builder.rs"]
mod support;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mamori_image::{scan, RegistryOptions, ScanOptions, SourceRef};
use serde_json::json;
use support::*;

#[derive(Clone, Copy, PartialEq)]
enum Auth {
    Anonymous,
    Basic,
    Bearer,
}

const TOKEN: &str = "tok-123";
const BASIC: &str = "dXNlcjpwYXNz"; // user:pass

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

fn handle(mut s: TcpStream, layout: &Path, auth: Auth, port: u16, tamper: bool) {
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    if r.read_line(&mut line).is_err() {
        return;
    }
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut authz = String::new();
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                authz = v.trim().to_string();
            }
        }
    }
    if path.starts_with("/token") {
        if authz == format!("Basic {BASIC}")
            && path.contains("scope=repository%3Amamori%2Ftest%3Apull")
        {
            respond(
                &mut s,
                "200 OK",
                &[],
                json!({ "token": TOKEN }).to_string().as_bytes(),
            );
        } else {
            respond(&mut s, "401 Unauthorized", &[], b"{}");
        }
        return;
    }
    let ok = match auth {
        Auth::Anonymous => true,
        Auth::Basic => authz == format!("Basic {BASIC}"),
        Auth::Bearer => authz == format!("Bearer {TOKEN}"),
    };
    if !ok {
        let challenge = match auth {
            Auth::Basic => "Basic realm=\"test\"".to_string(),
            _ => format!(
                "Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"test\",scope=\"repository:mamori/test:pull\""
            ),
        };
        respond(
            &mut s,
            "401 Unauthorized",
            &[("WWW-Authenticate", challenge)],
            b"{}",
        );
        return;
    }
    let Some(rest) = path.strip_prefix("/v2/mamori/test/") else {
        respond(&mut s, "404 Not Found", &[], b"");
        return;
    };
    let (kind, reference) = rest.split_once('/').unwrap_or(("", ""));
    let digest = if kind == "manifests" && !reference.starts_with("sha256:") {
        let index: serde_json::Value =
            serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index"))
                .expect("json");
        index["manifests"][0]["digest"]
            .as_str()
            .unwrap_or("")
            .to_string()
    } else {
        reference.to_string()
    };
    let file = layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"));
    match std::fs::read(&file) {
        Ok(mut body) => {
            if tamper && kind == "blobs" && body.len() > 50 {
                let i = body.len() / 2;
                body[i] ^= 0xff;
            }
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

fn serve(layout: PathBuf, auth: Auth, tamper: bool) -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            handle(s, &layout, auth, port, tamper);
        }
    });
    port
}

fn image() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let l1 = gz(tar(&[
        E::File("etc/os-release", 0o644, OS_RELEASE),
        E::File(
            "var/lib/dpkg/status",
            0o644,
            &dpkg_status(&[("libc6", "2.36-9+deb12u4"), ("bash", "5.2.15-2+b7")]),
        ),
    ]));
    oci_layout(dir.path(), "t", &[l1], json!({}));
    dir
}

fn opts(config: Option<PathBuf>) -> ScanOptions {
    ScanOptions {
        registry: RegistryOptions {
            insecure: true,
            docker_config: config,
            timeout: Some(Duration::from_secs(5)),
            retry_base: Some(Duration::from_millis(10)),
            ..RegistryOptions::default()
        },
        ..ScanOptions::default()
    }
}

fn docker_config(dir: &Path, port: u16) -> PathBuf {
    let f = dir.join("config.json");
    std::fs::write(
        &f,
        json!({"auths": {format!("127.0.0.1:{port}"): {"auth": BASIC}}}).to_string(),
    )
    .expect("write");
    f
}

#[test]
fn anonymous_basic_and_bearer_pulls() {
    let img = image();
    for auth in [Auth::Anonymous, Auth::Basic, Auth::Bearer] {
        let port = serve(img.path().to_path_buf(), auth, false);
        let cfg = docker_config(img.path(), port);
        let src: SourceRef = format!("127.0.0.1:{port}/mamori/test:t")
            .parse()
            .expect("ref");
        let inv = scan(&src, &opts(Some(cfg))).expect("pull");
        let names: Vec<&str> = inv
            .packages
            .iter()
            .map(|p| p.package.name.as_str())
            .collect();
        assert_eq!(names, ["libc6", "bash"]);
        assert!(inv
            .manifest_digest
            .as_deref()
            .is_some_and(|d| d.starts_with("sha256:")));
        // By digest too.
        let by_digest: SourceRef = format!(
            "127.0.0.1:{port}/mamori/test@{}",
            inv.manifest_digest.clone().unwrap_or_default()
        )
        .parse()
        .expect("ref");
        assert_eq!(
            scan(&by_digest, &opts(Some(docker_config(img.path(), port))))
                .expect("pull")
                .packages
                .len(),
            2
        );
    }
}

#[test]
fn missing_credentials_tampered_blobs_and_plain_http_are_errors() {
    let img = image();
    let port = serve(img.path().to_path_buf(), Auth::Basic, false);
    let src: SourceRef = format!("127.0.0.1:{port}/mamori/test:t")
        .parse()
        .expect("ref");
    let none = img.path().join("no-config.json");
    let err = scan(&src, &opts(Some(none))).expect_err("no credentials");
    assert!(err.to_string().contains("wants basic credentials"), "{err}");

    let port = serve(img.path().to_path_buf(), Auth::Anonymous, true);
    let src: SourceRef = format!("127.0.0.1:{port}/mamori/test:t")
        .parse()
        .expect("ref");
    let err = scan(&src, &opts(None)).expect_err("tampered");
    assert!(
        err.to_string().contains("digest mismatch") || err.to_string().contains("malformed"),
        "{err}"
    );

    // Without --insecure the client speaks TLS, which this server does not.
    let secure = ScanOptions::default();
    assert!(scan(&src, &secure).is_err());
}

#[test]
fn hanging_registry_times_out() {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for s in l.incoming().flatten() {
            held.push(s); // accept and never answer
        }
    });
    let src: SourceRef = format!("127.0.0.1:{port}/mamori/test:t")
        .parse()
        .expect("ref");
    let mut o = opts(None);
    o.registry.timeout = Some(Duration::from_millis(500));
    let start = std::time::Instant::now();
    let err = scan(&src, &o).expect_err("timeout");
    assert!(
        start.elapsed() < Duration::from_secs(10),
        "took {:?}",
        start.elapsed()
    );
    assert!(err.to_string().contains("registry request"), "{err}");
}

/// Reads a request's line and headers, returning the path.
fn read_request(s: &TcpStream) -> String {
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    let _ = r.read_line(&mut line);
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
    }
    line.split_whitespace().nth(1).unwrap_or("").to_string()
}

/// A registry whose every request fails three times before it is served: 503 with
/// `Retry-After: 0`, 429 without it, then a connection closed without an answer. Returns the
/// port and the count of connections.
fn serve_flaky(layout: PathBuf, first_retry_after: &'static str) -> (u16, Arc<AtomicUsize>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let count = Arc::new(AtomicUsize::new(0));
    let seen = count.clone();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            match n % 4 {
                0 => {
                    read_request(&s);
                    let after = if n == 0 { first_retry_after } else { "0" };
                    respond(
                        &mut s,
                        "503 Service Unavailable",
                        &[("Retry-After", after.to_string())],
                        b"busy",
                    );
                }
                1 => {
                    read_request(&s);
                    respond(&mut s, "429 Too Many Requests", &[], b"slow down");
                }
                2 => {
                    read_request(&s);
                    drop(s); // closed without an answer
                }
                _ => handle(s, &layout, Auth::Anonymous, port, false),
            }
        }
    });
    (port, count)
}

#[test]
fn flaky_registry_is_retried_with_backoff_and_retry_after() {
    let img = image();
    let (port, count) = serve_flaky(img.path().to_path_buf(), "1");
    let src: SourceRef = format!("127.0.0.1:{port}/mamori/test:t")
        .parse()
        .expect("ref");
    let start = Instant::now();
    let inv = scan(&src, &opts(None)).expect("pull after retries");
    assert_eq!(inv.packages.len(), 2);
    // Manifest, config and layer: four connections each.
    assert_eq!(count.load(Ordering::SeqCst), 12);
    // The first Retry-After (1 s) was honoured.
    assert!(
        start.elapsed() >= Duration::from_secs(1),
        "{:?}",
        start.elapsed()
    );

    // With fewer retries than failures the last answer is the error.
    let (port, _) = serve_flaky(img.path().to_path_buf(), "0");
    let src: SourceRef = format!("127.0.0.1:{port}/mamori/test:t")
        .parse()
        .expect("ref");
    let mut o = opts(None);
    o.registry.retries = Some(1);
    let err = scan(&src, &o).expect_err("gives up");
    assert!(err.to_string().contains("HTTP 429"), "{err}");
    let (port, _) = serve_flaky(img.path().to_path_buf(), "0");
    let src: SourceRef = format!("127.0.0.1:{port}/mamori/test:t")
        .parse()
        .expect("ref");
    o.registry.retries = Some(0);
    let err = scan(&src, &o).expect_err("no retries");
    assert!(err.to_string().contains("HTTP 503"), "{err}");
}

#[test]
fn retry_after_beyond_the_bound_fails_at_once() {
    let img = image();
    let (port, count) = serve_flaky(img.path().to_path_buf(), "3600");
    let src: SourceRef = format!("127.0.0.1:{port}/mamori/test:t")
        .parse()
        .expect("ref");
    let start = Instant::now();
    let err = scan(&src, &opts(None)).expect_err("refuses to wait an hour");
    assert!(start.elapsed() < Duration::from_secs(5));
    assert!(err.to_string().contains("Retry-After of 3600 s"), "{err}");
    assert_eq!(count.load(Ordering::SeqCst), 1);
}

/// Writes `docker-credential-NAME` (a shell script) into `dir`.
fn helper(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let f = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&f, format!("#!/bin/sh\n{body}\n")).expect("write");
    std::fs::set_permissions(&f, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn docker_credential_helpers() {
    let Some(_sh) = mamori_testkit::tool("sh") else {
        return;
    };
    let img = image();
    let bin = tempfile::tempdir().expect("tempdir");
    let asked = bin.path().join("asked");
    // Answers only for the server it is asked about, and records what it was asked.
    helper(
        bin.path(),
        "fake",
        &format!(
            r#"[ "$1" = get ] || exit 2
read -r server || true
printf '%s' "$server" > {asked}
case "$server" in
  127.0.0.1:*) printf '{{"ServerURL":"%s","Username":"user","Secret":"pass"}}' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac"#,
            asked = asked.display()
        ),
    );
    helper(bin.path(), "broken", "echo 'helper exploded' >&2; exit 3");
    helper(
        bin.path(),
        "empty",
        "echo 'credentials not found in native keychain'; exit 1",
    );
    helper(bin.path(), "slow", "sleep 30");
    let with = |config: serde_json::Value, auth: Auth| {
        let port = serve(img.path().to_path_buf(), auth, false);
        let cfg = bin.path().join(format!("config-{port}.json"));
        let text = config.to_string().replace("PORT", &port.to_string());
        std::fs::write(&cfg, text).expect("write");
        let src: SourceRef = format!("127.0.0.1:{port}/mamori/test:t")
            .parse()
            .expect("ref");
        let mut o = opts(Some(cfg));
        o.registry.helper_path = Some(bin.path().as_os_str().to_owned());
        o.registry.timeout = Some(Duration::from_secs(2));
        (port, scan(&src, &o))
    };
    // credHelpers for this registry, basic auth.
    let (port, got) = with(
        json!({"credHelpers": {"127.0.0.1:PORT": "fake"}}),
        Auth::Basic,
    );
    assert_eq!(got.expect("pull").packages.len(), 2);
    assert_eq!(
        std::fs::read_to_string(&asked).expect("helper ran"),
        format!("127.0.0.1:{port}")
    );
    // credsStore for every registry, bearer token flow (basic at the token endpoint).
    let (_, got) = with(json!({"credsStore": "fake"}), Auth::Bearer);
    assert_eq!(got.expect("pull").packages.len(), 2);
    // credHelpers wins over credsStore.
    let (_, got) = with(
        json!({"credsStore": "broken", "credHelpers": {"127.0.0.1:PORT": "fake"}}),
        Auth::Basic,
    );
    assert_eq!(got.expect("pull").packages.len(), 2);
    // A helper without credentials falls back to auths.
    let (_, got) = with(
        json!({"credsStore": "empty", "auths": {"127.0.0.1:PORT": {"auth": BASIC}}}),
        Auth::Basic,
    );
    assert_eq!(got.expect("pull").packages.len(), 2);
    // Failures say which helper and why.
    let (_, got) = with(json!({"credsStore": "broken"}), Auth::Basic);
    let err = got.expect_err("helper fails").to_string();
    assert!(
        err.contains("docker-credential-broken failed") && err.contains("helper exploded"),
        "{err}"
    );
    let (_, got) = with(json!({"credsStore": "missing"}), Auth::Basic);
    let err = got.expect_err("no such helper").to_string();
    assert!(err.contains("docker-credential-missing not found"), "{err}");
    let start = Instant::now();
    let (_, got) = with(json!({"credsStore": "slow"}), Auth::Basic);
    let err = got.expect_err("helper hangs").to_string();
    assert!(err.contains("did not answer within"), "{err}");
    assert!(start.elapsed() < Duration::from_secs(10));
    // An anonymous registry never runs the helper.
    std::fs::remove_file(&asked).expect("rm");
    let (_, got) = with(json!({"credsStore": "fake"}), Auth::Anonymous);
    assert_eq!(got.expect("pull").packages.len(), 2);
    assert!(!asked.exists());
}
