//! `wms system add|list|remove`: the remote agents this user works with, like
//! Add-WmsSystem. Adding one pins its certificate (shown first, or given with
//! `--fingerprint`), or trusts a CA (`--ca`), and checks the token before saving.

use crate::agent_client::AgentClient;
use crate::systems::{self, address_of, token_problem, System, Systems};
use std::io::{BufRead, IsTerminal, Write};
use std::path::PathBuf;
use wms_trust::same_fingerprint;

pub struct AddArgs {
    pub host: String,
    pub name: String,
    pub token: String,
    pub fingerprint: Option<String>,
    pub ca: Option<PathBuf>,
}

/// Adds (or replaces) a system; prints what was pinned.
pub fn add(a: AddArgs) -> Result<(), String> {
    if let Some(problem) = token_problem(&a.token) {
        return Err(format!(
            "the token given for {} {problem}; nothing was saved",
            a.name
        ));
    }
    let path = systems::path()?;
    let mut all = Systems::load(&path)?;
    let address = address_of(&a.host);
    let fingerprint = match &a.ca {
        Some(_) => None,
        None => {
            let seen = AgentClient::probe_fingerprint(&address)?;
            match &a.fingerprint {
                Some(given) if !same_fingerprint(given, &seen) => {
                    return Err(format!(
                        "the agent at {address} presents the certificate {seen}, not the {given} you gave; nothing was saved"
                    ))
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
    AgentClient::remote(&system)?
        .sessions()
        .map_err(|e| format!("{e}; nothing was saved"))?;
    let trust = match (&system.fingerprint, &system.ca) {
        (Some(fp), _) => format!("certificate {fp} pinned"),
        (None, Some(ca)) => format!("certificates signed by {} trusted", ca.display()),
        (None, None) => unreachable!("a system is trusted one way or the other"),
    };
    all.put(system);
    all.save(&path)?;
    println!("Added {} ({address}): {trust}.", a.name);
    Ok(())
}

/// Shows the fingerprint and asks, like ssh on first contact; without a terminal, the
/// fingerprint must be given.
fn confirm_pin(address: &str, seen: &str) -> Result<(), String> {
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(format!(
            "the agent at {address} presents the certificate {seen}; check it on that host (`wmsd fingerprint`) and pass it with --fingerprint to pin it"
        ));
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
        Err("not pinned; nothing was saved".into())
    }
}

pub fn list() -> Result<(), String> {
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
        println!("{:<w0$} {:<w1$} {}", r[0], r[1], r[2], w0 = w[0], w1 = w[1]);
    }
    Ok(())
}

pub fn remove(name: &str) -> Result<(), String> {
    let path = systems::path()?;
    let mut all = Systems::load(&path)?;
    if !all.remove(name) {
        return Err(format!(
            "there is no system named '{name}' (see `wms system list`)"
        ));
    }
    all.save(&path)?;
    println!("Removed {name}.");
    Ok(())
}
