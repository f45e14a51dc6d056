//! The first of the command line's two steps (ripgrep's model): what the user typed, in
//! either spelling ([`Request`], from clap in `cli` or the binder in `cmdlet`), becomes one
//! validated [`Plan`]: the targets from IDs, `-All`, standard input or a hosts file, each
//! server resolved to this host or to a saved system, and the configuration loaded. The
//! executor (`exec`) then carries the plan out. Bad input is refused here, before
//! anything is touched.

use crate::cmdlet::{missing_selection, ActionPreference, BindError, OutputFormat, SelectionArg};
use crate::filter::Filter;
use crate::pipeline;
use crate::systems::{self, System, Systems, SystemsError};
use std::io::{self, IsTerminal, Read};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use wms_core::{Selection, SessionId, Verb};
use wms_host::{Config, ConfigError, Host};

/// Which spelling a command was typed in: it decides how errors read (`wms: ...` like a
/// Unix tool, or `Close-WmsSession: ... (Category)` like PowerShell) and whether a missing
/// mandatory parameter is prompted for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Spelling {
    Unix,
    Cmdlet,
}

/// One command as typed, in either spelling: only what the user gave, checked for form.
#[derive(Debug, Clone)]
pub struct Request {
    pub spelling: Spelling,
    pub verb: Verb,
    pub selection: SelectionArg,
    /// By user, state, idleness: narrows the selection.
    pub filter: Filter,
    pub servers: Vec<String>,
    /// `--hosts-file`: more servers, read when the plan is made.
    pub hosts_file: Option<PathBuf>,
    /// Lock's notice, or the message sent.
    pub message: Option<String>,
    /// Lock or unlock through logind.
    pub logind: bool,
    pub what_if: bool,
    pub confirm: bool,
    pub verbose: bool,
    pub debug: bool,
    pub error_action: ActionPreference,
    pub warning_action: ActionPreference,
    pub output: Option<OutputFormat>,
    /// Which sessions a listing shows and in what order.
    pub view: crate::view::View,
    /// Thumbnails asked for (`wms session thumbnail`, `Get-WmsSession -Thumbnail`).
    pub thumbnail: Option<ThumbnailWant>,
}

/// Thumbnails asked for: their size, and the directory the PNG files are written to
/// (the current one by default).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ThumbnailWant {
    pub size: wms_core::ThumbnailSize,
    pub dir: Option<PathBuf>,
}

/// Why no plan could be made. Nothing was done in any case.
#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    /// A usage error of the Unix spelling (exit status 2).
    #[error("cannot read the hosts file {}: {error}", path.display())]
    HostsFile { path: PathBuf, error: io::Error },
    /// A binding error, as PowerShell words it (exit status 2).
    #[error(transparent)]
    Binding(#[from] BindError),
    /// A usage error of the Unix spelling, worded like a Unix tool's (exit status 2).
    #[error("{0}")]
    Usage(String),
    /// The configuration cannot be used (exit status 1).
    #[error(transparent)]
    Config(#[from] ConfigError),
}

/// Where one server's work is done.
#[derive(Debug, Clone)]
pub enum Place {
    /// This host: its agent when one answers, else the engine in this process.
    ThisHost,
    /// Another host's agent, as `wms system add` saved it.
    Remote(System),
    /// A server that cannot be worked on; the message says why and what to do. It is
    /// reported as that target's error, and the other targets go on.
    Unresolved(String),
}

/// The work on one server.
#[derive(Debug, Clone)]
pub struct Target {
    /// The server as named (this host's full name for any of its own names).
    pub server: String,
    pub selection: Selection,
    pub place: Place,
}

/// A validated command, ready to be carried out.
pub struct Plan {
    pub spelling: Spelling,
    pub verb: Verb,
    pub filter: Filter,
    pub message: Option<String>,
    pub logind: bool,
    pub what_if: bool,
    pub confirm: bool,
    pub verbose: bool,
    pub error_action: ActionPreference,
    pub warning_action: ActionPreference,
    pub output: Option<OutputFormat>,
    /// Which sessions a listing shows and in what order.
    pub view: crate::view::View,
    pub host: Arc<Host>,
    /// One per server, in the order first named.
    pub targets: Vec<Target>,
    /// Standard input carried session objects (so confirmations are asked on the terminal).
    pub stdin_is_pipeline: bool,
    /// Standard input carried no session object at all.
    pub empty_pipeline: bool,
    pub thumbnail: Option<ThumbnailWant>,
}

impl Plan {
    /// Whether targets are worked on one at a time, so that a prompt, `-Verbose` or an
    /// error with `-ErrorAction Stop` can come between them.
    pub fn stepwise(&self) -> bool {
        self.confirm
            || self.verbose
            || matches!(
                self.error_action,
                ActionPreference::Stop | ActionPreference::Inquire
            )
            || self.warning_action == ActionPreference::Inquire
    }
}

/// The hosts named in a hosts file: one per line, blank lines and `#` comments skipped.
pub fn read_hosts_file(path: &Path) -> Result<Vec<String>, PlanError> {
    let text = std::fs::read_to_string(path).map_err(|error| PlanError::HostsFile {
        path: path.to_owned(),
        error,
    })?;
    Ok(parse_hosts(&text))
}

fn parse_hosts(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.split('#').next().unwrap_or_default().trim())
        .filter(|l| !l.is_empty())
        .map(str::to_string)
        .collect()
}

/// Makes the plan for `req`: reads the hosts file and (when the targets come from the
/// pipeline) standard input, loads the configuration, and resolves every server.
pub fn resolve(req: Request) -> Result<Plan, PlanError> {
    let mut servers = req.servers.clone();
    if let Some(f) = &req.hosts_file {
        servers.extend(read_hosts_file(f)?);
    }
    if req.debug {
        crate::debug_log::install();
    }
    let named_servers = !servers.is_empty();
    let default_servers = if named_servers {
        servers
    } else {
        vec!["localhost".to_string()]
    };
    let host = Arc::new(Host::new(Config::load()?));
    let mut stdin_is_pipeline = false;
    let mut empty_pipeline = false;
    let work: Vec<(String, Selection)> = match &req.selection {
        // `-All:$false`: the All set, with nothing in it.
        SelectionArg::Ids(ids) if ids.is_empty() => Vec::new(),
        SelectionArg::Ids(ids) => each_server(&default_servers, Selection::Ids(to_ids(ids))),
        SelectionArg::All => each_server(&default_servers, Selection::All),
        SelectionArg::Unbound if req.verb == Verb::Get => {
            each_server(&default_servers, Selection::All)
        }
        SelectionArg::Unbound if io::stdin().is_terminal() => {
            return Err(match req.spelling {
                Spelling::Cmdlet => missing_selection(req.verb).into(),
                Spelling::Unix => PlanError::Usage(format!(
                    "session {}: no session IDs given: give IDs, --all, or pipe session IDs or \
                     objects (wms session list -o json) on standard input",
                    unix_verb(req.verb)
                )),
            })
        }
        SelectionArg::Unbound => {
            stdin_is_pipeline = true;
            let mut input = String::new();
            if let Err(e) = io::stdin().read_to_string(&mut input) {
                return Err(
                    pipeline_error(req.verb, &format!("cannot read standard input: {e}")).into(),
                );
            }
            let targets = pipeline::parse(&input).map_err(|e| match req.spelling {
                Spelling::Cmdlet => pipeline_error(req.verb, &e.to_string()).into(),
                Spelling::Unix => PlanError::Usage(format!(
                    "session {}: standard input, {e}; nothing was done",
                    unix_verb(req.verb)
                )),
            })?;
            empty_pipeline = targets.is_empty();
            // A -Server given on the command line wins over piped properties, as in
            // PowerShell, where a parameter bound by name is not rebound from the pipeline.
            // One piece of work per target and server; the merge below groups them.
            targets
                .into_iter()
                .flat_map(|t| {
                    let servers = match (&t.server, named_servers) {
                        (Some(s), false) => vec![s.clone()],
                        _ => default_servers.clone(),
                    };
                    servers
                        .into_iter()
                        .map(move |server| (server, Selection::Ids(vec![t.session_id])))
                })
                .collect()
        }
    };
    let merged = merge(&host, work);
    let remote = merged.iter().any(|(s, _)| !host.names.is_local(s));
    let systems = remote.then(|| systems::path().and_then(|p| Systems::load(&p)));
    let targets = merged
        .into_iter()
        .map(|(server, selection)| {
            let place = if host.names.is_local(&server) {
                Place::ThisHost
            } else {
                remote_place(
                    &server,
                    systems.as_ref().expect("loaded for remote servers"),
                )
            };
            Target {
                server,
                selection,
                place,
            }
        })
        .collect();
    Ok(Plan {
        spelling: req.spelling,
        verb: req.verb,
        filter: req.filter,
        message: req.message,
        logind: req.logind,
        what_if: req.what_if,
        confirm: req.confirm,
        verbose: req.verbose,
        error_action: req.error_action,
        warning_action: req.warning_action,
        output: req.output,
        view: req.view,
        thumbnail: req.thumbnail,
        host,
        targets,
        stdin_is_pipeline,
        empty_pipeline,
    })
}

/// One entry per server, in the order first named; localhost and this host's own names
/// are one host.
fn merge(host: &Host, work: Vec<(String, Selection)>) -> Vec<(String, Selection)> {
    let mut merged: Vec<(String, Selection)> = Vec::new();
    for (server, selection) in work {
        let server = if host.names.is_local(&server) {
            host.names.fqdn.clone()
        } else {
            server
        };
        match merged
            .iter_mut()
            .find(|(m, _)| m.eq_ignore_ascii_case(&server))
        {
            None => merged.push((server, selection)),
            Some((_, sel)) => match (sel, selection) {
                (Selection::Ids(a), Selection::Ids(b)) => a.extend(b),
                (sel, _) => *sel = Selection::All,
            },
        }
    }
    merged
}

/// The agent of another host, as `wms system add` recorded it.
fn remote_place(server: &str, systems: &Result<Systems, SystemsError>) -> Place {
    let systems = match systems {
        Ok(s) => s,
        Err(e) => return Place::Unresolved(e.to_string()),
    };
    match systems.find(server) {
        Some(system) => Place::Remote(system.clone()),
        None => Place::Unresolved(format!(
            "Cannot connect to server '{server}': it has not been added; add it with `wms system add {server}`."
        )),
    }
}

fn each_server(servers: &[String], selection: Selection) -> Vec<(String, Selection)> {
    servers
        .iter()
        .map(|s| (s.clone(), selection.clone()))
        .collect()
}

fn to_ids(ids: &[u32]) -> Vec<SessionId> {
    ids.iter().copied().map(SessionId).collect()
}

/// The Unix spelling's name of a verb (`wms session close`).
pub fn unix_verb(verb: Verb) -> &'static str {
    match verb {
        Verb::Get => "list",
        Verb::Close => "close",
        Verb::Disconnect => "disconnect",
        Verb::Lock => "lock",
        Verb::Unlock => "unlock",
        Verb::Message => "message",
        Verb::Thumbnail => "thumbnail",
    }
}

fn pipeline_error(verb: Verb, message: &str) -> BindError {
    BindError {
        cmdlet: verb.cmdlet().to_string(),
        message: format!("Cannot bind pipeline input: {message}. Nothing was done."),
        category: "ParameterBindingException",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_files_skip_blanks_and_comments() {
        assert_eq!(
            parse_hosts("lab1\n\n# the lab\nlab2  # second\n   \nlab3:8000\n"),
            ["lab1", "lab2", "lab3:8000"]
        );
        let e = read_hosts_file(Path::new("/nonexistent/hosts"))
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("cannot read the hosts file /nonexistent/hosts"),
            "{e}"
        );
    }
}
