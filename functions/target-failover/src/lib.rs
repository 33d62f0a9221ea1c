//! `target-failover`: see the crate's handler module for triggers, IAM actions, settings and idempotency.

pub mod config;
pub mod handler;

pub use config::Config;
pub use handler::{App, FUNCTION};
