//! The Linux host backend of wms: discovers the host's real login sessions (kernel audit
//! sessions) from `/proc`, resolves users, groups and host names, reads the configuration,
//! and carries out operations on sessions. `discover` is where sessions are found,
//! `close` is where a session is killed, `sys` holds every raw system call.

pub mod close;
pub mod config;
pub mod disconnect;
pub mod discover;
pub mod fsutil;
pub mod identity;
pub mod lock;
pub mod peer;
pub mod procfs;
// The one place of the product where `unsafe` is allowed (the workspace denies it):
// every raw system call, each unsafe block with its `// SAFETY:` line.
#[allow(unsafe_code)]
mod sys;
pub mod table;

pub use config::{Config, ConfigError, MetricsReaders};
pub use discover::{Host, PlannedAction, PlannedTarget};
