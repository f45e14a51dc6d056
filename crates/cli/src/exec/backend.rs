//! Where one server's work is done: the engine in this process (with the caller's own
//! identity), this host's agent over its Unix socket, or another host's agent over TLS.
//! The command line's executor and the dashboard both work through it.

use crate::agent_client::{AgentClient, ClientError};
use crate::plan::Place;
use std::sync::Arc;
use wms_core::api::{ActionRequest, CallerInfo};
use wms_core::{Caller, Session, TargetResult};
use wms_host::Host;

/// Why a server's work failed as a whole.
#[derive(Debug, thiserror::Error)]
pub(crate) enum BackendError {
    #[error(transparent)]
    Agent(#[from] ClientError),
    #[error("Cannot read the sessions of {fqdn}: {error}")]
    Sessions { fqdn: String, error: std::io::Error },
    #[error("{0}")]
    Request(String),
    #[error("the engine stopped unexpectedly: {0}")]
    Engine(#[from] tokio::task::JoinError),
    #[error("{0}")]
    Unresolved(String),
}

pub(crate) enum Backend {
    Local { host: Arc<Host>, caller: Caller },
    Agent(AgentClient),
}

impl Backend {
    /// The backend for `place`. This host: its agent when one answers (it has the
    /// privileges and keeps the audit log), else the engine here with the caller's own
    /// identity. Another host: its agent, over TLS.
    pub(crate) fn for_place(host: &Arc<Host>, place: &Place) -> Result<Backend, BackendError> {
        match place {
            Place::ThisHost => Ok(match AgentClient::connect(&host.config.socket) {
                Some(a) => {
                    tracing::debug!(agent = %a.describe(), "using the agent");
                    Backend::Agent(a)
                }
                None => Backend::Local {
                    host: host.clone(),
                    caller: host.caller(),
                },
            }),
            Place::Remote(system) => Ok(Backend::Agent(AgentClient::remote(system)?)),
            Place::Unresolved(why) => Err(BackendError::Unresolved(why.clone())),
        }
    }

    pub(crate) fn is_remote(&self) -> bool {
        matches!(self, Backend::Agent(a) if a.is_remote())
    }

    /// The sessions there. The engine runs on the runtime's blocking threads, so that the
    /// other servers' tasks go on meanwhile.
    pub(crate) async fn sessions(&self) -> Result<Vec<Session>, BackendError> {
        match self {
            Backend::Local { host, .. } => {
                let host = host.clone();
                tokio::task::spawn_blocking(move || {
                    host.sessions().map_err(|error| BackendError::Sessions {
                        fqdn: host.names.fqdn.clone(),
                        error,
                    })
                })
                .await?
            }
            Backend::Agent(a) => Ok(a.sessions().await?),
        }
    }

    /// Who the server takes the caller to be, for the rules (SPEC 5) to be shown before
    /// anything is asked: in this process, the caller itself; through an agent, its
    /// answer (`GET /v1/caller`).
    pub(crate) async fn caller(&self) -> Result<CallerInfo, BackendError> {
        match self {
            Backend::Local { caller, .. } => Ok(CallerInfo::of_user(caller)),
            Backend::Agent(a) => Ok(a.caller().await?),
        }
    }

    pub(crate) async fn action(
        &self,
        r: &ActionRequest,
    ) -> Result<Vec<TargetResult>, BackendError> {
        match self {
            Backend::Local { host, caller } => {
                let sel = r.selection().map_err(BackendError::Request)?;
                let (host, caller, r) = (host.clone(), caller.clone(), r.clone());
                tokio::task::spawn_blocking(move || {
                    host.run_action(&caller, &r, &sel)
                        .map_err(|error| BackendError::Sessions {
                            fqdn: host.names.fqdn.clone(),
                            error,
                        })
                })
                .await?
            }
            Backend::Agent(a) => Ok(a.action(r).await?.results),
        }
    }
}

impl Backend {
    /// A `size` thumbnail of each session of `ids` (PNG bytes), or the outcome instead.
    /// In this process, what is about to be looked at is recorded first (see
    /// [`wms_host::desktop::record_intent_in_process`]); the agent records it itself.
    pub(crate) async fn thumbnails(
        &self,
        ids: &[wms_core::SessionId],
        size: wms_core::ThumbnailSize,
        server: &str,
    ) -> Result<Vec<(TargetResult, Option<Vec<u8>>)>, BackendError> {
        match self {
            Backend::Local { host, caller } => {
                let (host, caller) = (host.clone(), caller.clone());
                let sel = wms_core::Selection::Ids(ids.to_vec());
                tokio::task::spawn_blocking(move || {
                    let state_dir = host.config.state_dir.clone();
                    let mut intent = |viewed: &[wms_host::desktop::Viewed]| {
                        wms_host::desktop::record_intent_in_process(
                            &state_dir, &caller, size, viewed,
                        )
                    };
                    host.thumbnails(&caller, &sel, size, &mut intent)
                        .map(|all| {
                            all.into_iter()
                                .map(|r| (r.result, r.thumbnail.map(|t| t.png)))
                                .collect()
                        })
                        .map_err(|error| BackendError::Sessions {
                            fqdn: host.names.fqdn.clone(),
                            error,
                        })
                })
                .await?
            }
            Backend::Agent(a) => {
                let mut out = Vec::with_capacity(ids.len());
                for &id in wms_core::unique_ids(ids).iter() {
                    let got = a.thumbnail(id, size).await?;
                    let (outcome, png) = match got {
                        Ok(png) => (wms_core::Outcome::Done, Some(png.to_vec())),
                        Err(o) => (o, None),
                    };
                    out.push((
                        TargetResult {
                            computer_name: server.to_string(),
                            session_id: id,
                            user_name: None,
                            class: None,
                            outcome,
                        },
                        png,
                    ));
                }
                Ok(out)
            }
        }
    }
}

/// Sessions listed through another host's agent carry the server name they came through.
pub(crate) fn labelled(
    mut sessions: Vec<Session>,
    backend: &Backend,
    server: &str,
) -> Vec<Session> {
    if backend.is_remote() {
        for s in &mut sessions {
            s.server = Some(server.to_string());
        }
    }
    sessions
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn in_process_the_caller_is_this_process_as_the_kernel_knows_it() {
        // A socket nobody listens on: no agent answers, so the engine is in this process.
        let config = wms_host::Config {
            socket: std::env::temp_dir().join(format!("wms-no-agent-{}.sock", std::process::id())),
            ..wms_host::Config::default()
        };
        let host = Arc::new(Host::new(config));
        let backend = Backend::for_place(&host, &Place::ThisHost).unwrap();
        assert!(matches!(backend, Backend::Local { .. }));
        let info = crate::agent_client::runtime()
            .unwrap()
            .block_on(backend.caller())
            .unwrap();
        assert_eq!(
            info.uid,
            Some(wms_core::Uid(rustix::process::getuid().as_raw()))
        );
        let own = std::fs::read_to_string("/proc/self/sessionid").unwrap();
        let own: u32 = own.trim().parse().unwrap();
        assert_eq!(info.own_session, wms_core::SessionId::from_kernel(own));
        // The tests run as root, an administrator by definition.
        if info.uid == Some(wms_core::Uid::ROOT) {
            assert_eq!(info.role, wms_core::Role::Administrator);
        }
    }
}
