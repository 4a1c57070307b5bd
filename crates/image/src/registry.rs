//! Pulling from a registry through the OCI distribution API, streaming (nothing is stored).
//!
//! Authentication: anonymous; HTTP basic; the `WWW-Authenticate: Bearer realm=…,service=…,
//! scope=…` token flow (with basic credentials at the token endpoint when known). Credentials
//! come from `~/.docker/config.json`: credential helpers (`credHelpers`, `credsStore`) or
//! `auths` ([`credentials`]). Plain HTTP only with `insecure`. Manifests are fetched with OCI
//! and Docker schema 2 media types; every manifest, config and layer is checked against its
//! digest by the callers.
//!
//! Retries: a request that gets 429 or 5xx (500, 502, 503, 504), or whose connection is reset,
//! refused or closed early, is sent again up to [`RegistryOptions::retries`] times (default 3),
//! after an exponential backoff (250 ms, 500 ms, 1 s, … at most 10 s) or the server's
//! `Retry-After` (seconds or an HTTP date) when it gives one. A `Retry-After` longer than
//! [`MAX_RETRY_AFTER`] ends the pull with an error that says so. Timeouts are not retried (a
//! hanging registry fails within the timeout, which also bounds every read of a body).
//!
//! Resumption: a blob whose download is cut (connection reset or closed before the declared
//! length) is asked for again from the first byte not yet received (`Range: bytes=N-`), up to
//! [`RegistryOptions::retries`] times per blob. A `206` answer must start at that byte
//! (`Content-Range`); a registry that ignores the range and answers `200` is read from the
//! start and the bytes already received are skipped. Nothing is trusted across the cut: the
//! whole stream is checked against the blob's digest at the end by the callers.
//!
//! Identity tokens (see [`credentials`]) are exchanged at the bearer token endpoint with an
//! OAuth2 `refresh_token` grant (a form `POST`); the access token it answers is then used as
//! any bearer token.

use std::cell::RefCell;
use std::ffi::OsString;
use std::io::Read;
use std::path::PathBuf;
use std::time::Duration;

use mamori_core::ImageRef;

use crate::blobs::{BlobStore, Digest};
use crate::error::OpenError;

mod credentials;
use credentials::Credential;
#[cfg(test)]
pub(crate) use credentials::{b64_decode, b64_encode};

/// Longest `Retry-After` the client waits for.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(60);
/// Longest backoff between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(10);

/// `client_id` sent with an OAuth2 token request.
const CLIENT_ID: &str = "mamori";

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
    /// Time allowed to connect, to receive response headers and for each read of a body
    /// (default 30 s); also the time a credential helper may take.
    pub timeout: Option<Duration>,
    /// Retries of a request after 429, 5xx or a reset connection (default 3).
    pub retries: Option<u32>,
    /// First backoff between tries, doubled each time (default 250 ms).
    pub retry_base: Option<Duration>,
    /// Search path for `docker-credential-*` helpers (default `$PATH`).
    pub helper_path: Option<OsString>,
}

/// A registry repository as a blob store: `manifests/REF` and `blobs/ALG/HEX` members.
pub(crate) struct RegistryStore {
    agent: ureq::Agent,
    base: String,
    repo: String,
    /// Registry host as named in the reference (the key of the docker config).
    host: String,
    config: Option<PathBuf>,
    helper_path: Option<OsString>,
    timeout: Duration,
    retries: u32,
    retry_base: Duration,
    /// Credentials, looked up when the registry first asks for them.
    credential: RefCell<Option<Result<Option<Credential>, String>>>,
    token: RefCell<Option<String>>,
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
            .timeout_per_read(Some(t))
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
        RegistryStore {
            agent,
            base: format!("{scheme}://{host}"),
            repo: r.repository.clone(),
            host: r.registry.clone(),
            config,
            helper_path: opts.helper_path.clone(),
            timeout: t,
            retries: opts.retries.unwrap_or(3),
            retry_base: opts.retry_base.unwrap_or(Duration::from_millis(250)),
            credential: RefCell::new(None),
            token: RefCell::new(None),
        }
    }

    /// Credentials for this registry (running a credential helper the first time).
    fn credential(&self) -> Result<Option<Credential>, String> {
        if let Some(found) = self.credential.borrow().as_ref() {
            return found.clone();
        }
        let found = match &self.config {
            Some(c) => {
                credentials::lookup(c, &self.host, self.helper_path.as_deref(), self.timeout)
            }
            None => Ok(None),
        };
        *self.credential.borrow_mut() = Some(found.clone());
        found
    }

    fn err(&self, url: &str, reason: impl std::fmt::Display) -> OpenError {
        OpenError::Registry {
            url: url.to_string(),
            reason: reason.to_string(),
        }
    }

    /// One request, sent again after 429/5xx answers and reset connections (see the module
    /// documentation for the bounds): a GET (from byte `from` on, when given), or a form POST
    /// when `form` is given.
    fn send(
        &self,
        url: &str,
        auth: Option<&str>,
        from: Option<u64>,
        form: Option<&str>,
    ) -> Result<ureq::http::Response<ureq::Body>, OpenError> {
        let mut attempt = 0u32;
        loop {
            let answer = if let Some(body) = form {
                let mut req = self
                    .agent
                    .post(url)
                    .header("Content-Type", "application/x-www-form-urlencoded");
                if let Some(a) = auth {
                    req = req.header("Authorization", a);
                }
                req.send(body.as_bytes())
            } else {
                let mut req = self.agent.get(url).header("Accept", ACCEPT);
                if let Some(a) = auth {
                    req = req.header("Authorization", a);
                }
                if let Some(n) = from {
                    req = req.header("Range", format!("bytes={n}-"));
                }
                req.call()
            };
            let (why, wait) = match answer {
                Ok(resp) if !is_retryable_status(resp.status().as_u16()) => return Ok(resp),
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let after = resp
                        .headers()
                        .get("retry-after")
                        .and_then(|v| v.to_str().ok())
                        .and_then(parse_retry_after);
                    if attempt >= self.retries {
                        return Ok(resp);
                    }
                    if let Some(a) = after.filter(|a| *a > MAX_RETRY_AFTER) {
                        return Err(self.err(
                            url,
                            format!(
                                "HTTP {status} with Retry-After of {} s, longer than the {} s \
this client waits",
                                a.as_secs(),
                                MAX_RETRY_AFTER.as_secs()
                            ),
                        ));
                    }
                    (format!("HTTP {status}"), after)
                }
                Err(e) if is_retryable_error(&e) && attempt < self.retries => (e.to_string(), None),
                Err(e) if attempt > 0 => {
                    return Err(self.err(url, format!("{e} (after {attempt} retries)")))
                }
                Err(e) => return Err(self.err(url, e)),
            };
            let wait = wait.unwrap_or_else(|| backoff(self.retry_base, attempt));
            attempt += 1;
            tracing::warn!(
                url,
                reason = %why,
                attempt,
                wait_ms = wait.as_millis() as u64,
                "Registry request failed; retrying."
            );
            std::thread::sleep(wait);
        }
    }

    /// GET with the auth dance: try with the current credentials, then answer one challenge.
    /// With `from`, asks for the bytes from that offset on (a `206` answer is accepted too).
    fn get(
        &self,
        path: &str,
        from: Option<u64>,
    ) -> Result<ureq::http::Response<ureq::Body>, OpenError> {
        let url = format!("{}/v2/{}/{path}", self.base, self.repo);
        let current = self.token.borrow().clone();
        let resp = self.send(&url, current.as_deref(), from, None)?;
        if resp.status().as_u16() != 401 {
            return self.check(&url, resp, from.is_some());
        }
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let auth =
            match parse_challenge(&challenge) {
                Some((scheme, _)) if scheme == "basic" => match self.credential() {
                    Ok(Some(Credential::Basic(b))) => format!("Basic {b}"),
                    Ok(Some(Credential::IdentityToken(_))) => return Err(self.err(
                        &url,
                        "401: registry wants basic credentials; the docker config holds only an \
identity token for it, which is exchanged at a bearer token endpoint, never sent as a password",
                    )),
                    Ok(None) => return Err(self.err(
                        &url,
                        "401: registry wants basic credentials; none found in the docker config",
                    )),
                    Err(e) => return Err(self.err(&url, format!("401, and {e}"))),
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
        let resp = self.send(&url, Some(&auth), from, None)?;
        self.check(&url, resp, from.is_some())
    }

    fn check(
        &self,
        url: &str,
        resp: ureq::http::Response<ureq::Body>,
        partial_ok: bool,
    ) -> Result<ureq::http::Response<ureq::Body>, OpenError> {
        match resp.status().as_u16() {
            200 => Ok(resp),
            206 if partial_ok => Ok(resp),
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
        let (token_url, resp) = match self.credential().map_err(|e| self.err(url, e))? {
            Some(Credential::IdentityToken(refresh)) => {
                // OAuth2 refresh-token grant, as the distribution token spec describes it.
                q.push("grant_type=refresh_token".into());
                q.push(format!("client_id={}", pct(CLIENT_ID)));
                q.push(format!("refresh_token={}", pct(&refresh)));
                let resp = self.send(realm, None, None, Some(&q.join("&")))?;
                (realm.to_string(), resp)
            }
            cred => {
                let token_url = format!("{realm}?{}", q.join("&"));
                let basic = match cred {
                    Some(Credential::Basic(b)) => Some(format!("Basic {b}")),
                    _ => None,
                };
                let resp = self.send(&token_url, basic.as_deref(), None, None)?;
                (token_url, resp)
            }
        };
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

fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

fn is_retryable_error(e: &ureq::Error) -> bool {
    use std::io::ErrorKind as K;
    match e {
        ureq::Error::Io(io) => matches!(
            io.kind(),
            K::ConnectionReset
                | K::ConnectionAborted
                | K::ConnectionRefused
                | K::BrokenPipe
                | K::UnexpectedEof
        ),
        ureq::Error::ConnectionFailed => true,
        _ => false,
    }
}

/// `base`, `2·base`, `4·base`, … at most [`MAX_BACKOFF`].
fn backoff(base: Duration, attempt: u32) -> Duration {
    base.saturating_mul(1u32 << attempt.min(16))
        .min(MAX_BACKOFF)
}

/// `Retry-After`: delay seconds, or an HTTP date (IMF-fixdate) relative to now.
fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let when =
        time::OffsetDateTime::parse(v, &time::format_description::well_known::Rfc2822).ok()?;
    let left = when - time::OffsetDateTime::now_utc();
    Some(Duration::try_from(left).unwrap_or(Duration::ZERO))
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
        let resp = self.get(&path, None)?;
        if name.starts_with("blobs/") {
            return Ok(Box::new(ResumingBody::new(self, path, resp)));
        }
        Ok(Box::new(body_reader(resp)))
    }

    fn manifest_name(&self, digest: &Digest) -> String {
        format!("manifests/{digest}")
    }
}

fn body_reader(resp: ureq::http::Response<ureq::Body>) -> ureq::BodyReader<'static> {
    resp.into_body().into_with_config().limit(u64::MAX).reader()
}

/// Whether a body read error means the transfer was cut (and may be resumed).
fn is_cut(e: &std::io::Error) -> bool {
    use std::io::ErrorKind as K;
    matches!(
        e.kind(),
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe | K::UnexpectedEof
    )
}

/// A blob's body that asks for the rest with a `Range` request when the transfer is cut (see
/// the module documentation).
struct ResumingBody<'a> {
    store: &'a RegistryStore,
    path: String,
    body: ureq::BodyReader<'static>,
    /// Bytes handed to the reader so far.
    received: u64,
    /// Length of the whole blob, when the first answer declared it.
    total: Option<u64>,
    resumes: u32,
}

fn content_length(resp: &ureq::http::Response<ureq::Body>) -> Option<u64> {
    resp.headers()
        .get("content-length")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

impl<'a> ResumingBody<'a> {
    fn new(store: &'a RegistryStore, path: String, resp: ureq::http::Response<ureq::Body>) -> Self {
        ResumingBody {
            store,
            total: content_length(&resp),
            body: body_reader(resp),
            path,
            received: 0,
            resumes: 0,
        }
    }

    /// Asks for the bytes from `self.received` on and makes that answer the body.
    fn resume(&mut self) -> Result<(), String> {
        let from = self.received;
        let resp = self
            .store
            .get(&self.path, Some(from))
            .map_err(|e| e.to_string())?;
        match resp.status().as_u16() {
            206 => {
                let range = resp
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("")
                    .to_string();
                let start = range
                    .trim()
                    .strip_prefix("bytes ")
                    .and_then(|r| r.split_once('-'))
                    .and_then(|(s, _)| s.trim().parse::<u64>().ok());
                if start != Some(from) {
                    return Err(format!(
                        "asked for bytes from {from} on, the registry answered Content-Range \
{range:?}"
                    ));
                }
                self.body = body_reader(resp);
            }
            _ => {
                // The range was ignored: read the blob again from its start, skipping what was
                // already received.
                let mut body = body_reader(resp);
                let skipped = std::io::copy(&mut (&mut body).take(from), &mut std::io::sink())
                    .map_err(|e| format!("skipping the first {from} bytes again: {e}"))?;
                if skipped != from {
                    return Err(format!(
                        "the registry sent the blob again but only {skipped} of the {from} bytes \
already received"
                    ));
                }
                self.body = body;
            }
        }
        Ok(())
    }
}

impl Read for ResumingBody<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let cut = match self.body.read(buf) {
                Ok(0) if !buf.is_empty() && self.total.is_some_and(|t| self.received < t) => {
                    std::io::Error::new(
                        std::io::ErrorKind::UnexpectedEof,
                        "connection closed before the declared length",
                    )
                }
                Ok(n) => {
                    self.received += n as u64;
                    return Ok(n);
                }
                Err(e) if is_cut(&e) => e,
                Err(e) => return Err(e),
            };
            let wanted = self.total.map_or_else(String::new, |t| format!(" of {t}"));
            if self.resumes >= self.store.retries {
                return Err(std::io::Error::new(
                    cut.kind(),
                    format!(
                        "{}: download cut after {}{wanted} bytes ({cut}); resumed {} times",
                        self.path, self.received, self.resumes
                    ),
                ));
            }
            let wait = backoff(self.store.retry_base, self.resumes);
            self.resumes += 1;
            tracing::warn!(
                blob = %self.path,
                received = self.received,
                reason = %cut,
                attempt = self.resumes,
                "Blob download cut; resuming with a range request."
            );
            std::thread::sleep(wait);
            if let Err(why) = self.resume() {
                return Err(std::io::Error::other(format!(
                    "{}: download cut after {}{wanted} bytes ({cut}) and could not be \
resumed: {why}",
                    self.path, self.received
                )));
            }
        }
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
    fn retry_after_and_backoff() {
        assert_eq!(parse_retry_after("7"), Some(Duration::from_secs(7)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        let soon = time::OffsetDateTime::now_utc() + time::Duration::seconds(30);
        let date = soon
            .format(&time::format_description::well_known::Rfc2822)
            .expect("formats");
        let d = parse_retry_after(&date).expect("parses");
        assert!(
            d > Duration::from_secs(25) && d <= Duration::from_secs(30),
            "{d:?}"
        );
        assert_eq!(parse_retry_after("soon"), None);
        let b = Duration::from_millis(250);
        assert_eq!(backoff(b, 0), b);
        assert_eq!(backoff(b, 2), Duration::from_secs(1));
        assert_eq!(backoff(b, 30), MAX_BACKOFF);
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
        let find = |host: &str| {
            credentials::lookup(&f, host, None, Duration::from_secs(1)).expect("no helper")
        };
        assert_eq!(
            find("127.0.0.1:5000"),
            Some(Credential::Basic("dXNlcjpwYXNz".into()))
        );
        assert_eq!(
            find("docker.io"),
            Some(Credential::Basic(b64_encode(b"u:p")))
        );
        assert_eq!(find("ghcr.io"), None);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
