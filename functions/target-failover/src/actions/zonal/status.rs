//! The zonal section of `status`: for each load balancer of the group (`DescribeTargetGroups`), whether it is
//! registered with ARC zonal shift, and its active shifts (kind, zone, expiry, and whose: this function's per
//! its ledger, or someone else's). Read-only: the ledger is read as it is, held or not. A read that fails is
//! said in the section instead of failing the whole status.
//!
//! AWS calls: one `DescribeTargetGroups`; when the group has load balancers, `DescribeAvailabilityZones` (once
//! per sandbox), and per load balancer `GetManagedResource` and, when it is registered, one ledger `Query` of
//! `load-balancer:<ARN>`.

use std::collections::BTreeMap;

use failover_core::ledger::Ledger;
use failover_core::time::format_time;
use serde_json::{json, Value};

use super::facts::{our_ids, resource};
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
    let ours = match ctx.session.ledger.read(&resource(lb), ctx.now()).await {
        Ok(snapshot) => our_ids(&snapshot),
        Err(e) => {
            tracing::warn!(load_balancer = %lb, error = %e, "reading the load balancer's ledger for status");
            Default::default()
        }
    };
    let shifts: Vec<Value> = managed
        .shifts
        .iter()
        .map(|s| {
            json!({
                "kind": s.kind, "id": s.id, "zone": zone_name(&s.away_from, ids), "az_id": s.away_from,
                "applied": s.applied, "expires_at": s.expires_at.map(format_time),
                "ours": s.id.as_ref().is_some_and(|id| ours.contains(id)),
            })
        })
        .collect();
    let described: Vec<String> = managed
        .shifts
        .iter()
        .map(|s| {
            let whose = if s.id.as_ref().is_some_and(|id| ours.contains(id)) { "this function's " } else { "" };
            let until = s.expires_at.map(|t| format!(" until {}", format_time(t))).unwrap_or_default();
            format!(
                "{whose}{} away from {} ({}){until}",
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
