//! The `wms` command line as a library, in two steps: the Unix spelling (`cli`) and the
//! PowerShell-style binder (`cmdlet`) both give a `plan::Request`, which `plan::resolve`
//! turns into a validated `plan::Plan` that the executor (`exec`) carries out. The binary
//! in `main.rs` is a thin shell over it; fuzz targets and tests reach the parsers here.
//! TLS trust in remote agents (pinning, CA) and the machine ID are in `wms-trust`, shared
//! with the agent.

pub mod agent_client;
pub mod cli;
pub mod cmdlet;
pub mod confirm;
pub mod dashboard;
mod debug_log;
pub mod exec;
pub mod filter;
pub mod output;
pub mod pipeline;
pub mod plan;
mod progress;
pub mod system_cmd;
pub mod systems;
pub mod view;
pub mod watch;
