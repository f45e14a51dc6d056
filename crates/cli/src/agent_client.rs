//! Talking to a `wmsd` on this host over its Unix socket: the same requests the agent's
//! OpenAPI document describes, over HTTP/1.1 (hyper) on a Unix stream.

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::{Method, Request, StatusCode};
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use wms_core::api::{ActionRequest, ActionResponse, ErrorResponse};
use wms_core::Session;

pub struct AgentClient {
    socket: PathBuf,
    rt: tokio::runtime::Runtime,
}

impl AgentClient {
    /// A client for the agent on `socket`, if one answers there.
    pub fn connect(socket: &Path) -> Option<AgentClient> {
        std::os::unix::net::UnixStream::connect(socket).ok()?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .ok()?;
        Some(AgentClient {
            socket: socket.to_owned(),
            rt,
        })
    }

    pub fn socket(&self) -> &Path {
        &self.socket
    }

    pub fn sessions(&self) -> Result<Vec<Session>, String> {
        let body = self.request(Method::GET, "/v1/sessions", None)?;
        serde_json::from_slice(&body)
            .map_err(|e| format!("the agent's answer is not a session list: {e}"))
    }

    pub fn action(&self, req: &ActionRequest) -> Result<ActionResponse, String> {
        let json = serde_json::to_vec(req).expect("requests serialise");
        let body = self.request(Method::POST, "/v1/actions", Some(json))?;
        serde_json::from_slice(&body)
            .map_err(|e| format!("the agent's answer is not a result list: {e}"))
    }

    fn request(
        &self,
        method: Method,
        path: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Vec<u8>, String> {
        let socket = self.socket.clone();
        let fail = |what: &str, e: &dyn std::fmt::Display| {
            format!("the agent on {} {what}: {e}", socket.display())
        };
        self.rt.block_on(async {
            let stream = tokio::net::UnixStream::connect(&self.socket)
                .await
                .map_err(|e| fail("cannot be reached", &e))?;
            let (mut sender, conn) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
                .await
                .map_err(|e| fail("does not speak HTTP", &e))?;
            tokio::spawn(conn);
            let req = Request::builder()
                .method(method)
                .uri(path)
                .header("host", "localhost")
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from(body.unwrap_or_default())))
                .expect("a valid request");
            let resp = sender
                .send_request(req)
                .await
                .map_err(|e| fail("did not answer", &e))?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .map_err(|e| fail("broke off its answer", &e))?
                .to_bytes();
            if status == StatusCode::OK {
                Ok(bytes.to_vec())
            } else {
                let why = serde_json::from_slice::<ErrorResponse>(&bytes)
                    .map(|e| e.error)
                    .unwrap_or_else(|_| String::from_utf8_lossy(&bytes).into_owned());
                Err(fail(&format!("refused the request ({status})"), &why))
            }
        })
    }
}
