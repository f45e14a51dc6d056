//! Pipeline input by property name: session objects on standard input (JSON lines or one
//! JSON array), binding `SessionId` and `Server`/`ComputerName` case-insensitively; and,
//! as Unix tools expect, plain session IDs (`jq .SessionId | wms session close`): a line
//! of IDs separated by spaces, or numbers in a JSON array. The whole input is read and
//! checked before anything is done, so malformed input changes nothing.

use serde_json::Value;
use std::fmt;
use wms_core::SessionId;

/// Where in the input a fault is: a line (JSON lines, or a JSON array that does not
/// parse), or an element of a JSON array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    Line(usize),
    Element(usize),
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Place::Line(n) => write!(f, "line {n}"),
            Place::Element(n) => write!(f, "element {n} of the JSON array"),
        }
    }
}

/// What is wrong with piped input, and where; the whole input is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct PipelineError {
    pub at: Place,
    pub problem: Problem,
}

/// What is wrong with one piped object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    #[error("not valid JSON: {0}")]
    NotJson(String),
    #[error("expected a session ID or a session object ({{\"SessionId\": ...}})")]
    NotAnObject,
    #[error("the object has no SessionId property")]
    NoSessionId,
    #[error("SessionId {0} is not a UInt32")]
    BadSessionId(String),
    #[error("Server {0} is not a host name")]
    BadServer(String),
}

/// One piped target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipedTarget {
    pub session_id: SessionId,
    pub server: Option<String>,
}

/// Parses piped session objects; the error names the line (or array element) at fault.
pub fn parse(input: &str) -> Result<Vec<PipedTarget>, PipelineError> {
    let fault = |at, problem| PipelineError { at, problem };
    let trimmed = input.trim_start();
    if trimmed.starts_with('[') {
        let arr: Vec<Value> = serde_json::from_str(input)
            .map_err(|e| fault(Place::Line(e.line()), Problem::NotJson(e.to_string())))?;
        return arr
            .iter()
            .enumerate()
            .map(|(i, v)| bind(v).map_err(|p| fault(Place::Element(i + 1), p)))
            .collect();
    }
    let mut targets = Vec::new();
    for (i, l) in input.lines().enumerate() {
        let at = Place::Line(i + 1);
        if l.trim().is_empty() {
            continue;
        }
        if let Some(ids) = plain_ids(l) {
            targets.extend(ids.into_iter().map(|session_id| PipedTarget {
                session_id,
                server: None,
            }));
            continue;
        }
        let v: Value =
            serde_json::from_str(l).map_err(|e| fault(at, Problem::NotJson(e.to_string())))?;
        targets.push(bind(&v).map_err(|p| fault(at, p))?);
    }
    Ok(targets)
}

/// A line of plain session IDs (`3`, `3 4`, `"3"` as `jq` prints a string); `None` when it
/// is not one, and it is then read as JSON (a number out of range reads as a JSON number
/// and is refused by name).
fn plain_ids(line: &str) -> Option<Vec<SessionId>> {
    line.split_whitespace()
        .map(|w| {
            let w = w
                .strip_prefix('"')
                .and_then(|w| w.strip_suffix('"'))
                .unwrap_or(w);
            (!w.is_empty() && w.bytes().all(|b| b.is_ascii_digit()))
                .then(|| w.parse::<u32>().ok().map(SessionId))
                .flatten()
        })
        .collect()
}

fn property<'a>(obj: &'a serde_json::Map<String, Value>, names: &[&str]) -> Option<&'a Value> {
    names.iter().find_map(|n| {
        obj.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v)
    })
}

fn bind(v: &Value) -> Result<PipedTarget, Problem> {
    // A bare number (in a JSON array, or a line too large for a UInt32) is a session ID.
    if let Value::Number(n) = v {
        return n
            .as_u64()
            .and_then(|n| u32::try_from(n).ok())
            .map(|id| PipedTarget {
                session_id: SessionId(id),
                server: None,
            })
            .ok_or_else(|| Problem::BadSessionId(n.to_string()));
    }
    let obj = v.as_object().ok_or(Problem::NotAnObject)?;
    let id = property(obj, &["SessionId"]).ok_or(Problem::NoSessionId)?;
    let session_id = match id {
        Value::Number(n) => n.as_u64().and_then(|n| u32::try_from(n).ok()),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
    .map(SessionId)
    .ok_or_else(|| Problem::BadSessionId(id.to_string()))?;
    let server = match property(obj, &["Server", "ComputerName"]) {
        None | Some(Value::Null) => None,
        Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
        Some(other) => return Err(Problem::BadServer(other.to_string())),
    };
    Ok(PipedTarget { session_id, server })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_lines_bind_by_property_name_case_insensitively() {
        let t =
            parse("{\"SessionId\":3,\"ComputerName\":\"h1\"}\n\n{\"sessionid\":\"4\"}\n").unwrap();
        assert_eq!(
            t,
            [
                PipedTarget {
                    session_id: SessionId(3),
                    server: Some("h1".into())
                },
                PipedTarget {
                    session_id: SessionId(4),
                    server: None
                },
            ]
        );
    }

    #[test]
    fn server_wins_over_computer_name() {
        let t = parse("{\"SessionId\":3,\"ComputerName\":\"a\",\"SERVER\":\"b\"}").unwrap();
        assert_eq!(t[0].server.as_deref(), Some("b"));
    }

    #[test]
    fn plain_ids_work_like_objects() {
        let ids = |input: &str| -> Vec<u32> {
            parse(input)
                .unwrap()
                .iter()
                .map(|t| t.session_id.0)
                .collect()
        };
        assert_eq!(ids("3\n4\n\n"), [3, 4]);
        assert_eq!(ids("3 4\n\"5\"\n{\"SessionId\":6}\n"), [3, 4, 5, 6]);
        assert_eq!(ids("[3, 4, {\"SessionId\": 5}]"), [3, 4, 5]);
        let e = parse("3\n4294967296\n").unwrap_err().to_string();
        assert_eq!(e, "line 2: SessionId 4294967296 is not a UInt32");
        let e = parse("3\n-1\n").unwrap_err().to_string();
        assert_eq!(e, "line 2: SessionId -1 is not a UInt32");
        let e = parse("3 x\n").unwrap_err().to_string();
        assert!(e.starts_with("line 1: not valid JSON"), "{e}");
        let e = parse("true\n").unwrap_err().to_string();
        assert_eq!(
            e,
            "line 1: expected a session ID or a session object ({\"SessionId\": ...})"
        );
    }

    #[test]
    fn an_array_works_too() {
        let t = parse("[{\"SessionId\":1},{\"SessionId\":2}]").unwrap();
        assert_eq!(t.len(), 2);
    }

    #[test]
    fn broken_json_names_the_line() {
        let e = parse("{\"SessionId\":3}\n{\"SessionId\":\n")
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("line 2: not valid JSON"), "{e}");
        let e = parse("{\"SessionId\":3}\n{\"UserName\":\"x\"}\n")
            .unwrap_err()
            .to_string();
        assert_eq!(e, "line 2: the object has no SessionId property");
        let e = parse("{\"SessionId\":-1}").unwrap_err().to_string();
        assert_eq!(e, "line 1: SessionId -1 is not a UInt32");
        let e = parse("[{\"SessionId\":1},true]").unwrap_err().to_string();
        assert!(e.starts_with("element 2 of the JSON array"), "{e}");
        let e = parse("[{\"SessionId\":1},").unwrap_err().to_string();
        assert!(e.starts_with("line 1: not valid JSON"), "{e}");
    }
}
