//! The kernel's process events (the proc connector, `NETLINK_CONNECTOR`): a subscription
//! that reports every fork on the host. The close engine follows them instead of
//! rescanning `/proc` (see `process::follow::Tracker`). The socket calls go through
//! rustix's netlink support (the socket, its multicast group in the bound address, the
//! receive buffer); the one `unsafe` call attaches the socket filter that drops threads'
//! events in the kernel. The wire format is built and parsed here, safely, from bytes.

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

/// A classic BPF instruction (linux/filter.h).
const fn bpf(code: u16, jt: u8, jf: u8, k: u32) -> libc::sock_filter {
    libc::sock_filter { code, jt, jf, k }
}

/// Attaches to `fd` a socket filter that keeps the events of processes and drops those of
/// threads: forks whose new task is a thread, and every other event of a task that is not
/// its thread group's leader (a thread that renames itself, or each thread's copy of a
/// process's change of IDs), except setsid, which changes the whole process whichever
/// thread calls it. Neither the session table nor the close engine uses them, and
/// on a host running many threaded programs they are most of the events; dropped in the
/// kernel they neither wake the agent nor fill the socket's buffer.
fn attach_process_filter(fd: &OwnedFd) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    const LD_W_ABS: u16 = 0x20; // BPF_LD | BPF_W | BPF_ABS
    const TAX: u16 = 0x07; // BPF_MISC | BPF_TAX
    const JEQ_K: u16 = 0x15; // BPF_JMP | BPF_JEQ | BPF_K
    const JEQ_X: u16 = 0x1d; // BPF_JMP | BPF_JEQ | BPF_X
    const RET_K: u16 = 0x06; // BPF_RET | BPF_K

    // Offsets in the datagram: the netlink header, struct cn_msg, then struct proc_event:
    // what, cpu, timestamp, then the event (fork: parent pid and tgid, child pid and tgid;
    // the others: process pid and tgid first).
    const EVENT: u32 = (NLMSG_HDRLEN + CN_MSG_HDRLEN) as u32;
    const WHAT: u32 = EVENT;
    const PID: u32 = EVENT + 16;
    const TGID: u32 = EVENT + 20;
    const CHILD_PID: u32 = EVENT + 24;
    const CHILD_TGID: u32 = EVENT + 28;
    // A word loaded by BPF_ABS is read in network byte order.
    let be = |v: u32| u32::from_be_bytes(v.to_ne_bytes());
    // Jumps count the instructions to skip. setsid changes the whole process whichever
    // thread calls it, so its event is kept from any thread.
    let mut program = [
        bpf(LD_W_ABS, 0, 0, WHAT),              // 0
        bpf(JEQ_K, 11, 0, be(PROC_EVENT_NONE)), // 1: an acknowledgement: to 13
        bpf(JEQ_K, 5, 0, be(PROC_EVENT_FORK)),  // 2: to 8
        bpf(JEQ_K, 9, 0, be(PROC_EVENT_SID)),   // 3: to 13
        bpf(LD_W_ABS, 0, 0, PID),               // 4
        bpf(TAX, 0, 0, 0),                      // 5
        bpf(LD_W_ABS, 0, 0, TGID),              // 6
        bpf(JEQ_X, 5, 4, 0),                    // 7: the leader's to 13, else 12
        bpf(LD_W_ABS, 0, 0, CHILD_PID),         // 8
        bpf(TAX, 0, 0, 0),                      // 9
        bpf(LD_W_ABS, 0, 0, CHILD_TGID),        // 10
        bpf(JEQ_X, 1, 0, 0),                    // 11: a new process to 13, else 12
        bpf(RET_K, 0, 0, 0),                    // 12: dropped
        bpf(RET_K, 0, 0, u32::MAX),             // 13: kept
    ];
    let prog = libc::sock_fprog {
        len: program.len() as u16,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: `prog` points at `program`, which outlives the call (the kernel copies the
    // program); the option's length is that of `prog`; `fd` is an open socket.
    let rc = unsafe {
        libc::setsockopt(
            fd.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            (&prog as *const libc::sock_fprog).cast(),
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
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
        // root may exceed rmem_max. Until the kernel has acknowledged the subscription the
        // buffer is at least 1 MiB, so that on a busy host the acknowledgement is not
        // crowded out by the events that come before it.
        let set_buffer = |fd: &OwnedFd, size: usize| {
            if rustix::net::sockopt::set_socket_recv_buffer_size_force(fd, size).is_err() {
                let _ = rustix::net::sockopt::set_socket_recv_buffer_size(fd, size);
            }
        };
        set_buffer(&fd, buffer.max(1 << 20));
        // Before any event can be queued: threads' events never are.
        if let Err(e) = attach_process_filter(&fd) {
            tracing::debug!(error = %e, "no socket filter: threads' process events are dropped here instead");
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
        if buffer < 1 << 20 {
            set_buffer(&ev.fd, buffer);
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
            let got = match self.recv(&mut buf) {
                // Events overflowed the buffer before the answer: it may still come.
                Err(e) if e.raw_os_error() == Some(libc::ENOBUFS) => continue,
                got => got?,
            };
            match got {
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
    fn threads_events_are_dropped_in_the_kernel_and_processes_events_kept() {
        let events = ProcEvents::subscribe_to(None, 16 << 20)
            .expect("process events (the tests run as root in the initial namespaces)");
        let me = std::process::id() as i32;
        // A thread that names itself: a fork and a name change, both of a thread.
        std::thread::Builder::new()
            .name("wms-filtered".into())
            .spawn(|| ())
            .unwrap()
            .join()
            .unwrap();
        let mut child = std::process::Command::new("/bin/true").spawn().unwrap();
        let child_pid = child.id() as i32;
        child.wait().unwrap();
        // Events come in order: once the child's exit is read, everything before is too.
        let (mut forked, mut exited, mut of_threads) = (false, false, Vec::new());
        let mut buf = vec![0u8; 64 * 1024];
        let end = Instant::now() + Duration::from_secs(10);
        while !exited && Instant::now() < end {
            let Some(n) = events.recv(&mut buf).unwrap() else {
                std::thread::sleep(Duration::from_millis(5));
                continue;
            };
            for e in messages(&buf[..n]) {
                match e {
                    Event::Fork { pid, tgid, .. }
                    | Event::Exit { pid, tgid }
                    | Event::Changed { pid, tgid }
                        if tgid == me && pid != tgid =>
                    {
                        of_threads.push(e)
                    }
                    Event::Fork { pid, tgid, .. } if pid == child_pid && tgid == child_pid => {
                        forked = true
                    }
                    Event::Exit { pid, .. } if pid == child_pid => exited = true,
                    _ => {}
                }
            }
        }
        assert!(
            forked && exited,
            "the child process's fork and exit were not seen"
        );
        assert!(
            of_threads.is_empty(),
            "threads' events came through: {of_threads:?}"
        );
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
