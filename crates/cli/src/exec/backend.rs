//! Where one server's work is done: the engine in this process (with the caller's own
//! identity), this host's agent over its Unix socket, or another host's agent over TLS.

use crate::agent_client::{AgentClient, ClientError};
use crate::plan::Place;
use std::sync::Arc;
use wms_core::api::ActionRequest;
use wms_core::{Caller, Session, TargetResult};
use wms_host::Host;

/// Why a server's work failed as a whole.
#[derive(Debug, thiserror::Error)]
pub(super) enum BackendError {
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

pub(super) enum Backend {
    Local { host: Arc<Host>, caller: Caller },
    Agent(AgentClient),
}

impl Backend {
    /// The backend for `place`. This host: its agent when one answers (it has the
    /// privileges and keeps the audit log), else the engine here with the caller's own
    /// identity. Another host: its agent, over TLS.
    pub fn for_place(host: &Arc<Host>, place: &Place) -> Result<Backend, BackendError> {
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

    pub fn is_remote(&self) -> bool {
        matches!(self, Backend::Agent(a) if a.is_remote())
    }

    /// The sessions there. The engine runs on the runtime's blocking threads, so that the
    /// other servers' tasks go on meanwhile.
    pub async fn sessions(&self) -> Result<Vec<Session>, BackendError> {
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

    pub async fn action(&self, r: &ActionRequest) -> Result<Vec<TargetResult>, BackendError> {
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

/// Sessions listed through another host's agent carry the server name they came through.
pub(super) fn labelled(
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
