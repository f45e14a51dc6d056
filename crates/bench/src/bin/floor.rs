//! The floor of SPEC 9's listing benchmark: the least a program can do to list the login
//! sessions of a host from `/proc`, and nothing more. For every process it reads
//! `/proc/PID/sessionid`, `/proc/PID/loginuid` and `/proc/PID/stat` (one `open`, one `read`
//! into a reused buffer, one `close` each), counts the processes of each session, and prints
//! the number of sessions and of their processes. Sequential, as the simplest program is.

use std::fs::File;
use std::io::Read;

/// Reads `path` into `buf` (cleared first); false if the process is gone.
fn read_into(path: &str, buf: &mut Vec<u8>) -> bool {
    buf.clear();
    let Ok(mut f) = File::open(path) else {
        return false;
    };
    // One read fills a 4 KiB buffer with any of these files; read on only if it did not.
    buf.resize(4096, 0);
    let mut len = 0;
    loop {
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => {
                len += n;
                if len < buf.len() {
                    break;
                }
                buf.resize(buf.len() * 2, 0);
            }
            Err(_) => return false,
        }
    }
    buf.truncate(len);
    true
}

fn number(buf: &[u8]) -> Option<u32> {
    std::str::from_utf8(buf).ok()?.trim().parse().ok()
}

fn main() {
    let mut buf = Vec::with_capacity(4096);
    let mut sessions: std::collections::HashMap<u32, (u32, usize)> = Default::default();
    let mut path = String::with_capacity(32);
    for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .filter(|n| n.bytes().all(|b| b.is_ascii_digit()))
        else {
            continue;
        };
        path.clear();
        path.push_str("/proc/");
        path.push_str(pid);
        let base = path.len();
        path.push_str("/sessionid");
        if !read_into(&path, &mut buf) {
            continue;
        }
        let Some(session) = number(&buf).filter(|&s| s != u32::MAX) else {
            continue;
        };
        path.truncate(base);
        path.push_str("/loginuid");
        let uid = if read_into(&path, &mut buf) {
            number(&buf)
        } else {
            None
        };
        path.truncate(base);
        path.push_str("/stat");
        if !read_into(&path, &mut buf) {
            continue;
        }
        let entry = sessions
            .entry(session)
            .or_insert((uid.unwrap_or(u32::MAX), 0));
        entry.1 += 1;
    }
    let procs: usize = sessions.values().map(|(_, n)| n).sum();
    println!("{} sessions, {procs} processes", sessions.len());
}
