//! What a request must pass before the agent works on it, in this order: who the caller is
//! (with failed authentications limited per client address, so guessing costs a peer its
//! turn and the agent nothing), the caller's rate of actions, then the body, read only
//! now, within a size limit and a deadline, and the number of session IDs it names. The
//! limits themselves are in [`crate::limits`].

use crate::limits::{retry_after_secs, CallerKey, IpKey};
use crate::{identify, AppState, Identified, Peer, Refusal};
use axum::body::{Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::Response;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use std::sync::Arc;
use std::time::Duration;
use wms_core::api::ActionRequest;

/// A request turned away for coming too often.
#[derive(Debug, Clone)]
pub struct TooMany {
    pub message: String,
    /// Whole seconds until the caller may try again.
    pub retry_after: u64,
}

impl TooMany {
    /// The message is the same whatever the wait (Retry-After says that), so that its
    /// repeats are recorded as one refusal.
    fn new(wait: Duration, message: String) -> TooMany {
        TooMany {
            message,
            retry_after: retry_after_secs(wait),
        }
    }

    pub fn response(&self) -> Response {
        let mut r = crate::error(StatusCode::TOO_MANY_REQUESTS, self.message.clone());
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(self.retry_after));
        r
    }
}

/// Why a caller was not let in.
#[derive(Debug, Clone)]
pub enum Denied {
    Refused(Refusal),
    TooMany(TooMany),
}

impl Denied {
    pub fn response(&self) -> Response {
        match self {
            Denied::Refused(r) => r.response(),
            Denied::TooMany(t) => t.response(),
        }
    }

    pub fn message(&self) -> &str {
        match self {
            Denied::Refused(r) => &r.message,
            Denied::TooMany(t) => &t.message,
        }
    }

    /// The name of the token presented, when the refusal knows it.
    pub fn token(&self) -> Option<String> {
        match self {
            Denied::Refused(r) => r.token.clone(),
            Denied::TooMany(_) => None,
        }
    }
}

/// [`identify`], with failed authentications limited per client address: once an
/// address has used up its allowance, its requests are refused (429) without their token
/// being looked at until the allowance grows back.
pub fn authenticate(st: &AppState, peer: &Peer, headers: &HeaderMap) -> Result<Identified, Denied> {
    let Peer::Tcp { addr } = *peer else {
        return identify(st, peer, headers).map_err(Denied::Refused);
    };
    let ip = IpKey::of(addr.ip());
    if let Err(wait) = st.limits.auth_failures.check(&ip) {
        return Err(Denied::TooMany(TooMany::new(
            wait,
            format!("too many failed authentications from {ip}: try again after the time Retry-After gives"),
        )));
    }
    identify(st, peer, headers).map_err(|refusal| {
        if refusal.status == StatusCode::UNAUTHORIZED {
            st.limits.auth_failures.spend(&ip);
        }
        Denied::Refused(refusal)
    })
}

/// Whom per-caller limits count against: the user on the socket, or the token's name.
pub fn caller_key(peer: &Peer, id: &Identified) -> CallerKey {
    match (peer, &id.token) {
        (_, Some(name)) => CallerKey::Token(name.clone()),
        (Peer::Unix(_), None) => CallerKey::Uid(peer.unix_uid().unwrap_or(u32::MAX)),
        // Not reached: a TCP caller is identified by a token.
        (Peer::Tcp { addr }, None) => CallerKey::Token(format!("tcp {}", IpKey::of(addr.ip()))),
    }
}

/// The peer as refusal records are grouped: its user, or its client address.
pub fn peer_key(peer: &Peer) -> String {
    match peer {
        Peer::Unix(_) => match peer.unix_uid() {
            Some(uid) => format!("unix uid {uid}"),
            None => "unix unidentified".to_string(),
        },
        Peer::Tcp { addr } => format!("tcp {}", IpKey::of(addr.ip())),
    }
}

/// Takes one of the caller's actions. Root on the local socket is not limited: it can do
/// everything the agent does without it.
pub fn action_turn(st: &AppState, peer: &Peer, id: &Identified) -> Result<(), TooMany> {
    if peer.unix_uid() == Some(0) {
        return Ok(());
    }
    st.limits
        .actions
        .take(&caller_key(peer, id))
        .map_err(|wait| {
            TooMany::new(
                wait,
                "too many actions from this caller: try again after the time Retry-After gives"
                    .to_string(),
            )
        })
}

/// Reads the body, at most `max_body_bytes` of it and within `body_timeout`: 413 naming
/// the limit (at once when the declared length is over it, before a byte is read), 408
/// when it is not complete in time.
pub async fn read_body(
    st: &AppState,
    headers: &HeaderMap,
    body: Body,
) -> Result<Bytes, (StatusCode, String)> {
    let limit = st.limits.max_body_bytes;
    let too_large = || {
        (
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the request body is larger than this agent takes ({limit} bytes)"),
        )
    };
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > limit as u64) {
        return Err(too_large());
    }
    let deadline = st.limits.body_timeout;
    match tokio::time::timeout(deadline, Limited::new(body, limit).collect()).await {
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(e)) if e.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
        Ok(Err(e)) => Err((
            StatusCode::BAD_REQUEST,
            format!("the request body could not be read: {e}"),
        )),
        Err(_) => Err((
            StatusCode::REQUEST_TIMEOUT,
            format!(
                "the request body did not arrive within {} s",
                deadline.as_secs_f64()
            ),
        )),
    }
}

/// Refuses a request naming more session IDs than the agent takes, before it is recorded.
pub fn check_request(st: &AppState, req: &ActionRequest) -> Result<(), String> {
    let max = st.limits.max_session_ids;
    match &req.session_ids {
        Some(ids) if ids.len() > max => Err(format!(
            "too many session IDs: {} in one request, and this agent takes at most {max} (split the request, or use all)",
            ids.len()
        )),
        _ => Ok(()),
    }
}

/// Admits a request to act (an action, a look at a screen): who the caller is, once
/// authenticated and within the action rate. A refused request's refusal is recorded
/// (coalesced, see `refusals`) from `record`, and its response returned. Nothing of an
/// unidentified request is recorded but that it came and why it was refused: its body is
/// the word of nobody in particular.
pub async fn admit_action(
    st: &Arc<AppState>,
    peer: &Peer,
    headers: &HeaderMap,
    record: &mut crate::audit::Record,
) -> Result<wms_core::Caller, axum::response::Response> {
    match authenticate(st, peer, headers) {
        Ok(id) => {
            record.token_name = id.token.clone();
            if let Err(too_many) = action_turn(st, peer, &id) {
                record.caller(&id.caller);
                record.refused = Some(too_many.message.clone());
                crate::refusals::record(st, peer_key(peer), record.clone()).await;
                return Err(too_many.response());
            }
            record.caller(&id.caller);
            Ok(id.caller)
        }
        Err(denied) => {
            record.token_name = denied.token();
            record.refused = Some(denied.message().to_string());
            crate::refusals::record(st, peer_key(peer), record.clone()).await;
            Err(denied.response())
        }
    }
}
