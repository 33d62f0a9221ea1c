//! `database-failover`: promotes the safest read replica of a failed RDS primary, fails an Aurora cluster
//! over to its best reader, and never promotes twice. See [`handler`] for the invocation flow.
//!
//! # Layout
//! - [`config`]: the environment variables, parsed once per cold start.
//! - [`command`]: the manual command vocabulary.
//! - [`model`]: plain domain data (instances, clusters, decision records and their tag format).
//! - [`decide`]: the policy — pure functions from facts to a [`decide::Plan`], unit-tested per branch.
//! - [`ports`] and [`adapters`]: the narrow traits the handler acts through, and their SDK implementations.
//! - [`report`]: notifications (with next steps) and responses.
//! - [`handler`]: intake, decide, act and report.

pub mod adapters;
pub mod command;
pub mod config;
pub mod decide;
pub mod handler;
pub mod model;
pub mod ports;
pub mod report;

pub use config::Config;
pub use handler::{App, FUNCTION};
