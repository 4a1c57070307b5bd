//! Registry pulls against stub registries in the test: a layer download cut in the middle and
//! resumed with a `Range` request (and what happens when the registry ignores the range, lies
//! about it, sends other bytes, or keeps cutting), and identity-token credentials exchanged at
//! the token endpoint with an OAuth2 refresh-token grant.

#[path = "support/image_builder.rs"]
mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use mamori_image::{scan, RegistryOptions, ScanOptions, SourceRef};
use serde_json::json;
use support::*;

const ACCESS: &str = "access-789";
const REFRESH: &str = "refresh+abc/=";

/// One request as the stub saw it.
#[derive(Debug, Clone, Default)]
struct Request {
    method: String,
    path: String,
    range: Option<String>,
    authorization: String,
    body: String,
}

fn read_request(s: &TcpStream) -> Request {
    let mut r = BufReader::new(s.try_clone().expect("clone"));
    let mut line = String::new();
    let _ = r.read_line(&mut line);
    let mut words = line.split_whitespace();
    let mut req = Request {
        method: words.next().unwrap_or("").to_string(),
        path: words.next().unwrap_or("").to_string(),
        ..Request::default()
    };
    let mut length = 0usize;
    loop {
        let mut h = String::new();
        if r.read_line(&mut h).is_err() || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            let v = v.trim().to_string();
            match k.to_ascii_lowercase().as_str() {
                "range" => req.range = Some(v),
                "authorization" => req.authorization = v,
                "content-length" => length = v.parse().unwrap_or(0),
                _ => {}
            }
        }
    }
    let mut body = vec![0; length.min(1 << 16)];
    let _ = r.read_exact(&mut body);
    req.body = String::from_utf8_lossy(&body).into_owned();
    req
}

fn head(status: &str, length: usize, headers: &[(&str, String)]) -> String {
    let mut out = format!("HTTP/1.1 {status}\r\nContent-Length: {length}\r\nConnection: close\r\n");
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out + "\r\n"
}

fn respond(s: &mut TcpStream, status: &str, headers: &[(&str, String)], body: &[u8]) {
    let _ = s.write_all(head(status, body.len(), headers).as_bytes());
    let _ = s.write_all(body);
}

/// How the stub answers a request for the layer blob.
#[derive(Clone, Copy, PartialEq, Debug)]
enum Layer {
    /// The first answer stops halfway; ranges are honoured.
    CutOnceThenRanges,
    /// The first answer stops halfway; later answers ignore the range (200, whole blob).
    CutOnceThenIgnoresRange,
    /// Every answer stops halfway through what it promised.
    AlwaysCut,
    /// The first answer stops halfway; the 206 answer starts at the wrong byte.
    WrongContentRange,
    /// The first answer stops halfway; the 206 answer carries other bytes.
    OtherBytesAfterCut,
    /// The first answer stops halfway and the connection stays open, silent.
    HangsHalfway,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Auth {
    Anonymous,
    /// Blobs and manifests need `Bearer ACCESS`, which the token endpoint gives for the
    /// refresh token `REFRESH` (POST, refresh-token grant) and for nothing else.
    IdentityToken,
    /// Basic authentication only.
    Basic,
}

struct Stub {
    port: u16,
    seen: Arc<Mutex<Vec<Request>>>,
}

impl Stub {
    fn seen(&self) -> Vec<Request> {
        self.seen.lock().expect("lock").clone()
    }
}

fn blob(layout: &Path, digest: &str) -> Option<Vec<u8>> {
    std::fs::read(
        layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:")),
    )
    .ok()
}

/// Answers one connection; `n` is the number of layer answers sent before. Returns the request
/// and whether the answer was (some of) the layer.
fn handle(
    mut s: TcpStream,
    layout: &Path,
    auth: Auth,
    layer: Layer,
    port: u16,
    n: usize,
) -> (Request, bool) {
    let req = read_request(&s);
    if req.path.starts_with("/token") {
        let form: Vec<(String, String)> = req
            .body
            .split('&')
            .filter_map(|kv| kv.split_once('='))
            .map(|(k, v)| (k.to_string(), pct_decode(v)))
            .collect();
        let has = |k: &str, v: &str| form.iter().any(|(a, b)| a == k && b == v);
        if req.method == "POST"
            && has("grant_type", "refresh_token")
            && has("refresh_token", REFRESH)
            && has("service", "test")
            && has("scope", "repository:mamori/test:pull")
            && form.iter().any(|(k, _)| k == "client_id")
        {
            let answer = json!({"access_token": ACCESS, "expires_in": 300});
            respond(&mut s, "200 OK", &[], answer.to_string().as_bytes());
        } else {
            respond(&mut s, "401 Unauthorized", &[], b"{}");
        }
        return (req, false);
    }
    let allowed = match auth {
        Auth::Anonymous => true,
        Auth::IdentityToken => req.authorization == format!("Bearer {ACCESS}"),
        Auth::Basic => req.authorization.starts_with("Basic "),
    };
    if !allowed {
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
        return (req, false);
    }
    let Some(rest) = req.path.strip_prefix("/v2/mamori/test/") else {
        respond(&mut s, "404 Not Found", &[], b"");
        return (req, false);
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
    let Some(body) = blob(layout, &digest) else {
        respond(&mut s, "404 Not Found", &[], b"");
        return (req, false);
    };
    // The config is small; the layer is over 64 KiB.
    let is_layer = kind == "blobs" && body.len() > 60_000;
    if !is_layer {
        respond(&mut s, "200 OK", &[], &body);
        return (req, false);
    }
    let from = req
        .range
        .as_deref()
        .and_then(|r| r.strip_prefix("bytes="))
        .and_then(|r| r.strip_suffix('-'))
        .and_then(|r| r.parse::<usize>().ok());
    let len = body.len();
    match from.filter(|_| layer != Layer::CutOnceThenIgnoresRange) {
        Some(start) => {
            let start = start.min(len);
            let shown = if layer == Layer::WrongContentRange {
                start.saturating_sub(1)
            } else {
                start
            };
            let mut part = body[start..].to_vec();
            if layer == Layer::OtherBytesAfterCut {
                // One byte of a file's content: the tar stays valid, only the digest tells.
                part[100] ^= 0x5a;
            }
            let range = ("Content-Range", format!("bytes {shown}-{}/{len}", len - 1));
            let _ = s.write_all(head("206 Partial Content", part.len(), &[range]).as_bytes());
            let send = if layer == Layer::AlwaysCut {
                part.len() / 2
            } else {
                part.len()
            };
            let _ = s.write_all(&part[..send]);
        }
        None if n == 0 || layer == Layer::AlwaysCut => {
            // Promise the whole blob, send half of it, close.
            let _ = s.write_all(head("200 OK", len, &[]).as_bytes());
            let _ = s.write_all(&body[..len / 2]);
            if layer == Layer::HangsHalfway {
                let _ = s.flush();
                std::thread::sleep(Duration::from_secs(8));
            }
        }
        None => respond(&mut s, "200 OK", &[], &body),
    }
    let _ = s.flush();
    let _ = s.shutdown(std::net::Shutdown::Both);
    (req, true)
}

/// Decodes a form value (`%XX` and `+`).
fn pct_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (b'+', _) => {
                out.push(b' ');
                i += 1;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn serve(layout: PathBuf, auth: Auth, layer: Layer) -> Stub {
    let l = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = l.local_addr().expect("addr").port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    std::thread::spawn(move || {
        let mut layer_answers = 0;
        for s in l.incoming().flatten() {
            let (req, was_layer) = handle(s, &layout, auth, layer, port, layer_answers);
            layer_answers += usize::from(was_layer);
            log.lock().expect("lock").push(req);
        }
    });
    Stub { port, seen }
}

/// An image whose single layer (uncompressed, so that a changed byte is seen by the digest
/// check alone) is large enough to be cut in the middle of a file's content.
fn image() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut noise = Vec::with_capacity(64 * 1024);
    let mut x = 0x2545_f491_4f6c_dd1du64;
    for _ in 0..64 * 1024 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        noise.push((x >> 24) as u8); // ok: the low byte of a shifted word
    }
    let l1 = plain(tar(&[
        E::File("etc/os-release", 0o644, OS_RELEASE),
        E::File(
            "var/lib/dpkg/status",
            0o644,
            &dpkg_status(&[("libc6", "2.36-9+deb12u4"), ("bash", "5.2.15-2+b7")]),
        ),
        E::File("opt/noise.bin", 0o644, &noise),
    ]));
    oci_layout(dir.path(), "t", &[l1], json!({}));
    dir
}

fn opts(config: Option<PathBuf>, retries: u32) -> ScanOptions {
    ScanOptions {
        registry: RegistryOptions {
            insecure: true,
            docker_config: config,
            timeout: Some(Duration::from_secs(5)),
            retries: Some(retries),
            retry_base: Some(Duration::from_millis(10)),
            ..RegistryOptions::default()
        },
        ..ScanOptions::default()
    }
}

fn source(port: u16) -> SourceRef {
    format!("127.0.0.1:{port}/mamori/test:t")
        .parse()
        .expect("ref")
}

fn names(inv: &mamori_image::Inventory) -> Vec<String> {
    let mut v: Vec<String> = inv
        .packages
        .iter()
        .map(|p| p.package.name.clone())
        .collect();
    v.sort();
    v
}

/// The `Range` header of every blob request (config and layer), in order.
fn blob_ranges(stub: &Stub) -> Vec<Option<String>> {
    stub.seen()
        .iter()
        .filter(|r| r.path.contains("/blobs/"))
        .map(|r| r.range.clone())
        .collect()
}

#[test]
fn layer_cut_halfway_is_resumed_from_the_bytes_received() {
    let img = image();
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(img.path().join("index.json")).expect("index"))
            .expect("json");
    let manifest_digest = index["manifests"][0]["digest"].as_str().expect("digest");
    let m: serde_json::Value =
        serde_json::from_slice(&blob(img.path(), manifest_digest).expect("manifest"))
            .expect("json");
    let layer_len = usize::try_from(m["layers"][0]["size"].as_u64().expect("size")).expect("small");
    let stub = serve(
        img.path().to_path_buf(),
        Auth::Anonymous,
        Layer::CutOnceThenRanges,
    );
    let inv = scan(&source(stub.port), &opts(None, 3)).expect("resumed pull");
    assert_eq!(names(&inv), ["bash", "libc6"]);
    // Config blob (no range), the cut layer request (no range), then one range request from
    // exactly the bytes received.
    let ranges = blob_ranges(&stub);
    assert_eq!(
        ranges,
        vec![None, None, Some(format!("bytes={}-", layer_len / 2))],
        "{:?}",
        stub.seen()
    );
}

#[test]
fn registry_that_ignores_the_range_is_read_again_and_skipped() {
    let img = image();
    let stub = serve(
        img.path().to_path_buf(),
        Auth::Anonymous,
        Layer::CutOnceThenIgnoresRange,
    );
    let inv = scan(&source(stub.port), &opts(None, 3)).expect("pull");
    assert_eq!(names(&inv), ["bash", "libc6"]);
    assert_eq!(blob_ranges(&stub).len(), 3);
}

#[test]
fn resumption_is_bounded_checked_and_verified() {
    let img = image();
    // Cut every time: three resumptions, then an error saying so.
    let stub = serve(img.path().to_path_buf(), Auth::Anonymous, Layer::AlwaysCut);
    let err = scan(&source(stub.port), &opts(None, 3)).expect_err("always cut");
    let msg = format!("{err:#}");
    assert!(
        msg.contains("download cut after") && msg.contains("resumed 3 times"),
        "{msg}"
    );
    assert_eq!(blob_ranges(&stub).iter().filter(|r| r.is_some()).count(), 3);
    // retries = 0: no resumption at all.
    let stub = serve(img.path().to_path_buf(), Auth::Anonymous, Layer::AlwaysCut);
    let err = scan(&source(stub.port), &opts(None, 0)).expect_err("no resumption");
    assert!(format!("{err:#}").contains("resumed 0 times"), "{err:#}");
    // A 206 that starts elsewhere than asked is refused.
    let stub = serve(
        img.path().to_path_buf(),
        Auth::Anonymous,
        Layer::WrongContentRange,
    );
    let err = scan(&source(stub.port), &opts(None, 3)).expect_err("wrong range");
    assert!(format!("{err:#}").contains("Content-Range"), "{err:#}");
    // Other bytes after the cut: the stream is complete but the digest check refuses it.
    let stub = serve(
        img.path().to_path_buf(),
        Auth::Anonymous,
        Layer::OtherBytesAfterCut,
    );
    let err = scan(&source(stub.port), &opts(None, 3)).expect_err("tampered resumption");
    let msg = format!("{err:#}");
    assert!(msg.contains("digest mismatch"), "{msg}");
}

fn helper(dir: &Path, name: &str, body: &str) {
    use std::os::unix::fs::PermissionsExt;
    let p = dir.join(format!("docker-credential-{name}"));
    std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).expect("write helper");
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

#[test]
fn identity_token_is_exchanged_with_a_refresh_token_grant() {
    let img = image();
    let cfg_dir = tempfile::tempdir().expect("tempdir");

    // From `auths.<host>.identitytoken` (Docker writes `auth` beside it; the token wins).
    let stub = serve(
        img.path().to_path_buf(),
        Auth::IdentityToken,
        Layer::CutOnceThenRanges,
    );
    let cfg = cfg_dir.path().join("auths.json");
    std::fs::write(
        &cfg,
        json!({"auths": {format!("127.0.0.1:{}", stub.port): {
            "auth": "dXNlcjpwYXNz", "identitytoken": REFRESH}}})
        .to_string(),
    )
    .expect("write");
    let inv = scan(&source(stub.port), &opts(Some(cfg), 3)).expect("identity-token pull");
    assert_eq!(names(&inv), ["bash", "libc6"]);
    let seen = stub.seen();
    let token_requests: Vec<&Request> = seen
        .iter()
        .filter(|r| r.path.starts_with("/token"))
        .collect();
    assert_eq!(token_requests.len(), 1, "{seen:?}");
    assert_eq!(token_requests[0].method, "POST");
    assert_eq!(
        token_requests[0].authorization, "",
        "the refresh token goes in the form only"
    );
    assert!(
        seen.iter().all(|r| !r.authorization.contains(REFRESH)),
        "the refresh token is never sent to the registry"
    );
    // The layer cut halfway was asked for again with the access token too: resumed with a range
    // when the half had arrived, or whole when the close reached the client first (a reset can
    // discard what was buffered; the resume itself is tested above). Config, the cut layer
    // request and its retry: at least three blob requests carry the token.
    let bearer = format!("Bearer {ACCESS}");
    let with_token = seen
        .iter()
        .filter(|r| r.path.contains("/blobs/") && r.authorization == bearer)
        .count();
    assert!(with_token >= 3, "{seen:?}");

    // From a credential helper answering with the user name `<token>`.
    let stub = serve(
        img.path().to_path_buf(),
        Auth::IdentityToken,
        Layer::CutOnceThenRanges,
    );
    let bin = tempfile::tempdir().expect("tempdir");
    helper(
        bin.path(),
        "idt",
        &format!(
            "cat >/dev/null\nprintf '%s' '{{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"{REFRESH}\"}}'"
        ),
    );
    let cfg = cfg_dir.path().join("helper.json");
    std::fs::write(&cfg, json!({"credsStore": "idt"}).to_string()).expect("write");
    let mut o = opts(Some(cfg), 3);
    o.registry.helper_path = Some(bin.path().as_os_str().to_os_string());
    let inv = scan(&source(stub.port), &o).expect("helper identity-token pull");
    assert_eq!(names(&inv), ["bash", "libc6"]);

    // A wrong refresh token: the token endpoint refuses it and the error says where.
    let stub = serve(
        img.path().to_path_buf(),
        Auth::IdentityToken,
        Layer::CutOnceThenRanges,
    );
    let cfg = cfg_dir.path().join("wrong.json");
    std::fs::write(
        &cfg,
        json!({"auths": {format!("127.0.0.1:{}", stub.port): {"identitytoken": "stale"}}})
            .to_string(),
    )
    .expect("write");
    let err = scan(&source(stub.port), &opts(Some(cfg), 3)).expect_err("refused");
    assert!(
        format!("{err:#}").contains("token endpoint answered HTTP 401"),
        "{err:#}"
    );

    // A registry that wants basic credentials gets no identity token as a password.
    let stub = serve(
        img.path().to_path_buf(),
        Auth::Basic,
        Layer::CutOnceThenRanges,
    );
    let cfg = cfg_dir.path().join("basic.json");
    std::fs::write(
        &cfg,
        json!({"auths": {format!("127.0.0.1:{}", stub.port): {"identitytoken": REFRESH}}})
            .to_string(),
    )
    .expect("write");
    let err = scan(&source(stub.port), &opts(Some(cfg), 3)).expect_err("basic only");
    assert!(format!("{err:#}").contains("identity token"), "{err:#}");
    assert!(stub
        .seen()
        .iter()
        .all(|r| !r.authorization.contains("refresh")));
}

#[test]
fn layer_body_that_stops_mid_stream_times_out() {
    let img = image();
    let stub = serve(
        img.path().to_path_buf(),
        Auth::Anonymous,
        Layer::HangsHalfway,
    );
    let mut o = opts(None, 3);
    o.registry.timeout = Some(Duration::from_millis(500));
    let start = std::time::Instant::now();
    let err = scan(&source(stub.port), &o).expect_err("hangs");
    assert!(
        start.elapsed() < Duration::from_secs(5),
        "took {:?}",
        start.elapsed()
    );
    assert!(
        format!("{err:#}").to_lowercase().contains("timed out")
            || format!("{err:#}").to_lowercase().contains("timeout"),
        "{err:#}"
    );
}
