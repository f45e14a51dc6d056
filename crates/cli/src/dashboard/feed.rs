//! One feed per server keeps its group of the [`Board`] current. An agent's feed lists
//! the sessions once and then follows the agent's event stream (`GET /v1/events`), opened
//! before the listing so that nothing falls between the two; a broken stream is opened
//! again after the last event seen, so nothing is missed. Idle times change without an
//! event, so they alone are read again every [`IDLE_EVERY`]. This host without an agent has
//! no event stream: its sessions are read here again every [`LOCAL_EVERY`].

use super::board::Board;
use crate::agent_client::{AgentClient, ClientError};
use crate::exec::backend::Backend;
use hyper::StatusCode;
use std::sync::Arc;
use std::time::Duration;
use wms_core::api::CallerInfo;
use wms_core::{Session, SessionId};

/// How often this host's sessions are read when no agent runs here.
pub const LOCAL_EVERY: Duration = Duration::from_secs(2);

/// How often an agent's idle times are read again: they change without an event.
const IDLE_EVERY: Duration = Duration::from_secs(60);

/// How long an event stream may say nothing before it is taken for dead. Agents send a
/// keep-alive at least every 15 s.
const SILENCE: Duration = Duration::from_secs(45);

/// Keeps server `index` of `board` current until the dashboard ends.
pub async fn follow(board: Arc<Board>, index: usize, backend: Result<Arc<Backend>, String>) {
    match backend {
        Err(why) => board.unreachable(index, why),
        Ok(b) => match &*b {
            Backend::Local { .. } => poll_here(&board, index, &b).await,
            Backend::Agent(client) => follow_agent(&board, index, client).await,
        },
    }
}

/// This host, in this process: read again and again, each change sent; at once after an
/// action from the page.
async fn poll_here(board: &Board, index: usize, backend: &Backend) {
    let caller = backend.caller().await.ok();
    let mut first = true;
    loop {
        match backend.sessions().await {
            Ok(sessions) if first => {
                board.replace(index, caller.clone(), sessions);
                first = false;
            }
            Ok(sessions) => {
                board.reachable(index, caller.clone());
                apply_listing(board, index, sessions);
            }
            Err(e) => board.unreachable(index, e.to_string()),
        }
        tokio::select! {
            _ = tokio::time::sleep(LOCAL_EVERY) => {}
            _ = board.acted(index) => {}
        }
    }
}

/// What a new listing changed, as tiles and goners.
fn apply_listing(board: &Board, index: usize, sessions: Vec<Session>) {
    let now: Vec<SessionId> = sessions.iter().map(|s| s.session_id).collect();
    for id in board.session_ids(index) {
        if !now.contains(&id) {
            board.remove(index, id);
        }
    }
    for s in sessions {
        board.upsert(index, s);
    }
}

/// An agent: its events, reconnecting after the last one seen, with a growing pause
/// while it cannot be reached.
async fn follow_agent(board: &Board, index: usize, client: &AgentClient) {
    let mut last: Option<u64> = None;
    let mut pause = Duration::from_millis(250);
    loop {
        match follow_once(board, index, client, &mut last).await {
            // The agent ended the stream (it is stopping): back at once.
            Ok(()) => pause = Duration::from_millis(250),
            Err(why) => {
                board.unreachable(index, why);
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
        tokio::time::sleep(pause).await;
    }
}

async fn follow_once(
    board: &Board,
    index: usize,
    client: &AgentClient,
    last: &mut Option<u64>,
) -> Result<(), String> {
    let caller = caller_of(client).await?;
    let mut stream = client.events(*last).await.map_err(|e| e.to_string())?;
    if last.is_none() {
        let sessions = client.sessions().await.map_err(|e| e.to_string())?;
        board.replace(index, caller.clone(), sessions);
    } else {
        board.reachable(index, caller.clone());
    }
    let mut idle_check =
        tokio::time::interval_at(tokio::time::Instant::now() + IDLE_EVERY, IDLE_EVERY);
    loop {
        let next = tokio::select! {
            next = tokio::time::timeout(SILENCE, stream.next()) => next,
            _ = idle_check.tick() => {
                let sessions = client.sessions().await.map_err(|e| e.to_string())?;
                board.refresh_idle(index, &sessions);
                continue;
            }
        };
        let event = match next {
            Err(_) => {
                return Err(format!(
                    "the agent's event stream said nothing for {} s",
                    SILENCE.as_secs()
                ))
            }
            Ok(Err(e)) => return Err(e.to_string()),
            Ok(Ok(None)) => return Ok(()),
            Ok(Ok(Some(e))) => e,
        };
        if let Some(id) = event.id {
            *last = Some(id);
        }
        match event.kind.as_str() {
            "Ready" => {}
            // Too far behind: list afresh.
            "Resync" => {
                let sessions = client.sessions().await.map_err(|e| e.to_string())?;
                board.replace(index, caller.clone(), sessions);
            }
            kind => {
                let Ok(session) = serde_json::from_value::<Session>(event.data["Session"].clone())
                else {
                    return Err(format!(
                        "the agent sent a {kind} event without a session object"
                    ));
                };
                if kind == "SessionRemoved" {
                    board.remove(index, session.session_id);
                } else {
                    board.upsert(index, session);
                }
            }
        }
    }
}

/// Who the agent takes the dashboard to be: unknown (nothing allowed) if it is an agent
/// from before `GET /v1/caller`.
async fn caller_of(client: &AgentClient) -> Result<Option<CallerInfo>, String> {
    match client.caller().await {
        Ok(c) => Ok(Some(c)),
        Err(ClientError::Refused { status, .. }) if status == StatusCode::NOT_FOUND => Ok(None),
        Err(e) => Err(e.to_string()),
    }
}
