//! Real ssh sessions: with a terminal (a pseudo-terminal this kit owns, so a test reads
//! the screen as a user would) or without one; their session ID, input, output and end.

use super::*;

/// A pseudo-terminal pair.
pub(crate) struct Pty {
    pub(crate) master: File,
    pub(crate) slave: File,
}

impl Pty {
    /// Opens a pseudo-terminal (close-on-exec on both ends) with an 80x24 window.
    pub(crate) fn open() -> Pty {
        use rustix::pty::OpenptFlags;
        let master =
            rustix::pty::openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY | OpenptFlags::CLOEXEC)
                .expect("open /dev/ptmx");
        rustix::pty::grantpt(&master).expect("grantpt");
        rustix::pty::unlockpt(&master).expect("unlockpt");
        let name = rustix::pty::ptsname(&master, Vec::new()).expect("ptsname");
        let name = PathBuf::from(name.to_string_lossy().into_owned());
        let slave = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(libc::O_NOCTTY)
            .open(&name)
            .unwrap_or_else(|e| panic!("open {}: {e}", name.display()));
        rustix::termios::tcsetwinsize(
            &slave,
            rustix::termios::Winsize {
                ws_row: 24,
                ws_col: 80,
                ws_xpixel: 0,
                ws_ypixel: 0,
            },
        )
        .expect("set the pty window size");
        Pty {
            master: File::from(master),
            slave,
        }
    }
}

/// Where [`SshSession::send`] writes.
pub(crate) enum Input {
    /// The pty master (what the user types).
    Pty(File),
    /// The ssh client's stdin pipe (`None` once closed).
    Pipe(Option<ChildStdin>),
}

/// A live ssh session opened by [`Sshd::open_session`].
///
/// Dropping it SIGKILLs the ssh client (by its PID, if still running) and reaps it. That
/// ends a terminal session (the remote shell gets SIGHUP), but a command without a terminal
/// may outlive its connection: kill it (or use [`kill_session`]) if the test needs it gone.
pub struct SshSession {
    pub(crate) child: Child,
    pub(crate) status: Option<ExitStatus>,
    pub(crate) session_id: u32,
    pub(crate) remote_pid: u32,
    pub(crate) tty: bool,
    pub(crate) input: Input,
    pub(crate) output: Arc<Buffer>,
    pub(crate) errors: Option<Arc<Buffer>>,
}

impl fmt::Debug for SshSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SshSession")
            .field("session_id", &self.session_id)
            .field("client_pid", &self.child.id())
            .field("remote_pid", &self.remote_pid)
            .field("tty", &self.tty)
            .field("status", &self.status)
            .finish()
    }
}

impl SshSession {
    /// The audit session id the remote command runs in.
    pub fn session_id(&self) -> u32 {
        self.session_id
    }

    /// The PID of the local ssh client.
    pub fn client_pid(&self) -> u32 {
        self.child.id()
    }

    /// The PID of the remote shell that printed the marker and then became (by `exec`) the
    /// user's shell running the command.
    pub fn remote_pid(&self) -> u32 {
        self.remote_pid
    }

    /// Whether the session has a terminal (`ssh -tt`).
    pub fn is_tty(&self) -> bool {
        self.tty
    }

    /// Waits up to `timeout` for the ssh client to exit; `Some(status)` if it did.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        if self.status.is_none() {
            self.status = wait_child(&mut self.child, timeout);
        }
        self.status
    }

    /// Whether the ssh client is still running.
    pub fn is_running(&mut self) -> bool {
        self.wait_exit(Duration::ZERO).is_none()
    }

    /// Sends `bytes` as input: for a terminal session, writes them to the pty master (what
    /// the user types); otherwise to the ssh client's stdin. Errors (the client is gone) are
    /// ignored: tests check outcomes, not whether typing succeeded.
    pub fn send(&mut self, bytes: &[u8]) {
        match &mut self.input {
            Input::Pty(master) => {
                let _ = master.write_all(bytes);
            }
            Input::Pipe(Some(stdin)) => {
                let _ = stdin.write_all(bytes).and_then(|()| stdin.flush());
            }
            Input::Pipe(None) => {}
        }
    }

    /// Closes the ssh client's stdin (end of input) for a session without a terminal; for a
    /// terminal session, types the end-of-file character (Ctrl-D).
    pub fn close_input(&mut self) {
        match &mut self.input {
            Input::Pty(master) => {
                let _ = master.write_all(b"\x04");
            }
            Input::Pipe(stdin) => drop(stdin.take()),
        }
    }

    /// All bytes the client has printed so far (its screen for a terminal session, including
    /// the marker line and anything PAM printed before it; its stdout otherwise).
    pub fn output(&self) -> Vec<u8> {
        self.output.bytes()
    }

    /// [`SshSession::output`] as (lossily decoded) text.
    pub fn output_text(&self) -> String {
        String::from_utf8_lossy(&self.output()).into_owned()
    }

    /// What the client wrote to stderr (sessions without a terminal; empty otherwise, as a
    /// terminal client's stderr is part of [`SshSession::output`]).
    pub fn stderr_output(&self) -> Vec<u8> {
        self.errors.as_ref().map(|e| e.bytes()).unwrap_or_default()
    }

    /// Waits up to `timeout` until [`SshSession::output`] contains `needle`; false if it did
    /// not (also as soon as the client has exited and closed its output without it).
    pub fn wait_for_output(&self, needle: &str, timeout: Duration) -> bool {
        self.output
            .wait_until(timeout, |bytes| {
                contains(bytes, needle.as_bytes()).then_some(())
            })
            .is_some()
    }
}

impl Drop for SshSession {
    fn drop(&mut self) {
        if self.status.is_none() {
            if let Ok(Some(status)) = self.child.try_wait() {
                self.status = Some(status);
            } else {
                signal(self.child.id(), Signal::KILL);
                self.status = self.child.wait().ok();
            }
        }
    }
}
