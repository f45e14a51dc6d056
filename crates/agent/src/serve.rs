//! The agent's serving loop: accepts connections on the Unix socket and on the TLS
//! listeners itself and serves each with hyper, so that everything a peer can make the
//! agent hold is bounded (SPEC 7). `axum::serve` has no deadlines and no caps; here:
//!
//! - a TLS handshake must finish within `handshake_timeout`;
//! - a request head must be complete within `header_timeout` of the connection being
//!   ready for it (hyper's header timer, which hyper 1.12 starts as soon as it waits for
//!   a head, so it also ends idle kept-alive connections);
//! - a connection on which no request is being handled and no byte moved for
//!   `idle_timeout` is closed (an idle kept-alive connection, a client that stopped
//!   reading its answer); a body's own deadline is the handler's (`body_timeout`);
//! - connections are capped in total and per client address (TCP) or per user (Unix), the
//!   caps computed from the descriptor limit so that TLS clients can never take the
//!   descriptors the local socket needs; a connection over its cap is accepted and closed
//!   at once, so the listen backlog never fills;
//! - on shutdown nothing more is accepted, idle connections close at once, requests in
//!   flight get until the shutdown deadline.

use crate::Peer;
use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::Router;
use hyper::body::Incoming;
use hyper::Request;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::hash::Hash;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream, UnixListener, UnixStream};
use tokio::sync::{mpsc, watch};
use tokio_rustls::TlsAcceptor;
use tower::ServiceExt;
use wms_host::Config;

use crate::limits::IpKey;

/// Descriptors kept for everything but connections: the listeners, the audit log, the
/// token store, `/proc` reads and pidfds of the blocking pool and of a close in progress,
/// the kernel event sockets, the runtime's own.
pub const RESERVED_FDS: u64 = 256;

/// Who is on the other end of a Unix-socket connection, as the kernel vouched for it when
/// the peer connected (see [`Peer::of_unix`]).
pub fn peer_of_unix(stream: &UnixStream) -> Peer {
    Peer::of_unix(stream)
}

/// How many connections of each kind the agent takes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Caps {
    pub tcp_total: usize,
    pub tcp_per_ip: usize,
    /// Unix-socket connections of users other than root, in all.
    pub unix_total: usize,
    /// Unix-socket connections of one user; root's are on top of `unix_total`.
    pub unix_per_uid: usize,
}

impl Caps {
    /// The configured caps, lowered to fit `nofile` descriptors: the local socket is given
    /// its share (up to half of what is left after [`RESERVED_FDS`]) first, and TLS
    /// clients get only the rest, so they cannot starve it.
    pub fn fit(config: &Config, nofile: u64) -> Caps {
        let budget = usize::try_from(nofile.saturating_sub(RESERVED_FDS)).unwrap_or(usize::MAX);
        let half = budget / 2;
        let unix_per_uid = config.max_local_connections_per_user.min(half / 2).max(1);
        let unix_total = config
            .max_local_connections
            .min(half.saturating_sub(unix_per_uid))
            .max(1);
        let tcp_total = config
            .max_connections
            .min(budget.saturating_sub(unix_total + unix_per_uid));
        Caps {
            tcp_total,
            tcp_per_ip: config.max_connections_per_ip.min(tcp_total),
            unix_total,
            unix_per_uid,
        }
    }
}

/// Raises the soft limit on open descriptors to the hard limit, and returns the limit
/// now in force.
pub fn raise_nofile_limit() -> u64 {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let now = getrlimit(Resource::Nofile);
    if now.maximum != now.current {
        let raised = Rlimit {
            current: now.maximum,
            maximum: now.maximum,
        };
        if let Err(e) = setrlimit(Resource::Nofile, raised) {
            tracing::warn!(error = %e, "cannot raise the open file limit to its hard limit");
        }
    }
    getrlimit(Resource::Nofile).current.unwrap_or(u64::MAX)
}

/// The deadlines of connections.
#[derive(Debug, Clone, Copy)]
pub struct Deadlines {
    pub handshake: Duration,
    pub header: Duration,
    pub idle: Duration,
    pub shutdown: Duration,
}

impl Deadlines {
    pub fn from_config(c: &Config) -> Deadlines {
        Deadlines {
            handshake: Duration::from_secs_f64(c.handshake_timeout),
            header: Duration::from_secs_f64(c.header_timeout),
            idle: Duration::from_secs_f64(c.idle_timeout),
            shutdown: c.shutdown_deadline(),
        }
    }
}

/// What the agent listens on.
pub struct Listeners {
    pub unix: UnixListener,
    pub tcp: Vec<TcpListener>,
    /// The TLS configuration for `tcp` (none when `tcp` is empty).
    pub tls: Option<Arc<rustls::ServerConfig>>,
}

/// Serves `router` on `listeners` until `stop` completes, then lets requests in flight
/// finish until the shutdown deadline, and returns.
pub async fn serve(
    router: Router,
    listeners: Listeners,
    deadlines: Deadlines,
    caps: Caps,
    stop: impl std::future::Future<Output = ()>,
) {
    let (stop_tx, stop_rx) = watch::channel(false);
    // Every task that serves or accepts holds a sender; when all are gone, all is done.
    let (alive, mut all_done) = mpsc::channel::<()>(1);
    let shared = Arc::new(Shared {
        router,
        deadlines,
        stop: stop_rx,
        alive,
    });
    let unix_gate = Arc::new(Gate::new(caps.unix_total, caps.unix_per_uid, "local"));
    tokio::spawn(accept_unix(listeners.unix, shared.clone(), unix_gate));
    if let Some(tls) = listeners.tls {
        let tcp_gate = Arc::new(Gate::new(caps.tcp_total, caps.tcp_per_ip, "TLS"));
        let acceptor = TlsAcceptor::from(tls);
        for l in listeners.tcp {
            tokio::spawn(accept_tcp(
                l,
                acceptor.clone(),
                shared.clone(),
                tcp_gate.clone(),
            ));
        }
    }
    drop(shared);
    stop.await;
    let _ = stop_tx.send(true);
    match tokio::time::timeout(deadlines.shutdown, all_done.recv()).await {
        Ok(_) => tracing::info!("every connection is closed"),
        Err(_) => tracing::warn!(
            deadline = ?deadlines.shutdown,
            "requests still in flight at the shutdown deadline are abandoned"
        ),
    }
}

struct Shared {
    router: Router,
    deadlines: Deadlines,
    stop: watch::Receiver<bool>,
    alive: mpsc::Sender<()>,
}

impl Shared {
    fn stopping(&self) -> impl std::future::Future<Output = ()> + Send + 'static {
        let mut rx = self.stop.clone();
        async move {
            let _ = rx.wait_for(|s| *s).await;
        }
    }
}

async fn accept_unix(listener: UnixListener, shared: Arc<Shared>, gate: Arc<Gate<u32>>) {
    let stopping = shared.stopping();
    tokio::pin!(stopping);
    loop {
        let stream = tokio::select! {
            _ = &mut stopping => return,
            r = listener.accept() => match r {
                Ok((s, _)) => s,
                Err(e) => { accept_failed(e).await; continue; }
            },
        };
        // The user is needed for the cap before anything else is done for the caller.
        let uid = stream.peer_cred().map(|c| c.uid()).unwrap_or(u32::MAX);
        let Some(admitted) = gate.admit(uid, uid != 0) else {
            // Say why, if the socket takes it at once; never wait for a peer over its cap.
            let _ = stream.try_write(OVER_CAP_ANSWER);
            continue;
        };
        let peer = peer_of_unix(&stream);
        let alive = shared.alive.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            serve_connection(stream, peer, &shared).await;
            drop((admitted, alive));
        });
    }
}

/// The answer to a local connection over its cap (written only if the socket takes it at
/// once), so `wms` can say what happened.
const OVER_CAP_ANSWER: &[u8] = b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nContent-Length: 82\r\nConnection: close\r\n\r\n{\"error\":\"too many connections to wmsd from this user: close some and try again\"}\n";

async fn accept_tcp(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    shared: Arc<Shared>,
    gate: Arc<Gate<IpKey>>,
) {
    let stopping = shared.stopping();
    tokio::pin!(stopping);
    loop {
        let (tcp, addr): (TcpStream, SocketAddr) = tokio::select! {
            _ = &mut stopping => return,
            r = listener.accept() => match r {
                Ok(c) => c,
                Err(e) => { accept_failed(e).await; continue; }
            },
        };
        // Over its cap, the connection is closed at once, before any TLS work.
        let Some(admitted) = gate.admit(IpKey::of(canonical(addr.ip())), true) else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let alive = shared.alive.clone();
        let shared = shared.clone();
        tokio::spawn(async move {
            let handshake = tokio::time::timeout(shared.deadlines.handshake, acceptor.accept(tcp));
            let tls = tokio::select! {
                _ = shared.stopping() => None,
                r = handshake => match r {
                    Ok(Ok(tls)) => Some(tls),
                    Ok(Err(e)) => {
                        tracing::debug!(peer = %addr, error = %e, "TLS handshake failed");
                        None
                    }
                    Err(_) => {
                        tracing::debug!(peer = %addr, "TLS handshake timed out");
                        None
                    }
                },
            };
            if let Some(tls) = tls {
                serve_connection(tls, Peer::Tcp { addr }, &shared).await;
            }
            drop((admitted, alive));
        });
    }
}

fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(ip, IpAddr::V4),
        v4 => v4,
    }
}

/// Out of descriptors and the like: wait a little rather than spin (the caps should keep
/// this from happening).
async fn accept_failed(e: io::Error) {
    static LOG: LogGate = LogGate::new();
    if LOG.allow() {
        tracing::warn!(error = %e, "cannot accept a connection");
    }
    tokio::time::sleep(Duration::from_millis(100)).await;
}

/// Serves one connection until it ends, a deadline passes, or the agent stops.
async fn serve_connection<IO>(io: IO, peer: Peer, shared: &Shared)
where
    IO: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let deadlines = shared.deadlines;
    let activity = Arc::new(Activity::new());
    let io = TokioIo::new(Watched {
        inner: io,
        activity: activity.clone(),
    });
    let router = shared.router.clone();
    let busy_of = activity.clone();
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let mut req = req.map(Body::new);
        // What axum's `into_make_service_with_connect_info` would insert.
        req.extensions_mut().insert(ConnectInfo(peer.clone()));
        let busy = busy_of.busy();
        let router = router.clone();
        async move {
            let answer = router.oneshot(req).await;
            drop(busy);
            answer
        }
    });
    let mut builder = hyper::server::conn::http1::Builder::new();
    builder
        .timer(TokioTimer::new())
        .header_read_timeout(deadlines.header)
        .keep_alive(true);
    let conn = builder.serve_connection(io, service);
    tokio::pin!(conn);
    let stopping = shared.stopping();
    tokio::pin!(stopping);
    let idle_check = tokio::time::sleep(deadlines.idle);
    tokio::pin!(idle_check);
    let mut stop_asked = false;
    loop {
        tokio::select! {
            r = conn.as_mut() => {
                if let Err(e) = r {
                    tracing::debug!(error = %e, "connection ended");
                }
                return;
            }
            _ = &mut idle_check => {
                match activity.idle_until(deadlines.idle) {
                    None => {
                        tracing::debug!("closing an idle connection");
                        return;
                    }
                    Some(at) => idle_check.as_mut().reset(at.into()),
                }
            }
            _ = &mut stopping, if !stop_asked => {
                stop_asked = true;
                // Closes at once when idle, else after the answer in flight.
                conn.as_mut().graceful_shutdown();
            }
        }
    }
}

/// When a connection last moved a byte, and how many of its requests are being handled.
struct Activity {
    origin: Instant,
    /// Milliseconds from `origin` to the last byte read or written.
    last: AtomicU64,
    busy: AtomicUsize,
}

struct Busy(Arc<Activity>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, Ordering::Relaxed);
        self.0.touch();
    }
}

impl Activity {
    fn new() -> Activity {
        Activity {
            origin: Instant::now(),
            last: AtomicU64::new(0),
            busy: AtomicUsize::new(0),
        }
    }

    fn touch(&self) {
        let ms = u64::try_from(self.origin.elapsed().as_millis()).unwrap_or(u64::MAX);
        self.last.store(ms, Ordering::Relaxed);
    }

    fn busy(self: &Arc<Self>) -> Busy {
        self.busy.fetch_add(1, Ordering::Relaxed);
        Busy(self.clone())
    }

    /// `None` if the connection has been idle for `idle`; else when to look again.
    fn idle_until(&self, idle: Duration) -> Option<Instant> {
        let now = Instant::now();
        if self.busy.load(Ordering::Relaxed) > 0 {
            return Some(now + idle);
        }
        let last = self.origin + Duration::from_millis(self.last.load(Ordering::Relaxed));
        let at = last + idle;
        (at > now).then_some(at)
    }
}

/// A connection's stream, noting when bytes move.
struct Watched<IO> {
    inner: IO,
    activity: Arc<Activity>,
}

impl<IO: AsyncRead + Unpin> AsyncRead for Watched<IO> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.inner).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.activity.touch();
        }
        r
    }
}

impl<IO: AsyncWrite + Unpin> AsyncWrite for Watched<IO> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write(cx, buf);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let r = Pin::new(&mut self.inner).poll_write_vectored(cx, bufs);
        if matches!(r, Poll::Ready(Ok(n)) if n > 0) {
            self.activity.touch();
        }
        r
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// Connection counts, in all and per key, against caps.
struct Gate<K> {
    total_cap: usize,
    per_key_cap: usize,
    what: &'static str,
    counts: Mutex<Counts<K>>,
    log: LogGate,
}

struct Counts<K> {
    /// Connections that count against `total_cap`.
    total: usize,
    /// Live connections by key; a key leaves when its last connection closes, so this
    /// holds at most as many keys as there are connections.
    by_key: HashMap<K, usize>,
}

/// A connection let in; gives its place back when dropped.
struct Admitted<K: Eq + Hash + Clone> {
    gate: Arc<Gate<K>>,
    key: K,
    in_total: bool,
}

impl<K: Eq + Hash + Clone> Drop for Admitted<K> {
    fn drop(&mut self) {
        let mut c = self.gate.counts.lock().unwrap_or_else(|p| p.into_inner());
        if self.in_total {
            c.total -= 1;
        }
        if let Some(n) = c.by_key.get_mut(&self.key) {
            *n -= 1;
            if *n == 0 {
                c.by_key.remove(&self.key);
            }
        }
    }
}

impl<K: Eq + Hash + Clone + std::fmt::Debug> Gate<K> {
    fn new(total_cap: usize, per_key_cap: usize, what: &'static str) -> Gate<K> {
        Gate {
            total_cap,
            per_key_cap,
            what,
            counts: Mutex::new(Counts {
                total: 0,
                by_key: HashMap::new(),
            }),
            log: LogGate::new(),
        }
    }

    /// Lets a connection of `key` in if neither cap is reached; `in_total` says whether it
    /// counts against the total (root's local connections do not).
    fn admit(self: &Arc<Self>, key: K, in_total: bool) -> Option<Admitted<K>> {
        let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
        let of_key = c.by_key.get(&key).copied().unwrap_or(0);
        let full = (in_total && c.total >= self.total_cap) || of_key >= self.per_key_cap;
        if full {
            let (total, total_cap, per_key_cap) = (c.total, self.total_cap, self.per_key_cap);
            drop(c);
            if self.log.allow() {
                tracing::warn!(
                    what = self.what,
                    peer = ?key,
                    of_peer = of_key,
                    per_peer_cap = per_key_cap,
                    total,
                    total_cap,
                    refused_since_last_warning = self.log.suppressed(),
                    "connection refused: over the cap"
                );
            }
            return None;
        }
        if in_total {
            c.total += 1;
        }
        *c.by_key.entry(key.clone()).or_insert(0) += 1;
        Some(Admitted {
            gate: self.clone(),
            key,
            in_total,
        })
    }
}

/// Lets a warning through at most once every ten seconds, counting the others.
struct LogGate {
    /// Seconds since the Unix epoch of the last warning let through.
    last: AtomicU64,
    suppressed: AtomicU64,
}

impl LogGate {
    const EVERY_SECS: u64 = 10;

    const fn new() -> LogGate {
        LogGate {
            last: AtomicU64::new(0),
            suppressed: AtomicU64::new(0),
        }
    }

    fn allow(&self) -> bool {
        let now = u64::try_from(wms_core::time::now_unix()).unwrap_or(0);
        let last = self.last.load(Ordering::Relaxed);
        if now >= last + Self::EVERY_SECS
            && self
                .last
                .compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return true;
        }
        self.suppressed.fetch_add(1, Ordering::Relaxed);
        false
    }

    /// How many warnings were held back since the last one let through.
    fn suppressed(&self) -> u64 {
        self.suppressed.swap(0, Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_local_socket_keeps_its_share_of_descriptors() {
        let config = Config {
            max_connections: 100_000,
            max_connections_per_ip: 100_000,
            ..Config::default()
        };
        for nofile in [1024, 4096, 65_536, 1 << 20] {
            let caps = Caps::fit(&config, nofile);
            let connections = caps.tcp_total + caps.unix_total + caps.unix_per_uid;
            assert!(
                connections as u64 + RESERVED_FDS <= nofile,
                "{nofile}: {caps:?}"
            );
            assert!(caps.unix_total >= 1 && caps.unix_per_uid >= 1, "{caps:?}");
            assert!(caps.tcp_per_ip <= caps.tcp_total);
        }
        let caps = Caps::fit(&Config::default(), 65_536);
        assert_eq!(
            caps,
            Caps {
                tcp_total: 4096,
                tcp_per_ip: 128,
                unix_total: 512,
                unix_per_uid: 64
            }
        );
    }

    #[test]
    fn a_gate_holds_both_caps_and_gives_places_back() {
        let gate = Arc::new(Gate::new(3, 2, "test"));
        let a1 = gate.admit("a", true).unwrap();
        let _a2 = gate.admit("a", true).unwrap();
        assert!(gate.admit("a", true).is_none(), "per key");
        let _b1 = gate.admit("b", true).unwrap();
        assert!(gate.admit("c", true).is_none(), "in total");
        // Outside the total (root on the local socket), only the per-key cap holds.
        let _r = gate.admit("root", false).unwrap();
        drop(a1);
        assert!(gate.admit("c", true).is_some());
        assert!(gate.counts.lock().unwrap().by_key.len() <= 3);
    }
}
