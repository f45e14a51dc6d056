//! The Linux host backend of wms: discovers the host's real login sessions (kernel audit
//! sessions) from `/proc`, resolves users, groups and host names, reads the configuration,
//! and carries out operations on sessions.
//!
//! The front door is [`Host`] (in `engine`): what the CLI and the agent call. Behind it the
//! modules are layered, each using only those below it (a test, `tests/layers.rs`, keeps
//! it so):
//!
//! - `engine`: [`Host`], the caller, planning and carrying out actions, outcomes;
//! - `discover` (where sessions are found), and the actions, one file each: `close`
//!   (where a session is killed), `disconnect`, `lock` (lock and unlock), `message` (a
//!   message to a terminal session); [`desktop`] (a session's X server and its
//!   credentials, for what is done to desktops);
//! - [`table`]: the live session table, kept current from the kernel's process events;
//! - [`process`]: scanning, pinning and following the processes of sessions, and which
//!   of them are connection processes;
//! - `identity`, [`peer`], `logins`: users, groups, roles, host names, the agent's
//!   callers, what was learned of each login while its leader lived;
//! - `procfs`, [`config`], [`logind`]: the `/proc` readers and parsers, the
//!   configuration, systemd-logind's sessions over D-Bus;
//! - `sys`: every raw system call.

mod close;
pub mod config;
pub mod desktop;
pub mod desktop_message;
mod disconnect;
pub mod discover;
mod engine;
pub mod fsutil;
pub mod identity;
pub mod lock;
pub mod logind;
mod logins;
mod message;
pub mod peer;
pub mod process;
mod procfs;
mod screen_text;
// The one place of the product where `unsafe` is allowed (the workspace denies it):
// every raw system call, each unsafe block with its `// SAFETY:` line.
#[allow(unsafe_code)]
mod sys;
pub mod table;
mod xrdp;
mod xwin;

/// Runs the hidden subcommand the wms binaries start themselves as (the desktop
/// locker, the message window), when `args` name one; `None` otherwise. Called first
/// thing in `main`.
pub fn hidden_subcommand(args: &[String]) -> Option<std::process::ExitCode> {
    match args.get(1).map(String::as_str) {
        Some(lock::desktop::SUBCOMMAND) => Some(lock::locker_main(&args[2..])),
        Some(desktop_message::SUBCOMMAND) => Some(desktop_message::main(&args[2..])),
        _ => None,
    }
}

pub use config::{Config, ConfigError, MetricsReaders, SourceMode};
pub use engine::{Host, PlannedAction, PlannedTarget};
/// This boot's random ID (state of another boot means nothing in this one).
pub use procfs::boot_id;
pub use sys::compact_allocator;

/// The pure parsers of untrusted input, for the fuzz targets (`fuzz/`) only: not an API.
#[doc(hidden)]
pub mod fuzzing {
    pub use crate::procfs::{
        environ_value, parse_env_range, parse_stat, parse_u32, tty_major_minor, tty_name,
        vt_number, Stat,
    };
}
