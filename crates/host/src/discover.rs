//! Session discovery: the live processes of login sessions (from [`crate::process`])
//! grouped into the sessions of SPEC section 3, with every field this host can know. It
//! only finds sessions; acting on them is the actions' part, and what the agent and the
//! CLI call is [`crate::Host`].

use crate::config::Config;
use crate::identity::{HostNames, UserCache};
use crate::logind::LogindSession;
use crate::logins::{LoginRecord, LoginRecords};
use crate::process::{is_connection_process, ProcessKey, SessionProcess};
use crate::procfs;
use std::collections::{BTreeMap, HashMap, HashSet};
use wms_core::{
    Pid, Session, SessionClass, SessionId, SessionSource, SessionState, SessionType, Uid,
};

/// The processes of each session, in session ID order, each session's oldest first.
pub(crate) fn by_session(procs: Vec<SessionProcess>) -> Vec<(SessionId, Vec<SessionProcess>)> {
    let mut by_session: BTreeMap<SessionId, Vec<SessionProcess>> = BTreeMap::new();
    for p in procs {
        by_session.entry(p.session).or_default().push(p);
    }
    by_session
        .into_iter()
        .map(|(id, mut procs)| {
            procs.sort_by_key(|p| (p.stat.start_time, p.stat.pid));
            (id, procs)
        })
        .collect()
}

/// What wms learned about a session while its leader was alive: it never changes while
/// the session lives, so once the leader (or the first process after the login) has gone,
/// LeaderPid is left out and LogonTime stays what it was, never taken from a survivor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Remembered {
    leader: ProcessKey,
    service: Option<&'static str>,
    logon: Option<i64>,
}

/// What a long-lived host remembers of the sessions it listed (see [`Remembered`]).
#[derive(Debug, Default)]
pub struct SessionMemory {
    seen: HashMap<SessionId, Remembered>,
}

impl SessionMemory {
    /// Keeps the memory about as large as the host's sessions: once it holds many more
    /// than were just listed (`listed`), it forgets those not listed. A listing of some
    /// sessions only (by ID) does not make it forget the others.
    pub(crate) fn prune(&mut self, listed: &HashSet<SessionId>) {
        if self.seen.len() > 2 * listed.len() + 1024 {
            self.seen.retain(|id, _| listed.contains(id));
        }
    }
}

/// Builds the sessions of one listing: what they share (users resolved once, the boot
/// time, the clock) is read once.
pub(crate) struct Builder<'a> {
    config: &'a Config,
    names: &'a HostNames,
    memory: &'a mut SessionMemory,
    /// The same, kept in the state directory for later processes.
    records: LoginRecords,
    users: UserCache,
    /// The boot time in nanoseconds since the epoch (start times count from it).
    boot_ns: Option<i128>,
    tick: u64,
    page: u64,
    now: i64,
    /// Whose environments this process may read: everyone's as root, else its own.
    reader: Option<u32>,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(
        config: &'a Config,
        names: &'a HostNames,
        memory: &'a mut SessionMemory,
    ) -> Builder<'a> {
        let euid = rustix::process::geteuid().as_raw();
        Builder {
            config,
            names,
            memory,
            records: LoginRecords::new(&config.state_dir),
            users: UserCache::default(),
            boot_ns: procfs::boot_time_ns(),
            tick: rustix::param::clock_ticks_per_second().max(1),
            page: rustix::param::page_size() as u64,
            now: wms_core::time::now_unix(),
            reader: (euid != 0).then_some(euid),
        }
    }

    /// Seconds since the epoch when a process started `ticks` after boot (rounded).
    fn started(&self, ticks: u64) -> Option<i64> {
        let ns = self.boot_ns? + i128::from(ticks) * 1_000_000_000 / i128::from(self.tick);
        Some(((ns + 500_000_000) / 1_000_000_000) as i64)
    }

    /// Session `id` from its processes (oldest first, at least one) and its client
    /// address (`None` also when it cannot be read). Not locked: locks are the engine's
    /// to add; logind's view, where it runs, is the engine's to lay over it.
    pub(crate) fn build(
        &mut self,
        id: SessionId,
        procs: &[SessionProcess],
        client: Option<String>,
    ) -> Session {
        let uid = Uid(procs[0].login_uid);
        let user = self.users.get(uid, self.config).clone();
        let opened = self.opening(id, procs);
        let leader = opened.as_ref().and_then(|r| {
            procs
                .iter()
                .find(|p| p.key() == r.leader)
                .map(|p| p.stat.pid)
        });
        let service = opened.as_ref().and_then(|r| r.service);
        let has_sshd = procs.iter().any(|p| is_connection_process(&p.stat.comm));
        let tty = procs.iter().find_map(|p| procfs::tty_name(p.stat.tty_nr));
        let vt = tty.as_deref().and_then(procfs::vt_number);
        // Whether the environments (where an ssh session's client address is) could be
        // read: when they could and hold none, the session is not an ssh login.
        let readable = self.reader.is_none_or(|me| me == uid.0);
        let state = if has_sshd {
            Some(SessionState::RemoteConnection)
        } else if client.is_some() || service == Some("sshd") {
            Some(SessionState::Disconnected)
        } else if service.is_some() || vt.is_some() || readable {
            Some(SessionState::ConnectedToStation)
        } else {
            None
        };
        let remote = matches!(
            state,
            Some(SessionState::RemoteConnection | SessionState::Disconnected)
        );
        let service = if remote { Some("sshd") } else { service };
        // The leader's terminal is the one the login service gave PAM (su, login).
        let leader_tty = leader
            .and_then(|l| procs.iter().find(|p| p.stat.pid == l))
            .and_then(|p| procfs::tty_name(p.stat.tty_nr));
        let (class, session_type) = class_and_type(service, leader_tty.is_some());
        let on_vt =
            service == Some("login") && leader_tty.as_deref().and_then(procfs::vt_number).is_some();
        let local_service = matches!(
            service,
            Some(
                "login" | "su" | "su-l" | "runuser" | "runuser-l" | "systemd-user" | "cron" | "atd"
            )
        );
        let cpu_ticks: u64 = procs.iter().map(|p| p.stat.cpu_ticks).sum();
        let rss_pages: u64 = procs.iter().map(|p| p.stat.rss_pages).sum();
        Session {
            session_id: id,
            state,
            user_name: user.name,
            domain_name: self.names.domain.clone(),
            is_admin: user.is_admin,
            station_id: if remote { Some(0) } else { vt },
            computer_name: self.names.fqdn.clone(),
            // A local session's client is its terminal; one whose state is not known has
            // none that can be told.
            client_name: match state {
                Some(SessionState::ConnectedToStation) => tty.clone(),
                Some(_) => client.clone(),
                None => None,
            },
            class,
            session_type,
            idle_seconds: tty.as_deref().and_then(|t| idle_seconds(t, self.now)),
            tty,
            seat: on_vt.then(|| "seat0".to_string()),
            vt_nr: if on_vt {
                leader_tty.as_deref().and_then(procfs::vt_number)
            } else {
                None
            },
            display: None,
            remote: if service == Some("sshd") {
                client.as_deref().map(|h| !is_localhost_name(h))
            } else if local_service {
                Some(false)
            } else {
                None
            },
            remote_host: if service == Some("sshd") {
                client
            } else {
                None
            },
            service: service.map(str::to_string),
            logon_time: opened
                .and_then(|r| r.logon)
                .map(wms_core::time::rfc3339_utc),
            // Whether a session is idle is a desktop's to say (or logind's, by its own
            // settings): from /proc alone it is not known.
            idle_hint: None,
            process_count: procs.len() as u32,
            leader_pid: leader,
            cpu_seconds: Some(cpu_ticks as f64 / self.tick as f64),
            memory_bytes: Some(rss_pages.saturating_mul(self.page)),
            is_locked: false,
            lock_message: None,
            // Only a desktop sets a lock hint; a terminal session never has one.
            locked_hint: matches!(
                session_type,
                Some(SessionType::Tty | SessionType::Unspecified)
            )
            .then_some(false),
            source: Some(SessionSource::Proc),
            server: None,
            thumbnail: None,
            uid,
        }
    }

    /// Sets what `s`'s processes have used (see [`usage_now`]).
    pub(crate) fn set_usage(&self, s: &mut Session, (cpu_ticks, rss_pages): (u64, u64)) {
        s.cpu_seconds = Some(cpu_ticks as f64 / self.tick as f64);
        s.memory_bytes = Some(rss_pages.saturating_mul(self.page));
    }

    /// What is known of how session `id` was opened: remembered from an earlier listing,
    /// or read now from its leader if that is alive. `None` when neither.
    fn opening(&mut self, id: SessionId, procs: &[SessionProcess]) -> Option<Remembered> {
        if let Some(r) = self.memory.seen.get(&id) {
            let mut r = r.clone();
            // A login seen before its first process after authentication started.
            if r.logon.is_none() && procs.iter().any(|p| p.key() == r.leader) {
                r.logon = self.logon_after(&r.leader, procs);
                self.memory.seen.insert(id, r.clone());
                self.keep(id, &r);
            }
            return Some(r);
        }
        let first = &procs[0];
        if is_leader(first, procs) {
            // The leader lives: what it tells is what a record would (kept once).
            let key = first.key();
            let r = Remembered {
                leader: key,
                service: service_of(first),
                logon: self.logon_after(&key, procs),
            };
            self.memory.seen.insert(id, r.clone());
            if !self.records.has(id.0) {
                self.keep(id, &r);
            }
            return Some(r);
        }
        // The leader has gone: what was learned while it lived, if it was kept.
        let rec = self.records.load(id.0)?;
        let r = Remembered {
            leader: ProcessKey {
                pid: wms_core::Pid(rec.leader_pid),
                start_time: rec.leader_start,
            },
            service: rec.service.as_deref().and_then(known_service),
            logon: rec.logon,
        };
        self.memory.seen.insert(id, r.clone());
        Some(r)
    }

    /// Keeps what was learned of session `id` for later processes (see `logins`).
    /// A login not yet complete is not kept: its record would never be completed.
    fn keep(&self, id: SessionId, r: &Remembered) {
        let Some(boot) = self.records.boot().filter(|_| r.logon.is_some()) else {
            return;
        };
        self.records.save(
            id.0,
            &LoginRecord {
                boot_id: boot.to_string(),
                leader_pid: r.leader.pid.0,
                leader_start: r.leader.start_time,
                service: r.service.map(str::to_string),
                logon: r.logon,
            },
        );
    }

    /// When the login completed: the session's audit session begins in the process that
    /// authenticates (sshd's privileged child, `login`, `su`), which is started before the
    /// user has authenticated; the first process it starts after that (sshd's child for
    /// the user, the shell) marks the end of the login. A leader alone has not finished
    /// its login yet, unless it is not one that authenticates.
    fn logon_after(&self, leader: &ProcessKey, procs: &[SessionProcess]) -> Option<i64> {
        let after = procs
            .iter()
            .filter(|p| p.key() != *leader)
            .min_by_key(|p| (p.stat.start_time, p.stat.pid));
        match after {
            Some(p) => self.started(p.stat.start_time),
            None => {
                let l = procs.iter().find(|p| p.key() == *leader)?;
                let authenticates = is_connection_process(&l.stat.comm)
                    || matches!(l.stat.comm.as_str(), "login" | "su" | "runuser");
                (!authenticates)
                    .then(|| self.started(l.stat.start_time))
                    .flatten()
            }
        }
    }
}

/// What the processes `procs` have used now: CPU time in clock ticks and resident pages,
/// read again from each (a process whose PID now names another is not counted).
pub(crate) fn usage_now(procs: &[ProcessKey]) -> (u64, u64) {
    procs
        .iter()
        .filter_map(|p| procfs::stat(p.pid).filter(|st| st.start_time == p.start_time))
        .fold((0, 0), |(c, r), st| (c + st.cpu_ticks, r + st.rss_pages))
}

/// Lays logind's record `l` of session `s` over what `/proc` showed (`procs`, oldest
/// first): logind knows how the session was opened (its class, type, seat, service, remote
/// host, when the login completed); `/proc` knows what is alive now, so logind's leader is
/// taken only while it is the session's oldest process (a PID in logind's namespace that
/// is not, is not the leader here).
pub(crate) fn lay_logind_over(s: &mut Session, l: &LogindSession, oldest: Option<Pid>) {
    let text = |v: &str| (!v.is_empty()).then(|| v.to_string());
    s.class = SessionClass::parse(&l.class).or(s.class);
    s.session_type = SessionType::parse(&l.session_type).or(s.session_type);
    s.seat = text(&l.seat);
    s.vt_nr = (l.vt_nr != 0).then_some(l.vt_nr);
    s.display = text(&l.display);
    s.remote = Some(l.remote);
    s.remote_host = text(&l.remote_host);
    s.service = text(&l.service).or(s.service.take());
    if l.timestamp_us != 0 {
        // Cut to the second, as loginctl and `last` show it.
        s.logon_time = Some(wms_core::time::rfc3339_utc(
            (l.timestamp_us / 1_000_000) as i64,
        ));
    }
    s.leader_pid = oldest.filter(|p| p.0 as u32 == l.leader && l.leader != 0);
    s.idle_hint = Some(l.idle_hint);
    s.locked_hint = Some(l.locked_hint);
    if s.state.is_none() {
        // No connection process is left (else /proc would have told): logind says
        // whether the login was remote.
        if l.remote || l.service == "sshd" {
            s.state = Some(SessionState::Disconnected);
            s.station_id = Some(0);
            s.client_name = s.remote_host.clone();
        } else {
            s.state = Some(SessionState::ConnectedToStation);
            s.client_name = s.tty.clone();
        }
    }
    s.source = Some(SessionSource::Logind);
}

/// Lays over xrdp's session `s` whether an RDP client is connected now: `conns` are the
/// xrdp processes serving it (see [`crate::xrdp::connections`]), `None` when that could
/// not be read (the state is then not known). An xrdp desktop is remote whether or not a
/// client is connected, like an ssh session whose connection has gone.
pub(crate) fn lay_xrdp_over(s: &mut Session, conns: Option<&[crate::xrdp::Connection]>) {
    s.station_id = Some(0);
    s.remote = Some(true);
    s.seat = None;
    s.vt_nr = None;
    let client = conns.and_then(|c| c.iter().find_map(|c| c.client.clone()));
    s.state = match conns {
        Some([]) => Some(SessionState::Disconnected),
        Some(_) => Some(SessionState::RemoteConnection),
        None => None,
    };
    s.client_name = client.clone();
    s.remote_host = client;
}

/// What a session's processes say of its desktop, as logind would say it: its Type and
/// its X display. `None` when they say nothing beyond how the session was opened (see
/// [`class_and_type`]); `Some((None, None))` when the Type cannot be known by this caller.
///
/// In order: the `XDG_SESSION_TYPE` the session was opened with (pam_systemd and display
/// managers put it into the environment of the session's first process, and logind's Type
/// is that same value), with `DISPLAY` for an x11 one; else an X server running inside the
/// session (`Xvfb`, xrdp's `Xorg`, ...) makes it x11, its display from its arguments or
/// from the `DISPLAY` of the session's processes; else `WAYLAND_DISPLAY` makes it wayland
/// and a local `DISPLAY` (`:0`, not an `ssh -X` forward) x11. Environments are read only
/// when `readable` (the caller's own session, or root): another user's are not, and an X
/// server seen in their session leaves the Type out rather than guessing.
pub(crate) fn desktop_seen(
    procs: &[SessionProcess],
    readable: bool,
) -> Option<(Option<SessionType>, Option<String>)> {
    let server = procs
        .iter()
        .find(|p| crate::process::is_x_server(&p.stat.comm));
    if !readable {
        return server.map(|_| (None, None));
    }
    let server_display = server
        .and_then(|p| procfs::cmdline(p.stat.pid))
        .and_then(|args| procfs::x_server_args(&args).display)
        .map(|n| format!(":{n}"));
    let first = procs.iter().find(|p| {
        !is_connection_process(&p.stat.comm) && !crate::process::is_x_server(&p.stat.comm)
    });
    let var = |p: &SessionProcess, key: &str| {
        procfs::environ_var_in(p.stat.pid, p.env_range, key)
            .and_then(|v| String::from_utf8(v).ok())
            .filter(|v| !v.is_empty())
    };
    let local_display = |d: &String| procfs::local_display_number(d.as_bytes()).is_some();
    if let Some(first) = first {
        if let Some(kind) = var(first, "XDG_SESSION_TYPE").and_then(|t| SessionType::parse(&t)) {
            let display = (kind == SessionType::X11)
                .then(|| var(first, "DISPLAY").or(server_display))
                .flatten();
            return Some((Some(kind), display));
        }
    }
    if server.is_some() {
        // `Xvfb -displayfd` names no display: its clients' DISPLAY does (the session's
        // newest processes first, a few dozen at most).
        let display = server_display.or_else(|| {
            procs
                .iter()
                .rev()
                .filter(|p| !crate::process::is_x_server(&p.stat.comm))
                .take(32)
                .find_map(|p| var(p, "DISPLAY").filter(local_display))
        });
        return Some((Some(SessionType::X11), display));
    }
    let first = first?;
    if var(first, "WAYLAND_DISPLAY").is_some() {
        return Some((Some(SessionType::Wayland), None));
    }
    let display = var(first, "DISPLAY").filter(local_display)?;
    Some((Some(SessionType::X11), Some(display)))
}

/// Sets what [`desktop_seen`] found on `s` (built from `/proc`, before logind's view is
/// laid over it).
pub(crate) fn set_desktop(s: &mut Session, seen: Option<(Option<SessionType>, Option<String>)>) {
    let Some((kind, display)) = seen else {
        return;
    };
    s.session_type = kind;
    s.display = display;
    // Only a terminal session is known never to have a lock hint; a desktop's is its own.
    s.locked_hint =
        matches!(kind, Some(SessionType::Tty | SessionType::Unspecified)).then_some(false);
}

/// Whether `p`, the oldest process of a session, opened it: its parent is outside the
/// session, and that parent is not a namespace's init that adopted it after its own
/// parent died (unless it is a login service init starts: `login`, `systemd --user`).
fn is_leader(p: &SessionProcess, procs: &[SessionProcess]) -> bool {
    if procs.iter().any(|q| q.stat.pid == p.stat.ppid) {
        return false;
    }
    matches!(p.stat.comm.as_str(), "login" | "systemd")
        || p.stat.ppid.0 == 0
        || !procfs::is_namespace_init(p.stat.ppid)
}

/// logind's Class and Type of a session opened by `service`, by pam_systemd's rules: an
/// ssh login is a tty session without a terminal of its own; `su` and `login` are tty
/// sessions when they had a terminal and background ones when they had none; cron and at
/// are background; the user's service manager is a manager. For a service wms does not
/// know, neither is known.
fn class_and_type(
    service: Option<&str>,
    had_tty: bool,
) -> (Option<SessionClass>, Option<SessionType>) {
    use SessionClass as C;
    use SessionType as T;
    match service {
        Some("systemd-user") => (Some(C::Manager), Some(T::Unspecified)),
        Some("cron" | "atd") => (Some(C::Background), Some(T::Unspecified)),
        Some("sshd") => (Some(C::User), Some(T::Tty)),
        Some("login" | "su" | "su-l" | "runuser" | "runuser-l") if had_tty => {
            (Some(C::User), Some(T::Tty))
        }
        Some("login" | "su" | "su-l" | "runuser" | "runuser-l") => {
            (Some(C::Background), Some(T::Unspecified))
        }
        Some("gdm" | "lightdm" | "sddm") => (Some(C::User), None),
        Some(crate::xrdp::SERVICE) => (Some(C::User), Some(T::X11)),
        _ => (None, None),
    }
}

/// Whether `host` is a name of this host as logind means it (a remote host so named is
/// not remote); addresses, even loopback ones, are not names.
fn is_localhost_name(host: &str) -> bool {
    let h = host.trim_end_matches('.').to_ascii_lowercase();
    h == "localhost"
        || h.ends_with(".localhost")
        || h == "localhost.localdomain"
        || h.ends_with(".localhost.localdomain")
}

/// The services wms names, as the static names [`Remembered`] holds.
fn known_service(name: &str) -> Option<&'static str> {
    const KNOWN: [&str; 15] = [
        "sshd",
        "login",
        "gdm",
        "lightdm",
        "sddm",
        "cron",
        "atd",
        "sudo",
        "systemd-user",
        "su",
        "su-l",
        "runuser",
        "runuser-l",
        "gdm-password",
        crate::xrdp::SERVICE,
    ];
    KNOWN.into_iter().find(|k| *k == name)
}

/// The PAM service that the process opening a session stands for, by its name (and for
/// `su` and `runuser`, whether it was asked for a login shell: their `-l` services).
fn service_of(leader: &SessionProcess) -> Option<&'static str> {
    let comm = leader.stat.comm.as_str();
    if is_connection_process(comm) {
        return Some("sshd");
    }
    Some(match comm {
        "login" => "login",
        "gdm-session-wor" => "gdm",
        "lightdm" => "lightdm",
        "sddm-helper" => "sddm",
        "cron" | "CRON" => "cron",
        "atd" => "atd",
        "sudo" => "sudo",
        crate::xrdp::SERVICE => crate::xrdp::SERVICE,
        "systemd" => "systemd-user",
        "su" | "runuser" => {
            let login = procfs::cmdline(leader.stat.pid).is_some_and(|args| {
                args.iter()
                    .skip(1)
                    .take_while(|a| a.as_slice() != b"--")
                    .any(|a| matches!(a.as_slice(), b"-" | b"-l" | b"--login"))
            });
            match (comm, login) {
                ("su", false) => "su",
                ("su", true) => "su-l",
                (_, false) => "runuser",
                (_, true) => "runuser-l",
            }
        }
        _ => return None,
    })
}

/// The remote peer of an ssh session, from `SSH_CONNECTION` of its oldest process that
/// has it (sshd itself does not carry it; the user's shell does). `procs` are the
/// session's processes, oldest first. It reads environments, the one part of building a
/// session that reads more than `stat`: a caller that keeps sessions (the agent's live
/// table) reads it once per session.
pub fn ssh_client(procs: &[SessionProcess]) -> Option<String> {
    procs
        .iter()
        .filter(|p| !is_connection_process(&p.stat.comm))
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
pub(crate) fn idle_seconds(tty: &str, now: i64) -> Option<u64> {
    let st = rustix::fs::stat(format!("/dev/{tty}")).ok()?;
    Some((now - st.st_atime).max(0) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::process::Stat;
    use wms_core::Pid;

    fn proc(session: u32, pid: i32, ppid: i32, comm: &str, start: u64) -> SessionProcess {
        SessionProcess {
            session: SessionId(session),
            login_uid: 0,
            stat: Stat {
                pid: Pid(pid),
                comm: comm.into(),
                state: 'S',
                ppid: Pid(ppid),
                pgrp: pid,
                sid: pid,
                tty_nr: 0,
                tpgid: -1,
                start_time: start,
                cpu_ticks: 0,
                rss_pages: 0,
            },
            env_range: None,
        }
    }

    #[test]
    fn sessions_group_in_id_order_oldest_first() {
        let g = by_session(vec![
            proc(7, 30, 20, "bash", 5),
            proc(3, 10, 1, "login", 1),
            proc(7, 20, 1, "sshd-session", 2),
        ]);
        let ids: Vec<u32> = g.iter().map(|(id, _)| id.0).collect();
        assert_eq!(ids, [3, 7]);
        let pids: Vec<i32> = g[1].1.iter().map(|p| p.stat.pid.0).collect();
        assert_eq!(pids, [20, 30]);
    }

    /// A configuration whose state directory is the test's own (records of logins are
    /// kept there).
    fn test_config() -> Config {
        use std::sync::atomic::{AtomicU32, Ordering};
        static N: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "wms-discover-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        Config {
            state_dir: dir,
            ..Config::default()
        }
    }

    /// A parent PID that no process has, so it is no namespace's init either.
    const LISTENER: i32 = i32::MAX - 1;

    #[test]
    fn a_session_with_an_sshd_of_any_version_is_a_remote_connection() {
        let config = test_config();
        let names = HostNames::from_names("lab1", "lab1.example");
        let mut memory = SessionMemory::default();
        let mut b = Builder::new(&config, &names, &mut memory);
        for (i, sshd) in ["sshd", "sshd-session", "sshd-auth"]
            .into_iter()
            .enumerate()
        {
            let id = SessionId(7 + i as u32);
            let procs = [
                proc(id.0, 20, LISTENER, sshd, 2),
                proc(id.0, 30, 20, "bash", 5),
            ];
            let s = b.build(id, &procs, Some("10.0.0.5".into()));
            assert_eq!(s.state, Some(SessionState::RemoteConnection), "{sshd}");
            assert_eq!(s.service.as_deref(), Some("sshd"));
            assert_eq!(s.leader_pid, Some(Pid(20)));
            assert_eq!(s.client_name.as_deref(), Some("10.0.0.5"));
            assert_eq!(s.process_count, 2);
            assert_eq!(s.class, Some(SessionClass::User));
            assert_eq!(s.session_type, Some(SessionType::Tty));
            assert_eq!(s.remote, Some(true));
            assert_eq!(s.remote_host.as_deref(), Some("10.0.0.5"));
        }
        // A console login is at its station.
        let procs = [proc(3, 10, 1, "login", 1), proc(3, 11, 10, "bash", 2)];
        let s = b.build(SessionId(3), &procs, None);
        assert_eq!(s.state, Some(SessionState::ConnectedToStation));
        assert_eq!(s.service.as_deref(), Some("login"));
        assert_eq!(s.leader_pid, Some(Pid(10)));
    }

    #[test]
    fn an_xrdp_desktop_is_remote_whether_or_not_a_client_is_connected() {
        let config = test_config();
        let names = HostNames::from_names("lab1", "lab1.example");
        let mut memory = SessionMemory::default();
        let mut b = Builder::new(&config, &names, &mut memory);
        let procs = [
            proc(9, 40, LISTENER, "xrdp-sesman", 1),
            proc(9, 41, 40, "Xorg", 2),
            proc(9, 42, 40, "openbox", 3),
        ];
        let built = b.build(SessionId(9), &procs, None);
        assert_eq!(built.service.as_deref(), Some("xrdp-sesman"));
        assert_eq!(built.class, Some(SessionClass::User));
        assert_eq!(built.leader_pid, Some(Pid(40)));
        let serving = crate::xrdp::Connection {
            pid: Pid(99),
            start_time: 7,
            client: Some("10.0.0.7".into()),
            shared: false,
        };
        let mut s = built.clone();
        lay_xrdp_over(&mut s, Some(std::slice::from_ref(&serving)));
        assert_eq!(s.state, Some(SessionState::RemoteConnection));
        assert_eq!(s.client_name.as_deref(), Some("10.0.0.7"));
        assert_eq!(s.remote_host.as_deref(), Some("10.0.0.7"));
        assert_eq!((s.remote, s.station_id), (Some(true), Some(0)));
        let mut s = built.clone();
        lay_xrdp_over(&mut s, Some(&[]));
        assert_eq!(s.state, Some(SessionState::Disconnected));
        assert_eq!((s.client_name, s.remote), (None, Some(true)));
        // Not known (xrdp's processes could not be read): no state is guessed.
        let mut s = built;
        lay_xrdp_over(&mut s, None);
        assert_eq!((s.state, s.client_name), (None, None));
    }

    #[test]
    fn leader_and_logon_time_never_move_to_a_survivor() {
        let config = test_config();
        let names = HostNames::from_names("lab1", "lab1.example");
        let mut memory = SessionMemory::default();
        let mut b = Builder::new(&config, &names, &mut memory);
        // sshd's privileged child started at the connection (tick 100); the login
        // completed when its child for the user started (tick 2100, 20 s later).
        let procs = [
            proc(7, 20, LISTENER, "sshd", 100),
            proc(7, 21, 20, "sshd", 2100),
            proc(7, 30, 21, "bash", 2101),
        ];
        let before = b.build(SessionId(7), &procs, Some("10.0.0.5".into()));
        let logon = before.logon_time.clone().expect("a logon time");
        let leader_start = b.started(100).map(wms_core::time::rfc3339_utc).unwrap();
        assert_ne!(logon, leader_start, "LogonTime is not when sshd accepted");
        assert_eq!(
            Some(logon.clone()),
            b.started(2100).map(wms_core::time::rfc3339_utc)
        );
        // Disconnected: sshd is gone, a tmux server adopted by init lives on.
        let procs = [proc(7, 40, 1, "tmux: server", 3000)];
        let after = b.build(SessionId(7), &procs, Some("10.0.0.5".into()));
        assert_eq!(after.state, Some(SessionState::Disconnected));
        assert_eq!(after.leader_pid, None);
        assert_eq!(after.logon_time.as_deref(), Some(logon.as_str()));
        assert_eq!(after.service.as_deref(), Some("sshd"));
        drop(b);
        // A later process (a new memory) finds what root's listing kept.
        if rustix::process::geteuid().is_root() {
            let mut later = SessionMemory::default();
            let mut b = Builder::new(&config, &names, &mut later);
            let again = b.build(SessionId(7), &procs, Some("10.0.0.5".into()));
            assert_eq!(again.logon_time.as_deref(), Some(logon.as_str()));
            assert_eq!(again.leader_pid, None);
            assert_eq!(again.service.as_deref(), Some("sshd"));
        }
        let mut b = Builder::new(&config, &names, &mut memory);
        // Seen first without its leader, nothing is taken from a survivor.
        let fresh = b.build(SessionId(8), &[proc(8, 40, 1, "tmux: server", 3000)], None);
        assert_eq!(fresh.leader_pid, None);
        assert_eq!(fresh.logon_time, None);
        assert_eq!(fresh.service, None);
    }

    #[test]
    fn another_users_session_whose_connection_is_gone_has_no_guessed_state() {
        let config = test_config();
        let names = HostNames::from_names("lab1", "lab1.example");
        let mut memory = SessionMemory::default();
        let mut b = Builder::new(&config, &names, &mut memory);
        b.reader = Some(4242);
        let mut p = proc(8, 40, 1, "tmux: server", 3000);
        p.login_uid = 1000;
        let s = b.build(SessionId(8), &[p.clone()], None);
        assert_eq!(s.state, None);
        assert_eq!(s.service, None);
        assert_eq!(s.class, None);
        assert_eq!(s.client_name, None);
        // Its own user can read the environments: no ssh client there, so it is local.
        b.reader = Some(1000);
        let s = b.build(SessionId(8), &[p], None);
        assert_eq!(s.state, Some(SessionState::ConnectedToStation));
    }

    #[test]
    fn classes_follow_pam_systemd() {
        let config = test_config();
        let names = HostNames::from_names("lab1", "lab1.example");
        let mut memory = SessionMemory::default();
        let mut b = Builder::new(&config, &names, &mut memory);
        let manager = [
            proc(5, 50, 1, "systemd", 10),
            proc(5, 51, 50, "(sd-pam)", 11),
        ];
        let s = b.build(SessionId(5), &manager, None);
        assert_eq!(s.class, Some(SessionClass::Manager));
        assert_eq!(s.service.as_deref(), Some("systemd-user"));
        assert!(!s.is_login());
        let cron = [proc(6, 60, LISTENER, "CRON", 10), proc(6, 61, 60, "sh", 11)];
        let s = b.build(SessionId(6), &cron, None);
        assert_eq!(s.class, Some(SessionClass::Background));
        assert_eq!(s.session_type, Some(SessionType::Unspecified));
        assert_eq!(s.remote, Some(false));
        let mut su = [proc(9, 90, LISTENER, "su", 10), proc(9, 91, 90, "bash", 11)];
        su[0].stat.tty_nr = (136 << 8) | 4;
        let s = b.build(SessionId(9), &su, None);
        assert_eq!(
            (s.class, s.session_type),
            (Some(SessionClass::User), Some(SessionType::Tty))
        );
        su[0].stat.tty_nr = 0;
        let s = b.build(SessionId(10), &su, None);
        assert_eq!(s.class, Some(SessionClass::Background));
        assert!(is_localhost_name("LOCALHOST."));
        assert!(!is_localhost_name("127.0.0.1"));
    }
}
