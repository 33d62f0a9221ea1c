//! `target-failover`: takes failing targets out of opted-in ELB target groups, shifts a group's traffic to its
//! backup group when it can no longer serve, and fails back when it recovers. Settings: [`config`].
//!
//! # Layout: where an event goes
//! 1. [`handler`]: [`App::handle_with_context`] (the Lambda request id names the invocation in the ledger, its
//!    deadline sets the lease; [`App::handle`] without them) parses the payload ([`failover_core::intake`]),
//!    routes it, dispatches it, merges the notified reports into one notification per event ([`digest`]),
//!    and ends with [`failover_core::invoke::finish`] (log, publish, answer).
//! 2. [`route`] (pure): an alarm becomes the groups it names (`TargetGroup` dimensions) or every instance
//!    group (`InstanceId` only), its instances, and ALARM vs OK; a manual command ([`command`] parses it)
//!    becomes its action on its group. Re-evaluations, other accounts or regions ([`Home`]), database alarms
//!    and other events become skips.
//! 3. [`actions`]: the fan-out over groups and the plan's dispatch ([`actions`] `mod.rs`), then one file per
//!    action: [`actions::deregister`], [`actions::shift`], [`actions::failback`], [`actions::restore`],
//!    [`actions::reinstate`] (targets back on the OK of the alarm that removed them), [`actions::replace`]
//!    (removed instances handed to their Auto Scaling group), [`actions::status`],
//!    [`actions::transitions`] (stale events). Each gathers its facts through [`ports::LoadBalancer`], decides
//!    through [`decide`], acts, and writes its reports ([`report`] holds the shared texts and action names). The
//!    changing ones follow the incident ledger's protocol per group ([`actions::ledger`] over
//!    [`failover_core::ledger::Ledger`]); `pause` and `resume` are [`failover_core::pause`]'s.
//! 4. [`decide`] (pure): the guardrail, the plans, what a shift or failback changes and what that comes to.
//!    [`model`]: the domain types; no SDK type appears in `model`, `decide`, `actions` or `report`.
//! 5. [`adapters`]: the SDK implementation of the port.
//!
//! A new action is a new file in `actions/`, a [`decide::Plan`] variant or command, and an arm in the
//! dispatch. A new setting is declared in [`config`].
//!
//! # Zones
//! A per-zone load balancer alarm (`LoadBalancer` and `AvailabilityZone` dimensions, [`route::ZonalAlarm`]) and
//! the `evacuate-zone`/`return-zone` commands act on a load balancer's zones instead of a group's targets
//! ([`actions::zonal::evacuate`], [`actions::zonal`]; policy in [`decide::zonal`]): the load balancer's opt-in tag,
//! `GetManagedResource` (registered with ARC, its shifts), `DescribeAvailabilityZones` (names to AZ IDs), then
//! `DescribeTargetGroups` of the load balancer, `DescribeTags`, per opted-in group `DescribeTargetHealth` and
//! `DescribeTargetGroupAttributes`, and one `DescribeInstances` (instance zones); then `StartZonalShift` inside one
//! `begin`/`end` on the ledger resource `load-balancer:<ARN>` (records `zonal-shift#<time>-<invocation>` and
//! `deferred#<shift>`). At most one shift per load balancer, never the last healthy zone nor below a group's floor;
//! a shift someone else started is deferred to and never cancelled; a group that loses no healthy target with the
//! zone (empty, idle) does not block it. The OK cancels the shifts of that zone its own alarm started
//! (`CancelZonalShift` each); `return-zone` all of this function's.
//!
//! # Invariants
//! - A removal leaves at least `max(floor, 1)` healthy targets, the floor coming from the incident's baseline
//!   while a removal is open and raised by the group's own health thresholds; whether a group can serve (shift,
//!   failback) is its present health with the configured floor, never the baseline; a group that cannot serve
//!   loses none; `initial` targets are neither failing nor serving, but count in the baseline (see [`decide`]).
//! - Only resources tagged with the opt-in key and exactly `true` ([`failover_core::tags::opted_in`]) are
//!   changed: target groups, and the listeners and rules a shift or failback modifies (IAM allows
//!   `ModifyListener` / `ModifyRule` only on those). A shift with no such action is refused.
//! - Weights stay within 0–999; a shift moves only the failing group's share; a failback moves back only that
//!   group's share (a group still failing stays at 0, people's edits stay), or leaves the action to a person.
//!   The groups of one event are acted on at once, but their shifts and failbacks read and write the listener
//!   actions one at a time ([`actions::Context::listeners`]): groups sharing an action both move their share.
//!
//! # Idempotency and retries
//! What the function remembers lives in the incident ledger (one DynamoDB table, `LEDGER_TABLE`), never in tags: it
//! reads tags only for configuration (opt-in, backup group). Each group is a ledger resource, `target-group:<ARN>`,
//! with records `shift#<listener-id>[/<rule-id>]` (an action's weights before and after a shift, and the backup)
//! and `removal#<invocation>` (the targets one removal took out: id, port, zone; what was handed to Auto Scaling
//! (`replacement`: handed, left, owed); the trigger, the group's
//! registered count before, and the incident's capacity `baseline`: the registered count, `initial` targets
//! included, when the first of the open removals began; while any is open the floor of a removal comes from it). A change on a group reads the ledger (waiting up to
//! [`actions::ledger::HELD_TRIES`] × [`actions::ledger::HELD_WAIT`] while another invocation holds it), then the
//! AWS facts, decides, and `begin`s: the group's lease, plus its pending records, each written only if its key is
//! free. Another invocation got there first (busy, or the ledger changed since the read): it starts over on fresh
//! facts, at most [`actions::ledger::BEGIN_TRIES`] times, then gives up with a retryable error and no notification.
//! Paused: refused and notified, nothing changed (a manual command's `"force": true` acts). After the change, `end`
//! settles the records (done; abandoned for the part not made), closes those the change undid (a failback closes
//! its shift records; a restore, or the OK of the alarm that made them, the targets' removal records) and releases
//! the lease. So two invocations never act on one group at once, and the same event again changes nothing more:
//! deregistered targets are no longer there to remove, an action at weight 0 with a live shift record is already
//! shifted (and its weights before are never overwritten by shifted ones), a failback finds no open shift record.
//! An interrupted run (a timeout, an `end` that failed) leaves pending records; the retry finds the change made in
//! the AWS facts and settles them (an action already at weight 0, a target no longer registered), once. Each alarm
//! is a ledger resource too, `alarm:<ARN>`, with one record `transition`: the state timestamp (milliseconds) and
//! state of the last transition handled, written after its notification is published, for every event checked
//! (one that only skipped, and a paused run, included; incomplete when Lambda will retry it); a retried or
//! re-delivered event no later than it changes nothing and notifies nothing. A notification that could not be
//! published leaves the transition incomplete and fails the invocation: the retry publishes what it owes. A change's records carry the
//! event's timestamp (`event_at`): when a run dies between a change and its notification, the retry (once the
//! alarm's lease has run out) finds them done and publishes the owed notification, once ([`actions::owed`]).
//! A dry run reads the ledger and writes nothing. An invocation returns an error only when an AWS call (ledger
//! included) failed in a way a retry can fix (throttling, 5xx, timeouts), after the SDK's own retries
//! and after publishing a failure notification; Lambda then retries the event. A failed `begin` changes nothing; a
//! failed `end` after a change errs after the notification. A refusal is notified again when its alarm changes
//! state again (a later transition); the same event again is stale.
//!
//! # Calls per invocation
//! An alarm event with a state timestamp first reads its alarm's ledger (`alarm:<ARN>`, one `Query`): an event
//! whose state change is no later than the last one handled stops there, a logged skip
//! ([`actions::transitions`]); otherwise it holds the alarm's lease (one `TransactWriteItems`) until its
//! notification is out, then records the transition and releases it (one more). Tags: one `DescribeTags` per 20 groups
//! (a group not opted in costs nothing more). Per opted-in group involved: one ledger `Query` (again after each
//! wait or start-over), one `DescribeTargetHealth` (also for a backup group before traffic moves to it); a change
//! adds two `TransactWriteItems` (`begin` and `end`) around at most one `DeregisterTargets` / `RegisterTargets`, or
//! one `ModifyListener`/`ModifyRule` per opted-in action. A planned removal first reads the group's
//! `target_group_health` thresholds (one `DescribeTargetGroupAttributes`, only then: they may raise the floor),
//! then its zonal facts ([`actions::zonal::zone_watch`]): `DescribeTargetGroups` (its load balancers) and one
//! `GetManagedResource` per load balancer; only when one of them is registered with ARC and has a shift applied,
//! or when enough targets failed or were removed within the window for signal 2, one `DescribeAvailabilityZones`
//! (only with a shift applied) and one `DescribeInstances`; a zonal failure then evacuates the zone per load
//! balancer ([`actions::zonal::evacuate`]'s calls), and a removal spared some targets plans again (one more
//! `DescribeTargetGroupAttributes`). A denied or unavailable zonal read costs nothing more. A
//! shift or failback adds `DescribeTargetGroups`, `DescribeListeners` per load balancer, `DescribeRules` per
//! listener, one `DescribeTags` per 20 listeners and rules forwarding to the group (their opt-in; none when nothing
//! forwards to it). A refused shift stops after that `DescribeTags`. An OK alarm on a group with no open shift
//! record and no open removal by that alarm stops after the ledger `Query`; one with removals by it registers their
//! targets again (`RESTORE=auto`: one `RegisterTargets`, then one per target when AWS refuses the batch for a
//! target that no longer exists) inside one `begin`/`end`. `status` reads the ledger (`Query`) and the pause
//! (`GetItem`), and, for a group with a backup or open shift records, its listeners, rules and their tags the same
//! way; `pause` is one `PutItem`, `resume` one `GetItem` and one `DeleteItem`. An instance alarm first lists the
//! target groups (`DescribeTargetGroups`, paginated). Groups are handled [`actions::MAX_CONCURRENT_GROUPS`] at a
//! time. However many groups an event touches, it publishes one notification ([`digest`]).
//! With `REPLACE_INSTANCES=true`, a removal of instance targets (not a dry run) adds, inside its `begin`/`end`,
//! one `DescribeAutoScalingInstances` per 50 instances, one Auto Scaling `DescribeTags` per 50 groups found (none
//! when no instance is in a group), and, only when some instance is then to be marked, one `DescribeTargetGroups`
//! (paginated: every instance-type group) and one `DescribeTargetHealth` per other such group (an instance still
//! in service in one of them is left, not marked), then one `SetInstanceHealth` per instance of a group with the
//! opt-in tag ([`actions::replace`]); the retry of an event whose replacement failed makes those calls for the instances
//! owed, in one more `begin`/`end`; while a removal whose instances were all handed over is open, each event on
//! its group first makes one `DescribeAutoScalingInstances` and closes it (one `begin`/`end`) once they are gone. A network load
//! balancer's listener forwards to one target group: a shift points it at the backup (no weights), and its
//! failback finds it among the backup's actions (the same reads again for the backup) and points it back.
//! `readiness` (read-only, no ledger call) lists every
//! group (`DescribeTargetGroups`), reads their tags (one `DescribeTags` per 20), and per opted-in group its
//! health, its backup group's tags and health, its listeners and rules as a shift does, and its attributes
//! (`DescribeTargetGroupAttributes`); see [`actions::readiness`].

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
