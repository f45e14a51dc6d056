//! The host configuration, `/etc/wms/wms.toml`, with sensible defaults when it is absent.
//!
//! A configuration decides who is an administrator, so it is read only from a file that
//! root owns and that nobody else may write, like sudoers: otherwise any user could point
//! wms at a file naming their own group as the administrator group.

use serde::Deserialize;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

pub const DEFAULT_PATH: &str = "/etc/wms/wms.toml";
/// Environment variable naming another configuration file (same ownership rules).
pub const PATH_ENV: &str = "WMS_CONFIG";
/// Environment variable choosing where sessions are read from (`auto`, `proc`, `logind`),
/// over `session_source` of the file: it only changes what is read, never who may act.
pub const SOURCE_ENV: &str = "WMS_SESSION_SOURCE";

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Config {
    /// Members of these groups (and root) are administrators.
    pub admin_groups: Vec<String>,
    /// Members of these groups are operators.
    pub operator_groups: Vec<String>,
    /// Seconds between the graceful SIGTERM and the SIGKILL of a close.
    pub grace_period: f64,
    /// How long, after SIGKILL, a close keeps at it before it reports Failed.
    pub kill_timeout: f64,
    /// Where wms keeps state that must outlive a process (locks, the agent's audit log).
    pub state_dir: PathBuf,
    /// The agent's Unix socket; `wms` uses the agent on this host when it answers there.
    pub socket: PathBuf,
    /// The socket addresses the agent serves TLS on, for remote callers with a token;
    /// empty for the Unix socket only.
    pub listen: Vec<String>,
    /// A CA-signed certificate (PEM, the chain after it) for the agent to serve instead of
    /// its own self-signed one under `state_dir/tls/`; goes with `tls_key`.
    pub tls_cert: Option<PathBuf>,
    /// The key of `tls_cert` (PEM).
    pub tls_key: Option<PathBuf>,
    /// Who may read the agent's `/metrics`: `"callers"` (anyone on this host through the
    /// Unix socket, and remote callers with a token), or `"anyone"` (also over TCP
    /// without a token, for a scraper on a trusted network).
    pub metrics_readers: MetricsReaders,
    /// Where sessions are read from: `auto` (logind over D-Bus where it runs, with what
    /// only `/proc` knows added; `/proc` alone elsewhere), `proc` (never logind) or
    /// `logind` (fail when it does not answer).
    pub session_source: SourceMode,
    /// The receive buffer, in bytes, of the agent's subscription to process events. An
    /// overflow costs a rescan of `/proc`, never a wrong table.
    pub event_buffer: usize,

    // What the agent lets a peer make it hold or write (SPEC 7). Durations are seconds.
    /// A TLS client must finish its handshake within this.
    pub handshake_timeout: f64,
    /// The head of a request must be complete within this, counted from when the
    /// connection is ready for it (after the handshake, or after the previous answer).
    pub header_timeout: f64,
    /// A connection on which no request is being handled and nothing moved for this long
    /// is closed: an idle kept-alive connection, or a client that stopped reading.
    pub idle_timeout: f64,
    /// A request body must arrive completely within this of the handler asking for it.
    pub body_timeout: f64,
    /// On SIGTERM, how long requests in flight may take to finish before the agent exits
    /// anyway; unset, a close's `grace_period` plus `kill_timeout` plus 5 seconds.
    pub shutdown_timeout: Option<f64>,
    /// The largest request body, in bytes.
    pub max_body_bytes: u64,
    /// The most session IDs one request may name.
    pub max_session_ids: usize,
    /// TLS connections at once, in all (lowered to what the descriptor limit leaves after
    /// the local socket's share).
    pub max_connections: usize,
    /// TLS connections at once from one client address (an IPv6 /64 counts as one).
    pub max_connections_per_ip: usize,
    /// Unix-socket connections at once, in all, of users other than root.
    pub max_local_connections: usize,
    /// Unix-socket connections at once of one user (root included).
    pub max_local_connections_per_user: usize,
    /// Failed authentications one client address may make at once before it is refused
    /// (429) without its token being looked at ...
    pub auth_failures_burst: u32,
    /// ... and how many more it is allowed per minute after that.
    pub auth_failures_per_minute: f64,
    /// Actions one caller (a user on the socket, root excepted, or a token) may send at
    /// once ...
    pub actions_burst: u32,
    /// ... and how many more per second after that.
    pub actions_per_second: f64,
    /// Listings one caller may have the agent work on at once; more wait their turn.
    pub list_concurrency: usize,
    /// Repeats of a refusal (same kind, same peer) within this many seconds of the first
    /// are written as one audit record with a count when the window ends.
    pub refusal_window: f64,
    /// The audit log is rotated before it would grow past this many bytes ...
    pub audit_max_bytes: u64,
    /// ... keeping this many old logs (`audit.log.1` the newest).
    pub audit_keep: u32,
}

/// Who may read the agent's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsReaders {
    Callers,
    Anyone,
}

/// Where sessions are read from (`session_source`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SourceMode {
    #[default]
    Auto,
    Proc,
    Logind,
}

impl SourceMode {
    /// The mode named `name` (`auto`, `proc`, `logind`).
    pub fn parse(name: &str) -> Option<SourceMode> {
        match name {
            "auto" => Some(SourceMode::Auto),
            "proc" => Some(SourceMode::Proc),
            "logind" => Some(SourceMode::Logind),
            _ => None,
        }
    }
}

impl Default for Config {
    fn default() -> Self {
        Config {
            admin_groups: vec!["sudo".into(), "wheel".into(), "admin".into()],
            operator_groups: vec!["wms-operators".into()],
            grace_period: 5.0,
            kill_timeout: 5.0,
            state_dir: PathBuf::from("/var/lib/wms"),
            socket: PathBuf::from("/run/wms/wmsd.sock"),
            listen: vec!["0.0.0.0:7390".into()],
            tls_cert: None,
            tls_key: None,
            metrics_readers: MetricsReaders::Callers,
            session_source: SourceMode::Auto,
            event_buffer: 16 << 20,
            handshake_timeout: 10.0,
            header_timeout: 10.0,
            idle_timeout: 10.0,
            body_timeout: 10.0,
            shutdown_timeout: None,
            max_body_bytes: 64 * 1024,
            max_session_ids: 4096,
            max_connections: 4096,
            max_connections_per_ip: 128,
            max_local_connections: 512,
            max_local_connections_per_user: 64,
            auth_failures_burst: 10,
            auth_failures_per_minute: 10.0,
            actions_burst: 50,
            actions_per_second: 5.0,
            list_concurrency: 4,
            refusal_window: 60.0,
            audit_max_bytes: 64 * 1024 * 1024,
            audit_keep: 5,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read configuration {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("configuration {path} is not used: it must be owned by root and not writable by group or others (owner uid {uid}, mode {mode:o})")]
    Unsafe { path: PathBuf, uid: u32, mode: u32 },
    #[error("configuration {path}: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("{SOURCE_ENV}={value:?} is not a session source: use auto, proc or logind")]
    BadSource { value: String },
}

impl Config {
    pub fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace_period)
    }

    pub fn kill_deadline(&self) -> Duration {
        Duration::from_secs_f64(self.kill_timeout)
    }

    /// How long the agent lets requests in flight finish when told to stop: by default
    /// long enough for a close that has begun to run its course.
    pub fn shutdown_deadline(&self) -> Duration {
        Duration::from_secs_f64(
            self.shutdown_timeout
                .unwrap_or(self.grace_period + self.kill_timeout + 5.0),
        )
    }

    /// Loads the configuration from `$WMS_CONFIG`, else `/etc/wms/wms.toml`, else defaults.
    /// `$WMS_SESSION_SOURCE`, when set, chooses the session source.
    pub fn load() -> Result<Config, ConfigError> {
        let mut cfg = match std::env::var_os(PATH_ENV) {
            Some(p) => Self::from_file(Path::new(&p)),
            None if Path::new(DEFAULT_PATH).exists() => Self::from_file(Path::new(DEFAULT_PATH)),
            None => Ok(Config::default()),
        }?;
        if let Some(v) = std::env::var_os(SOURCE_ENV) {
            let v = v.to_string_lossy();
            cfg.session_source = SourceMode::parse(&v).ok_or_else(|| ConfigError::BadSource {
                value: v.to_string(),
            })?;
        }
        Ok(cfg)
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        let read_err = |source| ConfigError::Read {
            path: path.to_owned(),
            source,
        };
        let meta = std::fs::metadata(path).map_err(read_err)?;
        if meta.uid() != 0 || meta.mode() & 0o022 != 0 {
            return Err(ConfigError::Unsafe {
                path: path.to_owned(),
                uid: meta.uid(),
                mode: meta.mode() & 0o7777,
            });
        }
        let text = std::fs::read_to_string(path).map_err(read_err)?;
        Self::parse(&text).map_err(|message| ConfigError::Invalid {
            path: path.to_owned(),
            message,
        })
    }

    /// Parses configuration text; the error names the line and what was wrong.
    pub fn parse(text: &str) -> Result<Config, String> {
        let cfg: Config = toml::from_str(text).map_err(|e| {
            let line = e
                .span()
                .map(|s| text[..s.start.min(text.len())].matches('\n').count() + 1);
            let msg = e.message().trim().to_string();
            match line {
                Some(l) => format!("line {l}: {msg}"),
                None => msg,
            }
        })?;
        for (name, v) in [
            ("grace_period", cfg.grace_period),
            ("kill_timeout", cfg.kill_timeout),
        ] {
            if !(v.is_finite() && (0.0..=3600.0).contains(&v)) {
                return Err(format!(
                    "{name} must be a number of seconds from 0 to 3600, not {v}"
                ));
            }
        }
        if !(4096..=(256 << 20)).contains(&cfg.event_buffer) {
            return Err(format!(
                "event_buffer must be from 4096 to 268435456 bytes, not {}",
                cfg.event_buffer
            ));
        }
        // A deadline of 0 would refuse everything, and one of days is no deadline.
        for (name, v) in [
            ("handshake_timeout", cfg.handshake_timeout),
            ("header_timeout", cfg.header_timeout),
            ("idle_timeout", cfg.idle_timeout),
            ("body_timeout", cfg.body_timeout),
            ("shutdown_timeout", cfg.shutdown_timeout.unwrap_or(1.0)),
            ("refusal_window", cfg.refusal_window),
        ] {
            if !(v.is_finite() && v > 0.0 && v <= 3600.0) {
                return Err(format!(
                    "{name} must be a number of seconds above 0 and at most 3600, not {v}"
                ));
            }
        }
        for (name, v) in [
            ("auth_failures_per_minute", cfg.auth_failures_per_minute),
            ("actions_per_second", cfg.actions_per_second),
        ] {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("{name} must be a number above 0, not {v}"));
            }
        }
        for (name, v) in [
            ("max_session_ids", cfg.max_session_ids as u64),
            ("max_connections", cfg.max_connections as u64),
            ("max_connections_per_ip", cfg.max_connections_per_ip as u64),
            ("max_local_connections", cfg.max_local_connections as u64),
            (
                "max_local_connections_per_user",
                cfg.max_local_connections_per_user as u64,
            ),
            ("auth_failures_burst", u64::from(cfg.auth_failures_burst)),
            ("actions_burst", u64::from(cfg.actions_burst)),
            ("list_concurrency", cfg.list_concurrency as u64),
            ("audit_keep", u64::from(cfg.audit_keep)),
        ] {
            if v == 0 {
                return Err(format!("{name} must be at least 1"));
            }
        }
        if cfg.max_session_ids > wms_core::api::MAX_SESSION_IDS {
            return Err(format!(
                "max_session_ids must be at most {}, the most one request may name, not {}",
                wms_core::api::MAX_SESSION_IDS,
                cfg.max_session_ids
            ));
        }
        // Below a few records per file, rotation would be most of the work.
        if cfg.max_body_bytes < 1024 {
            return Err(format!(
                "max_body_bytes must be at least 1024, not {}",
                cfg.max_body_bytes
            ));
        }
        if cfg.audit_max_bytes < 4096 {
            return Err(format!(
                "audit_max_bytes must be at least 4096, not {}",
                cfg.audit_max_bytes
            ));
        }
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn session_source_is_auto_proc_or_logind() {
        assert_eq!(Config::default().session_source, SourceMode::Auto);
        let c = Config::parse("session_source = \"proc\"\n").unwrap();
        assert_eq!(c.session_source, SourceMode::Proc);
        let e = Config::parse("\nsession_source = \"dbus\"\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        assert_eq!(SourceMode::parse("logind"), Some(SourceMode::Logind));
        assert_eq!(SourceMode::parse("LOGIND"), None);
    }

    #[test]
    fn empty_file_gives_defaults() {
        assert_eq!(Config::parse("").unwrap(), Config::default());
    }

    #[test]
    fn values_are_read() {
        let c = Config::parse(
            "admin_groups = [\"ops\"]\noperator_groups = [\"helpdesk\"]\ngrace_period = 0.5\n",
        )
        .unwrap();
        assert_eq!(c.admin_groups, ["ops"]);
        assert_eq!(c.operator_groups, ["helpdesk"]);
        assert_eq!(c.grace(), Duration::from_millis(500));
        assert_eq!(c.state_dir, PathBuf::from("/var/lib/wms"));
    }

    #[test]
    fn unknown_key_names_the_line_and_key() {
        let e = Config::parse("grace_period = 1\nadmin_grups = [\"x\"]\n").unwrap_err();
        assert!(e.starts_with("line 2:"), "{e}");
        assert!(e.contains("admin_grups"), "{e}");
    }

    #[test]
    fn agent_listen_and_tls_pair() {
        let c = Config::default();
        assert_eq!(c.listen, ["0.0.0.0:7390"]);
        assert_eq!((c.tls_cert, c.tls_key), (None, None));
        let c = Config::parse(
            "listen = []\ntls_cert = \"/etc/wms/c.pem\"\ntls_key = \"/etc/wms/k.pem\"\n",
        )
        .unwrap();
        assert!(c.listen.is_empty());
        assert_eq!(c.tls_key, Some(PathBuf::from("/etc/wms/k.pem")));
    }

    #[test]
    fn agent_limits_have_defaults_and_are_checked() {
        let c = Config::default();
        assert_eq!(c.max_body_bytes, 65536);
        assert_eq!(c.audit_keep, 5);
        // The default shutdown deadline outlasts a close that has begun.
        assert_eq!(c.shutdown_deadline(), Duration::from_secs(15));
        let c = Config::parse(
            "header_timeout = 0.5
shutdown_timeout = 2
",
        )
        .unwrap();
        assert_eq!(c.header_timeout, 0.5);
        assert_eq!(c.shutdown_deadline(), Duration::from_secs(2));
        for (text, key) in [
            ("body_timeout = 0\n", "body_timeout"),
            ("idle_timeout = -1\n", "idle_timeout"),
            ("max_connections = 0\n", "max_connections"),
            ("audit_max_bytes = 100\n", "audit_max_bytes"),
            ("audit_keep = 0\n", "audit_keep"),
            ("actions_per_second = 0\n", "actions_per_second"),
            ("max_session_ids = 4097\n", "max_session_ids"),
        ] {
            let e = Config::parse(text).unwrap_err();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn bad_grace_is_refused() {
        let e = Config::parse("grace_period = -1\n").unwrap_err();
        assert!(e.contains("grace_period"), "{e}");
        let e = Config::parse("grace_period = \"5s\"\n").unwrap_err();
        assert!(e.starts_with("line 1:"), "{e}");
    }
}
