//! Recovery that does not flap: when an alarm's OK is evidence of repair, and when it is only an echo of the
//! removal, and which removed targets stay out whatever the OK says.
//!
//! - An alarm whose metric the removal itself silences ([`silenced_by_removal`]) turns OK *because* the target
//!   left: `UnHealthyHostCount` ignores deregistered targets, `HealthyHostCount` and the load balancer's traffic
//!   metrics per target group or per zone (`HTTPCode_Target_5XX_Count`, `TargetResponseTime`, ...) stop counting
//!   a target that gets no traffic. Its OK re-registers only after the hold (`RESTORE_HOLD_MINUTES`), and only
//!   targets that then pass their health check ([`returned`]).
//! - Any other metric (an instance's own CPU, a custom metric, a composite alarm): the OK is the evidence, and
//!   the targets come back at once, as before.
//! - A target removed twice within `FLAP_WINDOW_MINUTES` ([`removed_twice`]) stays out until a person runs
//!   `restore`, whatever the alarm.

use failover_core::intake::AlarmMetric;

use crate::model::{Target, TargetState};

/// The load balancers' CloudWatch namespaces.
const ELB_NAMESPACES: [&str; 3] = ["AWS/ApplicationELB", "AWS/NetworkELB", "AWS/GatewayELB"];

/// Whether removing targets silences the alarm's metric: one of its metrics is a load balancer's metric per
/// target group or per zone (a `TargetGroup` or `AvailabilityZone` dimension). Those count only registered
/// targets, or the traffic they get; a deregistered target is in neither. A metric-math alarm with such a
/// metric among others counts as silenced too: its OK may be the removal's echo.
pub fn silenced_by_removal(metrics: &[AlarmMetric]) -> bool {
    metrics.iter().any(|m| {
        m.namespace.as_deref().is_some_and(|ns| ELB_NAMESPACES.contains(&ns))
            && (m.dimensions.contains_key("TargetGroup") || m.dimensions.contains_key("AvailabilityZone"))
    })
}

/// Whether a zonal shift silences a per-zone alarm's metric: one of its metrics is a load balancer's traffic
/// metric per zone (an `AvailabilityZone` dimension: `HTTPCode_Target_5XX_Count`, `TargetResponseTime`,
/// `RequestCount`...), which counts nothing once the shift moved the zone's traffic away. The health-check
/// counts (`HealthyHostCount`, `UnHealthyHostCount`, `HealthyStateRouting`...) are not: the load balancer
/// goes on checking the zone's targets during a shift, so their OK is evidence of repair. A metric without a
/// name counts as silenced (the hold is the safe side).
pub fn silenced_by_shift(metrics: &[AlarmMetric]) -> bool {
    metrics.iter().any(|m| {
        let health = m.name.as_deref().is_some_and(|name| {
            name.ends_with("HostCount") || name.starts_with("HealthyState") || name.starts_with("UnhealthyState")
        });
        m.namespace.as_deref().is_some_and(|ns| ELB_NAMESPACES.contains(&ns))
            && m.dimensions.contains_key("AvailabilityZone")
            && !health
    })
}

/// One removal as the ledger remembers it (open or closed): its record key, when it began (epoch seconds),
/// and its targets.
pub struct Removal<'a> {
    pub key: &'a str,
    pub at: i64,
    pub targets: Vec<Target>,
}

/// Whether `target`, removed by the removal `key` at `at`, was removed by another removal in the
/// `window_secs` before (or at) that: removed twice within the window, it stays out until a person restores it.
pub fn removed_twice(history: &[Removal<'_>], key: &str, at: i64, target: &Target, window_secs: i64) -> bool {
    history
        .iter()
        .any(|r| r.key != key && r.at <= at && at - r.at <= window_secs && r.targets.iter().any(|t| t.matches(target)))
}

/// What a target registered again after its hold turned out to be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Returned {
    /// It passes its health check (healthy, or health checks disabled): its removal closes.
    Serving,
    /// Still `initial` (the load balancer sends it nothing until it passes): checked again at the next tick.
    Waiting,
    /// Failing its health check, still `initial` after the probation, or no longer registered: taken out again,
    /// it stays out until a person runs `restore`.
    Failing,
}

/// A target registered again `since` (epoch seconds), as `DescribeTargetHealth` shows it now (`None`: not
/// registered): `initial` for longer than `probation_secs` counts as failing.
pub fn returned(state: Option<TargetState>, since: i64, now: i64, probation_secs: i64) -> Returned {
    match state {
        Some(state) if state.serves() => Returned::Serving,
        Some(TargetState::Initial) if now - since <= probation_secs => Returned::Waiting,
        _ => Returned::Failing,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn metric(namespace: &str, name: &str, dimensions: &[&str]) -> AlarmMetric {
        AlarmMetric {
            namespace: Some(namespace.into()),
            name: Some(name.into()),
            dimensions: dimensions.iter().map(|d| ((*d).to_owned(), "x".to_owned())).collect::<BTreeMap<_, _>>(),
            ..AlarmMetric::default()
        }
    }

    #[test]
    fn host_counts_and_traffic_metrics_of_a_group_or_zone_are_silenced_by_a_removal() {
        assert!(silenced_by_removal(&[metric("AWS/ApplicationELB", "UnHealthyHostCount", &["TargetGroup"])]));
        assert!(silenced_by_removal(&[metric("AWS/NetworkELB", "HealthyHostCount", &["TargetGroup"])]));
        let zonal = metric("AWS/ApplicationELB", "HTTPCode_Target_5XX_Count", &["LoadBalancer", "AvailabilityZone"]);
        assert!(silenced_by_removal(&[zonal]));
        let math =
            [metric("Shop", "Errors", &["InstanceId"]), metric("AWS/ApplicationELB", "RequestCount", &["TargetGroup"])];
        assert!(silenced_by_removal(&math));
    }

    #[test]
    fn an_instances_own_metric_or_no_metric_is_evidence_of_repair() {
        assert!(!silenced_by_removal(&[metric("AWS/EC2", "CPUUtilization", &["InstanceId"])]));
        assert!(!silenced_by_removal(&[metric("Shop", "HTTP5xx", &["InstanceId"])]));
        assert!(!silenced_by_removal(&[metric("AWS/ApplicationELB", "RequestCount", &["LoadBalancer"])]));
        assert!(!silenced_by_removal(&[]));
    }

    #[test]
    fn a_zones_traffic_metrics_are_silenced_by_a_shift_and_its_health_check_counts_are_not() {
        let zone = ["LoadBalancer", "AvailabilityZone"];
        for name in ["HTTPCode_Target_5XX_Count", "TargetResponseTime", "RequestCount", "HTTPCode_ELB_5XX_Count"] {
            assert!(silenced_by_shift(&[metric("AWS/ApplicationELB", name, &zone)]), "{name}");
        }
        for name in ["UnHealthyHostCount", "HealthyHostCount", "HealthyStateRouting", "UnhealthyStateDNS"] {
            assert!(!silenced_by_shift(&[metric("AWS/NetworkELB", name, &zone)]), "{name}");
        }
        let unnamed = AlarmMetric { namespace: Some("AWS/ApplicationELB".into()), ..metric("x", "x", &zone) };
        assert!(silenced_by_shift(&[AlarmMetric { name: None, ..unnamed }]));
        assert!(!silenced_by_shift(&[metric("AWS/ApplicationELB", "RequestCount", &["LoadBalancer"])]));
        assert!(!silenced_by_shift(&[metric("Shop", "Errors", &zone)]));
    }

    #[test]
    fn a_target_removed_again_within_the_window_flaps_and_not_after_it() {
        let gray = Target::new("i-1", Some(80));
        let history = [
            Removal { key: "removal#a", at: 1_000, targets: vec![gray.clone()] },
            Removal { key: "removal#b", at: 1_000 + 3_600, targets: vec![gray.clone()] },
            Removal { key: "removal#c", at: 1_000 + 3_601, targets: vec![Target::new("i-2", Some(80))] },
        ];
        assert!(removed_twice(&history, "removal#b", 4_600, &gray, 3_600));
        assert!(!removed_twice(&history, "removal#b", 4_600, &gray, 3_599));
        assert!(!removed_twice(&history, "removal#a", 1_000, &gray, 3_600), "the first removal is not a flap");
        assert!(!removed_twice(&history, "removal#c", 4_601, &Target::new("i-2", Some(80)), 3_600));
    }

    #[test]
    fn a_returned_target_serves_waits_or_fails() {
        assert_eq!(returned(Some(TargetState::Healthy), 0, 10, 600), Returned::Serving);
        assert_eq!(returned(Some(TargetState::Unavailable), 0, 10, 600), Returned::Serving);
        assert_eq!(returned(Some(TargetState::Initial), 0, 600, 600), Returned::Waiting);
        assert_eq!(returned(Some(TargetState::Initial), 0, 601, 600), Returned::Failing);
        assert_eq!(returned(Some(TargetState::Unhealthy), 0, 10, 600), Returned::Failing);
        assert_eq!(returned(None, 0, 10, 600), Returned::Failing);
    }
}
