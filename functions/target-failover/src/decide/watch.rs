//! Readiness (pure): is an opted-in target group watched by an alarm that invokes this function? Without one,
//! nothing ever will: the function acts on alarm events only (and on people's commands).
//!
//! An alarm watches a group when its name starts with `ALARM_NAME_PREFIX` (the stack's EventBridge rules route
//! exactly those) and one of its metrics has a dimension the function acts on for that group, as
//! [`crate::route`] routes it: `TargetGroup` = the group's `targetgroup/<name>/<id>`; `InstanceId` = one of its
//! registered instances (an instance alarm takes the instance out of every opted-in group it serves in); or
//! `LoadBalancer` = a load balancer it serves *with* `AvailabilityZone` (a per-zone alarm evacuates the zone for
//! every group behind it). A `LoadBalancer` dimension alone is not routed to any group, so it does not count.

use failover_core::alarms::{watching, Dimensions, WatchingAlarm};

use super::readiness::Gap;
use crate::model::{group_name, group_suffix, is_instance};

/// What a group is seen by: its own dimension, its instances, the load balancers it serves (ARNs).
pub struct Watched<'a> {
    pub group: &'a str,
    pub instances: Vec<&'a str>,
    pub balancers: &'a [String],
}

/// `arn:...:loadbalancer/app/shop/123` → `app/shop/123`, the `LoadBalancer` dimension.
pub fn balancer_dimension(arn: &str) -> &str {
    arn.split_once(":loadbalancer/").map_or(arn, |(_, rest)| rest)
}

/// The alarm that watches the group, if any.
pub fn watcher<'a>(alarms: &'a [WatchingAlarm], prefix: &str, seen: &Watched<'_>) -> Option<&'a WatchingAlarm> {
    let is = |d: &Dimensions, name: &str, value: &str| d.get(name).is_some_and(|v| v == value);
    let watches = |d: &Dimensions| {
        group_suffix(seen.group).is_some_and(|suffix| is(d, "TargetGroup", suffix))
            || seen.instances.iter().any(|id| is(d, "InstanceId", id))
            || (d.contains_key("AvailabilityZone")
                && seen.balancers.iter().any(|lb| is(d, "LoadBalancer", balancer_dimension(lb))))
    };
    watching(alarms, prefix, watches)
}

/// No alarm watches the group: the gap, fixed by deploying `alarms/template.yaml` for it (the target-group
/// alarm behind its first load balancer; without one, its instances' status-check alarms).
pub fn unwatched(alarms: &[WatchingAlarm], prefix: &str, seen: &Watched<'_>) -> Option<Gap> {
    if watcher(alarms, prefix, seen).is_some() {
        return None;
    }
    let name = group_name(seen.group);
    let dimension = group_suffix(seen.group).unwrap_or("targetgroup/<name>/<id>");
    let watch = match (seen.balancers.first(), seen.instances.is_empty()) {
        (Some(lb), _) => {
            let lb = balancer_dimension(lb);
            let namespace = if lb.starts_with("net/") { " LoadBalancerNamespace=AWS/NetworkELB" } else { "" };
            format!("LoadBalancer={lb} TargetGroup={dimension}{namespace}")
        }
        (None, false) => format!("InstanceIds={}", seen.instances.join(",")),
        (None, true) => format!("LoadBalancer=<app/name/id of its load balancer> TargetGroup={dimension}"),
    };
    Some(Gap {
        kind: "no-alarm",
        resource: seen.group.to_owned(),
        problem: format!(
            "no alarm named {prefix}… watches {name} (a TargetGroup dimension, one of its instances' InstanceId, or \
             a per-zone LoadBalancer alarm of its load balancer): nothing will invoke target-failover for it"
        ),
        fix: format!(
            "aws cloudformation deploy --stack-name failover-alarms-{name} --template-file alarms/template.yaml \
             --parameter-overrides AlarmNamePrefix={prefix} Application={name} {watch}"
        ),
    })
}

/// The group's registered instances (an IP or Lambda target has no `InstanceId` alarm).
pub fn instances<'a>(targets: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    targets.into_iter().filter(|id| is_instance(id)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/00000000000000aa";
    const LB: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1111";
    const P: &str = "failover-";

    fn seen<'a>(instances: Vec<&'a str>, balancers: &'a [String]) -> Watched<'a> {
        Watched { group: TG, instances, balancers }
    }

    #[test]
    fn a_prefixed_alarm_on_the_group_an_instance_or_a_zone_of_its_load_balancer_watches_it() {
        let lbs = [LB.to_owned()];
        for alarm in [
            WatchingAlarm::on("failover-web", &[("TargetGroup", "targetgroup/web/00000000000000aa")]),
            WatchingAlarm::on("failover-i-1", &[("InstanceId", "i-1")]),
            WatchingAlarm::on(
                "failover-5xx-a",
                &[("LoadBalancer", "app/shop/1111"), ("AvailabilityZone", "us-east-1a")],
            ),
        ] {
            assert_eq!(unwatched(std::slice::from_ref(&alarm), P, &seen(vec!["i-1"], &lbs)), None, "{alarm:?}");
        }
    }

    #[test]
    fn an_alarm_without_the_prefix_on_another_group_or_on_the_load_balancer_alone_does_not_watch_it() {
        let lbs = [LB.to_owned()];
        let alarms = [
            WatchingAlarm::on("web-unhealthy", &[("TargetGroup", "targetgroup/web/00000000000000aa")]),
            WatchingAlarm::on("failover-api", &[("TargetGroup", "targetgroup/api/00000000000000bb")]),
            WatchingAlarm::on("failover-lb", &[("LoadBalancer", "app/shop/1111")]),
            WatchingAlarm::on("failover-i-9", &[("InstanceId", "i-9")]),
        ];
        let gap = unwatched(&alarms, P, &seen(vec!["i-1"], &lbs)).expect("gap");
        assert_eq!((gap.kind, gap.resource.as_str()), ("no-alarm", TG));
        assert!(gap.problem.starts_with("no alarm named failover-… watches web"), "{}", gap.problem);
        assert_eq!(
            gap.fix,
            "aws cloudformation deploy --stack-name failover-alarms-web --template-file alarms/template.yaml \
             --parameter-overrides AlarmNamePrefix=failover- Application=web LoadBalancer=app/shop/1111 \
             TargetGroup=targetgroup/web/00000000000000aa"
        );
    }

    #[test]
    fn the_fix_names_an_nlb_namespace_or_the_instances_when_no_load_balancer_is_in_front() {
        let net = ["arn:aws:elasticloadbalancing:us-east-1:1:loadbalancer/net/tcp/22".to_owned()];
        let fix = unwatched(&[], P, &seen(Vec::new(), &net)).expect("gap").fix;
        assert!(
            fix.ends_with(
                "LoadBalancer=net/tcp/22 TargetGroup=targetgroup/web/00000000000000aa \
                               LoadBalancerNamespace=AWS/NetworkELB"
            ),
            "{fix}"
        );
        let fix = unwatched(&[], P, &seen(vec!["i-1", "i-2"], &[])).expect("gap").fix;
        assert!(fix.ends_with("Application=web InstanceIds=i-1,i-2"), "{fix}");
        assert_eq!(instances(["i-1", "10.0.0.1", "i-2"]), ["i-1", "i-2"]);
    }
}
