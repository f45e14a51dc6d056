//! `wms dashboard`: MultiPoint Dashboard on Linux. On the administrator's machine it
//! serves one page on 127.0.0.1 showing every session of the chosen servers as a tile,
//! kept current from the agents' event streams ([`feed`], [`board`]), with actions on one
//! tile or many, each previewed (what-if) and confirmed ([`actions`]).
//!
//! The page never holds a token: the dashboard talks to each agent with the saved systems
//! (pinned certificates, tokens), as `wms` does, and to this host's sessions without any
//! agent. Only the browser that opens the printed link is let in: the link's secret is
//! spent on first use, in exchange for a cookie (HttpOnly, SameSite=Strict) that every
//! other request must carry ([`gate`]). The page's files are built into the binary.

mod actions;
mod board;
mod feed;
mod gate;
mod thumbs;

use crate::exec::backend::Backend;
use crate::exec::exit;
use crate::plan::Plan;
use axum::extract::State;
use axum::http::{header, HeaderValue};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use board::{Board, Message};
use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast::error::RecvError;

/// What the handlers share.
struct App {
    board: Arc<Board>,
    /// Each server's backend, in the board's order (or why there is none).
    backends: Vec<Result<Arc<Backend>, String>>,
    gate: gate::Gate,
    thumbs: thumbs::Thumbs,
}

impl App {
    fn backend(&self, index: usize) -> Result<&Arc<Backend>, String> {
        self.backends[index].as_ref().map_err(Clone::clone)
    }
}

/// Serves the dashboard for the servers of `plan` on 127.0.0.1:`port` (0: a free one)
/// until interrupted; returns the exit status.
pub fn run(plan: Plan, port: u16) -> u8 {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wms dashboard: cannot start: {e}");
            return exit::TARGET_ERROR;
        }
    };
    rt.block_on(serve(plan, port))
}

async fn serve(plan: Plan, port: u16) -> u8 {
    let names: Vec<String> = plan.targets.iter().map(|t| t.server.clone()).collect();
    let board = Board::new(&names);
    let backends: Vec<Result<Arc<Backend>, String>> = plan
        .targets
        .iter()
        .map(|t| {
            Backend::for_place(&plan.host, &t.place)
                .map(Arc::new)
                .map_err(|e| e.to_string())
        })
        .collect();
    let listener = match tokio::net::TcpListener::bind(("127.0.0.1", port)).await {
        Ok(l) => l,
        Err(e) => {
            eprintln!("wms dashboard: cannot listen on 127.0.0.1:{port}: {e}");
            return exit::TARGET_ERROR;
        }
    };
    let port = match listener.local_addr() {
        Ok(a) => a.port(),
        Err(e) => {
            eprintln!("wms dashboard: {e}");
            return exit::TARGET_ERROR;
        }
    };
    let gate = match gate::Gate::new(port) {
        Ok(g) => g,
        Err(e) => {
            eprintln!("wms dashboard: cannot make the link's secret: {e}");
            return exit::TARGET_ERROR;
        }
    };
    let link = gate.link();
    let app = Arc::new(App {
        board: board.clone(),
        thumbs: thumbs::Thumbs::new(backends.len()),
        backends,
        gate,
    });
    for (index, backend) in app.backends.iter().enumerate() {
        tokio::spawn(feed::follow(board.clone(), index, backend.clone()));
    }
    let router = Router::new()
        .route("/", get(page))
        .route("/app.js", get(script))
        .route("/app.css", get(style))
        .route(
            "/favicon.ico",
            get(|| async { axum::http::StatusCode::NO_CONTENT }),
        )
        .route("/api/events", get(events))
        .route("/api/thumbnail", get(thumbs::thumbnail))
        .route("/api/preview", post(actions::preview))
        .route("/api/act", post(actions::act))
        .layer(axum::extract::DefaultBodyLimit::max(actions::MAX_BODY))
        .layer(axum::middleware::from_fn_with_state(
            app.clone(),
            gate::guard,
        ))
        .with_state(app.clone());
    // The link on standard output alone, for scripts; the rest on standard error.
    let mut out = std::io::stdout().lock();
    if writeln!(out, "{link}").and_then(|()| out.flush()).is_err() {
        eprintln!("wms dashboard: cannot print the link");
        return exit::TARGET_ERROR;
    }
    drop(out);
    eprintln!(
        "wms dashboard: {} server{} on http://127.0.0.1:{port}/. Open the link above in a browser \
on this machine; it lets in one browser, once. Ctrl+C ends the dashboard.",
        names.len(),
        if names.len() == 1 { "" } else { "s" }
    );
    // Ended by SIGINT (Ctrl+C) or SIGTERM.
    let stop = async {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            },
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    };
    match axum::serve(listener, router)
        .with_graceful_shutdown(stop)
        .await
    {
        Ok(()) => exit::OK,
        Err(e) => {
            eprintln!("wms dashboard: {e}");
            exit::TARGET_ERROR
        }
    }
}

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const APP_CSS: &str = include_str!("assets/app.css");

fn asset(content_type: &'static str, body: &'static str) -> Response {
    (
        [(header::CONTENT_TYPE, HeaderValue::from_static(content_type))],
        body,
    )
        .into_response()
}

async fn page() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

async fn script() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

async fn style() -> Response {
    asset("text/css; charset=utf-8", APP_CSS)
}

/// `GET /api/events`: a snapshot of every server, then each change as it happens. A page
/// that falls too far behind is sent a new snapshot rather than held for.
async fn events(State(app): State<Arc<App>>) -> Response {
    let (first, rx) = app.board.subscribe();
    let board = app.board.clone();
    let stream = futures_util::stream::unfold(
        (Some(first), rx, board),
        |(pending, mut rx, board)| async move {
            if let Some(m) = pending {
                return Some((Ok::<_, Infallible>(to_event(m)), (None, rx, board)));
            }
            match rx.recv().await {
                Ok(m) => Some((Ok(to_event(m)), (None, rx, board))),
                Err(RecvError::Lagged(_)) => {
                    let (snap, rx) = board.subscribe();
                    Some((Ok(to_event(snap)), (None, rx, board)))
                }
                Err(RecvError::Closed) => None,
            }
        },
    );
    Sse::new(stream)
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
        .into_response()
}

fn to_event(m: Message) -> Event {
    Event::default().event(m.event).data(&*m.data)
}
