//! `wms session watch`: the agents' session events as they happen, from one server or
//! many merged, one line each (or one JSON object each). A stream that breaks is opened
//! again after the last event seen, so nothing is lost or shown twice while the agent
//! keeps its events (across its restarts too); an agent that has dropped them says so and
//! the watch says so too.

use crate::agent_client::{AgentClient, ClientError, StreamEvent};
use crate::exec::exit;
use crate::plan::{Place, Plan};
use std::time::Duration;
use tokio::sync::mpsc;

/// How a watch prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchFormat {
    /// `TIME SERVER EVENT ID USER STATE`.
    Lines,
    /// One JSON object per event, with the server as `ComputerName`.
    Json,
}

/// What a server's watcher reports.
enum Note {
    Event(String, StreamEvent),
    Warning(String),
    /// The server cannot be watched at all; the message says why.
    Failed(String),
}

/// Watches every server of `plan` until interrupted (or every server failed, or the
/// reader closed standard output); returns the exit status.
pub fn run(plan: Plan, format: WatchFormat) -> u8 {
    let rt = match crate::agent_client::runtime() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("wms: {e}");
            return exit::TARGET_ERROR;
        }
    };
    rt.block_on(async move {
        let (tx, mut rx) = mpsc::channel::<Note>(256);
        let mut watching = 0;
        for t in &plan.targets {
            let server = t.server.clone();
            let client = match &t.place {
                Place::ThisHost => {
                    AgentClient::connect(&plan.host.config.socket).ok_or_else(|| {
                        format!(
                            "no agent answers on {}: watching needs wmsd running on {server}",
                            plan.host.config.socket.display()
                        )
                    })
                }
                Place::Remote(system) => AgentClient::remote(system).map_err(|e| e.to_string()),
                Place::Unresolved(why) => Err(why.clone()),
            };
            match client {
                Ok(c) => {
                    watching += 1;
                    tokio::spawn(follow(server, c, tx.clone()));
                }
                Err(e) => {
                    eprintln!("wms session watch: {server}: {e}");
                }
            }
        }
        drop(tx);
        let mut status = if watching < plan.targets.len() {
            exit::TARGET_ERROR
        } else {
            0
        };
        let interrupted = tokio::signal::ctrl_c();
        tokio::pin!(interrupted);
        loop {
            let note = tokio::select! {
                n = rx.recv() => n,
                _ = &mut interrupted => return status,
            };
            match note {
                None => return status,
                Some(Note::Warning(w)) => eprintln!("WARNING: {w}"),
                Some(Note::Failed(e)) => {
                    eprintln!("wms session watch: {e}");
                    status = exit::TARGET_ERROR;
                }
                Some(Note::Event(server, e)) => {
                    let line = render(format, &server, &e);
                    if crate::output::stdout_line(&line).is_err() {
                        // The reader went away (`| head`): a quiet end.
                        return status;
                    }
                }
            }
        }
    })
}

/// Follows one server's events, reconnecting after the last event seen.
async fn follow(server: String, client: AgentClient, tx: mpsc::Sender<Note>) {
    let mut last: Option<u64> = None;
    let mut backoff = Duration::from_millis(250);
    loop {
        match client.events(last).await {
            Ok(mut stream) => {
                backoff = Duration::from_millis(250);
                loop {
                    match stream.next().await {
                        Ok(Some(e)) => {
                            if let Some(id) = e.id {
                                last = Some(id);
                            }
                            match e.kind.as_str() {
                                "Ready" => {}
                                "Resync" => {
                                    let _ = tx
                                        .send(Note::Warning(format!(
                                            "{server}: the agent no longer has every event since the last one shown; list the sessions to see where they stand"
                                        )))
                                        .await;
                                }
                                _ => {
                                    if tx.send(Note::Event(server.clone(), e)).await.is_err() {
                                        return;
                                    }
                                }
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx
                                .send(Note::Warning(format!("{server}: {e}; reconnecting")))
                                .await;
                            break;
                        }
                    }
                }
            }
            // Refused outright (no token, no live table): reconnecting will not help.
            Err(e @ ClientError::Refused { .. }) => {
                let _ = tx.send(Note::Failed(format!("{server}: {e}"))).await;
                return;
            }
            Err(e) => {
                let _ = tx
                    .send(Note::Warning(format!(
                        "{server}: {e}; trying again in {} s",
                        backoff.as_secs_f64()
                    )))
                    .await;
            }
        }
        if tx.is_closed() {
            return;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(Duration::from_secs(10));
    }
}

/// One event as the watch prints it.
fn render(format: WatchFormat, server: &str, e: &StreamEvent) -> String {
    let d = &e.data;
    match format {
        WatchFormat::Json => {
            let mut obj = d.clone();
            if let Some(map) = obj.as_object_mut() {
                map.insert("ComputerName".into(), server.into());
            }
            obj.to_string()
        }
        WatchFormat::Lines => {
            let s = &d["Session"];
            let text = |v: &serde_json::Value| v.as_str().unwrap_or("-").to_string();
            let mut line = format!(
                "{} {} {} {} {} {}",
                text(&d["Time"]),
                server,
                e.kind,
                s["SessionId"],
                text(&s["UserName"]),
                text(&s["State"]),
            );
            if e.kind == "Locked" {
                if let Some(m) = s["LockMessage"].as_str() {
                    line.push_str(&format!(" {m:?}"));
                }
            }
            line
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn events_render_as_lines_and_json() {
        let e = StreamEvent {
            id: Some(4),
            kind: "Locked".into(),
            data: serde_json::json!({"EventId": 4, "Type": "Locked", "Time": "2026-12-01T10:00:00Z",
                "Session": {"SessionId": 3, "UserName": "alice", "State": "RemoteConnection", "LockMessage": "Eyes front"}}),
        };
        assert_eq!(
            render(WatchFormat::Lines, "lab1", &e),
            "2026-12-01T10:00:00Z lab1 Locked 3 alice RemoteConnection \"Eyes front\""
        );
        let j: serde_json::Value =
            serde_json::from_str(&render(WatchFormat::Json, "lab1", &e)).unwrap();
        assert_eq!(j["ComputerName"], "lab1");
        assert_eq!(j["Session"]["SessionId"], 3);
    }
}
