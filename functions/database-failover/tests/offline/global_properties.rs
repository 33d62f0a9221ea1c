//! The approval gate's promise, over random incidents of an Aurora Global Database whose primary region is lost
//! (`decide_global_failover`, the policy every unplanned failover and every `approve` goes through): no
//! data-losing action (`FailoverGlobalCluster` with `AllowDataLoss`, `RemoveFromGlobalCluster`) is planned
//! without either a measured loss window within `MAX_GLOBAL_DATA_LOSS_SECONDS` or a recorded, unexpired approval
//! of exactly that action; a detach never without an approval; and an approval `judge` refuses (expired,
//! approved or rejected once) never makes an `approve` act; and nothing acts alone while an approval of it is
//! pending or was rejected within the approval TTL.
//!
//! Random: the RPO and replication lag datapoints around the onset (missing, old, -1, any size), the setting,
//! the approvals in the ledger (pending, approved, rejected; of this target or another; any expiry), the
//! approval a person gives (or none), the primary down or not, and the time of the decision.

use database_failover::decide::approval::{judge, valid_for, Answer};
use database_failover::decide::global_db::{
    decide_global_failover, FailoverFacts, FailoverPlan, FailoverSettings, PrimarySeen,
};
use database_failover::model::{
    Approvable, Approval, Cluster, ClusterMember, GlobalAction, GlobalCluster, GlobalMember, Instance, LagPoint,
};
use failover_core::ledger::State;
use proptest::prelude::*;
use test_support::OPT_IN;

const ONSET: i64 = 1_765_000_000;
const EAST: &str = "arn:aws:rds:us-east-1:123456789012:cluster:orders-east";
const WEST: &str = "arn:aws:rds:us-west-2:123456789012:cluster:orders-west";

fn lag() -> impl Strategy<Value = Vec<LagPoint>> {
    prop::collection::vec(
        (0i64..600, prop_oneof![Just(-1.0), 0.0..100_000.0f64, Just(0.0)])
            .prop_map(|(ago, value)| LagPoint { at: ONSET - ago, value }),
        0..4,
    )
}

fn approval() -> impl Strategy<Value = Approval> {
    let state = prop_oneof![Just(State::Pending), Just(State::Done), Just(State::Closed)];
    (any::<bool>(), any::<bool>(), -3_600i64..3_600, state, 0i64..100).prop_map(
        |(detach, other, expires, state, at)| {
            let target = if other { EAST } else { WEST }.to_owned();
            let action = if detach {
                Approvable::DetachGlobal { global: "orders".into(), target }
            } else {
                Approvable::FailoverGlobal { global: "orders".into(), target }
            };
            let mut a = Approval::ask("global-cluster:orders", action, (None, None), "r".into(), ONSET + at, 1);
            a.expires_at = ONSET + expires;
            a.state = state;
            a.decided_at = (state != State::Pending).then_some(ONSET + at);
            a
        },
    )
}

fn facts(rpo: Vec<LagPoint>, replication: Vec<LagPoint>, approvals: Vec<Approval>, down: bool) -> FailoverFacts {
    let target = Cluster {
        region: "us-west-2".into(),
        id: "orders-west".into(),
        arn: WEST.into(),
        status: "available".into(),
        members: vec![ClusterMember { id: "w1".into(), writer: false, promotion_tier: 1 }],
        tags: [(OPT_IN.to_owned(), "true".to_owned())].into(),
        engine: "aurora-postgresql".into(),
        ..Default::default()
    };
    let w1 =
        Instance { cluster: Some("orders-west".into()), promotion_tier: Some(1), ..Instance::bare("us-west-2", "w1") };
    FailoverFacts {
        global: GlobalCluster {
            id: "orders".into(),
            status: "available".into(),
            members: vec![GlobalMember::from_arn(EAST, true).unwrap(), GlobalMember::from_arn(WEST, false).unwrap()],
            ..Default::default()
        },
        home_region: "us-west-2".into(),
        primary: if down { PrimarySeen::Down("unreachable".into()) } else { PrimarySeen::Available },
        target: Some(target),
        target_instances: vec![w1],
        rpo_lag: rpo,
        replication_lag: replication,
        onset: ONSET,
        decisions: vec![],
        approvals,
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2_000, ..ProptestConfig::default() })]

    #[test]
    fn no_data_losing_action_without_a_loss_within_the_setting_or_an_unexpired_approval(
        rpo in lag(),
        replication in lag(),
        approvals in prop::collection::vec(approval(), 0..3),
        given in prop::option::of(approval()),
        max_loss_s in prop_oneof![Just(0.0), 0.0..120.0f64],
        later in 0i64..7_200,
        down in any::<bool>(),
    ) {
        let f = facts(rpo, replication, approvals, down);
        let settings = FailoverSettings { max_loss_ms: max_loss_s * 1000.0, approval_ttl_secs: 1800, opt_in_tag_key: OPT_IN.into() };
        let now = ONSET + later;
        // `approve` hands the policy only an approval `judge` lets through.
        let given = given.filter(|a| judge(&a.id, Some(a), Answer::Approve, now).is_ok());
        let plan = decide_global_failover(&f, &settings, now, given.as_ref());
        if let FailoverPlan::Act(act) = plan {
            // One incident, one decision: never alone while a person is asked, or just said no.
            let holds = f.approvals.iter().any(|a| {
                let ours = matches!(&a.action,
                    Approvable::FailoverGlobal { target, .. } | Approvable::DetachGlobal { target, .. } if target == WEST);
                let rejected_at = a.decided_at.filter(|_| a.state == State::Closed);
                ours && ((a.state == State::Pending && now < a.expires_at)
                    || rejected_at.is_some_and(|at| (0..settings.approval_ttl_secs).contains(&(now - at))))
            });
            prop_assert!(act.approval.is_some() || !holds, "{:?} acted alone while an approval holds it back", act);
            prop_assert!(down, "acted while the primary is available");
            prop_assert_eq!(act.to.arn.as_str(), WEST);
            let approved = act.approval.as_ref().is_some_and(|a| {
                valid_for(a, now)
                    && match (&a.action, act.action) {
                        (Approvable::FailoverGlobal { target, .. }, GlobalAction::Failover) => target == WEST,
                        (Approvable::DetachGlobal { target, .. }, GlobalAction::Detach) => target == WEST,
                        _ => false,
                    }
            });
            let within = act.action == GlobalAction::Failover
                && act.loss_ms.is_some_and(|l| l >= 0.0 && l <= settings.max_loss_ms);
            prop_assert!(approved || within, "{:?} without approval or measured loss within {} ms", act, settings.max_loss_ms);
            if act.action == GlobalAction::Detach {
                prop_assert!(approved, "a detach without approval");
            }
        }
    }
}
