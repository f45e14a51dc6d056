//! The real systemd-logind to test against: the project's logind sandbox
//! (`shared/tools/logind-sandbox`: systemd as PID 1 of a private PID and mount namespace
//! with D-Bus and logind only), booted when it is not running, and shared by every test
//! (one per machine; booting is done under the kit's machine-wide lock). Sessions opened
//! through an [`Sshd`] started inside it are registered with its logind.

use super::*;

/// Where the sandbox tool is: `$WMS_LOGIND_SANDBOX`, else `shared/tools/logind-sandbox`
/// beside the repository.
pub fn sandbox_tool() -> PathBuf {
    match std::env::var_os("WMS_LOGIND_SANDBOX") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/tools/logind-sandbox"),
    }
}

const PIDFILE: &str = "/run/wms-logind-sandbox.pid";

/// The running logind sandbox.
#[derive(Debug, Clone)]
pub struct LogindSandbox {
    /// Its systemd (PID 1 inside), as seen here.
    pub pid: u32,
}

impl LogindSandbox {
    /// The sandbox, booted first if it is not running. Panics, saying why, when it cannot
    /// be booted: a test that needs a real logind must not pass without one.
    pub fn get() -> LogindSandbox {
        let _guard = GlobalLock::acquire();
        if let Some(pid) = running() {
            return LogindSandbox { pid };
        }
        let tool = sandbox_tool();
        assert!(
            Path::new("/lib/systemd/systemd").exists(),
            "the logind sandbox needs Debian's systemd, dbus and openssh-server (apt-get install systemd dbus openssh-server)"
        );
        let out = Command::new(tool.join("start"))
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| {
                panic!(
                    "cannot run the logind sandbox {} (set WMS_LOGIND_SANDBOX): {e}",
                    tool.display()
                )
            });
        let pid = running().unwrap_or_else(|| {
            panic!(
                "the logind sandbox did not boot ({}: {}):\n{}{}",
                tool.display(),
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            )
        });
        let sandbox = LogindSandbox { pid };
        // logind answers once it is up.
        let deadline = Instant::now() + Duration::from_secs(20);
        while !sandbox.run(&["loginctl", "list-sessions"]).status.success() {
            assert!(
                Instant::now() < deadline,
                "logind in the sandbox does not answer"
            );
            thread::sleep(Duration::from_millis(100));
        }
        sandbox
    }

    /// A command that runs `program` inside the sandbox (its PID and mount namespaces).
    pub fn command(&self, program: &str) -> Command {
        let mut cmd = Command::new("nsenter");
        cmd.arg("-t")
            .arg(self.pid.to_string())
            .arg("-a")
            .arg(program);
        cmd
    }

    /// Runs `argv` inside the sandbox and waits for it.
    pub fn run(&self, argv: &[&str]) -> std::process::Output {
        self.command(argv[0])
            .args(&argv[1..])
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| panic!("run {argv:?} in the sandbox: {e}"))
    }

    /// `loginctl show-session ID` inside the sandbox as name-value pairs; `None` when
    /// logind does not know the session.
    pub fn show_session(&self, id: u32) -> Option<HashMap<String, String>> {
        let out = self.run(&["loginctl", "show-session", &id.to_string()]);
        if !out.status.success() {
            return None;
        }
        Some(
            String::from_utf8_lossy(&out.stdout)
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
    }

    /// The session IDs `loginctl list-sessions` shows.
    pub fn listed_sessions(&self) -> Vec<String> {
        let out = self.run(&["loginctl", "list-sessions", "--no-legend"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| l.split_whitespace().next().map(str::to_string))
            .collect()
    }
}

/// The sandbox's PID, when it runs.
fn running() -> Option<u32> {
    let pid: u32 = fs::read_to_string(PIDFILE).ok()?.trim().parse().ok()?;
    // A stale file may name a PID another process has now.
    let comm = fs::read_to_string(format!("/proc/{pid}/comm")).ok()?;
    (comm.trim() == "systemd").then_some(pid)
}

/// The children of process `pid`.
pub fn children(pid: u32) -> Vec<u32> {
    fs::read_to_string(format!("/proc/{pid}/task/{pid}/children"))
        .unwrap_or_default()
        .split_whitespace()
        .filter_map(|p| p.parse().ok())
        .collect()
}

/// A copy of the program at `path` under [`SHARED_ROOT`], where processes inside the
/// sandbox, and test users, can run it: one copy per build of the program (named by its
/// file's identity, as [`shared_binary`] names its copies), made under the kit's lock.
pub fn sandbox_binary(path: &str) -> PathBuf {
    let _guard = GlobalLock::acquire();
    copy_by_identity(path, Path::new(SHARED_ROOT))
}
