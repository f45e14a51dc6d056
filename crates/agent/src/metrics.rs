//! `GET /metrics`: the agent's figures in the Prometheus text format (version 0.0.4):
//! sessions by state, locked sessions, actions by verb and outcome, refusals by reason,
//! and a latency histogram of the requests it answered. Every label value comes from a
//! fixed set (verbs, outcomes, states, reasons, routes), so nothing a peer sends becomes
//! a label and the number of series stays bounded. The format is a few lines of text;
//! the client libraries would bring OpenMetrics output and a registry this does not need.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Duration;
use wms_core::{Outcome, Session, SessionState};

/// The upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

/// Why a request was refused, as the `reason` label says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum RefusalReason {
    /// No, a malformed, an unknown or a revoked token.
    Unauthenticated,
    /// A Unix-socket caller that could not be identified.
    Unidentified,
    /// A malformed request (JSON, shape, message, headers).
    BadRequest,
    /// A body or ID list over its limit.
    TooLarge,
    /// Over a rate limit.
    RateLimited,
    /// The body did not arrive in time.
    Timeout,
    /// The intent could not be recorded, or the agent could not take the work on.
    Unavailable,
}

impl RefusalReason {
    pub fn label(self) -> &'static str {
        match self {
            RefusalReason::Unauthenticated => "unauthenticated",
            RefusalReason::Unidentified => "unidentified",
            RefusalReason::BadRequest => "bad_request",
            RefusalReason::TooLarge => "too_large",
            RefusalReason::RateLimited => "rate_limited",
            RefusalReason::Timeout => "timeout",
            RefusalReason::Unavailable => "unavailable",
        }
    }

    /// The reason of an HTTP status the agent refuses with.
    pub fn of_status(status: u16) -> RefusalReason {
        match status {
            401 => RefusalReason::Unauthenticated,
            403 => RefusalReason::Unidentified,
            408 => RefusalReason::Timeout,
            413 => RefusalReason::TooLarge,
            429 => RefusalReason::RateLimited,
            503 => RefusalReason::Unavailable,
            _ => RefusalReason::BadRequest,
        }
    }
}

/// The routes the latency histogram tells apart; anything else is `other`.
pub fn route_label(path: &str) -> &'static str {
    match path {
        "/v1/sessions" => "/v1/sessions",
        "/v1/actions" => "/v1/actions",
        "/v1/caller" => "/v1/caller",
        "/v1/events" => "/v1/events",
        "/metrics" => "/metrics",
        "/openapi.json" => "/openapi.json",
        _ => "other",
    }
}

#[derive(Debug, Default)]
struct Histogram {
    /// Counts per bucket (not cumulative), then the +Inf bucket.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

/// The agent's counters.
#[derive(Debug, Default)]
pub struct Metrics {
    /// (verb, outcome) → count.
    actions: Mutex<BTreeMap<(&'static str, &'static str), u64>>,
    refusals: Mutex<BTreeMap<&'static str, u64>>,
    latency: Mutex<BTreeMap<&'static str, Histogram>>,
    events: AtomicU64,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

impl Metrics {
    /// Counts one target's outcome of an action.
    pub fn action(&self, verb: &'static str, outcome: &Outcome) {
        *lock(&self.actions)
            .entry((verb, outcome.name()))
            .or_default() += 1;
    }

    pub fn refusal(&self, reason: RefusalReason) {
        *lock(&self.refusals).entry(reason.label()).or_default() += 1;
    }

    /// Counts `n` events published on the event stream.
    pub fn published(&self, n: usize) {
        self.events.fetch_add(n as u64, Ordering::Relaxed);
    }

    /// Records how long a request on `route` took to answer.
    pub fn observe(&self, route: &'static str, took: Duration) {
        let secs = took.as_secs_f64();
        let mut all = lock(&self.latency);
        let h = all.entry(route).or_default();
        let i = BUCKETS
            .iter()
            .position(|b| secs <= *b)
            .unwrap_or(BUCKETS.len());
        h.counts[i] += 1;
        h.sum += secs;
        h.count += 1;
    }

    /// The exposition text, with the session gauges from `sessions`.
    pub fn render(&self, sessions: &[Session]) -> String {
        let mut out = String::new();
        let mut by_state: BTreeMap<&str, u64> = [
            SessionState::RemoteConnection,
            SessionState::ConnectedToStation,
            SessionState::Disconnected,
        ]
        .iter()
        .map(|s| (s.name(), 0))
        .collect();
        // A session whose state is not known is counted in none.
        for st in sessions.iter().filter_map(|s| s.state) {
            *by_state.entry(st.name()).or_default() += 1;
        }
        family(
            &mut out,
            "wms_sessions",
            "gauge",
            "Login sessions on this host, by state.",
        );
        for (state, n) in &by_state {
            let _ = writeln!(out, "wms_sessions{{state=\"{state}\"}} {n}");
        }
        family(
            &mut out,
            "wms_sessions_locked",
            "gauge",
            "Login sessions that wms has locked.",
        );
        let locked = sessions.iter().filter(|s| s.is_locked).count();
        let _ = writeln!(out, "wms_sessions_locked {locked}");

        family(
            &mut out,
            "wms_actions_total",
            "counter",
            "Targets of actions, by verb and outcome.",
        );
        for ((verb, outcome), n) in lock(&self.actions).iter() {
            let _ = writeln!(
                out,
                "wms_actions_total{{verb=\"{verb}\",outcome=\"{outcome}\"}} {n}"
            );
        }
        family(
            &mut out,
            "wms_refusals_total",
            "counter",
            "Requests refused before anything was done, by reason.",
        );
        for (reason, n) in lock(&self.refusals).iter() {
            let _ = writeln!(out, "wms_refusals_total{{reason=\"{reason}\"}} {n}");
        }
        family(
            &mut out,
            "wms_events_total",
            "counter",
            "Session events published on the event stream.",
        );
        let _ = writeln!(
            out,
            "wms_events_total {}",
            self.events.load(Ordering::Relaxed)
        );
        family(
            &mut out,
            "wms_http_request_duration_seconds",
            "histogram",
            "Time to answer a request, by route.",
        );
        for (route, h) in lock(&self.latency).iter() {
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "wms_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += h.counts[BUCKETS.len()];
            let _ = writeln!(
                out,
                "wms_http_request_duration_seconds_bucket{{route=\"{route}\",le=\"+Inf\"}} {cumulative}"
            );
            let _ = writeln!(
                out,
                "wms_http_request_duration_seconds_sum{{route=\"{route}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "wms_http_request_duration_seconds_count{{route=\"{route}\"}} {}",
                h.count
            );
        }
        out
    }
}

fn family(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_histogram_is_cumulative_and_counts_every_request() {
        let m = Metrics::default();
        m.observe("/v1/sessions", Duration::from_micros(300));
        m.observe("/v1/sessions", Duration::from_millis(3));
        m.observe("/v1/sessions", Duration::from_secs(9));
        let text = m.render(&[]);
        assert!(text.contains(
            "wms_http_request_duration_seconds_bucket{route=\"/v1/sessions\",le=\"0.0005\"} 1\n"
        ));
        assert!(text.contains(
            "wms_http_request_duration_seconds_bucket{route=\"/v1/sessions\",le=\"0.005\"} 2\n"
        ));
        assert!(text.contains(
            "wms_http_request_duration_seconds_bucket{route=\"/v1/sessions\",le=\"+Inf\"} 3\n"
        ));
        assert!(
            text.contains("wms_http_request_duration_seconds_count{route=\"/v1/sessions\"} 3\n")
        );
        // Every state is there, at 0 when no session is in it.
        assert!(text.contains("wms_sessions{state=\"Disconnected\"} 0\n"));
    }

    #[test]
    fn actions_and_refusals_are_counted_by_their_labels() {
        let m = Metrics::default();
        m.action("close", &Outcome::Done);
        m.action("close", &Outcome::Done);
        m.action("lock", &Outcome::Failed("x".into()));
        m.refusal(RefusalReason::of_status(401));
        let text = m.render(&[]);
        assert!(text.contains("wms_actions_total{verb=\"close\",outcome=\"Done\"} 2\n"));
        assert!(text.contains("wms_actions_total{verb=\"lock\",outcome=\"Failed\"} 1\n"));
        assert!(text.contains("wms_refusals_total{reason=\"unauthenticated\"} 1\n"));
    }
}
