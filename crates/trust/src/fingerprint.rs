//! Certificate fingerprints, as `openssl x509 -fingerprint -sha256` prints them.

use std::fmt::Write;

/// `SHA256:AB:CD:...`: the SHA-256 of the DER certificate, upper-case hex pairs joined by
/// colons, with the prefix.
pub fn fingerprint(der: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, der);
    let mut out = String::from("SHA256:");
    for (i, b) in digest.as_ref().iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        let _ = write!(out, "{b:02X}");
    }
    out
}

/// Fingerprints compare without regard to case, colons or the optional prefix, so one
/// pasted from `openssl` or written in lower case matches.
pub fn same_fingerprint(a: &str, b: &str) -> bool {
    let norm = |s: &str| {
        s.trim()
            .trim_start_matches("SHA256:")
            .trim_start_matches("sha256:")
            .replace(':', "")
            .to_ascii_uppercase()
    };
    norm(a) == norm(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_are_openssl_style_and_compare_loosely() {
        let fp = fingerprint(b"abc");
        assert_eq!(
            fp,
            "SHA256:BA:78:16:BF:8F:01:CF:EA:41:41:40:DE:5D:AE:22:23:B0:03:61:A3:96:17:7A:9C:B4:10:FF:61:F2:00:15:AD"
        );
        assert!(same_fingerprint(
            &fp,
            &fp.to_lowercase().replace("sha256:", "")
        ));
        assert!(same_fingerprint(
            &fp,
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        ));
        assert!(!same_fingerprint(&fp, &fingerprint(b"abd")));
    }

    #[test]
    fn the_fingerprint_of_nothing() {
        let f = fingerprint(b"");
        assert!(f.starts_with("SHA256:E3:B0:C4:42:98:FC:1C:14:"), "{f}");
        assert_eq!(f.len(), "SHA256:".len() + 32 * 3 - 1);
    }
}
