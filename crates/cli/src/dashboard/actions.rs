//! The page's actions: `POST /api/preview` (what-if: what would be done to each target,
//! and what would be skipped and why) and `POST /api/act` (done, after the page's
//! confirmation). Targets are grouped by server and each server's agent (or this host's
//! engine) decides by its own rules, as for `wms`; the servers are asked at once, and one
//! that fails fails only its own targets. Each target is answered with its outcome and
//! the sentence `wms` would print for it.

use super::App;
use crate::exec::report::past_tense;
use axum::extract::rejection::JsonRejection;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use wms_core::api::{ActionRequest, ActionVerb, MAX_SESSION_IDS};
use wms_core::{Outcome, Selection, SessionId, TargetResult};

/// The largest request body: a few thousand targets and a message.
pub const MAX_BODY: usize = 512 * 1024;

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ActionBody {
    action: ActionVerb,
    #[serde(default)]
    message: Option<String>,
    targets: Vec<TargetRef>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct TargetRef {
    server: String,
    session_id: SessionId,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Line {
    server: String,
    session_id: SessionId,
    #[serde(skip_serializing_if = "Option::is_none")]
    user_name: Option<String>,
    outcome: &'static str,
    text: String,
}

pub async fn preview(
    state: State<Arc<App>>,
    body: Result<Json<ActionBody>, JsonRejection>,
) -> Response {
    answer(state, body, true).await
}

pub async fn act(
    state: State<Arc<App>>,
    body: Result<Json<ActionBody>, JsonRejection>,
) -> Response {
    answer(state, body, false).await
}

fn bad(why: String) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(serde_json::json!({ "error": why })),
    )
        .into_response()
}

/// One server's share of the targets, as the request it is sent.
struct Share {
    index: usize,
    server: String,
    request: ActionRequest,
}

async fn answer(
    State(app): State<Arc<App>>,
    body: Result<Json<ActionBody>, JsonRejection>,
    what_if: bool,
) -> Response {
    let body = match body {
        Ok(Json(b)) => b,
        Err(e) => return bad(format!("the request is not an action: {}", e.body_text())),
    };
    let shares = match shares(&app, body, what_if) {
        Ok(s) => s,
        Err(why) => return bad(why),
    };
    let asked = shares.iter().map(|share| async {
        let ids = share.request.session_ids.clone().unwrap_or_default();
        match app.backend(share.index) {
            Err(why) => failed(&share.server, &ids, &why),
            Ok(b) => match b.action(&share.request).await {
                Ok(results) => {
                    if !what_if {
                        app.board.act(share.index);
                    }
                    results
                        .into_iter()
                        .map(|r| line(&share.server, share.request.verb, r))
                        .collect()
                }
                Err(e) => failed(&share.server, &ids, &e.to_string()),
            },
        }
    });
    let lines: Vec<Line> = futures_util::future::join_all(asked)
        .await
        .into_iter()
        .flatten()
        .collect();
    Json(serde_json::json!({ "results": lines })).into_response()
}

/// The targets by server, each share checked as the agents check a request.
fn shares(app: &App, body: ActionBody, what_if: bool) -> Result<Vec<Share>, String> {
    if body.targets.is_empty() {
        return Err("no session was chosen".into());
    }
    if body.targets.len() > MAX_SESSION_IDS {
        return Err(format!(
            "{} sessions chosen; at most {MAX_SESSION_IDS} may be acted on at once",
            body.targets.len()
        ));
    }
    let mut shares: Vec<Share> = Vec::new();
    for t in body.targets {
        let Some(index) = app.board.index(&t.server) else {
            return Err(format!("no server {:?} on this dashboard", t.server));
        };
        match shares.iter_mut().find(|s| s.index == index) {
            Some(share) => {
                let ids = share.request.session_ids.get_or_insert_with(Vec::new);
                if !ids.contains(&t.session_id) {
                    ids.push(t.session_id);
                }
            }
            None => shares.push(Share {
                index,
                server: t.server,
                request: ActionRequest::new(
                    body.action,
                    &Selection::Ids(vec![t.session_id]),
                    body.message.clone(),
                    what_if,
                ),
            }),
        }
    }
    for share in &shares {
        share.request.selection()?;
    }
    Ok(shares)
}

fn line(server: &str, verb: ActionVerb, r: TargetResult) -> Line {
    Line {
        server: server.to_string(),
        session_id: r.session_id,
        outcome: r.outcome.name(),
        text: r.message(past_tense(verb.verb())),
        user_name: r.user_name,
    }
}

fn failed(server: &str, ids: &[SessionId], why: &str) -> Vec<Line> {
    ids.iter()
        .map(|&id| Line {
            server: server.to_string(),
            session_id: id,
            user_name: None,
            outcome: Outcome::Failed(String::new()).name(),
            text: format!("Session {id} on {server}: {why}"),
        })
        .collect()
}
