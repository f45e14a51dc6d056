//! The byte stream under an X connection: x11rb's own Unix socket stream, with a bound on
//! each wait for the server, so that a stopped or hung X server fails the request (with
//! `TimedOut`) instead of holding its caller for ever.

use rustix::event::{PollFd, PollFlags};
use std::io;
use std::io::IoSlice;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};
use x11rb::rust_connection::{DefaultStream, PollMode, Stream};
use x11rb::utils::RawFdContainer;

/// x11rb's [`DefaultStream`] whose waits last at most its timeout (`None`: no bound).
#[derive(Debug)]
pub struct TimedStream {
    inner: DefaultStream,
    timeout: Option<Duration>,
}

impl TimedStream {
    /// The stream over the connected socket `stream`.
    pub fn new(stream: UnixStream, timeout: Option<Duration>) -> io::Result<TimedStream> {
        let (inner, _) = DefaultStream::from_unix_stream(stream)?;
        Ok(TimedStream { inner, timeout })
    }
}

impl Stream for TimedStream {
    fn poll(&self, mode: PollMode) -> io::Result<()> {
        use std::os::fd::AsFd;
        let Some(timeout) = self.timeout else {
            return self.inner.poll(mode);
        };
        let mut flags = PollFlags::empty();
        if mode.readable() {
            flags |= PollFlags::IN;
        }
        if mode.writable() {
            flags |= PollFlags::OUT;
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!("the X server did not answer within {timeout:?}"),
                ));
            }
            let ts = crate::sys::timespec(left);
            let mut fds = [PollFd::from_borrowed_fd(self.inner.as_fd(), flags)];
            match rustix::event::poll(&mut fds, Some(&ts)) {
                Ok(0) => continue,
                Ok(_) => return Ok(()),
                Err(rustix::io::Errno::INTR) => continue,
                Err(e) => return Err(e.into()),
            }
        }
    }

    fn read(&self, buf: &mut [u8], fd_storage: &mut Vec<RawFdContainer>) -> io::Result<usize> {
        self.inner.read(buf, fd_storage)
    }

    fn write(&self, buf: &[u8], fds: &mut Vec<RawFdContainer>) -> io::Result<usize> {
        self.inner.write(buf, fds)
    }

    fn write_vectored(
        &self,
        bufs: &[IoSlice<'_>],
        fds: &mut Vec<RawFdContainer>,
    ) -> io::Result<usize> {
        self.inner.write_vectored(bufs, fds)
    }
}

/// The socket, for a client that waits for its events together with other things (the
/// desktop locker polls it with a pidfd).
impl std::os::fd::AsFd for TimedStream {
    fn as_fd(&self) -> std::os::fd::BorrowedFd<'_> {
        self.inner.as_fd()
    }
}
