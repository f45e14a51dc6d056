//! The pure core of wms: the session model, the authorization rules of SPEC section 5,
//! per-target outcomes and the what-if/confirm plan. No I/O and no `unsafe` here; the
//! host backend and the front ends supply facts and carry out the plan.
#![forbid(unsafe_code)]

pub mod api;
pub mod authz;
pub mod message;
pub mod model;
pub mod outcome;
pub mod plan;
pub mod thumbnail;
pub mod time;

pub use authz::{authorize, Caller, Decision, DenyReason, Role};
pub use model::{
    Pid, Session, SessionClass, SessionId, SessionSource, SessionState, SessionType, Uid, Verb,
};
pub use outcome::{Outcome, TargetResult};
pub use plan::{plan, unique_ids, Selection, Step};
pub use thumbnail::ThumbnailSize;
