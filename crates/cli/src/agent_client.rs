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
use wms_core::api::{ActionRequest, ActionResponse, CallerInfo, ErrorResponse};
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
    /// The connection [`AgentClient::connect`] made to see that an agent answers, kept
    /// for the first request (one connection, not two, for a one-shot command).
    first: std::sync::Mutex<Option<std::os::unix::net::UnixStream>>,
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
        let stream = std::os::unix::net::UnixStream::connect(socket).ok()?;
        Some(AgentClient {
            transport: Transport::Unix(socket.to_owned()),
            first: std::sync::Mutex::new(Some(stream)),
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
            first: std::sync::Mutex::new(None),
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

    /// Who the agent takes this client's caller to be (`GET /v1/caller`): for a token, its
    /// role and no user; on the Unix socket, the user the kernel vouched for.
    pub async fn caller(&self) -> Result<CallerInfo, ClientError> {
        let body = self.request(Method::GET, "/v1/caller", None).await?;
        serde_json::from_slice(&body).map_err(|e| ClientError::BadAnswer {
            who: self.describe(),
            what: "description of the caller",
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

    /// A thumbnail of session `id` (`GET /v1/sessions/{id}/thumbnail?size=`): the PNG, or
    /// the outcome the agent answered with instead (404 NotFound, 403 AccessDenied, 422
    /// NotSupported, 500 Failed, each with its reason).
    pub async fn thumbnail(
        &self,
        id: wms_core::SessionId,
        size: wms_core::ThumbnailSize,
    ) -> Result<Result<Bytes, wms_core::Outcome>, ClientError> {
        use wms_core::Outcome;
        let who = self.describe();
        let path = format!("/v1/sessions/{id}/thumbnail?size={}", size.name());
        let (status, bytes) = self.exchange(Method::GET, &path, None).await?;
        let why = || {
            serde_json::from_slice::<ErrorResponse>(&bytes)
                .map(|e| e.error)
                .unwrap_or_default()
        };
        Ok(match status {
            StatusCode::OK => Ok(bytes),
            StatusCode::NOT_FOUND => Err(Outcome::NotFound),
            StatusCode::FORBIDDEN => Err(Outcome::AccessDenied(why())),
            StatusCode::UNPROCESSABLE_ENTITY => Err(Outcome::NotSupported(why())),
            StatusCode::INTERNAL_SERVER_ERROR => Err(Outcome::Failed(why())),
            _ => return Err(refused(&who, status, &bytes)),
        })
    }

    async fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Bytes, ClientError> {
        let (status, bytes) = self.exchange(method, path, body).await?;
        if status == StatusCode::OK {
            Ok(bytes)
        } else {
            Err(refused(&self.describe(), status, &bytes))
        }
    }

    /// The session events from now on, or after event `last` (`GET /v1/events`).
    pub async fn events(&self, last: Option<u64>) -> Result<EventStream, ClientError> {
        let who = self.describe();
        let resume = last.map(|n| n.to_string());
        let headers: Vec<(&str, &str)> = resume
            .as_deref()
            .map(|n| vec![("last-event-id", n)])
            .unwrap_or_default();
        let resp = self.send(Method::GET, "/v1/events", None, &headers).await?;
        let status = resp.status();
        if status != StatusCode::OK {
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map(|b| b.to_bytes())
                .unwrap_or_default();
            return Err(refused(&who, status, &bytes));
        }
        Ok(EventStream {
            who,
            body: resp.into_body(),
            buf: Vec::new(),
        })
    }

    /// Sends one request and reads the whole answer: its status and body.
    async fn exchange(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<(StatusCode, Bytes), ClientError> {
        let resp = self.send(method, path, body, &[]).await?;
        let status = resp.status();
        let bytes = resp
            .into_body()
            .collect()
            .await
            .map_err(|e| ClientError::BrokenAnswer {
                who: self.describe(),
                reason: e.to_string(),
            })?
            .to_bytes();
        Ok((status, bytes))
    }

    /// Sends one request and returns the answer's head, its body still to be read.
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
        headers: &[(&str, &str)],
    ) -> Result<hyper::Response<hyper::body::Incoming>, ClientError> {
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
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let body = Full::new(Bytes::from(body.unwrap_or_default()));
        match &self.transport {
            Transport::Unix(socket) => {
                let unreachable = |e: std::io::Error| ClientError::Unreachable {
                    who: who.clone(),
                    reason: e.to_string(),
                };
                let first = self.first.lock().unwrap_or_else(|p| p.into_inner()).take();
                let stream = match first {
                    Some(s) => s
                        .set_nonblocking(true)
                        .and_then(|()| tokio::net::UnixStream::from_std(s))
                        .map_err(unreachable)?,
                    None => tokio::net::UnixStream::connect(socket)
                        .await
                        .map_err(unreachable)?,
                };
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

/// One message of an event stream.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    /// The event's ID (`id:`), which a reconnect resumes after.
    pub id: Option<u64>,
    /// `SessionNew`, `SessionRemoved`, `StateChanged`, `Locked`, `Unlocked`, or the
    /// stream's own `Ready` and `Resync`.
    pub kind: String,
    /// The event object (`data:`).
    pub data: serde_json::Value,
}

/// An open `GET /v1/events` stream.
pub struct EventStream {
    who: String,
    body: hyper::body::Incoming,
    buf: Vec<u8>,
}

impl EventStream {
    /// The next event; `Ok(None)` when the agent ended the stream.
    pub async fn next(&mut self) -> Result<Option<StreamEvent>, ClientError> {
        loop {
            if let Some(end) = find(&self.buf, b"\n\n") {
                let message: Vec<u8> = self.buf.drain(..end + 2).collect();
                if let Some(e) = parse_event(&message) {
                    return Ok(Some(e));
                }
                continue;
            }
            // An event is small; a peer that sends a megabyte without one is not an agent.
            if self.buf.len() > 1 << 20 {
                return Err(ClientError::BadAnswer {
                    who: self.who.clone(),
                    what: "event stream",
                    reason: "a message over 1 MiB".into(),
                });
            }
            match self.body.frame().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    return Err(ClientError::BrokenAnswer {
                        who: self.who.clone(),
                        reason: e.to_string(),
                    })
                }
                Some(Ok(frame)) => {
                    if let Some(data) = frame.data_ref() {
                        self.buf.extend_from_slice(data);
                    }
                }
            }
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// One Server-Sent Events message; `None` for a comment (keep-alive) or a message
/// without data.
pub fn parse_event(message: &[u8]) -> Option<StreamEvent> {
    let text = std::str::from_utf8(message).ok()?;
    let (mut id, mut kind, mut data) = (None, String::from("message"), String::new());
    for line in text.lines() {
        let (field, value) = line.split_once(':').unwrap_or((line, ""));
        let value = value.strip_prefix(' ').unwrap_or(value);
        match field {
            "id" => id = value.trim().parse().ok(),
            "event" => kind = value.to_string(),
            "data" => {
                if !data.is_empty() {
                    data.push('\n');
                }
                data.push_str(value);
            }
            _ => {}
        }
    }
    if data.is_empty() {
        return None;
    }
    Some(StreamEvent {
        id,
        kind,
        data: serde_json::from_str(&data).unwrap_or(serde_json::Value::Null),
    })
}

/// The error of a refused request, with the agent's reason.
fn refused(who: &str, status: StatusCode, bytes: &[u8]) -> ClientError {
    let why = serde_json::from_slice::<ErrorResponse>(bytes)
        .map(|e| e.error)
        .unwrap_or_else(|_| String::from_utf8_lossy(bytes).into_owned());
    ClientError::Refused {
        who: who.to_string(),
        status,
        why,
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

/// One HTTP/1.1 request over `stream`, and the head of its answer.
async fn exchange<S>(
    stream: S,
    req: Request<Full<Bytes>>,
    who: &str,
) -> Result<hyper::Response<hyper::body::Incoming>, ClientError>
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
    sender
        .send_request(req)
        .await
        .map_err(|e| ClientError::NoAnswer {
            who: who(),
            reason: e.to_string(),
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_messages_parse_and_comments_are_skipped() {
        let e = parse_event(b"id: 7\nevent: SessionNew\ndata: {\"EventId\":7}\n\n").unwrap();
        assert_eq!(e.id, Some(7));
        assert_eq!(e.kind, "SessionNew");
        assert_eq!(e.data["EventId"], 7);
        assert_eq!(parse_event(b":\n\n"), None);
        assert_eq!(parse_event(b"id: 3\n\n"), None);
        // Data over several lines is joined with line breaks.
        let e = parse_event(b"data: [1,\ndata: 2]\n\n").unwrap();
        assert_eq!(e.data, serde_json::json!([1, 2]));
        assert_eq!(e.kind, "message");
    }
}
