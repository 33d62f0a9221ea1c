//! The texts of an Aurora Global Database's switchover ([`crate::actions::switchover_global`]) and unplanned
//! failover ([`crate::actions::failover_global`]).

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::json;

use super::{incident, with_error, Failure};
use crate::decide::global_db::{GlobalFailover, Switchover, IN_SYNC_LAG_MS};
use crate::decide::DnsResult;
use crate::model::{Approval, GlobalAction, GlobalMember};
use crate::FUNCTION;

pub const SWITCHOVER_GLOBAL: &str = "switchover-global";
/// The step named when the DNS record of a global database's clients could not be repointed.
pub const GLOBAL_DNS_STEP: &str = "repoint the DNS record";

/// What the notification says of the clients' path after a change of primary: the DNS step's sentence when a
/// `failover:dns-record` tag names a record, else (`untagged`) the global writer endpoint's.
fn clients(dns: Option<&DnsResult>, untagged: String) -> String {
    match dns.and_then(DnsResult::sentence) {
        Some(sentence) => sentence,
        None => untagged,
    }
}

/// The global writer endpoint's sentence: clients that use it follow the new primary.
fn global_endpoint_sentence(endpoint: Option<&str>) -> String {
    match endpoint {
        Some(e) => format!("Clients that use the global writer endpoint {e} follow the new primary: no DNS change."),
        None => "Clients that use the global writer endpoint follow the new primary: no DNS change.".into(),
    }
}

/// The command that asks for it again (or for real, after a dry run).
fn command(s: &Switchover) -> String {
    json!({"command": "switchover-global", "global_cluster_identifier": s.global,
        "target_db_cluster_identifier": s.to.arn})
    .to_string()
}

/// A switchover planned (dry run), done, or failed; `dns`: its DNS step, when it ran (or was planned).
pub fn switchover_global(
    s: &Switchover,
    outcome: Outcome,
    failure: Option<&Failure>,
    dns: Option<&DnsResult>,
) -> Report {
    let from = s.from.as_ref().map_or("the primary", |m| m.cluster.as_str());
    let to = format!("{} ({})", s.to.cluster, s.to.region);
    let (title, severity) = match outcome {
        Outcome::Succeeded if dns.is_some_and(DnsResult::is_warning) => {
            (format!("{}: switching over to {to}; clients may not follow", s.global), Severity::Critical)
        }
        Outcome::Succeeded => (format!("{}: switching over to {to}", s.global), Severity::Warning),
        Outcome::Failed if failure.is_some_and(|f| f.step == GLOBAL_DNS_STEP) => {
            (format!("{}: switching over to {to}; the DNS record was not repointed", s.global), Severity::Critical)
        }
        Outcome::DryRun => (format!("dry run: would switch {} over to {to}", s.global), Severity::Info),
        _ => (format!("switching {} over to {to} failed", s.global), Severity::Critical),
    };
    let mut summary = format!(
        "Global database {}: primary {from}, target {to}, healthy and in sync (AuroraGlobalDBReplicationLag {} ms, \
         at most {IN_SYNC_LAG_MS} ms). ",
        s.global, s.lag_ms
    );
    let steps = match (outcome, failure) {
        (_, Some(f)) => {
            summary.push_str(&format!("Step \"{}\" failed: {}.", f.step, f.error));
            vec![format!("Ask again with {}, or switch over in the RDS console.", command(s))]
        }
        (Outcome::DryRun, None) => {
            summary.push_str("Nothing was changed (dry run).");
            if let Some(sentence) = dns.and_then(DnsResult::sentence) {
                summary.push_str(&format!(" {sentence}"));
            }
            vec![format!("To switch over now: invoke the function with {}.", command(s))]
        }
        _ => {
            summary
                .push_str("SwitchoverGlobalCluster was called: no data is lost; writes pause while the roles change. ");
            summary.push_str(&clients(dns, global_endpoint_sentence(s.endpoint.as_deref())));
            let mut steps = vec![
                format!(
                    "Watch the global database with aws rds describe-global-clusters --global-cluster-identifier {}.",
                    s.global
                ),
                format!("The old primary {from} stays as a secondary; switch back the same way."),
            ];
            // Repointed as AWS accepted it (neither side takes writes meanwhile), so a rollback leaves it wrong.
            if let Some(DnsResult::Repointed { record, .. }) = dns {
                steps.push(format!(
                    "If AWS rolls the switchover back ({from} stays the primary), point {record} back at {from}'s \
                     cluster endpoint."
                ));
            }
            steps
        }
    };
    let report = Report::new(FUNCTION, SWITCHOVER_GLOBAL, outcome, severity, title)
        .summary(summary)
        .incident(incident("global", &s.global))
        .resources([s.to.arn.clone()])
        .details(json!({
            "global_cluster": s.global,
            "from": s.from,
            "to": s.to,
            "replication_lag_ms": s.lag_ms,
            "in_sync_lag_ms": IN_SYNC_LAG_MS,
            "dns": dns,
            "failure": failure.map(Failure::json),
        }))
        .steps(steps);
    with_error(report, failure)
}

/// A switchover the guards refuse, with why (the lag, the state, the cooldown).
pub fn global_refused(resource: &str, reason: &str) -> Report {
    let global = resource.strip_prefix("global-cluster:").unwrap_or(resource);
    Report::new(FUNCTION, SWITCHOVER_GLOBAL, Outcome::Refused, Severity::Warning, format!("{global}: switchover refused"))
        .summary(format!("No switchover of global database {global}: {reason}. Nothing was changed."))
        .incident(incident("global", global))
        .details(json!({"global_cluster": global, "reason": reason}))
        .steps([format!(
            "Fix what is named, then ask again; see it with aws rds describe-global-clusters --global-cluster-identifier {global}."
        )])
}

/// The target is the primary already: nothing to do but, for a change of ours just made, the DNS step (`dns`).
/// `action`: the change that found it so ([`SWITCHOVER_GLOBAL`] or [`FAILOVER_GLOBAL`]), as subscribers filter
/// on it.
pub fn global_already_primary(action: &str, global: &str, target: &GlobalMember, dns: Option<DnsResult>) -> Report {
    let sentence = dns.as_ref().and_then(DnsResult::sentence).map(|s| format!(" {s}")).unwrap_or_default();
    Report::new(
        FUNCTION,
        action,
        Outcome::Info,
        Severity::Info,
        format!("{global}: {} is the primary already", target.cluster),
    )
    .summary(format!(
        "{} ({}) is the primary cluster of global database {global}: nothing else was changed.{sentence}",
        target.cluster, target.region
    ))
    .incident(incident("global", global))
    .details(json!({"global_cluster": global, "primary": target, "dns": dns}))
}

/// A detach a run cut short had made, found done and recorded: told now (the run that made it could not), with
/// the DNS step applied again and the old writer's fence named.
pub fn global_detach_completed(
    global: &str,
    target: &GlobalMember,
    from: Option<&str>,
    dns: Option<DnsResult>,
) -> Report {
    let what = format!("detach {} from {global} and promote it", target.cluster);
    let old = from.and_then(|arn| GlobalMember::from_arn(arn, true));
    let clients = dns.as_ref().and_then(DnsResult::sentence).unwrap_or_else(|| {
        format!("The detached cluster {} has its own cluster endpoint: repoint clients to it.", target.cluster)
    });
    let mut steps = vec![format!(
        "See it with aws rds describe-db-clusters --region {} --db-cluster-identifier {}.",
        target.region, target.cluster
    )];
    if let Some(old) = &old {
        steps.push(detached_fence_step(old, global));
    }
    Report::new(FUNCTION, FAILOVER_GLOBAL, Outcome::Succeeded, Severity::Critical, format!("done: {what}"))
        .summary(format!(
            "{} ({}) stands alone, detached from global database {global} by a run that was cut short before it \
             could record it or tell it; recorded done now. {clients}",
            target.cluster, target.region
        ))
        .incident(incident("global", global))
        .resources([target.arn.clone()])
        .details(
            json!({"global_cluster": global, "action": GlobalAction::Detach, "from": old, "to": target, "dns": dns}),
        )
        .steps(steps)
}

/// The step naming the fence of a detached database's old primary, which AWS does not demote.
fn detached_fence_step(old: &GlobalMember, global: &str) -> String {
    format!(
        "The old primary {} ({}) is still the writer of {global} when its region returns, and this function cannot \
         reach it: fence it before clients do, e.g. aws rds modify-db-cluster --region {} --db-cluster-identifier {} \
         --vpc-security-group-ids <a group with no inbound rules> --apply-immediately.",
        old.cluster, old.region, old.region, old.cluster
    )
}

/// A switchover or failover to the same target under way at AWS (`reason` says which): a skip whose retryable
/// fault answers `PromotionInProgress`, so the run is tried again until AWS is done (as [`super::waiting`]).
/// `action`: the change that waits for it ([`SWITCHOVER_GLOBAL`] or [`FAILOVER_GLOBAL`]).
pub fn global_under_way(action: &str, global: &str, reason: String) -> Report {
    let resource = format!("global-cluster:{global}");
    let fault = failover_core::fault::Fault::InProgress { resource, reason: reason.clone() };
    Report::skipped(FUNCTION, action, reason).incident(incident("global", global)).error(fault)
}

/// The facts of a switchover could not be read: nothing was changed; a transient error is retried. (An
/// approval's: [`super::approval_failed`].)
pub fn global_failed(global: &str, error: failover_core::fault::Fault) -> Report {
    Report::new(
        FUNCTION,
        SWITCHOVER_GLOBAL,
        Outcome::Failed,
        Severity::Critical,
        format!("{global}: switchover not decided"),
    )
    .summary(format!("The facts of global database {global} could not be read ({error}). Nothing was changed."))
    .incident(incident("global", global))
    .details(json!({"global_cluster": global, "error": error.to_string()}))
    .error(error)
}

pub const FAILOVER_GLOBAL: &str = "failover-global";

/// An error as people read it in a summary: the AWS operation and its code, not the SDK's whole answer (which
/// the details keep).
pub fn short(fault: &failover_core::fault::Fault) -> String {
    match fault {
        failover_core::fault::Fault::Aws(e) => {
            format!(
                "{} on {} answered {}",
                e.operation,
                e.resource,
                e.code.as_deref().unwrap_or("nothing (no connection)")
            )
        }
        other => other.to_string(),
    }
}

/// The unplanned failover (or the approved detach): planned, done, or failed (with the detach asked for
/// approval when the global APIs failed).
pub fn global_failover(
    f: &GlobalFailover,
    cause: &str,
    outcome: Outcome,
    failure: Option<&Failure>,
    asked: Option<&Approval>,
    dns: Option<&DnsResult>,
) -> Report {
    let what = match f.action {
        GlobalAction::Detach => format!("detach {} from {} and promote it", f.to.cluster, f.global),
        _ => format!("fail {} over to {} ({})", f.global, f.to.cluster, f.to.region),
    };
    let (title, severity) = match outcome {
        Outcome::Succeeded if dns.is_some_and(DnsResult::is_warning) => {
            (format!("done: {what}; clients may not follow"), Severity::Critical)
        }
        Outcome::Succeeded => (format!("done: {what}"), Severity::Critical),
        Outcome::Failed if failure.is_some_and(|f| f.step == GLOBAL_DNS_STEP) => {
            (format!("done: {what}; the DNS record was not repointed"), Severity::Critical)
        }
        Outcome::DryRun => (format!("dry run: would {what}"), Severity::Info),
        _ => (format!("failed: {what}"), Severity::Critical),
    };
    let loss = match (f.loss_ms, f.metric) {
        (Some(l), Some(m)) => format!("{m} {l} ms as of the onset"),
        _ => "unknown".into(),
    };
    let why = match &f.approval {
        Some(a) => format!("approved (decision {}), every guard checked again", a.id),
        None => "the data-loss window is within MAX_GLOBAL_DATA_LOSS_SECONDS".into(),
    };
    let untagged = match f.action {
        GlobalAction::Detach => format!(
            "The detached cluster {} has its own cluster endpoint: repoint clients to it (the global writer endpoint \
             no longer covers it).",
            f.to.cluster
        ),
        _ => global_endpoint_sentence(f.endpoint.as_deref()),
    };
    let clients = clients(dns, untagged);
    let mut summary = format!("Trigger: {cause}. Data-loss window: {loss}; {why}. ");
    let mut steps = Vec::new();
    match (failure, asked) {
        (Some(fail), Some(a)) => {
            summary.push_str(&format!("Step \"{}\" failed: {}. {}", fail.step, short(&fail.error), a.reason));
            steps.push(format!(
                "To detach and promote {}: invoke database-failover with {}",
                f.to.cluster,
                a.approve_command()
            ));
            steps.push(format!("To reject: invoke database-failover with {}", a.reject_command()));
        }
        (Some(fail), None) => summary.push_str(&format!("Step \"{}\" failed: {}.", fail.step, short(&fail.error))),
        (None, _) if outcome == Outcome::DryRun => {
            summary.push_str("Nothing was changed (dry run).");
            if let Some(sentence) = dns.and_then(DnsResult::sentence) {
                summary.push_str(&format!(" {sentence}"));
            }
        }
        (None, _) => {
            summary.push_str(&clients);
            steps.push(format!(
                "Watch it with aws rds describe-global-clusters --global-cluster-identifier {}.",
                f.global
            ));
            // A detached primary is not demoted by AWS: when its region returns it still takes writes.
            match (f.action, &f.from) {
                (GlobalAction::Detach, Some(old)) => steps.push(detached_fence_step(old, &f.global)),
                (GlobalAction::Failover, Some(old)) if f.loss_ms.is_none_or(|l| l > 0.0) => steps.push(format!(
                    "When {} returns, Aurora adds {} back as a secondary and first snapshots its old volume as \
                     rds:unplanned-global-failover-{}-<time>: the writes not replicated survive only there; copy it \
                     before its retention ends.",
                    old.region, old.cluster, old.cluster
                )),
                _ => {}
            }
        }
    }
    let report = Report::new(FUNCTION, FAILOVER_GLOBAL, outcome, severity, title)
        .summary(summary)
        .incident(incident("global", &f.global))
        .resources([f.to.arn.clone()])
        .details(json!({
            "global_cluster": f.global, "action": f.action, "from": f.from, "to": f.to,
            "loss_window_ms": f.loss_ms, "metric": f.metric, "approval": f.approval.as_ref().map(|a| &a.id),
            "clients": clients, "dns": dns, "asked": asked.map(|a| json!({"decision": a.id, "approve": a.approve_command()})),
            "failure": failure.map(Failure::json),
        }))
        .steps(steps);
    with_error(report, failure)
}

/// An unplanned failover the guards refuse.
pub fn global_failover_refused(resource: &str, cause: &str, reason: &str) -> Report {
    let global = resource.strip_prefix("global-cluster:").unwrap_or(resource);
    Report::new(FUNCTION, FAILOVER_GLOBAL, Outcome::Refused, Severity::Warning, format!("{global}: no failover"))
        .summary(format!("Trigger: {cause}. No failover of global database {global}: {reason}. Nothing was changed."))
        .incident(incident("global", global))
        .details(json!({"global_cluster": global, "reason": reason}))
}
