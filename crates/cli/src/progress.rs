//! A progress bar on standard error while many servers are worked on, only when standard
//! error is a terminal and the run is long enough to need one.

use std::io::{IsTerminal, Write};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Runs shorter than this show no bar.
const SHOW_AFTER: Duration = Duration::from_millis(300);

pub struct Progress {
    total: usize,
    start: Instant,
    shown: Mutex<bool>,
    enabled: bool,
}

impl Progress {
    pub fn new(total: usize) -> Progress {
        Progress {
            total,
            start: Instant::now(),
            shown: Mutex::new(false),
            enabled: total > 1 && std::io::stderr().is_terminal(),
        }
    }

    pub fn show(&self, done: usize) {
        if !self.enabled || self.start.elapsed() < SHOW_AFTER {
            return;
        }
        let width = 30;
        let filled = done * width / self.total.max(1);
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        *shown = true;
        eprint!(
            "\r[{}{}] {done}/{} servers",
            "#".repeat(filled),
            ".".repeat(width - filled),
            self.total
        );
        let _ = std::io::stderr().flush();
    }

    /// Clears the bar, if it was shown.
    pub fn finish(&self) {
        if *self.shown.lock().unwrap_or_else(|p| p.into_inner()) {
            eprint!("\r{}\r", " ".repeat(60));
            let _ = std::io::stderr().flush();
        }
    }
}
