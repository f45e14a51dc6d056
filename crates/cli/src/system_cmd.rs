//! `wms system add|list|remove`: the remote agents this user works with, like
//! Add-WmsSystem. Adding one pins its certificate (shown first, or given with
//! `--fingerprint`), or trusts a CA (`--ca`), and checks the token before saving.

use crate::agent_client::{block_on, AgentClient, ClientError};
use crate::output::{stdout_line, WriteError};
use crate::systems::{self, address_of, token_problem, System, Systems, SystemsError};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use wms_trust::same_fingerprint;

/// Why a `wms system` command did nothing (or, for [`SystemError::Output`], stopped).
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    #[error(transparent)]
    Systems(#[from] SystemsError),
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("the token given for {name} {problem}; nothing was saved")]
    BadToken { name: String, problem: String },
    #[error("the agent at {address} presents the certificate {seen}, not the {given} you gave; nothing was saved")]
    OtherCertificate {
        address: String,
        seen: String,
        given: String,
    },
    #[error("the agent at {address} presents the certificate {seen}; check it on that host (`wmsd fingerprint`) and pass it with --fingerprint to pin it")]
    UncheckedCertificate { address: String, seen: String },
    #[error("not pinned; nothing was saved")]
    Declined,
    #[error("{0}; nothing was saved")]
    TokenRefused(ClientError),
    #[error("there is no system named '{0}' (see `wms system list`)")]
    NoSuchSystem(String),
    #[error(transparent)]
    Output(#[from] WriteError),
}

pub struct AddArgs {
    pub host: String,
    pub name: String,
    pub token: String,
    pub fingerprint: Option<String>,
    pub ca: Option<PathBuf>,
}

/// Adds (or replaces) a system; prints what was pinned.
pub fn add(a: AddArgs) -> Result<(), SystemError> {
    if let Some(problem) = token_problem(&a.token) {
        return Err(SystemError::BadToken {
            name: a.name,
            problem,
        });
    }
    let path = systems::path()?;
    let mut all = Systems::load(&path)?;
    let address = address_of(&a.host);
    let fingerprint = match &a.ca {
        Some(_) => None,
        None => {
            let seen = block_on(AgentClient::probe_fingerprint(&address))?;
            match &a.fingerprint {
                Some(given) if !same_fingerprint(given, &seen) => {
                    return Err(SystemError::OtherCertificate {
                        address,
                        seen,
                        given: given.clone(),
                    })
                }
                Some(_) => {}
                None => confirm_pin(&address, &seen)?,
            }
            Some(seen)
        }
    };
    let system = System {
        name: a.name.clone(),
        address: address.clone(),
        fingerprint,
        ca: a.ca.clone(),
        token: a.token,
    };
    // The token must work before it is kept.
    let client = AgentClient::remote(&system)?;
    block_on(client.sessions()).map_err(SystemError::TokenRefused)?;
    let trust = match (&system.fingerprint, &system.ca) {
        (Some(fp), _) => format!("certificate {fp} pinned"),
        (None, Some(ca)) => format!("certificates signed by {} trusted", ca.display()),
        (None, None) => unreachable!("a system is trusted one way or the other"),
    };
    all.put(system);
    all.save(&path)?;
    stdout_line(&format!("Added {} ({address}): {trust}.", a.name))?;
    Ok(())
}

/// Shows the fingerprint and asks, like ssh on first contact; without a terminal, the
/// fingerprint must be given.
fn confirm_pin(address: &str, seen: &str) -> Result<(), SystemError> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(SystemError::UncheckedCertificate {
            address: address.to_string(),
            seen: seen.to_string(),
        });
    }
    eprint!(
        "The agent at {address} presents the certificate\n  {seen}\nCompare it with `wmsd fingerprint` on that host. Pin it? [y/N] "
    );
    let _ = std::io::stderr().flush();
    let mut line = String::new();
    let _ = stdin.lock().read_line(&mut line);
    if matches!(line.trim().to_ascii_lowercase().as_str(), "y" | "yes") {
        Ok(())
    } else {
        Err(SystemError::Declined)
    }
}

pub fn list() -> Result<(), SystemError> {
    let all = Systems::load(&systems::path()?)?;
    let rows: Vec<[String; 3]> = all
        .systems
        .iter()
        .map(|s| {
            let trust = match (&s.fingerprint, &s.ca) {
                (_, Some(ca)) => format!("CA {}", ca.display()),
                (Some(fp), None) => fp.clone(),
                (None, None) => "-".into(),
            };
            [s.name.clone(), s.address.clone(), trust]
        })
        .collect();
    let head = ["Name", "Address", "Trust"];
    let w: Vec<usize> = (0..3)
        .map(|i| {
            rows.iter()
                .map(|r| r[i].len())
                .fold(head[i].len(), usize::max)
        })
        .collect();
    let rule = head.map(|h| "-".repeat(h.len()));
    for r in std::iter::once(head.map(String::from))
        .chain([rule])
        .chain(rows)
    {
        stdout_line(&format!(
            "{:<w0$} {:<w1$} {}",
            r[0],
            r[1],
            r[2],
            w0 = w[0],
            w1 = w[1]
        ))?;
    }
    Ok(())
}

pub fn remove(name: &str) -> Result<(), SystemError> {
    let path = systems::path()?;
    let mut all = Systems::load(&path)?;
    if !all.remove(name) {
        return Err(SystemError::NoSuchSystem(name.to_string()));
    }
    all.save(&path)?;
    stdout_line(&format!("Removed {name}."))?;
    Ok(())
}
