//! This host's machine ID. A client sends it to an agent, and the agent compares it with
//! its own, so that a remote caller who is in fact on the agent's host has its own session
//! protected as a local caller does.

use std::path::Path;

/// Where the ID is read from, in order: systemd's machine ID, then the boot ID.
const SOURCES: [&str; 2] = ["/etc/machine-id", "/proc/sys/kernel/random/boot_id"];

/// `/etc/machine-id`, or the boot ID when that file is missing, unreadable or empty (an
/// image may ship it empty, to be filled on first boot).
pub fn machine_id() -> Option<String> {
    machine_id_from(&SOURCES.map(Path::new))
}

/// The first of `sources` that can be read and holds something other than white space,
/// trimmed.
pub fn machine_id_from(sources: &[&Path]) -> Option<String> {
    sources
        .iter()
        .filter_map(|p| std::fs::read_to_string(p).ok())
        .map(|s| s.trim().to_string())
        .find(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_or_empty_machine_id_falls_back_to_the_next_source() {
        let dir = std::env::temp_dir().join(format!("wms-trust-mid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (empty, boot, missing) = (dir.join("empty"), dir.join("boot"), dir.join("none"));
        std::fs::write(&empty, "\n").unwrap();
        std::fs::write(&boot, "b00t\n").unwrap();
        assert_eq!(machine_id_from(&[&missing, &boot]).as_deref(), Some("b00t"));
        assert_eq!(machine_id_from(&[&empty, &boot]).as_deref(), Some("b00t"));
        assert_eq!(machine_id_from(&[&boot, &empty]).as_deref(), Some("b00t"));
        assert_eq!(machine_id_from(&[&empty, &missing]), None);
        std::fs::remove_dir_all(&dir).unwrap();
        // This host has one, one way or the other.
        assert!(machine_id().is_some());
    }
}
