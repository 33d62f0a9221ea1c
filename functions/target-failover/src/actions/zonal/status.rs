//! The zonal section of `status`: for each load balancer of the group (`DescribeTargetGroups`), whether it is
//! registered with ARC zonal shift, and its active shifts (kind, zone, expiry, and whose: this function's per
//! its ledger, or someone else's; when one of ours is held after its alarm's OK, when the hold ends). Read-only: the ledger is read as it is, held or not. A read that fails is
//! said in the section instead of failing the whole status.
//!
//! AWS calls: one `DescribeTargetGroups`; when the group has load balancers, `DescribeAvailabilityZones` (once
//! per sandbox), and per load balancer `GetManagedResource` and, when it is registered, one ledger `Query` of
//! `load-balancer:<ARN>`.

use std::collections::BTreeMap;

use failover_core::ledger::Ledger;
use failover_core::time::format_time;
use serde_json::{json, Value};

use super::facts::{our_shifts, resource};
use crate::actions::hold::{secs, HOLD_UNTIL};
use crate::actions::zonal::reports::balancer_name;
use crate::actions::Context;
use crate::decide::zonal::register_command;
use crate::decide::zonal::{shift_kind_text, zone_name};
use crate::ports::{Ports, Zonal};

/// The zonal state of the group's load balancers: `(details, sentence for the summary, steps)`.
pub async fn section<P: Ports>(ctx: &Context<'_, P>, group: &str) -> (Value, String, Vec<String>) {
    let balancers = match ctx.balancers_of(group).await {
        Ok(balancers) => balancers,
        Err(e) => return (json!({"error": e.to_string()}), format!(" Zonal state not read: {e}."), Vec::new()),
    };
    if balancers.is_empty() {
        return (json!([]), String::new(), Vec::new());
    }
    let ids = ctx.lb.zone_ids().await.unwrap_or_default();
    let (mut details, mut text, mut steps) = (Vec::new(), String::new(), Vec::new());
    for lb in &balancers {
        let (detail, sentence, step) = one(ctx, lb, &ids).await;
        details.push(detail);
        text.push_str(&sentence);
        steps.extend(step);
    }
    (Value::Array(details), text, steps)
}

async fn one<P: Ports>(
    ctx: &Context<'_, P>,
    lb: &str,
    ids: &BTreeMap<String, String>,
) -> (Value, String, Option<String>) {
    let name = balancer_name(lb);
    let managed = match ctx.lb.managed_resource(lb).await {
        Ok(managed) => managed,
        Err(e) => {
            return (
                json!({"load_balancer": lb, "error": e.to_string()}),
                format!(" {name}: zonal state not read: {e}."),
                None,
            )
        }
    };
    let Some(managed) = managed else {
        let detail = json!({"load_balancer": lb, "registered": false});
        let sentence = format!(" Load balancer {name} is not registered with ARC zonal shift.");
        return (detail, sentence, Some(format!("To let a failing zone be evacuated: {}", register_command(lb))));
    };
    // Our shifts' ids, each with the end of its restore hold when held ([`super::hold`]).
    let ours: BTreeMap<String, Option<i64>> = match ctx.session.ledger.read(&resource(lb), ctx.now()).await {
        Ok(snapshot) => our_shifts(&snapshot)
            .into_iter()
            .filter_map(|s| Some((s.id?.to_owned(), secs(s.record, HOLD_UNTIL))))
            .collect(),
        Err(e) => {
            tracing::warn!(load_balancer = %lb, error = %e, "reading the load balancer's ledger for status");
            Default::default()
        }
    };
    let held = |id: Option<&String>| id.and_then(|id| ours.get(id).copied().flatten());
    let shifts: Vec<Value> = managed
        .shifts
        .iter()
        .map(|s| {
            json!({
                "kind": s.kind, "id": s.id, "zone": zone_name(&s.away_from, ids), "az_id": s.away_from,
                "applied": s.applied, "expires_at": s.expires_at.map(format_time),
                "ours": s.id.as_ref().is_some_and(|id| ours.contains_key(id)),
                "held_until": held(s.id.as_ref()).map(format_time),
            })
        })
        .collect();
    let described: Vec<String> = managed
        .shifts
        .iter()
        .map(|s| {
            let whose = if s.id.as_ref().is_some_and(|id| ours.contains_key(id)) { "this function's " } else { "" };
            let until = s.expires_at.map(|t| format!(" until {}", format_time(t))).unwrap_or_default();
            let hold = held(s.id.as_ref())
                .map(|t| format!(", held after its alarm's OK: the zone returns at {}", format_time(t)))
                .unwrap_or_default();
            format!(
                "{whose}{} away from {} ({}){until}{hold}",
                shift_kind_text(s.kind),
                zone_name(&s.away_from, ids),
                s.away_from
            )
        })
        .collect();
    let sentence = if described.is_empty() {
        format!(" Load balancer {name} is registered with ARC zonal shift; no zone is shifted away.")
    } else {
        format!(" Load balancer {name} is registered with ARC zonal shift: {}.", described.join("; "))
    };
    let detail = json!({"load_balancer": lb, "registered": true, "autoshift_enabled": managed.autoshift_enabled,
                        "applied_weights": managed.applied_weights, "shifts": shifts});
    (detail, sentence, None)
}
