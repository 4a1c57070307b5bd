//! The HTTP API and the dashboard routes.
//!
//! Every `/api` route and `/metrics` need `Authorization: Bearer TOKEN`: reading needs an admin or
//! read-only token, posting events and reports an admin or ingest token, changing alarms and
//! tokens (`/api/v1/tokens`) the admin token. Each token is rate limited (requests, and events
//! for ingest): over the limit the answer is 429 with `Retry-After`. `/healthz` and `/readyz` are open for probes, and so are the dashboard's static files,
//! which hold no data (the page asks for a token and sends it as a header, so there is no cookie
//! for a cross-site request to ride on).

use std::sync::Arc;
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::alarms::AlarmConfig;
use crate::auth::{create_token, hash_token, Permission, Role};
use crate::ingest::decode_body;
use crate::metrics::Metrics;
use crate::model::{EventFilter, GroupBy};
use crate::ratelimit::{RateLimiter, Refused};
use crate::reports::decode_report;
use crate::store::{EventStore, StoreError};
use crate::timeparse::parse_time_param;
use crate::ui;

/// Shared state of the API.
pub struct AppState {
    /// The event store.
    pub store: Arc<dyn EventStore>,
    /// Counters and histograms for `/metrics`.
    pub metrics: Metrics,
    /// Rate limits per token.
    pub limiter: RateLimiter,
}

/// Limits of the API.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: 16 * 1024 * 1024,
        }
    }
}

/// The console's router.
pub fn router(state: Arc<AppState>, limits: Limits) -> Router {
    Router::new()
        .route("/", get(ui::index))
        .route("/app.js", get(ui::script))
        .route("/app.css", get(ui::style))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics))
        .route("/api/v1/events", post(ingest).get(list_events))
        .route("/api/v1/events/{id}", get(get_event))
        .route("/api/v1/aggregate", get(aggregate))
        .route("/api/v1/reports", post(post_report).get(list_reports))
        .route("/api/v1/findings", get(list_findings))
        .route("/api/v1/compliance", get(compliance))
        .route("/api/v1/alarms", get(list_alarms))
        .route(
            "/api/v1/alarms/{name}",
            axum::routing::put(put_alarm).delete(delete_alarm),
        )
        .route("/api/v1/alarms/{name}/history", get(alarm_history))
        .route("/api/v1/alarms/{name}/ack", post(ack_alarm))
        .route("/api/v1/tokens", get(list_tokens).post(post_token))
        .route("/api/v1/tokens/{name}", axum::routing::delete(delete_token))
        .layer(DefaultBodyLimit::max(limits.max_body_bytes))
        .layer(middleware::from_fn(security_headers))
        .with_state(state)
}

async fn security_headers(req: Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; frame-ancestors 'none'",
        ),
    );
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    res
}

/// An API error as JSON: `{"error": "..."}` with a status code (and `Retry-After` for 429).
struct ApiError {
    status: StatusCode,
    message: String,
    retry_after_secs: Option<u64>,
}

impl ApiError {
    fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            retry_after_secs: None,
        }
    }

    fn rate_limited(r: Refused) -> Self {
        ApiError {
            status: StatusCode::TOO_MANY_REQUESTS,
            message: format!(
                "rate limit of this token ({}) exceeded; retry after {} s",
                r.limit.as_str(),
                r.retry_after_secs
            ),
            retry_after_secs: Some(r.retry_after_secs),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (self.status, Json(json!({ "error": self.message }))).into_response();
        if let Some(secs) = self.retry_after_secs {
            res.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(secs));
        }
        res
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        let code = match &e {
            StoreError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            StoreError::Invalid(_) => StatusCode::BAD_REQUEST,
            _ => StatusCode::INTERNAL_SERVER_ERROR,
        };
        ApiError::new(code, e.to_string())
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("store task failed: {e}"),
            )
        })?
        .map_err(ApiError::from)
}

/// Who is calling: the token's role, and the key its rate limits are kept under.
struct Caller {
    key: String,
}

/// Checks the bearer token against `need` and the token's request rate.
async fn authorize(
    state: &Arc<AppState>,
    headers: &HeaderMap,
    need: Permission,
) -> Result<Caller, ApiError> {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "missing bearer token"))?;
    let key = hash_token(token);
    let store = state.store.clone();
    let k = key.clone();
    let role = blocking(move || store.token_role(&k)).await?;
    let role = match role.as_deref().map(Role::parse) {
        None => return Err(ApiError::new(StatusCode::UNAUTHORIZED, "unknown token")),
        Some(None) => {
            return Err(ApiError::new(
                StatusCode::UNAUTHORIZED,
                "token has an unknown role",
            ))
        }
        Some(Some(r)) => r,
    };
    if !role.allows(need) {
        return Err(ApiError::new(
            StatusCode::FORBIDDEN,
            format!(
                "a token with role {} may not {}; this needs a token with role {}",
                role.as_str(),
                need.as_str(),
                Role::allowed_for(need).join(" or ")
            ),
        ));
    }
    if let Err(r) = state.limiter.admit_request(&key, Instant::now()) {
        state.metrics.record_rate_limited(r.limit);
        return Err(ApiError::rate_limited(r));
    }
    Ok(Caller { key })
}

async fn readyz(State(state): State<Arc<AppState>>) -> Result<&'static str, ApiError> {
    let store = state.store.clone();
    blocking(move || store.has_token(Role::Admin.as_str())).await?;
    Ok("ready\n")
}

async fn metrics(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let store = state.store.clone();
    let alarms = blocking(move || store.alarms()).await?;
    let body = state.metrics.render(&alarms);
    Ok(([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], body).into_response())
}

async fn ingest(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    let caller = authorize(&state, &headers, Permission::Ingest).await?;
    if let Err(r) = state.limiter.check_events(&caller.key, Instant::now()) {
        state.metrics.record_rate_limited(r.limit);
        return Err(ApiError::rate_limited(r));
    }
    let store = state.store.clone();
    // Decoding is CPU work of a few ms per batch: keep it off the async workers, together with
    // the insert.
    let (rejected, stored) = tokio::task::spawn_blocking(move || {
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
        let decoded = decode_body(&body, now);
        let n = decoded.events.len() as u64;
        let stored = if decoded.events.is_empty() {
            Ok(Vec::new())
        } else {
            store.insert(decoded.events)
        };
        (decoded.rejected, stored.map_err(|e| (n, e)))
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("ingest task failed: {e}"),
        )
    })?;
    state.metrics.record_rejected(rejected.len() as u64);
    match stored {
        Ok(ids) if ids.is_empty() => {
            let status = if rejected.is_empty() {
                StatusCode::OK
            } else {
                StatusCode::BAD_REQUEST
            };
            Ok((status, Json(json!({ "accepted": 0, "rejected": rejected }))).into_response())
        }
        Ok(ids) => {
            let n = ids.len() as u64;
            state.limiter.charge_events(&caller.key, n, Instant::now());
            state.metrics.record_ingested(n, started.elapsed());
            Ok(Json(json!({
                "accepted": ids.len(),
                "first_id": ids.first(),
                "last_id": ids.last(),
                "rejected": rejected,
            }))
            .into_response())
        }
        Err((n, e)) => {
            state.metrics.record_dropped(n);
            Err(e.into())
        }
    }
}

/// Query parameters of the event list and the aggregates.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventQuery {
    since: Option<String>,
    until: Option<String>,
    source: Option<String>,
    rule: Option<String>,
    priority: Option<String>,
    min_priority: Option<String>,
    namespace: Option<String>,
    pod: Option<String>,
    container: Option<String>,
    image: Option<String>,
    status: Option<String>,
    q: Option<String>,
    before: Option<i64>,
    limit: Option<usize>,
    by: Option<String>,
    bucket: Option<i64>,
}

impl EventQuery {
    fn filter(&self) -> Result<EventFilter, ApiError> {
        let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
        let t = |v: &Option<String>, name: &str| -> Result<Option<i64>, ApiError> {
            v.as_deref()
                .filter(|s| !s.is_empty())
                .map(|s| {
                    parse_time_param(s, now)
                        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("{name}: {e}")))
                })
                .transpose()
        };
        let s = |v: &Option<String>| v.clone().filter(|s| !s.is_empty());
        Ok(EventFilter {
            since_ns: t(&self.since, "since")?,
            until_ns: t(&self.until, "until")?,
            source: s(&self.source),
            rule: s(&self.rule),
            min_priority: s(&self.min_priority),
            priority: s(&self.priority),
            namespace: s(&self.namespace),
            pod: s(&self.pod),
            container: s(&self.container),
            image: s(&self.image),
            status: s(&self.status),
            text: s(&self.q),
        })
    }
}

async fn list_events(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<EventQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    authorize(&state, &headers, Permission::Read).await?;
    let q = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?
        .0;
    let filter = q.filter()?;
    let (before, limit) = (q.before, q.limit.unwrap_or(50));
    let store = state.store.clone();
    let page = blocking(move || store.query(&filter, before, limit)).await?;
    state.metrics.record_query(started.elapsed());
    Ok(Json(page).into_response())
}

async fn get_event(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let store = state.store.clone();
    match blocking(move || store.get(id)).await? {
        Some(ev) => Ok(Json(ev).into_response()),
        None => Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no event {id}"),
        )),
    }
}

async fn aggregate(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<EventQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    let started = Instant::now();
    authorize(&state, &headers, Permission::Read).await?;
    let q = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?
        .0;
    let filter = q.filter()?;
    let group = match q.by.as_deref().unwrap_or("rule") {
        "rule" => GroupBy::Rule,
        "priority" => GroupBy::Priority,
        "namespace" => GroupBy::Namespace,
        "source" => GroupBy::Source,
        "status" => GroupBy::Status,
        "time" => GroupBy::Time,
        other => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                format!("by={other:?}: expected rule, priority, namespace, source, status or time"),
            ))
        }
    };
    let bucket = q.bucket.unwrap_or(300);
    let limit = q
        .limit
        .unwrap_or(if group == GroupBy::Time { 10_000 } else { 20 });
    let store = state.store.clone();
    let f2 = filter.clone();
    let buckets = blocking(move || store.aggregate(&f2, group, bucket, limit)).await?;
    let store = state.store.clone();
    let total = blocking(move || store.count(&filter)).await?;
    state.metrics.record_query(started.elapsed());
    Ok(Json(
        json!({ "by": q.by.unwrap_or_else(|| "rule".into()), "total": total, "buckets": buckets }),
    )
    .into_response())
}

async fn list_alarms(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let store = state.store.clone();
    Ok(Json(blocking(move || store.alarms()).await?).into_response())
}

async fn put_alarm(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Manage).await?;
    let cfg: AlarmConfig = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid alarm definition: {e}"),
        )
    })?;
    if cfg.name != name {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "the definition's name {:?} differs from the URL's {name:?}",
                cfg.name
            ),
        ));
    }
    let store = state.store.clone();
    blocking(move || store.upsert_alarm(&cfg)).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn delete_alarm(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Manage).await?;
    let store = state.store.clone();
    let n = name.clone();
    if blocking(move || store.delete_alarm(&n)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no alarm {name:?}"),
        ))
    }
}

async fn alarm_history(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let store = state.store.clone();
    Ok(Json(blocking(move || store.alarm_history(&name, 100)).await?).into_response())
}

async fn ack_alarm(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Manage).await?;
    let store = state.store.clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
    let n = name.clone();
    if blocking(move || store.acknowledge_alarm(&n, now)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no alarm {name:?}"),
        ))
    }
}

async fn post_report(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Ingest).await?;
    let report = decode_report(&body)
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, format!("invalid report: {e}")))?;
    let n = report.findings.len();
    let store = state.store.clone();
    let now = time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64;
    let id = blocking(move || store.insert_report(&report, now)).await?;
    Ok(Json(json!({ "id": id, "findings": n })).into_response())
}

async fn list_reports(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let store = state.store.clone();
    Ok(Json(blocking(move || store.reports(100)).await?).into_response())
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FindingQuery {
    severity: Option<String>,
    risk: Option<String>,
    limit: Option<usize>,
}

async fn list_findings(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    query: Result<Query<FindingQuery>, axum::extract::rejection::QueryRejection>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let q = query
        .map_err(|e| ApiError::new(StatusCode::BAD_REQUEST, e.body_text()))?
        .0;
    let store = state.store.clone();
    let findings = blocking(move || {
        store.findings(
            q.severity.as_deref().filter(|s| !s.is_empty()),
            q.risk.as_deref().filter(|s| !s.is_empty()),
            q.limit.unwrap_or(500),
        )
    })
    .await?;
    Ok(Json(findings).into_response())
}

async fn compliance(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Read).await?;
    let store = state.store.clone();
    let counts = blocking(move || store.findings_by_risk()).await?;
    Ok(Json(crate::reports::compliance(&counts)).into_response())
}

async fn list_tokens(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Manage).await?;
    let store = state.store.clone();
    Ok(Json(blocking(move || store.tokens()).await?).into_response())
}

/// Body of `POST /api/v1/tokens`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NewTokenRequest {
    name: String,
    role: String,
    /// Replace (rotate) a token of the same name instead of refusing.
    #[serde(default)]
    replace: bool,
}

async fn post_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Manage).await?;
    let req: NewTokenRequest = serde_json::from_slice(&body).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("invalid token request: {e}"),
        )
    })?;
    let role = Role::parse(&req.role).ok_or_else(|| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!(
                "unknown role {:?}: expected admin, read-only or ingest",
                req.role
            ),
        )
    })?;
    let store = state.store.clone();
    let name = req.name.clone();
    let token = blocking(move || {
        if !req.replace && store.has_token(&req.name)? {
            return Ok(None);
        }
        create_token(store.as_ref(), &req.name, role).map(Some)
    })
    .await?;
    match token {
        Some(token) => Ok((
            StatusCode::CREATED,
            Json(json!({ "name": name, "role": role.as_str(), "token": token })),
        )
            .into_response()),
        None => Err(ApiError::new(
            StatusCode::CONFLICT,
            format!("a token named {name:?} exists; send \"replace\": true to rotate it"),
        )),
    }
}

async fn delete_token(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    Path(name): Path<String>,
) -> Result<Response, ApiError> {
    authorize(&state, &headers, Permission::Manage).await?;
    if name == Role::Admin.as_str() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "the built-in admin token cannot be deleted (rotate it with POST /api/v1/tokens and \"replace\": true)",
        ));
    }
    let store = state.store.clone();
    let n = name.clone();
    if blocking(move || store.delete_token(&n)).await? {
        Ok(StatusCode::NO_CONTENT.into_response())
    } else {
        Err(ApiError::new(
            StatusCode::NOT_FOUND,
            format!("no token {name:?}"),
        ))
    }
}
