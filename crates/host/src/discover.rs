//! Session discovery: the live processes of login sessions (from [`crate::process`])
//! grouped into the sessions of SPEC section 3, with every field this host can know. It
//! only finds sessions; acting on them is the actions' part, and what the agent and the
//! CLI call is [`crate::Host`].

use crate::config::Config;
use crate::identity::{HostNames, UserCache};
use crate::process::{is_connection_process, SessionProcess};
use crate::procfs;
use std::collections::BTreeMap;
use wms_core::{Pid, Session, SessionId, SessionState, Uid};

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

/// Builds the sessions of one listing: what they share (users resolved once, the boot
/// time, the clock) is read once.
pub(crate) struct Builder<'a> {
    config: &'a Config,
    names: &'a HostNames,
    users: UserCache,
    boot: Option<i64>,
    tick: u64,
    now: i64,
}

impl<'a> Builder<'a> {
    pub(crate) fn new(config: &'a Config, names: &'a HostNames) -> Builder<'a> {
        Builder {
            config,
            names,
            users: UserCache::default(),
            boot: procfs::boot_time(),
            tick: rustix::param::clock_ticks_per_second().max(1),
            now: wms_core::time::now_unix(),
        }
    }

    /// Session `id` from its processes (oldest first, at least one) and its client
    /// address. Not locked: locks are the engine's to add.
    pub(crate) fn build(
        &mut self,
        id: SessionId,
        procs: &[SessionProcess],
        client: Option<String>,
    ) -> Session {
        let in_session = |pid: Pid| procs.iter().any(|p| p.stat.pid == pid);
        // The leader opened the session: the oldest process whose parent is outside it.
        let leader = procs
            .iter()
            .find(|p| !in_session(p.stat.ppid))
            .unwrap_or(&procs[0]);
        let uid = Uid(leader.login_uid);
        let user = self.users.get(uid, self.config).clone();
        let has_sshd = procs.iter().any(|p| is_connection_process(&p.stat.comm));
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
            idle_seconds: tty.as_deref().and_then(|t| idle_seconds(t, self.now)),
            tty,
            service: service.map(str::to_string),
            logon_time: self.boot.map(|b| {
                wms_core::time::rfc3339_utc(b + (leader.stat.start_time / self.tick) as i64)
            }),
            process_count: procs.len() as u32,
            leader_pid: Some(leader.stat.pid),
            is_locked: false,
            lock_message: None,
            server: None,
            uid,
        }
    }
}

/// The names that the processes opening sessions go by, and the Service each stands for.
fn service_of(comm: &str) -> Option<&'static str> {
    if is_connection_process(comm) {
        return Some("sshd");
    }
    Some(match comm {
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

    #[test]
    fn a_session_with_an_sshd_of_any_version_is_a_remote_connection() {
        let config = Config::default();
        let names = HostNames::from_names("lab1", "lab1.example");
        let mut b = Builder::new(&config, &names);
        for sshd in ["sshd", "sshd-session", "sshd-auth"] {
            let procs = [proc(7, 20, 1, sshd, 2), proc(7, 30, 20, "bash", 5)];
            let s = b.build(SessionId(7), &procs, Some("10.0.0.5".into()));
            assert_eq!(s.state, SessionState::RemoteConnection, "{sshd}");
            assert_eq!(s.service.as_deref(), Some("sshd"));
            assert_eq!(s.leader_pid, Some(Pid(20)));
            assert_eq!(s.client_name.as_deref(), Some("10.0.0.5"));
            assert_eq!(s.process_count, 2);
        }
        // Its connection gone, a session with a client address is Disconnected.
        let procs = [proc(7, 30, 20, "tmux", 5)];
        let s = b.build(SessionId(7), &procs, Some("10.0.0.5".into()));
        assert_eq!(s.state, SessionState::Disconnected);
        // A console login is at its station.
        let procs = [proc(3, 10, 1, "login", 1), proc(3, 11, 10, "bash", 2)];
        let s = b.build(SessionId(3), &procs, None);
        assert_eq!(s.state, SessionState::ConnectedToStation);
        assert_eq!(s.service.as_deref(), Some("login"));
    }
}
