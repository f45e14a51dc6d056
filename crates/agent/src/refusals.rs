//! Refusal records, coalesced: the first refusal of a kind from a peer is written (and
//! synced) at once; its repeats within [`Refusals::window`] of it are only counted, and
//! written as one record with the count and the first and last time when the window ends.
//! So a peer that is refused over and over costs the log two lines a window, not one
//! synced line a request. A timer runs only while some repeats wait to be written: an idle
//! agent does not wake up.

use crate::audit::Record;
use crate::limits::Bounded;
use crate::AppState;
use serde::Serialize;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// The longest refusal reason recorded: a reason may quote what the peer sent (a JSON
/// error names the field it did not expect), and the record must stay small.
pub const MAX_REASON: usize = 200;

/// One line of the audit log about refusals.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Line {
    #[serde(flatten)]
    pub record: Record,
    /// How many more times the same peer was refused for the same reason in the window
    /// after the record `record` repeats (`time` is that first one's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repeated: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_repeat: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_repeat: Option<String>,
}

/// A peer (`tcp 10.0.0.4`, `unix uid 1000`) and the reason it was refused.
type Key = (String, String);

#[derive(Debug)]
struct Window {
    opened: Instant,
    record: Record,
    repeats: u64,
    first_repeat: String,
    last_repeat: String,
}

impl Window {
    fn line(self) -> Line {
        Line {
            record: self.record,
            repeated: Some(self.repeats),
            first_repeat: Some(self.first_repeat),
            last_repeat: Some(self.last_repeat),
        }
    }
}

#[derive(Debug)]
struct Inner {
    windows: Bounded<Key, Window>,
    /// Whether a task is waiting to write the repeats of ended windows.
    armed: bool,
}

/// The open windows of recent refusals.
#[derive(Debug)]
pub struct Refusals {
    window: Duration,
    inner: Mutex<Inner>,
}

/// What to do about a refusal just noted.
#[derive(Debug)]
pub struct Noted {
    /// Lines to write now: the refusal itself if it opens a window, and the repeats of
    /// windows that had to make room.
    pub write: Vec<Line>,
    /// Start the timer that writes ended windows (none was running).
    pub arm: bool,
}

impl Refusals {
    pub fn new(window: Duration) -> Refusals {
        Refusals {
            window,
            inner: Mutex::new(Inner {
                windows: Bounded::new(crate::limits::PEER_MAP_CAP),
                armed: false,
            }),
        }
    }

    pub fn window(&self) -> Duration {
        self.window
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Notes a refusal of `peer`, described by `record` (whose `refused` is the reason).
    pub fn note(&self, peer: String, mut record: Record, now: Instant) -> Noted {
        if let Some(reason) = record.refused.as_mut() {
            truncate(reason, MAX_REASON);
        }
        let key = (peer, record.refused.clone().unwrap_or_default());
        let mut inner = self.lock();
        let mut write = Vec::new();
        // A window that has ended gives way to a new one, its repeats written first.
        if let Some(old) = inner
            .windows
            .remove_if(&key, |w| now >= w.opened + self.window)
        {
            if old.repeats > 0 {
                write.push(old.line());
            }
        }
        let time = record.time.clone();
        let mut opened = false;
        let (w, evicted) = inner.windows.entry(&key, || {
            opened = true;
            Window {
                opened: now,
                record: record.clone(),
                repeats: 0,
                first_repeat: String::new(),
                last_repeat: String::new(),
            }
        });
        if opened {
            write.push(Line {
                record,
                repeated: None,
                first_repeat: None,
                last_repeat: None,
            });
        } else {
            if w.repeats == 0 {
                w.first_repeat = time.clone();
            }
            w.repeats += 1;
            w.last_repeat = time;
        }
        write.extend(
            evicted
                .into_iter()
                .filter(|(_, w)| w.repeats > 0)
                .map(|(_, w)| w.line()),
        );
        let arm = !opened && !inner.armed;
        if arm {
            inner.armed = true;
        }
        Noted { write, arm }
    }

    /// The repeats of windows ended by `now`, to write; and when the next window with
    /// repeats ends, or `None` (the timer stops: nothing waits).
    pub fn due(&self, now: Instant) -> (Vec<Line>, Option<Instant>) {
        let mut inner = self.lock();
        let window = self.window;
        let lines = inner
            .windows
            .take_where(|w| now >= w.opened + window)
            .into_iter()
            .filter(|(_, w)| w.repeats > 0)
            .map(|(_, w)| w.line())
            .collect();
        let next = inner
            .windows
            .values()
            .filter(|w| w.repeats > 0)
            .map(|w| w.opened + window)
            .min();
        inner.armed = next.is_some();
        (lines, next)
    }

    /// Every repeat not yet written, whatever its window (the agent is stopping).
    pub fn drain(&self) -> Vec<Line> {
        let mut inner = self.lock();
        inner
            .windows
            .take_where(|_| true)
            .into_iter()
            .filter(|(_, w)| w.repeats > 0)
            .map(|(_, w)| w.line())
            .collect()
    }
}

/// Cuts `s` to at most `max` bytes, at a character boundary, marking the cut.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
        s.push_str("...");
    }
}

/// Records a refusal of `peer`: writes it (synced, off the answering thread) when it
/// opens a window, else counts it; starts the timer for the count when needed.
pub async fn record(st: &Arc<AppState>, peer: String, record: Record) {
    let noted = st.refusals.note(peer, record, Instant::now());
    if noted.arm {
        let st = st.clone();
        tokio::spawn(async move { write_when_due(st).await });
    }
    write(st, noted.write).await;
}

/// Writes ended windows as they end, until none with repeats is left.
async fn write_when_due(st: Arc<AppState>) {
    let mut at = Instant::now() + st.refusals.window();
    loop {
        tokio::time::sleep_until(at.into()).await;
        let (lines, next) = st.refusals.due(Instant::now());
        write(&st, lines).await;
        match next {
            Some(n) => at = n,
            None => return,
        }
    }
}

/// Writes what is still counted (at shutdown).
pub async fn flush(st: &Arc<AppState>) {
    let lines = st.refusals.drain();
    write(st, lines).await;
}

async fn write(st: &Arc<AppState>, lines: Vec<Line>) {
    if lines.is_empty() {
        return;
    }
    let st = st.clone();
    let written =
        tokio::task::spawn_blocking(move || lines.iter().try_for_each(|l| st.audit.write(l))).await;
    match written {
        Ok(Ok(())) => {}
        Ok(Err(e)) => tracing::error!(error = %e, "cannot write audit record"),
        Err(e) => tracing::error!(error = %e, "audit write panicked"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Peer;

    fn refused(reason: &str) -> Record {
        let mut r = Record::new(&Peer::Tcp {
            addr: "192.0.2.1:5000".parse().unwrap(),
        });
        r.refused = Some(reason.to_string());
        r
    }

    #[test]
    fn the_first_is_written_repeats_are_counted_until_the_window_ends() {
        let r = Refusals::new(Duration::from_secs(60));
        let t0 = Instant::now();
        let peer = || "tcp 192.0.2.1".to_string();
        let n = r.note(peer(), refused("unknown token"), t0);
        assert_eq!(n.write.len(), 1);
        assert!(!n.arm);
        for i in 1..=5 {
            let n = r.note(
                peer(),
                refused("unknown token"),
                t0 + Duration::from_secs(i),
            );
            assert!(n.write.is_empty());
            assert_eq!(n.arm, i == 1, "the timer is started once");
        }
        // Another reason, or another peer, opens its own window.
        assert_eq!(r.note(peer(), refused("no token"), t0).write.len(), 1);
        assert_eq!(
            r.note("tcp 192.0.2.9".into(), refused("unknown token"), t0)
                .write
                .len(),
            1
        );
        let (lines, next) = r.due(t0 + Duration::from_secs(30));
        assert!(lines.is_empty());
        assert_eq!(next, Some(t0 + Duration::from_secs(60)));
        let (lines, next) = r.due(t0 + Duration::from_secs(60));
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].repeated, Some(5));
        assert_eq!(next, None, "nothing waits: the timer stops");
        // After the window, the next refusal is written again.
        let n = r.note(
            peer(),
            refused("unknown token"),
            t0 + Duration::from_secs(61),
        );
        assert_eq!(n.write.len(), 1);
        assert_eq!(n.write[0].repeated, None);
    }

    #[test]
    fn reasons_are_cut_short() {
        let r = Refusals::new(Duration::from_secs(60));
        let long = format!("malformed request: unknown field `{}`", "x".repeat(10_000));
        let n = r.note("unix uid 1000".into(), refused(&long), Instant::now());
        let reason = n.write[0].record.refused.as_deref().unwrap();
        assert!(reason.len() <= MAX_REASON + 3, "{}", reason.len());
    }

    #[test]
    fn repeats_are_written_at_shutdown() {
        let r = Refusals::new(Duration::from_secs(60));
        let t0 = Instant::now();
        r.note("p".into(), refused("x"), t0);
        r.note("p".into(), refused("x"), t0);
        r.note("p".into(), refused("x"), t0);
        let lines = r.drain();
        assert_eq!(lines.len(), 1);
        assert_eq!(lines[0].repeated, Some(2));
        assert!(r.drain().is_empty());
    }
}
