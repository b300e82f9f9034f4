//! The Zoom side (SPEC §4): Server-to-Server OAuth token cache, the revoke call, and the
//! classification of Zoom's answers into outcomes the worker acts on.

pub mod client;
pub mod limiter;
pub mod outcome;
pub mod token;

pub use client::{CallReport, ZoomClient};
pub use limiter::Limiter;
pub use outcome::{Outcome, parse_retry_after};
