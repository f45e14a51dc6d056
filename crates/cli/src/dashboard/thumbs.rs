//! `GET /api/thumbnail?server=NAME&id=ID`: a desktop tile's picture, Small (160 pixels
//! wide), through the server's agent (or this host's engine).
//!
//! The rate is bounded here, whatever the pages ask: a session's screen is read at most
//! once every [`EVERY`] (a page asking sooner is given the last picture), and at most
//! [`AT_ONCE`] reads run on one server at a time.

use super::App;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use wms_core::{Outcome, SessionId, ThumbnailSize, Verb};

/// How often one session's screen may be read.
pub const EVERY: Duration = Duration::from_secs(5);
/// How many screens of one server may be read at once.
const AT_ONCE: usize = 2;
/// Pictures kept at most (a few hundred KiB each at most; Small ones are a few KiB).
const KEPT: usize = 4096;

type Answer = Result<Bytes, (StatusCode, String)>;

pub struct Thumbs {
    kept: Mutex<HashMap<(usize, SessionId), (Instant, Answer)>>,
    readers: Vec<Semaphore>,
}

#[derive(Deserialize)]
pub struct Want {
    server: String,
    id: u32,
}

impl Thumbs {
    pub fn new(servers: usize) -> Thumbs {
        Thumbs {
            kept: Mutex::new(HashMap::new()),
            readers: (0..servers).map(|_| Semaphore::new(AT_ONCE)).collect(),
        }
    }

    fn fresh(&self, key: (usize, SessionId)) -> Option<Answer> {
        let kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        kept.get(&key)
            .filter(|(at, _)| at.elapsed() < EVERY)
            .map(|(_, a)| a.clone())
    }

    fn keep(&self, key: (usize, SessionId), answer: Answer) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        if kept.len() >= KEPT {
            kept.retain(|_, (at, _)| at.elapsed() < EVERY);
        }
        if kept.len() < KEPT {
            kept.insert(key, (Instant::now(), answer));
        }
    }
}

pub async fn thumbnail(State(app): State<Arc<App>>, Query(want): Query<Want>) -> Response {
    let Some(index) = app.board.index(&want.server) else {
        return text(
            StatusCode::NOT_FOUND,
            format!("no server {:?} on this dashboard", want.server),
        );
    };
    let id = SessionId(want.id);
    if !app.board.allows(index, id, Verb::Thumbnail) {
        return text(
            StatusCode::FORBIDDEN,
            format!(
                "no picture of session {id} on {} may be shown (unknown, or not this caller's to see)",
                want.server
            ),
        );
    }
    let answer = match app.thumbs.fresh((index, id)) {
        Some(a) => a,
        None => {
            let _turn = app.thumbs.readers[index].acquire().await;
            match app.thumbs.fresh((index, id)) {
                Some(a) => a,
                None => {
                    let a = read(&app, index, id, &want.server).await;
                    app.thumbs.keep((index, id), a.clone());
                    a
                }
            }
        }
    };
    match answer {
        Ok(png) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static("image/png"))],
            png,
        )
            .into_response(),
        Err((status, why)) => text(status, why),
    }
}

async fn read(app: &App, index: usize, id: SessionId, server: &str) -> Answer {
    let backend = app
        .backend(index)
        .map_err(|e| (StatusCode::BAD_GATEWAY, e))?;
    let got = backend
        .thumbnails(&[id], ThumbnailSize::Small, server)
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, e.to_string()))?;
    match got.into_iter().next() {
        Some((_, Some(png))) => Ok(Bytes::from(png)),
        Some((r, None)) => Err(match r.outcome {
            Outcome::NotFound => (StatusCode::NOT_FOUND, format!("no session {id}")),
            Outcome::NotSupported(why) => (StatusCode::UNPROCESSABLE_ENTITY, why),
            Outcome::AccessDenied(why) => (StatusCode::FORBIDDEN, why),
            other => (StatusCode::BAD_GATEWAY, format!("{other:?}")),
        }),
        None => Err((StatusCode::BAD_GATEWAY, "no answer".into())),
    }
}

fn text(status: StatusCode, body: String) -> Response {
    (
        status,
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("text/plain; charset=utf-8"),
        )],
        body,
    )
        .into_response()
}
