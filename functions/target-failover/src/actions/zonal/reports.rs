//! The zonal actions' notifications. The ones for a change are built from the change's ledger record, so that a
//! retry of an event whose notification was not published (the invocation failed after the change) publishes the
//! same one ([`evacuated`], [`returned`]). No AWS call here: texts only.

use failover_core::notify::Severity;
use failover_core::outcome::Outcome;
use failover_core::report::Report;
use serde_json::{json, Value};

use crate::config::Failback;
use crate::decide::zonal::{register_command, ZoneCounts};
use crate::report::{self, action};

/// `arn:...:loadbalancer/app/shop/123` → `shop`.
pub fn balancer_name(arn: &str) -> &str {
    let suffix = arn.split_once(":loadbalancer/").map_or(arn, |(_, s)| s);
    suffix.split('/').nth(1).unwrap_or(suffix)
}

/// `{"command":"return-zone","load_balancer_arn":"..."}`.
pub fn return_command(lb: &str) -> Value {
    json!({"command": "return-zone", "load_balancer_arn": lb})
}

pub fn not_registered(lb: &str, zone: &str) -> Report {
    let title = format!("{}: not registered with ARC zonal shift", balancer_name(lb));
    report::about(lb, action::ZONAL_SHIFT, Outcome::Refused, Severity::Warning, title)
        .summary(format!(
            "Zone {zone} of {lb} could not be evacuated: the load balancer is not registered with ARC zonal shift \
             (attribute zonal_shift.config.enabled). Nothing was changed."
        ))
        .details(json!({"load_balancer": lb, "zone": zone, "registered": false}))
        .steps([format!("Register it: {}", register_command(lb))])
}

pub fn refused(lb: &str, zone: &str, reason: &str, counts: &[ZoneCounts]) -> Report {
    let title = format!("{}: zone {zone} not evacuated", balancer_name(lb));
    report::about(lb, action::ZONAL_SHIFT, Outcome::Refused, Severity::Critical, title)
        .summary(format!("Zone {zone} of {lb} was not evacuated: {reason}. Nothing was changed."))
        .details(json!({"load_balancer": lb, "zone": zone, "reason": reason, "counts": counts}))
        .steps(["Restore capacity in the other zones, or act by hand.".to_owned()])
}

/// A zone evacuated, from its `zonal-shift#` record's data (zone, AZ ID, why, minutes, counts, shift id, expiry).
pub fn evacuated(lb: &str, data: &Value, failback: Failback) -> Report {
    let text = |key: &str| data.get(key).and_then(Value::as_str).unwrap_or_default();
    let (zone, az_id, id, why) = (text("zone"), text("az_id"), text("shift_id"), text("why"));
    let minutes = data.get("expires_minutes").and_then(Value::as_u64).unwrap_or_default();
    let counts: Vec<ZoneCounts> =
        data.get("counts").cloned().and_then(|c| serde_json::from_value(c).ok()).unwrap_or_default();
    let numbers = counts.iter().map(|c| c.text(zone)).collect::<Vec<_>>().join("; ");
    // Only a zonal alarm's own OK cancels a shift (its record names the alarm); one started by a command or by
    // target alarms (signal 2) ends at its expiry or with `return-zone`.
    let by_alarm = data.get("alarm_arn").and_then(Value::as_str).is_some();
    let back = match failback {
        Failback::Auto if by_alarm => "When the alarm returns to OK, the shift is cancelled automatically.".to_owned(),
        _ => format!(
            "When the zone is healthy, return it with {} (otherwise the shift ends by itself in {minutes} minutes)",
            return_command(lb)
        ),
    };
    let title = format!("{}: zone {zone} evacuated", balancer_name(lb));
    report::about(lb, action::ZONAL_SHIFT, Outcome::Succeeded, Severity::Critical, title)
        .summary(format!(
            "Zone {zone} ({az_id}) of {lb} fails ({why}), so its traffic moves away from it: zonal shift {id}, \
             expiring in {minutes} minutes ({numbers})."
        ))
        .details(json!({"load_balancer": lb, "zone": zone, "az_id": az_id, "expires_minutes": minutes, "why": why,
                        "counts": counts, "shift_id": id, "expires_at": data.get("expires_at")}))
        .steps([format!("Investigate zone {zone}; the other zones take its traffic."), back])
}

/// Shifts cancelled (the zone returns) or found ended, from their closed records' data (shift id, zone,
/// AZ ID, `ended`).
pub fn returned(lb: &str, which: &str, closed: &[&Value]) -> Report {
    let text = |data: &Value, key: &str| data.get(key).and_then(Value::as_str).unwrap_or_default().to_owned();
    let list = |how: &str| {
        let items = closed.iter().filter(|d| text(d, "ended") == how);
        items.map(|d| format!("{} ({})", text(d, "shift_id"), text(d, "zone"))).collect::<Vec<_>>().join(", ")
    };
    let (cancelled, gone) = (list("cancelled"), list("had already ended"));
    let mut summary = String::new();
    if !cancelled.is_empty() {
        summary.push_str(&format!("Cancelled zonal shift {cancelled}: traffic returns to the zone. "));
    }
    if !gone.is_empty() {
        summary.push_str(&format!("Zonal shift {gone} had already ended (expired or cancelled). "));
    }
    let outcome = if cancelled.is_empty() { Outcome::Info } else { Outcome::Succeeded };
    let shifts: Vec<Value> = closed
        .iter()
        .map(|d| {
            json!({"shift_id": d.get("shift_id"), "zone": d.get("zone"), "az_id": d.get("az_id"),
                        "ended": d.get("ended")})
        })
        .collect();
    let title = format!("{}: {which} returned", balancer_name(lb));
    report::about(lb, action::CANCEL_ZONAL_SHIFT, outcome, Severity::Info, title)
        .summary(format!("{summary}The ledger records are closed."))
        .details(json!({"load_balancer": lb, "shifts": shifts}))
}
