//! Every raw system call of the backend, each a small wrapper. `rustix` covers pidfds,
//! signals and polling without `unsafe`; only the resolver call below needs libc directly.

pub(crate) mod peer;
pub(crate) mod proc_events;
pub(crate) mod sock_diag;

use rustix::event::{poll, PollFd, PollFlags};
use rustix::fd::{AsFd, OwnedFd};
use rustix::process::{pidfd_open, pidfd_send_signal, PidfdFlags, Signal};
use std::ffi::{CStr, CString};
use std::io;
use std::time::Duration;
use wms_core::Pid;

/// A process pinned by a pidfd: signals sent through it reach that process and no other,
/// even after its PID has been reused.
#[derive(Debug)]
pub struct PinnedProcess {
    fd: OwnedFd,
}

impl PinnedProcess {
    /// Opens a pidfd for `pid`. The caller must then check, *after* this call, that the
    /// process is the one it meant (see `process::pin`), because the PID may have been
    /// reused between the scan that found it and this call.
    pub fn open(pid: Pid) -> io::Result<PinnedProcess> {
        let raw = rustix::process::Pid::from_raw(pid.0)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let fd = pidfd_open(raw, PidfdFlags::empty())?;
        Ok(PinnedProcess { fd })
    }

    pub fn signal(&self, sig: Signal) -> io::Result<()> {
        Ok(pidfd_send_signal(&self.fd, sig)?)
    }

    /// Whether the process has exited (a pidfd polls readable once it has).
    pub fn has_exited(&self) -> bool {
        pidfd_has_exited(self.fd.as_fd())
    }
}

/// Waits up to `timeout` until at least one of `procs` has exited; returns the indexes of
/// those that have.
pub fn wait_any_exit(procs: &[&PinnedProcess], timeout: Duration) -> io::Result<Vec<usize>> {
    if procs.is_empty() {
        std::thread::sleep(timeout);
        return Ok(Vec::new());
    }
    let mut fds: Vec<PollFd<'_>> = procs
        .iter()
        .map(|p| PollFd::new(&p.fd, PollFlags::IN))
        .collect();
    let ts = timespec(timeout);
    loop {
        match poll(&mut fds, Some(&ts)) {
            Ok(_) => break,
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(fds
        .iter()
        .enumerate()
        .filter(|(_, f)| !f.revents().is_empty())
        .map(|(i, _)| i)
        .collect())
}

/// Whether the process of `pidfd` has exited (a pidfd polls readable once it has); an
/// error polling counts as exited, so callers fail closed.
pub fn pidfd_has_exited(pidfd: rustix::fd::BorrowedFd<'_>) -> bool {
    readable_now(pidfd)
}

/// Whether `fd` polls readable now, without waiting; an error polling counts as readable,
/// so that callers fail closed (a process counts as exited, a queue as not yet drained).
pub(crate) fn readable_now(fd: rustix::fd::BorrowedFd<'_>) -> bool {
    let mut fds = [PollFd::new(&fd, PollFlags::IN)];
    let zero = rustix::event::Timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    loop {
        match poll(&mut fds, Some(&zero)) {
            Ok(_) => return !fds[0].revents().is_empty(),
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return true,
        }
    }
}

impl AsFd for PinnedProcess {
    fn as_fd(&self) -> rustix::fd::BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Reads `buf.len()` bytes at `addr` in the memory of process `pid`
/// (`process_vm_readv`); the count read, which may be short.
pub fn read_process_memory(pid: Pid, addr: usize, buf: &mut [u8]) -> io::Result<usize> {
    let local = libc::iovec {
        iov_base: buf.as_mut_ptr().cast(),
        iov_len: buf.len(),
    };
    let remote = libc::iovec {
        iov_base: addr as *mut libc::c_void,
        iov_len: buf.len(),
    };
    // SAFETY: `local` is `buf`, writable for its length; the remote range is only read,
    // by the kernel, from the other process (a bad address there is EFAULT, not UB here).
    let n = unsafe { libc::process_vm_readv(pid.0, &local, 1, &remote, 1, 0) };
    if n < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(n as usize)
    }
}

/// Makes the C allocator keep little memory it does not use, for a long-lived process
/// with a few threads that build large answers in turn (the agent). glibc otherwise
/// gives each thread that allocates an arena of its own, each keeping its freed memory
/// resident (several megabytes each), and raises its thresholds after each large block is
/// freed, so that later large blocks (a listing's 200 kB of JSON) stay in the heap when
/// freed. One arena, and fixed thresholds of 128 KiB (glibc's defaults, no longer moved):
/// large blocks are mapped and unmapped, and free memory above that at the heap's top is
/// given back. Call before threads start.
pub fn compact_allocator() {
    #[cfg(target_env = "gnu")]
    // SAFETY: mallopt sets parameters of the allocator and touches no memory of ours; an
    // unknown parameter is refused with 0, which changes nothing.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
        libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
        libc::mallopt(libc::M_TRIM_THRESHOLD, 128 * 1024);
    }
}

/// The canonical (fully qualified) name of `host` from the resolver, as `hostname -f`
/// finds it; `None` when the resolver has none.
pub fn canonical_name(host: &str) -> Option<String> {
    let node = CString::new(host).ok()?;
    // SAFETY: zeroed addrinfo is the documented way to build hints (all fields 0/NULL).
    let mut hints: libc::addrinfo = unsafe { std::mem::zeroed() };
    hints.ai_flags = libc::AI_CANONNAME;
    hints.ai_family = libc::AF_UNSPEC;
    let mut res: *mut libc::addrinfo = std::ptr::null_mut();
    // SAFETY: node is a valid C string, hints is initialised, res is an out pointer.
    let rc = unsafe { libc::getaddrinfo(node.as_ptr(), std::ptr::null(), &hints, &mut res) };
    if rc != 0 || res.is_null() {
        return None;
    }
    // SAFETY: res is a valid list from getaddrinfo; ai_canonname is NULL or a C string
    // owned by that list, copied before the list is freed.
    let name = unsafe {
        let c = (*res).ai_canonname;
        let n = (!c.is_null()).then(|| CStr::from_ptr(c).to_string_lossy().into_owned());
        libc::freeaddrinfo(res);
        n
    };
    name.filter(|n| !n.is_empty())
}

/// `d` as the timeout `poll` takes.
pub fn timespec(d: std::time::Duration) -> rustix::event::Timespec {
    rustix::event::Timespec {
        tv_sec: d.as_secs() as i64,
        tv_nsec: i64::from(d.subsec_nanos()),
    }
}

/// The local wall-clock hour and minute of a Unix time, as the C library's time zone
/// (TZ, /etc/localtime) has it: the time `write` prints in its banner.
pub fn local_hour_minute(unix_secs: i64) -> Option<(u32, u32)> {
    let t: libc::time_t = unix_secs;
    // SAFETY: an all-zero `tm` is a valid value of a plain C struct (its pointer field,
    // tm_zone, null); localtime_r only writes into it.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers are to live locals; localtime_r is the reentrant form and
    // keeps no pointer to either.
    let out = unsafe { libc::localtime_r(&t, &mut tm) };
    if out.is_null() {
        return None;
    }
    Some((tm.tm_hour.try_into().ok()?, tm.tm_min.try_into().ok()?))
}

/// Memory shared with another process through a descriptor (a memfd, mapped here read
/// only): where an X server writes a screen for MIT-SHM, instead of sending it through its
/// socket. Unmapped when dropped.
pub struct SharedMemory {
    fd: rustix::fd::OwnedFd,
    ptr: *mut std::ffi::c_void,
    len: usize,
}

// SAFETY: the mapping is owned by this value alone; moving it to another thread moves the
// only way to reach it.
unsafe impl Send for SharedMemory {}

impl SharedMemory {
    /// A new segment of `len` bytes (more than zero), zero-filled.
    pub fn new(len: usize) -> io::Result<SharedMemory> {
        use rustix::fs::MemfdFlags;
        use rustix::mm::{MapFlags, ProtFlags};
        let fd = rustix::fs::memfd_create("wms-screen", MemfdFlags::CLOEXEC)?;
        rustix::fs::ftruncate(&fd, len as u64)?;
        // SAFETY: a new shared mapping of the whole of a file this function just made and
        // sized; no other mapping or reference in this process overlaps it.
        let ptr = unsafe {
            rustix::mm::mmap(
                std::ptr::null_mut(),
                len,
                ProtFlags::READ,
                MapFlags::SHARED,
                &fd,
                0,
            )?
        };
        Ok(SharedMemory { fd, ptr, len })
    }

    /// A descriptor of the segment, to give the other process.
    pub fn fd(&self) -> io::Result<rustix::fd::OwnedFd> {
        self.fd.try_clone()
    }

    /// A copy of the first `n` bytes (at most the segment's length), read once the other
    /// process has said it wrote them.
    pub fn copy(&self, n: usize, out: &mut Vec<u8>) {
        let n = n.min(self.len);
        out.clear();
        out.reserve(n);
        // SAFETY: `ptr` maps `len` readable bytes for as long as `self` lives, and `out`
        // has room for `n <= len` more bytes; the regions cannot overlap (`out` is heap
        // memory of this process, the mapping a file's). The bytes are only read, after
        // the X server's reply said it is done writing them.
        unsafe {
            std::ptr::copy_nonoverlapping(self.ptr as *const u8, out.as_mut_ptr(), n);
            out.set_len(n);
        }
    }
}

impl Drop for SharedMemory {
    fn drop(&mut self) {
        // SAFETY: the mapping made in `new`, of `len` bytes, unmapped once.
        let _ = unsafe { rustix::mm::munmap(self.ptr, self.len) };
    }
}
