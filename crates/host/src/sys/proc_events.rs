//! The kernel's process events (the proc connector, `NETLINK_CONNECTOR`): a subscription
//! that reports every fork on the host. The close engine follows them instead of
//! rescanning `/proc` (see `process::follow::Tracker`). The socket calls go through
//! rustix's netlink support (the socket, its multicast group in the bound address, the
//! receive buffer), so there is no `unsafe` here; the wire format is built and parsed here,
//! safely, from bytes.

use rustix::fd::OwnedFd;
use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::io;
use std::time::{Duration, Instant};

/// A process event, as far as the tracker cares.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Event {
    /// The kernel's answer to a subscription (`ack` is the request's plus one).
    Ack {
        ack: u32,
        err: u32,
    },
    /// A fork: the new task's PID and thread group ID, and its parent's thread group.
    Fork {
        pid: i32,
        tgid: i32,
        parent_tgid: i32,
    },
    /// A task exec'd a new program.
    Exec {
        pid: i32,
        tgid: i32,
    },
    /// A task exited (a process, when `pid == tgid`).
    Exit {
        pid: i32,
        tgid: i32,
    },
    /// A task changed its user or group IDs, its (setsid) session or its name.
    Changed {
        pid: i32,
        tgid: i32,
    },
    Other,
}

// The proc connector's wire format (linux/connector.h, linux/cn_proc.h).
const CN_IDX_PROC: u32 = 1;
const CN_VAL_PROC: u32 = 1;
const PROC_CN_MCAST_LISTEN: u32 = 1;
const PROC_CN_MCAST_IGNORE: u32 = 2;
const PROC_EVENT_NONE: u32 = 0;
const PROC_EVENT_FORK: u32 = 1;
const PROC_EVENT_EXEC: u32 = 2;
const PROC_EVENT_UID: u32 = 4;
const PROC_EVENT_GID: u32 = 0x40;
const PROC_EVENT_SID: u32 = 0x80;
const PROC_EVENT_COMM: u32 = 0x200;
const PROC_EVENT_EXIT: u32 = 0x8000_0000;
const NLMSG_HDRLEN: usize = 16;
/// `nlmsg_type` of a message that is complete in itself (linux/netlink.h).
const NLMSG_DONE: u32 = 3;
/// `struct cn_msg` before its data: id (idx, val), seq, ack, len, flags.
const CN_MSG_HDRLEN: usize = 20;
/// The inode numbers of the initial PID and user namespaces (linux/proc_ns.h).
const PROC_PID_INIT_INO: u64 = 0xEFFF_FFFC;
const PROC_USER_INIT_INO: u64 = 0xEFFF_FFFD;

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The events in one datagram from the connector.
pub(crate) fn messages(mut buf: &[u8]) -> Vec<Event> {
    let mut out = Vec::new();
    while let Some(len) = u32_at(buf, 0).map(|l| l as usize) {
        if len < NLMSG_HDRLEN || len > buf.len() {
            break;
        }
        let msg = &buf[NLMSG_HDRLEN..len];
        // cn_msg, then proc_event: what, cpu, timestamp (8), then the event's data.
        let ev = CN_MSG_HDRLEN;
        out.push(match (u32_at(msg, 12), u32_at(msg, ev)) {
            (Some(ack), Some(PROC_EVENT_NONE)) => Event::Ack {
                ack,
                err: u32_at(msg, ev + 16).unwrap_or(0),
            },
            // fork: parent_pid, parent_tgid, child_pid, child_tgid after the header (16).
            (_, Some(PROC_EVENT_FORK)) => match (
                u32_at(msg, ev + 20),
                u32_at(msg, ev + 24),
                u32_at(msg, ev + 28),
            ) {
                (Some(parent_tgid), Some(pid), Some(tgid)) => Event::Fork {
                    pid: pid as i32,
                    tgid: tgid as i32,
                    parent_tgid: parent_tgid as i32,
                },
                _ => Event::Other,
            },
            // The others begin with process_pid, process_tgid.
            (_, Some(what)) => match (u32_at(msg, ev + 16), u32_at(msg, ev + 20)) {
                (Some(pid), Some(tgid)) => {
                    let (pid, tgid) = (pid as i32, tgid as i32);
                    match what {
                        PROC_EVENT_EXEC => Event::Exec { pid, tgid },
                        PROC_EVENT_EXIT => Event::Exit { pid, tgid },
                        PROC_EVENT_UID | PROC_EVENT_GID | PROC_EVENT_SID | PROC_EVENT_COMM => {
                            Event::Changed { pid, tgid }
                        }
                        _ => Event::Other,
                    }
                }
                _ => Event::Other,
            },
            _ => Event::Other,
        });
        let next = (len + 3) & !3;
        if next >= buf.len() {
            break;
        }
        buf = &buf[next..];
    }
    out
}

/// A subscription to the kernel's process events (the proc connector).
pub(crate) struct ProcEvents {
    fd: OwnedFd,
}

impl ProcEvents {
    /// Subscribes, and waits for the kernel's acknowledgement: a subscription the kernel
    /// ignores (another PID namespace, no privilege) would otherwise look like a quiet host.
    pub(crate) fn subscribe() -> io::Result<ProcEvents> {
        ProcEvents::subscribe_to(Some(PROC_EVENT_FORK), 2 << 20)
    }

    /// Subscribes to the events of `filter` (every type when `None`, or on kernels before
    /// 6.6, which take no filter), with a receive buffer of `buffer` bytes.
    pub(crate) fn subscribe_to(filter: Option<u32>, buffer: usize) -> io::Result<ProcEvents> {
        let ns_ino = |ns: &str| rustix::fs::stat(format!("/proc/self/ns/{ns}")).map(|s| s.st_ino);
        if !rustix::process::geteuid().is_root()
            || ns_ino("pid").ok() != Some(PROC_PID_INIT_INO)
            || ns_ino("user").ok() != Some(PROC_USER_INIT_INO)
            // And /proc must show this namespace's PIDs.
            || rustix::fs::readlink("/proc/self", Vec::new())
                .ok()
                .and_then(|l| l.to_str().ok()?.parse::<u32>().ok())
                != Some(std::process::id())
        {
            return Err(io::Error::other(
                "process events need root in the initial PID and user namespaces",
            ));
        }
        let fd = rustix::net::socket_with(
            AddressFamily::NETLINK,
            SocketType::DGRAM,
            SocketFlags::CLOEXEC | SocketFlags::NONBLOCK,
            Some(netlink::CONNECTOR),
        )?;
        // Room for a burst of forks between two reads (an overflow only costs a new start);
        // root may exceed rmem_max.
        let size = buffer;
        if rustix::net::sockopt::set_socket_recv_buffer_size_force(&fd, size).is_err() {
            let _ = rustix::net::sockopt::set_socket_recv_buffer_size(&fd, size);
        }
        // Joining the proc connector's multicast group is binding to it.
        rustix::net::bind(&fd, &SocketAddrNetlink::new(0, CN_IDX_PROC))?;
        let ev = ProcEvents { fd };
        // Every event type, which the kernel acknowledges...
        let ack = std::process::id() ^ 0x5eed_0000;
        ev.control(PROC_CN_MCAST_LISTEN, None, ack)?;
        ev.wait_ack(ack)?;
        // ...then only those asked for (kernels since 6.6; older ones ignore this and
        // send all).
        if let Some(f) = filter {
            ev.control(PROC_CN_MCAST_LISTEN, Some(f), ack.wrapping_add(2))?;
        }
        Ok(ev)
    }

    /// Sends a multicast control request (`filter`: the event types, on kernels that
    /// take one).
    fn control(&self, op: u32, filter: Option<u32>, ack: u32) -> io::Result<()> {
        let data_len = if filter.is_some() { 8 } else { 4 };
        let total = NLMSG_HDRLEN + CN_MSG_HDRLEN + data_len;
        let mut msg = [0u8; NLMSG_HDRLEN + CN_MSG_HDRLEN + 8];
        let mut put = |at: usize, v: u32| msg[at..at + 4].copy_from_slice(&v.to_ne_bytes());
        put(0, total as u32); // nlmsg_len
        put(4, NLMSG_DONE); // nlmsg_type (u16) and flags (u16, 0)
        put(8, ack); // nlmsg_seq
        put(12, std::process::id()); // nlmsg_pid
        let c = NLMSG_HDRLEN;
        put(c, CN_IDX_PROC);
        put(c + 4, CN_VAL_PROC);
        put(c + 8, ack); // seq
        put(c + 12, ack); // ack
        put(c + 16, data_len as u32); // len (u16) and flags (u16, 0)
        put(c + 20, op);
        if let Some(f) = filter {
            put(c + 24, f);
        }
        // To the kernel: port 0, no groups.
        rustix::net::sendto(
            &self.fd,
            &msg[..total],
            SendFlags::empty(),
            &SocketAddrNetlink::new(0, 0),
        )?;
        Ok(())
    }

    /// Waits (briefly: the kernel answers while the request is sent) for the answer to
    /// the request sent with `ack`.
    fn wait_ack(&self, ack: u32) -> io::Result<()> {
        let end = Instant::now() + Duration::from_millis(250);
        let mut buf = vec![0u8; 8192];
        loop {
            match self.recv(&mut buf)? {
                Some(n) => {
                    for e in messages(&buf[..n]) {
                        if let Event::Ack { ack: a, err } = e {
                            if a == ack.wrapping_add(1) {
                                return match err {
                                    0 => Ok(()),
                                    e => Err(io::Error::from_raw_os_error(e as i32)),
                                };
                            }
                        }
                    }
                }
                None => {
                    let left = end.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(io::Error::other(
                            "the kernel did not acknowledge the process events subscription",
                        ));
                    }
                    let ts = rustix::event::Timespec {
                        tv_sec: 0,
                        tv_nsec: i64::from(left.subsec_nanos()),
                    };
                    let mut fds = [rustix::event::PollFd::new(
                        &self.fd,
                        rustix::event::PollFlags::IN,
                    )];
                    let _ = rustix::event::poll(&mut fds, Some(&ts));
                }
            }
        }
    }

    /// Waits until a datagram is queued (or a signal interrupts); no timeout, so a quiet
    /// host costs no wake-ups.
    pub(crate) fn wait(&self) -> io::Result<()> {
        let mut fds = [rustix::event::PollFd::new(
            &self.fd,
            rustix::event::PollFlags::IN,
        )];
        match rustix::event::poll(&mut fds, None) {
            Ok(_) | Err(rustix::io::Errno::INTR) => Ok(()),
            Err(e) => Err(e.into()),
        }
    }

    /// Whether a datagram is queued (without waiting).
    pub(crate) fn pending(&self) -> bool {
        // An error polling counts as pending, so a reader waits (briefly) rather than
        // answer from a table that may be behind.
        super::readable_now(rustix::fd::AsFd::as_fd(&self.fd))
    }

    /// One datagram into `buf`; `None` when none is queued. Lost events are an error.
    pub(crate) fn recv(&self, buf: &mut [u8]) -> io::Result<Option<usize>> {
        loop {
            match rustix::net::recv(&self.fd, &mut *buf, RecvFlags::empty()) {
                Ok((_, n)) => return Ok(Some(n.min(buf.len()))),
                Err(rustix::io::Errno::INTR) => continue,
                Err(rustix::io::Errno::AGAIN) => return Ok(None),
                Err(e) => return Err(e.into()),
            }
        }
    }
}

impl Drop for ProcEvents {
    fn drop(&mut self) {
        // Tell the kernel it need not produce events for us any more.
        let _ = self.control(PROC_CN_MCAST_IGNORE, None, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn datagram(what: u32, data: &[u32], ack: u32) -> Vec<u8> {
        let mut ev = Vec::new();
        for w in [what, 0, 0, 0] {
            ev.extend_from_slice(&w.to_ne_bytes());
        }
        for w in data {
            ev.extend_from_slice(&w.to_ne_bytes());
        }
        let mut cn = Vec::new();
        for w in [CN_IDX_PROC, CN_VAL_PROC, 7, ack] {
            cn.extend_from_slice(&w.to_ne_bytes());
        }
        cn.extend_from_slice(&(ev.len() as u16).to_ne_bytes());
        cn.extend_from_slice(&0u16.to_ne_bytes());
        cn.extend(ev);
        let mut msg = Vec::new();
        msg.extend_from_slice(&((NLMSG_HDRLEN + cn.len()) as u32).to_ne_bytes());
        msg.extend_from_slice(&[3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]);
        msg.extend(cn);
        msg
    }

    #[test]
    fn connector_messages_parse() {
        let fork = datagram(PROC_EVENT_FORK, &[10, 10, 12, 11], 0);
        assert_eq!(
            messages(&fork),
            vec![Event::Fork {
                pid: 12,
                tgid: 11,
                parent_tgid: 10
            }]
        );
        let ack = datagram(PROC_EVENT_NONE, &[0], 43);
        assert_eq!(messages(&ack), vec![Event::Ack { ack: 43, err: 0 }]);
        let exit = datagram(PROC_EVENT_EXIT, &[7, 5, 0, 0, 1, 1], 0);
        assert_eq!(messages(&exit), vec![Event::Exit { pid: 7, tgid: 5 }]);
        let exec = datagram(PROC_EVENT_EXEC, &[9, 9], 0);
        assert_eq!(messages(&exec), vec![Event::Exec { pid: 9, tgid: 9 }]);
        let uid = datagram(PROC_EVENT_UID, &[9, 9, 1000, 1000], 0);
        assert_eq!(messages(&uid), vec![Event::Changed { pid: 9, tgid: 9 }]);
        let ptrace = datagram(0x100, &[9, 9, 1, 1], 0);
        assert_eq!(messages(&ptrace), vec![Event::Other]);
        // Truncated or garbage input yields nothing rather than a panic.
        assert_eq!(messages(&fork[..20]), vec![]);
        assert_eq!(messages(&[0xff; 3]), vec![]);
        assert_eq!(messages(&[]), vec![]);
    }
}
