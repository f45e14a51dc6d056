//! `wmsd`, the wms agent: the session engine of `wms-host` behind one HTTP/JSON API, with
//! the same rules as the in-process path. This crate holds the router ([`app`]), who the
//! caller is ([`Peer`], [`identify`]), the audit log ([`audit`]), bearer tokens
//! ([`tokens`]), TLS ([`tls`]) and the API description ([`openapi`]); the binary in
//! `bin/wmsd.rs` binds the listeners.

pub mod audit;
mod fsutil;
pub mod openapi;
pub mod tls;
pub mod tokens;

use audit::{Audit, Record};
use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use tokens::{TokenStore, Verdict};
use tokio::net::UnixListener;
use wms_core::api::{ActionRequest, ActionResponse, ErrorResponse};
use wms_core::{Caller, Pid, SessionId, Uid};
use wms_host::Host;

/// What the agent serves with.
pub struct AppState {
    pub host: Host,
    pub audit: Audit,
    /// The bearer tokens of callers over TCP.
    pub tokens: TokenStore,
    /// This host's machine ID ([`machine_id`]): a remote caller that sends it is on this
    /// host, and its own session is protected here (SPEC 5).
    pub machine_id: Option<String>,
}

/// Who is on the other end of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peer {
    /// On the Unix socket, from the socket's peer credentials (SO_PEERCRED): the kernel
    /// vouches for them, so they cannot be forged by the client.
    Unix {
        pid: Option<i32>,
        uid: u32,
        gid: u32,
    },
    /// Over TCP with TLS: the address says where from, and only a bearer token says who.
    Tcp { addr: SocketAddr },
}

impl Peer {
    /// `unix` or `tcp`, as audit records name the way in.
    pub fn via(&self) -> &'static str {
        match self {
            Peer::Unix { .. } => "unix",
            Peer::Tcp { .. } => "tcp",
        }
    }
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        match stream.io().peer_cred() {
            Ok(c) => Peer::Unix {
                pid: c.pid(),
                uid: c.uid(),
                gid: c.gid(),
            },
            // Without credentials the caller is nobody in particular: deny by default.
            Err(_) => Peer::Unix {
                pid: None,
                uid: u32::MAX,
                gid: u32::MAX,
            },
        }
    }
}

impl Connected<IncomingStream<'_, tls::TlsListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, tls::TlsListener>) -> Self {
        Peer::Tcp {
            addr: *stream.remote_addr(),
        }
    }
}

/// The user ID of a caller known by a token, which has none: `(uid_t)-1`, which no
/// account has. The rules look at the caller's user ID only for [`wms_core::Role::User`],
/// and a token is never that role.
pub const NO_UID: Uid = Uid(u32::MAX);

/// The header a remote caller names its host's machine ID in.
pub const MACHINE_ID_HEADER: &str = "x-wms-machine-id";
/// The header a remote caller names the session it runs in (on its host) in.
pub const SESSION_ID_HEADER: &str = "x-wms-session-id";

/// This host's machine ID: `/etc/machine-id`, or the boot ID where it is missing or
/// empty (the client's, from wms-trust, so that both sides agree).
pub fn machine_id() -> Option<String> {
    wms_trust::machine_id()
}

/// The API: `GET /v1/sessions`, `POST /v1/actions`, `GET /openapi.json`.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/sessions", get(list))
        .route("/v1/actions", post(action))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .with_state(state)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (
        status,
        Json(ErrorResponse {
            error: message.into(),
        }),
    )
        .into_response()
}

async fn list(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    // Anyone on this host may list, as `who` shows everyone; from elsewhere, only the
    // holder of a token.
    if let Peer::Tcp { .. } = peer {
        if let Err(refusal) = identify(&st, &peer, &headers) {
            return refusal.response();
        }
    }
    let st2 = st.clone();
    match tokio::task::spawn_blocking(move || st2.host.sessions()).await {
        Ok(Ok(sessions)) => Json(sessions).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "cannot read sessions");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the sessions of this host",
            )
        }
        Err(e) => {
            tracing::error!(error = %e, "session scan panicked");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// A caller the agent knows, and by which token if it came over TCP.
#[derive(Debug, Clone)]
pub struct Identified {
    pub caller: Caller,
    /// The token's name (never the token).
    pub token: Option<String>,
}

/// Why a request is not served, before the rules are even asked.
#[derive(Debug, Clone)]
pub struct Refusal {
    pub status: StatusCode,
    pub message: String,
    /// The name of the (revoked) token that was presented, for the audit record.
    pub token: Option<String>,
}

impl Refusal {
    fn new(status: StatusCode, message: impl Into<String>) -> Refusal {
        Refusal {
            status,
            message: message.into(),
            token: None,
        }
    }

    fn response(&self) -> Response {
        let mut r = error(self.status, self.message.clone());
        if self.status == StatusCode::UNAUTHORIZED {
            // RFC 6750: say which scheme would have worked.
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"wmsd\""),
            );
        }
        r
    }
}

/// Who the caller is, as a caller of the rules: on the Unix socket from its process, over
/// TCP from its bearer token (and, for its own session, the headers it sends).
pub fn identify(st: &AppState, peer: &Peer, headers: &HeaderMap) -> Result<Identified, Refusal> {
    match *peer {
        Peer::Unix { pid, uid, gid } => {
            let caller = caller(&st.host, pid, uid, gid).ok_or_else(|| {
                Refusal::new(
                    StatusCode::FORBIDDEN,
                    "the calling process could not be identified",
                )
            })?;
            Ok(Identified {
                caller,
                token: None,
            })
        }
        Peer::Tcp { addr } => {
            let token = bearer(headers)?;
            let (name, role) = match st.tokens.verify(token) {
                Ok(Verdict::Valid { name, role }) => (name, role),
                Ok(Verdict::Unknown) => return Err(Refusal::new(
                    StatusCode::UNAUTHORIZED,
                    "unknown token: this agent did not issue it (mistyped, or from another host?)",
                )),
                Ok(Verdict::Revoked { name }) => {
                    return Err(Refusal {
                        status: StatusCode::UNAUTHORIZED,
                        message: format!(
                            "revoked token \"{name}\": ask this host's administrator for a new one"
                        ),
                        token: Some(name),
                    })
                }
                Err(e) => {
                    tracing::error!(error = %e, peer = %addr, "cannot check a token");
                    return Err(Refusal::new(
                        StatusCode::INTERNAL_SERVER_ERROR,
                        "the agent cannot check tokens now: its token store is unusable (see the agent's log)",
                    ));
                }
            };
            let own_session = remote_own_session(st, headers).map_err(|mut r| {
                r.token = Some(name.clone());
                r
            })?;
            Ok(Identified {
                caller: Caller {
                    uid: NO_UID,
                    role: role.role(),
                    own_session,
                },
                token: Some(name),
            })
        }
    }
}

/// The token of `Authorization: Bearer <token>`.
fn bearer(headers: &HeaderMap) -> Result<&str, Refusal> {
    let unauthorized = |m: &str| Refusal::new(StatusCode::UNAUTHORIZED, m);
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Err(unauthorized(
            "no token: send Authorization: Bearer <token> (wmsd token create makes one)",
        ));
    };
    let malformed = || unauthorized("malformed Authorization header: expected \"Bearer <token>\"");
    let value = value.to_str().map_err(|_| malformed())?;
    let (scheme, token) = value.trim().split_once(' ').ok_or_else(malformed)?;
    let token = token.trim();
    // The scheme is case-insensitive (RFC 7235).
    if !scheme.eq_ignore_ascii_case("bearer") || token.is_empty() {
        return Err(malformed());
    }
    Ok(token)
}

/// A remote caller's own session: the session it names, when the machine it names is
/// this one. A caller could leave the headers out, but they protect only the caller
/// itself: the token, not the headers, decides what it may do.
fn remote_own_session(st: &AppState, headers: &HeaderMap) -> Result<Option<SessionId>, Refusal> {
    let text = |name: &str| -> Result<Option<&str>, Refusal> {
        headers
            .get(name)
            .map(|v| {
                v.to_str().map(str::trim).map_err(|_| {
                    Refusal::new(StatusCode::BAD_REQUEST, format!("malformed {name} header"))
                })
            })
            .transpose()
    };
    let Some(machine) = text(MACHINE_ID_HEADER)? else {
        return Ok(None);
    };
    let here = st
        .machine_id
        .as_deref()
        .is_some_and(|m| m.eq_ignore_ascii_case(machine));
    if !here {
        return Ok(None);
    }
    match text(SESSION_ID_HEADER)? {
        None => Ok(None),
        Some(id) => id.parse::<u32>().map(SessionId::from_kernel).map_err(|_| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("malformed X-Wms-Session-Id header: {id:?} is not a session ID"),
            )
        }),
    }
}

/// Who a Unix-socket peer is, as a caller of the rules; `None` when it cannot be told.
fn caller(host: &Host, pid: Option<i32>, uid: u32, gid: u32) -> Option<Caller> {
    let pid = pid.filter(|_| uid != u32::MAX)?;
    Some(host.caller_of(Pid(pid), uid, gid))
}

async fn action(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let mut record = Record::new(&peer);
    let caller = match identify(&st, &peer, &headers) {
        Ok(id) => {
            record.token_name = id.token;
            id.caller
        }
        Err(refusal) => {
            // Nothing of an unidentified request is recorded but that it came and why it
            // was refused: its body is the word of nobody in particular.
            record.token_name = refusal.token.clone();
            record.refused = Some(refusal.message.clone());
            write_refusal(&st, record).await;
            return refusal.response();
        }
    };
    record.caller(&caller);
    let req: ActionRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            record.refused = Some(format!("malformed request: {e}"));
            return refuse(&st, record, StatusCode::BAD_REQUEST).await;
        }
    };
    record.request(&req);
    let sel = match req.selection() {
        Ok(s) => s,
        Err(e) => {
            record.refused = Some(e);
            return refuse(&st, record, StatusCode::BAD_REQUEST).await;
        }
    };
    let st2 = st.clone();
    let work = tokio::task::spawn_blocking(move || {
        let results = st2
            .host
            .run_action(&caller, &req, &sel)
            .map_err(|e| format!("cannot read the sessions of this host: {e}"))?;
        record.results = Some(results.clone());
        // Written before the answer: an action nobody can account for never happens
        // silently.
        st2.audit
            .write(&record)
            .map_err(|e| format!("the audit record could not be written: {e}"))?;
        Ok::<_, String>(results)
    })
    .await;
    match work {
        Ok(Ok(results)) => Json(ActionResponse { results }).into_response(),
        Ok(Err(e)) => {
            tracing::error!(error = %e, "action failed");
            error(StatusCode::INTERNAL_SERVER_ERROR, e)
        }
        Err(e) => {
            tracing::error!(error = %e, "action panicked");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// Writes the record of a refused request, off the thread that answers (the write is
/// synced to disk), and before the answer.
async fn write_refusal(st: &Arc<AppState>, record: Record) {
    let st = st.clone();
    let written = tokio::task::spawn_blocking(move || st.audit.write(&record)).await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot write audit record"),
        Err(e) => tracing::error!(error = %e, "audit write panicked"),
    }
}

async fn refuse(st: &Arc<AppState>, record: Record, status: StatusCode) -> Response {
    let message = record.refused.clone().unwrap_or_default();
    write_refusal(st, record).await;
    error(status, message)
}
