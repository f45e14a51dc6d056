//! The remote servers this user has added (`wms system add`), like Add-WmsSystem: where
//! each agent is, how its certificate is trusted (a pinned fingerprint or a CA), and the
//! token to present. Kept in `~/.config/wms/systems.json`, readable by this user only.

use serde::{Deserialize, Serialize};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// Why the saved systems cannot be read or written.
#[derive(Debug, thiserror::Error)]
pub enum SystemsError {
    #[error("HOME is not set: cannot find ~/.config/wms")]
    NoHome,
    #[error("{} is not a valid systems file: {error}", path.display())]
    Invalid {
        path: PathBuf,
        error: serde_json::Error,
    },
    #[error("cannot read {}: {error}", path.display())]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("cannot {what} {}: {error}", path.display())]
    Write {
        what: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("the systems file has no directory")]
    NoDirectory,
}

/// The agent's TLS port when an address names none.
pub const DEFAULT_PORT: u16 = 7390;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct System {
    /// The name it is known by (`--server NAME`), as given to `system add`.
    pub name: String,
    /// `host:port`.
    pub address: String,
    /// The pinned certificate fingerprint (`SHA256:AB:CD:...`), when not trusting a CA.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
    /// A CA certificate (PEM) that signs the agent's certificate, instead of a pin.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca: Option<PathBuf>,
    pub token: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Systems {
    pub systems: Vec<System>,
}

/// What is wrong with a token, if anything. A token goes into an HTTP header, so it must
/// be visible ASCII (as `wmsd token create` prints it); a byte that slipped in when it was
/// pasted (a `\r`, a tab, a non-ASCII character) is named with its position, so the user
/// can see it was the paste and not the server.
pub fn token_problem(token: &str) -> Option<String> {
    if token.is_empty() {
        return Some("is empty".into());
    }
    let (at, c) = token.char_indices().find(|(_, c)| !c.is_ascii_graphic())?;
    let what = match c {
        '\r' => "a carriage return (\\r)".to_string(),
        '\n' => "a line feed (\\n)".to_string(),
        '\t' => "a tab".to_string(),
        ' ' => "a space".to_string(),
        c if c.is_ascii() => format!("the control byte 0x{:02X}", c as u32),
        c => format!("the non-ASCII character {c:?}"),
    };
    Some(format!(
        "contains {what} at byte {at}; a token is visible ASCII only, as `wmsd token create` printed it"
    ))
}

/// `$XDG_CONFIG_HOME/wms` or `~/.config/wms`.
pub fn config_dir() -> Result<PathBuf, SystemsError> {
    if let Some(x) = std::env::var_os("XDG_CONFIG_HOME").filter(|x| !x.is_empty()) {
        return Ok(PathBuf::from(x).join("wms"));
    }
    let home = std::env::var_os("HOME").ok_or(SystemsError::NoHome)?;
    Ok(PathBuf::from(home).join(".config/wms"))
}

pub fn path() -> Result<PathBuf, SystemsError> {
    Ok(config_dir()?.join("systems.json"))
}

/// The `host:port` for a name or address given by the user.
pub fn address_of(host: &str) -> String {
    let bracketed = host.starts_with('[');
    let has_port = if bracketed {
        host.contains("]:")
    } else {
        host.matches(':').count() == 1
    };
    if has_port {
        host.to_string()
    } else if host.contains(':') && !bracketed {
        format!("[{host}]:{DEFAULT_PORT}")
    } else {
        format!("{host}:{DEFAULT_PORT}")
    }
}

/// The host part of an address (for TLS server names).
pub fn host_of(address: &str) -> &str {
    let h = match address.rsplit_once(':') {
        Some((h, p)) if p.parse::<u16>().is_ok() => h,
        _ => address,
    };
    h.trim_start_matches('[').trim_end_matches(']')
}

impl Systems {
    /// The systems in `path`; none when it does not exist yet.
    pub fn load(path: &Path) -> Result<Systems, SystemsError> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map_err(|error| SystemsError::Invalid {
                path: path.to_owned(),
                error,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Systems::default()),
            Err(error) => Err(SystemsError::Read {
                path: path.to_owned(),
                error,
            }),
        }
    }

    /// Writes the file atomically, mode 0600 in a 0700 directory: it holds tokens.
    pub fn save(&self, path: &Path) -> Result<(), SystemsError> {
        let fail = |what: &'static str, error: std::io::Error| SystemsError::Write {
            what,
            path: path.to_owned(),
            error,
        };
        let dir = path.parent().ok_or(SystemsError::NoDirectory)?;
        std::fs::create_dir_all(dir).map_err(|e| fail("create the directory of", e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| fail("protect the directory of", e))?;
        let text = serde_json::to_string_pretty(self).expect("systems serialise");
        wms_host::fsutil::write_atomic(path, text.as_bytes(), 0o600).map_err(|e| fail("write", e))
    }

    pub fn find(&self, name: &str) -> Option<&System> {
        self.systems
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name) || s.address.eq_ignore_ascii_case(name))
    }

    /// Adds or replaces the system of that name.
    pub fn put(&mut self, system: System) {
        self.systems
            .retain(|s| !s.name.eq_ignore_ascii_case(&system.name));
        self.systems.push(system);
    }

    /// Removes the system of that name; false when there was none.
    pub fn remove(&mut self, name: &str) -> bool {
        let before = self.systems.len();
        self.systems.retain(|s| !s.name.eq_ignore_ascii_case(name));
        self.systems.len() != before
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_get_the_default_port() {
        assert_eq!(address_of("lab1"), "lab1:7390");
        assert_eq!(address_of("lab1:8000"), "lab1:8000");
        assert_eq!(address_of("10.0.0.1"), "10.0.0.1:7390");
        assert_eq!(address_of("::1"), "[::1]:7390");
        assert_eq!(address_of("[::1]:8000"), "[::1]:8000");
        assert_eq!(host_of("lab1:7390"), "lab1");
        assert_eq!(host_of("[::1]:7390"), "::1");
    }

    #[test]
    fn saved_systems_round_trip_privately() {
        let dir = std::env::temp_dir().join(format!("wms-systems-{}", std::process::id()));
        let path = dir.join("systems.json");
        let mut s = Systems::default();
        s.put(System {
            name: "lab1".into(),
            address: "lab1:7390".into(),
            fingerprint: Some("SHA256:AB".into()),
            ca: None,
            token: "wms_x".into(),
        });
        s.save(&path).unwrap();
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let back = Systems::load(&path).unwrap();
        assert_eq!(back, s);
        assert!(back.find("LAB1").is_some());
        let mut back = back;
        assert!(back.remove("lab1"));
        assert!(!back.remove("lab1"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn tokens_with_stray_bytes_are_named() {
        assert_eq!(token_problem("wms_0123abcd"), None);
        assert_eq!(token_problem("").as_deref(), Some("is empty"));
        let p = token_problem("wms_01\r").unwrap();
        assert!(p.contains("carriage return") && p.contains("byte 6"), "{p}");
        assert!(token_problem("wms_\u{1}x").unwrap().contains("0x01"));
        assert!(token_problem("wms_é").unwrap().contains("non-ASCII"));
        assert!(token_problem("wms 1").unwrap().contains("a space"));
    }
}
