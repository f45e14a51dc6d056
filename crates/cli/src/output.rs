//! How sessions and results are printed: the seed's list form (`Name : Value`), a table,
//! or JSON lines with the PascalCase property names; and the one way to standard output,
//! [`stdout`], which tells a closed standard output (`wms ... | head -1`) from a failure.

use crate::cmdlet::OutputFormat;
use std::fmt::Write as _;
use std::io::{self, Write as _};
use wms_core::Session;

/// Standard output could not take what was printed.
#[derive(Debug, thiserror::Error)]
pub enum WriteError {
    /// The reader went away (`wms session list | head -1`). Not a failure: the command
    /// ends quietly, as it would have been ended by SIGPIPE (Rust ignores that signal).
    #[error("standard output was closed")]
    Closed,
    #[error("cannot write to standard output: {0}")]
    Failed(io::Error),
}

/// Writes `text` to standard output and flushes it.
pub fn stdout(text: &str) -> Result<(), WriteError> {
    let mut out = io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|()| out.flush())
        .map_err(|e| match e.kind() {
            io::ErrorKind::BrokenPipe => WriteError::Closed,
            _ => WriteError::Failed(e),
        })
}

/// Writes one line to standard output.
pub fn stdout_line(line: &str) -> Result<(), WriteError> {
    stdout(&format!("{line}\n"))
}

/// The list form of Format-List: names padded to the longest, a blank line between objects.
pub fn list(sessions: &[Session]) -> String {
    let mut out = String::new();
    for (i, s) in sessions.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let props = s.properties();
        let width = props.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
        for (k, v) in props {
            let _ = writeln!(out, "{k:<width$} : {v}");
        }
    }
    out
}

const TABLE_COLUMNS: [&str; 11] = [
    "SessionId",
    "State",
    "UserName",
    "IsAdmin",
    "Tty",
    "ClientName",
    "Service",
    "IdleSeconds",
    "ProcessCount",
    "CpuSeconds",
    "MemoryBytes",
];

/// The table form of Format-Table: a header, a dashed rule, a row per session; a property
/// the session does not have is blank.
pub fn table(sessions: &[Session]) -> String {
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            let props = s.properties();
            TABLE_COLUMNS
                .iter()
                .map(|c| {
                    props
                        .iter()
                        .find(|(k, _)| k == c)
                        .map(|(_, v)| v.clone())
                        .unwrap_or_default()
                })
                .collect()
        })
        .collect();
    let widths: Vec<usize> = TABLE_COLUMNS
        .iter()
        .enumerate()
        .map(|(i, c)| rows.iter().map(|r| r[i].len()).fold(c.len(), usize::max))
        .collect();
    let mut out = String::new();
    let line = |out: &mut String, cells: &mut dyn Iterator<Item = String>| {
        let cells: Vec<String> = cells
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", cells.join(" ").trim_end());
    };
    line(&mut out, &mut TABLE_COLUMNS.iter().map(|c| c.to_string()));
    line(
        &mut out,
        &mut TABLE_COLUMNS.iter().map(|c| "-".repeat(c.len())),
    );
    for r in rows {
        line(&mut out, &mut r.into_iter());
    }
    out
}

/// One JSON object per line.
pub fn json_lines<T: serde::Serialize>(items: &[T]) -> String {
    let mut out = Vec::with_capacity(items.len() * 256);
    for i in items {
        serde_json::to_writer(&mut out, i).expect("session objects serialise");
        out.push(b'\n');
    }
    String::from_utf8(out).expect("JSON is UTF-8")
}

pub fn sessions(format: OutputFormat, sessions: &[Session]) -> String {
    match format {
        OutputFormat::List => list(sessions),
        OutputFormat::Table => table(sessions),
        OutputFormat::Json => json_lines(sessions),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wms_core::{Pid, SessionId, SessionState, Uid};

    fn s(id: u32, user: &str) -> Session {
        Session {
            session_id: SessionId(id),
            state: Some(SessionState::RemoteConnection),
            user_name: user.into(),
            domain_name: "lab".into(),
            is_admin: false,
            station_id: Some(0),
            computer_name: "lab1".into(),
            client_name: Some("127.0.0.1".into()),
            class: None,
            session_type: None,
            tty: None,
            seat: None,
            vt_nr: None,
            display: None,
            remote: None,
            remote_host: None,
            service: Some("sshd".into()),
            logon_time: None,
            idle_seconds: None,
            idle_hint: None,
            process_count: 3,
            leader_pid: Some(Pid(42)),
            cpu_seconds: None,
            memory_bytes: None,
            is_locked: false,
            lock_message: None,
            locked_hint: None,
            source: None,
            server: None,
            uid: Uid(1000),
        }
    }

    #[test]
    fn list_pads_names_and_separates_objects() {
        let out = list(&[s(3, "alice"), s(4, "bob")]);
        assert!(
            out.starts_with("SessionId    : 3\nState        : RemoteConnection\n"),
            "{out}"
        );
        assert!(
            out.contains("LeaderPid    : 42\nIsLocked     : False\n\nSessionId    : 4\n"),
            "{out}"
        );
    }

    #[test]
    fn table_has_header_rule_and_blank_missing_cells() {
        let out = table(&[s(3, "alice")]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(
            lines[0].starts_with("SessionId State            UserName IsAdmin Tty"),
            "{out}"
        );
        assert!(lines[1].starts_with("--------- -----"), "{out}");
        assert!(
            lines[2].starts_with("3         RemoteConnection alice    False"),
            "{out}"
        );
    }

    #[test]
    fn json_is_one_object_per_line() {
        let out = json_lines(&[s(3, "alice"), s(4, "bob")]);
        let objs: Vec<serde_json::Value> = out
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(objs.len(), 2);
        assert_eq!(objs[1]["UserName"], "bob");
    }
}
