//! Multi-AZ DB clusters (RDS for MySQL or PostgreSQL, a writer and two readable standbys): how their readers are
//! judged for [`super::decide_cluster`]. Each reader has its own storage, fed by the engine's replication, so a
//! reader behind the writer lacks the writes it has not applied: lag is a guard here, as for read replicas, not
//! an ordering as in Aurora. Each reader is judged as a replica is ([`super::promotion`]: available, opted in,
//! `ReplicaLag` as of the failure's onset known, never -1, at most `MAX_REPLICA_LAG_SECONDS`); the one with the
//! lowest lag takes over ([`least_lagging`]: it lacks the fewest writes), `failover:priority` breaking ties.
//!
//! A person may fail over to a named reader past the lag guard, accepting the loss, with `failover-cluster`
//! and `"force": true` ([`forcible`]); every refusal for lag names that command with the least-lagging reader.

use serde_json::json;

use super::{promotion::replica_verdict, Candidate, Settings, Verdict};
use crate::model::{Cluster, DEFAULT_PRIORITY};

/// Each reader of `cluster` (every member but the writer) judged with its lag (`members`: the cluster's
/// instances with their `ReplicaLag` as of the onset).
pub(super) fn verdicts(cluster: &Cluster, members: &[Candidate], settings: &Settings) -> Vec<Verdict> {
    cluster
        .members
        .iter()
        .filter(|m| !m.writer)
        .map(|m| match members.iter().find(|c| c.instance.at.id == m.id) {
            Some(candidate) => replica_verdict(candidate, &cluster.region, settings),
            None => Verdict {
                id: m.id.clone(),
                region: cluster.region.clone(),
                status: "not found".into(),
                priority: DEFAULT_PRIORITY,
                max_lag: None,
                lag_at: None,
                eligible: false,
                reason: "instance not found".into(),
            },
        })
        .collect()
}

/// The eligible reader with the lowest lag as of the onset; among equal lags, the lowest `failover:priority`,
/// then the identifier. (Read replicas and Aurora readers go by priority first: [`super::best`].)
pub(super) fn least_lagging(verdicts: &[Verdict]) -> Option<usize> {
    let lag = |v: &Verdict| v.max_lag.unwrap_or(f64::INFINITY);
    verdicts
        .iter()
        .enumerate()
        .filter(|(_, v)| v.eligible)
        .min_by(|(_, a), (_, b)| {
            lag(a).total_cmp(&lag(b)).then_with(|| a.priority.cmp(&b.priority)).then_with(|| a.id.cmp(&b.id))
        })
        .map(|(i, _)| i)
}

/// Whether a person's forced `failover-cluster` may take `reader` past the lag guard: it is available and
/// opted in (IAM allows `FailoverDBCluster` only then), whatever its lag.
pub(super) fn forcible(reader: &str, members: &[Candidate], settings: &Settings) -> bool {
    members
        .iter()
        .find(|c| c.instance.at.id == reader)
        .is_some_and(|c| c.instance.status == "available" && c.instance.opted_in(&settings.opt_in_tag_key))
}

/// Why no reader can take over, with each reader's lag and the limit, and the forced command a person can run
/// (to the forcible reader with the lowest lag), when there is one.
pub(super) fn no_reader(cluster: &Cluster, verdicts: &[Verdict], members: &[Candidate], settings: &Settings) -> String {
    // A -1 before the onset: replication was not running, whatever the other datapoints say.
    let broken = |id: &str| members.iter().any(|c| c.instance.at.id == id && c.lag.iter().any(|v| *v < 0.0));
    let lags: Vec<String> = verdicts
        .iter()
        .map(|v| match v.max_lag {
            _ if broken(&v.id) => format!("{} -1 (replication not running)", v.id),
            Some(lag) => format!("{} {lag} s", v.id),
            None => format!("{} {}", v.id, if v.status == "available" { "no lag data" } else { v.status.as_str() }),
        })
        .collect();
    let mut reason = format!(
        "Multi-AZ DB cluster {} has no reader that can take over: ReplicaLag as of the failure's onset {} \
         (MAX_REPLICA_LAG_SECONDS is {} s); a reader behind the writer lacks the writes it has not applied",
        cluster.id,
        lags.join(", "),
        settings.max_replica_lag_seconds
    );
    let least = verdicts.iter().filter(|v| forcible(&v.id, members, settings)).min_by(|a, b| {
        // Unknown or broken replication: last, behind any known lag.
        let lag = |v: &Verdict| v.max_lag.filter(|_| !broken(&v.id)).unwrap_or(f64::INFINITY);
        lag(a).total_cmp(&lag(b)).then_with(|| a.priority.cmp(&b.priority)).then_with(|| a.id.cmp(&b.id))
    });
    if let Some(v) = least {
        reason.push_str(&format!(
            ". To fail over anyway to the least-lagging reader, accepting that loss: {}",
            forced_command(cluster, &v.id)
        ));
    }
    reason
}

/// The `failover-cluster` command that fails `cluster` over to `reader` past the lag guard.
pub(super) fn forced_command(cluster: &Cluster, reader: &str) -> String {
    json!({"command": "failover-cluster", "db_cluster_identifier": cluster.id, "region": cluster.region,
        "target_db_instance_identifier": reader, "force": true})
    .to_string()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use failover_core::notify::Severity;

    use super::super::tests::settings;
    use super::super::{decide_cluster, ClusterFacts, Plan, Trigger};
    use super::*;
    use crate::model::{ClusterMember, Instance, PRIORITY_TAG};

    const NOW: i64 = 1_714_558_032;
    const OPT_IN: &str = "failover:enabled";

    /// Multi-AZ DB cluster `shop`: writer `w`, readers with their `ReplicaLag` as of the onset (seconds; empty:
    /// no datapoint).
    fn shop(readers: &[(&str, &[f64])]) -> ClusterFacts {
        let opted_in = BTreeMap::from([(OPT_IN.to_owned(), "true".to_owned())]);
        let member = |id: &str, writer: bool| ClusterMember { id: id.into(), writer, promotion_tier: 1 };
        let cluster = Cluster {
            region: "us-east-1".into(),
            id: "shop".into(),
            arn: "arn:aws:rds:us-east-1:123456789012:cluster:shop".into(),
            status: "available".into(),
            engine: "mysql".into(),
            instance_class: Some("db.m6gd.large".into()),
            members: std::iter::once(member("w", true))
                .chain(readers.iter().map(|(id, _)| member(id, false)))
                .collect(),
            tags: opted_in.clone(),
            ..Default::default()
        };
        let candidate = |id: &str, lag: &[f64]| {
            let instance =
                Instance { tags: opted_in.clone(), cluster: Some("shop".into()), ..Instance::bare("us-east-1", id) };
            Candidate { instance, lag: lag.to_vec(), lag_at: Some(NOW - 120) }
        };
        let members = std::iter::once(candidate("w", &[])).chain(readers.iter().map(|(id, lag)| candidate(id, lag)));
        ClusterFacts {
            region: "us-east-1".into(),
            id: "shop".into(),
            cluster: Some(cluster),
            members: members.collect(),
            last_failover: None,
            pending: None,
            global: None,
            onset: Some(NOW - 60),
        }
    }

    fn alarm() -> Trigger {
        Trigger::Alarm { name: "failover-shop-writer".into() }
    }

    fn target(plan: &Plan) -> &str {
        match plan {
            Plan::FailoverCluster(c) => &c.target,
            other => panic!("expected a failover, got {other:#?}"),
        }
    }

    fn refusal(plan: &Plan) -> &super::super::Refusal {
        match plan {
            Plan::Refuse(r) => r,
            other => panic!("expected a refusal, got {other:#?}"),
        }
    }

    #[test]
    fn a_multi_az_writer_failure_should_fail_over_to_the_least_lagging_reader_as_of_the_onset() {
        let f = shop(&[("r-slow", &[4.0, 2.0]), ("r-fast", &[1.0, 0.5])]);
        let plan = decide_cluster(&alarm(), &f, &settings(), NOW);
        assert_eq!(target(&plan), "r-fast");
        let Plan::FailoverCluster(c) = &plan else { unreachable!() };
        assert_eq!(c.topology, crate::model::Topology::MultiAzCluster);
        assert_eq!(c.readers.iter().map(|v| v.max_lag).collect::<Vec<_>>(), [Some(4.0), Some(1.0)], "in seconds");
    }

    #[test]
    fn the_least_lag_comes_before_failover_priority_which_breaks_ties_and_no_reader_down_is_chosen() {
        let mut f = shop(&[("r-fast", &[1.0]), ("r-preferred", &[9.0]), ("r-down", &[0.0])]);
        f.members[2].instance.tags.insert(PRIORITY_TAG.into(), "1".into());
        f.members[3].instance.status = "failed".into();
        assert_eq!(target(&decide_cluster(&alarm(), &f, &settings(), NOW)), "r-fast", "it lacks fewer writes");
        f.members[2].lag = vec![1.0];
        assert_eq!(target(&decide_cluster(&alarm(), &f, &settings(), NOW)), "r-preferred", "equal lag: priority");
        f.members[2].instance.tags.remove(OPT_IN);
        assert_eq!(target(&decide_cluster(&alarm(), &f, &settings(), NOW)), "r-fast");
    }

    #[test]
    fn a_reader_above_the_lag_limit_or_without_lag_data_or_with_broken_replication_is_not_eligible() {
        let f = shop(&[("r-behind", &[45.0, 3.0]), ("r-ok", &[12.0]), ("r-blind", &[]), ("r-broken", &[-1.0])]);
        let plan = decide_cluster(&alarm(), &f, &settings(), NOW);
        assert_eq!(target(&plan), "r-ok", "lag is a guard, not only an ordering");
        let Plan::FailoverCluster(c) = &plan else { unreachable!() };
        let reason = |id: &str| c.readers.iter().find(|v| v.id == id).unwrap().reason.clone();
        assert!(reason("r-behind").contains("45 s, above MAX_REPLICA_LAG_SECONDS (30 s)"), "{}", reason("r-behind"));
        assert!(reason("r-blind").contains("ReplicaLag unknown"), "{}", reason("r-blind"));
        assert!(reason("r-broken").contains("-1"), "{}", reason("r-broken"));
    }

    #[test]
    fn all_readers_lagging_should_refuse_with_the_numbers_and_the_forced_command() {
        let f = shop(&[("r-a", &[95.0]), ("r-b", &[40.0]), ("r-c", &[]), ("r-d", &[-1.0, 0.5])]);
        let plan = decide_cluster(&alarm(), &f, &settings(), NOW);
        let r = refusal(&plan);
        assert_eq!(r.severity, Severity::Critical);
        for said in ["r-a 95 s", "r-b 40 s", "r-c no lag data", "r-d -1 (replication not running)", "is 30 s"] {
            assert!(r.reason.contains(said), "{said} in {}", r.reason);
        }
        let forced = forced_command(f.cluster.as_ref().unwrap(), "r-b");
        assert!(r.reason.ends_with(&forced), "the least-lagging reader's forced command: {}", r.reason);
        assert!(forced.contains(r#""force":true"#) && forced.contains(r#""target_db_instance_identifier":"r-b""#));
    }

    #[test]
    fn a_forced_failover_cluster_takes_a_named_lagging_reader_and_an_unforced_one_names_the_force() {
        let f = shop(&[("r-a", &[95.0]), ("r-b", &[40.0])]);
        let named = |force| Trigger::ManualFailover { target: Some("r-a".into()), force };
        let unforced = decide_cluster(&named(false), &f, &settings(), NOW);
        assert!(refusal(&unforced).reason.contains(r#""force":true"#), "{unforced:#?}");
        assert_eq!(target(&decide_cluster(&named(true), &f, &settings(), NOW)), "r-a");
        // Never past availability or opt-in, forced or not.
        let mut down = f.clone();
        down.members[1].instance.status = "failed".into();
        let refused = decide_cluster(&named(true), &down, &settings(), NOW);
        assert!(!refusal(&refused).reason.contains("force"), "{refused:#?}");
    }

    #[test]
    fn a_cluster_of_another_engine_is_not_ours() {
        let mut f = shop(&[("r-fast", &[1.0])]);
        f.cluster.as_mut().unwrap().engine = "neptune".into();
        match decide_cluster(&alarm(), &f, &settings(), NOW) {
            Plan::Skip { reason } => assert!(reason.contains("neptune"), "{reason}"),
            other => panic!("{other:#?}"),
        }
    }
}
