//! The invocation handler: intake ([`failover_core::intake`]), decide ([`crate::decide`]), act through the
//! [`LoadBalancer`] port, and report through the [`Notifier`] port.
//!
//! One invocation concerns one or more target groups; each is decided and acted on independently, at most
//! [`MAX_CONCURRENT_GROUPS`] at a time, and produces one or two [`Report`]s (a change and a refusal can go
//! together). Every report but a skip is published; then the invocation returns an error if, and only if,
//! some AWS call failed in a way a retry could fix.

use failover_core::intake::{self, split_arn, AlarmChange, AlarmState, Event, ManualCommand};
use failover_core::invoke::InvokeError;
use failover_core::notify::{Notifier, Severity, SnsNotifier};
use failover_core::outcome::Outcome as Status;
use failover_core::response::Response;
use futures::stream::{self, StreamExt};
use serde_json::{json, Value};

use crate::commands::{self, Command};
use crate::config::Failback;
use crate::decide::{self, Candidates, Counts, Floor, GroupView, Kept, OptedIn, Plan, WeightChange};
use crate::elb::{ElbClient, ElbError, LoadBalancer};
use crate::model::{
    group_name, group_suffix, saved_weights, ForwardAction, Location, Tags, Target, TargetHealth, BACKUP_TAG,
};
use crate::report::{self, action, Report};
use crate::Config;

pub const FUNCTION: &str = "target-failover";

/// Groups decided and acted on at once: enough for an instance registered in a few groups, few enough to
/// stay clear of the ELB API's rate limits.
pub const MAX_CONCURRENT_GROUPS: usize = 4;

/// Where the function runs: alarms and groups elsewhere are not its business.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Home {
    pub partition: String,
    pub account: String,
    pub region: String,
}

impl Home {
    /// The region from the SDK configuration; the account and partition from the notification topic's ARN
    /// (the topic belongs to the function's own stack), which saves an STS call on every cold start.
    pub fn new(topic_arn: &str, region: &str) -> Self {
        let parts = split_arn(topic_arn);
        Home {
            partition: parts.map_or("aws", |p| p.partition).to_owned(),
            account: parts.map(|p| p.account.to_owned()).unwrap_or_default(),
            region: region.to_owned(),
        }
    }

    /// Why a resource in `account`/`region` is not this function's, if it is not.
    fn foreign(&self, account: &str, region: &str) -> Option<String> {
        if !self.region.is_empty() && region != self.region {
            return Some(format!("it is in region {region}, and this function acts in {}", self.region));
        }
        if !self.account.is_empty() && account != self.account {
            return Some(format!("it is in account {account}, and this function acts in {}", self.account));
        }
        None
    }

    fn group_arn(&self, suffix: &str) -> String {
        format!("arn:{}:elasticloadbalancing:{}:{}:{}", self.partition, self.region, self.account, suffix)
    }
}

/// Everything an invocation needs, built once per cold start. Generic over its ports so that tests can put a
/// recording notifier or a mocked SDK client in.
pub struct App<L = ElbClient, N = SnsNotifier> {
    config: Config,
    lb: L,
    notifier: N,
    home: Home,
}

impl App {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let notifier = SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            config.common.topic_arn.clone(),
            config.common.notification_format,
        );
        let lb = ElbClient::new(aws_sdk_elasticloadbalancingv2::Client::new(sdk));
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        let home = Home::new(&config.common.topic_arn, &region);
        App { config, lb, notifier, home }
    }
}

impl<L: LoadBalancer, N: Notifier + Sync> App<L, N> {
    pub fn with_ports(config: Config, lb: L, notifier: N, home: Home) -> Self {
        App { config, lb, notifier, home }
    }

    pub async fn handle(&self, payload: Value) -> Result<Response, InvokeError> {
        let event = intake::parse(&payload).inspect_err(|e| tracing::warn!(error = %e, "rejected event"))?;
        let (trigger, reports) = match event {
            Event::Alarm(alarm) => {
                let trigger = format!("alarm {}", alarm.alarm_name);
                let reports = self.on_alarm(&alarm).await;
                (trigger, reports)
            }
            Event::Manual(manual) => self.on_command(&manual).await?,
            Event::Rds(rds) => (
                "rds event".to_owned(),
                vec![Report::skipped(None, "none", format!("RDS event {} is database-failover's", rds.event_id))],
            ),
            Event::Unsupported { source, detail_type } => (
                "event".to_owned(),
                vec![Report::skipped(None, "none", format!("not handled: {detail_type} from {source}"))],
            ),
        };
        self.finish(&trigger, reports).await
    }

    /// Logs and publishes every report, then answers.
    async fn finish(&self, trigger: &str, reports: Vec<Report>) -> Result<Response, InvokeError> {
        for report in &reports {
            tracing::info!(
                trigger,
                group = report.group.as_deref().unwrap_or("-"),
                action = report.action,
                status = ?report.status,
                message = %report.title,
                "decision"
            );
            if let Some(notification) = report.notification(trigger) {
                if let Err(e) = self.notifier.publish(&notification).await {
                    // Not an invocation error: a retry would find the change already made and publish nothing.
                    tracing::error!(error = %failover_core::aws::describe(&e), action = report.action, "notification failed");
                }
            }
        }
        if let Some(failed) = reports.iter().find(|r| r.retry) {
            return Err(InvokeError::Aws(format!("{}: {}", failed.title, failed.summary)));
        }
        Ok(report::response(&reports))
    }

    fn floor(&self) -> Floor {
        Floor { min_targets: self.config.min_healthy_targets, min_percent: self.config.min_healthy_percent }
    }

    fn view<'a>(&'a self, arn: &'a str, tags: &'a Tags, targets: &'a [TargetHealth]) -> GroupView<'a> {
        GroupView { arn, tags, targets, opt_in_tag_key: &self.config.common.opt_in_tag_key }
    }

    /// Which of these actions' listeners and rules carry the opt-in tag: one `DescribeTags` per
    /// [`crate::elb::TAGS_PER_CALL`] of them, none when there are none.
    async fn opted_in_actions(&self, actions: &[ForwardAction]) -> Result<OptedIn, ElbError> {
        let arns: Vec<String> = actions
            .iter()
            .map(|a| a.location.arn().to_owned())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        if arns.is_empty() {
            return Ok(OptedIn::new());
        }
        let key = &self.config.common.opt_in_tag_key;
        Ok(self
            .lb
            .tags(&arns)
            .await?
            .into_iter()
            .filter(|(_, tags)| tags.as_ref().is_some_and(|t| decide::opted_in(t, key)))
            .map(|(arn, _)| arn)
            .collect())
    }

    /// The command that opts a listener or rule in.
    fn add_tag_step(&self, locations: &[Location]) -> String {
        format!(
            "Tag {} with the opt-in tag: aws elbv2 add-tags --resource-arns {} --tags Key={},Value=true",
            if locations.len() == 1 { "it" } else { "them" },
            locations.iter().map(Location::arn).collect::<Vec<_>>().join(" "),
            self.config.common.opt_in_tag_key
        )
    }

    /// `listener <arn>, rule <arn>` and why they are left out.
    fn not_opted_in_text(&self, locations: &[Location]) -> String {
        format!(
            "{} (not tagged {}=true, so IAM forbids the function to change {})",
            join(locations.iter()),
            self.config.common.opt_in_tag_key,
            if locations.len() == 1 { "it" } else { "them" }
        )
    }

    // ------------------------------------------------------------------ alarms

    async fn on_alarm(&self, alarm: &AlarmChange) -> Vec<Report> {
        let skip = |reason: String| vec![Report::skipped(None, "none", reason)];
        let is_ok = alarm.state == AlarmState::Ok;
        if !is_ok && !alarm.entered_alarm() {
            return skip(format!(
                "alarm state {} (previously {}): only a change into ALARM, or OK, is acted on",
                alarm.state.as_str(),
                alarm.previous_state.map_or("unknown", |s| s.as_str())
            ));
        }
        if let Some(why) = self.home.foreign(&alarm.account, &alarm.region) {
            return skip(format!("alarm {} is not this function's: {why}", alarm.alarm_name));
        }
        let group_dimensions = alarm.dimension_values("TargetGroup");
        let instances: Vec<Target> =
            alarm.dimension_values("InstanceId").into_iter().map(|id| Target::new(id, None)).collect();
        if group_dimensions.is_empty() && instances.is_empty() {
            let database =
                ["DBInstanceIdentifier", "DBClusterIdentifier"].iter().any(|d| !alarm.dimension_values(d).is_empty());
            return skip(if database {
                "a database alarm: database-failover's".to_owned()
            } else {
                "no TargetGroup or InstanceId dimension: not a target alarm".to_owned()
            });
        }

        let mut reports = Vec::new();
        let scope_all = group_dimensions.is_empty();
        let arns = if scope_all {
            match self.lb.instance_groups().await {
                Ok(arns) => arns,
                Err(e) => return vec![self.failed(None, action::ALARM, &e, "listing target groups")],
            }
        } else {
            let mut arns = Vec::new();
            for dimension in group_dimensions {
                let arn = self.home.group_arn(dimension);
                match group_suffix(&arn) {
                    Some(_) => arns.push(arn),
                    None => reports.push(Report::skipped(
                        None,
                        "none",
                        format!("TargetGroup dimension {dimension:?} is not targetgroup/<name>/<id>"),
                    )),
                }
            }
            arns
        };
        let tagged = match self.lb.tags(&arns).await {
            Ok(tagged) => tagged,
            Err(e) => return vec![self.failed(None, action::ALARM, &e, "reading target group tags")],
        };
        let mut jobs = Vec::new();
        let mut not_opted_in = 0;
        for (arn, tags) in tagged {
            match tags {
                None => reports.push(Report::skipped(Some(&arn), "none", "the target group does not exist")),
                Some(tags) if !decide::opted_in(&tags, &self.config.common.opt_in_tag_key) => {
                    not_opted_in += 1;
                    if !scope_all {
                        let reason = format!("not opted in (tag {}=true missing)", self.config.common.opt_in_tag_key);
                        reports.push(Report::skipped(Some(&arn), "none", reason));
                    }
                }
                Some(tags) => jobs.push((arn, tags)),
            }
        }
        let named = (!instances.is_empty()).then_some(instances.as_slice());
        let results: Vec<Vec<Report>> = stream::iter(jobs)
            .map(|(arn, tags)| self.alarm_group(arn, tags, is_ok, named))
            .buffer_unordered(MAX_CONCURRENT_GROUPS)
            .collect()
            .await;
        let mut results: Vec<Report> = results.into_iter().flatten().collect();
        if scope_all {
            // An instance alarm looks at every opted-in group; those without the instance are noise.
            let looked_at = results.len();
            results.retain(|r| r.status != Status::Skipped);
            if results.is_empty() {
                let ids = instances.iter().map(ToString::to_string).collect::<Vec<_>>().join(", ");
                reports.push(Report::skipped(
                    None,
                    "none",
                    format!(
                        "nothing to do for {ids} in {looked_at} opted-in groups ({not_opted_in} groups not opted in)"
                    ),
                ));
            }
        }
        reports.extend(results);
        reports
    }

    async fn alarm_group(&self, arn: String, tags: Tags, is_ok: bool, named: Option<&[Target]>) -> Vec<Report> {
        let saved = saved_weights(&tags);
        let intent = if is_ok { action::FAILBACK } else { action::DEREGISTER };
        if is_ok && saved.is_empty() {
            return vec![Report::skipped(Some(&arn), "none", "alarm OK: no traffic was shifted away from this group")];
        }
        let targets = match self.lb.target_health(&arn).await {
            Ok(Some(targets)) => targets,
            Ok(None) => return vec![Report::skipped(Some(&arn), "none", "the target group does not exist")],
            Err(e) => return vec![self.failed(Some(&arn), intent, &e, "reading target health")],
        };
        let view = self.view(&arn, &tags, &targets);
        let candidates = named.map_or(Candidates::Unhealthy, Candidates::Named);
        let plan = if is_ok {
            decide::on_ok(view, candidates, self.floor(), &saved)
        } else {
            decide::on_alarm(view, candidates, self.floor())
        };
        self.execute(&arn, &tags, plan, intent, self.config.common.dry_run, self.config.failback).await
    }

    // ------------------------------------------------------------------ manual commands

    async fn on_command(&self, manual: &ManualCommand) -> Result<(String, Vec<Report>), InvokeError> {
        let command = commands::parse(manual).map_err(InvokeError::InvalidCommand)?;
        let group = command.group().to_owned();
        let trigger = format!("manual command {}", command.name());
        if let Some(parts) = split_arn(&group) {
            if let Some(why) = self.home.foreign(parts.account, parts.region) {
                return Err(InvokeError::InvalidCommand(format!("target group {group} is not this function's: {why}")));
            }
        }
        let dry_run = manual.dry_run.unwrap_or(self.config.common.dry_run);
        let tags = match self.lb.tags(std::slice::from_ref(&group)).await {
            Ok(mut tagged) => tagged.pop().and_then(|(_, tags)| tags),
            Err(e) => {
                return Ok((trigger, vec![self.failed(Some(&group), command_action(&command), &e, "reading tags")]))
            }
        };
        let Some(tags) = tags else {
            return Err(InvokeError::InvalidCommand(format!("target group {group} does not exist")));
        };
        let targets = match self.lb.target_health(&group).await {
            Ok(Some(targets)) => targets,
            Ok(None) => return Err(InvokeError::InvalidCommand(format!("target group {group} does not exist"))),
            Err(e) => {
                return Ok((
                    trigger,
                    vec![self.failed(Some(&group), command_action(&command), &e, "reading target health")],
                ))
            }
        };
        let view = self.view(&group, &tags, &targets);
        let floor = self.floor();
        let reports = match &command {
            Command::Status { .. } => vec![self.status(view).await],
            Command::Restore { targets: wanted, .. } => self.restore(view, wanted, dry_run).await,
            Command::Deregister { targets: wanted, .. } => {
                let plan = decide::on_alarm(view, Candidates::Named(wanted), floor);
                self.execute(&group, &tags, plan, action::DEREGISTER, dry_run, Failback::Auto).await
            }
            Command::Shift { .. } => {
                let plan = decide::on_shift_command(view, floor);
                self.execute(&group, &tags, plan, action::SHIFT, dry_run, Failback::Auto).await
            }
            Command::Failback { force, .. } => {
                let plan = decide::on_failback_command(view, floor, &saved_weights(&tags), *force);
                self.execute(&group, &tags, plan, action::FAILBACK, dry_run, Failback::Auto).await
            }
        };
        Ok((trigger, reports))
    }

    /// The group's state; with a usable backup or saved weights, also the listener actions forwarding to it
    /// and which of them a shift or failback would leave out for want of the opt-in tag.
    async fn status(&self, view: GroupView<'_>) -> Report {
        let floor = self.floor();
        let counts = Counts::of(view.targets, floor);
        let plan = decide::on_alarm(view, Candidates::Unhealthy, floor);
        let saved = saved_weights(view.tags);
        let usable_backup = view.backup().and_then(Result::ok);
        let mut would = describe_plan(&plan);
        let mut listener_actions = Vec::new();
        let mut left_out = Vec::new();
        if usable_backup.is_some() || !saved.is_empty() {
            let actions = match self.lb.forwards_to(view.arn).await {
                Ok(actions) => actions,
                Err(e) => return self.failed(Some(view.arn), action::STATUS, &e, "reading listeners and rules"),
            };
            let opted_in = match self.opted_in_actions(&actions).await {
                Ok(opted_in) => opted_in,
                Err(e) => {
                    return self.failed(Some(view.arn), action::STATUS, &e, "reading the listeners' and rules' tags")
                }
            };
            listener_actions = actions
                .iter()
                .map(|a| json!({"location": a.location, "opted_in": opted_in.contains(a.location.arn())}))
                .collect();
            if let Some(backup) = &usable_backup {
                // What a shift would do now, alarm or command: the same plan, the same opt-in facts.
                let shift = decide::plan_shift(&actions, view.arn, backup, &saved, &opted_in);
                left_out = shift.not_opted_in;
                if matches!(plan, Plan::ShiftTraffic { .. }) && shift.changes.is_empty() && !left_out.is_empty() {
                    would = format!("refuse: {}", self.not_opted_in_text(&left_out));
                } else if matches!(plan, Plan::ShiftTraffic { .. }) && !left_out.is_empty() {
                    would = format!("{would}, leaving out {}", self.not_opted_in_text(&left_out));
                }
            }
            let failback = decide::plan_failback(&actions, view.arn, usable_backup.as_deref(), &saved, &opted_in);
            for location in failback.not_opted_in {
                if !left_out.contains(&location) {
                    left_out.push(location);
                }
            }
        }
        let backup = view.backup().map(|b| b.unwrap_or_else(|bad| format!("unusable: {bad}")));
        let title = format!(
            "{}: {} of {} targets healthy, floor {}",
            group_name(view.arn),
            counts.healthy,
            counts.registered,
            counts.floor
        );
        let summary = format!(
            "{} is {}opted in{}. An alarm on this group now would: {would}.{}{}",
            group_name(view.arn),
            if view.opted_in() { "" } else { "NOT " },
            backup.as_ref().map_or(" and has no backup group".to_owned(), |b| format!(", backup group {b}")),
            if saved.is_empty() {
                String::new()
            } else {
                format!(" Traffic is shifted away from it in {} listener actions.", saved.len())
            },
            if left_out.is_empty() {
                String::new()
            } else {
                format!(" A shift or failback would leave out {}.", self.not_opted_in_text(&left_out))
            },
        );
        let steps = (!left_out.is_empty()).then(|| self.add_tag_step(&left_out));
        Report::new(view.arn, action::STATUS, Status::Info, Severity::Info, title)
            .summary(summary)
            .details(json!({
                "counts": counts,
                "can_serve": counts.can_serve(),
                "opted_in": view.opted_in(),
                "backup": backup,
                "saved_weights": saved,
                "listener_actions": listener_actions,
                "not_opted_in": left_out,
                "targets": view.targets,
                "alarm_now_would": would,
            }))
            .steps(steps)
    }

    async fn restore(&self, view: GroupView<'_>, wanted: &[Target], dry_run: bool) -> Vec<Report> {
        let arn = view.arn;
        if !view.opted_in() {
            let reason = format!("not opted in (tag {}=true missing)", view.opt_in_tag_key);
            return vec![Report::skipped(Some(arn), action::REGISTER, reason)];
        }
        let list = join(wanted.iter());
        let details = json!({"targets": wanted, "counts_before": Counts::of(view.targets, self.floor())});
        if dry_run {
            let title = format!("{}: would register {}", group_name(arn), list);
            return vec![Report::new(arn, action::REGISTER, Status::DryRun, Severity::Info, title)
                .summary(format!("Dry run: {list} would be registered in {arn}; nothing was changed."))
                .details(details)];
        }
        match self.lb.register(arn, wanted).await {
            Ok(()) => {
                let title = format!("{}: registered {}", group_name(arn), list);
                vec![Report::new(arn, action::REGISTER, Status::Succeeded, Severity::Info, title)
                    .summary(format!(
                        "{list} registered in {arn}. They receive traffic once they pass the group's health checks."
                    ))
                    .details(details)
                    .steps([format!(
                        "Watch the group's health: {{\"command\":\"status\",\"target_group_arn\":\"{arn}\"}}"
                    )])]
            }
            Err(e) => vec![self.failed(Some(arn), action::REGISTER, &e, "registering targets")],
        }
    }

    // ------------------------------------------------------------------ acting on a plan

    async fn execute(
        &self,
        arn: &str,
        tags: &Tags,
        plan: Plan,
        intent: &'static str,
        dry_run: bool,
        failback: Failback,
    ) -> Vec<Report> {
        match plan {
            Plan::Skip { reason } => vec![Report::skipped(Some(arn), "none", reason)],
            Plan::Refuse { reason, kept, counts } => {
                let severity = if intent == action::FAILBACK { Severity::Warning } else { Severity::Critical };
                vec![refusal(arn, intent, severity, &reason, &kept, counts, tags)]
            }
            Plan::Deregister { targets, kept, counts, healthy_after } => {
                let mut reports = vec![self.deregister(arn, &targets, counts, healthy_after, dry_run).await];
                if !kept.is_empty() {
                    let reason = format!(
                        "{} accused targets stay in service: the group would fall below its floor of {}",
                        kept.len(),
                        counts.required()
                    );
                    reports.push(refusal(
                        arn,
                        action::DEREGISTER,
                        Severity::Critical,
                        &reason,
                        &kept,
                        Some(counts),
                        tags,
                    ));
                }
                reports
            }
            Plan::ShiftTraffic { backup, kept, counts, why } => {
                vec![self.shift(arn, tags, &backup, counts, &why, &kept, dry_run).await]
            }
            Plan::Failback { counts, backup } => {
                self.failback(arn, tags, counts, backup.as_deref(), dry_run, failback).await
            }
        }
    }

    async fn deregister(
        &self,
        arn: &str,
        targets: &[TargetHealth],
        counts: Counts,
        healthy_after: usize,
        dry_run: bool,
    ) -> Report {
        let name = group_name(arn);
        let list = join(targets.iter().map(|t| format!("{} ({})", t.target, t.state.as_str())));
        let remaining = counts.registered - targets.len();
        let numbers = format!(
            "{healthy_after} of the {remaining} remaining targets are healthy (floor {}; {} of {} before)",
            counts.floor, counts.healthy, counts.registered
        );
        let details = json!({
            "targets": targets,
            "counts_before": counts,
            "healthy_after": healthy_after,
            "registered_after": remaining,
        });
        let plain: Vec<Target> = targets.iter().map(|t| t.target.clone()).collect();
        let restore = format!(
            "{{\"command\":\"restore\",\"target_group_arn\":\"{arn}\",\"targets\":{}}}",
            serde_json::to_string(&plain).unwrap_or_default()
        );
        if dry_run {
            let title = format!("{name}: would deregister {}", count(targets.len(), "target"));
            return Report::new(arn, action::DEREGISTER, Status::DryRun, Severity::Info, title)
                .summary(format!("Dry run: {list} would be deregistered from {arn}; {numbers}. Nothing was changed."))
                .details(details);
        }
        match self.lb.deregister(arn, &plain).await {
            Ok(()) => {
                let title = format!("{name}: {} deregistered", count(targets.len(), "target"));
                Report::new(arn, action::DEREGISTER, Status::Succeeded, Severity::Warning, title)
                    .summary(format!(
                        "Deregistered {list} from {arn}: {numbers}. New requests stop at once; requests in flight \
                         drain for the group's deregistration delay."
                    ))
                    .details(details)
                    .steps([
                        format!("Find out why {} failed (instance logs, the alarm's metric).", join(plain.iter())),
                        format!("Once repaired, put them back with the manual command {restore}"),
                        "If an Auto Scaling group owns them, replace them instead (terminate, or set them Unhealthy)."
                            .to_owned(),
                    ])
            }
            Err(e) => self.failed(Some(arn), action::DEREGISTER, &e, "deregistering targets"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    async fn shift(
        &self,
        arn: &str,
        tags: &Tags,
        backup: &str,
        counts: Counts,
        why: &str,
        kept: &[Kept],
        dry_run: bool,
    ) -> Report {
        let name = group_name(arn);
        let fail = |status: Status, title: String, summary: String, details: Value| {
            Report::new(arn, action::SHIFT, status, Severity::Critical, title).summary(summary).details(details)
        };
        let backup_targets = match self.lb.target_health(backup).await {
            Ok(Some(targets)) => targets,
            Ok(None) => {
                return fail(
                    Status::Refused,
                    format!("{name}: cannot serve, and its backup group does not exist"),
                    format!("{name} cannot serve ({why}); its tag {BACKUP_TAG} names {backup}, which does not exist."),
                    json!({"counts": counts, "backup": backup}),
                )
                .steps(["Fix the backup tag, or restore capacity in the group.".to_owned()])
            }
            Err(e) => return self.failed(Some(arn), action::SHIFT, &e, "reading the backup group's health"),
        };
        let backup_counts = match decide::backup_ready(&backup_targets, self.floor()) {
            Ok(c) => c,
            Err(c) => {
                return fail(
                    Status::Refused,
                    format!("{name}: cannot serve, and backup {} cannot either", group_name(backup)),
                    format!(
                        "{name} cannot serve ({why}), and its backup {backup} has {} of {} targets healthy \
                         (needs {}): traffic stays where it is.",
                        c.healthy,
                        c.registered,
                        c.required()
                    ),
                    json!({"counts": counts, "backup": backup, "backup_counts": c}),
                )
                .steps(["Restore capacity in either group; nothing was changed.".to_owned()])
            }
        };
        let actions = match self.lb.forwards_to(arn).await {
            Ok(actions) => actions,
            Err(e) => return self.failed(Some(arn), action::SHIFT, &e, "reading listeners and rules"),
        };
        let opted_in = match self.opted_in_actions(&actions).await {
            Ok(opted_in) => opted_in,
            Err(e) => return self.failed(Some(arn), action::SHIFT, &e, "reading the listeners' and rules' tags"),
        };
        let plan = decide::plan_shift(&actions, arn, backup, &saved_weights(tags), &opted_in);
        let details = json!({
            "counts": counts,
            "backup": backup,
            "backup_counts": backup_counts,
            "changes": plan.changes,
            "already_shifted": plan.already_shifted,
            "conflicts": plan.conflicts,
            "not_opted_in": plan.not_opted_in,
            "kept_targets": kept,
        });
        let shift_again = format!("{{\"command\":\"shift\",\"target_group_arn\":\"{arn}\"}}");
        if plan.changes.is_empty() {
            if !plan.not_opted_in.is_empty() {
                let left_out = &plan.not_opted_in;
                return fail(
                    Status::Refused,
                    format!("{name}: shift refused, {} not opted in", count(left_out.len(), "listener action")),
                    format!(
                        "{name} cannot serve ({why}) and its traffic could move to {backup}, but every listener \
                         action that forwards to it is left out: {}. Nothing was changed and no weights were saved.",
                        self.not_opted_in_text(left_out)
                    ),
                    details,
                )
                .steps([
                    self.add_tag_step(left_out),
                    format!("Then shift with the manual command {shift_again} (or wait for the alarm to repeat)."),
                    format!("Or restore capacity in {name}."),
                ]);
            }
            if !plan.already_shifted.is_empty() {
                return Report::skipped(Some(arn), action::SHIFT, format!("traffic already shifted to {backup}"));
            }
            return fail(
                Status::Refused,
                format!("{name}: cannot serve, and no listener forwards to it"),
                format!(
                    "{name} cannot serve ({why}), but no listener default action or rule sends it traffic that \
                     could move to {backup}."
                ),
                details,
            )
            .steps(["Restore capacity in the group; check which listener uses it.".to_owned()]);
        }
        let moved = describe_changes(&plan.changes);
        let left_out = if plan.not_opted_in.is_empty() {
            String::new()
        } else {
            format!(" Left out: {}; they still send traffic to {name}.", self.not_opted_in_text(&plan.not_opted_in))
        };
        let partly = if plan.not_opted_in.is_empty() { "" } else { "partly " };
        if dry_run {
            return Report::new(
                arn,
                action::SHIFT,
                Status::DryRun,
                Severity::Info,
                format!("{name}: would {partly}shift traffic to {}", group_name(backup)),
            )
            .summary(format!(
                "Dry run: {name} cannot serve ({why}); would change {moved}.{left_out} Nothing was changed."
            ))
            .details(details);
        }
        if let Err(e) = self.lb.add_tags(arn, &plan.save).await {
            return self.failed(Some(arn), action::SHIFT, &e, "saving the current weights (nothing was shifted)");
        }
        for (done, change) in plan.changes.iter().enumerate() {
            if let Err(e) = self.lb.set_weights(&change.action, &change.after).await {
                let doing =
                    format!("shifting {} ({done} of {} actions already shifted)", change.location, plan.changes.len());
                return self.failed(Some(arn), action::SHIFT, &e, &doing);
            }
        }
        Report::new(
            arn,
            action::SHIFT,
            Status::Succeeded,
            Severity::Critical,
            format!("{name}: traffic {partly}shifted to {}", group_name(backup)),
        )
        .summary(format!(
            "{name} cannot serve ({why}), so its traffic moved to {backup} ({} of {} targets healthy): {moved}. \
             The previous weights are saved in tags {}* on {name}.{left_out}",
            backup_counts.healthy,
            backup_counts.registered,
            crate::model::SAVED_WEIGHTS_PREFIX
        ))
        .details(details)
        .steps(
            (!plan.not_opted_in.is_empty())
                .then(|| {
                    [
                        self.add_tag_step(&plan.not_opted_in),
                        format!("Then move the rest with the manual command {shift_again}."),
                    ]
                })
                .into_iter()
                .flatten()
                .chain([
            format!("Restore capacity in {name}; the backup {} now takes its traffic.", group_name(backup)),
            match self.config.failback {
                Failback::Auto => "When the alarm returns to OK and the group is above its floor, the weights are \
                                   restored automatically."
                    .to_owned(),
                Failback::Manual => format!(
                    "When the group is healthy, fail back with {{\"command\":\"failback\",\"target_group_arn\":\"{arn}\"}}"
                ),
            },
                ]),
        )
    }

    async fn failback(
        &self,
        arn: &str,
        tags: &Tags,
        counts: Counts,
        backup: Option<&str>,
        dry_run: bool,
        mode: Failback,
    ) -> Vec<Report> {
        let name = group_name(arn);
        let actions = match self.lb.forwards_to(arn).await {
            Ok(actions) => actions,
            Err(e) => return vec![self.failed(Some(arn), action::FAILBACK, &e, "reading listeners and rules")],
        };
        let opted_in = match self.opted_in_actions(&actions).await {
            Ok(opted_in) => opted_in,
            Err(e) => {
                return vec![self.failed(Some(arn), action::FAILBACK, &e, "reading the listeners' and rules' tags")]
            }
        };
        let plan = decide::plan_failback(&actions, arn, backup, &saved_weights(tags), &opted_in);
        let details = json!({
            "counts": counts,
            "backup": backup,
            "changes": plan.changes,
            "conflicts": plan.conflicts,
            "not_opted_in": plan.not_opted_in,
            "stale_saved_weights": plan.stale_keys,
        });
        // Actions left for a person: notified as refused, with what to do.
        let left_alone = |title: String, summary: String, steps: Vec<String>| {
            Report::new(arn, action::FAILBACK, Status::Refused, Severity::Warning, title)
                .summary(summary)
                .details(details.clone())
                .steps(steps)
        };
        let mut reports = Vec::new();
        if !plan.not_opted_in.is_empty() {
            reports.push(left_alone(
                format!("{name}: {} not opted in, not restored", count(plan.not_opted_in.len(), "listener action")),
                format!(
                    "Not restored: {}. Their saved weights stay in the tags {}* of {name}.",
                    self.not_opted_in_text(&plan.not_opted_in),
                    crate::model::SAVED_WEIGHTS_PREFIX
                ),
                vec![
                    self.add_tag_step(&plan.not_opted_in),
                    format!(
                        "Then fail back with the manual command {{\"command\":\"failback\",\"target_group_arn\":\"{arn}\"}}"
                    ),
                ],
            ));
        }
        if !plan.conflicts.is_empty() {
            let list = join(plan.conflicts.iter().map(|(location, why)| format!("{location}: {why}")));
            reports.push(left_alone(
                format!("{name}: {} changed since the shift", count(plan.conflicts.len(), "listener action")),
                format!("Not restored automatically, because they changed since the shift: {list}."),
                vec![format!(
                    "Set the weights by hand; the saved ones are in the tags {}* of {name}, remove them afterwards.",
                    crate::model::SAVED_WEIGHTS_PREFIX
                )],
            ));
        }
        if plan.changes.is_empty() {
            if !plan.stale_keys.is_empty() && !dry_run {
                if let Err(e) = self.lb.remove_tags(arn, &plan.stale_keys).await {
                    reports.push(self.failed(Some(arn), action::FAILBACK, &e, "removing stale saved weights"));
                }
            }
            if reports.is_empty() {
                reports.push(Report::skipped(Some(arn), action::FAILBACK, "nothing to fail back"));
            }
            return reports;
        }
        let restored = describe_changes(&plan.changes);
        let numbers = format!("{} of {} targets healthy, floor {}", counts.healthy, counts.registered, counts.floor);
        if mode == Failback::Manual {
            reports.push(
                Report::new(
                    arn,
                    action::FAILBACK,
                    Status::Info,
                    Severity::Warning,
                    format!("{name}: ready to fail back"),
                )
                .summary(format!(
                    "{name} is healthy again ({numbers}); FAILBACK=manual, so traffic stays on the backup until \
                         a person restores: {restored}."
                ))
                .details(details)
                .steps([format!(
                    "Fail back with the manual command {{\"command\":\"failback\",\"target_group_arn\":\"{arn}\"}}"
                )]),
            );
            return reports;
        }
        if dry_run {
            reports.push(
                Report::new(arn, action::FAILBACK, Status::DryRun, Severity::Info, format!("{name}: would fail back"))
                    .summary(format!("Dry run: {name} is healthy again ({numbers}); would restore {restored}."))
                    .details(details),
            );
            return reports;
        }
        for (done, change) in plan.changes.iter().enumerate() {
            if let Err(e) = self.lb.set_weights(&change.action, &change.after).await {
                let doing = format!(
                    "restoring {} ({done} of {} actions already restored)",
                    change.location,
                    plan.changes.len()
                );
                reports.push(self.failed(Some(arn), action::FAILBACK, &e, &doing));
                return reports;
            }
        }
        let keys: Vec<String> = plan.restored_keys.iter().chain(&plan.stale_keys).cloned().collect();
        if let Err(e) = self.lb.remove_tags(arn, &keys).await {
            reports.push(self.failed(
                Some(arn),
                action::FAILBACK,
                &e,
                "removing the saved weights after restoring them",
            ));
            return reports;
        }
        reports.push(
            Report::new(arn, action::FAILBACK, Status::Succeeded, Severity::Info, format!("{name}: traffic restored"))
                .summary(format!("{name} is healthy again ({numbers}): restored {restored}."))
                .details(details),
        );
        reports
    }

    /// A failed AWS call: notified as critical; retried by Lambda when transient.
    fn failed(&self, group: Option<&str>, action: &'static str, error: &ElbError, doing: &str) -> Report {
        let name = group.map_or("target-failover", group_name);
        let mut report = Report {
            group: group.map(str::to_owned),
            action,
            status: Status::Failed,
            severity: Severity::Critical,
            title: format!("{name}: {doing} failed"),
            summary: format!("{} on {} failed: {}", error.operation, error.resource, error.detail),
            details: json!({"operation": error.operation, "resource": error.resource, "code": error.code,
                            "transient": error.transient}),
            next_steps: Vec::new(),
            retry: error.transient,
        };
        report.next_steps = if error.transient {
            vec![
                "Lambda retries the event (twice by default); repeats are harmless.".to_owned(),
                "If the retries fail too, the event lands in the dead-letter queue: act by hand.".to_owned(),
            ]
        } else {
            vec![format!(
                "Not retried: check the function's IAM permissions for {} and the resource, then act by hand.",
                error.operation
            )]
        };
        report
    }
}

fn command_action(command: &Command) -> &'static str {
    match command {
        Command::Status { .. } => action::STATUS,
        Command::Deregister { .. } => action::DEREGISTER,
        Command::Restore { .. } => action::REGISTER,
        Command::Shift { .. } => action::SHIFT,
        Command::Failback { .. } => action::FAILBACK,
    }
}

fn refusal(
    arn: &str,
    intent: &'static str,
    severity: Severity,
    reason: &str,
    kept: &[Kept],
    counts: Option<Counts>,
    tags: &Tags,
) -> Report {
    let name = group_name(arn);
    let title = if kept.is_empty() {
        format!("{name}: change refused")
    } else {
        format!("{name}: kept {} in service", count(kept.len(), "failing target"))
    };
    let mut steps = Vec::new();
    if let Some(c) = counts {
        steps.push(format!(
            "Add capacity (scale out) so {name} has at least {} healthy targets; it has {}.",
            c.required(),
            c.healthy
        ));
    }
    if !kept.is_empty() {
        steps.push(format!(
            "Investigate {}; remove them by hand only if you accept the risk.",
            join(kept.iter().map(|k| &k.target))
        ));
    }
    if !tags.contains_key(BACKUP_TAG) && intent != action::FAILBACK {
        steps.push(format!("Tag {name} with {BACKUP_TAG}=<ARN of a standby group> so its traffic can move next time."));
    }
    let kept_list = join(kept.iter().map(|k| format!("{} ({}): {}", k.target, k.state.as_str(), k.why)));
    let summary = if kept.is_empty() { format!("{reason}.") } else { format!("{reason}. Kept: {kept_list}.") };
    Report::new(arn, intent, Status::Refused, severity, title)
        .summary(summary)
        .details(json!({"reason": reason, "counts": counts, "kept_targets": kept}))
        .steps(steps)
}

fn describe_plan(plan: &Plan) -> String {
    match plan {
        Plan::Deregister { targets, kept, .. } => {
            let mut text = format!("deregister {}", join(targets.iter().map(|t| &t.target)));
            if !kept.is_empty() {
                text.push_str(&format!(" and keep {} (floor)", join(kept.iter().map(|k| &k.target))));
            }
            text
        }
        Plan::ShiftTraffic { backup, .. } => format!("shift its traffic to {backup}"),
        Plan::Failback { .. } => "fail back".to_owned(),
        Plan::Skip { reason } => format!("nothing ({reason})"),
        Plan::Refuse { reason, .. } => format!("refuse: {reason}"),
    }
}

fn describe_changes(changes: &[WeightChange]) -> String {
    join(changes.iter().map(|c| {
        let weights = |ws: &[crate::model::Weight]| {
            ws.iter().map(|w| format!("{}={}", group_name(&w.group_arn), w.weight)).collect::<Vec<_>>().join(" ")
        };
        format!("{} from [{}] to [{}]", c.location, weights(&c.before), weights(&c.after))
    }))
}

fn join<T: std::fmt::Display>(items: impl Iterator<Item = T>) -> String {
    items.map(|i| i.to_string()).collect::<Vec<_>>().join(", ")
}

fn count(n: usize, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
