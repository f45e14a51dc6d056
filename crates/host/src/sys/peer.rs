//! What the kernel vouches for about the other end of a Unix socket, as it was when the
//! peer connected: its supplementary groups (`SO_PEERGROUPS`) and a pidfd of the process
//! that connected (`SO_PEERPIDFD`, Linux 6.5 and later). rustix covers `SO_PEERCRED`
//! but not these two, so they are read with `getsockopt` here.

use rustix::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::io;

// The option numbers of asm-generic/socket.h, which x86, arm, riscv, powerpc and mips
// share; sparc numbers them differently (libc does not export either for Linux yet).
const SPARC: bool = cfg!(any(target_arch = "sparc", target_arch = "sparc64"));
const SO_PEERGROUPS: libc::c_int = if SPARC { 0x3d } else { 59 };
const SO_PEERPIDFD: libc::c_int = if SPARC { 0x56 } else { 77 };

/// The supplementary groups of the peer's credentials at `connect` time.
pub fn peer_groups(sock: BorrowedFd<'_>) -> io::Result<Vec<u32>> {
    let mut groups: Vec<libc::gid_t> = vec![0; 64];
    loop {
        let mut len = (groups.len() * std::mem::size_of::<libc::gid_t>()) as libc::socklen_t;
        // SAFETY: `groups` is writable for `len` bytes, and the kernel writes at most
        // `len` bytes and sets `len` to what it wrote (or needs, with ERANGE).
        let rc = unsafe {
            libc::getsockopt(
                sock.as_raw_fd(),
                libc::SOL_SOCKET,
                SO_PEERGROUPS,
                groups.as_mut_ptr().cast(),
                &mut len,
            )
        };
        let count = len as usize / std::mem::size_of::<libc::gid_t>();
        if rc == 0 {
            groups.truncate(count);
            return Ok(groups);
        }
        let err = io::Error::last_os_error();
        // The kernel said how much room the list needs (NGROUPS_MAX is 65536).
        if err.raw_os_error() == Some(libc::ERANGE) && count > groups.len() && count <= 65536 {
            groups.resize(count, 0);
            continue;
        }
        return Err(err);
    }
}

/// A pidfd of the process that connected, or `None` where the kernel has no
/// `SO_PEERPIDFD` (before 6.5) or the peer has no process (a socketpair's other end
/// made before the peer forked, say).
pub fn peer_pidfd(sock: BorrowedFd<'_>) -> io::Result<Option<OwnedFd>> {
    let mut fd: libc::c_int = -1;
    let mut len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: `fd` is a writable c_int and `len` its size; on success the kernel has
    // stored a new descriptor there, which nothing else owns.
    let rc = unsafe {
        libc::getsockopt(
            sock.as_raw_fd(),
            libc::SOL_SOCKET,
            SO_PEERPIDFD,
            (&mut fd as *mut libc::c_int).cast(),
            &mut len,
        )
    };
    if rc != 0 {
        let err = io::Error::last_os_error();
        return match err.raw_os_error() {
            Some(libc::ENOPROTOOPT) | Some(libc::ENODATA) => Ok(None),
            _ => Err(err),
        };
    }
    if fd < 0 {
        return Ok(None);
    }
    // SAFETY: the kernel just made `fd` for us; nothing else owns or closes it.
    Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }))
}
