//! Running the console: open the store, make sure tokens exist, serve until shut down, and
//! enforce retention in the background.

use std::future::Future;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

use crate::alarms::{evaluate_due, run_actions, AlarmConfig, Notification};
use crate::api::{router, AppState, Limits};
use crate::auth::{ensure_tokens, NewTokens, OperatorTokens};
use crate::metrics::Metrics;
use crate::ratelimit::{RateLimitConfig, RateLimiter};
use crate::store::{EventStore, SqliteStore, StoreError, StoreOptions, Synchronous};

/// Settings of the console (the `console` section of `mamori.yaml`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsoleConfig {
    /// Address to listen on.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// Folder holding the database.
    pub data_dir: PathBuf,
    /// Delete events older than this many days.
    #[serde(default)]
    pub retention_days: Option<u32>,
    /// Keep at most this many events.
    #[serde(default)]
    pub retention_rows: Option<u64>,
    /// Largest accepted request body, in bytes.
    #[serde(default = "default_max_body")]
    pub max_body_bytes: usize,
    /// Alarms defined in the configuration file (created or updated at start).
    #[serde(default)]
    pub alarms: Vec<AlarmConfig>,
    /// The console's public URL, for links in alarm notifications.
    #[serde(default)]
    pub public_url: Option<String>,
    /// Rate limits per token.
    #[serde(default)]
    pub rate_limit: RateLimitConfig,
    /// When the store syncs to disk: `full` (default; acknowledged events survive a power loss)
    /// or `normal` (they survive a crash of the console, not a power loss; faster on slow disks).
    #[serde(default)]
    pub synchronous: Synchronous,
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 7777))
}

fn default_max_body() -> usize {
    Limits::default().max_body_bytes
}

impl ConsoleConfig {
    /// Settings with defaults and the given data folder.
    pub fn new(data_dir: PathBuf) -> Self {
        ConsoleConfig {
            listen: default_listen(),
            data_dir,
            retention_days: Some(30),
            retention_rows: None,
            max_body_bytes: default_max_body(),
            alarms: Vec::new(),
            public_url: None,
            rate_limit: RateLimitConfig::default(),
            synchronous: Synchronous::default(),
        }
    }
}

/// Why the console could not start or stopped.
#[derive(Debug, thiserror::Error)]
pub enum ConsoleError {
    /// The data folder could not be created.
    #[error("cannot create data folder {path}")]
    DataDir {
        /// The folder.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// The address could not be bound or serving failed.
    #[error("cannot serve on {addr}")]
    Serve {
        /// The address.
        addr: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// A console ready to serve.
pub struct Console {
    config: ConsoleConfig,
    state: Arc<AppState>,
    /// Tokens generated at this start (print them once).
    pub new_tokens: NewTokens,
}

impl Console {
    /// Opens the store in `config.data_dir` and makes sure tokens exist; `admin_token` (from
    /// `MAMORI_ADMIN_TOKEN`) replaces the stored admin token.
    pub fn open(config: ConsoleConfig, admin_token: Option<&str>) -> Result<Console, ConsoleError> {
        let tokens = OperatorTokens {
            admin: admin_token.map(str::to_string),
            ingest: None,
        };
        Console::open_with_tokens(config, &tokens)
    }

    /// Opens the store like [`Console::open`], with every token the operator chose.
    pub fn open_with_tokens(
        config: ConsoleConfig,
        tokens: &OperatorTokens,
    ) -> Result<Console, ConsoleError> {
        config
            .rate_limit
            .validate()
            .map_err(|e| ConsoleError::Store(StoreError::Invalid(e)))?;
        std::fs::create_dir_all(&config.data_dir).map_err(|source| ConsoleError::DataDir {
            path: config.data_dir.display().to_string(),
            source,
        })?;
        let store = SqliteStore::open_with(
            &config.data_dir.join("events.db"),
            StoreOptions {
                synchronous: config.synchronous,
            },
        )?;
        let new_tokens = ensure_tokens(&store, tokens)?;
        for alarm in &config.alarms {
            store.upsert_alarm(alarm)?;
        }
        let state = Arc::new(AppState {
            store: Arc::new(store),
            metrics: Metrics::default(),
            limiter: RateLimiter::new(config.rate_limit),
        });
        Ok(Console {
            config,
            state,
            new_tokens,
        })
    }

    /// The store, for callers in the same process.
    pub fn store(&self) -> Arc<dyn EventStore> {
        self.state.store.clone()
    }

    /// The router, for tests that call it without a socket.
    pub fn router(&self) -> axum::Router {
        router(
            self.state.clone(),
            Limits {
                max_body_bytes: self.config.max_body_bytes,
            },
        )
    }

    /// Binds the configured address; returns the bound address (useful with port 0).
    pub async fn bind(&self) -> Result<(tokio::net::TcpListener, SocketAddr), ConsoleError> {
        let addr = self.config.listen;
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|source| ConsoleError::Serve { addr, source })?;
        let local = listener
            .local_addr()
            .map_err(|source| ConsoleError::Serve { addr, source })?;
        Ok((listener, local))
    }

    /// Serves on `listener` until `shutdown` completes, enforcing retention every minute.
    pub async fn serve(
        self,
        listener: tokio::net::TcpListener,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> Result<(), ConsoleError> {
        let addr = self.config.listen;
        let retention = self.spawn_retention();
        let alarms = self.spawn_alarms();
        let app = self.router();
        let result = axum::serve(listener, app)
            .with_graceful_shutdown(shutdown)
            .await
            .map_err(|source| ConsoleError::Serve { addr, source });
        retention.abort();
        alarms.abort();
        result
    }

    fn spawn_alarms(&self) -> tokio::task::JoinHandle<()> {
        let store = self.state.store.clone();
        let url = self.config.public_url.clone();
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            loop {
                tick.tick().await;
                let s = store.clone();
                let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
                let Ok(transitions) =
                    tokio::task::spawn_blocking(move || evaluate_due(s.as_ref(), now)).await
                else {
                    continue;
                };
                for (t, cfg) in transitions {
                    let n = Notification {
                        alarm: t.alarm.clone(),
                        description: cfg.description.clone(),
                        previous_state: t.from,
                        state: t.to,
                        value: t.value,
                        threshold: cfg.threshold,
                        reason: t.reason.clone(),
                        time: time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(
                            t.time_ns,
                        ))
                        .ok()
                        .and_then(|d| {
                            d.format(&time::format_description::well_known::Rfc3339)
                                .ok()
                        })
                        .unwrap_or_default(),
                        console_url: url.clone(),
                    };
                    tokio::task::spawn_blocking(move || {
                        for (action, result) in cfg.actions.iter().zip(run_actions(
                            &cfg.actions,
                            &n,
                            Duration::from_secs(10),
                        )) {
                            if let Err(error) = result {
                                tracing::warn!(%error, alarm = %n.alarm, action = action.kind(), "Alarm action failed.");
                            }
                        }
                    });
                }
            }
        })
    }

    fn spawn_retention(&self) -> tokio::task::JoinHandle<()> {
        let store = self.state.store.clone();
        let max_age = self
            .config
            .retention_days
            .map(|d| i64::from(d) * 86_400 * 1_000_000_000);
        let max_rows = self.config.retention_rows;
        tokio::spawn(async move {
            if max_age.is_none() && max_rows.is_none() {
                return;
            }
            let mut tick = tokio::time::interval(Duration::from_secs(60));
            loop {
                tick.tick().await;
                let store = store.clone();
                let res =
                    tokio::task::spawn_blocking(move || store.enforce_retention(max_age, max_rows))
                        .await;
                match res {
                    Ok(Ok(0)) => {}
                    Ok(Ok(n)) => tracing::info!(deleted = n, "Retention removed old events."),
                    Ok(Err(error)) => tracing::warn!(%error, "Retention failed."),
                    Err(error) => tracing::warn!(%error, "Retention task failed."),
                }
            }
        })
    }
}
