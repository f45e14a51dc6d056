//! The `/proc` parsers and the configuration parser on arbitrary (hostile) content.
//!
//! Every input goes to every parser:
//! - `parse_stat` on the input as `/proc/PID/stat` content, and on a well-formed stat line
//!   whose process name is the input (a name may hold spaces, parentheses and newlines);
//! - `parse_u32` and `vt_number` on the input as text;
//! - `environ_value` on the input as an environment block, with a key taken from its head;
//! - `tty_name` on the input's first four bytes as a `tty_nr`;
//! - `Config::parse` on the input as `/etc/wms/wms.toml`.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wms_core::Pid;
use wms_host::fuzzing::{self as procfs, Stat};
use wms_host::Config;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    stat_as_content(&text);
    stat_with_hostile_name(&text);
    u32_file(&text);
    environ(data);
    tty(data);
    vt(&text);
    config(&text);
});

/// The canonical `/proc/PID/stat` line for `s`, with fields this parser skips set to 0.
fn stat_line(s: &Stat, comm: &str) -> String {
    let mut line = format!(
        "{} ({comm}) {} {} {} {} {} {}",
        s.pid.0, s.state, s.ppid.0, s.pgrp, s.sid, s.tty_nr, s.tpgid
    );
    // Fields 9..=13, user time (14, all the CPU time here) and system time (15), 16..=21,
    // start time (22), the size (23), the resident set (24) and one more.
    for _ in 9..=13 {
        line.push_str(" 0");
    }
    line.push_str(&format!(" {} 0", s.cpu_ticks));
    for _ in 16..=21 {
        line.push_str(" 0");
    }
    line.push_str(&format!(" {} 0 {} 0\n", s.start_time, s.rss_pages));
    line
}

fn stat_as_content(text: &str) {
    let Some(stat) = procfs::parse_stat(text) else {
        return;
    };
    // The state is one character of a field, never the blank between fields.
    assert!(!stat.state.is_ascii_whitespace(), "{text:?}");
    // The fields after the name are read after its *last* ')': whatever the name holds,
    // the canonical line of this Stat parses back to the same Stat.
    let canonical = stat_line(&stat, &stat.comm);
    assert_eq!(
        procfs::parse_stat(&canonical).as_ref(),
        Some(&stat),
        "{canonical:?}"
    );
    // The name does not move the other fields: with any other name they are the same.
    let open = text.find('(').unwrap();
    let close = text.rfind(')').unwrap();
    let renamed = format!("{}(x{}", &text[..open], &text[close..]);
    let other = procfs::parse_stat(&renamed).expect("renamed stat parses");
    assert_eq!(
        other,
        Stat {
            comm: "x".into(),
            ..stat.clone()
        },
        "{renamed:?}"
    );
}

fn stat_with_hostile_name(comm: &str) {
    let expected = Stat {
        pid: Pid(1900),
        comm: comm.to_string(),
        state: 'S',
        ppid: Pid(1896),
        pgrp: 1900,
        sid: 1900,
        tty_nr: (136 << 8) | 3,
        tpgid: -1,
        start_time: 123456,
        cpu_ticks: 42,
        rss_pages: 7,
    };
    let line = stat_line(&expected, comm);
    assert_eq!(procfs::parse_stat(&line), Some(expected), "{line:?}");
}

fn u32_file(text: &str) {
    let Some(value) = procfs::parse_u32(text) else {
        return;
    };
    // Only a decimal number (an optional '+', leading zeros) around blanks reads as one.
    let t = text.trim();
    let digits = t.strip_prefix('+').unwrap_or(t);
    assert!(
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()),
        "{text:?}"
    );
    let significant = digits.trim_start_matches('0');
    if value == 0 {
        assert!(significant.is_empty(), "{text:?}");
    } else {
        assert_eq!(significant, value.to_string(), "{text:?}");
    }
    assert_eq!(procfs::parse_u32(&format!("{value}\n")), Some(value));
}

fn environ(data: &[u8]) {
    // The first byte says how long the key is; the key follows, then the block.
    let Some((&n, rest)) = data.split_first() else {
        return;
    };
    let n = usize::from(n % 24).min(rest.len());
    let (key, block) = rest.split_at(n);
    let key = String::from_utf8_lossy(key);
    for key in [&*key, "SSH_CONNECTION", "DISPLAY"] {
        let found = procfs::environ_value(block, key);
        // The first entry that is exactly `key=value`, and the value is that entry's rest.
        let mut entry = key.as_bytes().to_vec();
        entry.push(b'=');
        let first = block
            .split(|b| *b == 0)
            .find(|kv| kv.starts_with(&entry))
            .map(|kv| &kv[entry.len()..]);
        assert_eq!(found, first, "{key:?} in {block:?}");
        if let Some(value) = found {
            assert!(!value.contains(&0));
            // A slice of the block itself, not a copy.
            let range = block.as_ptr_range();
            assert!(range.start <= value.as_ptr() && value.as_ptr_range().end <= range.end);
        }
    }
}

fn tty(data: &[u8]) {
    let mut word = [0u8; 4];
    let n = data.len().min(4);
    word[..n].copy_from_slice(&data[..n]);
    let tty_nr = u32::from_le_bytes(word);
    let (major, minor) = procfs::tty_major_minor(tty_nr);
    assert!(major <= 0xfff && minor <= 0xfffff);
    let name = procfs::tty_name(tty_nr);
    if tty_nr == 0 {
        assert_eq!(name, None);
        return;
    }
    let Some(name) = name else {
        return;
    };
    if let Some(n) = name.strip_prefix("pts/") {
        assert!((136..=143).contains(&major), "{tty_nr:#x} -> {name}");
        assert_eq!(n.parse::<u32>().unwrap(), (major - 136) * 256 + minor);
        assert_eq!(procfs::vt_number(&name), None);
    } else if let Some(n) = name.strip_prefix("ttyS") {
        assert!(major == 4 && minor >= 64, "{tty_nr:#x} -> {name}");
        assert_eq!(n.parse::<u32>().unwrap(), minor - 64);
        assert_eq!(procfs::vt_number(&name), None);
    } else {
        // A virtual console: its number is its VT, as StationId reports it.
        assert!(major == 4 && minor < 64, "{tty_nr:#x} -> {name}");
        assert_eq!(name, format!("tty{minor}"));
        assert_eq!(procfs::vt_number(&name), Some(minor));
    }
}

fn vt(text: &str) {
    if let Some(n) = procfs::vt_number(text) {
        assert!(text.starts_with("tty"), "{text:?}");
        assert_eq!(procfs::vt_number(&format!("tty{n}")), Some(n));
    }
}

fn config(text: &str) {
    match Config::parse(text) {
        Ok(cfg) => {
            for v in [cfg.grace_period, cfg.kill_timeout] {
                assert!(v.is_finite() && (0.0..=3600.0).contains(&v), "{v}");
            }
            // The durations a close waits for can always be made.
            let _ = cfg.grace();
            let _ = cfg.kill_deadline();
        }
        Err(message) => {
            assert!(!message.is_empty(), "{text:?}");
            if let Some(rest) = message.strip_prefix("line ") {
                let n: usize = rest
                    .split(':')
                    .next()
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("{message:?}"));
                assert!(n >= 1 && n <= text.matches('\n').count() + 1, "{message:?}");
            }
        }
    }
}
