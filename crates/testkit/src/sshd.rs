//! A private `sshd` on a free port of 127.0.0.1, with its own host key, client key and
//! `authorized_keys`; it opens sessions and runs commands as test users.

use super::*;

/// A private OpenSSH server on 127.0.0.1, with its own host key, client key and
/// `authorized_keys` (accepting the client key for every user), in a temporary directory.
///
/// Dropping it SIGKILLs what is left of the sessions opened through it (by their audit
/// session ids), SIGTERMs the sshd process it started, waits for it and removes its directory.
pub struct Sshd {
    pub(crate) child: Child,
    pub(crate) port: u16,
    pub(crate) dir: PathBuf,
    pub(crate) log_path: PathBuf,
    pub(crate) client_key: PathBuf,
    /// Session ids opened through this server, for cleanup.
    pub(crate) sessions: Arc<Mutex<Vec<u32>>>,
    /// The sshd inside the logind sandbox (`nsenter`'s child, as seen here), when it runs
    /// there.
    pub(crate) inner: Option<u32>,
}

impl fmt::Debug for Sshd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sshd")
            .field("pid", &self.child.id())
            .field("port", &self.port)
            .field("dir", &self.dir)
            .finish()
    }
}

/// The result of [`Sshd::run`].
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// The exit status of the ssh client (the remote command's status, or 255 for ssh errors).
    pub status: std::process::ExitStatus,
    /// Everything the command wrote to standard output.
    pub stdout: String,
    /// Everything written to standard error, without the kit's marker line.
    pub stderr: String,
    /// The audit session id the command ran in.
    pub session_id: u32,
}

/// Creates an ed25519 key pair at `path` (and `path.pub`).
pub(crate) fn keygen(path: &Path) {
    let out = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "wms-testkit", "-f"])
        .arg(path)
        .stdin(Stdio::null())
        .output()
        .expect("run ssh-keygen");
    assert!(
        out.status.success(),
        "ssh-keygen {} failed: {}",
        path.display(),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A port on 127.0.0.1 that was free a moment ago.
pub(crate) fn pick_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local_addr").port()
}

impl Sshd {
    /// Starts `/usr/sbin/sshd -D` on a free port of 127.0.0.1 and waits until it listens.
    /// Retries with another port if sshd cannot bind (another process took the port).
    pub fn start() -> Sshd {
        Self::start_with(None, "")
    }

    /// [`Sshd::start`] inside the logind sandbox, so that its sessions are registered with
    /// its logind; `extra` is more of sshd_config, over the kit's own settings.
    pub fn start_in_sandbox(sandbox: &LogindSandbox, extra: &str) -> Sshd {
        Self::start_with(Some(sandbox), extra)
    }

    fn start_with(sandbox: Option<&LogindSandbox>, extra: &str) -> Sshd {
        // sshd's privilege separation directory (normally made by its init script).
        match fs::create_dir("/run/sshd") {
            Ok(()) => chmod(Path::new("/run/sshd"), 0o755),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
            Err(e) => panic!("mkdir /run/sshd: {e}"),
        }
        let dir = if sandbox.is_some() {
            fresh_shared_dir("sshd")
        } else {
            fresh_dir("sshd")
        };
        let host_key = dir.join("host_key");
        let client_key = dir.join("client_key");
        let authorized_keys = dir.join("authorized_keys");
        let config = dir.join("sshd_config");
        let log_path = dir.join("sshd.log");
        keygen(&host_key);
        keygen(&client_key);
        fs::copy(client_key.with_extension("pub"), &authorized_keys)
            .expect("write authorized_keys");
        chmod(&authorized_keys, 0o644);

        let mut last_log = String::new();
        for _attempt in 0..20 {
            let port = pick_port();
            // `extra` first: sshd takes the first value it reads of a setting.
            let text = format!(
                "{extra}\n\
                 Port {port}\n\
                 ListenAddress 127.0.0.1\n\
                 HostKey {host_key}\n\
                 UsePAM yes\n\
                 PidFile {pid_file}\n\
                 AuthorizedKeysFile {authorized_keys}\n\
                 StrictModes no\n\
                 PubkeyAuthentication yes\n\
                 PasswordAuthentication no\n\
                 KbdInteractiveAuthentication no\n\
                 PermitRootLogin prohibit-password\n\
                 PerSourceMaxStartups none\n\
                 MaxStartups 200\n\
                 MaxSessions 100\n\
                 LogLevel VERBOSE\n\
                 AcceptEnv WMS_*\n\
                 PermitUserEnvironment no\n\
                 PrintMotd no\n\
                 PrintLastLog no\n\
                 UseDNS no\n\
                 X11Forwarding no\n",
                host_key = host_key.display(),
                pid_file = dir.join("sshd.pid").display(),
                authorized_keys = authorized_keys.display(),
            );
            fs::write(&config, text).expect("write sshd_config");
            let log = OpenOptions::new()
                .create(true)
                .write(true)
                .truncate(true)
                .open(&log_path)
                .expect("create sshd log");
            let stderr = OpenOptions::new()
                .append(true)
                .open(&log_path)
                .expect("open sshd log");
            drop(log);
            let mut cmd = match sandbox {
                Some(s) => s.command("/usr/sbin/sshd"),
                None => Command::new("/usr/sbin/sshd"),
            };
            cmd.arg("-D")
                .arg("-f")
                .arg(&config)
                .arg("-E")
                .arg(&log_path)
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(stderr);
            let mut child = spawn_guarded(cmd).expect("spawn /usr/sbin/sshd");

            let listening = format!("Server listening on 127.0.0.1 port {port}.");
            let deadline = Instant::now() + START_TIMEOUT;
            loop {
                let text = fs::read_to_string(&log_path).unwrap_or_default();
                if let Ok(Some(status)) = child.try_wait() {
                    last_log = format!("sshd exited with {status}:\n{text}");
                    break;
                }
                if text.contains(&listening) {
                    let inner = sandbox.and_then(|_| children(child.id()).first().copied());
                    return Sshd {
                        child,
                        port,
                        dir,
                        log_path,
                        client_key,
                        sessions: Arc::default(),
                        inner,
                    };
                }
                if Instant::now() >= deadline {
                    signal(child.id(), Signal::KILL);
                    let _ = child.wait();
                    let _ = fs::remove_dir_all(&dir);
                    panic!("sshd did not listen on port {port} within {START_TIMEOUT:?}:\n{text}");
                }
                thread::sleep(Duration::from_millis(10));
            }
            if !(last_log.contains("Address already in use")
                || last_log.contains("Cannot bind any address"))
            {
                break;
            }
        }
        let _ = fs::remove_dir_all(&dir);
        panic!("sshd failed to start: {last_log}");
    }

    /// Its directory (host key, client key, `authorized_keys`, config and log).
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The port sshd listens on (on 127.0.0.1).
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The PID of the sshd listener process.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// The sshd log so far, for failure messages.
    pub fn log(&self) -> String {
        fs::read(&self.log_path)
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_else(|e| format!("(cannot read {}: {e})", self.log_path.display()))
    }

    /// The `ssh` client command to log in as `user` and run `remote` (a command line the
    /// user's login shell runs). `env` entries (names must start with `WMS_`) are set in the
    /// client's environment and forwarded to the session (`SendEnv`/`AcceptEnv WMS_*`).
    pub(crate) fn ssh_command(
        &self,
        user: &TestUser,
        tty: bool,
        remote: &str,
        env: &[(&str, &str)],
    ) -> Command {
        let mut cmd = Command::new("ssh");
        cmd.arg("-F")
            .arg("/dev/null")
            .arg("-i")
            .arg(&self.client_key)
            .arg("-p")
            .arg(self.port.to_string());
        for option in [
            "StrictHostKeyChecking=no",
            "UserKnownHostsFile=/dev/null",
            "GlobalKnownHostsFile=/dev/null",
            "BatchMode=yes",
            "LogLevel=ERROR",
            "ServerAliveInterval=0",
            "IdentitiesOnly=yes",
            "ConnectTimeout=20",
            "SendEnv=WMS_*",
        ] {
            cmd.arg("-o").arg(option);
        }
        cmd.arg(if tty { "-tt" } else { "-T" })
            .arg("--")
            .arg(format!("{}@127.0.0.1", user.name))
            .arg(remote);
        cmd.env_remove("SSH_AUTH_SOCK");
        if tty {
            cmd.env("TERM", "xterm");
        }
        for (name, value) in env {
            assert!(
                name.starts_with("WMS_"),
                "only WMS_* variables are forwarded to sessions, not {name}"
            );
            cmd.env(name, value);
        }
        cmd
    }

    /// The remote command line: print the marker (to stderr if `to_stderr`), then run
    /// `command` with the user's login shell in place of the shell that printed it.
    pub(crate) fn remote_line(command: &str, to_stderr: bool) -> String {
        format!(
            "printf '{MARKER}%s WMS-PID=%s\\n' \"$(cat /proc/self/sessionid)\" \"$$\"{}; exec \"$SHELL\" -c {}",
            if to_stderr { " >&2" } else { "" },
            shell_quote(command)
        )
    }

    /// Opens a session running `command` (a shell command line, run by the user's login shell)
    /// as `user`.
    ///
    /// With `tty`, the client runs as `ssh -tt` with its stdin, stdout and stderr on a
    /// pseudo-terminal (80x24, `TERM=xterm`) that this kit opens and whose master it reads,
    /// so [`SshSession::output`] is the client's screen as a user would see it. Without, the
    /// client runs as `ssh -T` with piped stdin, stdout and stderr.
    ///
    /// Before running `command` the remote side prints a marker line with its session id;
    /// this waits for it (20 s), panicking with everything read so far and the sshd log if
    /// it does not come.
    pub fn open_session(&self, user: &TestUser, command: &str, tty: bool) -> SshSession {
        self.open_session_with_env(user, command, tty, &[])
    }

    /// [`Sshd::open_session`] with `WMS_*` environment variables forwarded to the session.
    pub fn open_session_with_env(
        &self,
        user: &TestUser,
        command: &str,
        tty: bool,
        env: &[(&str, &str)],
    ) -> SshSession {
        let remote = Self::remote_line(command, false);
        let mut cmd = self.ssh_command(user, tty, &remote, env);
        let (child, input, output, errors) = if tty {
            let pty = Pty::open();
            let slave = &pty.slave;
            cmd.stdin(slave.try_clone().expect("dup pty slave"))
                .stdout(slave.try_clone().expect("dup pty slave"))
                .stderr(slave.try_clone().expect("dup pty slave"));
            // SAFETY: the closure runs in the forked child before exec and only makes raw,
            // async-signal-safe system calls (setsid, ioctl) without allocating or locking.
            #[allow(unsafe_code)]
            unsafe {
                cmd.pre_exec(|| {
                    rustix::process::setsid()?;
                    rustix::process::ioctl_tiocsctty(rustix::stdio::stdin())?;
                    Ok(())
                });
            }
            let child = spawn_guarded(cmd).expect("spawn ssh");
            // Only the client may hold the slave now, so the master reports EIO once it exits.
            let master = pty.master;
            drop(pty.slave);
            let reader = master.try_clone().expect("dup pty master");
            (child, Input::Pty(master), Buffer::collect(reader), None)
        } else {
            cmd.stdin(Stdio::piped())
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = spawn_guarded(cmd).expect("spawn ssh");
            let stdin = child.stdin.take();
            let out = Buffer::collect(child.stdout.take().expect("ssh stdout"));
            let err = Buffer::collect(child.stderr.take().expect("ssh stderr"));
            (child, Input::Pipe(stdin), out, Some(err))
        };
        let mut session = SshSession {
            child,
            status: None,
            session_id: NO_SESSION,
            remote_pid: 0,
            tty,
            input,
            output,
            errors,
        };
        match session.output.wait_until(OPEN_TIMEOUT, find_marker) {
            Some(marker) => {
                session.session_id = marker.session_id;
                session.remote_pid = marker.pid;
                lock(&self.sessions).push(marker.session_id);
                session
            }
            None => {
                let status = session.wait_exit(Duration::from_millis(200));
                signal(session.child.id(), Signal::KILL);
                let _ = session.child.wait();
                panic!(
                    "no session marker from ssh as {} running {command:?} (tty={tty}, client status {status:?})\n\
                     --- client output ---\n{}\n--- client stderr ---\n{}\n--- sshd log ---\n{}",
                    user.name,
                    String::from_utf8_lossy(&session.output()),
                    String::from_utf8_lossy(&session.stderr_output()),
                    self.log()
                );
            }
        }
    }

    /// Runs `command` (executed by the user's login shell) as `user` in a new ssh session
    /// without a terminal, feeding it `stdin`, and waits for it to finish (60 s, else panics
    /// with the output so far and the sshd log). Returns its status, output and session id.
    pub fn run(&self, user: &TestUser, command: &str, stdin: &[u8]) -> RunOutput {
        self.run_with_env(user, command, stdin, &[])
    }

    /// [`Sshd::run`] with `WMS_*` environment variables forwarded to the session.
    pub fn run_with_env(
        &self,
        user: &TestUser,
        command: &str,
        stdin: &[u8],
        env: &[(&str, &str)],
    ) -> RunOutput {
        let remote = Self::remote_line(command, true);
        let mut cmd = self.ssh_command(user, false, &remote, env);
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_guarded(cmd).expect("spawn ssh");
        let mut child_stdin = child.stdin.take().expect("ssh stdin");
        let input = stdin.to_vec();
        let writer = thread::spawn(move || {
            // The command may not read its input; a broken pipe is not an error here.
            let _ = child_stdin.write_all(&input);
        });
        let out = Buffer::collect(child.stdout.take().expect("ssh stdout"));
        let err = Buffer::collect(child.stderr.take().expect("ssh stderr"));
        let status = wait_child(&mut child, RUN_TIMEOUT);
        let Some(status) = status else {
            signal(child.id(), Signal::KILL);
            let _ = child.wait();
            if let Some(marker) = find_marker(&err.bytes()) {
                lock(&self.sessions).push(marker.session_id);
            }
            panic!(
                "ssh as {} running {command:?} did not finish within {RUN_TIMEOUT:?}\n\
                 --- stdout ---\n{}\n--- stderr ---\n{}\n--- sshd log ---\n{}",
                user.name,
                String::from_utf8_lossy(&out.bytes()),
                String::from_utf8_lossy(&err.bytes()),
                self.log()
            );
        };
        let _ = writer.join();
        out.wait_closed(Duration::from_secs(10));
        err.wait_closed(Duration::from_secs(10));
        let stdout = out.bytes();
        let mut stderr = err.bytes();
        let Some(marker) = find_marker(&stderr) else {
            panic!(
                "no session marker from ssh as {} running {command:?} (status {status})\n\
                 --- stdout ---\n{}\n--- stderr ---\n{}\n--- sshd log ---\n{}",
                user.name,
                String::from_utf8_lossy(&stdout),
                String::from_utf8_lossy(&stderr),
                self.log()
            );
        };
        lock(&self.sessions).push(marker.session_id);
        stderr.drain(marker.start..marker.end);
        RunOutput {
            status,
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
            session_id: marker.session_id,
        }
    }
}

impl Drop for Sshd {
    fn drop(&mut self) {
        let sessions = std::mem::take(&mut *lock(&self.sessions));
        let own = process_session_id(std::process::id());
        for id in sessions {
            if id != NO_SESSION && Some(id) != own {
                kill_session(id);
            }
        }
        if let Some(inner) = self.inner {
            signal(inner, Signal::TERM);
        }
        signal(self.child.id(), Signal::TERM);
        if wait_child(&mut self.child, Duration::from_secs(5)).is_none() {
            signal(self.child.id(), Signal::KILL);
            let _ = self.child.wait();
        }
        let _ = fs::remove_dir_all(&self.dir);
    }
}
