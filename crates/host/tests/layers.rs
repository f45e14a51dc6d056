//! Guard rails on the shape of `wms-host`: its modules use one another in one direction
//! only (`sys` ← `procfs`/`logind` ← `process` ← actions ← `engine`), so they never import one
//! another in a circle, and no source file grows past about 800 lines of non-test code.
//!
//! The check reads the sources: every `crate::NAME` path outside comments is a use of
//! module `NAME` by the module the file belongs to.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// Each module and its layer: a module may use only modules of lower layers. Modules of
/// one layer do not use one another (the actions are independent of each other).
const LAYERS: &[(&str, u32)] = &[
    ("sys", 0),
    ("procfs", 1),
    ("config", 1),
    ("fsutil", 1),
    ("logind", 1),
    ("screen_text", 1),
    ("xwin", 2),
    ("identity", 2),
    ("peer", 2),
    ("logins", 2),
    ("xrdp", 2),
    ("process", 3),
    ("discover", 4),
    ("close", 4),
    ("disconnect", 4),
    ("message", 4),
    ("table", 4),
    ("desktop", 4),
    ("lock", 5),
    ("desktop_message", 5),
    ("engine", 6),
    ("lib", 7),
];

/// The most non-test lines a source file may have.
const MAX_LINES: usize = 800;

fn sources() -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"), &mut out);
    out.sort();
    out
}

/// The top-level module a source file belongs to (`src/process/follow.rs`: `process`).
fn module_of(path: &Path) -> String {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let rel = path.strip_prefix(&src).unwrap();
    let first = rel
        .components()
        .next()
        .unwrap()
        .as_os_str()
        .to_str()
        .unwrap();
    first.trim_end_matches(".rs").to_string()
}

fn layer(module: &str) -> u32 {
    LAYERS
        .iter()
        .find(|(m, _)| *m == module)
        .map(|(_, l)| *l)
        .unwrap_or_else(|| panic!("module `{module}` is not placed in a layer in tests/layers.rs"))
}

/// The code of `text` without comments (line comments, doc comments included).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            // A `//` inside a string literal ("http://...") is rare here; cut anyway.
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// The top-level modules `code` names through `crate::`.
fn uses(code: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in code.match_indices("crate::") {
        // `wms_crate::` or the like is not this crate.
        if code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            continue;
        }
        let rest = code[i + "crate::".len()..].trim_start();
        if let Some(group) = rest.strip_prefix('{') {
            // `crate::{a::X, b}`: each item at the top level of the braces.
            let mut depth = 0;
            let mut start = true;
            for (j, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c if start && !c.is_whitespace() => {
                        start = false;
                        let name = ident(&group[j..]);
                        if !name.is_empty() {
                            out.insert(name.to_string());
                        }
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name.to_string());
            }
        }
    }
    out
}

#[test]
fn modules_use_only_lower_layers_so_never_each_other_in_a_circle() {
    let mut wrong = Vec::new();
    for path in sources() {
        let from = module_of(&path);
        let text = std::fs::read_to_string(&path).unwrap();
        for to in uses(&code(&text)) {
            if to == from {
                continue;
            }
            // Items the crate root re-exports (`crate::Host`) are the engine's or config's.
            let to_module = match to.as_str() {
                "Host" | "PlannedAction" | "PlannedTarget" => "engine".to_string(),
                "Config" | "ConfigError" => "config".to_string(),
                _ => to,
            };
            if layer(&to_module) >= layer(&from) && to_module != from {
                wrong.push(format!(
                    "{} (`{from}`, layer {}) uses `{to_module}` (layer {})",
                    path.display(),
                    layer(&from),
                    layer(&to_module)
                ));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "modules must use only modules of lower layers:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn the_layer_check_sees_uses() {
    let c = code("use crate::process::{pin, Stat};\nuse crate::{sys, procfs::{self, x}};\n// crate::engine\nlet x = wms_crate::lock;");
    let got: Vec<String> = uses(&c).into_iter().collect();
    assert_eq!(got, ["process", "procfs", "sys"]);
    // A circle anywhere breaks the strict order: some edge points up or sideways.
    for (a, b) in [("close", "lock"), ("process", "close"), ("sys", "procfs")] {
        assert!(layer(b) >= layer(a), "{a} -> {b} would pass");
    }
}

#[test]
fn no_source_file_is_over_800_lines_of_non_test_code() {
    let mut long = Vec::new();
    for path in sources() {
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        // The unit tests are a `#[cfg(test)] mod tests` at the end of the file.
        let end = lines
            .windows(2)
            .position(|w| w[0].trim() == "#[cfg(test)]" && w[1].trim_start().starts_with("mod "))
            .unwrap_or(lines.len());
        if end > MAX_LINES {
            long.push(format!("{}: {end} lines", path.display()));
        }
    }
    assert!(
        long.is_empty(),
        "split these by what they hold:\n{}",
        long.join("\n")
    );
}
