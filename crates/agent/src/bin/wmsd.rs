//! `wmsd`: the wms agent. Serves the HTTP/JSON API on the Unix socket named by the
//! configuration (default `/run/wms/wmsd.sock`); callers there are known by their peer
//! credentials. Exit status 1 with a message naming the cause when it cannot start.

use anyhow::{bail, Context};
use clap::{Parser, Subcommand};
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::sync::Arc;
use tokio::net::UnixListener;
use wms_agent::audit::Audit;
use wms_agent::{app, AppState, Peer};
use wms_host::{Config, Host};

#[derive(Debug, Parser)]
#[command(
    name = "wmsd",
    version,
    about = "The wms agent: serves this host's login sessions to wms."
)]
struct Args {
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API (what wmsd does with no subcommand).
    Serve,
}

fn main() -> ExitCode {
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let result = match args.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wmsd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn serve() -> anyhow::Result<()> {
    let config = Config::load()?;
    // One thread answers; the engine's blocking work runs on a small pool.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
        .context("cannot start the runtime")?;
    rt.block_on(run(config))
}

async fn run(config: Config) -> anyhow::Result<()> {
    let socket = config.socket.clone();
    if let Some(dir) = socket.parent() {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    if socket.exists() {
        if std::os::unix::net::UnixStream::connect(&socket).is_ok() {
            bail!("another wmsd is already serving on {}", socket.display());
        }
        // A socket left by an agent that did not stop cleanly.
        std::fs::remove_file(&socket)
            .with_context(|| format!("cannot remove the stale socket {}", socket.display()))?;
    }
    let listener = UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    // Anyone may connect: who they are comes from the kernel, and the rules decide.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("cannot set the mode of {}", socket.display()))?;
    let audit_path = config.state_dir.join("audit.log");
    let audit = Audit::open(&audit_path)
        .with_context(|| format!("cannot open the audit log {}", audit_path.display()))?;
    let state = Arc::new(AppState {
        host: Host::new(config),
        audit,
    });
    tracing::info!(socket = %socket.display(), "serving");
    let served = axum::serve(
        listener,
        app(state).into_make_service_with_connect_info::<Peer>(),
    )
    .with_graceful_shutdown(shutdown())
    .await;
    let _ = std::fs::remove_file(&socket);
    served.context("serving failed")
}

async fn shutdown() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::interrupt()),
    ) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => {}
        _ = int.recv() => {}
    }
    tracing::info!("stopping");
}
