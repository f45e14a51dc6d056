//! The `wms` command line as a library: the Unix spelling (`cli`), the PowerShell-style
//! binder (`cmdlet`), the executor both feed (`exec`), and the pieces it uses. The binary
//! in `main.rs` is a thin shell over it; fuzz targets and tests reach the parsers here.
//! TLS trust in remote agents (pinning, CA) and the machine ID are in `wms-trust`, shared
//! with the agent.

pub mod agent_client;
pub mod cli;
pub mod cmdlet;
pub mod confirm;
mod debug_log;
pub mod exec;
pub mod output;
pub mod pipeline;
mod progress;
pub mod system_cmd;
pub mod systems;
