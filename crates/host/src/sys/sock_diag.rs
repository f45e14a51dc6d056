//! The kernel's table of connected Unix sockets, through `sock_diag` netlink
//! (`NETLINK_SOCK_DIAG`, `AF_UNIX`), as `ss -x` reads it: for each socket its inode, the
//! address it is bound to (an accepted connection carries its listener's) and the inode of
//! its peer. The peer is what the kernel joined the socket to, not what a name suggests;
//! it is how an xrdp session's X server is tied to the xrdp process that serves the RDP
//! client (see `xrdp`). The socket calls go through rustix; the wire format is built and
//! parsed here, safely, from bytes.

use rustix::net::netlink::{self, SocketAddrNetlink};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
use std::collections::HashMap;
use std::io;

/// A connected Unix socket, as the kernel shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UnixSocket {
    /// The address it is bound to (an abstract one begins with a NUL byte), if any.
    pub(crate) name: Option<Vec<u8>>,
    /// The inode of the socket it is connected to.
    pub(crate) peer: Option<u32>,
}

// linux/netlink.h, linux/sock_diag.h, linux/unix_diag.h.
const NLMSG_HDRLEN: usize = 16;
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const SOCK_DIAG_BY_FAMILY: u16 = 20;
const UDIAG_SHOW_NAME: u32 = 1;
const UDIAG_SHOW_PEER: u32 = 4;
const UNIX_DIAG_NAME: u16 = 0;
const UNIX_DIAG_PEER: u16 = 2;
/// `struct unix_diag_msg`: family, type, state, pad, ino, cookie[2].
const UNIX_DIAG_MSG_LEN: usize = 16;
/// TCP_ESTABLISHED, the state of a connected Unix stream socket.
const ESTABLISHED: u32 = 1;
/// At most this many bytes of answers are read: a host with a million sockets is
/// answered in part rather than held without bound.
const MAX_ANSWER: usize = 256 << 20;

fn u16_at(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_ne_bytes(b.get(at..at + 2)?.try_into().ok()?))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// The request: a dump of every connected Unix socket, with its name and peer.
fn request(seq: u32) -> Vec<u8> {
    let mut b = Vec::with_capacity(40);
    b.extend_from_slice(&40u32.to_ne_bytes());
    b.extend_from_slice(&SOCK_DIAG_BY_FAMILY.to_ne_bytes());
    b.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    b.extend_from_slice(&seq.to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    // struct unix_diag_req: family, protocol, pad, states, ino, show, cookie[2].
    b.push(libc::AF_UNIX as u8);
    b.push(0);
    b.extend_from_slice(&0u16.to_ne_bytes());
    b.extend_from_slice(&(1u32 << ESTABLISHED).to_ne_bytes());
    b.extend_from_slice(&0u32.to_ne_bytes());
    b.extend_from_slice(&(UDIAG_SHOW_NAME | UDIAG_SHOW_PEER).to_ne_bytes());
    b.extend_from_slice(&u32::MAX.to_ne_bytes());
    b.extend_from_slice(&u32::MAX.to_ne_bytes());
    b
}

/// What one datagram of the answer holds: sockets into `out`; `Some(Ok)` once the dump
/// is done, `Some(Err)` if the kernel refused it.
fn parse(mut buf: &[u8], out: &mut HashMap<u32, UnixSocket>) -> Option<io::Result<()>> {
    while let (Some(len), Some(kind)) = (u32_at(buf, 0), u16_at(buf, 4)) {
        let len = len as usize;
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Some(Err(io::Error::other("a malformed sock_diag answer")));
        }
        let msg = &buf[NLMSG_HDRLEN..len];
        match kind {
            NLMSG_DONE => return Some(Ok(())),
            NLMSG_ERROR => {
                let errno = u32_at(msg, 0).map_or(0, |e| e as i32);
                return Some(Err(io::Error::from_raw_os_error(-errno)));
            }
            SOCK_DIAG_BY_FAMILY => {
                if let Some(ino) = u32_at(msg, 4) {
                    out.insert(ino, attributes(msg.get(UNIX_DIAG_MSG_LEN..)?));
                }
            }
            _ => {}
        }
        let next = (len + 3) & !3;
        if next >= buf.len() {
            break;
        }
        buf = &buf[next..];
    }
    None
}

/// The name and peer among a socket's attributes (`struct rtattr`: len, type, data).
fn attributes(mut b: &[u8]) -> UnixSocket {
    let mut s = UnixSocket {
        name: None,
        peer: None,
    };
    while let (Some(len), Some(kind)) = (u16_at(b, 0), u16_at(b, 2)) {
        let len = len as usize;
        let Some(data) = (len >= 4).then(|| b.get(4..len)).flatten() else {
            break;
        };
        match kind {
            UNIX_DIAG_NAME => {
                let mut name = data.to_vec();
                // A path is NUL-terminated when it was bound with its terminator.
                if name.first() != Some(&0) {
                    while name.last() == Some(&0) {
                        name.pop();
                    }
                }
                s.name = Some(name);
            }
            UNIX_DIAG_PEER => s.peer = u32_at(data, 0),
            _ => {}
        }
        let next = (len + 3) & !3;
        if next >= b.len() {
            break;
        }
        b = &b[next..];
    }
    s
}

/// Every connected Unix socket of this network namespace, by inode.
pub(crate) fn connected_unix_sockets() -> io::Result<HashMap<u32, UnixSocket>> {
    let fd = rustix::net::socket_with(
        AddressFamily::NETLINK,
        SocketType::DGRAM,
        SocketFlags::CLOEXEC,
        Some(netlink::SOCK_DIAG),
    )?;
    let seq = std::process::id() ^ 0x00d1_a600;
    rustix::net::sendto(
        &fd,
        &request(seq),
        SendFlags::empty(),
        &SocketAddrNetlink::new(0, 0),
    )?;
    let mut out = HashMap::new();
    let mut buf = vec![0u8; 64 * 1024];
    let mut read = 0usize;
    loop {
        let n = loop {
            match rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty()) {
                Ok((n, _)) => break n,
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        read += n;
        if n == 0 || read > MAX_ANSWER {
            return Err(io::Error::other("the sock_diag answer did not end"));
        }
        match parse(&buf[..n.min(buf.len())], &mut out) {
            Some(Ok(())) => return Ok(out),
            Some(Err(e)) => return Err(e),
            None => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::MetadataExt;
    use std::os::unix::net::{UnixListener, UnixStream};

    fn inode(s: &impl std::os::fd::AsFd) -> u32 {
        let fd = s.as_fd().try_clone_to_owned().unwrap();
        std::fs::File::from(fd).metadata().unwrap().ino() as u32
    }

    #[test]
    fn the_kernel_names_each_end_of_a_connection_and_its_peer() {
        let dir = std::env::temp_dir().join(format!("wms-sock-diag-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir(&dir).unwrap();
        let path = dir.join("display_7");
        let listener = UnixListener::bind(&path).unwrap();
        let client = UnixStream::connect(&path).unwrap();
        let (server, _) = listener.accept().unwrap();
        let all = connected_unix_sockets().unwrap();
        let (c, s) = (inode(&client), inode(&server));
        let server_side = &all[&s];
        // The accepted end carries its listener's address; its peer is the client.
        assert_eq!(
            server_side.name.as_deref(),
            Some(path.as_os_str().as_encoded_bytes())
        );
        assert_eq!(server_side.peer, Some(c));
        assert_eq!(all[&c].peer, Some(s));
        assert_eq!(all[&c].name, None);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn hostile_answers_end_the_parse() {
        let mut out = HashMap::new();
        // A length beyond the datagram.
        let mut b = 500u32.to_ne_bytes().to_vec();
        b.extend_from_slice(&[0; 12]);
        assert!(matches!(parse(&b, &mut out), Some(Err(_))));
        // An attribute longer than what is left is ignored.
        let mut attr = 40u16.to_ne_bytes().to_vec();
        attr.extend_from_slice(&UNIX_DIAG_PEER.to_ne_bytes());
        attr.extend_from_slice(&[1, 0, 0, 0]);
        assert_eq!(attributes(&attr).peer, None);
        assert!(out.is_empty());
    }
}
