//! Readiness (pure): is an opted-in primary (one with replicas) or Aurora cluster watched by an alarm that
//! invokes this function? An alarm watches it when its name starts with `ALARM_NAME_PREFIX` (the stack's
//! EventBridge rules route exactly those) and one of its metrics has the dimension the function routes on
//! (`crate::route`): `DBInstanceIdentifier` = the primary, `DBClusterIdentifier` = the cluster (RDS identifiers
//! are case-insensitive).
//!
//! RDS events (`FAILURE_EVENT_IDS`, through EventBridge) also invoke the function, with no alarm; but RDS
//! delivers them on a best-effort basis, and a primary that stops serving without failing (hung writes, a
//! saturated disk) sends none. So a missing alarm is reported like the other advisory gaps, with what still
//! triggers the function.

use failover_core::alarms::{watching, WatchingAlarm};

use super::readiness::Gap;
use crate::model::{Cluster, Instance};

/// No prefixed alarm has `dimension` = `id` (`target` is `(arn, id, dimension)`): the gap on `arn`, fixed by
/// deploying `alarms/template.yaml` with the template parameter of that dimension.
fn unwatched(alarms: &[WatchingAlarm], prefix: &str, target: (&str, &str, &str), what: &str) -> Option<Gap> {
    let (arn, id, dimension) = target;
    let watches = |d: &failover_core::alarms::Dimensions| d.get(dimension).is_some_and(|v| v.eq_ignore_ascii_case(id));
    if watching(alarms, prefix, watches).is_some() {
        return None;
    }
    let parameter = if dimension == "DBClusterIdentifier" { "DbClusterIdentifier" } else { "DbInstanceIdentifier" };
    Some(Gap {
        kind: "no-alarm",
        resource: arn.to_owned(),
        problem: format!(
            "no alarm named {prefix}… watches {what} (a {dimension} dimension): only its RDS events (through \
             EventBridge, best effort) will invoke database-failover for it, and a {what} that stops serving \
             without an event goes unnoticed"
        ),
        fix: format!(
            "aws cloudformation deploy --stack-name failover-alarms-{id} --template-file alarms/template.yaml \
             --parameter-overrides AlarmNamePrefix={prefix} Application={id} {parameter}={id}"
        ),
    })
}

/// A primary with replicas that no prefixed alarm watches; a primary without replicas has nothing to fail
/// over to, which `no-eligible-replica` reports already.
pub fn primary_gap(alarms: &[WatchingAlarm], prefix: &str, primary: &Instance) -> Option<Gap> {
    if primary.replicas.is_empty() {
        return None;
    }
    let target = (primary.arn.as_str(), primary.at.id.as_str(), "DBInstanceIdentifier");
    unwatched(alarms, prefix, target, &format!("primary {}", primary.at.id))
}

/// An Aurora cluster that no prefixed alarm watches.
pub fn cluster_gap(alarms: &[WatchingAlarm], prefix: &str, cluster: &Cluster) -> Option<Gap> {
    let target = (cluster.arn.as_str(), cluster.id.as_str(), "DBClusterIdentifier");
    unwatched(alarms, prefix, target, &format!("cluster {}", cluster.id))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decide::readiness::tests::cluster;
    use crate::model::DbRef;

    const P: &str = "failover-";

    fn primary(replicas: &[&str]) -> Instance {
        let mut primary = crate::decide::readiness::tests::primary(&[]);
        primary.replicas = replicas.iter().map(|r| DbRef::new("us-east-1", *r)).collect();
        primary
    }

    #[test]
    fn a_prefixed_alarm_naming_the_primary_or_the_cluster_watches_it() {
        let alarms = [
            WatchingAlarm::on("failover-orders-write-latency", &[("DBInstanceIdentifier", "Orders")]),
            WatchingAlarm::on("failover-catalog", &[("DBClusterIdentifier", "catalog"), ("Role", "WRITER")]),
        ];
        assert_eq!(primary_gap(&alarms, P, &primary(&["orders-r1"])), None);
        assert_eq!(cluster_gap(&alarms, P, &cluster()), None);
    }

    #[test]
    fn an_alarm_without_the_prefix_or_on_a_replica_does_not_watch_the_primary() {
        let alarms = [
            WatchingAlarm::on("orders-write-latency", &[("DBInstanceIdentifier", "orders")]),
            WatchingAlarm::on("failover-orders-r1-lag", &[("DBInstanceIdentifier", "orders-r1")]),
        ];
        let gap = primary_gap(&alarms, P, &primary(&["orders-r1"])).expect("gap");
        assert_eq!((gap.kind, gap.resource.as_str()), ("no-alarm", "arn:aws:rds:us-east-1:123456789012:db:orders"));
        assert!(gap.problem.contains("only its RDS events"), "{}", gap.problem);
        assert_eq!(
            gap.fix,
            "aws cloudformation deploy --stack-name failover-alarms-orders --template-file alarms/template.yaml \
             --parameter-overrides AlarmNamePrefix=failover- Application=orders DbInstanceIdentifier=orders"
        );
        let gap = cluster_gap(&alarms, P, &cluster()).expect("gap");
        assert!(gap.fix.ends_with("Application=catalog DbClusterIdentifier=catalog"), "{}", gap.fix);
    }

    #[test]
    fn a_primary_without_replicas_is_not_judged_on_alarms() {
        assert_eq!(primary_gap(&[], P, &primary(&[])), None);
    }
}
