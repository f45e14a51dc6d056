//! `wmsd`, the wms agent: the session engine of `wms-host` behind one HTTP/JSON API, with
//! the same rules as the in-process path. This crate holds the router ([`app`]), who the
//! caller is ([`Peer`], [`identify`]), the audit log ([`audit`]), bearer tokens
//! ([`tokens`]), TLS ([`tls`]) and the API description ([`openapi`]); the binary in
//! `bin/wmsd.rs` binds the listeners and [`serve`] serves them. What a peer may make the
//! agent hold or write is bounded by [`serve`] (deadlines, connection caps),
//! [`admission`] and [`limits`] (authentication before the body, size and rate limits)
//! and [`refusals`] (coalesced refusal records).

pub mod admission;
pub mod audit;
pub mod cli;
pub mod events;
mod fsutil;
pub mod limits;
pub mod live;
pub mod metrics;
pub mod openapi;
pub mod refusals;
pub mod serve;
mod stream;
mod thumbs;
pub mod tls;
pub mod tokens;

use audit::{Audit, Record};
use axum::body::Body;
use axum::extract::connect_info::ConnectInfo;
use axum::extract::State;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use std::net::SocketAddr;
use std::sync::Arc;
use tokens::{TokenStore, Verdict};
use wms_core::api::{ActionRequest, ActionResponse, CallerInfo, ErrorResponse};
use wms_core::{Caller, SessionId, Uid};
use wms_host::peer::PeerCredentials;
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
    /// How many actions may run at once ([`ACTION_SLOTS`]).
    pub action_slots: Arc<tokio::sync::Semaphore>,
    /// The live session table and its events; `None` where the kernel's process events
    /// cannot be had (then every listing scans `/proc`, and there are no events).
    pub live: Option<Arc<live::Live>>,
    pub metrics: metrics::Metrics,
    /// Set when the agent is stopping: event streams end at once rather than hold the
    /// shutdown up until its deadline.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Per-caller rate limits and request size limits.
    pub limits: limits::Limits,
    /// Refusals waiting to be written as one record with a count.
    pub refusals: refusals::Refusals,
}

/// How many actions the agent carries out at once; more wait for a slot. Each runs on a
/// thread of its own, apart from the threads that answer listings.
pub const ACTION_SLOTS: usize = 16;

impl AppState {
    pub fn new(host: Host, audit: Audit, tokens: TokenStore) -> AppState {
        AppState {
            limits: limits::Limits::from_config(&host.config),
            refusals: refusals::Refusals::new(std::time::Duration::from_secs_f64(
                host.config.refusal_window,
            )),
            host,
            audit,
            tokens,
            machine_id: machine_id(),
            action_slots: Arc::new(tokio::sync::Semaphore::new(ACTION_SLOTS)),
            live: None,
            metrics: metrics::Metrics::default(),
            stopping: tokio::sync::watch::Sender::new(false),
        }
    }

    /// The host's sessions now: from the live table when there is one.
    pub fn sessions(&self) -> std::io::Result<Vec<wms_core::Session>> {
        match &self.live {
            Some(live) => Ok(live.sessions(&self.host)),
            None => self.host.sessions(),
        }
    }
}

/// Who is on the other end of a connection, as known when it connected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Peer {
    /// On the Unix socket: what the kernel vouched for when the peer connected (see
    /// [`wms_host::peer`]), or why it could not be told (then every request on the
    /// connection is refused: fail closed).
    Unix(Result<PeerCredentials, String>),
    /// Over TCP with TLS: the address says where from, and only a bearer token says who.
    Tcp { addr: SocketAddr },
}

impl Peer {
    /// `unix` or `tcp`, as audit records name the way in.
    pub fn via(&self) -> &'static str {
        match self {
            Peer::Unix(_) => "unix",
            Peer::Tcp { .. } => "tcp",
        }
    }

    /// The user of a Unix-socket peer the kernel vouched for.
    pub fn unix_uid(&self) -> Option<u32> {
        match self {
            Peer::Unix(Ok(c)) => Some(c.uid.0),
            _ => None,
        }
    }

    /// The peer of a Unix-socket connection, taken once, when it is accepted.
    pub fn of_unix(stream: &tokio::net::UnixStream) -> Peer {
        Peer::Unix(wms_host::peer::unix_peer(stream).map_err(|e| e.to_string()))
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

/// The API: `GET /v1/sessions`, `POST /v1/actions`, `GET /v1/caller`, `GET /openapi.json`.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/v1/sessions", get(list))
        .route("/v1/caller", get(whoami))
        .route("/v1/actions", post(action))
        .route("/v1/sessions/{id}/thumbnail", get(thumbs::thumbnail))
        .route("/v1/events", get(stream::events))
        .route("/metrics", get(stream::metrics))
        .route("/openapi.json", get(|| async { Json(openapi::document()) }))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            stream::timed,
        ))
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
    // holder of a token. Listings are bounded by how many one caller has at once, not by
    // rate: a monitor polling fast is served.
    let key = match &peer {
        Peer::Tcp { .. } => match admission::authenticate(&st, &peer, &headers) {
            Ok(id) => admission::caller_key(&peer, &id),
            Err(denied) => return denied.response(),
        },
        Peer::Unix(_) => limits::CallerKey::Uid(peer.unix_uid().unwrap_or(u32::MAX)),
    };
    let _turn = st.limits.listings.turn(&key).await;
    if let Some(live) = &st.live {
        return match live.listing(&st.host).await {
            Ok(body) => (
                [(
                    header::CONTENT_TYPE,
                    HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(e) => {
                tracing::error!(error = %e, "cannot build the session list");
                error(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "cannot read the sessions of this host",
                )
            }
        };
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

/// `GET /v1/caller`: who the agent takes the caller to be (role, user, own session), so
/// that a front end can show what the caller may not do before it asks. Authenticated as
/// a listing is; unlike a listing, a local caller the kernel could not vouch for is
/// refused, as it has no answer. It reads nothing and changes nothing: not audited.
async fn whoami(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    match admission::authenticate(&st, &peer, &headers) {
        Ok(Identified {
            caller,
            token: Some(_),
        }) => Json(CallerInfo::of_token(&caller)).into_response(),
        Ok(Identified {
            caller,
            token: None,
        }) => Json(CallerInfo::of_user(&caller)).into_response(),
        Err(denied) => denied.response(),
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
    match peer {
        Peer::Unix(Ok(creds)) => Ok(Identified {
            caller: st.host.caller_from(creds),
            token: None,
        }),
        Peer::Unix(Err(why)) => Err(Refusal::new(
            StatusCode::FORBIDDEN,
            format!("the calling process could not be identified: {why}"),
        )),
        &Peer::Tcp { addr } => {
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
/// itself: the token, not the headers, decides what it may do. Headers that are there
/// must be well formed, whichever host they name.
fn remote_own_session(st: &AppState, headers: &HeaderMap) -> Result<Option<SessionId>, Refusal> {
    let text = |name: &str| -> Result<Option<&str>, Refusal> {
        headers
            .get(name)
            .map(|v| {
                v.to_str().map_err(|_| {
                    Refusal::new(
                        StatusCode::BAD_REQUEST,
                        format!("malformed {name} header: it is not visible ASCII text"),
                    )
                })
            })
            .transpose()
    };
    let machine = text(MACHINE_ID_HEADER)?;
    if let Some(m) = machine {
        if m.is_empty() || m.len() > 64 || !m.bytes().all(|b| b.is_ascii_hexdigit() || b == b'-') {
            return Err(Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("malformed X-Wms-Machine-Id header: {m:?} is not a machine ID (hex digits, as in /etc/machine-id)"),
            ));
        }
    }
    let session = match text(SESSION_ID_HEADER)? {
        None => None,
        Some(id) => Some(parse_session_header(id).ok_or_else(|| {
            Refusal::new(
                StatusCode::BAD_REQUEST,
                format!("malformed X-Wms-Session-Id header: {id:?} is not a session ID (decimal digits, 1 to 4294967294)"),
            )
        })?),
    };
    let here = machine.is_some_and(|m| {
        st.machine_id
            .as_deref()
            .is_some_and(|mine| mine.eq_ignore_ascii_case(m))
    });
    Ok(session.filter(|_| here))
}

/// A session ID as the header carries it: decimal digits only (no sign, no space, no
/// leading zero), a session the kernel could have given (not 0, not the "no session"
/// 4294967295).
fn parse_session_header(text: &str) -> Option<SessionId> {
    // Canonical decimal: digits only, no leading zero.
    if text.is_empty()
        || text.len() > 10
        || text.starts_with('0')
        || !text.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let raw: u32 = text.parse().ok()?;
    if raw == 0 {
        return None;
    }
    SessionId::from_kernel(raw)
}

async fn action(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let mut record = Record::new(&peer);
    // The caller is known before a byte of the body is read: an unknown peer cannot make
    // the agent hold a body, and pays for its failures (admission).
    let caller = match admission::admit_action(&st, &peer, &headers, &mut record).await {
        Ok(caller) => caller,
        Err(refused) => return refused,
    };
    let body = match admission::read_body(&st, &headers, body).await {
        Ok(b) => b,
        Err((status, message)) => {
            record.refused = Some(message);
            return refuse(&st, &peer, record, status).await;
        }
    };
    let req: ActionRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            record.refused = Some(format!("malformed request: {e}"));
            return refuse(&st, &peer, record, StatusCode::BAD_REQUEST).await;
        }
    };
    if let Err(e) = admission::check_request(&st, &req) {
        record.refused = Some(e);
        return refuse(&st, &peer, record, StatusCode::BAD_REQUEST).await;
    }
    record.request(&req);
    let sel = match req.selection() {
        Ok(s) => s,
        Err(e) => {
            record.refused = Some(e);
            return refuse(&st, &peer, record, StatusCode::BAD_REQUEST).await;
        }
    };
    // Actions run on threads of their own, a bounded number at once, so that slow closes
    // (a grace period each) never take the threads listings are answered from.
    let Ok(slot) = st.action_slots.clone().acquire_owned().await else {
        return error(StatusCode::SERVICE_UNAVAILABLE, "the agent is stopping");
    };
    let (tx, rx) = tokio::sync::oneshot::channel();
    let st2 = st.clone();
    let spawned = std::thread::Builder::new()
        .name("wmsd-action".into())
        .spawn(move || {
            let done = run_audited(&st2, &caller, &req, &sel, record);
            drop(slot);
            let _ = tx.send(done);
        });
    if let Err(e) = spawned {
        tracing::error!(error = %e, "cannot start an action thread");
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "the agent cannot take on the action now (no thread for it); nothing was done: try again",
        );
    }
    let done = rx.await;
    if let Some(live) = &st.live {
        // A lock or unlock changes no process: say so to the event publisher.
        live.changed.notify_one();
    }
    match done {
        Ok(Ok(results)) => Json(ActionResponse { results }).into_response(),
        Ok(Err(ActionError::Unplanned(e))) => {
            tracing::error!(error = %e, "cannot read sessions");
            error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the sessions of this host; nothing was done",
            )
        }
        Ok(Err(ActionError::NotRecorded(e))) => {
            tracing::error!(error = %e, "cannot write the audit record; nothing was done");
            error(
                StatusCode::SERVICE_UNAVAILABLE,
                "the agent cannot write its audit log now, so nothing was done (see the agent's log: is the state directory's filesystem full or read-only?)",
            )
        }
        Err(_) => {
            tracing::error!("action thread panicked");
            error(StatusCode::INTERNAL_SERVER_ERROR, "internal error")
        }
    }
}

/// Why an action was not carried out.
enum ActionError {
    /// The sessions could not be read, so nothing was planned or done.
    Unplanned(std::io::Error),
    /// The record of what was about to be done could not be written, so nothing was done.
    NotRecorded(std::io::Error),
}

/// Plans the action, writes and syncs the record of what is about to be done (who, from
/// where, what, which targets), does it, then records the outcomes. If the intent cannot
/// be written nothing is done: an action nobody can account for never happens, not even
/// when the agent is killed halfway through it.
fn run_audited(
    st: &AppState,
    caller: &Caller,
    req: &ActionRequest,
    sel: &wms_core::Selection,
    mut record: Record,
) -> Result<Vec<wms_core::TargetResult>, ActionError> {
    let planned = plan(st, caller, req, sel).map_err(ActionError::Unplanned)?;
    let verb = verb_label(req.verb);
    let count = |results: &[wms_core::TargetResult]| {
        for r in results {
            st.metrics.action(verb, &r.outcome);
        }
    };
    if planned.changes_anything() {
        record.intent(&planned.targets());
        st.audit.write(&record).map_err(ActionError::NotRecorded)?;
        let results = st.host.execute(caller, planned);
        count(&results);
        record.outcome(results.clone());
        if let Err(e) = st.audit.write(&record) {
            // Done is done: the intent names every target, so the log still says what
            // was acted on; the answer carries the outcomes.
            tracing::error!(error = %e, request = %record.id, "cannot write the outcomes to the audit log");
        }
        Ok(results)
    } else {
        // Nothing will change (what-if, or every target refused): one record, written
        // before the answer as for any request.
        let results = st.host.execute(caller, planned);
        record.outcome(results.clone());
        st.audit.write(&record).map_err(ActionError::NotRecorded)?;
        count(&results);
        Ok(results)
    }
}

/// Plans an action over the live table when it knows every session named (no scan of
/// `/proc`), else over a scan of the named sessions, as the in-process engine does: a
/// session opened a moment ago may not be in the table yet, and must not be NotFound.
/// Either way the close engine then finds the processes itself, with its own proofs.
fn plan(
    st: &AppState,
    caller: &Caller,
    req: &ActionRequest,
    sel: &wms_core::Selection,
) -> std::io::Result<wms_host::PlannedAction> {
    let Some(live) = &st.live else {
        return st.host.plan_action(caller, req, sel);
    };
    live.settle_blocking();
    let sessions = match sel {
        // Built now, not from the listing's cache: the close engine takes the processes
        // of the sessions it is given as the start of its search.
        wms_core::Selection::All => live.sessions_where(&st.host, |_| true),
        wms_core::Selection::Ids(ids) => {
            let named: std::collections::HashSet<SessionId> = ids.iter().copied().collect();
            let found = live.sessions_where(&st.host, |s| named.contains(&s));
            if found.len() < named.len() {
                return st.host.plan_action(caller, req, sel);
            }
            found
        }
    };
    Ok(st.host.plan_action_over(caller, req, sel, &sessions))
}

/// The `verb` label of an action in the metrics.
fn verb_label(v: wms_core::api::ActionVerb) -> &'static str {
    use wms_core::api::ActionVerb;
    match v {
        ActionVerb::Close => "close",
        ActionVerb::Disconnect => "disconnect",
        ActionVerb::Lock => "lock",
        ActionVerb::Unlock => "unlock",
        ActionVerb::Message => "message",
    }
}

/// Records a refused request (coalesced with its repeats, see [`refusals`]) and answers
/// with `status` and the reason.
async fn refuse(st: &Arc<AppState>, peer: &Peer, record: Record, status: StatusCode) -> Response {
    let message = record.refused.clone().unwrap_or_default();
    refusals::record(st, admission::peer_key(peer), record).await;
    error(status, message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.insert(*k, HeaderValue::from_str(v).unwrap());
        }
        h
    }

    #[test]
    fn a_malformed_session_id_header_is_refused() {
        let here = "0123456789abcdef0123456789abcdef";
        let st = |h: &HeaderMap| {
            let state = AppState {
                machine_id: Some(here.into()),
                ..AppState::new(
                    Host::new(wms_host::Config::default()),
                    audit::Audit::open(
                        &std::env::temp_dir()
                            .join(format!("wmsd-unit-{}/audit.log", std::process::id())),
                    )
                    .unwrap(),
                    TokenStore::new(&std::env::temp_dir()),
                )
            };
            remote_own_session(&state, h).map_err(|r| (r.status, r.message))
        };
        // Well formed: the session counts only when the machine is this one.
        let ok = headers(&[(MACHINE_ID_HEADER, here), (SESSION_ID_HEADER, "42")]);
        assert_eq!(st(&ok).unwrap(), Some(SessionId(42)));
        let elsewhere = headers(&[
            (MACHINE_ID_HEADER, "ffffffffffffffffffffffffffffffff"),
            (SESSION_ID_HEADER, "42"),
        ]);
        assert_eq!(st(&elsewhere).unwrap(), None);
        assert_eq!(st(&headers(&[])).unwrap(), None);
        // Malformed, whichever machine is named.
        for machine in [here, "ffffffffffffffffffffffffffffffff"] {
            for bad in [
                "banana",
                "+42",
                " 42",
                "-1",
                "0",
                "4294967295",
                "99999999999",
                "",
            ] {
                let h = headers(&[(MACHINE_ID_HEADER, machine), (SESSION_ID_HEADER, bad)]);
                let (status, message) = st(&h).unwrap_err();
                assert_eq!(status, StatusCode::BAD_REQUEST, "{bad:?}");
                assert!(message.contains("X-Wms-Session-Id"), "{message}");
            }
        }
        let h = headers(&[(MACHINE_ID_HEADER, "not a machine; id")]);
        let (status, message) = st(&h).unwrap_err();
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(message.contains("X-Wms-Machine-Id"), "{message}");
    }

    #[test]
    fn the_session_header_pattern_is_the_range_the_agent_accepts() {
        let doc = openapi::document();
        let pattern = doc["paths"]["/v1/actions"]["post"]["parameters"][1]["schema"]["pattern"]
            .as_str()
            .unwrap()
            .to_string();
        // The pattern's alternatives, checked by hand: each a digit string of a set length
        // with the ranges spelled out. Compare it with the parser on the edges of every
        // alternative.
        let matches = |t: &str| simple_match(&pattern, t);
        for t in [
            "1",
            "9",
            "10",
            "999999999",
            "1000000000",
            "3999999999",
            "4000000000",
            "4199999999",
            "4200000000",
            "4289999999",
            "4290000000",
            "4293999999",
            "4294000000",
            "4294899999",
            "4294900000",
            "4294959999",
            "4294960000",
            "4294966999",
            "4294967000",
            "4294967199",
            "4294967200",
            "4294967289",
            "4294967290",
            "4294967294",
            "4294967295",
            "4294967299",
            "4294967300",
            "5000000000",
            "9999999999",
            "0",
            "01",
            "",
            "42949672940",
        ] {
            assert_eq!(
                matches(t),
                parse_session_header(t).is_some(),
                "{t:?}: the document and the agent disagree"
            );
        }
    }

    /// Matches `text` against a pattern of the form `^(alt|alt|...)$` where each
    /// alternative is a sequence of `[a-b]` classes or digits with `{n}` or `{m,n}`.
    fn simple_match(pattern: &str, text: &str) -> bool {
        let body = pattern.trim_start_matches("^(").trim_end_matches(")$");
        body.split('|').any(|alt| {
            let mut atoms: Vec<(Vec<char>, usize, usize)> = Vec::new();
            let chars: Vec<char> = alt.chars().collect();
            let mut i = 0;
            while i < chars.len() {
                let set: Vec<char> = if chars[i] == '[' {
                    let (a, b) = (chars[i + 1], chars[i + 3]);
                    i += 5;
                    (a..=b).collect()
                } else {
                    i += 1;
                    vec![chars[i - 1]]
                };
                let (mut lo, mut hi) = (1, 1);
                if i < chars.len() && chars[i] == '{' {
                    let end = i + chars[i..].iter().position(|c| *c == '}').unwrap();
                    let spec: String = chars[i + 1..end].iter().collect();
                    let (a, b) = spec.split_once(',').unwrap_or((&spec, &spec));
                    lo = a.parse().unwrap();
                    hi = b.parse().unwrap();
                    i = end + 1;
                }
                atoms.push((set, lo, hi));
            }
            fn go(atoms: &[(Vec<char>, usize, usize)], t: &[char]) -> bool {
                match atoms.split_first() {
                    None => t.is_empty(),
                    Some(((set, lo, hi), rest)) => (*lo..=*hi).any(|n| {
                        n <= t.len() && t[..n].iter().all(|c| set.contains(c)) && go(rest, &t[n..])
                    }),
                }
            }
            go(&atoms, &text.chars().collect::<Vec<_>>())
        })
    }

    #[test]
    fn the_openapi_document_allows_no_more_than_the_agent_accepts() {
        let doc = openapi::document();
        let variants = doc["components"]["schemas"]["ActionRequest"]["oneOf"]
            .as_array()
            .unwrap()
            .clone();
        assert_eq!(variants.len(), 6);
        for v in &variants {
            let props = &v["properties"];
            let lock = props["verb"]["enum"] == serde_json::json!(["lock", "message"]);
            // logind: true only with lock or unlock, without a message; false elsewhere.
            let logind = props["logind"]["enum"] == serde_json::json!([true]);
            assert_eq!(
                logind,
                props["verb"]["enum"] == serde_json::json!(["lock", "unlock"]),
                "{v}"
            );
            if logind {
                assert!(v["required"].as_array().unwrap().contains(&"logind".into()));
            } else {
                assert_eq!(props["logind"]["enum"], serde_json::json!([false]), "{v}");
            }
            // Only lock and message take a message, and they must: text of bounded length.
            assert_eq!(lock, props.get("message").is_some(), "{v}");
            if lock {
                assert_eq!(props["message"]["minLength"], 1);
                assert_eq!(
                    props["message"]["maxLength"],
                    wms_core::message::MAX_MESSAGE_CHARS
                );
                assert!(v["required"]
                    .as_array()
                    .unwrap()
                    .contains(&"message".into()));
            }
            // IDs or all, never both, and never neither.
            let required = v["required"].as_array().unwrap();
            let by_ids = required.contains(&"sessionIds".into());
            assert!(by_ids != required.contains(&"all".into()), "{v}");
            if by_ids {
                assert_eq!(props["sessionIds"]["minItems"], 1);
                assert_eq!(
                    props["sessionIds"]["maxItems"],
                    wms_core::api::MAX_SESSION_IDS
                );
            }
            assert_eq!(v["additionalProperties"], false);
        }
        let header = &doc["paths"]["/v1/actions"]["post"]["parameters"][1];
        assert_eq!(header["name"], "X-Wms-Session-Id");
        assert_eq!(header["schema"]["type"], "string");
        assert!(header["schema"]["pattern"].is_string());
        for path in [
            "/v1/sessions",
            "/v1/actions",
            "/v1/caller",
            "/v1/events",
            "/metrics",
        ] {
            assert!(doc["paths"][path].is_object(), "{path} is not described");
        }
    }

    /// The router alone, called with `oneshot` (no socket): the real-listener tests are in
    /// tests/ and crates/cli/tests.
    mod router {
        use super::super::*;
        use axum::extract::Request;
        use tower::ServiceExt;

        fn state() -> (Arc<AppState>, std::path::PathBuf) {
            let dir = std::env::temp_dir().join(format!(
                "wmsd-router-{}-{:?}",
                std::process::id(),
                std::thread::current().id()
            ));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let config = wms_host::Config {
                state_dir: dir.clone(),
                ..wms_host::Config::default()
            };
            let state = AppState::new(
                Host::new(config),
                Audit::open(&dir.join("audit.log")).unwrap(),
                TokenStore::new(&dir),
            );
            (Arc::new(state), dir)
        }

        fn request(method: &str, path: &str, peer: Peer, body: &str) -> Request {
            axum::http::Request::builder()
                .method(method)
                .uri(path)
                .header("content-type", "application/json")
                .extension(ConnectInfo(peer))
                .body(Body::from(body.to_string()))
                .unwrap()
        }

        fn tcp() -> Peer {
            Peer::Tcp {
                addr: "127.0.0.1:40000".parse().unwrap(),
            }
        }

        async fn body_text(r: Response) -> String {
            let b = axum::body::to_bytes(r.into_body(), 1 << 20).await.unwrap();
            String::from_utf8_lossy(&b).into_owned()
        }

        #[tokio::test(flavor = "current_thread")]
        async fn the_document_is_open_to_anyone() {
            let (st, dir) = state();
            let r = app(st)
                .oneshot(request("GET", "/openapi.json", tcp(), ""))
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::OK);
            assert!(body_text(r).await.contains("\"openapi\":\"3.0.3\""));
            let _ = std::fs::remove_dir_all(dir);
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_remote_caller_without_a_token_is_refused_and_audited() {
            let (st, dir) = state();
            let r = app(st.clone())
                .oneshot(request(
                    "POST",
                    "/v1/actions",
                    tcp(),
                    r#"{"verb":"close","all":true}"#,
                ))
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
            assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
            assert!(body_text(r).await.contains("no token"));
            let log = std::fs::read_to_string(dir.join("audit.log")).unwrap();
            assert!(
                log.contains("\"via\":\"tcp\"") && log.contains("no token"),
                "{log}"
            );
            // Listing, asking who one is, and metrics over TCP need a token too.
            for path in ["/v1/sessions", "/v1/caller", "/metrics"] {
                let r = app(st.clone())
                    .oneshot(request("GET", path, tcp(), ""))
                    .await
                    .unwrap();
                assert_eq!(r.status(), StatusCode::UNAUTHORIZED, "{path}");
            }
            let _ = std::fs::remove_dir_all(dir);
        }

        #[tokio::test(flavor = "current_thread")]
        async fn a_local_caller_the_kernel_could_not_vouch_for_is_refused() {
            let (st, dir) = state();
            let peer = Peer::Unix(Err("the process that connected is gone".into()));
            let r = app(st.clone())
                .oneshot(request(
                    "POST",
                    "/v1/actions",
                    peer.clone(),
                    r#"{"verb":"close","all":true}"#,
                ))
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            assert!(body_text(r).await.contains("could not be identified"));
            // Nor can it be told who it is.
            let r = app(st)
                .oneshot(request("GET", "/v1/caller", peer, ""))
                .await
                .unwrap();
            assert_eq!(r.status(), StatusCode::FORBIDDEN);
            assert!(body_text(r).await.contains("could not be identified"));
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}
