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

/// The columns of `-o table`, chosen to fit 80 columns with typical values: a property,
/// or as PowerShell's own table views do (Get-Process: "CPU(s)", "WS(M)"), a figure
/// rounded under a label that says its unit. A local session's ClientName is its terminal.
const TABLE_COLUMNS: [&str; 7] = [
    "SessionId",
    "State",
    "UserName",
    "ClientName",
    "IdleSeconds",
    CPU_LABEL,
    MEMORY_LABEL,
];

/// CpuSeconds, to a hundredth.
const CPU_LABEL: &str = "CPU(s)";
/// MemoryBytes, in MiB to a tenth.
const MEMORY_LABEL: &str = "Mem(M)";

/// The width `-o table` fits into, whatever the terminal (so output is the same in a pipe).
pub const TABLE_WIDTH: usize = 80;

/// The columns that give up width when a table is too wide, in the order they give it.
const SHRINKABLE: [&str; 3] = ["ClientName", "UserName", "Server"];

/// The narrowest a shrinkable column gets.
const MIN_SHRUNK: usize = 8;

/// The server a session was listed through: the name it was asked for by, else its host.
fn server_of(s: &Session) -> &str {
    s.server.as_deref().unwrap_or(&s.computer_name)
}

/// Whether the sessions came from more than one server, so that rows need a Server column.
fn several_servers(sessions: &[Session]) -> bool {
    sessions
        .iter()
        .any(|s| !server_of(s).eq_ignore_ascii_case(server_of(&sessions[0])))
}

/// A session's cell in `column`; blank when it does not have the property.
fn cell(props: &[(&'static str, String)], s: &Session, column: &str) -> String {
    match column {
        "Server" => return server_of(s).to_string(),
        CPU_LABEL => return s.cpu_seconds.map(|c| format!("{c:.2}")).unwrap_or_default(),
        MEMORY_LABEL => {
            return s
                .memory_bytes
                .map(|m| format!("{:.1}", m as f64 / (1024.0 * 1024.0)))
                .unwrap_or_default()
        }
        _ => {}
    }
    props
        .iter()
        .find(|(k, _)| *k == column)
        .map(|(_, v)| v.clone())
        .unwrap_or_default()
}

/// The table form of Format-Table, fitted to [`TABLE_WIDTH`]: a header, a dashed rule, a row
/// per session; a Server column first when the sessions came from several servers; values
/// too long for their column are cut with `…`.
pub fn table(sessions: &[Session]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    if several_servers(sessions) {
        columns.push("Server");
    }
    columns.extend(TABLE_COLUMNS);
    render_table(sessions, &columns, Some(TABLE_WIDTH))
}

/// The wide table (`-o wide`): every property any session has, in the list form's order,
/// nothing cut.
pub fn wide(sessions: &[Session]) -> String {
    let mut columns: Vec<&str> = Vec::new();
    if several_servers(sessions) {
        columns.push("Server");
    }
    for s in sessions {
        for (k, _) in s.properties() {
            if !columns.contains(&k) {
                columns.push(k);
            }
        }
    }
    if columns.is_empty() {
        columns.extend(TABLE_COLUMNS);
    }
    render_table(sessions, &columns, None)
}

fn chars(s: &str) -> usize {
    s.chars().count()
}

fn render_table(sessions: &[Session], columns: &[&str], fit: Option<usize>) -> String {
    let rows: Vec<Vec<String>> = sessions
        .iter()
        .map(|s| {
            let props = s.properties();
            columns.iter().map(|c| cell(&props, s, c)).collect()
        })
        .collect();
    let mut widths: Vec<usize> = columns
        .iter()
        .enumerate()
        .map(|(i, c)| rows.iter().map(|r| chars(&r[i])).fold(chars(c), usize::max))
        .collect();
    if let Some(limit) = fit {
        // Columns are separated by one space; the last one is not padded.
        let total = |w: &[usize]| w.iter().sum::<usize>() + w.len().saturating_sub(1);
        while total(&widths) > limit {
            // The widest shrinkable column that can still give a character.
            let Some(i) = columns
                .iter()
                .enumerate()
                .filter(|(i, c)| SHRINKABLE.contains(c) && widths[*i] > MIN_SHRUNK.max(chars(c)))
                .max_by_key(|(i, _)| widths[*i])
                .map(|(i, _)| i)
            else {
                break;
            };
            widths[i] -= 1;
        }
    }
    let fitted = |text: &str, w: usize| -> String {
        if chars(text) <= w {
            format!("{text:<w$}")
        } else {
            let cut: String = text.chars().take(w.saturating_sub(1)).collect();
            format!("{cut}…")
        }
    };
    let mut out = String::new();
    let mut line = |cells: Vec<String>| {
        let cells: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| fitted(c, *w))
            .collect();
        let _ = writeln!(out, "{}", cells.join(" ").trim_end());
    };
    line(columns.iter().map(|c| c.to_string()).collect());
    line(columns.iter().map(|c| "-".repeat(chars(c))).collect());
    for r in rows {
        line(r);
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
        OutputFormat::Wide => wide(sessions),
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
            station_id: Some(0),
            computer_name: "lab1".into(),
            client_name: Some("127.0.0.1".into()),
            service: Some("sshd".into()),
            process_count: 3,
            leader_pid: Some(Pid(42)),
            uid: Uid(1000),
            ..Default::default()
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
        let mut used = s(4, "bob");
        used.cpu_seconds = Some(1.234);
        used.memory_bytes = Some(200 * 1024 * 1024);
        let out = table(&[s(3, "alice"), used]);
        let lines: Vec<&str> = out.lines().collect();
        assert_eq!(
            lines[0],
            "SessionId State            UserName ClientName IdleSeconds CPU(s) Mem(M)"
        );
        assert!(lines[1].starts_with("--------- -----"), "{out}");
        assert_eq!(lines[2], "3         RemoteConnection alice    127.0.0.1");
        assert_eq!(
            lines[3],
            "4         RemoteConnection bob      127.0.0.1              1.23   200.0"
        );
    }

    #[test]
    fn table_fits_80_columns_by_cutting_long_values() {
        let mut long = s(3, "a-very-long-user-name-indeed");
        long.client_name = Some("2001:db8:1234:5678:9abc:def0:1234:5678".into());
        long.idle_seconds = Some(12345);
        long.tty = Some("pts/12".into());
        let out = table(&[long.clone(), s(4, "bob")]);
        for l in out.lines() {
            assert!(
                l.chars().count() <= 80,
                "{} columns: {l}",
                l.chars().count()
            );
        }
        assert!(out.contains('…'), "{out}");
        // The wide view cuts nothing.
        let out = wide(&[long]);
        assert!(
            out.contains("2001:db8:1234:5678:9abc:def0:1234:5678"),
            "{out}"
        );
        assert!(out.contains("a-very-long-user-name-indeed"), "{out}");
        assert!(out.lines().next().unwrap().contains("LeaderPid"), "{out}");
    }

    #[test]
    fn a_server_column_when_several_servers_answer() {
        let mut b = s(4, "bob");
        b.computer_name = "lab2".into();
        b.server = Some("lab2".into());
        let out = table(&[s(3, "alice"), b.clone()]);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("Server SessionId"), "{out}");
        assert!(lines[2].starts_with("lab1   3"), "{out}");
        assert!(lines[3].starts_with("lab2   4"), "{out}");
        assert!(!table(&[s(3, "alice")]).starts_with("Server"));
        assert!(wide(&[s(3, "alice"), b]).starts_with("Server"));
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
