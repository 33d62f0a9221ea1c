//! `target-failover`: takes failing targets out of opted-in ELB target groups, shifts a group's traffic to its
//! backup group when it can no longer serve, and fails back when it recovers. Settings: [`config`].
//!
//! # Layout: where an event goes
//! 1. [`handler`]: [`App::handle`] parses the payload ([`failover_core::intake`]), routes it, dispatches it,
//!    and ends with [`failover_core::invoke::finish`] (log, publish, answer).
//! 2. [`route`] (pure): an alarm becomes the groups it names (`TargetGroup` dimensions) or every instance
//!    group (`InstanceId` only), its instances, and ALARM vs OK; a manual command ([`command`] parses it)
//!    becomes its action on its group. Re-evaluations, other accounts or regions ([`Home`]), database alarms
//!    and other events become skips.
//! 3. [`actions`]: the fan-out over groups and the plan's dispatch ([`actions`] `mod.rs`), then one file per
//!    action: [`actions::deregister`], [`actions::shift`], [`actions::failback`], [`actions::restore`],
//!    [`actions::status`]. Each gathers its facts through [`ports::LoadBalancer`], decides through
//!    [`decide`], acts, and writes its reports ([`report`] holds the shared texts and action names).
//! 4. [`decide`] (pure): the guardrail, the plans, what a shift or failback changes and what that comes to.
//!    [`model`]: the domain types; no SDK type appears in `model`, `decide`, `actions` or `report`.
//! 5. [`adapters`]: the SDK implementation of the port.
//!
//! A new action is a new file in `actions/`, a [`decide::Plan`] variant or command, and an arm in the
//! dispatch. A new setting is declared in [`config`].
//!
//! # Invariants
//! - A group keeps at least `max(floor, 1)` healthy targets; a group that cannot serve loses none (see
//!   [`decide`]).
//! - Only resources tagged with the opt-in key and exactly `true` ([`failover_core::tags::opted_in`]) are
//!   changed: target groups, and the listeners and rules a shift or failback modifies (IAM allows
//!   `ModifyListener` / `ModifyRule` only on those). A shift with no such action is refused.
//! - Weights stay within 0–999; a shift moves only the failing group's share; a failback restores the saved
//!   weights exactly, or leaves the action to a person.
//!
//! # Idempotency and retries
//! Every decision starts from the current state, so the same event again changes nothing more: deregistered
//! targets are no longer there to remove, an action already shifted (failing group at weight 0 with saved
//! weights) is left alone and saved weights are never overwritten by shifted ones, and a failback finds no
//! saved weights. Weights are saved *before* a shift and removed *after* a failback, so an interrupted run
//! completes on the next. An invocation returns an error only when an AWS call failed in a way a retry can
//! fix (throttling, 5xx, timeouts), after the SDK's own retries and after publishing a failure notification;
//! Lambda then retries the event. A refusal is notified again when its event repeats.
//!
//! # Calls per invocation
//! Tags: one `DescribeTags` per 20 groups. Per group involved: one `DescribeTargetHealth` (also for a backup
//! group before traffic moves to it), at most one `DeregisterTargets`; a shift or failback adds
//! `DescribeTargetGroups`, `DescribeListeners` per load balancer, `DescribeRules` per listener, one
//! `DescribeTags` per 20 listeners and rules forwarding to the group (their opt-in; none when nothing forwards
//! to it), one `AddTags` or `RemoveTags`, and one `ModifyListener`/`ModifyRule` per opted-in action. A
//! refused shift stops after that `DescribeTags`. The group's own tags are read first, to know whether there is
//! anything to do at all. `status` of a group with a backup or saved weights reads its listeners, rules and
//! their tags the same way. An instance alarm first lists the target groups (`DescribeTargetGroups`,
//! paginated). Groups are handled [`actions::MAX_CONCURRENT_GROUPS`] at a time.

pub mod actions;
pub mod adapters;
pub mod command;
pub mod config;
pub mod decide;
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
