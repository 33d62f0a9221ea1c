//! One case per branch of [`super::decide_switchover`].

use super::*;
use crate::model::{Approval, ClusterMember, GlobalAction, GlobalChange};
use failover_core::tags::Tags;

const NOW: i64 = 1_000_000;
const KEY: &str = "failover:enabled";
const EAST: &str = "arn:aws:rds:us-east-1:1:cluster:orders-east";
const WEST: &str = "arn:aws:rds:us-west-2:1:cluster:orders-west";

fn cluster(region: &str, id: &str, status: &str) -> Cluster {
    Cluster {
        region: region.into(),
        id: id.into(),
        status: status.into(),
        members: vec![ClusterMember { id: format!("{id}-1"), writer: false, promotion_tier: 1 }],
        tags: Tags::from([(KEY.to_owned(), "true".to_owned())]),
        engine: "aurora-postgresql".into(),
        ..Default::default()
    }
}

fn healthy() -> SwitchoverFacts {
    SwitchoverFacts {
        global: Some(GlobalCluster {
            id: "orders".into(),
            status: "available".into(),
            members: vec![GlobalMember::from_arn(EAST, true).unwrap(), GlobalMember::from_arn(WEST, false).unwrap()],
            ..Default::default()
        }),
        target_region: "us-west-2".into(),
        target_cluster: "orders-west".into(),
        target: Some(cluster("us-west-2", "orders-west", "available")),
        target_instances: vec![Instance::bare("us-west-2", "w1")],
        primary: Some(cluster("us-east-1", "orders-east", "available")),
        lag: vec![LagPoint { at: NOW - 60, value: 120.0 }, LagPoint { at: NOW - 120, value: 5_000.0 }],
        decisions: vec![],
    }
}

fn reason(plan: GlobalPlan) -> String {
    match plan {
        GlobalPlan::Refuse { reason } => reason,
        other => panic!("expected a refusal, got {other:?}"),
    }
}

fn decision(state: State, done_ago: Option<i64>) -> GlobalDecision {
    GlobalDecision {
        key: "global#1".into(),
        state,
        owner: "req-1".into(),
        action: GlobalAction::Switchover,
        from: Some(EAST.into()),
        to: WEST.into(),
        at: NOW - 100,
        done_at: done_ago.map(|ago| NOW - ago),
        approval: None,
        approved_by: None,
        onset: None,
    }
}

#[test]
fn a_healthy_secondary_in_sync_is_switched_over_to_with_its_newest_lag() {
    let GlobalPlan::Switchover(s) = decide_switchover(&healthy(), NOW, false, KEY) else { panic!() };
    assert_eq!((s.to.arn.as_str(), s.from.map(|m| m.arn), s.lag_ms), (WEST, Some(EAST.to_owned()), 120.0));
    assert_eq!(s.resumed, None);
}

#[test]
fn a_lagging_secondary_is_refused_with_its_lag() {
    let mut f = healthy();
    f.lag.insert(0, LagPoint { at: NOW - 30, value: 4_200.0 });
    let r = reason(decide_switchover(&f, NOW, false, KEY));
    assert!(r.contains("lags 4200 ms") && r.contains("at most 1000 ms"), "{r}");
}

#[test]
fn without_a_recent_lag_datapoint_in_sync_cannot_be_confirmed() {
    let mut f = healthy();
    f.lag = vec![LagPoint { at: NOW - LAG_FRESH_SECS - 60, value: 0.0 }];
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("cannot be confirmed"));
}

#[test]
fn an_unknown_global_database_or_a_target_outside_it_is_refused() {
    let mut f = healthy();
    f.global = None;
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("does not exist"));
    let mut f = healthy();
    f.target_cluster = "elsewhere".into();
    let r = reason(decide_switchover(&f, NOW, false, KEY));
    assert!(r.contains("not a member") && r.contains("us-west-2/orders-west"), "{r}");
}

#[test]
fn a_target_that_is_the_primary_already_is_done_and_settles_its_pending_decision() {
    let mut f = healthy();
    let g = f.global.as_mut().unwrap();
    g.members[0].writer = false;
    g.members[1].writer = true;
    f.decisions = vec![decision(State::Pending, None)];
    let plan = decide_switchover(&f, NOW, false, KEY);
    let GlobalPlan::AlreadyPrimary { settle, .. } = plan else { panic!("{plan:?}") };
    assert_eq!(settle, Some(("global#1".into(), "req-1".into())));
}

#[test]
fn a_pending_decision_is_resumed_after_the_guards_hold_again() {
    let mut f = healthy();
    f.decisions = vec![decision(State::Pending, None)];
    let GlobalPlan::Switchover(s) = decide_switchover(&f, NOW, false, KEY) else { panic!() };
    assert_eq!(s.resumed, Some(("global#1".into(), "req-1".into())));
}

/// [`healthy`] with a change from east to `to` under way at AWS.
fn under_way(to: &str, data_loss_allowed: bool) -> SwitchoverFacts {
    let mut f = healthy();
    let change =
        GlobalChange { status: "pending".into(), from: Some(EAST.into()), to: Some(to.into()), data_loss_allowed };
    f.global.as_mut().unwrap().change = Some(change);
    f
}

#[test]
fn a_change_under_way_at_aws_to_another_cluster_is_refused() {
    let f = under_way("arn:aws:rds:eu-west-1:1:cluster:orders-eu", true);
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("a failover of orders is under way"));
}

#[test]
fn a_change_under_way_at_aws_to_the_same_target_is_under_way_not_refused() {
    let f = under_way(WEST, false);
    let GlobalPlan::UnderWay { global, reason: why } = decide_switchover(&f, NOW, false, KEY) else { panic!() };
    assert_eq!(global, "orders");
    assert!(why.contains("a switchover of orders is under way at AWS (pending"), "{why}");
    assert!(why.contains("orders-west becomes the primary when it ends"), "{why}");
}

#[test]
fn a_switchover_within_the_cooldown_is_refused_unless_forced() {
    let mut f = healthy();
    f.decisions = vec![decision(State::Done, Some(600))];
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("600 s ago"));
    assert!(matches!(decide_switchover(&f, NOW, true, KEY), GlobalPlan::Switchover(_)));
    f.decisions = vec![decision(State::Done, Some(crate::decide::CLUSTER_COOLDOWN_SECS + 1))];
    assert!(matches!(decide_switchover(&f, NOW, false, KEY), GlobalPlan::Switchover(_)));
}

#[test]
fn a_target_not_opted_in_is_refused() {
    let mut f = healthy();
    f.target.as_mut().unwrap().tags = Tags::new();
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("not opted in (failover:enabled=true)"));
}

#[test]
fn an_unhealthy_primary_or_target_is_refused_with_its_status() {
    let mut f = healthy();
    f.primary = Some(cluster("us-east-1", "orders-east", "failing-over"));
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("orders-east is failing-over"));
    let mut f = healthy();
    f.primary = None;
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("could not be described"));
    let mut f = healthy();
    f.target = Some(cluster("us-west-2", "orders-west", "modifying"));
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("orders-west is modifying"));
    let mut f = healthy();
    f.target = None;
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("not found"));
    let mut f = healthy();
    f.target_instances[0].status = "failed".into();
    assert!(reason(decide_switchover(&f, NOW, false, KEY)).contains("w1 failed"));
}

// ---------------------------------------------------------------- the unplanned failover

mod failover {
    use super::*;
    use crate::model::Approvable;

    const ONSET: i64 = NOW;

    fn lost() -> FailoverFacts {
        let f = healthy();
        FailoverFacts {
            global: f.global.unwrap(),
            home_region: "us-west-2".into(),
            primary: PrimarySeen::Down("us-east-1's RDS API did not answer".into()),
            target: f.target,
            target_instances: f.target_instances,
            rpo_lag: vec![LagPoint { at: ONSET - 90, value: 0.0 }],
            replication_lag: vec![],
            onset: ONSET,
            decisions: vec![],
            approvals: vec![],
        }
    }

    fn settings(max_loss_s: f64) -> FailoverSettings {
        FailoverSettings { max_loss_ms: max_loss_s * 1000.0, approval_ttl_secs: 1800, opt_in_tag_key: KEY.into() }
    }

    fn approval(action: Approvable, expires_in: i64) -> Approval {
        let mut a = Approval::ask("global-cluster:orders", action, (Some(40_000.0), None), "r".into(), NOW - 10, 1);
        a.expires_at = NOW + expires_in;
        a
    }

    fn failover_to_west() -> Approvable {
        Approvable::FailoverGlobal { global: "orders".into(), target: WEST.into() }
    }

    #[test]
    fn a_loss_within_the_setting_fails_over_with_the_measured_rpo_lag() {
        let FailoverPlan::Act(a) = decide_global_failover(&lost(), &settings(0.0), NOW, None) else { panic!() };
        assert_eq!(
            (a.action, a.loss_ms, a.metric, a.approval),
            (GlobalAction::Failover, Some(0.0), Some("AuroraGlobalDBRPOLag"), None)
        );
    }

    #[test]
    fn a_loss_beyond_the_setting_asks_for_approval_with_the_window_and_the_expiry() {
        let mut f = lost();
        f.rpo_lag = vec![LagPoint { at: ONSET - 90, value: 40_000.0 }];
        let FailoverPlan::Ask(a) = decide_global_failover(&f, &settings(30.0), NOW, None) else { panic!() };
        assert_eq!((a.loss_ms, a.expires_at, a.action.clone()), (Some(40_000.0), NOW + 1800, failover_to_west()));
        assert!(a.reason.contains("AuroraGlobalDBRPOLag 40000 ms") && a.reason.contains("(30 s)"), "{}", a.reason);
        f.approvals = vec![a.clone()];
        let plan = decide_global_failover(&f, &settings(30.0), NOW + 60, None);
        assert!(matches!(plan, FailoverPlan::Awaiting { id, .. } if id == a.id));
    }

    #[test]
    fn without_rpo_lag_the_replication_lag_counts_and_an_unknown_loss_needs_approval() {
        let mut f = lost();
        f.rpo_lag = vec![];
        f.replication_lag = vec![LagPoint { at: ONSET - 90, value: 500.0 }];
        let FailoverPlan::Act(a) = decide_global_failover(&f, &settings(1.0), NOW, None) else { panic!() };
        assert_eq!(a.metric, Some("AuroraGlobalDBReplicationLag"));
        f.replication_lag = vec![LagPoint { at: ONSET - 900, value: 0.0 }];
        assert!(matches!(decide_global_failover(&f, &settings(3600.0), NOW, None), FailoverPlan::Ask(_)));
    }

    #[test]
    fn an_unexpired_approval_of_exactly_this_failover_or_detach_acts_and_any_other_does_not() {
        let mut f = lost();
        f.rpo_lag = vec![LagPoint { at: ONSET - 90, value: 40_000.0 }];
        let given = approval(failover_to_west(), 60);
        let FailoverPlan::Act(a) = decide_global_failover(&f, &settings(0.0), NOW, Some(&given)) else { panic!() };
        assert_eq!((a.action, a.approval.map(|x| x.id)), (GlobalAction::Failover, Some(given.id.clone())));
        let detach = approval(Approvable::DetachGlobal { global: "orders".into(), target: WEST.into() }, 60);
        let FailoverPlan::Act(a) = decide_global_failover(&f, &settings(0.0), NOW, Some(&detach)) else { panic!() };
        assert_eq!(a.action, GlobalAction::Detach);
        let expired = approval(failover_to_west(), 0);
        assert!(matches!(decide_global_failover(&f, &settings(0.0), NOW, Some(&expired)), FailoverPlan::Ask(_)));
        let elsewhere = approval(Approvable::FailoverGlobal { global: "orders".into(), target: EAST.into() }, 60);
        assert!(matches!(decide_global_failover(&f, &settings(0.0), NOW, Some(&elsewhere)), FailoverPlan::Ask(_)));
    }

    #[test]
    fn an_available_primary_is_not_failed_over_even_when_approved() {
        let mut f = lost();
        f.primary = PrimarySeen::Available;
        let given = approval(failover_to_west(), 60);
        let FailoverPlan::Refuse(r) = decide_global_failover(&f, &settings(0.0), NOW, Some(&given)) else { panic!() };
        assert!(r.contains("answers and is available"), "{r}");
    }

    #[test]
    fn a_secondary_that_is_the_writer_already_is_done_and_a_recent_failover_is_not_repeated() {
        let mut f = lost();
        f.global.members[0].writer = false;
        f.global.members[1].writer = true;
        assert!(matches!(decide_global_failover(&f, &settings(0.0), NOW, None), FailoverPlan::AlreadyPrimary { .. }));
        let mut f = lost();
        f.decisions = vec![GlobalDecision { action: GlobalAction::Failover, ..decision(State::Done, Some(60)) }];
        assert!(
            matches!(decide_global_failover(&f, &settings(0.0), NOW, None), FailoverPlan::Refuse(r) if r.contains("cooldown"))
        );
    }

    #[test]
    fn our_change_still_under_way_is_retried_and_anyone_elses_or_an_old_one_is_skipped() {
        let mut f = lost();
        f.global.change = under_way(WEST, true).global.and_then(|g| g.change);
        let plan = |f: &FailoverFacts| decide_global_failover(f, &settings(0.0), NOW, None);
        let ours = |state, ago| vec![GlobalDecision { action: GlobalAction::Failover, ..decision(state, ago) }];
        assert!(matches!(plan(&f), FailoverPlan::Skip(_)), "not ours: {:?}", plan(&f));
        f.decisions = ours(State::Pending, None);
        assert!(matches!(plan(&f), FailoverPlan::UnderWay { .. }), "a run cut short: {:?}", plan(&f));
        f.decisions = ours(State::Done, Some(60));
        assert!(matches!(plan(&f), FailoverPlan::UnderWay { .. }), "done a minute ago: {:?}", plan(&f));
        f.decisions = ours(State::Done, Some(3_600));
        assert!(matches!(plan(&f), FailoverPlan::Skip(_)), "long ago: {:?}", plan(&f));
    }

    #[test]
    fn a_pending_detach_of_a_cluster_now_standing_alone_is_found_done() {
        let mut f = lost();
        f.global.members.retain(|m| m.region != "us-west-2");
        let plan = |f: &FailoverFacts| decide_global_failover(f, &settings(0.0), NOW, None);
        assert!(matches!(plan(&f), FailoverPlan::Skip(_)), "no decision of ours: {:?}", plan(&f));
        f.decisions = vec![GlobalDecision { action: GlobalAction::Detach, ..decision(State::Pending, None) }];
        let FailoverPlan::Detached { target, settle, .. } = plan(&f) else { panic!("{:?}", plan(&f)) };
        assert_eq!((target.arn.as_str(), settle.0.as_str()), (WEST, "global#1"));
        f.target = None;
        assert!(matches!(plan(&f), FailoverPlan::Skip(_)), "not found standing alone: {:?}", plan(&f));
    }

    #[test]
    fn the_detach_asked_when_the_global_apis_fail_says_what_it_does() {
        let FailoverPlan::Act(a) = decide_global_failover(&lost(), &settings(0.0), NOW, None) else { panic!() };
        let asked = ask_detach(&a, "ServiceUnavailable", NOW, 1800);
        assert_eq!(asked.action, Approvable::DetachGlobal { global: "orders".into(), target: WEST.into() });
        assert!(asked.reason.contains("RemoveFromGlobalCluster") && asked.reason.contains("ServiceUnavailable"));
    }

    #[test]
    fn a_pending_approval_holds_back_a_later_event_that_reads_no_loss() {
        for action in [failover_to_west(), Approvable::DetachGlobal { global: "orders".into(), target: WEST.into() }] {
            let mut f = lost();
            f.approvals = vec![approval(action, 60).at_onset(ONSET - 300)];
            let plan = decide_global_failover(&f, &settings(0.0), NOW, None);
            let FailoverPlan::Awaiting { id, reason } = plan else { panic!("acted alone: {plan:?}") };
            let at = crate::model::format_time(ONSET - 300);
            assert_eq!(reason, format!("awaiting approval {id} (loss 40 s measured at {at})"));
        }
    }

    #[test]
    fn a_rejection_within_the_ttl_refuses_with_who_and_when_and_after_it_the_policy_decides_again() {
        let mut f = lost();
        let mut rejected = approval(failover_to_west(), -60);
        (rejected.state, rejected.by, rejected.decided_at) = (State::Closed, Some("bo".into()), Some(NOW - 60));
        f.approvals = vec![rejected.clone()];
        let FailoverPlan::Refuse(r) = decide_global_failover(&f, &settings(0.0), NOW, None) else { panic!() };
        let at = crate::model::format_time(NOW - 60);
        assert!(r.contains(&format!("rejected by bo at {at}")) && r.contains("failover-global-cluster"), "{r}");
        f.approvals[0].decided_at = Some(NOW - 1800);
        assert!(matches!(decide_global_failover(&f, &settings(0.0), NOW, None), FailoverPlan::Act(_)));
    }

    #[test]
    fn the_incident_onset_is_the_earliest_a_live_approval_or_pending_failover_recorded() {
        let asked = approval(failover_to_west(), 60).at_onset(ONSET - 300);
        assert_eq!(incident_onset(NOW, &[], std::slice::from_ref(&asked), NOW), ONSET - 300);
        assert_eq!(incident_onset(NOW, &[], &[asked], NOW + 60), NOW, "an expired approval holds nothing");
        let failover =
            GlobalDecision { action: GlobalAction::Failover, onset: Some(NOW - 400), ..decision(State::Pending, None) };
        assert_eq!(incident_onset(NOW, std::slice::from_ref(&failover), &[], NOW), NOW - 400);
        let done = GlobalDecision { state: State::Done, ..failover };
        assert_eq!(incident_onset(NOW - 10, &[done], &[], NOW), NOW - 10);
    }

    fn three_regions(home: &str) -> FailoverFacts {
        let mut f = lost();
        f.global.members.push(GlobalMember::from_arn("arn:aws:rds:us-east-2:1:cluster:orders-ohio", false).unwrap());
        f.home_region = home.into();
        f
    }

    #[test]
    fn with_two_secondaries_only_the_lowest_region_acts_and_never_detaches() {
        let FailoverPlan::Refuse(r) = decide_global_failover(&three_regions("us-west-2"), &settings(0.0), NOW, None)
        else {
            panic!()
        };
        assert!(r.contains("only the stack in us-east-2") && r.contains("--region us-east-2"), "{r}");
        let f = three_regions("us-east-2");
        let FailoverPlan::Act(a) = decide_global_failover(&f, &settings(0.0), NOW, None) else { panic!() };
        assert_eq!((a.to.region.as_str(), a.may_detach), ("us-east-2", false));
        let ohio = "arn:aws:rds:us-east-2:1:cluster:orders-ohio".to_owned();
        let detach = approval(Approvable::DetachGlobal { global: "orders".into(), target: ohio }, 60);
        let FailoverPlan::Refuse(r) = decide_global_failover(&f, &settings(0.0), NOW, Some(&detach)) else { panic!() };
        assert!(r.contains("another secondary"), "{r}");
        let FailoverPlan::Act(a) = decide_global_failover(&lost(), &settings(0.0), NOW, None) else { panic!() };
        assert!(a.may_detach, "one secondary: the detach may be asked for");
    }

    #[test]
    fn a_pending_switchover_is_not_resumed_as_a_failover_nor_a_failover_as_a_switchover() {
        let mut f = lost();
        f.decisions = vec![decision(State::Pending, None)];
        let FailoverPlan::Act(a) = decide_global_failover(&f, &settings(0.0), NOW, None) else { panic!() };
        assert_eq!(a.resumed, None);
        f.decisions[0].action = GlobalAction::Failover;
        let FailoverPlan::Act(a) = decide_global_failover(&f, &settings(0.0), NOW, None) else { panic!() };
        assert_eq!(a.resumed, Some(("global#1".into(), "req-1".into())));
        let mut s = healthy();
        s.decisions = f.decisions;
        let GlobalPlan::Switchover(s) = decide_switchover(&s, NOW, false, KEY) else { panic!() };
        assert_eq!(s.resumed, None);
    }
}
