//! Remote desktops served by xrdp: which xrdp process serves a session now, and the RDP
//! client's address.
//!
//! How xrdp 0.9 works: `xrdp-sesman` forks a child per desktop that opens the login
//! session through PAM (with `pam_loginuid` in its stack, this child leads the audit
//! session) and starts the user's X server (Xorg with xorgxrdp, listening on the Unix
//! socket `xrdp_display_N` in xrdp's socket directory) and window manager. The `xrdp`
//! daemon forks a child per RDP connection; that child, running as root outside any audit
//! session, holds the client's TCP connection and connects to the X server's
//! `xrdp_display_N`. When the client goes, the child exits and the desktop stays; the
//! next login of the user is given the same display by sesman.
//!
//! So a session is connected while one of its processes holds an accepted connection on an
//! `xrdp_display_*` socket whose peer, as the kernel joined them (`sock_diag`), is held by
//! a root `xrdp` process outside every audit session. The name only selects the socket:
//! the peer is the kernel's word, and a peer held by anything else (a process of the
//! user's, which could connect to its own X server's socket) is no connection.

use crate::procfs;
use crate::sys::sock_diag::{connected_unix_sockets, UnixSocket};
use std::collections::{HashMap, HashSet};
use std::io;
use wms_core::{Pid, SessionId};

/// The PAM service, and the name of the process, that opens xrdp's sessions.
pub(crate) const SERVICE: &str = "xrdp-sesman";

/// The name of the socket xorgxrdp listens on, before the display number.
const DISPLAY_SOCKET: &[u8] = b"xrdp_display_";

/// The xrdp process serving a session's RDP client.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connection {
    pub(crate) pid: Pid,
    pub(crate) start_time: u64,
    /// The client's address, from the TCP connection the process holds.
    pub(crate) client: Option<String>,
    /// Whether the process also serves other desktops or listens for new connections
    /// (xrdp run with `fork=false`): ending it would cut more than this session.
    pub(crate) shared: bool,
}

/// The sessions of `sessions` (each with its processes) that an xrdp process serves now,
/// with those processes. A session missing from the answer has no RDP client.
///
/// Fails when an xrdp process cannot be read (a caller other than root): whether a session
/// is connected is then not known.
pub(crate) fn connections(
    sessions: &[(SessionId, Vec<Pid>)],
) -> io::Result<HashMap<SessionId, Vec<Connection>>> {
    let mut out = HashMap::new();
    if sessions.is_empty() {
        return Ok(out);
    }
    let table = connected_unix_sockets()?;
    // The peers of the sessions' X servers' xrdp_display connections.
    let mut peers: HashMap<u32, SessionId> = HashMap::new();
    for (id, pids) in sessions {
        for pid in pids {
            // Another user's processes cannot be read by a plain user: not known then.
            for ino in socket_inodes_checked(*pid)? {
                if let Some(peer) = table.get(&ino).and_then(display_peer) {
                    peers.insert(peer, *id);
                }
            }
        }
    }
    if peers.is_empty() {
        return Ok(out);
    }
    // Every desktop's peer, whichever session it is of.
    let all_peers: HashSet<u32> = table.values().filter_map(display_peer).collect();
    for pid in procfs::pids()? {
        let Some(stat) = procfs::stat(pid) else {
            continue;
        };
        if stat.comm != "xrdp" || stat.is_dead() {
            continue;
        }
        // Outside every audit session, and root's: a user cannot make such a process.
        if procfs::session_id(pid).is_some_and(|s| s != u32::MAX) || !is_root(pid) {
            continue;
        }
        let fds = socket_inodes_checked(pid)?;
        // Every session it serves (one, unless xrdp runs with fork=false).
        let served: HashSet<SessionId> = fds
            .iter()
            .filter_map(|ino| peers.get(ino))
            .copied()
            .collect();
        if served.is_empty() {
            continue;
        }
        let (client, listens) = tcp_client(pid, stat.ppid, &fds);
        let desktops = fds.iter().filter(|ino| all_peers.contains(ino)).count();
        for id in served {
            out.entry(id).or_insert_with(Vec::new).push(Connection {
                pid,
                start_time: stat.start_time,
                // Which of its clients is whose is not known when it serves several.
                client: if desktops > 1 { None } else { client.clone() },
                shared: listens || desktops > 1,
            });
        }
    }
    Ok(out)
}

/// The peer of an accepted connection on an `xrdp_display_*` socket.
fn display_peer(s: &UnixSocket) -> Option<u32> {
    let name = s.name.as_deref()?;
    let file = name.rsplit(|b| *b == b'/').next()?;
    file.starts_with(DISPLAY_SOCKET).then_some(s.peer?)
}

/// Whether every user ID of process `pid` (real, effective, saved, filesystem) is root's.
fn is_root(pid: Pid) -> bool {
    procfs::with_file(pid, "status", |b| {
        let text = std::str::from_utf8(b).ok()?;
        let ids = text.lines().find_map(|l| l.strip_prefix("Uid:"))?;
        Some(ids.split_ascii_whitespace().all(|v| v == "0"))
    })
    .unwrap_or(false)
}

/// The inodes of the sockets process `pid` holds (none when it cannot be read).
fn socket_inodes(pid: Pid) -> HashSet<u32> {
    socket_inodes_checked(pid).unwrap_or_default()
}

/// The inodes of the sockets process `pid` holds; an error when it may not be read (a
/// process that has gone holds none).
fn socket_inodes_checked(pid: Pid) -> io::Result<HashSet<u32>> {
    let dir = match std::fs::read_dir(format!("/proc/{}/fd", pid.0)) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(HashSet::new()),
        Err(e) => return Err(e),
    };
    Ok(dir
        .flatten()
        .filter_map(|e| std::fs::read_link(e.path()).ok())
        .filter_map(|l| {
            let l = l.to_str()?;
            l.strip_prefix("socket:[")?.strip_suffix(']')?.parse().ok()
        })
        .collect())
}

/// The remote address of the RDP client of xrdp process `pid` (whose parent, the daemon,
/// is `parent`): of its established TCP connections, the one accepted on a port the
/// daemon listens on; and whether `pid` itself listens for connections.
fn tcp_client(pid: Pid, parent: Pid, fds: &HashSet<u32>) -> (Option<String>, bool) {
    let listening = socket_inodes(parent);
    let mut conns = Vec::new();
    let mut ports = HashSet::new();
    let mut listens = false;
    for table in ["tcp", "tcp6"] {
        let Ok(text) = std::fs::read_to_string(format!("/proc/{}/net/{table}", pid.0)) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let Some(e) = parse_tcp_line(line) else {
                continue;
            };
            if e.state == 0x0A {
                listens |= fds.contains(&e.inode);
                if listening.contains(&e.inode) {
                    ports.insert(e.local_port);
                }
            } else if e.state == 0x01 && fds.contains(&e.inode) {
                conns.push(e);
            }
        }
    }
    let chosen = match conns.iter().find(|c| ports.contains(&c.local_port)) {
        Some(c) => Some(c),
        None if conns.len() == 1 => Some(&conns[0]),
        None => None,
    };
    (chosen.map(|c| c.remote.clone()), listens)
}

/// One line of `/proc/net/tcp` or `tcp6`, as far as wms needs it.
#[derive(Debug, PartialEq, Eq)]
struct TcpEntry {
    local_port: u16,
    remote: String,
    state: u8,
    inode: u32,
}

/// Parses `sl local_address rem_address st ... uid timeout inode ...`, addresses as the
/// kernel prints them (hex words in host byte order, then `:PORT` in hex).
fn parse_tcp_line(line: &str) -> Option<TcpEntry> {
    let f: Vec<&str> = line.split_ascii_whitespace().collect();
    let (_, local_port) = f.get(1)?.split_once(':')?;
    let (remote, _) = f.get(2)?.split_once(':')?;
    Some(TcpEntry {
        local_port: u16::from_str_radix(local_port, 16).ok()?,
        remote: hex_address(remote)?,
        state: u8::from_str_radix(f.get(3)?, 16).ok()?,
        inode: f.get(9)?.parse().ok()?,
    })
}

/// An address as `/proc/net/tcp{,6}` prints it: 32-bit words in host byte order.
fn hex_address(hex: &str) -> Option<String> {
    let words: Vec<u32> = (0..hex.len() / 8)
        .map(|i| u32::from_str_radix(hex.get(i * 8..i * 8 + 8)?, 16).ok())
        .collect::<Option<_>>()?;
    let bytes: Vec<u8> = words.iter().flat_map(|w| w.to_ne_bytes()).collect();
    match bytes.len() {
        4 => Some(std::net::Ipv4Addr::new(bytes[0], bytes[1], bytes[2], bytes[3]).to_string()),
        16 => {
            let a = std::net::Ipv6Addr::from(<[u8; 16]>::try_from(bytes).ok()?);
            Some(match a.to_ipv4_mapped() {
                Some(v4) => v4.to_string(),
                None => a.to_string(),
            })
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tcp_lines_are_read_as_the_kernel_prints_them() {
        let v4 = "   2: 0100007F:8462 0100007F:9CEE 01 00000000:00000000 02:000AFAB0 00000000     0        0 5851480 2 000000003372bcb0 20 4 17 18 -1";
        let e = parse_tcp_line(v4).unwrap();
        assert_eq!(e.local_port, 33890);
        assert_eq!(e.state, 1);
        assert_eq!(e.inode, 5851480);
        if cfg!(target_endian = "little") {
            assert_eq!(e.remote, "127.0.0.1");
            assert_eq!(
                hex_address("0000000000000000FFFF00000501000A").as_deref(),
                Some("10.0.1.5")
            );
            assert_eq!(
                hex_address("00000000000000000000000001000000").as_deref(),
                Some("::1")
            );
        }
        assert_eq!(parse_tcp_line("  sl  local_address rem_address   st"), None);
        assert_eq!(hex_address("zz"), None);
    }

    #[test]
    fn only_an_accepted_connection_on_a_display_socket_counts() {
        let s = |name: &[u8], peer| UnixSocket {
            name: Some(name.to_vec()),
            peer,
        };
        assert_eq!(
            display_peer(&s(b"/run/xrdp/sockdir/xrdp_display_10", Some(7))),
            Some(7)
        );
        assert_eq!(
            display_peer(&s(b"/run/xrdp/sockdir/xrdp_display_10", None)),
            None
        );
        assert_eq!(display_peer(&s(b"/tmp/.X11-unix/X10", Some(7))), None);
        assert_eq!(
            display_peer(&s(b"/run/xrdp/sockdir/xrdp_chansrv_socket_10", Some(7))),
            None
        );
        assert_eq!(
            display_peer(&UnixSocket {
                name: None,
                peer: Some(7)
            }),
            None
        );
    }
}
