//! Registry credentials from the docker config file: `credHelpers.<host>` (a credential helper
//! for one registry), else `credsStore` (a helper for every registry), else `auths.<host>`
//! (`auth`, base64 `user:password`, or `username` + `password`). A helper is the program
//! `docker-credential-<name>`, run as `docker-credential-<name> get` with the server address on
//! stdin; it prints `{"ServerURL", "Username", "Secret"}`. A helper that says it has no
//! credentials falls back to the `auths` entry. Helpers run only when the registry asks for
//! credentials, with a timeout and a cap on what they print; their output is never logged.
//!
//! Identity tokens: an `auths` entry with `identitytoken`, or a helper answering with the user
//! name `<token>`, holds an OAuth2 refresh token. It is not sent to the registry itself: the
//! bearer flow exchanges it at the token endpoint for an access token (grant type
//! `refresh_token`).

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Most bytes read from a helper's stdout or stderr.
const MAX_HELPER_OUTPUT: u64 = 64 * 1024;

/// Base64 (standard alphabet, padded), enough for basic auth.
pub(crate) fn b64_encode(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional); `None` on bad input.
pub(crate) fn b64_decode(s: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.trim().trim_end_matches('=').bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' | b'-' => 62,
            b'/' | b'_' => 63,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8); // ok: takes the low 8 bits
        }
    }
    Some(out)
}

/// Whether a config key (`host[:port]`, or a URL such as `https://index.docker.io/v1/`)
/// names `host`; Docker Hub goes by several names.
fn key_matches(key: &str, host: &str) -> bool {
    let key = key
        .trim_start_matches("https://")
        .trim_start_matches("http://");
    let key = key.split('/').next().unwrap_or(key);
    let hub = |h: &str| matches!(h, "docker.io" | "index.docker.io" | "registry-1.docker.io");
    key == host || (hub(host) && hub(key))
}

/// Credentials for one registry.
#[derive(Clone, PartialEq, Eq)]
pub(crate) enum Credential {
    /// Base64 `user:password`, for basic authentication (also at a token endpoint).
    Basic(String),
    /// An OAuth2 refresh token, exchanged at the bearer token endpoint.
    IdentityToken(String),
}

impl std::fmt::Debug for Credential {
    // Never prints the secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Credential::Basic(_) => f.write_str("Basic(…)"),
            Credential::IdentityToken(_) => f.write_str("IdentityToken(…)"),
        }
    }
}

/// The credentials for `host` in the `auths` of a docker config: its `identitytoken` when it
/// has one, else `auth` (base64 `user:pass`) or `username` + `password`.
fn auths_entry(v: &serde_json::Value, host: &str) -> Option<Credential> {
    let auths = v.get("auths")?.as_object()?;
    for (k, entry) in auths {
        if key_matches(k, host) {
            if let Some(t) = entry
                .get("identitytoken")
                .and_then(|t| t.as_str())
                .filter(|t| !t.is_empty())
            {
                return Some(Credential::IdentityToken(t.to_string()));
            }
            if let Some(a) = entry.get("auth").and_then(|a| a.as_str()) {
                return b64_decode(a)
                    .filter(|d| d.contains(&b':'))
                    .map(|_| Credential::Basic(a.to_string()));
            }
            let (u, p) = (
                entry.get("username")?.as_str()?,
                entry.get("password")?.as_str()?,
            );
            return Some(Credential::Basic(b64_encode(format!("{u}:{p}").as_bytes())));
        }
    }
    None
}

/// Credentials for `host`; `None` when the config has none for it (or does not exist), an
/// error when a configured helper fails. `helper_path` is the search path for helpers (default
/// `$PATH`).
pub(crate) fn lookup(
    config: &Path,
    host: &str,
    helper_path: Option<&OsStr>,
    timeout: Duration,
) -> Result<Option<Credential>, String> {
    let Ok(text) = std::fs::read(config) else {
        return Ok(None);
    };
    let v: serde_json::Value = serde_json::from_slice(&text)
        .map_err(|e| format!("docker config {}: invalid JSON: {e}", config.display()))?;
    let helper = v
        .get("credHelpers")
        .and_then(|h| h.as_object())
        .and_then(|h| h.iter().find(|(k, _)| key_matches(k, host)))
        .and_then(|(_, name)| name.as_str())
        .or_else(|| v.get("credsStore").and_then(|s| s.as_str()))
        .filter(|n| !n.is_empty());
    if let Some(name) = helper {
        let server = if key_matches("docker.io", host) {
            "https://index.docker.io/v1/"
        } else {
            host
        };
        if let Some((user, secret)) = run_helper(name, server, helper_path, timeout)? {
            if user == "<token>" {
                return Ok(Some(Credential::IdentityToken(secret)));
            }
            return Ok(Some(Credential::Basic(b64_encode(
                format!("{user}:{secret}").as_bytes(),
            ))));
        }
    }
    Ok(auths_entry(&v, host))
}

/// Finds `docker-credential-<name>` on the search path.
fn find_helper(name: &str, search: Option<&OsStr>) -> Option<PathBuf> {
    use std::os::unix::fs::PermissionsExt;
    let program = format!("docker-credential-{name}");
    let path: OsString = search
        .map(OsStr::to_os_string)
        .or_else(|| std::env::var_os("PATH"))?;
    std::env::split_paths(&path)
        .map(|d| d.join(&program))
        .find(|p| {
            p.metadata()
                .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        })
}

/// Runs a helper's `get`; `Ok(None)` when it has no credentials for `server`.
fn run_helper(
    name: &str,
    server: &str,
    search: Option<&OsStr>,
    timeout: Duration,
) -> Result<Option<(String, String)>, String> {
    let program = format!("docker-credential-{name}");
    if name.contains(['/', '\0']) || name.starts_with('.') {
        return Err(format!(
            "credential helper name {name:?} is not a program name"
        ));
    }
    let exe = find_helper(name, search)
        .ok_or_else(|| format!("credential helper {program} not found on the search path"))?;
    let mut child = Command::new(&exe)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run {}: {e}", exe.display()))?;
    if let Some(mut stdin) = child.stdin.take() {
        // A helper that exits without reading is fine: its answer says what happened.
        let _ = stdin.write_all(server.as_bytes());
    }
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(p) = pipe {
                let _ = p.take(MAX_HELPER_OUTPUT).read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let err = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break status,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!(
                    "credential helper {program} did not answer within {timeout:?}"
                ));
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => return Err(format!("waiting for {program}: {e}")),
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    if !status.success() {
        let said = String::from_utf8_lossy(if stdout.is_empty() { &stderr } else { &stdout });
        let said = said.trim();
        if said.contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!(
            "credential helper {program} failed ({status}): {said}"
        ));
    }
    #[derive(serde::Deserialize)]
    struct Answer {
        #[serde(rename = "Username", default)]
        username: String,
        #[serde(rename = "Secret", default)]
        secret: String,
    }
    let a: Answer = serde_json::from_slice(&stdout).map_err(|e| {
        // The output may hold a secret: say only where it stopped being JSON.
        format!(
            "credential helper {program} printed invalid JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    if a.username.is_empty() && a.secret.is_empty() {
        return Ok(None);
    }
    Ok(Some((a.username, a.secret)))
}
