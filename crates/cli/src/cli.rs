//! The idiomatic Unix spelling (`wms session list|close ...`), parsed by clap and turned
//! into the same [`Request`] as the cmdlet spelling (what was typed, checked for form; the
//! hosts file is read when the plan is made, in `plan`).

use crate::cmdlet::{ActionPreference, OutputFormat, SelectionArg};
use crate::filter::{parse_duration, Filter};
use crate::plan::{Request, Spelling};
use clap::{Args, Parser, Subcommand, ValueEnum};
use wms_core::{SessionState, Verb};

#[derive(Debug, Parser)]
#[command(
    name = "wms",
    version,
    about = "See and manage the login sessions of Linux hosts, MultiPoint style.",
    long_about = "See and manage the login sessions of Linux hosts, MultiPoint style: list who \
is logged on, log users off, disconnect, lock and unlock their sessions and send them \
messages, on this host or on \
many through their wmsd agents. A session is the kernel audit session PAM opens for every \
ssh, console and desktop login.\n\n\
Two spellings of one command set: this Unix one (wms session close 3) and the Windows \
MultiPoint cmdlet one, bound by PowerShell's rules (wms Close-WmsSession -SessionId 3,4 \
-WhatIf; also Get-, Disconnect-, Lock- and Unlock-WmsSession, and Send-WmsMessage).",
    after_help = "The MultiPoint cmdlet spelling works too, e.g.:\n  wms Get-WmsSession -All\n  wms Close-WmsSession -SessionId 3,4 -WhatIf\n\nExit status: 0 every target handled, 1 a target ended in an error, 2 usage error (nothing done)."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Login sessions: list, close, disconnect, lock and unlock them, send them messages.
    #[command(subcommand)]
    Session(SessionCommand),
    /// Remote servers (their wmsd agents): add, list, remove, like Add-WmsSystem.
    #[command(subcommand)]
    System(SystemCommand),
    /// Every session of the chosen servers in a browser, like MultiPoint Dashboard: a tile
    /// per session (a thumbnail for desktops), kept current from the agents' events, and
    /// lock, unlock, log off, disconnect and send message on one tile or many, each
    /// previewed and confirmed.
    ///
    /// Serves a page on 127.0.0.1 and prints its link; the link lets in one browser, once.
    /// The agents are reached with the servers `wms system add` saved; the browser never
    /// holds their tokens.
    Dashboard(DashboardArgs),
}

#[derive(Debug, Args)]
pub struct DashboardArgs {
    /// Server to show (repeatable); default localhost.
    #[arg(long = "server", visible_alias = "computer-name", value_name = "HOST")]
    pub servers: Vec<String>,
    /// Also show every host named in FILE (one per line; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<std::path::PathBuf>,
    /// The port on 127.0.0.1 to serve the page on (default: a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
}

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Add a server: pin its agent's certificate (or trust a CA) and keep its token.
    Add {
        /// The server's name or address, optionally with :PORT (default 7390).
        host: String,
        /// The name to know it by in --server and piped objects (default: HOST as given).
        #[arg(long)]
        name: Option<String>,
        /// The token `wmsd token create` printed on that server.
        #[arg(
            long,
            conflicts_with = "token_file",
            required_unless_present = "token_file"
        )]
        token: Option<String>,
        /// Read the token from this file instead (keeps it out of the process list).
        #[arg(long, value_name = "FILE")]
        token_file: Option<std::path::PathBuf>,
        /// The certificate fingerprint to pin (`wmsd fingerprint` on the server prints it).
        #[arg(long, value_name = "SHA256:..")]
        fingerprint: Option<String>,
        /// Trust certificates signed by this CA (PEM) instead of pinning one.
        #[arg(long, value_name = "FILE", conflicts_with = "fingerprint")]
        ca: Option<std::path::PathBuf>,
    },
    /// List the added servers and how each is trusted.
    List,
    /// Forget a server.
    Remove {
        /// The name it was added as.
        name: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SessionCommand {
    /// List login sessions (all, or the given IDs), like Get-WmsSession.
    List(ListArgs),
    /// Log users off: end every process of the given sessions, like Close-WmsSession.
    ///
    /// With no IDs and no --all, session objects are read from standard input (JSON lines or
    /// an array, e.g. the output of `wms session list -o json`).
    Close(ActArgs),
    /// End the connection of ssh sessions and RDP desktops (xrdp) and leave their programs
    /// running (tmux, screen, nohup; the whole desktop), like Disconnect-WmsSession.
    Disconnect(ActArgs),
    /// Lock terminal sessions: stop the shell and its foreground job, swallow what is
    /// typed, and show a full-screen message, like Lock-WmsSession.
    Lock(LockArgs),
    /// Undo a lock exactly: screen, terminal modes and stopped jobs; what was typed while
    /// locked is discarded. Like Unlock-WmsSession.
    Unlock(UnlockArgs),
    /// Send a message: written to each terminal of a terminal session as write(1) writes
    /// (a banner naming the sender, the text, EOF), like Send-WmsMessage.
    Message(MessageArgs),
    /// Write a PNG thumbnail of each desktop session's screen and print its path, like
    /// Get-WmsSession -Thumbnail. Sizes: small (160 pixels wide), medium (320), large
    /// (640), full (the screen's own); the height keeps the screen's proportions.
    Thumbnail(ThumbnailArgs),
    /// Follow session events as they happen (new, removed, state changed, locked,
    /// unlocked), from this host's agent or many servers' agents, until interrupted.
    Watch(WatchArgs),
}

#[derive(Debug, Args)]
pub struct WatchArgs {
    /// Output: one line per event, or one JSON object per event.
    #[arg(short, long, value_enum, default_value = "lines")]
    pub output: WatchOutput,
    /// Server to watch (repeatable); default localhost.
    #[arg(long = "server", visible_alias = "computer-name", value_name = "HOST")]
    pub servers: Vec<String>,
    /// Also watch every host named in FILE (one per line; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<std::path::PathBuf>,
}

#[derive(Debug, Args)]
pub struct ThumbnailArgs {
    /// Session IDs (spaced or comma-separated).
    #[arg(required = true, value_name = "ID")]
    pub ids: Vec<String>,
    /// The thumbnail's size.
    #[arg(long, value_enum, default_value = "medium")]
    pub size: SizeArg,
    /// The directory the files are written to (default: the current one). Each is named
    /// HOST-session-ID-SIZE.png.
    #[arg(long, value_name = "DIR")]
    pub output: Option<std::path::PathBuf>,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SizeArg {
    Small,
    Medium,
    Large,
    Full,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum WatchOutput {
    Lines,
    Json,
}

#[derive(Debug, Args)]
pub struct LockArgs {
    /// The message shown on the locked screen.
    #[arg(short, long)]
    pub message: Option<String>,
    /// Ask logind to lock the session instead (org.freedesktop.login1.Session.Lock), for a
    /// desktop whose own screen locker listens to logind; its LockedHint confirms it. No
    /// message: the desktop's locker draws its own screen.
    #[arg(long)]
    pub logind: bool,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Debug, Args)]
pub struct UnlockArgs {
    /// Ask logind to unlock the session (Session.Unlock), as `lock --logind` locked it.
    #[arg(long)]
    pub logind: bool,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Debug, Args)]
pub struct MessageArgs {
    /// The text to send (at most 1000 characters; line breaks and tabs, no other
    /// control characters).
    #[arg(short, long, visible_alias = "message", required = true)]
    pub text: String,
    #[command(flatten)]
    pub act: ActArgs,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    /// `Name : Value` lines, a blank line between sessions (the MultiPoint form).
    List,
    /// One row per session, fitted to 80 columns.
    Table,
    /// One row per session with every property, not fitted.
    Wide,
    /// One JSON object per line.
    Json,
}

/// A session state, as `--state` takes it (case-insensitive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum StateArg {
    /// A live remote connection (ssh, RDP).
    #[value(alias = "remote", alias = "remoteconnection")]
    RemoteConnection,
    /// A local console or seat.
    #[value(alias = "local", alias = "console", alias = "connectedtostation")]
    ConnectedToStation,
    /// The connection is gone and processes remain.
    Disconnected,
}

impl From<StateArg> for SessionState {
    fn from(s: StateArg) -> SessionState {
        match s {
            StateArg::RemoteConnection => SessionState::RemoteConnection,
            StateArg::ConnectedToStation => SessionState::ConnectedToStation,
            StateArg::Disconnected => SessionState::Disconnected,
        }
    }
}

/// Which sessions a command is about, beyond IDs and --all (the same for listing and for
/// acting: an action lists first and acts on the sessions that match).
#[derive(Debug, Args)]
pub struct FilterArgs {
    /// Only sessions of USER (repeatable).
    #[arg(short, long = "user", value_name = "USER")]
    pub users: Vec<String>,
    /// Only sessions in STATE (repeatable).
    #[arg(long = "state", value_enum, ignore_case = true, value_name = "STATE")]
    pub states: Vec<StateArg>,
    /// Only sessions idle at least DURATION (seconds, or with s, m, h or d: 90, 30m, 2h).
    /// A Disconnected session counts as idle: nobody is connected to type into it.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration)]
    pub idle: Option<u64>,
}

impl FilterArgs {
    fn filter(self) -> Filter {
        Filter {
            users: self.users,
            states: self.states.into_iter().map(SessionState::from).collect(),
            min_idle_seconds: self.idle,
        }
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Preference {
    Continue,
    SilentlyContinue,
    Ignore,
    Stop,
    /// Ask on the terminal whether to go on.
    Inquire,
}

#[derive(Debug, Args)]
pub struct Common {
    /// Target host (repeatable); default localhost.
    #[arg(long = "server", visible_alias = "computer-name", value_name = "HOST")]
    pub servers: Vec<String>,
    /// Also target every host named in FILE (one per line; `#` starts a comment).
    #[arg(long, value_name = "FILE")]
    pub hosts_file: Option<std::path::PathBuf>,
    /// Narrate what is done, on standard error.
    #[arg(short, long)]
    pub verbose: bool,
    /// Show the engine's steps (DEBUG: lines on standard error).
    #[arg(long)]
    pub debug: bool,
    /// What an error does: continue (default), silently-continue, ignore, stop, or inquire.
    #[arg(long, value_enum, value_name = "ACTION")]
    pub error_action: Option<Preference>,
    /// What a warning (a skipped session) does.
    #[arg(long, value_enum, value_name = "ACTION")]
    pub warning_action: Option<Preference>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// Session IDs (space- or comma-separated); default all.
    #[arg(value_name = "ID")]
    pub ids: Vec<String>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "list")]
    pub output: Format,
    /// Also list sessions of these classes (comma-separated or repeated: user, greeter,
    /// lock-screen, background, manager, or all); by default logins only (user, greeter).
    #[arg(long, value_name = "CLASS")]
    pub class: Vec<String>,
    /// Sort by this property (SessionId, UserName, CpuSeconds, MemoryBytes, LogonTime, ...).
    #[arg(long, value_name = "PROPERTY")]
    pub sort: Option<String>,
    /// Sort from the largest down (with --sort).
    #[arg(long, requires = "sort")]
    pub descending: bool,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: Common,
}

#[derive(Debug, Args)]
pub struct ActArgs {
    /// Session IDs (space- or comma-separated).
    #[arg(value_name = "ID", conflicts_with = "all")]
    pub ids: Vec<String>,
    /// Every session the caller may act on; the others are reported as skipped.
    #[arg(long)]
    pub all: bool,
    /// Show what would happen and change nothing.
    #[arg(long, visible_alias = "whatif")]
    pub what_if: bool,
    /// Ask before each session.
    #[arg(long)]
    pub confirm: bool,
    /// Print one JSON result object per target.
    #[arg(short, long, value_enum)]
    pub output: Option<Format>,
    #[command(flatten)]
    pub filter: FilterArgs,
    #[command(flatten)]
    pub common: Common,
}

/// A usage error of the Unix spelling (exit status 2; nothing was done).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsageError {
    #[error("invalid session ID '{0}': a session ID is a number from 0 to 4294967295")]
    SessionId(String),
    #[error("actions print results only as JSON: use -o json, or no -o")]
    ActionFormat,
    #[error("--logind shows no message: logind only asks the session's desktop to lock, and its own locker draws the lock screen; give --message or --logind, not both")]
    LogindMessage,
    #[error("lock needs --message TEXT (the notice wms shows), or --logind (logind's lock, without a message)")]
    LockNeedsMessage,
    #[error(transparent)]
    View(#[from] crate::view::ViewError),
}

/// Parses space- or comma-separated session IDs; the error names the bad one.
pub fn parse_ids(words: &[String]) -> Result<Vec<u32>, UsageError> {
    words
        .iter()
        .flat_map(|w| w.split(','))
        .filter(|w| !w.trim().is_empty())
        .map(|w| {
            w.trim()
                .parse::<u32>()
                .map_err(|_| UsageError::SessionId(w.to_string()))
        })
        .collect()
}

fn format(f: Format) -> OutputFormat {
    match f {
        Format::List => OutputFormat::List,
        Format::Table => OutputFormat::Table,
        Format::Wide => OutputFormat::Wide,
        Format::Json => OutputFormat::Json,
    }
}

fn pref(p: Option<Preference>) -> ActionPreference {
    match p {
        None | Some(Preference::Continue) => ActionPreference::Continue,
        Some(Preference::SilentlyContinue) => ActionPreference::SilentlyContinue,
        Some(Preference::Ignore) => ActionPreference::Ignore,
        Some(Preference::Stop) => ActionPreference::Stop,
        Some(Preference::Inquire) => ActionPreference::Inquire,
    }
}

fn request(verb: Verb, selection: SelectionArg, common: Common) -> Request {
    Request {
        spelling: Spelling::Unix,
        verb,
        selection,
        filter: Filter::default(),
        servers: common.servers,
        hosts_file: common.hosts_file,
        message: None,
        logind: false,
        what_if: false,
        confirm: false,
        verbose: common.verbose,
        debug: common.debug,
        error_action: pref(common.error_action),
        warning_action: pref(common.warning_action),
        output: None,
        view: crate::view::View::default(),
        thumbnail: None,
    }
}

/// Turns parsed arguments into a request; the error is a usage message.
pub fn to_request(cli: Cli) -> Result<Request, UsageError> {
    match cli.command {
        Command::Session(SessionCommand::List(a)) => {
            let ids = parse_ids(&a.ids)?;
            let sel = if ids.is_empty() {
                SelectionArg::All
            } else {
                SelectionArg::Ids(ids)
            };
            let view = crate::view::View {
                classes: if a.class.is_empty() {
                    None
                } else {
                    Some(crate::view::parse_classes(&a.class)?)
                },
                sort: a.sort.as_deref().map(crate::view::parse_sort).transpose()?,
                descending: a.descending,
            };
            Ok(Request {
                output: Some(format(a.output)),
                filter: a.filter.filter(),
                view,
                ..request(Verb::Get, sel, a.common)
            })
        }
        Command::System(_) => unreachable!("system commands are not session requests"),
        Command::Session(SessionCommand::Close(a)) => act_request(Verb::Close, a, None),
        Command::Session(SessionCommand::Disconnect(a)) => act_request(Verb::Disconnect, a, None),
        Command::Session(SessionCommand::Lock(l)) => match (l.message, l.logind) {
            (Some(_), true) => Err(UsageError::LogindMessage),
            (None, false) => Err(UsageError::LockNeedsMessage),
            (message, logind) => Ok(Request {
                logind,
                ..act_request(Verb::Lock, l.act, message)?
            }),
        },
        Command::Session(SessionCommand::Unlock(u)) => Ok(Request {
            logind: u.logind,
            ..act_request(Verb::Unlock, u.act, None)?
        }),
        Command::Session(SessionCommand::Message(m)) => {
            act_request(Verb::Message, m.act, Some(m.text))
        }
        Command::Session(SessionCommand::Thumbnail(t)) => {
            let ids = parse_ids(&t.ids)?;
            use wms_core::ThumbnailSize as S;
            let size = match t.size {
                SizeArg::Small => S::Small,
                SizeArg::Medium => S::Medium,
                SizeArg::Large => S::Large,
                SizeArg::Full => S::FullScreen,
            };
            Ok(Request {
                thumbnail: Some(crate::plan::ThumbnailWant {
                    size,
                    dir: t.output,
                }),
                ..request(Verb::Get, SelectionArg::Ids(ids), t.common)
            })
        }
        Command::Dashboard(d) => Ok(every_session(d.servers, d.hosts_file)),
        Command::Session(SessionCommand::Watch(w)) => Ok(every_session(w.servers, w.hosts_file)),
    }
}

/// Every session of the servers named (a watch, the dashboard).
fn every_session(servers: Vec<String>, hosts_file: Option<std::path::PathBuf>) -> Request {
    Request {
        servers,
        hosts_file,
        ..request(
            Verb::Get,
            SelectionArg::All,
            Common {
                servers: Vec::new(),
                hosts_file: None,
                verbose: false,
                debug: false,
                error_action: None,
                warning_action: None,
            },
        )
    }
}

fn act_request(verb: Verb, a: ActArgs, message: Option<String>) -> Result<Request, UsageError> {
    let ids = parse_ids(&a.ids)?;
    let sel = match (a.all, ids.is_empty()) {
        (true, _) => SelectionArg::All,
        (false, false) => SelectionArg::Ids(ids),
        (false, true) => SelectionArg::Unbound,
    };
    if matches!(a.output, Some(Format::List | Format::Table | Format::Wide)) {
        return Err(UsageError::ActionFormat);
    }
    Ok(Request {
        filter: a.filter.filter(),
        what_if: a.what_if,
        confirm: a.confirm,
        output: a.output.map(format),
        message,
        ..request(verb, sel, a.common)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Request, String> {
        let cli = Cli::try_parse_from(std::iter::once("wms").chain(args.iter().copied()))
            .map_err(|e| e.to_string())?;
        to_request(cli).map_err(|e| e.to_string())
    }

    #[test]
    fn ids_may_be_spaced_or_comma_separated() {
        let r = parse(&["session", "close", "3,4", "5"]).unwrap();
        assert_eq!(r.selection, SelectionArg::Ids(vec![3, 4, 5]));
    }

    #[test]
    fn a_bad_id_is_named() {
        let e = parse(&["session", "close", "3", "x1"]).unwrap_err();
        assert_eq!(
            e,
            "invalid session ID 'x1': a session ID is a number from 0 to 4294967295"
        );
        assert!(parse(&["session", "list", "-1"]).is_err());
    }

    #[test]
    fn all_conflicts_with_ids_and_no_ids_means_pipeline() {
        assert!(parse(&["session", "close", "3", "--all"]).is_err());
        assert!(
            parse(&["session", "lock", "3"]).is_err(),
            "lock needs --message"
        );
        let e = parse(&["session", "lock", "3", "--logind", "-m", "hi"]).unwrap_err();
        assert!(e.contains("--logind shows no message"), "{e}");
        let r = parse(&["session", "lock", "3", "--logind"]).unwrap();
        assert!(r.logind && r.message.is_none());
        assert!(
            parse(&["session", "unlock", "3", "--logind"])
                .unwrap()
                .logind
        );
        let r = parse(&["session", "lock", "--all", "-m", "Exam over"]).unwrap();
        assert_eq!(
            (r.verb, r.message.as_deref()),
            (Verb::Lock, Some("Exam over"))
        );
        assert!(parse(&["session", "message", "3"]).is_err(), "needs --text");
        let r = parse(&["session", "message", "3", "4", "--text", "Back at 5"]).unwrap();
        assert_eq!(
            (r.verb, r.message.as_deref(), r.selection),
            (
                Verb::Message,
                Some("Back at 5"),
                SelectionArg::Ids(vec![3, 4])
            )
        );
        let r = parse(&[
            "session",
            "message",
            "--all",
            "--message",
            "hi",
            "--what-if",
        ])
        .unwrap();
        assert_eq!((r.selection, r.what_if), (SelectionArg::All, true));
        let r = parse(&["session", "close"]).unwrap();
        assert_eq!(r.selection, SelectionArg::Unbound);
        let r = parse(&["session", "list"]).unwrap();
        assert_eq!(r.selection, SelectionArg::All);
    }

    #[test]
    fn a_hosts_file_is_kept_for_the_plan() {
        // Read when the plan is made (plan::tests::hosts_files_skip_blanks_and_comments).
        let r = parse(&["session", "list", "--hosts-file", "/nonexistent/hosts"]).unwrap();
        assert_eq!(
            r.hosts_file.as_deref(),
            Some(std::path::Path::new("/nonexistent/hosts"))
        );
    }

    #[test]
    fn flags_map_to_the_request() {
        let r = parse(&[
            "session",
            "close",
            "--all",
            "--what-if",
            "--server",
            "a",
            "--server",
            "b",
            "-o",
            "json",
            "--error-action",
            "stop",
        ])
        .unwrap();
        assert!(r.what_if && !r.confirm);
        assert_eq!(r.servers, ["a", "b"]);
        assert_eq!(r.output, Some(OutputFormat::Json));
        assert_eq!(r.error_action, ActionPreference::Stop);
    }
}
