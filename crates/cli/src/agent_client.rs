//! Talking to a `wmsd`: on this host over its Unix socket (the agent knows us by our
//! peer credentials), or on another host over TLS with a token (the agent is known by
//! its pinned certificate or a CA). The requests are the ones the agent's OpenAPI
//! document describes, over HTTP/1.1 (hyper).

use crate::systems::{host_of, token_problem, System};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use rustls::ClientConfig;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::{AsyncRead, AsyncWrite};
use wms_core::api::{ActionRequest, ActionResponse, ErrorResponse};
use wms_core::Session;
use wms_trust::{self as tls, Pin};

/// How long to wait for a remote agent to accept a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

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
    rt: tokio::runtime::Runtime,
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the I/O runtime: {e}"))
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
            rt: runtime().ok()?,
        })
    }

    /// A client for the remote agent `system` (no connection is made yet).
    pub fn remote(system: &System) -> Result<AgentClient, String> {
        // Checked here, before any connection: such a token cannot go into a header, and
        // the user must learn which saved system holds it.
        if let Some(problem) = token_problem(&system.token) {
            return Err(format!(
                "the token saved for the system {} ({}) {problem}; nothing was sent. Add it again with `wms system add {} --token-file FILE`",
                system.name, system.address, system.name
            ));
        }
        let (config, pin) = match (&system.ca, &system.fingerprint) {
            (Some(ca), _) => (tls::ca_config(ca).map_err(|e| e.to_string())?, None),
            (None, Some(fp)) => {
                let pin = Pin::new(Some(fp.clone()));
                (tls::pinned_config(pin.clone()), Some(pin))
            }
            (None, None) => {
                return Err(format!(
                    "the system {} has neither a pinned fingerprint nor a CA: add it again with `wms system add`",
                    system.name
                ))
            }
        };
        Ok(AgentClient {
            transport: Transport::Tls {
                name: system.name.clone(),
                address: system.address.clone(),
                config,
                pin,
                token: system.token.clone(),
            },
            rt: runtime()?,
        })
    }

    /// The fingerprint of the certificate the agent at `address` presents. Nothing is
    /// sent over this connection.
    pub fn probe_fingerprint(address: &str) -> Result<String, String> {
        let pin = Pin::new(None);
        let config = tls::pinned_config(pin.clone());
        let rt = runtime()?;
        rt.block_on(async {
            let tcp = connect_tcp(address).await?;
            let name = tls::server_name(host_of(address)).map_err(|e| e.to_string())?;
            tokio_rustls::TlsConnector::from(config)
                .connect(name, tcp)
                .await
                .map_err(|e| format!("no TLS agent answers at {address}: {e}"))?;
            Ok::<_, String>(())
        })?;
        pin.seen()
            .ok_or_else(|| format!("the agent at {address} presented no certificate"))
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

    pub fn sessions(&self) -> Result<Vec<Session>, String> {
        let body = self.request(Method::GET, "/v1/sessions", None)?;
        serde_json::from_slice(&body)
            .map_err(|e| format!("{} answered with no session list: {e}", self.describe()))
    }

    pub fn action(&self, req: &ActionRequest) -> Result<ActionResponse, String> {
        let json = serde_json::to_vec(req).expect("requests serialise");
        let body = self.request(Method::POST, "/v1/actions", Some(json))?;
        serde_json::from_slice(&body)
            .map_err(|e| format!("{} answered with no result list: {e}", self.describe()))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, String> {
        let who = self.describe();
        let mut req = Request::builder()
            .method(method)
            .uri(path)
            .header("host", "localhost")
            .header("content-type", "application/json");
        self.rt.block_on(async {
            match &self.transport {
                Transport::Unix(socket) => {
                    let stream = tokio::net::UnixStream::connect(socket)
                        .await
                        .map_err(|e| format!("{who} cannot be reached: {e}"))?;
                    let req = req
                        .body(Full::new(Bytes::from(body.unwrap_or_default())))
                        .map_err(|e| format!("cannot make a request for {who}: {e}"))?;
                    exchange(stream, req, &who).await
                }
                Transport::Tls {
                    name,
                    address,
                    config,
                    pin,
                    token,
                } => {
                    let tcp = connect_tcp(address).await?;
                    let server = tls::server_name(host_of(address)).map_err(|e| e.to_string())?;
                    let stream = match tokio_rustls::TlsConnector::from(config.clone())
                        .connect(server, tcp)
                        .await
                    {
                        Ok(s) => s,
                        Err(e) => return Err(tls_failure(name, address, pin.as_deref(), &e)),
                    };
                    req = req.header("authorization", format!("Bearer {token}"));
                    // This machine's identity, so that a remote caller's own session is protected
                    // when the target is its own host.
                    if let Some(m) = tls::machine_id() {
                        req = req.header("x-wms-machine-id", m);
                    }
                    if let Some(s) = own_session() {
                        req = req.header("x-wms-session-id", s.to_string());
                    }
                    let req = req
                        .body(Full::new(Bytes::from(body.unwrap_or_default())))
                        .map_err(|e| {
                            format!("cannot make a request for {who}: {e}; check its saved token with `wms system add {name}`")
                        })?;
                    exchange(stream, req, &who).await
                }
            }
        })
    }
}

async fn connect_tcp(address: &str) -> Result<tokio::net::TcpStream, String> {
    match tokio::time::timeout(CONNECT_TIMEOUT, tokio::net::TcpStream::connect(address)).await {
        Ok(Ok(s)) => Ok(s),
        Ok(Err(e)) => Err(format!("cannot connect to {address}: {e}")),
        Err(_) => Err(format!(
            "cannot connect to {address}: no answer in {} s",
            CONNECT_TIMEOUT.as_secs()
        )),
    }
}

/// Why a TLS handshake failed; a changed certificate is said loudly, with both prints.
fn tls_failure(name: &str, address: &str, pin: Option<&Pin>, e: &std::io::Error) -> String {
    match pin.and_then(Pin::mismatch) {
        Some((pinned, seen)) => format!(
            "THE CERTIFICATE OF {name} ({address}) HAS CHANGED since it was pinned: pinned {pinned}, presented {seen}. Nothing was sent to it. This may be an attack; if the agent's certificate was replaced on purpose, run `wms system remove {name}` and `wms system add {name}` again."
        ),
        None => format!("TLS with {name} ({address}) failed: {e}"),
    }
}

/// One HTTP/1.1 request and its answer over `stream`.
async fn exchange<S>(stream: S, req: Request<Full<Bytes>>, who: &str) -> Result<Vec<u8>, String>
where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("{who} does not speak HTTP: {e}"))?;
    tokio::spawn(conn);
    let resp = sender
        .send_request(req)
        .await
        .map_err(|e| format!("{who} did not answer: {e}"))?;
    let status = resp.status();
    let bytes = resp
        .into_body()
        .collect()
        .await
        .map_err(|e| format!("{who} broke off its answer: {e}"))?
        .to_bytes();
    if status == StatusCode::OK {
        Ok(bytes.to_vec())
    } else {
        let why = serde_json::from_slice::<ErrorResponse>(&bytes)
            .map(|e| e.error)
            .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
        Err(format!("{who} refused the request ({status}): {why}"))
    }
}
