//! `GET /v1/events` (Server-Sent Events of the live table), `GET /metrics`, and the
//! middleware that times every request and counts refusals for the metrics.

use crate::events::Resume;
use crate::metrics::{route_label, RefusalReason};
use crate::{error, identify, AppState, Peer};
use axum::body::{Body, Bytes};
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::broadcast::error::RecvError;
use wms_host::MetricsReaders;

/// How often a comment line goes to a quiet event stream (only while someone watches):
/// so that proxies and clients can tell a quiet stream from a dead one, and well within
/// the agent's own idle deadline, which closes connections on which nothing moves.
fn keep_alive(idle_timeout: f64) -> Duration {
    Duration::from_secs_f64((idle_timeout / 2.0).clamp(0.5, 15.0))
}

/// Times each request for the latency histogram, and counts refusals by reason.
pub async fn timed(State(st): State<Arc<AppState>>, req: Request, next: Next) -> Response {
    let route = route_label(req.uri().path());
    let start = Instant::now();
    let response = next.run(req).await;
    st.metrics.observe(route, start.elapsed());
    let status = response.status().as_u16();
    if matches!(status, 400 | 401 | 403 | 408 | 413 | 429 | 503) {
        st.metrics.refusal(RefusalReason::of_status(status));
    }
    response
}

/// `GET /metrics`.
pub async fn metrics(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    if matches!(peer, Peer::Tcp { .. }) && st.host.config.metrics_readers != MetricsReaders::Anyone
    {
        if let Err(refusal) = identify(&st, &peer, &headers) {
            return refusal.response();
        }
    }
    let st2 = st.clone();
    let sessions = tokio::task::spawn_blocking(move || st2.sessions()).await;
    let sessions = match sessions {
        Ok(Ok(s)) => s,
        _ => {
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "cannot read the sessions of this host",
            )
        }
    };
    let mut text = st.metrics.render(&sessions);
    if let Some(live) = &st.live {
        use std::fmt::Write as _;
        let _ = writeln!(
            text,
            "# HELP wms_table_scans_total Full scans of /proc that built the live session table (the first, and one after each loss of process events).\n# TYPE wms_table_scans_total counter\nwms_table_scans_total {}",
            live.table.scans()
        );
    }
    (
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
        )],
        text,
    )
        .into_response()
}

/// `GET /v1/events`: the session events from now on, or, with `Last-Event-ID`, from
/// after that event (a `Resync` event when they are no longer all known).
pub async fn events(
    State(st): State<Arc<AppState>>,
    ConnectInfo(peer): ConnectInfo<Peer>,
    headers: HeaderMap,
) -> Response {
    if matches!(peer, Peer::Tcp { .. }) {
        if let Err(refusal) = identify(&st, &peer, &headers) {
            return refusal.response();
        }
    }
    let Some(live) = st.live.clone() else {
        return error(
            StatusCode::SERVICE_UNAVAILABLE,
            "this agent has no live session table (it could not subscribe to the kernel's process events; see its log), so it has no events",
        );
    };
    let after = match headers.get("last-event-id") {
        None => None,
        Some(v) => match v.to_str().ok().and_then(|t| t.trim().parse::<u64>().ok()) {
            Some(n) => Some(n),
            None => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "malformed Last-Event-ID header: expected the number of an event",
                )
            }
        },
    };
    // Subscribed before the backlog is taken, so nothing falls between the two.
    let rx = live.hub.subscribe();
    let stopping = st.stopping.subscribe();
    let every = keep_alive(st.host.config.idle_timeout);
    let mut first = String::new();
    let mut last_sent = live.hub.last_id();
    match after {
        None => first.push_str(&marker("Ready", last_sent)),
        Some(n) => match live.hub.resume(n) {
            Resume::Events(missed) => {
                last_sent = n;
                for e in missed {
                    first.push_str(&e.sse());
                    last_sent = e.event_id;
                }
                // Caught up: what follows is live.
                first.push_str(&marker("Ready", last_sent));
            }
            Resume::Resync => first.push_str(&marker("Resync", last_sent)),
        },
    }
    let stream = futures_util::stream::unfold(
        (Some(first), rx, last_sent, stopping),
        move |(pending, mut rx, mut last_sent, mut stopping)| async move {
            if let Some(p) = pending {
                let next = (None, rx, last_sent, stopping);
                return Some((Ok::<_, std::io::Error>(Bytes::from(p)), next));
            }
            loop {
                let got = tokio::select! {
                    got = tokio::time::timeout(every, rx.recv()) => got,
                    // The agent is stopping: the stream ends now, and the client
                    // reconnects after the last event it saw.
                    _ = stopping.wait_for(|s| *s) => return None,
                };
                match got {
                    Err(_) => {
                        let next = (None, rx, last_sent, stopping);
                        return Some((Ok(Bytes::from_static(b":\n\n")), next));
                    }
                    Ok(Ok(e)) if e.event_id > last_sent => {
                        last_sent = e.event_id;
                        let next = (None, rx, last_sent, stopping);
                        return Some((Ok(Bytes::from(e.sse())), next));
                    }
                    Ok(Ok(_)) => continue,
                    // Too slow a reader: it reconnects with Last-Event-ID and is given
                    // what it missed, rather than the agent holding events for it.
                    Ok(Err(RecvError::Lagged(_))) | Ok(Err(RecvError::Closed)) => return None,
                }
            }
        },
    );
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static("text/event-stream"),
            ),
            (header::CACHE_CONTROL, HeaderValue::from_static("no-cache")),
        ],
        Body::from_stream(stream),
    )
        .into_response()
}

/// A message of the stream's own, at event `last`: `Ready` (live from here, after what a
/// resuming client missed, if anything), or `Resync` (the client is too far behind, or
/// named an event this agent never sent: it must list the sessions afresh, and follow the
/// events from `last` on).
fn marker(kind: &str, last: u64) -> String {
    format!("id: {last}\nevent: {kind}\ndata: {{\"Type\":\"{kind}\",\"EventId\":{last}}}\n\n")
}
