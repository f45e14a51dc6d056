//! `wmsd`, the wms agent: the session engine of `wms-host` behind one HTTP/JSON API, with
//! the same rules as the in-process path. This crate holds the router ([`app`]), who the
//! caller is ([`Peer`]), the audit log ([`audit`]) and the API description ([`openapi`]);
//! the binary in `bin/wmsd.rs` binds the listeners.

pub mod audit;
pub mod openapi;

use audit::{Audit, Record};
use axum::body::Bytes;
use axum::extract::connect_info::{ConnectInfo, Connected};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::serve::IncomingStream;
use axum::{Json, Router};
use std::sync::Arc;
use tokio::net::UnixListener;
use wms_core::api::{ActionRequest, ActionResponse, ErrorResponse};
use wms_core::{Caller, Pid, Selection};
use wms_host::Host;

/// What the agent serves with.
pub struct AppState {
    pub host: Host,
    pub audit: Audit,
}

/// The caller on the Unix socket, from the socket's peer credentials (SO_PEERCRED): the
/// kernel vouches for them, so they cannot be forged by the client.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Peer {
    pub pid: Option<i32>,
    pub uid: u32,
    pub gid: u32,
}

impl Connected<IncomingStream<'_, UnixListener>> for Peer {
    fn connect_info(stream: IncomingStream<'_, UnixListener>) -> Self {
        match stream.io().peer_cred() {
            Ok(c) => Peer {
                pid: c.pid(),
                uid: c.uid(),
                gid: c.gid(),
            },
            // Without credentials the caller is nobody in particular: deny by default.
            Err(_) => Peer {
                pid: None,
                uid: u32::MAX,
                gid: u32::MAX,
            },
        }
    }
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

async fn list(State(st): State<Arc<AppState>>) -> Response {
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

/// Who the peer is, as a caller of the rules; `None` when it cannot be told.
fn caller(host: &Host, peer: &Peer) -> Option<Caller> {
    let pid = peer.pid.filter(|_| peer.uid != u32::MAX)?;
    Some(host.caller_of(Pid(pid), peer.uid, peer.gid))
}

/// Checks a request's shape; the message says what is wrong.
fn selection(req: &ActionRequest) -> Result<Selection, String> {
    let sel = match (&req.session_ids, req.all) {
        (Some(ids), false) if !ids.is_empty() => Selection::Ids(ids.clone()),
        (None, true) => Selection::All,
        (Some(_), true) => return Err("give sessionIds or all, not both".into()),
        _ => return Err("give sessionIds (a non-empty list) or all: true".into()),
    };
    if req.verb == wms_core::api::ActionVerb::Lock
        && req.message.as_deref().is_none_or(|m| m.trim().is_empty())
    {
        return Err("lock needs a message".into());
    }
    Ok(sel)
}

async fn action(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    body: Bytes,
) -> Response {
    let mut record = Record::new("unix", &peer);
    let Some(caller) = caller(&st.host, &peer) else {
        record.refused = Some("the calling process could not be identified".into());
        return refuse(&st, record, StatusCode::FORBIDDEN);
    };
    record.caller(&caller);
    let req: ActionRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            record.refused = Some(format!("malformed request: {e}"));
            return refuse(&st, record, StatusCode::BAD_REQUEST);
        }
    };
    record.request(&req);
    let sel = match selection(&req) {
        Ok(s) => s,
        Err(e) => {
            record.refused = Some(e);
            return refuse(&st, record, StatusCode::BAD_REQUEST);
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

fn refuse(st: &AppState, record: Record, status: StatusCode) -> Response {
    let msg = record.refused.clone().unwrap_or_default();
    if let Err(e) = st.audit.write(&record) {
        tracing::error!(error = %e, "cannot write audit record");
    }
    error(status, msg)
}
