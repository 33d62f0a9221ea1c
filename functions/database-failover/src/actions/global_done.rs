//! A change of a global database's primary found done (this region's secondary is the writer, or stands alone
//! after a detach): the pending decision of a run cut short is settled (with `done_at`, from which the cooldown
//! runs, and its approval with who approved it), and the DNS step of our change is applied again within the
//! repoint window ([`super::global_dns::again`]). Told when something was done (as `failover-global`: only the
//! failover's path comes here; the switchover answers its own); a later event that finds it all done is a
//! logged skip.
//!
//! AWS calls: `begin`/`end` to settle (when a decision is pending), then as [`super::global_dns::again`].

use failover_core::fault::Fault;
use failover_core::ledger::{Settle, Snapshot, State, Step};
use failover_core::report::Report;
use serde_json::json;

use super::{global_dns, Context};
use crate::decide::DnsResult;
use crate::model::{Approval, GlobalMember};
use crate::ports::Ports;
use crate::report;

/// `to` is the primary of `global` already; `settle`: the pending decision (key, owner) that made it so.
pub async fn already_primary<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    global: &str,
    to: &GlobalMember,
    settle: Option<(String, String)>,
    dry_run: bool,
) -> Step<Report> {
    if let (Some((key, owner)), false) = (&settle, dry_run) {
        let done = settle_done(snapshot, key, owner, ctx.now());
        if let Some(fault) = ctx.session.settle_only(snapshot, &done).await? {
            tracing::warn!(%fault, resource = snapshot.resource, "global record not settled");
        }
    }
    let settling = settle.as_ref().map(|(k, _)| k.as_str());
    Ok(match global_dns::again(ctx, snapshot, to, settling, dry_run).await {
        // Told when something was done: a decision settled, or the record repointed; a later event of the
        // incident that finds it all done is a logged skip (no page per alarm re-evaluation).
        Ok(dns) if settle.is_some() || matches!(dns, Some(DnsResult::Repointed { .. })) => {
            report::global_already_primary(report::FAILOVER_GLOBAL, global, to, dns)
        }
        Ok(_) => report::skipped(format!("{} is the primary of {global} already: nothing to do", to.cluster)),
        Err(error) => {
            report::global_already_primary(report::FAILOVER_GLOBAL, global, to, None).error(Fault::Aws(error))
        }
    })
}

/// `to` stands alone, detached from `global` by the pending decision `settle` (key, owner) of a run cut short.
pub async fn detached<P: Ports>(
    ctx: &Context<'_, P>,
    snapshot: &Snapshot,
    global: &str,
    to: &GlobalMember,
    (key, owner): (String, String),
    dry_run: bool,
) -> Step<Report> {
    if dry_run {
        return Ok(report::skipped(format!("{} was detached from {global}: nothing to do", to.cluster)));
    }
    let done = settle_done(snapshot, &key, &owner, ctx.now());
    if let Some(fault) = ctx.session.settle_only(snapshot, &done).await? {
        // Told once it is recorded: Lambda's retry (or the next event) settles it.
        return Ok(report::skipped(format!("the detach of {} not recorded yet", to.cluster)).error(fault));
    }
    let from = snapshot.record(&key).and_then(|r| r.data["from"].as_str().map(str::to_owned));
    Ok(match global_dns::again(ctx, snapshot, to, Some(&key), false).await {
        Ok(dns) => report::global_detach_completed(global, to, from.as_deref(), dns),
        Err(error) => report::global_detach_completed(global, to, from.as_deref(), None).error(Fault::Aws(error)),
    })
}

/// Settles `key` (a pending global record `owner` wrote) done, with `done_at` (the cooldown runs from it) and
/// the rest of its data kept; and the approval it acted on, if still pending, done with who approved it.
pub(super) fn settle_done(snapshot: &Snapshot, key: &str, owner: &str, now: i64) -> Vec<Settle> {
    let mut data = snapshot.record(key).map(|r| r.data.clone()).unwrap_or_default();
    data["done_at"] = json!(now);
    let approval = data["approval"]
        .as_str()
        .and_then(|id| snapshot.records.iter().filter_map(Approval::from_ledger).find(|a| a.id == id))
        .filter(|a| a.state == State::Pending);
    let mut settle = Vec::new();
    if let Some(mut a) = approval {
        a.by = a.by.or_else(|| data["approved_by"].as_str().map(str::to_owned));
        a.decided_at = a.decided_at.or(Some(now));
        settle.push(Settle::pending(&a.key, &a.owner, State::Done).with_data(a.data()));
    }
    settle.insert(0, Settle::pending(key, owner, State::Done).with_data(data));
    settle
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Approvable, GlobalAction, GlobalDecision};
    use failover_core::ledger;

    #[test]
    fn a_decision_found_done_settles_with_done_at_and_its_approval_done_by_who_approved() {
        let action = Approvable::FailoverGlobal { global: "g".into(), target: "arn:w".into() };
        let asked = Approval::ask("global-cluster:g", action, (Some(40_000.0), None), "r".into(), 100, 1800);
        let data = GlobalDecision::data(GlobalAction::Failover, Some("arn:e"), "arn:w", 150, Some(40_000.0));
        let data = GlobalDecision::approved(data, Some(&asked.id), Some("ana"));
        let records = vec![
            ledger::Record::pending("global-cluster:g", &asked.key, "req-1", "t", 100, 3600).with_data(asked.data()),
            ledger::Record::pending("global-cluster:g", "global#150", "req-2", "t", 150, 3600).with_data(data),
        ];
        let snapshot = Snapshot { resource: "global-cluster:g".into(), at: 200, version: 1, holder: None, records };
        let settle = settle_done(&snapshot, "global#150", "req-2", 200);
        assert_eq!(settle.len(), 2, "{settle:?}");
        let decision = settle[0].data.as_ref().unwrap();
        assert_eq!((decision["done_at"].as_i64(), decision["approved_by"].as_str()), (Some(200), Some("ana")));
        assert_eq!((settle[1].key.as_str(), settle[1].to), (asked.key.as_str(), State::Done));
        assert_eq!(settle[1].data.as_ref().unwrap()["by"].as_str(), Some("ana"));
    }
}
