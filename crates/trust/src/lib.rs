//! How `wms` and `wmsd` know each other, in one place that both use: a certificate's
//! SHA-256 fingerprint ([`fingerprint`]), the client's TLS trust in an agent (a pinned
//! fingerprint, [`Pin`] and [`pinned_config`], or a CA, [`ca_config`]), and this host's
//! machine ID ([`machine_id`]), by which an agent recognises a caller on its own host.

#![forbid(unsafe_code)]

mod fingerprint;
mod machine;
mod pin;

pub use fingerprint::{fingerprint, same_fingerprint};
pub use machine::{machine_id, machine_id_from};
pub use pin::{ca_config, pinned_config, server_name, Pin, TrustError};
