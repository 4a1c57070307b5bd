//! mamori's console: a durable event store, the ingest and query APIs, and the dashboard.
//!
//! - [`store`]: the [`EventStore`](store::EventStore) trait and its SQLite implementation (WAL,
//!   group commit on one writer thread; `synchronous=FULL` by default: an event is on disk before
//!   its ingest call returns 2xx, `normal` as an option that survives a crash of the console but
//!   not a power loss);
//! - [`ingest`]: decoding of Falco JSON alerts (one object, an array or NDJSON) and mamori's own
//!   events; invalid items are rejected one by one with their index and reason;
//! - [`api`]: the axum router — `POST/GET /api/v1/events`, `GET /api/v1/events/{id}`,
//!   `GET /api/v1/aggregate`, `/metrics`, `/healthz`, `/readyz` and the dashboard;
//! - [`reports`]: image and configuration scan reports (`mamori.report/v1`), their findings,
//!   and the compliance view by NIST SP 800-190 risk;
//! - [`auth`]: roles (admin, read-only, ingest) and named tokens, stored hashed;
//! - [`ratelimit`]: token buckets per token for requests and ingested events (429 + `Retry-After`);
//! - [`alarms`]: CloudWatch-style alarms (count over a window vs a threshold; OK / ALARM /
//!   INSUFFICIENT_DATA with history; log, webhook and e-mail actions);
//! - [`server`]: [`Console`](server::Console), which opens the store, creates tokens and serves.
//!
//! ```no_run
//! # async fn run() -> Result<(), mamori_console::server::ConsoleError> {
//! use mamori_console::server::{Console, ConsoleConfig};
//! let console = Console::open(ConsoleConfig::new("/var/lib/mamori".into()), None)?;
//! let (listener, addr) = console.bind().await?;
//! println!("console on http://{addr}");
//! console.serve(listener, std::future::pending()).await
//! # }
//! ```

pub mod alarms;
pub mod api;
pub mod auth;
pub mod ingest;
pub mod metrics;
pub mod model;
pub mod ratelimit;
pub mod reports;
pub mod server;
pub mod store;
pub mod timeparse;
mod ui;
