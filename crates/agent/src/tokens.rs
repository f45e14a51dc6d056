//! Bearer tokens for callers over TCP: made, listed and revoked by `wmsd token`, checked
//! by the agent on each request. A token is shown once when it is made; the store
//! (`<state_dir>/tokens.json`, mode 0600) keeps only its SHA-256, so a copy of the store
//! lets nobody in.

use serde::{Deserialize, Serialize};
use std::fmt::Write as _;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use wms_core::Role;

/// What every token starts with, so a leaked one is recognisable (secret scanners).
pub const PREFIX: &str = "wms_";
/// Random bytes in a token: 256 bits, hex-encoded after the prefix.
const RANDOM_BYTES: usize = 32;

/// What a token lets its holder do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenRole {
    Admin,
    Operator,
}

impl TokenRole {
    pub fn role(self) -> Role {
        match self {
            TokenRole::Admin => Role::Administrator,
            TokenRole::Operator => Role::Operator,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            TokenRole::Admin => "admin",
            TokenRole::Operator => "operator",
        }
    }
}

/// One token as stored: never the token itself.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TokenEntry {
    pub name: String,
    pub role: TokenRole,
    /// When it was made (RFC 3339, UTC).
    pub created: String,
    /// The SHA-256 of the whole token, lowercase hex.
    pub sha256: String,
    /// When it was revoked, if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub revoked: Option<String>,
}

#[derive(Debug, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StoreFile {
    tokens: Vec<TokenEntry>,
}

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("cannot read the token store {path}: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error("the token store {path} is not valid JSON of tokens: {message}")]
    Invalid { path: PathBuf, message: String },
    #[error("the token store {path} is not used: it must be owned by the agent's user (uid {expected}) and not writable by group or others (owner uid {uid}, mode {mode:o})")]
    Unsafe {
        path: PathBuf,
        expected: u32,
        uid: u32,
        mode: u32,
    },
    #[error("cannot write the token store {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("a token named \"{0}\" already exists (names are never reused, so audit records name one token each); choose another name")]
    Duplicate(String),
    #[error("no token is named \"{0}\" (wmsd token list shows them)")]
    Unknown(String),
    #[error("a token name is 1 to 64 letters, digits, '.', '_', '-' or '@', not {0:?}")]
    BadName(String),
    #[error("cannot make a token: the system's random source failed")]
    Random,
}

/// What a presented token turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Valid { name: String, role: TokenRole },
    Revoked { name: String },
    Unknown,
}

/// The token store of a state directory.
#[derive(Debug, Clone)]
pub struct TokenStore {
    path: PathBuf,
}

impl TokenStore {
    pub fn new(state_dir: &Path) -> TokenStore {
        TokenStore {
            path: state_dir.join("tokens.json"),
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Every token, oldest first; none when the store does not exist yet.
    pub fn list(&self) -> Result<Vec<TokenEntry>, TokenError> {
        Ok(self.read()?.tokens)
    }

    /// Checks a presented token against the store as it is on disk now. The store is read
    /// on every call (it is a few hundred bytes), so a revocation holds from the very next
    /// request, with no cache to go stale.
    pub fn verify(&self, token: &str) -> Result<Verdict, TokenError> {
        if !well_formed(token) {
            return Ok(Verdict::Unknown);
        }
        let digest = sha256_hex(token);
        let store = self.read()?;
        let found = store
            .tokens
            .into_iter()
            .find(|t| constant_time_eq(t.sha256.as_bytes(), digest.as_bytes()));
        Ok(match found {
            None => Verdict::Unknown,
            Some(t) if t.revoked.is_some() => Verdict::Revoked { name: t.name },
            Some(t) => Verdict::Valid {
                name: t.name,
                role: t.role,
            },
        })
    }

    /// Makes a token named `name`: stores its hash and returns the token, which exists
    /// nowhere else from then on.
    pub fn create(&self, name: &str, role: TokenRole, now: &str) -> Result<String, TokenError> {
        if !valid_name(name) {
            return Err(TokenError::BadName(name.to_string()));
        }
        let token = new_token()?;
        self.update(|store| {
            if store.tokens.iter().any(|t| t.name == name) {
                return Err(TokenError::Duplicate(name.to_string()));
            }
            store.tokens.push(TokenEntry {
                name: name.to_string(),
                role,
                created: now.to_string(),
                sha256: sha256_hex(&token),
                revoked: None,
            });
            Ok(())
        })?;
        Ok(token)
    }

    /// Revokes the token named `name`; `Ok(false)` when it already was.
    pub fn revoke(&self, name: &str, now: &str) -> Result<bool, TokenError> {
        let mut newly = false;
        self.update(|store| {
            let t = store
                .tokens
                .iter_mut()
                .find(|t| t.name == name)
                .ok_or_else(|| TokenError::Unknown(name.to_string()))?;
            if t.revoked.is_none() {
                t.revoked = Some(now.to_string());
                newly = true;
            }
            Ok(())
        })?;
        Ok(newly)
    }

    fn read(&self) -> Result<StoreFile, TokenError> {
        let read_err = |source| TokenError::Read {
            path: self.path.clone(),
            source,
        };
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(StoreFile::default()),
            Err(e) => return Err(read_err(e)),
        };
        // Whoever can write the store can let themselves in: like the configuration, it
        // counts only if nobody but the agent's own user could have written it.
        let meta = std::fs::metadata(&self.path).map_err(read_err)?;
        let me = rustix::process::geteuid().as_raw();
        if meta.uid() != me || meta.mode() & 0o022 != 0 {
            return Err(TokenError::Unsafe {
                path: self.path.clone(),
                expected: me,
                uid: meta.uid(),
                mode: meta.mode() & 0o7777,
            });
        }
        serde_json::from_str(&text).map_err(|e| TokenError::Invalid {
            path: self.path.clone(),
            message: e.to_string(),
        })
    }

    /// Read, change, write back atomically, under a lock so that two `wmsd token`
    /// commands at once cannot lose each other's change.
    fn update(
        &self,
        change: impl FnOnce(&mut StoreFile) -> Result<(), TokenError>,
    ) -> Result<(), TokenError> {
        let write_err = |source| TokenError::Write {
            path: self.path.clone(),
            source,
        };
        let dir = self.path.parent().unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).map_err(write_err)?;
        let _lock = crate::fsutil::lock(&dir.join(".tokens.lock")).map_err(write_err)?;
        let mut store = self.read()?;
        change(&mut store)?;
        let mut text = serde_json::to_vec_pretty(&store).map_err(|e| write_err(e.into()))?;
        text.push(b'\n');
        crate::fsutil::write_atomic(&self.path, &text, 0o600).map_err(write_err)
    }
}

/// A name appears in listings, messages and audit records: keep it plain.
fn valid_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "._-@".contains(c))
}

/// `wms_` and 64 lowercase hex digits.
pub fn well_formed(token: &str) -> bool {
    token.strip_prefix(PREFIX).is_some_and(|hex| {
        hex.len() == 2 * RANDOM_BYTES
            && hex
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

fn new_token() -> Result<String, TokenError> {
    let mut bytes = [0u8; RANDOM_BYTES];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes)
        .map_err(|_| TokenError::Random)?;
    Ok(format!("{PREFIX}{}", hex(&bytes)))
}

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

pub fn sha256_hex(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

/// Compares without stopping at the first difference, so the time taken says nothing
/// about how much of a guess was right.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (TokenStore, PathBuf) {
        let dir = std::env::temp_dir().join(format!(
            "wms-tokens-unit-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        (TokenStore::new(&dir), dir)
    }

    #[test]
    fn create_verify_revoke() {
        let (s, dir) = store();
        assert_eq!(s.list().unwrap(), []);
        let t = s
            .create("ci", TokenRole::Admin, "2026-01-01T00:00:00Z")
            .unwrap();
        assert!(well_formed(&t), "{t}");
        let text = std::fs::read_to_string(s.path()).unwrap();
        assert!(
            !text.contains(&t[PREFIX.len()..]),
            "the token is stored: {text}"
        );
        assert!(text.contains(&sha256_hex(&t)));
        assert_eq!(
            s.verify(&t).unwrap(),
            Verdict::Valid {
                name: "ci".into(),
                role: TokenRole::Admin
            }
        );
        let other = new_token().unwrap();
        assert_eq!(s.verify(&other).unwrap(), Verdict::Unknown);
        assert_eq!(s.verify("wms_nothex").unwrap(), Verdict::Unknown);
        assert!(matches!(
            s.create("ci", TokenRole::Operator, "x"),
            Err(TokenError::Duplicate(n)) if n == "ci"
        ));
        assert!(matches!(
            s.create("a b", TokenRole::Operator, "x"),
            Err(TokenError::BadName(_))
        ));
        assert!(s.revoke("ci", "2026-01-02T00:00:00Z").unwrap());
        assert!(!s.revoke("ci", "2026-01-03T00:00:00Z").unwrap());
        assert_eq!(
            s.verify(&t).unwrap(),
            Verdict::Revoked { name: "ci".into() }
        );
        assert!(matches!(s.revoke("nope", "x"), Err(TokenError::Unknown(n)) if n == "nope"));
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_store_others_may_write_is_not_used() {
        use std::os::unix::fs::PermissionsExt;
        let (s, dir) = store();
        let t = s.create("x", TokenRole::Admin, "now").unwrap();
        std::fs::set_permissions(s.path(), std::fs::Permissions::from_mode(0o666)).unwrap();
        assert!(matches!(s.verify(&t), Err(TokenError::Unsafe { .. })));
        let _ = std::fs::remove_dir_all(dir);
    }
}
