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
    /// The receive buffer, in bytes, of the agent's subscription to process events. An
    /// overflow costs a rescan of `/proc`, never a wrong table.
    pub event_buffer: usize,
}

/// Who may read the agent's metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsReaders {
    Callers,
    Anyone,
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
            event_buffer: 4 << 20,
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
}

impl Config {
    pub fn grace(&self) -> Duration {
        Duration::from_secs_f64(self.grace_period)
    }

    pub fn kill_deadline(&self) -> Duration {
        Duration::from_secs_f64(self.kill_timeout)
    }

    /// Loads the configuration from `$WMS_CONFIG`, else `/etc/wms/wms.toml`, else defaults.
    pub fn load() -> Result<Config, ConfigError> {
        match std::env::var_os(PATH_ENV) {
            Some(p) => Self::from_file(Path::new(&p)),
            None if Path::new(DEFAULT_PATH).exists() => Self::from_file(Path::new(DEFAULT_PATH)),
            None => Ok(Config::default()),
        }
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
        Ok(cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn bad_grace_is_refused() {
        let e = Config::parse("grace_period = -1\n").unwrap_err();
        assert!(e.contains("grace_period"), "{e}");
        let e = Config::parse("grace_period = \"5s\"\n").unwrap_err();
        assert!(e.starts_with("line 1:"), "{e}");
    }
}
