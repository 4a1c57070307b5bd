//! Pulling from a registry through the OCI distribution API, streaming (nothing is stored).
//!
//! Authentication: anonymous; HTTP basic; the `WWW-Authenticate: Bearer realm=…,service=…,
//! scope=…` token flow (with basic credentials at the token endpoint when known). Credentials
//! come from `~/.docker/config.json` (`auths.<host>.auth`, base64 `user:password`). Plain HTTP
//! only with `insecure`. Manifests are fetched with OCI and Docker schema 2 media types;
//! every manifest, config and layer is checked against its digest by the callers.

use std::cell::RefCell;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::time::Duration;

use mamori_core::ImageRef;

use crate::blobs::{BlobStore, Digest};
use crate::error::OpenError;

/// Media types asked for when fetching a manifest.
const ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// How to reach a registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Allow plain HTTP (and nothing else: TLS is always verified when used).
    pub insecure: bool,
    /// Docker config file with credentials (default `~/.docker/config.json`).
    pub docker_config: Option<PathBuf>,
    /// Time allowed to connect and to receive response headers (default 30 s).
    pub timeout: Option<Duration>,
}

/// A registry repository as a blob store: `manifests/REF` and `blobs/ALG/HEX` members.
pub(crate) struct RegistryStore {
    agent: ureq::Agent,
    base: String,
    repo: String,
    basic: Option<String>,
    token: RefCell<Option<String>>,
}

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

/// The `auth` value for `host` in a docker config file, already base64 (`user:pass`).
pub(crate) fn docker_auth(config: &Path, host: &str) -> Option<String> {
    let text = std::fs::read(config).ok()?;
    let v: serde_json::Value = serde_json::from_slice(&text).ok()?;
    let auths = v.get("auths")?.as_object()?;
    let hub = host == "docker.io" || host == "registry-1.docker.io";
    for (k, entry) in auths {
        let key = k
            .trim_start_matches("https://")
            .trim_start_matches("http://");
        let key = key.split('/').next().unwrap_or(key);
        if key == host || (hub && (key == "index.docker.io" || key == "docker.io")) {
            if let Some(a) = entry.get("auth").and_then(|a| a.as_str()) {
                return b64_decode(a)
                    .filter(|d| d.contains(&b':'))
                    .map(|_| a.to_string());
            }
            let (u, p) = (
                entry.get("username")?.as_str()?,
                entry.get("password")?.as_str()?,
            );
            return Some(b64_encode(format!("{u}:{p}").as_bytes()));
        }
    }
    None
}

/// Parses `Bearer realm="…",service="…",scope="…"` into key/value pairs.
pub(crate) fn parse_challenge(h: &str) -> Option<(String, Vec<(String, String)>)> {
    let (scheme, rest) = h.trim().split_once(' ').unwrap_or((h.trim(), ""));
    let mut params = Vec::new();
    let mut rest = rest.trim();
    while !rest.is_empty() {
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (v, next) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], q[end + 1..].trim_start())
        } else {
            let end = after.find(',').unwrap_or(after.len());
            (after[..end].trim(), &after[end..])
        };
        params.push((k.trim().to_ascii_lowercase(), v.to_string()));
        rest = next.trim_start_matches(',').trim_start();
    }
    Some((scheme.to_ascii_lowercase(), params))
}

fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

impl RegistryStore {
    /// A store for `r`'s repository.
    pub(crate) fn new(r: &ImageRef, opts: &RegistryOptions) -> Self {
        let t = opts.timeout.unwrap_or(Duration::from_secs(30));
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_connect(Some(t))
            .timeout_recv_response(Some(t))
            .build()
            .into();
        let host = if r.registry == "docker.io" {
            "registry-1.docker.io"
        } else {
            r.registry.as_str()
        };
        let scheme = if opts.insecure { "http" } else { "https" };
        let config = opts.docker_config.clone().or_else(|| {
            std::env::var_os("DOCKER_CONFIG")
                .map(|d| PathBuf::from(d).join("config.json"))
                .or_else(|| {
                    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker/config.json"))
                })
        });
        let basic = config.and_then(|c| docker_auth(&c, &r.registry));
        RegistryStore {
            agent,
            base: format!("{scheme}://{host}"),
            repo: r.repository.clone(),
            basic,
            token: RefCell::new(None),
        }
    }

    fn err(&self, url: &str, reason: impl std::fmt::Display) -> OpenError {
        OpenError::Registry {
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }

    fn send(
        &self,
        url: &str,
        auth: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, OpenError> {
        let mut req = self.agent.get(url).header("Accept", ACCEPT);
        if let Some(a) = auth {
            req = req.header("Authorization", a);
        }
        req.call().map_err(|e| self.err(url, e))
    }

    /// GET with the auth dance: try with the current credentials, then answer one challenge.
    fn get(&self, path: &str) -> Result<ureq::http::Response<ureq::Body>, OpenError> {
        let url = format!("{}/v2/{}/{path}", self.base, self.repo);
        let current = self.token.borrow().clone();
        let resp = self.send(&url, current.as_deref())?;
        if resp.status().as_u16() != 401 {
            return self.check(&url, resp);
        }
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let auth =
            match parse_challenge(&challenge) {
                Some((scheme, _)) if scheme == "basic" => match &self.basic {
                    Some(b) => format!("Basic {b}"),
                    None => return Err(self.err(
                        &url,
                        "401: registry wants basic credentials; none found in the docker config",
                    )),
                },
                Some((scheme, params)) if scheme == "bearer" => self.token_for(&url, &params)?,
                _ => {
                    return Err(self.err(
                        &url,
                        format!("401 with an unsupported challenge {challenge:?}"),
                    ))
                }
            };
        *self.token.borrow_mut() = Some(auth.clone());
        let resp = self.send(&url, Some(&auth))?;
        self.check(&url, resp)
    }

    fn check(
        &self,
        url: &str,
        resp: ureq::http::Response<ureq::Body>,
    ) -> Result<ureq::http::Response<ureq::Body>, OpenError> {
        match resp.status().as_u16() {
            200 => Ok(resp),
            404 => Err(OpenError::Missing {
                what: "registry object",
                name: url.to_string(),
            }),
            s => Err(self.err(url, format!("HTTP {s}"))),
        }
    }

    fn token_for(&self, url: &str, params: &[(String, String)]) -> Result<String, OpenError> {
        let get = |k: &str| params.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
        let realm = get("realm").ok_or_else(|| self.err(url, "bearer challenge without realm"))?;
        if !(realm.starts_with("https://") || realm.starts_with("http://")) {
            return Err(self.err(url, format!("bearer realm {realm:?} is not an http(s) URL")));
        }
        let mut q = Vec::new();
        if let Some(s) = get("service") {
            q.push(format!("service={}", pct(s)));
        }
        let scope =
            get("scope").map_or_else(|| format!("repository:{}:pull", self.repo), str::to_string);
        q.push(format!("scope={}", pct(&scope)));
        let token_url = format!("{realm}?{}", q.join("&"));
        let basic = self.basic.as_ref().map(|b| format!("Basic {b}"));
        let resp = self.send(&token_url, basic.as_deref())?;
        if resp.status().as_u16() != 200 {
            return Err(self.err(
                &token_url,
                format!("token endpoint answered HTTP {}", resp.status().as_u16()),
            ));
        }
        let mut body = Vec::new();
        resp.into_body()
            .into_reader()
            .take(1 << 20)
            .read_to_end(&mut body)
            .map_err(|e| self.err(&token_url, e))?;
        let v: serde_json::Value = serde_json::from_slice(&body)
            .map_err(|e| self.err(&token_url, format!("token response: {e}")))?;
        let token = v
            .get("token")
            .or_else(|| v.get("access_token"))
            .and_then(|t| t.as_str())
            .ok_or_else(|| self.err(&token_url, "token response has no token"))?;
        Ok(format!("Bearer {token}"))
    }
}

impl BlobStore for RegistryStore {
    fn open(&self, name: &str) -> Result<Box<dyn Read + '_>, OpenError> {
        let path = if let Some(r) = name.strip_prefix("manifests/") {
            format!("manifests/{r}")
        } else if let Some(rest) = name.strip_prefix("blobs/") {
            let (alg, hex) = rest.split_once('/').unwrap_or((rest, ""));
            format!("blobs/{alg}:{hex}")
        } else {
            return Err(OpenError::Missing {
                what: "registry object",
                name: name.to_string(),
            });
        };
        let resp = self.get(&path)?;
        Ok(Box::new(
            resp.into_body().into_with_config().limit(u64::MAX).reader(),
        ))
    }

    fn manifest_name(&self, digest: &Digest) -> String {
        format!("manifests/{digest}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for s in ["", "a", "ab", "abc", "user:pa ss", "mamori:s3cret!"] {
            let e = b64_encode(s.as_bytes());
            assert_eq!(b64_decode(&e).as_deref(), Some(s.as_bytes()), "{s} → {e}");
        }
        assert_eq!(b64_encode(b"user:pass"), "dXNlcjpwYXNz");
        assert_eq!(b64_decode("!!"), None);
    }

    #[test]
    fn challenges() {
        let (s, p) = parse_challenge(r#"Bearer realm="https://auth.example.com/token",service="registry.example.com",scope="repository:a/b:pull""#)
            .expect("parses");
        assert_eq!(s, "bearer");
        assert_eq!(
            p[0],
            (
                "realm".to_string(),
                "https://auth.example.com/token".to_string()
            )
        );
        assert_eq!(p[2].1, "repository:a/b:pull");
        let (s, p) = parse_challenge(r#"Basic realm="Registry Realm""#).expect("parses");
        assert_eq!((s.as_str(), p.len()), ("basic", 1));
        assert!(parse_challenge("Bearer realm=\"unterminated").is_none());
    }

    #[test]
    fn docker_config_lookup() {
        let dir = std::env::temp_dir().join(format!("mamori-dc-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("mkdir");
        let f = dir.join("config.json");
        std::fs::write(
            &f,
            r#"{"auths":{"127.0.0.1:5000":{"auth":"dXNlcjpwYXNz"},"https://index.docker.io/v1/":{"username":"u","password":"p"}}}"#,
        )
        .expect("write");
        assert_eq!(
            docker_auth(&f, "127.0.0.1:5000").as_deref(),
            Some("dXNlcjpwYXNz")
        );
        assert_eq!(
            docker_auth(&f, "docker.io").as_deref(),
            Some(b64_encode(b"u:p").as_str())
        );
        assert_eq!(docker_auth(&f, "ghcr.io"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
