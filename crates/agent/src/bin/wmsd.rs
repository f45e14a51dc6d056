//! `wmsd`: the wms agent. Serves the HTTP/JSON API on the Unix socket named by the
//! configuration (default `/run/wms/wmsd.sock`), where callers are known by their peer
//! credentials, and with TLS on the TCP addresses of `listen` (default `0.0.0.0:7390`),
//! where callers present a bearer token. `wmsd token ...` manages those tokens and
//! `wmsd fingerprint` prints the certificate's fingerprint for clients to pin.
//!
//! Exit status: 0 done; 1 it could not start or the command failed (the message names the
//! cause); 2 a usage error.

use anyhow::{bail, Context};
use clap::Parser;
use std::net::SocketAddr;
use std::os::unix::fs::PermissionsExt;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::UnixListener;
use wms_agent::audit::{Audit, SizePolicy};
use wms_agent::cli::{Args, Command, TokenCommand};
use wms_agent::live::Live;
use wms_agent::serve::{Caps, Deadlines, Listeners};
use wms_agent::tls::Material;
use wms_agent::tokens::{TokenRole, TokenStore};
use wms_agent::{app, AppState};
use wms_host::{Config, Host};

fn main() -> ExitCode {
    let raw: Vec<String> = std::env::args().collect();
    if let Some(code) = wms_host::hidden_subcommand(&raw) {
        return code;
    }
    let args = Args::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
    let result = match args.command.unwrap_or(Command::Serve) {
        Command::Serve => serve(),
        Command::Token { command } => token(command),
        Command::Fingerprint => fingerprint(),
        Command::CheckConfig => check_config(),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("wmsd: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn now() -> String {
    wms_core::time::rfc3339_utc(wms_core::time::now_unix())
}

fn token(command: TokenCommand) -> anyhow::Result<()> {
    let config = Config::load()?;
    let store = TokenStore::new(&config.state_dir);
    match command {
        TokenCommand::Create { name, role } => {
            let role = TokenRole::from(role);
            let token = store.create(&name, role, &now())?;
            println!("{token}");
            eprintln!(
                "wmsd: made the {} token \"{name}\"; it is shown only this once, so keep it now",
                role.as_str()
            );
        }
        TokenCommand::List => {
            let tokens = store.list()?;
            if tokens.is_empty() {
                eprintln!("wmsd: no tokens; make one with: wmsd token create --name NAME --role admin|operator");
                return Ok(());
            }
            let width = tokens
                .iter()
                .map(|t| t.name.len())
                .max()
                .unwrap_or(0)
                .max(4);
            println!("{:width$}  {:8}  {:20}  REVOKED", "NAME", "ROLE", "CREATED");
            for t in &tokens {
                println!(
                    "{:width$}  {:8}  {:20}  {}",
                    t.name,
                    t.role.as_str(),
                    t.created,
                    t.revoked.as_deref().unwrap_or("no")
                );
            }
        }
        TokenCommand::Revoke { name } => {
            if store.revoke(&name, &now())? {
                println!("Revoked the token \"{name}\".");
            } else {
                println!("The token \"{name}\" was already revoked.");
            }
        }
    }
    Ok(())
}

/// `wmsd check-config`: loads the configuration as `serve` would and checks what can be
/// checked without binding anything, so a package or an administrator can test a change
/// before restarting the agent.
fn check_config() -> anyhow::Result<()> {
    let path = std::env::var_os(wms_host::config::PATH_ENV)
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| std::path::PathBuf::from(wms_host::config::DEFAULT_PATH));
    let config = Config::load()?;
    let listen = listen_addresses(&config)?;
    let shown = if path.exists() {
        path.display().to_string()
    } else {
        format!("{} (absent: the defaults)", path.display())
    };
    println!("configuration: {shown}");
    println!("socket: {}", config.socket.display());
    println!("state_dir: {}", config.state_dir.display());
    match listen.as_slice() {
        [] => println!("listen: none (the Unix socket only)"),
        addrs => {
            let addrs: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            println!("listen: {}", addrs.join(", "));
        }
    }
    println!("wmsd: the configuration is valid");
    Ok(())
}

fn fingerprint() -> anyhow::Result<()> {
    let config = Config::load()?;
    let material = Material::prepare(&config)?;
    println!("{}", material.fingerprint());
    Ok(())
}

fn serve() -> anyhow::Result<()> {
    let config = Config::load()?;
    // Before the runtime's threads exist.
    wms_host::compact_allocator();
    // One thread answers; the engine's blocking work runs on a small pool.
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(4)
        .build()
        .context("cannot start the runtime")?;
    let served = rt.block_on(run(config));
    // Work still running past the shutdown deadline (a close's blocking steps) is not
    // waited for: the deadline is the promise.
    rt.shutdown_timeout(Duration::from_secs(1));
    served
}

/// The `listen` entries as socket addresses; the error names the bad one.
fn listen_addresses(config: &Config) -> anyhow::Result<Vec<SocketAddr>> {
    config
        .listen
        .iter()
        .map(|a| {
            a.parse::<SocketAddr>().map_err(|_| {
                anyhow::anyhow!(
                    "listen: {a:?} is not a socket address (write an address and a port, like \"0.0.0.0:7390\" or \"[::]:7390\")"
                )
            })
        })
        .collect()
}

async fn run(config: Config) -> anyhow::Result<()> {
    let listen = listen_addresses(&config)?;
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
    let audit_path = config.state_dir.join("audit.log");
    let policy = SizePolicy {
        max_bytes: config.audit_max_bytes,
        keep: config.audit_keep,
    };
    let audit = Audit::open_with(&audit_path, policy)
        .with_context(|| format!("cannot open the audit log {}", audit_path.display()))?;
    // Everything that can fail is checked before anything is bound, so a failed start
    // leaves no socket behind.
    let tls = if listen.is_empty() {
        None
    } else {
        let material = Material::prepare(&config)?;
        tracing::info!(
            cert = %material.files.cert.display(),
            fingerprint = %material.fingerprint(),
            "TLS certificate"
        );
        Some(material.server_config()?)
    };
    let tcp = wms_agent::tls::bind(&listen).await?;
    let unix = UnixListener::bind(&socket)
        .with_context(|| format!("cannot listen on {}", socket.display()))?;
    // Anyone may connect: who they are comes from the kernel, and the rules decide.
    std::fs::set_permissions(&socket, std::fs::Permissions::from_mode(0o666))
        .with_context(|| format!("cannot set the mode of {}", socket.display()))?;
    // Every connection holds a descriptor: take all the kernel allows, and share it so
    // that TLS clients can never take what the local socket needs.
    let nofile = wms_agent::serve::raise_nofile_limit();
    let caps = Caps::fit(&config, nofile);
    if caps.tcp_total < config.max_connections.min(config.max_connections_per_ip)
        && !listen.is_empty()
    {
        tracing::warn!(
            nofile,
            ?caps,
            "the open file limit leaves room for few TLS connections: raise it (LimitNOFILE=)"
        );
    }
    let deadlines = Deadlines::from_config(&config);
    let tokens = TokenStore::new(&config.state_dir);
    // The live session table: kept current from the kernel's process events. Without
    // them (not root in the initial namespaces) the agent still serves, scanning /proc
    // for each listing, with no event stream.
    let live = match Live::start(&config.state_dir, config.event_buffer) {
        Ok(l) => Some(Arc::new(l)),
        Err(e) => {
            tracing::warn!(error = %e, "no live session table: listings scan /proc and there are no events");
            None
        }
    };
    // Desktop locks recorded without their locker (both of its processes were killed, or
    // the machine's locker was ended with the agent's unit) are held again.
    let locks_dir = config.state_dir.clone();
    tokio::task::spawn_blocking(move || wms_host::lock::desktop::restore(&locks_dir));
    let mut state = AppState::new(Host::new(config), audit, tokens);
    state.live = live.clone();
    let state = Arc::new(state);
    if let Some(live) = live {
        let st = state.clone();
        tokio::spawn(live.publish(state.host.clone(), move |n| st.metrics.published(n)));
    }
    tracing::info!(socket = %socket.display(), tcp = ?listen, ?caps, "serving");

    let listeners = Listeners { unix, tcp, tls };
    let stopping = state.clone();
    let stop = async move {
        shutdown().await;
        stopping.stopping.send_replace(true);
    };
    wms_agent::serve::serve(app(state.clone()), listeners, deadlines, caps, stop).await;
    // Repeats of refusals still being counted are written before the agent goes.
    wms_agent::refusals::flush(&state).await;
    let _ = std::fs::remove_file(&socket);
    Ok(())
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
