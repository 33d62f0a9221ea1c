//! `target-failover`: takes failing targets out of opted-in ELB target groups, shifts a group's traffic to its
//! backup group when it can no longer serve, and fails back when it recovers.
//!
//! # Triggers
//! - A CloudWatch alarm state change, by any of the three delivery paths (EventBridge rule, SNS topic, direct
//!   Lambda alarm action). The alarm's metric dimensions say what it concerns:
//!   - `TargetGroup=targetgroup/<name>/<id>`: that group; the candidates are the targets
//!     `DescribeTargetHealth` reports `unhealthy`.
//!   - `InstanceId=i-...` (and no `TargetGroup`): that instance in every opted-in instance target group of the
//!     account and region where it is registered, whatever its health check says (gray failure).
//!   - Both: those instances in those groups.
//!   - `DBInstanceIdentifier` / `DBClusterIdentifier` only: database-failover's, skipped quietly.
//!
//!   A change *into* ALARM acts; OK only fails back; anything else (ALARM → ALARM re-evaluations,
//!   INSUFFICIENT_DATA) is skipped. An alarm of another account or region than the function's is skipped.
//! - A manual command (`sam remote invoke`, `aws lambda invoke`, `cargo lambda invoke`), see below.
//!
//! # What it does
//! The policy lives in [`decide`] (its module doc states the guardrail precisely). In short: never fewer
//! healthy targets than `max(MIN_HEALTHY_TARGETS, ceil(MIN_HEALTHY_PERCENT% of registered))` and never none;
//! a group below that floor keeps its targets and, when tagged `failover:backup-target-group=<ARN>`, has its
//! traffic moved to that group in every listener default action and rule that forwards to it. The previous
//! weights are saved as tags `failover:saved-weights:<listener-id>[/<rule-id>]` on the failing group, and
//! restored when its alarm returns to OK and it is healthy above the floor (`FAILBACK=auto`), or announced for a
//! person to restore (`FAILBACK=manual`). Every change, refusal and failure is published to the notification
//! topic with the numbers behind it and next steps; skips are only logged.
//!
//! # Listeners and rules must opt in too
//! IAM lets `ModifyListener` / `ModifyRule` change only a listener or rule that itself carries the opt-in tag,
//! so before a shift or a failback the function reads the tags of every listener and rule it would modify and
//! leaves out those without `<OPT_IN_TAG_KEY>=true` (they are not changed, and no weights are saved for them):
//! - none of them opted in: the shift is **refused** (`refused`, critical): nothing changes, no saved-weights tag
//!   is written, and the notification names each listener and rule with the command that opts it in,
//!   `aws elbv2 add-tags --resource-arns <arn> --tags Key=<key>,Value=true`;
//! - some opted in: those are shifted and the notification stays one `succeeded` / critical "traffic partly
//!   shifted" (a change was made, and the traffic left behind still goes to a group that cannot serve), whose
//!   summary and `details.not_opted_in` name the ones left out and why, with the add-tags command and the manual
//!   `shift` to send afterwards to move the rest (the shifted actions are recognised as already shifted);
//! - failback restores only what was saved (saved weights exist only for opted-in actions); a saved action whose
//!   listener or rule lost the tag since is not restored, its saved weights are kept, and a `refused` / warning
//!   notification says which and how to opt it in.
//!
//! A dry run reports the same plan, and `status` lists the listener actions forwarding to the group with their
//! opt-in (`details.listener_actions`, `details.not_opted_in`) and what an alarm would do.
//!
//! # Manual commands
//! ```json
//! {"command": "status",     "target_group_arn": "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/73e2d6bc24d8a067"}
//! {"command": "deregister", "target_group_arn": "...", "targets": ["i-0abc1234def567890", {"id": "10.0.1.7", "port": 8080}]}
//! {"command": "restore",    "target_group_arn": "...", "targets": [{"id": "i-0abc1234def567890", "port": 80}]}
//! {"command": "shift",      "target_group_arn": "...", "dry_run": true}
//! {"command": "failback",   "target_group_arn": "...", "force": false}
//! ```
//! - `status`: health, floor, backup, saved weights, the listener actions forwarding to the group and their
//!   opt-in (when it has a backup or saved weights), and what an alarm now would do; changes nothing.
//! - `deregister`: removes the targets within the guardrail, as an instance alarm would.
//! - `restore`: registers the targets again (after a repair; also undoes a `deregister`).
//! - `shift`: moves the traffic to the backup group now, whatever the group's health (opt-in and tag needed).
//! - `failback`: restores the saved weights now; refused while the group is below its floor unless `force`.
//!
//! Every command takes `dry_run` (overrides `DRY_RUN`). Samples: `events/manual-target-*.json`. An invalid
//! command is an error of type `InvalidCommand`.
//!
//! # Environment variables
//! `NOTIFICATION_TOPIC_ARN` (required; its account and partition are taken as the function's own),
//! `DRY_RUN` (default `false`), `OPT_IN_TAG_KEY` (default `failover:enabled`; a group opts in with the value
//! `true`), `NOTIFICATION_FORMAT` (`json` or `chatbot`), `MIN_HEALTHY_TARGETS` (default 1),
//! `MIN_HEALTHY_PERCENT` (default 50), `FAILBACK` (`auto` or `manual`, default `auto`). See [`config`].
//!
//! # IAM actions
//! Read: `elasticloadbalancing:DescribeTags` (target groups, listeners, rules), `DescribeTargetHealth`, `DescribeTargetGroups`,
//! `DescribeListeners`, `DescribeRules`. Change: `DeregisterTargets`, `RegisterTargets` (on opted-in groups),
//! `ModifyListener`, `ModifyRule` (the opted-in listeners and rules forwarding to a failing group), `AddTags` and
//! `RemoveTags` (the `failover:saved-weights:*` tags on opted-in groups). Publish: `sns:Publish` on the topic.
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
//! `DescribeTags` per 20 listeners and rules forwarding to the group (their opt-in; listeners and rules share a
//! call, and none is made when nothing forwards to it), one `AddTags` or `RemoveTags`, and one
//! `ModifyListener`/`ModifyRule` per opted-in action. A refused shift stops after that `DescribeTags`. The group's
//! own tags cannot share that call: they are read first, to know whether there is anything to shift at all.
//! `status` of a group with a backup or saved weights reads its listeners, rules and their tags the same way.
//! So a typical shift (one listener and one rule) costs 2 `DescribeTags`, 2 `DescribeTargetHealth`,
//! `DescribeTargetGroups`, `DescribeListeners`, `DescribeRules`, `AddTags`, `ModifyListener`, `ModifyRule`.
//! An instance alarm first lists the target groups (`DescribeTargetGroups`, paginated). Groups are handled
//! [`handler::MAX_CONCURRENT_GROUPS`] at a time.
//!
//! # Layout
//! - [`config`]: settings. [`commands`]: the manual command vocabulary (parsing).
//! - [`model`]: targets, health, forward actions, saved weights. [`decide`]: the policy, pure.
//! - [`elb`]: the [`elb::LoadBalancer`] port and its SDK adapter. [`report`]: outcomes to notifications.
//! - [`handler`]: the invocation, wiring the above.

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
