//! Session discovery: every live process with an audit session ID, grouped into the
//! sessions of SPEC section 3, with every field this host can know.

use crate::config::Config;
use crate::identity::{own_role, HostNames, UserCache};
use crate::procfs::{self, Stat};
use std::collections::{BTreeMap, HashMap};
use std::io;
use wms_core::api::{ActionRequest, ActionVerb};
use wms_core::{
    plan, Caller, Outcome, Pid, Selection, Session, SessionId, SessionState, Step, TargetResult,
    Uid,
};

/// A process that belongs to a login session.
#[derive(Debug, Clone)]
pub struct SessionProcess {
    pub session: SessionId,
    pub login_uid: u32,
    pub stat: Stat,
    /// Where its environment lies in its memory, when `/proc/PID/stat` shows it.
    pub env_range: Option<(u64, u64)>,
}

/// Reads every live process that belongs to a login session. Processes that exit during
/// the scan are simply not part of it.
///
/// The scan is spread over the CPUs (see [`par_chunks`]): reading `/proc` is system calls
/// that run in parallel in the kernel. Every process of a session has the session's login
/// uid (the kernel sets the login uid and a new session ID together, and a child inherits
/// both), so `loginuid` is read once per session rather than once per process.
pub fn scan() -> io::Result<Vec<SessionProcess>> {
    scan_where(&|_| true)
}

/// [`scan`], reading more than the session ID only of processes of sessions `keep` takes.
fn scan_where(keep: &(dyn Fn(SessionId) -> bool + Sync)) -> io::Result<Vec<SessionProcess>> {
    let pids = procfs::pids()?;
    Ok(par_chunks(&pids, SCAN_CHUNK, |chunk| {
        let mut login_uids: HashMap<SessionId, u32> = HashMap::new();
        let mut out = Vec::new();
        for &pid in chunk {
            let Some(session) = procfs::session_id(pid)
                .and_then(SessionId::from_kernel)
                .filter(|s| keep(*s))
            else {
                continue;
            };
            let Some((stat, env_range)) = procfs::stat_and_env_range(pid) else {
                continue;
            };
            let login_uid = match login_uids.get(&session) {
                Some(&uid) => uid,
                None => {
                    let Some(uid) = procfs::login_uid(pid) else {
                        continue;
                    };
                    login_uids.insert(session, uid);
                    uid
                }
            };
            if !stat.is_dead() {
                out.push(SessionProcess {
                    session,
                    login_uid,
                    stat,
                    env_range,
                });
            }
        }
        out
    }))
}

/// How many PIDs a scanning thread takes at a time.
const SCAN_CHUNK: usize = 64;

/// Maps `f` over `items` in chunks of `chunk` on up to one thread per CPU (each taking the
/// next chunk when done with one, so uneven chunks balance), and returns the results in
/// the order of `items`. Small inputs, or a thread that cannot be started, are done on
/// the calling thread.
pub(crate) fn par_chunks<T: Sync, R: Send>(
    items: &[T],
    chunk: usize,
    f: impl Fn(&[T]) -> Vec<R> + Sync,
) -> Vec<R> {
    par_chunks_counted(items, chunk, f).0
}

/// [`par_chunks`], also telling how many threads it started.
pub(crate) fn par_chunks_counted<T: Sync, R: Send>(
    items: &[T],
    chunk: usize,
    f: impl Fn(&[T]) -> Vec<R> + Sync,
) -> (Vec<R>, usize) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let chunks: Vec<&[T]> = items.chunks(chunk.max(1)).collect();
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8)
        .min(chunks.len() / 4);
    if threads <= 1 {
        return (chunks.into_iter().flat_map(&f).collect(), 0);
    }
    let next = AtomicUsize::new(0);
    let work = || {
        let mut done: Vec<(usize, Vec<R>)> = Vec::new();
        loop {
            let i = next.fetch_add(1, Ordering::Relaxed);
            let Some(c) = chunks.get(i) else {
                return done;
            };
            done.push((i, f(c)));
        }
    };
    let (mut parts, started) = std::thread::scope(|s| {
        let helpers: Vec<_> = (1..threads)
            .filter_map(|_| std::thread::Builder::new().spawn_scoped(s, work).ok())
            .collect();
        let started = helpers.len();
        let mut parts: Vec<(usize, Vec<R>)> = work();
        for h in helpers {
            match h.join() {
                Ok(p) => parts.extend(p),
                Err(panic) => std::panic::resume_unwind(panic),
            }
        }
        (parts, started)
    });
    parts.sort_unstable_by_key(|(i, _)| *i);
    (parts.into_iter().flat_map(|(_, r)| r).collect(), started)
}

/// The names that the processes opening sessions go by, and the Service each stands for.
fn service_of(comm: &str) -> Option<&'static str> {
    Some(match comm {
        "sshd" | "sshd-session" | "sshd-auth" => "sshd",
        "login" => "login",
        "gdm-session-wor" => "gdm",
        "lightdm" => "lightdm",
        "sddm-helper" => "sddm",
        "cron" | "CRON" => "cron",
        "su" => "su",
        "sudo" => "sudo",
        "runuser" => "runuser",
        "systemd" => "systemd-user",
        _ => return None,
    })
}

fn is_sshd(comm: &str) -> bool {
    matches!(comm, "sshd" | "sshd-session" | "sshd-auth")
}

/// An action planned for a caller and not yet carried out ([`Host::plan_action`]).
#[derive(Debug, Clone)]
pub struct PlannedAction {
    verb: ActionVerb,
    what_if: bool,
    message: Option<String>,
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
    /// [`crate::close::CloseCache`]). Clones of a host share it.
    close_cache: std::sync::Arc<crate::close::CloseCache>,
}

impl Host {
    pub fn new(config: Config) -> Host {
        Host {
            config,
            names: HostNames::discover(),
            close_cache: Default::default(),
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

    /// Carries out `verb` on `session` for `caller` (`message` is Lock's).
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
        Ok(PlannedAction {
            verb: req.verb,
            what_if: req.what_if,
            message: req.message.clone(),
            steps: plan(caller, req.verb.verb(), selection, &sessions),
        })
    }

    /// Carries out a planned action: acts on each session the plan allows (or answers
    /// WhatIf), and answers the rest as planned. One result per target, in order.
    pub fn execute(&self, caller: &Caller, planned: PlannedAction) -> Vec<TargetResult> {
        let PlannedAction {
            verb,
            what_if,
            message,
            steps,
        } = planned;
        let results = steps
            .into_iter()
            .map(|step| match step {
                Step::Report {
                    session_id,
                    user_name,
                    outcome,
                } => TargetResult {
                    computer_name: self.names.fqdn.clone(),
                    session_id,
                    user_name,
                    outcome,
                },
                Step::Act(s) => TargetResult {
                    computer_name: s.computer_name.clone(),
                    session_id: s.session_id,
                    user_name: Some(s.user_name.clone()),
                    outcome: if what_if {
                        Outcome::WhatIf
                    } else {
                        self.act(caller, verb, &s, message.as_deref())
                    },
                },
            })
            .collect();
        // A long-lived host (the agent) would otherwise keep following process events
        // until its next listing.
        self.close_cache.done();
        results
    }

    /// Every login session on this host, in session ID order.
    pub fn sessions(&self) -> io::Result<Vec<Session>> {
        self.sessions_where(&|_| true)
    }

    /// The sessions `keep` takes, in session ID order.
    fn sessions_where(
        &self,
        keep: &(dyn Fn(SessionId) -> bool + Sync),
    ) -> io::Result<Vec<Session>> {
        let procs = scan_where(keep)?;
        Ok(self.sessions_from(procs, &|_, procs| ssh_client(procs)))
    }

    /// The sessions made of `procs` (processes of login sessions, as [`scan`] reads them),
    /// in session ID order; `client_of` gives a session's client address (the agent keeps
    /// them, since a session's client never changes).
    pub fn sessions_from(
        &self,
        procs: Vec<SessionProcess>,
        client_of: &(dyn Fn(SessionId, &[SessionProcess]) -> Option<String> + Sync),
    ) -> Vec<Session> {
        let mut by_session: BTreeMap<SessionId, Vec<SessionProcess>> = BTreeMap::new();
        for p in procs {
            by_session.entry(p.session).or_default().push(p);
        }
        let boot = procfs::boot_time();
        let tick = rustix::param::clock_ticks_per_second().max(1);
        let now = wms_core::time::now_unix();
        let mut users = UserCache::default();
        let locks = crate::lock::load_all(&self.config.state_dir);
        let sessions: Vec<(SessionId, Vec<SessionProcess>)> = by_session
            .into_iter()
            .map(|(id, mut procs)| {
                procs.sort_by_key(|p| (p.stat.start_time, p.stat.pid));
                (id, procs)
            })
            .collect();
        // The client address is the one part that reads more than stat: environments, in
        // parallel like the scan.
        let clients = par_chunks(&sessions, 16, |chunk| {
            chunk
                .iter()
                .map(|(id, procs)| client_of(*id, procs))
                .collect()
        });
        self.close_cache.listed(
            sessions
                .iter()
                .map(|(id, procs)| (*id, procs.iter().map(|p| p.stat.pid).collect())),
        );
        sessions
            .into_iter()
            .zip(clients)
            .map(|((id, procs), client)| {
                let mut s = self.build(id, &procs, client, &mut users, boot, tick, now);
                if let Some(l) = locks.iter().find(|l| l.session_id == id.0) {
                    s.is_locked = true;
                    s.lock_message = Some(l.message.clone());
                }
                s
            })
            .collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn build(
        &self,
        id: SessionId,
        procs: &[SessionProcess],
        client: Option<String>,
        users: &mut UserCache,
        boot: Option<i64>,
        tick: u64,
        now: i64,
    ) -> Session {
        let in_session = |pid: Pid| procs.iter().any(|p| p.stat.pid == pid);
        // The leader opened the session: the oldest process whose parent is outside it.
        let leader = procs
            .iter()
            .find(|p| !in_session(p.stat.ppid))
            .unwrap_or(&procs[0]);
        let uid = Uid(leader.login_uid);
        let user = users.get(uid, &self.config).clone();
        let has_sshd = procs.iter().any(|p| is_sshd(&p.stat.comm));
        let remote = has_sshd || client.is_some();
        let tty = procs.iter().find_map(|p| procfs::tty_name(p.stat.tty_nr));
        let vt = tty.as_deref().and_then(procfs::vt_number);
        let state = match (remote, has_sshd) {
            (true, true) => SessionState::RemoteConnection,
            (true, false) => SessionState::Disconnected,
            (false, _) => SessionState::ConnectedToStation,
        };
        let service = if remote {
            Some("sshd")
        } else {
            service_of(&leader.stat.comm)
        };
        Session {
            session_id: id,
            state,
            user_name: user.name,
            domain_name: self.names.domain.clone(),
            is_admin: user.is_admin,
            station_id: if remote { Some(0) } else { vt },
            computer_name: self.names.fqdn.clone(),
            client_name: if remote { client } else { tty.clone() },
            idle_seconds: tty.as_deref().and_then(|t| idle_seconds(t, now)),
            tty,
            service: service.map(str::to_string),
            logon_time: boot
                .map(|b| wms_core::time::rfc3339_utc(b + (leader.stat.start_time / tick) as i64)),
            process_count: procs.len() as u32,
            leader_pid: Some(leader.stat.pid),
            is_locked: false,
            lock_message: None,
            server: None,
            uid,
        }
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
            Err(cause) => Outcome::Failed(cause),
        }
    }

    /// Disconnects `session`: see [`crate::disconnect`].
    pub fn disconnect(&self, session: &Session) -> Outcome {
        use crate::disconnect::{disconnect, DisconnectError, Disconnected};
        let remote = session.state != SessionState::ConnectedToStation;
        match disconnect(session.session_id, remote, session.service.as_deref()) {
            Ok(Disconnected::Now) => Outcome::Done,
            Ok(Disconnected::Already) => {
                tracing::debug!(session = session.session_id.0, "already disconnected");
                Outcome::Done
            }
            Err(DisconnectError::NotSupported(why)) => Outcome::NotSupported(why),
            Err(DisconnectError::Failed(why)) => Outcome::Failed(why),
        }
    }

    /// Locks `session` with `message`: see [`crate::lock`].
    pub fn lock(&self, caller: &Caller, session: &Session, message: &str) -> Outcome {
        let Some(tty) = &session.tty else {
            return Outcome::NotSupported(
                "it has no terminal; only terminal sessions can be locked".into(),
            );
        };
        // Who asked, as the rules knew them (the agent acts for its callers).
        let by = caller.uid.0;
        match crate::lock::lock(&self.config.state_dir, session.session_id, tty, message, by) {
            Ok(()) => Outcome::Done,
            Err(why) => Outcome::Failed(why),
        }
    }

    /// Unlocks `session`; a session that is not locked is left as it is.
    pub fn unlock(&self, session: &Session) -> Outcome {
        match crate::lock::unlock(&self.config.state_dir, session.session_id) {
            Ok(_) => Outcome::Done,
            Err(why) => Outcome::Failed(why),
        }
    }
}

/// The remote peer of an ssh session, from `SSH_CONNECTION` of its oldest process that
/// has it (sshd itself does not carry it; the user's shell does).
pub fn ssh_client(procs: &[SessionProcess]) -> Option<String> {
    procs
        .iter()
        .filter(|p| !is_sshd(&p.stat.comm))
        .find_map(|p| {
            let v = procfs::environ_var_in(p.stat.pid, p.env_range, "SSH_CONNECTION")?;
            let peer = String::from_utf8_lossy(&v)
                .split_ascii_whitespace()
                .next()?
                .to_string();
            Some(peer)
        })
}

/// Seconds since the terminal last had input, from its device's access time (as `w`).
fn idle_seconds(tty: &str, now: i64) -> Option<u64> {
    let st = rustix::fs::stat(format!("/dev/{tty}")).ok()?;
    Some((now - st.st_atime).max(0) as u64)
}
