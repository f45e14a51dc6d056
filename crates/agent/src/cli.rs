//! The command line of `wmsd` as clap definitions: the binary parses with them, and the
//! man page and shell completions are generated from the same definitions (`wms-dist`).

use crate::tokens::TokenRole;
use clap::{Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "wmsd",
    version,
    about = "The wms agent: serves this host's login sessions to wms."
)]
pub struct Args {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the API (what wmsd does with no subcommand).
    Serve,
    /// Make, list and revoke the bearer tokens of remote callers.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Check the configuration (/etc/wms/wms.toml or $WMS_CONFIG) without serving: prints
    /// what the agent would use, or the error naming the bad line.
    CheckConfig,
    /// Print the SHA-256 fingerprint of the certificate the agent serves, for clients to
    /// pin (making the self-signed certificate first if there is none yet).
    Fingerprint,
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it, this once only: only its hash is kept.
    Create {
        /// The token's name, as listings and audit records show it.
        #[arg(long)]
        name: String,
        /// What its holder may do: act on any session (admin), or on sessions of
        /// non-administrators (operator).
        #[arg(long, value_enum)]
        role: RoleArg,
    },
    /// List the tokens: name, role, when made, whether revoked (never the tokens).
    List,
    /// Revoke a token: the agent refuses it from the next request on.
    Revoke {
        /// The token's name.
        name: String,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum RoleArg {
    Admin,
    Operator,
}

impl From<RoleArg> for TokenRole {
    fn from(r: RoleArg) -> TokenRole {
        match r {
            RoleArg::Admin => TokenRole::Admin,
            RoleArg::Operator => TokenRole::Operator,
        }
    }
}
