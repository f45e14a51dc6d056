//! The pipeline reader (session objects on standard input, JSON lines or one JSON array) on
//! arbitrary text: it never panics, names the line or array element at fault, and what it
//! binds survives a round trip through the form `wms session list -o json` prints.

#![no_main]

use libfuzzer_sys::fuzz_target;
use wms_cli::pipeline;

fuzz_target!(|data: &[u8]| {
    let input = String::from_utf8_lossy(data);
    match pipeline::parse(&input) {
        Ok(targets) => {
            if !input.trim_start().starts_with('[') {
                // JSON lines: at least one target per line that is not blank (a line of
                // plain IDs may hold several), in order.
                let lines = input.lines().filter(|l| !l.trim().is_empty()).count();
                assert!(targets.len() >= lines, "{input:?}");
            }
            let mut again = String::new();
            for t in &targets {
                // An empty server name is no server name.
                assert_ne!(t.server.as_deref(), Some(""), "{input:?}");
                let mut obj = serde_json::Map::new();
                obj.insert("SessionId".into(), t.session_id.0.into());
                if let Some(server) = &t.server {
                    obj.insert("ComputerName".into(), server.clone().into());
                }
                again.push_str(&serde_json::Value::Object(obj).to_string());
                again.push('\n');
            }
            assert_eq!(pipeline::parse(&again).as_ref(), Ok(&targets), "{again:?}");
        }
        Err(error) => {
            let message = error.to_string();
            assert!(
                message.starts_with("line ") || message.starts_with("element "),
                "{message:?} for {input:?}"
            );
            // Malformed input is refused as a whole, however it is presented.
            assert!(pipeline::parse(&input).is_err());
        }
    }
});
