//! Readiness (manual command `readiness`, and the template's daily schedule): checks every opted-in target
//! group of the region (or the one named) against what a failover would need, and reports one notification:
//! `info` when all is ready, else `warning` listing each gap with the `aws` CLI line that closes it. The
//! judging is [`crate::decide::readiness`]'s; this file only reads. It never changes AWS and never writes the
//! ledger, so `dry_run` makes no difference.
//!
//! Per group: `DescribeTargetHealth`, the backup group's tags (unless listed already) and health,
//! `DescribeTargetGroups` + `DescribeListeners` + `DescribeRules` + `DescribeTags` for what forwards to it
//! (as a shift reads them), and `DescribeTargetGroupAttributes`. Region-wide first: `DescribeTargetGroups`
//! (paginated) and one `DescribeTags` per 20 groups. A read that fails is reported as that resource's check
//! "unknown (error `<code>`: `<message>`)", and the other checks and groups go on.
//!
//! Then, for the checked groups' opted-in load balancers, their registration with ARC zonal shift
//! ([`super::zonal::readiness`]); and, with one `DescribeAlarms` (prefix `ALARM_NAME_PREFIX`, paginated) for
//! the whole run, whether an alarm that invokes the function watches each group ([`crate::decide::watch`]). A
//! group whose target health or load balancers could not be read is not judged on alarms (its `unknown` is
//! reported). `DRY_RUN=true` is a gap of its own: nothing will be changed.

use std::collections::BTreeMap;

use failover_core::alarms::WatchingAlarm;
use failover_core::aws::AwsError;
use failover_core::intake::InvalidCommand;
use failover_core::report::Report;
use futures::stream::{self, StreamExt};
use serde_json::json;

use super::alarm::MAX_CONCURRENT_GROUPS;
use super::Context;
use crate::decide::backup_of;
use crate::decide::readiness::{self, Backup, Gap};
use crate::decide::watch::{self, Watched};
use crate::model::{group_name, Tags};
use crate::ports::{LoadBalancer, Ports};
use crate::report as texts;
use crate::FUNCTION;

/// `Err` is an invalid command: the named group does not exist.
pub async fn run<P: Ports>(ctx: &Context<'_, P>, only: Option<&str>) -> Result<Vec<Report>, InvalidCommand> {
    let key = ctx.opt_in_key();
    let mut gaps = Vec::new();
    if ctx.config.common.dry_run {
        gaps.push(failover_core::readiness::dry_run(FUNCTION));
    }
    let arns = match only {
        Some(group) => vec![group.to_owned()],
        None => match ctx.lb.target_groups().await {
            Ok(arns) => arns,
            Err(e) => {
                gaps.push(unknown(
                    "(all target groups)",
                    "listing the target groups",
                    &e,
                    "aws elbv2 describe-target-groups",
                ));
                return Ok(vec![report(0, gaps)]);
            }
        },
    };
    let tagged: BTreeMap<String, Option<Tags>> = match ctx.lb.tags(&arns).await {
        Ok(tagged) => tagged.into_iter().collect(),
        Err(e) => {
            let cli = "aws elbv2 describe-tags --resource-arns <target group ARNs>";
            gaps.push(unknown(&e.resource.clone(), "reading the target groups' tags", &e, cli));
            return Ok(vec![report(0, gaps)]);
        }
    };
    if let Some(group) = only {
        // DescribeTags may answer for a group that does not exist; its health says whether it does.
        if let Ok(None) = ctx.lb.target_health(group).await {
            return Err(format!("target group {group} does not exist").into());
        }
        match tagged.get(group) {
            Some(Some(tags)) if !failover_core::tags::opted_in(tags, key) => {
                return Ok(vec![report(1, vec![readiness::not_opted_in(group, key)])]);
            }
            Some(Some(_)) => {}
            _ => return Err(format!("target group {group} does not exist").into()),
        }
    }
    let opted: Vec<(&String, &Tags)> = tagged
        .iter()
        .filter_map(|(arn, tags)| tags.as_ref().map(|t| (arn, t)))
        .filter(|(_, tags)| failover_core::tags::opted_in(tags, key))
        .collect();
    let checked = opted.len();
    let groups: Vec<&String> = opted.iter().map(|(arn, _)| *arn).collect();
    let (zonal, balancers) = super::zonal::readiness::gaps(ctx, &groups).await;
    let alarms = if groups.is_empty() { None } else { alarms(ctx, &mut gaps).await };
    let found: Vec<Vec<Gap>> = stream::iter(opted)
        .map(|(arn, tags)| {
            let watch = alarms.as_deref().zip(balancers.get(arn.as_str()).map(Vec::as_slice));
            group_gaps(ctx, arn, tags, &tagged, watch)
        })
        .buffered(MAX_CONCURRENT_GROUPS)
        .collect()
        .await;
    gaps.extend(found.into_iter().flatten());
    gaps.extend(zonal);
    Ok(vec![report(checked, gaps)])
}

/// The prefixed alarms, read once for the run; `None`, with an `unknown` gap, when the read failed.
async fn alarms<P: Ports>(ctx: &Context<'_, P>, gaps: &mut Vec<Gap>) -> Option<Vec<WatchingAlarm>> {
    let prefix = &ctx.config.common.alarm_name_prefix;
    match ctx.lb.alarms(prefix).await {
        Ok(alarms) => Some(alarms),
        Err(e) => {
            let cli = format!("aws cloudwatch describe-alarms --alarm-name-prefix {prefix}");
            gaps.push(unknown("(all alarms)", &format!("listing the alarms named {prefix}*"), &e, &cli));
            None
        }
    }
}

/// Every check of one opted-in group; a failed read is an `unknown` entry and the other checks go on. `watch`:
/// the prefixed alarms and the group's load balancers, when both were read.
async fn group_gaps<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    tags: &Tags,
    tagged: &BTreeMap<String, Option<Tags>>,
    watch: Option<(&[WatchingAlarm], &[String])>,
) -> Vec<Gap> {
    let (floor, key) = (ctx.floor(), ctx.opt_in_key());
    let mut gaps = Vec::new();
    let targets = match ctx.lb.target_health(arn).await {
        Ok(Some(targets)) => Some(targets),
        // Deleted since it was listed: nothing a failover could need from it.
        Ok(None) => return gaps,
        Err(e) => {
            let cli = format!("aws elbv2 describe-target-health --target-group-arn {arn}");
            gaps.push(unknown(arn, "reading its target health", &e, &cli));
            None
        }
    };
    match backup_of(arn, tags) {
        None => {}
        Some(Err(why)) => gaps.extend(readiness::backup_gaps(arn, Backup::Invalid(&why), floor, key)),
        Some(Ok(backup)) => gaps.extend(backup_check(ctx, arn, &backup, tagged).await),
    }
    match ctx.forwarding(arn).await {
        Ok(forwarding) => gaps.extend(readiness::forwarding_gaps(arn, &forwarding.actions, &forwarding.opted_in, key)),
        Err((e, doing)) => {
            let cli = format!("aws elbv2 describe-target-groups --target-group-arns {arn}");
            gaps.push(unknown(arn, doing, &e, &cli));
        }
    }
    if let (Some(targets), Some((alarms, balancers))) = (&targets, watch) {
        let instances = watch::instances(targets.iter().map(|t| t.target.id.as_str()));
        let seen = Watched { group: arn, instances, balancers };
        gaps.extend(watch::unwatched(alarms, &ctx.config.common.alarm_name_prefix, &seen));
    }
    if let Some(targets) = targets {
        match ctx.health_thresholds(arn).await {
            Ok(Some(thresholds)) => gaps.extend(readiness::threshold_gaps(arn, &targets, &thresholds, floor)),
            Ok(None) => {}
            Err(e) => {
                let cli = format!("aws elbv2 describe-target-group-attributes --target-group-arn {arn}");
                gaps.push(unknown(arn, "reading its health thresholds", &e, &cli));
            }
        }
    }
    gaps
}

/// The backup group's existence, opt-in and health.
async fn backup_check<P: Ports>(
    ctx: &Context<'_, P>,
    arn: &str,
    backup: &str,
    tagged: &BTreeMap<String, Option<Tags>>,
) -> Vec<Gap> {
    let (floor, key) = (ctx.floor(), ctx.opt_in_key());
    let tags = match tagged.get(backup) {
        Some(tags) => tags.clone(),
        None => match ctx.lb.tags(&[backup.to_owned()]).await {
            Ok(mut found) => found.pop().and_then(|(_, tags)| tags),
            Err(e) => {
                let cli = format!("aws elbv2 describe-tags --resource-arns {backup}");
                return vec![unknown(backup, "reading the backup group's tags", &e, &cli)];
            }
        },
    };
    let Some(tags) = tags else { return readiness::backup_gaps(arn, Backup::Missing(backup), floor, key) };
    match ctx.lb.target_health(backup).await {
        Ok(Some(targets)) => {
            readiness::backup_gaps(arn, Backup::Found { arn: backup, tags: &tags, targets: &targets }, floor, key)
        }
        Ok(None) => readiness::backup_gaps(arn, Backup::Missing(backup), floor, key),
        Err(e) => {
            let cli = format!("aws elbv2 describe-target-health --target-group-arn {backup}");
            vec![unknown(backup, "reading the backup group's target health", &e, &cli)]
        }
    }
}

/// The one notification: `info` when ready, `warning` with every gap and its fix otherwise.
fn report(checked: usize, gaps: Vec<Gap>) -> Report {
    let groups = texts::count(checked, "opted-in target group");
    let ready = format!(
        "Every opted-in target group ({groups}) has what a failover needs: its backup group (when tagged) exists, \
         is opted in and can serve; every listener and rule forwarding to it is opted in; its health thresholds \
         are consistent with the floor; every opted-in load balancer in front of it is registered with ARC zonal \
         shift; an alarm named with ALARM_NAME_PREFIX watches it."
    );
    let extra = json!({"checked": checked});
    failover_core::readiness::report(FUNCTION, &groups, &ready, gaps, extra)
}

/// A check that could not be made, named by the group.
fn unknown(resource: &str, doing: &str, error: &AwsError, cli: &str) -> Gap {
    failover_core::readiness::unknown(resource, group_name(resource), doing, error, cli)
}
