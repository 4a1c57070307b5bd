//! mamori's admission webhook: an HTTPS server (axum + rustls) that answers
//! `admission.k8s.io/v1` AdmissionReview requests with the [`mamori_policy`] engine.
//!
//! - [`review::review`]: decode one AdmissionReview body, decide it, build the response
//!   (synchronous; used by the server, tests, the fuzz target and benchmarks).
//! - [`server::router`]: `POST /validate`, `GET /healthz`, `GET /readyz`, `GET /metrics`
//!   (Prometheus), with a body limit and a per-request deadline. Small reviews are decided
//!   inline on the connection's task (tens of microseconds, less than a thread hand-off);
//!   large bodies, and every review when the policy has scan-result rules (which may wait for a
//!   scan), go to the blocking pool under a concurrency bound.
//! - [`namespaces`]: namespace labels for the engine (an AdmissionReview does not carry them):
//!   a list + watch of Namespaces against the Kubernetes API into a cache.
//! - [`verdicts`] + [`scanner`]: scan verdicts for scan-result rules: mamori's image scanner
//!   and vulnerability database behind a digest-keyed cache with a TTL and a bounded
//!   background scan queue.
//! - [`server::Server`]: the TLS accept loop with HTTP/1.1 keep-alive; certificates come from a
//!   [`tls::ReloadingCert`] that reloads the PEM files when they change.
//! - [`tls::write_self_signed`]: a CA and serving certificate made with rcgen, with the CA
//!   bundle written for the webhook configuration.
//!
//! Bad input: a body that is not an AdmissionReview gets HTTP 400 with a JSON reason; a
//! decodable review whose object does not decode is decided by the policy's `failurePolicy`
//! (`deny`, the default, answers `allowed: false` with code 400; `allow` lets it through with a
//! warning); a review not decided within the deadline gets HTTP 503, so the API server applies
//! the webhook's own `failurePolicy`.
//!
//! ```
//! use std::sync::Arc;
//! use mamori_admission::review::review;
//! let lv = "baseline:v1.30".parse().unwrap();
//! let engine = mamori_policy::Engine::new(mamori_policy::Policy::pod_security_only(lv));
//! let body = br#"{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{
//!   "uid":"1","kind":{"kind":"Pod"},"resource":{"resource":"pods"},"operation":"CREATE",
//!   "name":"p","namespace":"a","userInfo":{"username":"u"},
//!   "object":{"kind":"Pod","spec":{"hostPID":true,"containers":[{"name":"c"}]}}}}"#;
//! let r = review(&engine, body, time::OffsetDateTime::now_utc()).unwrap();
//! assert_eq!(r.response()["response"]["allowed"], false);
//! ```

pub mod client;
pub mod metrics;
pub mod namespaces;
pub mod review;
pub mod scanner;
pub mod server;
pub mod tls;
pub mod verdicts;

pub use server::{router, AppState, AppStateBuilder, EventSink, Limits, Server};
