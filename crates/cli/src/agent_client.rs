//! Talking to a `wmsd`: on this host over its Unix socket (the agent knows us by our
//! peer credentials), or on another host over TLS with a token (the agent is known by
//! its pinned certificate or a CA). The requests are the ones the agent's OpenAPI
//! document describes, over HTTP/1.1 (hyper). The calls are async, so that a fleet of
//! agents is worked on by tasks of one runtime; [`block_on`] runs one call alone.

use crate::systems::{host_of, token_problem, System};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use wms_core::api::{ActionRequest, ActionResponse, ErrorResponse};
use wms_core::Session;
use wms_trust::{self as tls, Pin};

/// How long to wait for a remote agent to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// Why a call to an agent failed. Each message names the agent (or address) and says what
/// to do where there is something to do.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("cannot start the I/O runtime: {0}")]
    Runtime(std::io::Error),
    #[error("the token saved for the system {name} ({address}) {problem}; nothing was sent. Add it again with `wms system add {name} --token-file FILE`")]
    BadToken {
        name: String,
        address: String,
        problem: String,
    },
    #[error("the system {0} has neither a pinned fingerprint nor a CA: add it again with `wms system add`")]
    NoTrust(String),
    #[error(transparent)]
    Trust(#[from] wms_trust::TrustError),
    #[error("cannot connect to {address}: {reason}")]
    Connect { address: String, reason: String },
    #[error("no TLS agent answers at {address}: {reason}")]
    NoTlsAgent { address: String, reason: String },
    #[error("the agent at {0} presented no certificate")]
    NoCertificate(String),
    #[error("THE CERTIFICATE OF {name} ({address}) HAS CHANGED since it was pinned: pinned {pinned}, presented {seen}. Nothing was sent to it. This may be an attack; if the agent's certificate was replaced on purpose, run `wms system remove {name}` and `wms system add {name}` again.")]
    CertificateChanged {
        name: String,
        address: String,
        pinned: String,
        seen: String,
    },
    #[error("TLS with {name} ({address}) failed: {reason}")]
    Tls {
        name: String,
        address: String,
        reason: String,
    },
    #[error("{who} cannot be reached: {reason}")]
    Unreachable { who: String, reason: String },
    #[error("cannot make a request for {who}: {reason}")]
    BadRequest { who: String, reason: String },
    #[error("{who} does not speak HTTP: {reason}")]
    NotHttp { who: String, reason: String },
    #[error("{who} did not answer: {reason}")]
    NoAnswer { who: String, reason: String },
    #[error("{who} broke off its answer: {reason}")]
    BrokenAnswer { who: String, reason: String },
    #[error("{who} refused the request ({status}): {why}")]
    Refused {
        who: String,
        status: StatusCode,
        why: String,
    },
    #[error("{who} answered with no {what}: {reason}")]
    BadAnswer {
        who: String,
        what: &'static str,
        reason: String,
    },
}

enum Transport {
    Unix(PathBuf),
    Tls {
        name: String,
        address: String,
        config: Arc<ClientConfig>,
        /// The pin, to name both fingerprints when the certificate changed.
        pin: Option<Arc<Pin>>,
        token: String,
    },
}

pub struct AgentClient {
    transport: Transport,
}

/// A runtime for this thread's calls, when no other is running them.
pub fn runtime() -> Result<tokio::runtime::Runtime, ClientError> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(ClientError::Runtime)
}

/// Runs one call to completion on a runtime of its own.
pub fn block_on<T>(call: impl Future<Output = Result<T, ClientError>>) -> Result<T, ClientError> {
    runtime()?.block_on(call)
}

fn own_session() -> Option<u32> {
    std::fs::read_to_string("/proc/self/sessionid")
        .ok()?
        .trim()
        .parse()
        .ok()
        .filter(|id| *id != u32::MAX)
}

impl AgentClient {
    /// A client for the agent on `socket`, if one answers there.
    pub fn connect(socket: &Path) -> Option<AgentClient> {
        std::os::unix::net::UnixStream::connect(socket).ok()?;
        Some(AgentClient {
            transport: Transport::Unix(socket.to_owned()),
        })
    }

    /// A client for the remote agent `system` (no connection is made yet).
    pub fn remote(system: &System) -> Result<AgentClient, ClientError> {
        // Checked here, before any connection: such a token cannot go into a header, and
        // the user must learn which saved system holds it.
        if let Some(problem) = token_problem(&system.token) {
            return Err(ClientError::BadToken {
                name: system.name.clone(),
                address: system.address.clone(),
                problem,
            });
        }
        let (config, pin) = match (&system.ca, &system.fingerprint) {
            (Some(ca), _) => (tls::ca_config(ca)?, None),
            (None, Some(fp)) => {
                let pin = Pin::new(Some(fp.clone()));
                (tls::pinned_config(pin.clone()), Some(pin))
            }
            (None, None) => return Err(ClientError::NoTrust(system.name.clone())),
        };
        Ok(AgentClient {
            transport: Transport::Tls {
                name: system.name.clone(),
                address: system.address.clone(),
                config,
                pin,
                token: system.token.clone(),
            },
        })
    }

    /// The fingerprint of the certificate the agent at `address` presents. Nothing is
    /// sent over this connection.
    pub async fn probe_fingerprint(address: &str) -> Result<String, ClientError> {
        let pin = Pin::new(None);
        let config = tls::pinned_config(pin.clone());
        let tcp = connect_tcp(address).await?;
        let name = tls::server_name(host_of(address))?;
        tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await
            .map_err(|e| ClientError::NoTlsAgent {
                address: address.to_string(),
                reason: e.to_string(),
            })?;
        pin.seen()
            .ok_or_else(|| ClientError::NoCertificate(address.to_string()))
    }

    /// Whether this is another host's agent.
    pub fn is_remote(&self) -> bool {
        matches!(self.transport, Transport::Tls { .. })
    }

    /// Where this client goes, for messages.
    pub fn describe(&self) -> String {
        match &self.transport {
            Transport::Unix(p) => format!("the agent on {}", p.display()),
            Transport::Tls { name, address, .. } => format!("the agent of {name} ({address})"),
        }
    }

    pub async fn sessions(&self) -> Result<Vec<Session>, ClientError> {
        let body = self.request(Method::GET, "/v1/sessions", None).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::BadAnswer {
            who: self.describe(),
            what: "session list",
            reason: e.to_string(),
        })
    }

    pub async fn action(&self, req: &ActionRequest) -> Result<ActionResponse, ClientError> {
        let json = serde_json::to_vec(req).expect("requests serialise");
        let body = self
            .request(Method::POST, "/v1/actions", Some(json))
            .await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::BadAnswer {
            who: self.describe(),
            what: "result list",
            reason: e.to_string(),
        })
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, ClientError> {
        let who = self.describe();
        let bad_request = |e: hyper::http::Error| ClientError::BadRequest {
            who: who.clone(),
            reason: e.to_string(),
        };
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json");
        let body = Full::new(Bytes::from(body.unwrap_or_default()));
        match &self.transport {
            Transport::Unix(socket) => {
                let stream = tokio::net::UnixStream::connect(socket).await.map_err(|e| {
                    ClientError::Unreachable {
                        who: who.clone(),
                        reason: e.to_string(),
                    }
                })?;
                exchange(stream, req.body(body).map_err(bad_request)?, &who).await
            }
            Transport::Tls {
                name,
                address,
                config,
                pin,
                token,
            } => {
                let tcp = connect_tcp(address).await?;
                let server = tls::server_name(host_of(address))?;
                let stream = match tokio_rustls::TlsConnector::from(config.clone())
                    .connect(server, tcp)
                    .await
                {
                    Ok(s) => s,
                    Err(e) => return Err(tls_failure(name, address, pin.as_deref(), &e)),
                };
                req = req.header("authorization", format!("Bearer {token}"));
                // This machine's identity, so that a remote caller's own session is
                // protected when the target is its own host.
                if let Some(m) = tls::machine_id() {
                    req = req.header("x-wms-machine-id", m);
                }
                if let Some(s) = own_session() {
                    req = req.header("x-wms-session-id", s.to_string());
                }
                exchange(stream, req.body(body).map_err(bad_request)?, &who).await
            }
        }
    }
}

async fn connect_tcp(address: &str) -> Result<tokio::net::TcpStream, ClientError> {
    let fail = |reason: String| ClientError::Connect {
        address: address.to_string(),
        reason,
    };
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(fail(e.to_string())),
        Err(_) => Err(fail(format!(
            "no answer in {} s",
            CONNECT_TIMEOUT.as_secs()
        ))),
    }
}

/// Why a TLS handshake failed; a changed certificate is said loudly, with both prints.
fn tls_failure(name: &str, address: &str, pin: Option<&Pin>, e: &std::io::Error) -> ClientError {
    match pin.and_then(Pin::mismatch) {
        Some((pinned, seen)) => ClientError::CertificateChanged {
            name: name.to_string(),
            address: address.to_string(),
            pinned,
            seen,
        },
        None => ClientError::Tls {
            name: name.to_string(),
            address: address.to_string(),
            reason: e.to_string(),
        },
    }
}

/// One HTTP/1.1 request and its answer over `stream`.
async fn exchange<S>(
    stream: S,
    req: Request<Full<Bytes>>,
    who: &str,
) -> Result<Vec<u8>, ClientError>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let who = || who.to_string();
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| ClientError::NotHttp {
            who: who(),
            reason: e.to_string(),
        })?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| ClientError::NoAnswer {
            who: who(),
            reason: e.to_string(),
        })?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| ClientError::BrokenAnswer {
            who: who(),
            reason: e.to_string(),
        })?
        .to_bytes();
    if status == StatusCode::OK {
        Ok(bytes.to_vec())
    } else {
        let why = serde_json::from_slice::<ErrorResponse>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        Err(ClientError::Refused {
            who: who(),
            status,
            why,
        })
    }
}
