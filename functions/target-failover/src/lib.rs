//! `target-failover`: takes failing targets out of opted-in ELB target groups, shifts a group's traffic to its
//! backup group when it can no longer serve, fails back when it recovers, and moves a load balancer away from a
//! failing Availability Zone with ARC zonal shift. Where an event goes is in ARCHITECTURE.md; the AWS and ledger
//! calls of each action are in its file's doc. Settings: [`config`].
//!
//! # Layout
//! - [`handler`]: the [`App`]: one invocation, from the payload to the one notification and the answer.
//! - [`route`] (pure): an alarm to the groups (or load balancer zone) it concerns, a command ([`command`] parses
//!   it) to its action, anything else to a skip; [`Home`] is the account and region that are ours.
//! - [`actions`]: one file per action ([`actions::alarm`] fans out, [`actions::manual`] runs commands,
//!   [`actions::plan`] dispatches a plan); [`actions::zonal`]: a load balancer's zones.
//! - [`decide`] (pure): the guardrail, the plans, what a shift or failback changes and what that comes to.
//! - [`digest`]: one notification per event, however many groups it touched.
//! - [`report`]: the texts and action names the actions share.
//! - [`model`]: the domain types, no SDK type; [`ports`]: what the actions ask of AWS; [`adapters`]: the SDK.
//!
//! # Invariants
//! - Serving means serving traffic: healthy in a zone no applied ARC shift (nor ELB's `zonal_shift_active`
//!   override) takes traffic away from ([`decide::traffic`]). A removal leaves at least `max(floor, 1)` serving
//!   targets, the floor coming from the incident's baseline while a removal is open and raised by the group's
//!   own health thresholds, and never the last serving target of a zone that takes traffic; whether a group can
//!   serve (shift, failback) is its present health with the configured floor, never the baseline; a group that
//!   cannot serve loses none; `initial` targets are neither failing nor serving, but count in the baseline
//!   ([`decide`]).
//! - Only resources tagged with the opt-in key and exactly `true` ([`failover_core::tags::opted_in`]) are
//!   changed: target groups, load balancers (zonal shift), and the listeners and rules a shift or failback
//!   modifies (IAM allows `ModifyListener` / `ModifyRule` only on those). A shift with no such action is refused.
//! - Weights stay within 0–999; a shift moves only the failing group's share; a failback moves back only that
//!   share (people's edits stay), or leaves the action to a person. Shifts and failbacks of one event read and
//!   write listener actions one at a time ([`actions::Context::listeners`]).
//! - At most one zonal shift per load balancer, never away from the last healthy zone nor below a group's
//!   floor; a shift someone else started is deferred to and never cancelled.
//! - State lives in the ledger (`LEDGER_TABLE`), never in tags; every change runs inside the one attempt loop
//!   ([`failover_core::ledger::Session::attempt`]) with its records pending before it and settled after, so the
//!   same event again changes nothing more and a retry completes an interrupted run ([`actions::ledger`]).
//! - An alarm's transition is recorded only once its notification is out: a retry publishes what an
//!   interrupted run owed, once ([`actions::transitions`], [`actions::owed`]).
//! - `Err` only for a fault a retry can fix ([`failover_core::fault::Fault`]), after the failure notification;
//!   for an ARC Region switch step also a refusal, a failure or nothing done ([`failover_core::step`]).

pub mod actions;
pub mod adapters;
pub mod command;
pub mod config;
pub mod decide;
pub mod digest;
pub mod handler;
pub mod model;
pub mod ports;
pub mod report;
pub mod route;

pub use config::Config;
pub use handler::App;
pub use route::Home;

/// The function's name, as reports and responses carry it.
pub const FUNCTION: &str = "target-failover";
