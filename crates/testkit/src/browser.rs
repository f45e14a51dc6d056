//! A real browser for the dashboard's tests: Debian's headless `chromium`, driven by
//! `playwright-core` in a long-running `node` process (`browser/driver.mjs` beside this
//! crate's manifest; `npm ci --prefix crates/testkit/browser` installs its one package).
//!
//! [`Browser::launch`] opens one page (1280x900); each method sends one JSON command line
//! and waits, with a bound, for its one answer line. Requests that must not carry the
//! page's cookies go through [`Browser::fetch`], sent by node itself.
//!
//! Dropping the browser asks node to close chromium, ends node by its PID if it does not,
//! and then SIGKILLs, by PID and start time, any process of the tree it started that is
//! still alive, so no chromium outlives its test ([`Browser::processes`] lists them).

use super::*;
use serde_json::{json, Value};

/// The viewport of the page, in CSS pixels at zoom 1.
pub const VIEWPORT: (u32, u32) = (1280, 900);

/// How long the driver may take to launch chromium and open the page.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(60);
/// How long any command but `waitFor` may take to answer (the driver gives up on a
/// selector or a navigation well before).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// How long node may take to close chromium and exit once asked.
const CLOSE_TIMEOUT: Duration = Duration::from_secs(10);

/// A command the browser refused or failed, or a driver that did not answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BrowserError {
    /// The command, as sent.
    pub command: String,
    /// What went wrong, as the driver (or the wait for it) said.
    pub message: String,
}

impl fmt::Display for BrowserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "browser command {}: {}", self.command, self.message)
    }
}

impl std::error::Error for BrowserError {}

/// What [`Browser::fetch`] got back.
#[derive(Debug, Clone)]
pub struct FetchResponse {
    pub status: u16,
    /// Header names in lower case.
    pub headers: HashMap<String, String>,
    pub body: String,
}

/// A request for [`Browser::fetch`]: `GET` with no headers and no body by default.
#[derive(Debug, Clone, Default)]
pub struct FetchRequest<'a> {
    pub method: Option<&'a str>,
    pub headers: &'a [(&'a str, &'a str)],
    pub body: Option<&'a str>,
}

/// One headless chromium page (see the module documentation).
pub struct Browser {
    child: Child,
    stdin: Option<ChildStdin>,
    answers: mpsc::Receiver<String>,
    stderr: Arc<Buffer>,
    next_id: u64,
    /// Every process the driver started that has been seen, with its start time.
    seen: Vec<(u32, u64)>,
    /// [`Browser::shut_down`] has run.
    closed: bool,
}

impl fmt::Debug for Browser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Browser")
            .field("node", &self.child.id())
            .field("seen", &self.seen)
            .finish()
    }
}

/// The directory holding `driver.mjs` and its `node_modules`.
pub fn browser_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Where tests save what a person would look at after a run (screenshots):
/// `$WMS_TEST_OUTPUT/SUITE`, or `target/test-output/SUITE` in the workspace; created.
pub fn test_output_dir(suite: &str) -> PathBuf {
    let root = match std::env::var_os("WMS_TEST_OUTPUT") {
        Some(dir) => PathBuf::from(dir),
        None => {
            let target = option_env!("CARGO_TARGET_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"));
            target.join("test-output")
        }
    };
    let dir = root.join(suite);
    fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    // A path to print without `..` in it.
    fs::canonicalize(&dir).unwrap_or(dir)
}

impl Browser {
    /// Starts node with the driver, which launches chromium and opens the page; panics
    /// (saying what to run) if the driver's package is not installed or chromium fails.
    pub fn launch() -> Browser {
        let dir = browser_dir();
        assert!(
            dir.join("node_modules/playwright-core").is_dir(),
            "playwright-core is not installed: run `npm ci --prefix {}`",
            dir.display()
        );
        let mut cmd = Command::new("node");
        cmd.arg(dir.join("driver.mjs"))
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = spawn_guarded(cmd).unwrap_or_else(|e| panic!("run node: {e}"));
        let stdin = child.stdin.take();
        let stdout = child.stdout.take().expect("node's stdout");
        let stderr = Buffer::collect(child.stderr.take().expect("node's stderr"));
        let (tx, answers) = mpsc::channel();
        thread::Builder::new()
            .name("wms-testkit-browser".to_string())
            .spawn(move || {
                for line in io::BufRead::lines(io::BufReader::new(stdout)) {
                    let Ok(line) = line else { break };
                    if tx.send(line).is_err() {
                        break;
                    }
                }
            })
            .expect("start the browser's reader thread");
        let mut browser = Browser {
            child,
            stdin,
            answers,
            stderr,
            next_id: 0,
            seen: Vec::new(),
            closed: false,
        };
        let ready = match browser.answers.recv_timeout(LAUNCH_TIMEOUT) {
            Ok(line) => line,
            Err(e) => panic!(
                "the browser driver did not start ({e}):\n{}",
                browser.driver_log()
            ),
        };
        let ready: Value = serde_json::from_str(&ready)
            .unwrap_or_else(|e| panic!("the driver's first line {ready:?}: {e}"));
        assert!(
            ready["ready"]["node"].as_u64() == Some(u64::from(browser.child.id())),
            "the driver's first line is not its ready line: {ready}"
        );
        browser.note_processes();
        browser
    }

    /// The PIDs of node and of every process it started that is still alive (chromium
    /// and its helpers).
    pub fn processes(&mut self) -> Vec<u32> {
        self.note_processes();
        self.seen
            .iter()
            .filter(|&&(pid, start)| still_running(pid, start))
            .map(|&(pid, _)| pid)
            .collect()
    }

    /// Records node's process tree as it is now.
    fn note_processes(&mut self) {
        let node = self.child.id();
        let mut tree = vec![node];
        tree.extend(descendants(node));
        for pid in tree {
            if let Some(start) = process_start_time(pid) {
                if !self.seen.contains(&(pid, start)) {
                    self.seen.push((pid, start));
                }
            }
        }
    }

    /// What node printed on its standard error (the page's console and errors).
    pub fn driver_log(&self) -> String {
        String::from_utf8_lossy(&self.stderr.bytes()).into_owned()
    }

    /// Sends `command` and waits up to `timeout` for its answer.
    fn send(&mut self, mut command: Value, timeout: Duration) -> Result<Value, BrowserError> {
        self.next_id += 1;
        let id = self.next_id;
        command["id"] = json!(id);
        let text = command.to_string();
        let error = |message: String| BrowserError {
            command: text.clone(),
            message,
        };
        let stdin = self
            .stdin
            .as_mut()
            .ok_or_else(|| error("the browser is closed".to_string()))?;
        writeln!(stdin, "{text}")
            .and_then(|()| stdin.flush())
            .map_err(|e| error(format!("the driver exited or closed its input: {e}")))?;
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = match self.answers.recv_timeout(left) {
                Ok(line) => line,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    return Err(error(format!("no answer in {timeout:?}")))
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    return Err(error(format!("the driver exited:\n{}", self.driver_log())))
                }
            };
            let answer: Value = serde_json::from_str(&line)
                .map_err(|e| error(format!("the driver answered {line:?}: {e}")))?;
            // An answer to an earlier command whose wait timed out is not this one's.
            if answer["id"].as_u64() != Some(id) {
                continue;
            }
            if let Some(message) = answer.get("error") {
                return Err(error(message.as_str().unwrap_or_default().to_string()));
            }
            return Ok(answer.get("ok").cloned().unwrap_or(Value::Null));
        }
    }

    /// Opens `url`; the HTTP status of the document it ends on (after redirects).
    pub fn goto(&mut self, url: &str) -> Result<u16, BrowserError> {
        let v = self.send(json!({"cmd": "goto", "url": url}), COMMAND_TIMEOUT)?;
        Ok(v.as_u64().and_then(|s| u16::try_from(s).ok()).unwrap_or(0))
    }

    /// The JSON value of `js` in the page: an expression, or a function body with `return`.
    pub fn eval(&mut self, js: &str) -> Result<Value, BrowserError> {
        self.send(json!({"cmd": "eval", "js": js}), COMMAND_TIMEOUT)
    }

    /// Waits up to `timeout` until `js` (as for [`Browser::eval`]) is truthy in the page,
    /// asked every 10 ms; its value. The error says it timed out and on what.
    pub fn wait_for(&mut self, js: &str, timeout: Duration) -> Result<Value, BrowserError> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.send(
            json!({"cmd": "waitFor", "js": js, "timeoutMs": ms}),
            timeout + COMMAND_TIMEOUT,
        )
    }

    /// Clicks the element `selector` matches (waiting for it to be visible and enabled).
    pub fn click(&mut self, selector: &str) -> Result<(), BrowserError> {
        self.send(
            json!({"cmd": "click", "selector": selector}),
            COMMAND_TIMEOUT,
        )
        .map(drop)
    }

    /// Replaces the value of the field `selector` matches with `text`, as typing does.
    pub fn fill(&mut self, selector: &str, text: &str) -> Result<(), BrowserError> {
        self.send(
            json!({"cmd": "fill", "selector": selector, "text": text}),
            COMMAND_TIMEOUT,
        )
        .map(drop)
    }

    /// Ticks the checkbox `selector` matches (by clicking it, as a person does).
    pub fn check(&mut self, selector: &str) -> Result<(), BrowserError> {
        self.send(
            json!({"cmd": "check", "selector": selector}),
            COMMAND_TIMEOUT,
        )
        .map(drop)
    }

    /// Presses `key` (Playwright's names: `Tab`, `Space`, `Enter`, `Shift+Tab`...) on
    /// whatever has the focus.
    pub fn press(&mut self, key: &str) -> Result<(), BrowserError> {
        self.send(json!({"cmd": "press", "key": key}), COMMAND_TIMEOUT)
            .map(drop)
    }

    /// Saves a PNG of the viewport at `path`.
    pub fn screenshot(&mut self, path: &Path) -> Result<(), BrowserError> {
        let path = path.to_str().expect("a UTF-8 path");
        self.send(json!({"cmd": "screenshot", "path": path}), COMMAND_TIMEOUT)
            .map(drop)
    }

    /// Saves a screenshot as `NAME.png` in [`test_output_dir`]`(suite)`, prints its path
    /// (it shows in the test's output) and returns it; panics if it cannot.
    pub fn save_screenshot(&mut self, suite: &str, name: &str) -> PathBuf {
        let path = test_output_dir(suite).join(format!("{name}.png"));
        self.screenshot(&path)
            .unwrap_or_else(|e| panic!("screenshot {name}: {e}"));
        println!("screenshot: {}", path.display());
        path
    }

    /// Shows the page as the browser's zoom at `factor` does (2.0 is 200%): the layout
    /// viewport is [`VIEWPORT`] divided by `factor` CSS pixels, each drawn as `factor`
    /// device pixels. Returns the page's `[innerWidth, innerHeight, devicePixelRatio]`.
    pub fn zoom(&mut self, factor: f64) -> Result<(f64, f64, f64), BrowserError> {
        let v = self.send(json!({"cmd": "zoom", "factor": factor}), COMMAND_TIMEOUT)?;
        let num = |k: &str| v[k].as_f64().unwrap_or(f64::NAN);
        Ok((
            num("innerWidth"),
            num("innerHeight"),
            num("devicePixelRatio"),
        ))
    }

    /// An HTTP request sent by node, not by the page: it carries only the headers given
    /// (no cookie), may set any `Host`, and does not follow redirects.
    pub fn fetch(
        &mut self,
        url: &str,
        req: FetchRequest<'_>,
    ) -> Result<FetchResponse, BrowserError> {
        let headers: serde_json::Map<String, Value> = req
            .headers
            .iter()
            .map(|(k, v)| ((*k).to_string(), json!(v)))
            .collect();
        let v = self.send(
            json!({
                "cmd": "fetch",
                "url": url,
                "method": req.method.unwrap_or("GET"),
                "headers": headers,
                "body": req.body,
            }),
            COMMAND_TIMEOUT,
        )?;
        Ok(FetchResponse {
            status: v["status"]
                .as_u64()
                .and_then(|s| u16::try_from(s).ok())
                .unwrap_or(0),
            headers: v["headers"]
                .as_object()
                .map(|h| {
                    h.iter()
                        .map(|(k, v)| {
                            let v = match v {
                                Value::String(s) => s.clone(),
                                other => other.to_string(),
                            };
                            (k.clone(), v)
                        })
                        .collect()
                })
                .unwrap_or_default(),
            body: v["body"].as_str().unwrap_or_default().to_string(),
        })
    }

    /// The cookies the browser holds (HttpOnly ones too), as Playwright gives them:
    /// objects with `name`, `value`, `domain`, `path`, `httpOnly`, `sameSite`...
    pub fn cookies(&mut self) -> Result<Vec<Value>, BrowserError> {
        let v = self.send(json!({"cmd": "cookies"}), COMMAND_TIMEOUT)?;
        Ok(v.as_array().cloned().unwrap_or_default())
    }

    /// Every URL the page has asked for since the browser started (documents, scripts,
    /// styles, images, fetches, event streams), in order.
    pub fn requests(&mut self) -> Result<Vec<String>, BrowserError> {
        let v = self.send(json!({"cmd": "requests"}), COMMAND_TIMEOUT)?;
        serde_json::from_value(v).map_err(|e| BrowserError {
            command: "requests".into(),
            message: e.to_string(),
        })
    }

    /// Closes chromium and ends node (as dropping does); every process it started is gone
    /// when this returns.
    pub fn close(mut self) {
        self.shut_down();
    }

    fn shut_down(&mut self) {
        if self.closed {
            return;
        }
        self.closed = true;
        self.note_processes();
        if self.stdin.is_some() {
            let _ = self.send(json!({"cmd": "close"}), CLOSE_TIMEOUT);
        }
        // End of input also tells the driver to close.
        self.stdin = None;
        let node = self.child.id();
        if wait_child(&mut self.child, CLOSE_TIMEOUT).is_none() {
            signal(node, Signal::TERM);
            if wait_child(&mut self.child, CLOSE_TIMEOUT).is_none() {
                signal(node, Signal::KILL);
                let _ = self.child.wait();
            }
        }
        // Chromium's helpers exit once its main process has; whatever has not by then is
        // killed, by PID and only if it is still the same process.
        let deadline = Instant::now() + CLOSE_TIMEOUT;
        loop {
            let left: Vec<(u32, u64)> = self
                .seen
                .iter()
                .copied()
                .filter(|&(pid, start)| still_running(pid, start))
                .collect();
            if left.is_empty() {
                return;
            }
            if Instant::now() >= deadline {
                for (pid, _) in left {
                    signal(pid, Signal::KILL);
                }
                return;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failing test shows what the page looked like and what it logged.
        if thread::panicking() && !self.closed {
            let name = thread::current()
                .name()
                .unwrap_or("test")
                .replace("::", "-");
            let path = test_output_dir("failures").join(format!("{name}.png"));
            if self.screenshot(&path).is_ok() {
                eprintln!("screenshot at the failure: {}", path.display());
            }
            eprintln!("browser log:\n{}", self.driver_log());
        }
        self.shut_down();
    }
}

/// The start time (in clock ticks since boot) of process `pid`, if it exists: with the PID,
/// it names one process (a PID alone may have been reused).
pub fn process_start_time(pid: u32) -> Option<u64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold anything) start at the state, field 3;
    // the start time is field 22.
    stat[stat.rfind(')')? + 1..]
        .split_whitespace()
        .nth(19)?
        .parse()
        .ok()
}

/// Whether the process that started at `start` (see [`process_start_time`]) still has
/// PID `pid` and runs (a zombie has ended).
pub fn still_running(pid: u32, start: u64) -> bool {
    process_start_time(pid) == Some(start) && is_live(pid)
}

/// The PIDs of `root`'s children, their children, and so on.
pub(crate) fn descendants(root: u32) -> Vec<u32> {
    let mut parent = Vec::new();
    if let Ok(entries) = fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry
                .file_name()
                .to_str()
                .and_then(|s| s.parse::<u32>().ok())
            else {
                continue;
            };
            let Ok(stat) = fs::read_to_string(format!("/proc/{pid}/stat")) else {
                continue;
            };
            let ppid = stat
                .rfind(')')
                .and_then(|i| stat[i + 1..].split_whitespace().nth(1))
                .and_then(|s| s.parse::<u32>().ok());
            if let Some(ppid) = ppid {
                parent.push((pid, ppid));
            }
        }
    }
    let mut found = Vec::new();
    let mut frontier = vec![root];
    while !frontier.is_empty() {
        let next: Vec<u32> = parent
            .iter()
            .filter(|(_, ppid)| frontier.contains(ppid))
            .map(|&(pid, _)| pid)
            .collect();
        found.extend(&next);
        frontier = next;
    }
    found.sort_unstable();
    found
}
