//! The generated man pages render with `man` without a warning, and the generated
//! completions load in bash (with bash-completion), zsh and fish and complete the real
//! subcommands, for both binaries.

mod common;
use common::{run, text};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The pages and completions, generated once into a fresh directory.
fn generated() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("wms-dist-docs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = Command::new(env!("CARGO_BIN_EXE_wms-dist"))
            .arg(&dir)
            .output()
            .expect("run wms-dist");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        dir
    })
}

/// `man --warnings -l PAGE`, rendered 80 columns wide.
fn render(page: &str) -> (String, String) {
    let out = run(Command::new("man")
        .args(["--warnings", "-l"])
        .arg(generated().join("man").join(page))
        .env("MANWIDTH", "80")
        .env("MANPAGER", "cat")
        .env("LC_ALL", "C.UTF-8"));
    (text(&out.stdout), text(&out.stderr))
}

#[test]
fn both_man_pages_render_without_warnings() {
    for (page, must) in [
        (
            "wms.1",
            &["NAME", "SYNOPSIS", "wms-session(1)", "Close-WmsSession"][..],
        ),
        (
            "wmsd.1",
            &["NAME", "SYNOPSIS", "wmsd-token(1)", "wmsd-check-config(1)"],
        ),
        (
            "wms-session-list.1",
            &["--user", "--state", "--idle", "wide"],
        ),
        ("wms-session-close.1", &["--what-if", "--all"]),
        ("wms-dashboard.1", &["--hosts-file", "--port", "127.0.0.1"]),
    ] {
        let (out, warnings) = render(page);
        assert_eq!(warnings, "", "{page}: groff warned");
        for m in must {
            assert!(out.contains(m), "{page} lacks {m:?}:\n{out}");
        }
        for l in out.lines() {
            assert!(
                l.chars().count() <= 80,
                "{page}: a line over 80 columns: {l}"
            );
        }
    }
}

#[test]
fn every_subcommand_has_its_page() {
    let names: Vec<String> = std::fs::read_dir(generated().join("man"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    for page in [
        "wms.1",
        "wms-session.1",
        "wms-session-list.1",
        "wms-session-close.1",
        "wms-session-disconnect.1",
        "wms-session-lock.1",
        "wms-session-unlock.1",
        "wms-session-message.1",
        "wms-session-thumbnail.1",
        "wms-session-watch.1",
        "wms-dashboard.1",
        "wms-system-add.1",
        "wmsd.1",
        "wmsd-serve.1",
        "wmsd-token-create.1",
        "wmsd-fingerprint.1",
        "wmsd-check-config.1",
    ] {
        assert!(names.iter().any(|n| n == page), "no {page} in {names:?}");
    }
}

fn completion(name: &str) -> String {
    generated()
        .join("completions")
        .join(name)
        .display()
        .to_string()
}

/// What bash completes for `words` (the last one being typed), with bash-completion
/// loaded as an interactive shell has it.
fn bash_complete(script: &str, words: &[&str]) -> String {
    let line = words.join(" ");
    let program = format!(
        "set -e; source /usr/share/bash-completion/bash_completion; source {script}; \
         COMP_WORDS=({line}); COMP_CWORD={}; COMP_LINE='{line}'; COMP_POINT=${{#COMP_LINE}}; \
         $(complete -p {} | sed -E 's/.*-F ([^ ]+) .*/\\1/') {} '{}' '{}'; \
         printf '%s\\n' \"${{COMPREPLY[@]}}\"",
        words.len() - 1,
        words[0],
        words[0],
        words[words.len() - 1],
        words[words.len().saturating_sub(2)],
    );
    let out = run(Command::new("bash").args(["--norc", "--noprofile", "-c", &program]));
    assert_eq!(
        text(&out.stderr),
        "",
        "bash printed errors loading {script}"
    );
    text(&out.stdout)
}

#[test]
fn bash_completion_loads_and_completes() {
    let out = bash_complete(&completion("wms.bash"), &["wms", "session", "cl"]);
    assert_eq!(out.trim(), "close", "{out}");
    let out = bash_complete(&completion("wms.bash"), &["wms", "session", "list", "--st"]);
    assert!(out.contains("--state"), "{out}");
    let out = bash_complete(&completion("wms.bash"), &["wms", "Close-"]);
    assert_eq!(out.trim(), "Close-WmsSession", "{out}");
    let out = bash_complete(&completion("wmsd.bash"), &["wmsd", "to"]);
    assert_eq!(out.trim(), "token", "{out}");
}

#[test]
fn zsh_completion_loads() {
    for (file, name) in [("_wms", "wms"), ("_wmsd", "wmsd")] {
        let dir = generated().join("completions");
        let program = format!(
            "autoload -Uz compinit && compinit -u -D && fpath=({} $fpath) && \
             source {} && print -r -- ${{_comps[{name}]}}",
            dir.display(),
            completion(file)
        );
        let out = run(Command::new("zsh").args(["-f", "-c", &program]));
        assert_eq!(text(&out.stderr), "", "zsh printed errors loading {file}");
        assert_eq!(text(&out.stdout).trim(), format!("_{name}"), "{file}");
    }
}

#[test]
fn fish_completion_loads_and_completes() {
    for (file, line, expected) in [
        ("wms.fish", "wms session cl", "close"),
        ("wms.fish", "wms session list --sta", "--state"),
        ("wmsd.fish", "wmsd to", "token"),
    ] {
        let program = format!("source {}; complete -C '{line}'", completion(file));
        let out = run(Command::new("fish").args(["--no-config", "-c", &program]));
        assert_eq!(text(&out.stderr), "", "fish printed errors loading {file}");
        let words: Vec<&str> = text(&out.stdout)
            .lines()
            .map(|l| l.split('\t').next().unwrap_or_default().to_string())
            .map(|w| Box::leak(w.into_boxed_str()) as &str)
            .collect();
        assert!(words.contains(&expected), "{line}: {words:?}");
    }
}
