//! `iscsi probe-server`: the HTTP API of the portofcall iSCSI worker,
//! `POST /api/iscsi/discover` and `POST /api/iscsi/login`, answered with
//! the [`ProbeReport`] that `iscsi probe --json` prints, on top of
//! [`probe`].
//!
//! It connects to addresses its callers name, so it is built not to be an
//! open proxy: it listens on loopback by default; the host is resolved once
//! and the resolved address must fall inside the `--allow` CIDR list
//! (default: loopback only) before anything is sent to it, and is then the
//! address connected to; bodies are limited to [`MAX_BODY`] bytes, each
//! probe to its `timeout`, concurrent probes to a cap; passwords are never
//! logged or echoed.
//!
//! Status codes (as the seed's): 200 success; 400 malformed JSON, unknown
//! fields, missing `host`, `port` outside 1–65535, `timeout` outside
//! 100–60000 ms; 403 a host outside `--allow`; 413 a body over
//! [`MAX_BODY`]; 502 unreachable, not iSCSI, login refused or failed,
//! Reject; 503 every probe slot busy for the whole timeout; 504 timeout;
//! 500 anything unexpected. Every error body is JSON with `error`.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use ipnet::IpNet;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::Semaphore;

use crate::probe::{ProbeOptions, ProbeReport, probe};
use iscsi_initiator::client::DEFAULT_INITIATOR;
use iscsi_initiator::url::Portal;

/// Largest request body accepted, bytes.
pub const MAX_BODY: usize = 16 * 1024;
/// Default `timeout` of a probe, ms (the seed's).
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;
/// Allowed `timeout` range, ms.
pub const TIMEOUT_RANGE_MS: std::ops::RangeInclusive<u64> = 100..=60_000;

/// How the server runs.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct ServerConfig {
    /// Destinations probes may connect to (after name resolution).
    pub allow: Vec<IpNet>,
    /// Probes running at once; further requests wait for a slot within
    /// their own timeout, then get 503.
    pub max_concurrent: usize,
    /// InitiatorName used when a request names none.
    pub default_initiator_name: String,
}

impl Default for ServerConfig {
    /// Loopback only (127.0.0.0/8 and ::1), 16 probes at once.
    fn default() -> Self {
        Self {
            allow: loopback(),
            max_concurrent: 16,
            default_initiator_name: DEFAULT_INITIATOR.to_owned(),
        }
    }
}

/// 127.0.0.0/8 and ::1/128.
#[must_use]
pub fn loopback() -> Vec<IpNet> {
    ["127.0.0.0/8", "::1/128"]
        .iter()
        .filter_map(|n| n.parse().ok())
        .collect()
}

struct AppState {
    config: ServerConfig,
    slots: Semaphore,
}

/// The router: the two probe endpoints, `/healthz` and `/openapi.json`.
pub fn router(config: ServerConfig) -> Router {
    let slots = Semaphore::new(config.max_concurrent.max(1));
    let state = Arc::new(AppState { config, slots });
    Router::new()
        .route("/api/iscsi/discover", post(discover))
        .route("/api/iscsi/login", post(login))
        .route("/healthz", get(healthz))
        .route("/openapi.json", get(openapi))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state)
}

/// Serves `router(config)` on `listener` until `shutdown` completes.
///
/// # Errors
/// The listener's I/O errors.
pub async fn serve(
    listener: tokio::net::TcpListener,
    config: ServerConfig,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    axum::serve(listener, router(config))
        .with_graceful_shutdown(shutdown)
        .await
}

/// `POST /api/iscsi/discover` body (the seed's fields).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct DiscoverRequest {
    host: Option<String>,
    port: Option<i64>,
    timeout: Option<i64>,
    initiator_name: Option<String>,
}

/// `POST /api/iscsi/login` body: the seed's fields and mutual CHAP.
#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct LoginRequest {
    host: Option<String>,
    port: Option<i64>,
    timeout: Option<i64>,
    initiator_name: Option<String>,
    target_name: Option<String>,
    username: Option<String>,
    password: Option<String>,
    target_username: Option<String>,
    target_password: Option<String>,
}

/// A JSON error answer: `{"success": false, "error": ...}`.
#[derive(Debug)]
struct ApiError {
    status: StatusCode,
    message: String,
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            axum::Json(json!({ "success": false, "error": self.message })),
        )
            .into_response()
    }
}

fn error(status: StatusCode, message: impl Into<String>) -> ApiError {
    ApiError {
        status,
        message: message.into(),
    }
}

async fn not_found() -> ApiError {
    error(StatusCode::NOT_FOUND, "no such endpoint")
}

async fn method_not_allowed() -> ApiError {
    error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed here")
}

async fn healthz() -> Response {
    axum::Json(json!({ "status": "ok" })).into_response()
}

async fn openapi() -> Response {
    axum::Json(openapi_document()).into_response()
}

/// Reads the body (at most [`MAX_BODY`] bytes) and parses it as `T`.
async fn body_json<T: for<'de> Deserialize<'de>>(request: Request) -> Result<T, ApiError> {
    let bytes = axum::body::to_bytes(request.into_body(), MAX_BODY)
        .await
        .map_err(|_| {
            error(
                StatusCode::PAYLOAD_TOO_LARGE,
                format!("the request body is over {MAX_BODY} bytes"),
            )
        })?;
    let invalid =
        |e: serde_json::Error| error(StatusCode::BAD_REQUEST, format!("invalid JSON body: {e}"));
    let value: Value = serde_json::from_slice(&bytes).map_err(invalid)?;
    // An explicit null is not an omitted field: the schema has no nullable
    // request fields.
    if let Some((key, _)) = value
        .as_object()
        .and_then(|o| o.iter().find(|(_, v)| v.is_null()))
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            format!("{key} must not be null (leave it out for the default)"),
        ));
    }
    serde_json::from_value(value).map_err(invalid)
}

/// A host name or address as the schema's pattern allows: letters, digits,
/// `.`, `-`, `_`, and for IPv6 `:` and brackets; at most 253 bytes.
fn valid_host(host: &str) -> bool {
    (1..=253).contains(&host.len())
        && host.bytes().all(|b| {
            b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b':' | b'[' | b']')
        })
}

/// The fields both endpoints share, checked.
struct Common {
    host: String,
    port: u16,
    timeout: Duration,
    initiator_name: String,
}

fn common(
    config: &ServerConfig,
    host: Option<String>,
    port: Option<i64>,
    timeout: Option<i64>,
    initiator_name: Option<String>,
) -> Result<Common, ApiError> {
    let host = host
        .filter(|h| !h.is_empty())
        .ok_or_else(|| error(StatusCode::BAD_REQUEST, "host is required"))?;
    if !valid_host(&host) {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "host is not a host name or address",
        ));
    }
    let port = match port {
        None => iscsi_initiator::url::DEFAULT_PORT,
        Some(p) => u16::try_from(p).ok().filter(|p| *p >= 1).ok_or_else(|| {
            error(
                StatusCode::BAD_REQUEST,
                format!("port {p} is outside 1-65535"),
            )
        })?,
    };
    let timeout = match timeout {
        None => DEFAULT_TIMEOUT_MS,
        Some(t) => u64::try_from(t)
            .ok()
            .filter(|t| TIMEOUT_RANGE_MS.contains(t))
            .ok_or_else(|| {
                error(
                    StatusCode::BAD_REQUEST,
                    format!("timeout {t} ms is outside 100-60000"),
                )
            })?,
    };
    let initiator_name = match initiator_name {
        None => config.default_initiator_name.clone(),
        Some(n) if valid_name(&n) => n,
        Some(_) => {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "initiatorName must be 1-223 bytes of printable ASCII without spaces",
            ));
        }
    };
    Ok(Common {
        host,
        port,
        timeout: Duration::from_millis(timeout),
        initiator_name,
    })
}

/// An iSCSI name as RFC 7143 §4.2.7 bounds it: at most 223 bytes; we also
/// keep it to printable ASCII without spaces, so it is a valid text value.
fn valid_name(name: &str) -> bool {
    (1..=223).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_graphic())
}

/// Resolves `host` once and picks the first address inside `allow`.
async fn resolve(
    config: &ServerConfig,
    host: &str,
    port: u16,
    deadline: Duration,
) -> Result<SocketAddr, ApiError> {
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    let addresses: Vec<SocketAddr> = if let Ok(ip) = literal.parse::<IpAddr>() {
        vec![SocketAddr::new(ip, port)]
    } else {
        match tokio::time::timeout(deadline, tokio::net::lookup_host((host, port))).await {
            Ok(Ok(found)) => found.collect(),
            Ok(Err(e)) => {
                return Err(error(
                    StatusCode::BAD_GATEWAY,
                    format!("cannot resolve {host}: {e}"),
                ));
            }
            Err(_) => {
                return Err(error(
                    StatusCode::GATEWAY_TIMEOUT,
                    format!("resolving {host} took over {} ms", deadline.as_millis()),
                ));
            }
        }
    };
    addresses
        .iter()
        .copied()
        .find(|a| config.allow.iter().any(|net| net.contains(&a.ip())))
        .ok_or_else(|| {
            let list: Vec<String> = addresses.iter().map(|a| a.ip().to_string()).collect();
            error(
                StatusCode::FORBIDDEN,
                format!(
                    "{host} ({}) is outside the allowed networks",
                    if list.is_empty() {
                        "no address".to_owned()
                    } else {
                        list.join(", ")
                    }
                ),
            )
        })
}

/// The HTTP status of a probe report.
fn status_of(report: &ProbeReport) -> StatusCode {
    match report.error_kind.as_deref() {
        None => StatusCode::OK,
        Some("timeout") => StatusCode::GATEWAY_TIMEOUT,
        Some("unreachable" | "not-iscsi" | "login-refused" | "login-error" | "rejected") => {
            StatusCode::BAD_GATEWAY
        }
        Some(_) => StatusCode::INTERNAL_SERVER_ERROR,
    }
}

/// Runs a probe in a slot, with the request's timeout as the deadline for
/// the slot, the resolution and the probe together.
async fn run_probe(
    state: &AppState,
    c: Common,
    mut options: ProbeOptions,
) -> Result<Response, ApiError> {
    let started = tokio::time::Instant::now();
    let Ok(Ok(_permit)) = tokio::time::timeout(c.timeout, state.slots.acquire()).await else {
        return Err(error(
            StatusCode::SERVICE_UNAVAILABLE,
            "every probe slot stayed busy for the whole timeout",
        ));
    };
    let left = c.timeout.saturating_sub(started.elapsed());
    let address = resolve(&state.config, &c.host, c.port, left).await?;
    options.portal = Portal::new(address.ip().to_string(), address.port());
    options.initiator_name = c.initiator_name;
    options.timeout = c
        .timeout
        .saturating_sub(started.elapsed())
        .max(Duration::from_millis(1));
    // The probe runs in its own task: a panic in it becomes a 500, not a
    // dropped connection.
    let report = match tokio::spawn(async move { probe(&options).await }).await {
        Ok(mut report) => {
            report.host = c.host;
            report
        }
        Err(_) => {
            return Err(error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the probe failed unexpectedly",
            ));
        }
    };
    tracing::info!(
        host = %report.host,
        address = %address,
        success = report.success,
        kind = report.error_kind.as_deref().unwrap_or("ok"),
        "probe"
    );
    Ok((status_of(&report), axum::Json(report)).into_response())
}

async fn discover(
    State(state): State<Arc<AppState>>,
    request: Request,
) -> Result<Response, ApiError> {
    let body: DiscoverRequest = body_json(request).await?;
    let c = common(
        &state.config,
        body.host,
        body.port,
        body.timeout,
        body.initiator_name,
    )?;
    let options = ProbeOptions::new(Portal::new(c.host.clone(), c.port));
    run_probe(&state, c, options).await
}

async fn login(State(state): State<Arc<AppState>>, request: Request) -> Result<Response, ApiError> {
    let body: LoginRequest = body_json(request).await?;
    let c = common(
        &state.config,
        body.host,
        body.port,
        body.timeout,
        body.initiator_name,
    )?;
    let mut options = ProbeOptions::new(Portal::new(c.host.clone(), c.port));
    if let Some(target) = body.target_name.filter(|t| !t.is_empty()) {
        if !valid_name(&target) {
            return Err(error(
                StatusCode::BAD_REQUEST,
                "targetName must be 1-223 bytes of printable ASCII without spaces",
            ));
        }
        options.target = Some(target);
    }
    options.chap = credential_pair(body.username, body.password, "username", "password")?;
    options.mutual = credential_pair(
        body.target_username,
        body.target_password,
        "targetUsername",
        "targetPassword",
    )?;
    if options.mutual.is_some() && options.chap.is_none() {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "mutual CHAP (targetUsername, targetPassword) needs username and password",
        ));
    }
    if let (Some((_, ours)), Some((_, theirs))) = (&options.chap, &options.mutual)
        && ours == theirs
    {
        return Err(error(
            StatusCode::BAD_REQUEST,
            "mutual CHAP needs two different secrets (RFC 7143 §12.1.3)",
        ));
    }
    run_probe(&state, c, options).await
}

/// A CHAP user and secret given together (both or neither), each 1 to 255
/// bytes.
fn credential_pair(
    user: Option<String>,
    secret: Option<String>,
    user_field: &str,
    secret_field: &str,
) -> Result<Option<(String, String)>, ApiError> {
    match (user, secret) {
        (None, None) => Ok(None),
        (Some(u), Some(s)) if (1..=255).contains(&u.len()) && (1..=255).contains(&s.len()) => {
            Ok(Some((u, s)))
        }
        _ => Err(error(
            StatusCode::BAD_REQUEST,
            format!("{user_field} and {secret_field} go together, each 1-255 bytes"),
        )),
    }
}

/// The OpenAPI 3.0 description of the endpoints.
#[must_use]
pub fn openapi_document() -> Value {
    let string = json!({ "type": "string" });
    let nullable = |t: &str| json!({ "type": t, "nullable": true });
    let report = json!({
        "type": "object",
        "required": ["success", "host", "port", "isISCSI", "authenticated", "chap", "mutualChap",
                     "sessionType", "negotiatedParams", "targets", "targetCount", "textPairs"],
        "properties": {
            "success": { "type": "boolean" },
            "host": string,
            "port": { "type": "integer", "minimum": 1, "maximum": 65535 },
            "rtt": { "type": "number", "nullable": true, "description": "connect and login time, ms" },
            "isISCSI": { "type": "boolean" },
            "loginStatus": nullable("string"),
            "loginStatusClass": { "type": "integer", "nullable": true, "minimum": 0, "maximum": 255 },
            "loginStatusDetail": { "type": "integer", "nullable": true, "minimum": 0, "maximum": 255 },
            "versionMax": { "type": "integer", "nullable": true, "minimum": 0, "maximum": 255 },
            "versionActive": { "type": "integer", "nullable": true, "minimum": 0, "maximum": 255 },
            "tsih": { "type": "integer", "nullable": true, "minimum": 0, "maximum": 65535 },
            "sessionId": { "type": "string", "nullable": true, "description": "the ISID, 12 hex digits" },
            "authenticated": { "type": "boolean" },
            "chap": { "type": "boolean" },
            "mutualChap": { "type": "boolean" },
            "sessionType": { "type": "string", "enum": ["Discovery", "Normal"] },
            "negotiatedParams": { "type": "object", "additionalProperties": string },
            "targets": { "type": "array", "items": {
                "type": "object", "required": ["name", "addresses"],
                "properties": {
                    "name": string,
                    "addresses": { "type": "array", "items": string }
                }
            }},
            "targetCount": { "type": "integer", "minimum": 0 },
            "textPairs": { "type": "array", "items": {
                "type": "array", "minItems": 2, "maxItems": 2, "items": string
            }},
            "chapAlgorithm": nullable("string"),
            "error": nullable("string"),
            "errorKind": { "type": "string", "nullable": true,
                "enum": ["unreachable", "not-iscsi", "login-refused", "login-error", "rejected", "timeout", "error", null] }
        }
    });
    let error_body = json!({
        "type": "object",
        "required": ["error"],
        "properties": { "success": { "type": "boolean" }, "error": string }
    });
    let common_props = json!({
        "host": { "type": "string", "minLength": 1, "maxLength": 253, "pattern": "^[A-Za-z0-9._:\\[\\]-]+$",
                  "description": "name or address; resolved once, then checked against --allow" },
        "port": { "type": "integer", "minimum": 1, "maximum": 65535, "default": 3260 },
        "timeout": { "type": "integer", "minimum": 100, "maximum": 60000, "default": 10000, "description": "ms" },
        "initiatorName": { "type": "string", "minLength": 1, "maxLength": 223, "pattern": "^[!-~]+$" }
    });
    let mut login_props = common_props.clone();
    if let Some(map) = login_props.as_object_mut() {
        for (k, v) in [
            (
                "targetName",
                json!({ "type": "string", "maxLength": 223, "pattern": "^[!-~]*$", "description": "log into this target (Normal session); without it, a Discovery session with SendTargets=All" }),
            ),
            (
                "username",
                json!({ "type": "string", "minLength": 1, "maxLength": 255 }),
            ),
            (
                "password",
                json!({ "type": "string", "minLength": 1, "maxLength": 255, "writeOnly": true }),
            ),
            (
                "targetUsername",
                json!({ "type": "string", "minLength": 1, "maxLength": 255, "description": "mutual CHAP" }),
            ),
            (
                "targetPassword",
                json!({ "type": "string", "minLength": 1, "maxLength": 255, "writeOnly": true }),
            ),
        ] {
            map.insert(k.to_owned(), v);
        }
    }
    let responses = json!({
        "200": { "description": "logged in (and discovered)", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/ProbeReport" } } } },
        "400": { "description": "bad request", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "403": { "description": "host outside the allowed networks", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "413": { "description": "body too large", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "502": { "description": "unreachable, not iSCSI, login refused or failed, rejected", "content": { "application/json": { "schema": { "anyOf": [ { "$ref": "#/components/schemas/ProbeReport" }, { "$ref": "#/components/schemas/Error" } ] } } } },
        "503": { "description": "every probe slot busy", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } },
        "504": { "description": "timeout", "content": { "application/json": { "schema": { "anyOf": [ { "$ref": "#/components/schemas/ProbeReport" }, { "$ref": "#/components/schemas/Error" } ] } } } },
        "500": { "description": "unexpected", "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } } }
    });
    let operation = |summary: &str, schema: &str, example: Value| {
        json!({
            "summary": summary,
            "requestBody": { "required": true, "content": { "application/json": {
                "schema": { "$ref": format!("#/components/schemas/{schema}") },
                "example": example
            } } },
            "responses": responses.clone()
        })
    };
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "iscsi probe-server",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Check iSCSI portals: discovery and login probes (RFC 7143), answered as `iscsi probe --json` prints them."
        },
        "paths": {
            "/api/iscsi/discover": { "post": operation(
                "Discovery session without authentication, SendTargets=All, Logout",
                "DiscoverRequest",
                json!({ "host": "127.0.0.1", "port": 3260 })
            ) },
            "/api/iscsi/login": { "post": operation(
                "Login with optional CHAP or mutual CHAP, to a target (Normal session) or for discovery",
                "LoginRequest",
                json!({ "host": "127.0.0.1", "port": 3260, "targetName": "iqn.2026-11.rs.iscsi:ram0" })
            ) },
            "/healthz": { "get": {
                "summary": "liveness",
                "responses": { "200": { "description": "up", "content": { "application/json": { "schema": {
                    "type": "object", "required": ["status"], "properties": { "status": { "type": "string", "enum": ["ok"] } }
                } } } } }
            } }
        },
        "components": { "schemas": {
            "DiscoverRequest": { "type": "object", "required": ["host"], "additionalProperties": false, "properties": common_props },
            "LoginRequest": { "type": "object", "required": ["host"], "additionalProperties": false, "properties": login_props },
            "ProbeReport": report,
            "Error": error_body
        } }
    })
}

#[cfg(test)]
mod tests {
    use super::{ServerConfig, common, openapi_document, status_of, valid_name};
    use crate::probe::ProbeReport;
    use axum::http::StatusCode;

    #[test]
    fn request_fields_are_checked_before_anything_is_sent() {
        let c = ServerConfig::default();
        let ok = |port, timeout| {
            common(&c, Some("127.0.0.1".into()), port, timeout, None).map(|c| (c.port, c.timeout))
        };
        assert_eq!(
            ok(None, None).ok(),
            Some((3260, std::time::Duration::from_secs(10)))
        );
        for (port, timeout) in [
            (Some(0), None),
            (Some(65_536), None),
            (Some(-1), None),
            (None, Some(99)),
            (None, Some(60_001)),
        ] {
            let Err(r) = ok(port, timeout) else {
                panic!("{port:?} {timeout:?} accepted")
            };
            assert_eq!(r.status, StatusCode::BAD_REQUEST);
        }
        assert!(common(&c, None, None, None, None).is_err());
        assert!(common(&c, Some("  ".into()), None, None, None).is_err());
        assert!(common(&c, Some(" 127.0.0.1".into()), None, None, None).is_err());
        assert!(common(&c, Some("a b".into()), None, None, None).is_err());
        assert!(common(&c, Some("<ß;".into()), None, None, None).is_err());
        assert!(common(&c, Some("[::1]".into()), None, None, None).is_ok());
        assert!(valid_name("iqn.2026-11.rs.iscsi:x"));
        assert!(!valid_name("has space"));
        assert!(!valid_name(&"x".repeat(224)));
    }

    #[test]
    fn statuses_follow_the_seed() {
        let with = |kind: Option<&str>| {
            status_of(&ProbeReport {
                error_kind: kind.map(str::to_owned),
                ..ProbeReport::default()
            })
        };
        assert_eq!(with(None), StatusCode::OK);
        assert_eq!(with(Some("login-refused")), StatusCode::BAD_GATEWAY);
        assert_eq!(with(Some("not-iscsi")), StatusCode::BAD_GATEWAY);
        assert_eq!(with(Some("unreachable")), StatusCode::BAD_GATEWAY);
        assert_eq!(with(Some("rejected")), StatusCode::BAD_GATEWAY);
        assert_eq!(with(Some("timeout")), StatusCode::GATEWAY_TIMEOUT);
        assert_eq!(with(Some("error")), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn the_openapi_document_names_every_endpoint_and_field() {
        let doc = openapi_document();
        for path in ["/api/iscsi/discover", "/api/iscsi/login", "/healthz"] {
            assert!(doc["paths"][path].is_object(), "{path}");
        }
        let report = &doc["components"]["schemas"]["ProbeReport"]["properties"];
        let fields = serde_json::to_value(ProbeReport::default()).unwrap();
        for key in fields.as_object().unwrap().keys() {
            assert!(report[key].is_object(), "{key} is not in the schema");
        }
        assert_eq!(
            doc["components"]["schemas"]["LoginRequest"]["additionalProperties"],
            false
        );
    }
}
