//! The front door of the host backend: [`Host`], what the CLI and the agent call. It
//! knows the caller, plans an action with the core's rules over the sessions
//! [`crate::discover`] finds, and carries it out through the actions ([`crate::close`],
//! [`crate::disconnect`], [`crate::lock`], [`crate::message`]), turning what each did into an [`Outcome`].

use crate::config::Config;
use crate::config::SourceMode;
use crate::discover::{self, ssh_client};
use crate::identity::{own_role, HostNames};
use crate::logind::LogindSession;
use crate::process::follow::CloseCache;
use crate::process::{par_chunks, scan_where, ProcessKey, SessionProcess};
use crate::procfs;
use std::collections::HashMap;
use std::io;
use wms_core::api::{ActionRequest, ActionVerb};
use wms_core::{
    plan, Caller, Outcome, Pid, Selection, Session, SessionId, SessionState, SessionType, Step,
    TargetResult, Uid,
};

/// An action planned for a caller and not yet carried out ([`Host::plan_action`]).
#[derive(Debug, Clone)]
pub struct PlannedAction {
    verb: ActionVerb,
    what_if: bool,
    message: Option<String>,
    /// Lock or unlock through logind.
    logind: bool,
    steps: Vec<Step>,
}

/// One target of a planned action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlannedTarget {
    pub session_id: SessionId,
    pub user_name: Option<String>,
    /// Whether the action will be carried out on it (else it is answered at once:
    /// NotFound, AccessDenied, OwnSession, Skipped, or WhatIf).
    pub acts: bool,
}

impl PlannedAction {
    /// Every target in order, and whether it will be acted on.
    pub fn targets(&self) -> Vec<PlannedTarget> {
        self.steps
            .iter()
            .map(|step| match step {
                Step::Act(s) => PlannedTarget {
                    session_id: s.session_id,
                    user_name: Some(s.user_name.clone()),
                    acts: !self.what_if,
                },
                Step::Report {
                    session_id,
                    user_name,
                    ..
                } => PlannedTarget {
                    session_id: *session_id,
                    user_name: user_name.clone(),
                    acts: false,
                },
            })
            .collect()
    }

    /// Whether anything will be changed (some target acted on, not what-if).
    pub fn changes_anything(&self) -> bool {
        !self.what_if && self.steps.iter().any(|s| matches!(s, Step::Act(_)))
    }
}

/// The host as wms sees it: its configuration and names.
#[derive(Debug, Clone)]
pub struct Host {
    pub config: Config,
    pub names: HostNames,
    /// What closes share: the last listing, and the process events that follow it (see
    /// [`CloseCache`]). Clones of a host share it.
    close_cache: std::sync::Arc<CloseCache>,
    /// What was learned of each session while its leader was alive (see
    /// [`discover::SessionMemory`]). Clones of a host share it.
    memory: std::sync::Arc<std::sync::Mutex<discover::SessionMemory>>,
    /// logind's records as last read, and when they were all read (see
    /// [`Host::logind_sessions`]). Clones of a host share them.
    logind: std::sync::Arc<std::sync::Mutex<LogindCache>>,
    /// The processes each session was last built from (oldest first), for
    /// [`Host::refresh`]. Clones of a host share them.
    built_from: std::sync::Arc<std::sync::Mutex<HashMap<SessionId, Vec<ProcessKey>>>>,
}

/// logind's records by its session ID, and when each was read.
#[derive(Debug, Default)]
struct LogindCache {
    records: HashMap<String, (std::time::Instant, LogindSession)>,
}

impl LogindCache {
    /// How long a record is used before it is read again: what logind knows of how a
    /// session was opened never changes, its hints (idle, locked) may.
    const FRESH: std::time::Duration = std::time::Duration::from_secs(1);
}

impl Host {
    pub fn new(config: Config) -> Host {
        Host {
            config,
            names: HostNames::discover(),
            close_cache: Default::default(),
            memory: Default::default(),
            logind: Default::default(),
            built_from: Default::default(),
        }
    }

    /// The caller, when the engine runs in-process with the caller's own identity.
    pub fn caller(&self) -> Caller {
        Caller {
            uid: Uid(rustix::process::getuid().as_raw()),
            role: own_role(&self.config),
            own_session: procfs::session_id(Pid(std::process::id() as i32))
                .and_then(SessionId::from_kernel),
        }
    }

    /// A caller on the agent's Unix socket, from the credentials the kernel recorded when
    /// it connected (see [`crate::peer`]): never from a process looked up later.
    pub fn caller_from(&self, peer: &crate::peer::PeerCredentials) -> Caller {
        Caller {
            uid: peer.uid,
            role: crate::identity::role_of(peer.uid.0, &peer.gids, &self.config),
            own_session: peer.own_session,
        }
    }

    /// Carries out `verb` on `session` for `caller` (`message` is Lock's notice, or the
    /// message sent).
    pub fn act(
        &self,
        caller: &Caller,
        verb: ActionVerb,
        session: &Session,
        message: Option<&str>,
    ) -> Outcome {
        match verb {
            ActionVerb::Close => self.close(session),
            ActionVerb::Disconnect => self.disconnect(session),
            ActionVerb::Lock => self.lock(caller, session, message.unwrap_or_default()),
            ActionVerb::Unlock => self.unlock(session),
            ActionVerb::Message => self.message(caller, session, message.unwrap_or_default()),
        }
    }

    /// The engine, wherever it runs (in-process or in the agent): plans `req` for `caller`
    /// with the core's rules over the current sessions, then acts on each session the
    /// caller may act on (or answers WhatIf). One result per target, in order.
    pub fn run_action(
        &self,
        caller: &Caller,
        req: &ActionRequest,
        selection: &Selection,
    ) -> io::Result<Vec<TargetResult>> {
        let planned = self.plan_action(caller, req, selection)?;
        Ok(self.execute(caller, planned))
    }

    /// Plans `req` for `caller` with the core's rules over the current sessions, and does
    /// nothing yet: the agent records what it is about to do before [`Host::execute`].
    pub fn plan_action(
        &self,
        caller: &Caller,
        req: &ActionRequest,
        selection: &Selection,
    ) -> io::Result<PlannedAction> {
        // Sessions named by ID are all the plan looks at: build only those (a host with
        // many sessions would otherwise resolve every user and read every environment).
        let sessions = match selection {
            Selection::All => self.sessions()?,
            Selection::Ids(ids) => {
                let ids: std::collections::HashSet<SessionId> = ids.iter().copied().collect();
                self.sessions_where(&|s| ids.contains(&s))?
            }
        };
        Ok(self.plan_action_over(caller, req, selection, &sessions))
    }

    /// [`Host::plan_action`] over `sessions` the caller already has (the agent's live
    /// table, built with [`Host::sessions_from`], which also records them for the closes
    /// that follow). They must hold every session `selection` names that exists.
    pub fn plan_action_over(
        &self,
        caller: &Caller,
        req: &ActionRequest,
        selection: &Selection,
        sessions: &[Session],
    ) -> PlannedAction {
        PlannedAction {
            verb: req.verb,
            what_if: req.what_if,
            message: req.message.clone(),
            logind: req.logind,
            steps: plan(caller, req.verb.verb(), selection, sessions),
        }
    }

    /// Carries out a planned action: acts on each session the plan allows (or answers
    /// WhatIf), and answers the rest as planned. One result per target, in order.
    pub fn execute(&self, caller: &Caller, planned: PlannedAction) -> Vec<TargetResult> {
        let PlannedAction {
            verb,
            what_if,
            message,
            logind,
            steps,
        } = planned;
        let one = |step: Step| match step {
            Step::Report {
                session_id,
                user_name,
                outcome,
            } => TargetResult {
                computer_name: self.names.fqdn.clone(),
                session_id,
                user_name,
                class: None,
                outcome,
            },
            Step::Act(s) => TargetResult {
                computer_name: s.computer_name.clone(),
                session_id: s.session_id,
                user_name: Some(s.user_name.clone()),
                class: s.class.filter(|c| !c.is_login()),
                outcome: if what_if {
                    Outcome::WhatIf
                } else if logind {
                    self.lock_through_logind(&s, verb == ActionVerb::Lock)
                } else {
                    self.act(caller, verb, &s, message.as_deref())
                },
            },
        };
        // A lock or unlock mostly waits (for a desktop's locker to start, its X server to
        // answer), each on its own session: they run side by side, so that locking a room
        // of desktops takes about as long as locking one. Closes keep their own pacing.
        let side_by_side = matches!(verb, ActionVerb::Lock | ActionVerb::Unlock) && !what_if;
        let results: Vec<TargetResult> = if side_by_side && steps.len() > 1 {
            const AT_ONCE: usize = 32;
            let mut steps = steps;
            let mut results = Vec::with_capacity(steps.len());
            while !steps.is_empty() {
                let batch: Vec<Step> = steps.drain(..steps.len().min(AT_ONCE)).collect();
                std::thread::scope(|scope| {
                    let handles: Vec<_> = batch
                        .into_iter()
                        .map(|step| scope.spawn(|| one(step)))
                        .collect();
                    for h in handles {
                        match h.join() {
                            Ok(r) => results.push(r),
                            Err(panic) => std::panic::resume_unwind(panic),
                        }
                    }
                });
            }
            results
        } else {
            steps.into_iter().map(one).collect()
        };
        // A long-lived host (the agent) would otherwise keep following process events
        // until its next listing.
        self.close_cache.done();
        results
    }

    /// Every session on this host, of every class, in session ID order.
    pub fn sessions(&self) -> io::Result<Vec<Session>> {
        let from = std::time::SystemTime::now();
        let all = self.sessions_where(&|_| true)?;
        // Records of logins that have ended are dropped (see `logins`).
        crate::logins::LoginRecords::new(&self.config.state_dir).forget_all_but(
            &|id| all.binary_search_by_key(&id, |s| s.session_id.0).is_ok(),
            from,
        );
        Ok(all)
    }

    /// The sessions `keep` takes, in session ID order.
    fn sessions_where(
        &self,
        keep: &(dyn Fn(SessionId) -> bool + Sync),
    ) -> io::Result<Vec<Session>> {
        // logind is asked while /proc is read: its answer takes about as long as the scan.
        let (sessions, logind_error) = std::thread::scope(|s| {
            let logind = s.spawn(|| self.logind_sessions());
            let procs = scan_where(keep)?;
            let logind = move || {
                logind
                    .join()
                    .unwrap_or_else(|p| std::panic::resume_unwind(p))
            };
            // Just read: what each process has used is current.
            io::Result::Ok(self.build(procs, &|_, procs| ssh_client(procs), true, logind))
        })?;
        match logind_error {
            Some(e) => Err(e),
            None => Ok(sessions),
        }
    }

    /// logind's sessions by audit session ID, as `session_source` asks: none with `proc`,
    /// none where logind does not answer with `auto`, and an error then with `logind`.
    fn logind_sessions(&self) -> io::Result<HashMap<SessionId, LogindSession>> {
        if self.config.session_source == SourceMode::Proc {
            return Ok(HashMap::new());
        }
        // A long-lived host (the agent) lists often: each listing asks logind which
        // sessions it has, and reads only the records that are new or a second old.
        let now = std::time::Instant::now();
        let fresh: HashMap<String, LogindSession> = {
            let cache = self.logind.lock().unwrap_or_else(|p| p.into_inner());
            cache
                .records
                .iter()
                .filter(|(_, (at, _))| now.duration_since(*at) < LogindCache::FRESH)
                .map(|(id, (_, l))| (id.clone(), l.clone()))
                .collect()
        };
        match crate::logind::sessions_but(&|id| fresh.contains_key(id)) {
            Ok((ids, read)) => {
                let mut cache = self.logind.lock().unwrap_or_else(|p| p.into_inner());
                for l in read {
                    cache.records.insert(l.id.clone(), (now, l));
                }
                let listed: std::collections::HashSet<&String> = ids.iter().collect();
                cache.records.retain(|id, _| listed.contains(id));
                Ok(cache
                    .records
                    .values()
                    .filter_map(|(_, l)| Some((SessionId(l.audit?), l.clone())))
                    .collect())
            }
            Err(e) if self.config.session_source == SourceMode::Logind => Err(io::Error::other(
                format!("session_source is logind, but {e}"),
            )),
            Err(e) => {
                tracing::debug!(error = %e, "listing from /proc alone");
                Ok(HashMap::new())
            }
        }
    }

    /// The sessions of the processes `procs` (from [`crate::process::scan`]), in session
    /// ID order, with the client address of each from `client_of` (given the session's
    /// processes, oldest first; [`discover::ssh_client`] reads it from their environments,
    /// a caller that keeps sessions can answer from what it read before), and what logind
    /// knows of them where it runs (see `session_source`). The sessions listed here are
    /// the ones later closes follow (see `process::follow`).
    pub fn sessions_from(
        &self,
        procs: Vec<SessionProcess>,
        client_of: &(dyn Fn(SessionId, &[SessionProcess]) -> Option<String> + Sync),
    ) -> Vec<Session> {
        let (sessions, logind_error) =
            self.build(procs, client_of, false, || self.logind_sessions());
        if let Some(e) = logind_error {
            tracing::warn!(error = %e, "logind's sessions could not be read");
        }
        sessions
    }

    /// [`Host::sessions_from`], and the error when `session_source = "logind"` and logind
    /// did not answer (the sessions are then from /proc alone). Unless `fresh` (the
    /// processes were read just now), what each process has used (CPU time, resident
    /// memory) is read again: a table kept by process events does not see it change.
    /// `logind` gives logind's sessions (see [`Host::logind_sessions`]); it is called on a
    /// thread of its own while the processes' environments are read.
    fn build(
        &self,
        procs: Vec<SessionProcess>,
        client_of: &(dyn Fn(SessionId, &[SessionProcess]) -> Option<String> + Sync),
        fresh: bool,
        logind: impl FnOnce() -> io::Result<HashMap<SessionId, LogindSession>> + Send,
    ) -> (Vec<Session>, Option<io::Error>) {
        let sessions = discover::by_session(procs);
        // Asked at once, while /proc is read.
        let euid = rustix::process::geteuid().as_raw();
        let logind = std::thread::scope(|s| {
            let logind = s.spawn(logind);
            let locks = crate::lock::load_all(&self.config.state_dir);
            // The client address is the one part that reads more than stat:
            // environments, in parallel like the scan.
            let clients = par_chunks(&sessions, 16, |chunk| {
                chunk
                    .iter()
                    .map(|(id, procs)| {
                        let usage = if fresh {
                            None
                        } else {
                            let keys: Vec<ProcessKey> = procs.iter().map(|p| p.key()).collect();
                            Some(discover::usage_now(&keys))
                        };
                        let readable = procs
                            .first()
                            .is_some_and(|p| euid == 0 || euid == p.login_uid);
                        let desktop = discover::desktop_seen(procs, readable);
                        (client_of(*id, procs), usage, desktop)
                    })
                    .collect()
            });
            let logind = logind
                .join()
                .unwrap_or_else(|p| std::panic::resume_unwind(p));
            (logind, locks, clients)
        });
        let (logind, locks, clients) = logind;
        let (logind, logind_error) = match logind {
            Ok(l) => (l, None),
            Err(e) => (HashMap::new(), Some(e)),
        };
        self.close_cache.listed(
            sessions
                .iter()
                .map(|(id, procs)| (*id, procs.iter().map(|p| p.stat.pid).collect())),
        );
        let mut memory = self.memory.lock().unwrap_or_else(|p| p.into_inner());
        let mut builder = discover::Builder::new(&self.config, &self.names, &mut memory);
        let mut built: Vec<Session> = sessions
            .iter()
            .zip(clients)
            .map(|((id, procs), client)| {
                let (client, usage, desktop) = client;
                let mut s = builder.build(*id, procs, client);
                discover::set_desktop(&mut s, desktop);
                if let Some(usage) = usage {
                    builder.set_usage(&mut s, usage);
                }
                if let Some(l) = logind.get(id) {
                    discover::lay_logind_over(&mut s, l, procs.first().map(|p| p.stat.pid));
                }
                if let Some(l) = locks.iter().find(|l| l.session_id == id.0) {
                    s.is_locked = true;
                    s.lock_message = Some(l.message.clone());
                }
                s
            })
            .collect();
        drop(builder);
        lay_xrdp_over(&mut built, |id| {
            sessions
                .iter()
                .find(|(i, _)| *i == id)
                .map(|(_, procs)| procs.iter().map(|p| p.stat.pid).collect())
                .unwrap_or_default()
        });
        {
            let mut from = self.built_from.lock().unwrap_or_else(|p| p.into_inner());
            for (id, procs) in &sessions {
                from.insert(*id, procs.iter().map(|p| p.key()).collect());
            }
            if from.len() > 2 * built.len() + 1024 {
                from.retain(|id, _| built.binary_search_by_key(id, |s| s.session_id).is_ok());
            }
        }
        memory.prune(&built.iter().map(|s| s.session_id).collect());
        (built, logind_error)
    }

    /// Brings up to date what changes in a session without any process event: the
    /// seconds since its terminal last had input, what its processes have used (CPU time,
    /// resident memory), and logind's view (its hints, and its record of a session it
    /// registered after the session was built). For a caller that keeps sessions built
    /// by [`Host::sessions_from`] while their processes stay the same (the agent).
    pub fn refresh(&self, sessions: &mut [Session]) {
        let now = wms_core::time::now_unix();
        let from: Vec<Option<Vec<ProcessKey>>> = {
            let from = self.built_from.lock().unwrap_or_else(|p| p.into_inner());
            sessions
                .iter()
                .map(|s| from.get(&s.session_id).cloned())
                .collect()
        };
        let usage = par_chunks(&from, 64, |chunk| {
            chunk
                .iter()
                .map(|keys| keys.as_deref().map(discover::usage_now))
                .collect()
        });
        let logind = self.logind_sessions().unwrap_or_default();
        let tick = rustix::param::clock_ticks_per_second().max(1) as f64;
        let page = rustix::param::page_size() as u64;
        for ((s, usage), keys) in sessions.iter_mut().zip(usage).zip(&from) {
            if let Some(tty) = &s.tty {
                s.idle_seconds = discover::idle_seconds(tty, now);
            }
            if let Some((cpu, rss)) = usage {
                s.cpu_seconds = Some(cpu as f64 / tick);
                s.memory_bytes = Some(rss.saturating_mul(page));
            }
            if let Some(l) = logind.get(&s.session_id) {
                let oldest = keys.as_ref().and_then(|k| k.first()).map(|k| k.pid);
                discover::lay_logind_over(s, l, oldest);
            }
        }
        // An RDP client comes and goes without a process event in its session.
        self.refresh_connections(sessions);
    }

    /// Brings up to date which xrdp desktops among `sessions` (built by
    /// [`Host::sessions_from`]) have an RDP client now: a client comes and goes without any
    /// process event in the session, since the xrdp process serving it is outside. For a
    /// caller that keeps sessions and tells of their changes (the agent's events).
    pub fn refresh_connections(&self, sessions: &mut [Session]) {
        let from = self.built_from.lock().unwrap_or_else(|p| p.into_inner());
        lay_xrdp_over(sessions, |id| {
            from.get(&id)
                .map(|keys| keys.iter().map(|k| k.pid).collect())
                .unwrap_or_default()
        });
    }

    /// Whether `session` is a remote desktop whose connection only
    /// [`Host::refresh_connections`] follows.
    pub fn is_remote_desktop(session: &Session) -> bool {
        session.service.as_deref() == Some(crate::xrdp::SERVICE)
    }

    /// Thumbnails of `size` of the sessions `selection` names that `caller` may look at
    /// (see [`crate::desktop::thumbnails`]); `intent` records what is about to be looked at.
    pub fn thumbnails(
        &self,
        caller: &Caller,
        selection: &Selection,
        size: wms_core::ThumbnailSize,
        intent: &mut dyn FnMut(&[crate::desktop::Viewed]) -> io::Result<()>,
    ) -> io::Result<Vec<crate::desktop::ThumbnailResult>> {
        let sessions = match selection {
            Selection::All => self.sessions()?,
            Selection::Ids(ids) => {
                let ids: std::collections::HashSet<SessionId> = ids.iter().copied().collect();
                self.sessions_where(&|s| ids.contains(&s))?
            }
        };
        crate::desktop::thumbnails(caller, selection, &sessions, size, &self.names.fqdn, intent)
    }

    /// Closes (logs off) `session`: see [`crate::close`].
    pub fn close(&self, session: &Session) -> Outcome {
        match crate::close::close_listed(
            &self.close_cache,
            session.session_id,
            self.config.grace(),
            self.config.kill_deadline(),
        ) {
            Ok(report) => {
                tracing::debug!(
                    session = session.session_id.0,
                    terminated = report.terminated,
                    killed = report.killed,
                    "session closed"
                );
                crate::lock::forget(&self.config.state_dir, session.session_id);
                Outcome::Done
            }
            Err(cause) => Outcome::Failed(cause.to_string()),
        }
    }

    /// Disconnects `session`: see [`crate::disconnect`].
    pub fn disconnect(&self, session: &Session) -> Outcome {
        use crate::disconnect::{disconnect, Disconnected};
        let remote = session.state != Some(SessionState::ConnectedToStation);
        match disconnect(session.session_id, remote, session.service.as_deref()) {
            Ok(Disconnected::Now) => Outcome::Done,
            Ok(Disconnected::Already) => {
                tracing::debug!(session = session.session_id.0, "already disconnected");
                Outcome::Done
            }
            Err(e) if e.is_not_supported() => Outcome::NotSupported(e.to_string()),
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// Locks `session` with `message`, by its kind: a terminal (see [`crate::lock`]), an
    /// X11 desktop (see [`crate::lock::desktop`]); anything else is NotSupported, with why.
    pub fn lock(&self, caller: &Caller, session: &Session, message: &str) -> Outcome {
        // Who asked, as the rules knew them (the agent acts for its callers).
        let by = caller.uid.0;
        let desktop = matches!(
            session.session_type,
            Some(SessionType::X11 | SessionType::Wayland | SessionType::Mir)
        ) || session.display.is_some();
        let Some(tty) = session.tty.as_ref().filter(|_| !desktop) else {
            use crate::lock::desktop::DesktopLockError;
            return match crate::lock::desktop::lock(
                &self.config.state_dir,
                session.session_id,
                message,
                by,
            ) {
                Ok(()) => Outcome::Done,
                Err(DesktopLockError::NotSupported(why)) if !desktop => Outcome::NotSupported(
                    format!("it has no terminal, and no desktop wms can lock: {why}"),
                ),
                Err(DesktopLockError::Undrawable(why)) if !desktop => {
                    Outcome::NotSupported(format!(
                        "it has no terminal, and no desktop wms can lock: {why}{}",
                        logind_hint(session)
                    ))
                }
                Err(DesktopLockError::NotSupported(why) | DesktopLockError::Undrawable(why)) => {
                    Outcome::NotSupported(format!("{why}{}", logind_hint(session)))
                }
                Err(DesktopLockError::Failed(why)) => Outcome::Failed(why),
            };
        };
        match crate::lock::lock(&self.config.state_dir, session.session_id, tty, message, by) {
            Ok(()) => Outcome::Done,
            Err(why) => Outcome::Failed(why.to_string()),
        }
    }

    /// Asks logind to lock (`lock`) or unlock `session` (see [`crate::logind::lock`]): Done
    /// when its desktop confirms it through LockedHint within 2 s, Failed when it does not.
    pub fn lock_through_logind(&self, session: &Session, lock: bool) -> Outcome {
        use crate::logind::{Asked, LogindError};
        let wait = std::time::Duration::from_secs(2);
        let (verb, hint) = if lock {
            ("lock", "false")
        } else {
            ("unlock", "true")
        };
        match crate::logind::lock(session.session_id.0, session.uid.0, lock, wait) {
            Ok(Asked::Confirmed) => Outcome::Done,
            Ok(Asked::Unconfirmed) => Outcome::Failed(format!(
                "logind asked the session to {verb}, but its desktop did not confirm it (LockedHint stayed {hint}): nothing on it listens to logind's {}",
                if lock { "Lock" } else { "Unlock" }
            )),
            Ok(Asked::NotManaged) => {
                Outcome::NotSupported("logind does not manage this session".into())
            }
            Err(LogindError::NoBus | LogindError::NotRunning) => {
                Outcome::NotSupported("logind is not running".into())
            }
            Err(e) => Outcome::Failed(e.to_string()),
        }
    }

    /// Unlocks `session`; a session that is not locked is left as it is.
    pub fn unlock(&self, session: &Session) -> Outcome {
        match crate::lock::unlock(&self.config.state_dir, session.session_id) {
            Ok(_) => Outcome::Done,
            Err(why) => Outcome::Failed(why.to_string()),
        }
    }

    /// Sends `text` to `session`: shown on its desktop, or written to its terminals as
    /// `write` writes (see [`crate::message`]).
    pub fn message(&self, caller: &Caller, session: &Session, text: &str) -> Outcome {
        let sender = self.sender(caller);
        if session.display.is_some() {
            return self.message_desktop(session, &sender, text);
        }
        let bytes = crate::message::compose(&sender, text);
        match crate::message::write_to_terminals(session.session_id, session.uid, &bytes) {
            Ok(ttys) => {
                tracing::debug!(session = session.session_id.0, ?ttys, "message written");
                Outcome::Done
            }
            Err(crate::message::MessageError::NoTerminal) => Outcome::NotSupported(
                "it has no terminal and no desktop: there is nothing to show a message on".into(),
            ),
            Err(why) => Outcome::Failed(why.to_string()),
        }
    }

    /// Shows `text` in a window on the desktop of `session`, under a line naming the
    /// sender as `write`'s banner does (see [`crate::desktop_message`]).
    fn message_desktop(
        &self,
        session: &Session,
        sender: &crate::message::Sender,
        text: &str,
    ) -> Outcome {
        let shown = format!(
            "Message from {}@{} at {:02}:{:02}\n\n{text}",
            sender.user, sender.host, sender.hour, sender.minute
        );
        match crate::desktop_message::show(session.session_id, &shown) {
            Ok(()) => Outcome::Done,
            Err(crate::desktop_message::ShowError::NotSupported(why)) => Outcome::NotSupported(why),
            Err(crate::desktop_message::ShowError::Failed(why)) => Outcome::Failed(why),
        }
    }

    /// The sender as `write`'s banner names them: the caller's user name (a remote caller
    /// known only by its token is `wms`), this host, and the terminal wms runs on.
    fn sender(&self, caller: &Caller) -> crate::message::Sender {
        // (uid_t)-1 is no user: the agent's callers known by a token alone.
        let user = if caller.uid.0 == u32::MAX {
            "wms".to_string()
        } else {
            crate::identity::UserCache::default()
                .get(caller.uid, &self.config)
                .name
                .clone()
        };
        let tty = procfs::stat(Pid(std::process::id() as i32))
            .and_then(|s| procfs::tty_name(s.tty_nr))
            .unwrap_or_else(|| "<no tty>".into());
        let (hour, minute) =
            crate::sys::local_hour_minute(wms_core::time::now_unix()).unwrap_or((0, 0));
        crate::message::Sender {
            user,
            host: self.names.short.clone(),
            tty,
            hour,
            minute,
        }
    }
}

/// Where a desktop wms cannot lock runs in a session logind manages, what the administrator
/// may ask instead: its desktop's own locker may listen to logind's Lock. Said only when
/// logind manages the session.
fn logind_hint(session: &Session) -> String {
    if crate::logind::manages(session.session_id.0, session.uid.0) {
        format!(
            "; its desktop may listen to logind's lock: `wms session lock {} --logind`",
            session.session_id.0
        )
    } else {
        String::new()
    }
}

/// Lays over xrdp's sessions among `sessions` whether an RDP client is connected now (see
/// [`crate::xrdp`]); `pids_of` gives a session's processes. The sockets are read once, and
/// only when there is such a session.
fn lay_xrdp_over(sessions: &mut [Session], pids_of: impl Fn(SessionId) -> Vec<Pid>) {
    let xrdp: Vec<(SessionId, Vec<Pid>)> = sessions
        .iter()
        .filter(|s| Host::is_remote_desktop(s))
        .map(|s| (s.session_id, pids_of(s.session_id)))
        .collect();
    if xrdp.is_empty() {
        return;
    }
    let conns = crate::xrdp::connections(&xrdp);
    if let Err(e) = &conns {
        tracing::debug!(error = %e, "which xrdp sessions have a client is not known");
    }
    for s in sessions.iter_mut().filter(|s| Host::is_remote_desktop(s)) {
        let now = conns
            .as_ref()
            .ok()
            .map(|c| c.get(&s.session_id).map(Vec::as_slice).unwrap_or(&[]));
        discover::lay_xrdp_over(s, now);
    }
}
