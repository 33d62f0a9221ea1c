use std::collections::BTreeMap;

use super::*;
use failover_core::ledger::State;

use crate::model::{Cluster, ClusterMember, DEFAULT_PRIORITY, PRIORITY_TAG};

const EAST: &str = "us-east-1";
const WEST: &str = "us-west-2";
const NOW: i64 = 1_714_558_032; // 2024-05-01T10:07:12Z

/// The default settings (opt-in `failover:enabled`, 30 s of lag at most); `multi_az.rs`'s tests use them too.
pub(super) fn settings() -> Settings {
    Settings {
        opt_in_tag_key: "failover:enabled".into(),
        promote_when_available: false,
        max_replica_lag_seconds: 30.0,
        allow_cross_region: false,
        decision_ttl_secs: 3600,
    }
}

fn instance(region: &str, id: &str, status: &str) -> Instance {
    Instance {
        arn: format!("arn:aws:rds:{region}:123456789012:db:{id}"),
        status: status.into(),
        endpoint: Some(format!("{id}.abc.{region}.rds.amazonaws.com")),
        tags: BTreeMap::from([("failover:enabled".to_owned(), "true".to_owned())]),
        ..Instance::bare(region, id)
    }
}

fn primary(status: &str) -> Instance {
    instance(EAST, "orders", status)
}

fn replica(region: &str, id: &str, lag: &[f64]) -> Candidate {
    let mut i = instance(region, id, "available");
    i.source = Some(DbRef::new(EAST, "orders"));
    Candidate { instance: i, lag: lag.to_vec(), lag_at: None }
}

fn with_tag(mut c: Candidate, key: &str, value: &str) -> Candidate {
    c.instance.tags.insert(key.into(), value.into());
    c
}

fn facts(primary: PrimaryState, replicas: Vec<Candidate>) -> PromotionFacts {
    PromotionFacts {
        primary_ref: DbRef::new(EAST, "orders"),
        primary,
        replicas,
        record: None,
        recorded: None,
        undescribed: Vec::new(),
        onset: None,
    }
}

fn failure() -> Trigger {
    Trigger::FailureEvent { event_id: "RDS-EVENT-0031".into(), message: "failed".into() }
}

fn alarm() -> Trigger {
    Trigger::Alarm { name: "failover-orders-write-latency".into() }
}

fn promoted(plan: &Plan) -> &Promotion {
    match plan {
        Plan::Promote(p) => p,
        other => panic!("expected a promotion, got {other:#?}"),
    }
}

fn refused(plan: &Plan) -> &Refusal {
    match plan {
        Plan::Refuse(r) => r,
        other => panic!("expected a refusal, got {other:#?}"),
    }
}

fn skipped(plan: &Plan) -> &str {
    match plan {
        Plan::Skip { reason } => reason,
        other => panic!("expected a skip, got {other:#?}"),
    }
}

// ------------------------------------------------------------------ choosing a replica

#[test]
fn when_primary_failed_should_promote_the_lowest_lag_replica_and_record_it() {
    let f = facts(
        PrimaryState::Found(primary("failed")),
        vec![replica(EAST, "r-slow", &[12.0, 3.0]), replica(EAST, "r-fast", &[2.0, 1.0])],
    );
    let plan = decide_promotion(&failure(), &f, &settings(), NOW);
    let p = promoted(&plan);
    assert_eq!(p.replica, DbRef::new(EAST, "r-fast"));
    assert_eq!((&p.record.subject, p.record.at.as_str()), (&p.replica, "2024-05-01T10:07:12Z"));
    assert_eq!(p.record.state, State::Pending, "a new decision is written pending");
    assert_eq!(p.primary_arn.as_deref(), Some("arn:aws:rds:us-east-1:123456789012:db:orders"));
    assert!(!p.resumed);
    assert_eq!(p.replicas.len(), 2);
    assert!(p.replicas.iter().all(|v| v.eligible));
}

#[test]
fn when_priorities_differ_the_lower_priority_tag_should_win_over_lower_lag() {
    let f = facts(
        PrimaryState::Found(primary("failed")),
        vec![replica(EAST, "r-fast", &[1.0]), with_tag(replica(EAST, "r-preferred", &[20.0]), PRIORITY_TAG, "10")],
    );
    assert_eq!(promoted(&decide_promotion(&failure(), &f, &settings(), NOW)).replica.id, "r-preferred");
}

#[test]
fn when_priority_tag_is_not_a_number_should_use_the_default_and_say_so() {
    let f = facts(
        PrimaryState::Found(primary("failed")),
        vec![with_tag(replica(EAST, "r1", &[5.0]), PRIORITY_TAG, "high"), replica(EAST, "r2", &[1.0])],
    );
    let plan = decide_promotion(&failure(), &f, &settings(), NOW);
    let p = promoted(&plan);
    assert_eq!(p.replica.id, "r2");
    assert_eq!(p.replicas[0].priority, DEFAULT_PRIORITY);
    assert!(p.replicas[0].reason.contains("not a number"), "{}", p.replicas[0].reason);
}

#[test]
fn when_every_replica_lags_should_refuse_listing_each() {
    let f = facts(
        PrimaryState::Found(primary("failed")),
        vec![
            replica(EAST, "r-high", &[45.0, 10.0]),
            replica(EAST, "r-stopped", &[5.0, -1.0]),
            replica(EAST, "r-nodata", &[]),
        ],
    );
    let plan = decide_promotion(&failure(), &f, &settings(), NOW);
    let r = refused(&plan);
    assert_eq!(r.severity, Severity::Critical);
    assert!(r.reason.contains("no replica is safe"), "{}", r.reason);
    let reasons: Vec<&str> = r.replicas.iter().map(|v| v.reason.as_str()).collect();
    assert!(reasons[0].contains("45 s, above MAX_REPLICA_LAG_SECONDS (30 s)"), "{reasons:?}");
    assert!(reasons[1].contains("-1"), "{reasons:?}");
    assert!(reasons[2].contains("no data"), "{reasons:?}");
}

#[test]
fn when_lag_equals_the_limit_the_replica_should_still_be_eligible() {
    let f = facts(PrimaryState::Found(primary("failed")), vec![replica(EAST, "r1", &[30.0])]);
    assert_eq!(promoted(&decide_promotion(&failure(), &f, &settings(), NOW)).replica.id, "r1");
}

#[test]
fn when_replicas_are_unavailable_or_not_opted_in_they_should_not_be_chosen() {
    let mut busy = replica(EAST, "r-busy", &[1.0]);
    busy.instance.status = "backing-up".into();
    let mut untagged = replica(EAST, "r-untagged", &[1.0]);
    untagged.instance.tags.clear();
    let f = facts(PrimaryState::Found(primary("failed")), vec![busy, untagged, replica(EAST, "r-ok", &[9.0])]);
    let plan = decide_promotion(&failure(), &f, &settings(), NOW);
    let p = promoted(&plan);
    assert_eq!(p.replica.id, "r-ok");
    assert_eq!(p.replicas[0].reason, "status is backing-up");
    assert!(p.replicas[1].reason.contains("not opted in"));
}

#[test]
fn when_a_replica_is_tagged_true_in_another_case_or_with_spaces_it_should_not_be_eligible_nor_promoted() {
    // IAM compares the opt-in tag with StringEquals: ` TRUE `, `TRUE` or ` true` would be refused by IAM.
    for value in [" TRUE ", "TRUE", " true", "True"] {
        let loose = with_tag(replica(EAST, "r-loose", &[0.0]), "failover:enabled", value);
        let f = facts(PrimaryState::Found(primary("failed")), vec![loose.clone(), replica(EAST, "r-ok", &[9.0])]);
        let p = promoted(&decide_promotion(&failure(), &f, &settings(), NOW)).clone();
        assert_eq!(p.replica.id, "r-ok", "{value:?}");
        assert!(!p.replicas[0].eligible && p.replicas[0].reason.contains("not opted in"), "{value:?}");
        let only = facts(PrimaryState::Found(primary("failed")), vec![loose]);
        let r = refused(&decide_promotion(&failure(), &only, &settings(), NOW)).clone();
        assert_eq!(r.severity, Severity::Critical, "{value:?}");
    }
}

#[test]
fn when_the_primary_or_cluster_is_tagged_true_in_another_case_or_with_spaces_it_should_be_skipped() {
    for value in [" TRUE ", "TRUE", " true"] {
        let mut p = primary("failed");
        p.tags.insert("failover:enabled".into(), value.into());
        let f = facts(PrimaryState::Found(p), vec![replica(EAST, "r1", &[1.0])]);
        assert!(skipped(&decide_promotion(&failure(), &f, &settings(), NOW)).contains("not opted in"), "{value:?}");
        let mut c = cluster(&[("w", true, 1), ("r", false, 1)], "available");
        c.cluster.as_mut().unwrap().tags.insert("failover:enabled".into(), value.into());
        assert!(skipped(&decide_cluster(&alarm(), &c, &settings(), NOW)).contains("not opted in"), "{value:?}");
    }
}

#[test]
fn when_the_primary_has_no_replica_should_refuse_critically() {
    let plan = decide_promotion(&failure(), &facts(PrimaryState::Found(primary("failed")), vec![]), &settings(), NOW);
    let r = refused(&plan);
    assert_eq!(r.severity, Severity::Critical);
    assert!(r.reason.contains("no read replica"), "{}", r.reason);
}

// ------------------------------------------------------------------ confirming the failure

#[test]
fn when_an_alarm_fires_on_an_available_primary_should_refuse_with_a_warning() {
    let f = facts(PrimaryState::Found(primary("available")), vec![replica(EAST, "r1", &[1.0])]);
    let plan = decide_promotion(&alarm(), &f, &settings(), NOW);
    let r = refused(&plan);
    assert_eq!(r.severity, Severity::Warning);
    assert!(r.reason.contains("PROMOTE_WHEN_AVAILABLE is false"), "{}", r.reason);
    assert_eq!(r.replicas.len(), 1, "the replicas are still reported");
}

#[test]
fn when_promote_when_available_is_set_an_alarm_should_promote_an_available_primary() {
    let f = facts(PrimaryState::Found(primary("available")), vec![replica(EAST, "r1", &[1.0])]);
    let s = Settings { promote_when_available: true, ..settings() };
    assert_eq!(promoted(&decide_promotion(&alarm(), &f, &s, NOW)).replica.id, "r1");
}

#[test]
fn when_the_primary_is_rebooting_should_refuse_even_with_promote_when_available() {
    let f = facts(PrimaryState::Found(primary("rebooting")), vec![replica(EAST, "r1", &[1.0])]);
    let s = Settings { promote_when_available: true, ..settings() };
    assert!(refused(&decide_promotion(&failure(), &f, &s, NOW)).reason.contains("rebooting"));
}

#[test]
fn every_documented_down_status_should_count_as_down_unless_it_is_fixed_in_place() {
    for status in crate::model::DOWN_STATUSES.iter().filter(|s| !FIX_IN_PLACE_STATUSES.contains(s)) {
        let f = facts(PrimaryState::Found(primary(status)), vec![replica(EAST, "r1", &[1.0])]);
        assert_eq!(promoted(&decide_promotion(&failure(), &f, &settings(), NOW)).primary_status, *status);
    }
}

fn fixed(plan: &Plan) -> &FixInPlace {
    match plan {
        Plan::FixInPlace(f) => f,
        other => panic!("expected a fix in place, got {other:#?}"),
    }
}

fn manual(id: &str, force: bool) -> Trigger {
    Trigger::ManualPromote { replica: DbRef::new(EAST, id), force }
}

// ------------------------------------------------------------------ fix in place means never promote

#[test]
fn when_the_primary_is_fixed_in_place_no_trigger_but_a_forced_promote_should_promote() {
    let replica_side = Trigger::ReplicaSide { replica: DbRef::new(EAST, "r1"), cause: "RDS-EVENT-0045".into() };
    let restart_error = Trigger::FailureEvent { event_id: "RDS-EVENT-0022".into(), message: "restart error".into() };
    let kinds = [FixKind::Storage, FixKind::Parameters, FixKind::EncryptionKey, FixKind::EncryptionKey];
    for (status, kind) in FIX_IN_PLACE_STATUSES.iter().zip(kinds) {
        let f =
            facts(PrimaryState::Found(primary(status)), vec![replica(EAST, "r0", &[9.0]), replica(EAST, "r1", &[1.0])]);
        let s = Settings { promote_when_available: true, ..settings() };
        for trigger in
            [failure(), restart_error.clone(), alarm(), replica_side.clone(), manual("r1", false), Trigger::Status]
        {
            let plan = decide_promotion(&trigger, &f, &s, NOW);
            let fix = fixed(&plan);
            assert_eq!((fix.kind, fix.primary.status.as_str()), (kind, *status), "{trigger:?}");
            assert_eq!(fix.replica, Some(DbRef::new(EAST, "r1")), "the best replica, for the forced command");
        }
        assert!(Plan::FixInPlace(fixed(&decide_promotion(&Trigger::Status, &f, &s, NOW)).clone())
            .would(EAST)
            .contains("would not promote"));
        assert_eq!(promoted(&decide_promotion(&manual("r0", true), &f, &s, NOW)).replica.id, "r0", "forced");
    }
}

#[test]
fn when_a_fixed_in_place_primary_has_no_safe_replica_the_fix_should_name_its_first_replica() {
    let f = facts(PrimaryState::Found(primary("storage-full")), vec![replica(EAST, "r-lagging", &[99.0])]);
    assert_eq!(fixed(&decide_promotion(&alarm(), &f, &settings(), NOW)).replica, Some(DbRef::new(EAST, "r-lagging")));
    let alone = facts(PrimaryState::Found(primary("storage-full")), vec![]);
    assert_eq!(fixed(&decide_promotion(&alarm(), &alone, &settings(), NOW)).replica, None);
}

#[test]
fn when_a_pending_decision_meets_a_fixed_in_place_primary_it_should_be_abandoned_unless_forced() {
    let f = pending(PrimaryState::Found(primary("storage-full")), replica(EAST, "r-chosen", &[0.0]));
    let a = decide_promotion(&alarm(), &f, &settings(), NOW);
    assert!(abandoned(&a).reason.contains("fixed in place"), "{a:#?}");
    assert!(promoted(&decide_promotion(&manual("r-chosen", true), &f, &settings(), NOW)).resumed);
}

#[test]
fn fix_kinds_follow_the_status_and_the_event() {
    assert_eq!(FixKind::of_status("storage-full"), Some(FixKind::Storage));
    assert_eq!(FixKind::of_status("incompatible-parameters"), Some(FixKind::Parameters));
    assert_eq!(FixKind::of_status("inaccessible-encryption-credentials"), Some(FixKind::EncryptionKey));
    assert_eq!(FixKind::of_status("failed"), None);
    assert_eq!(FixKind::of_status("incompatible-network"), None, "a network a person cannot fix by a modify");
    assert_eq!(
        (FixKind::of_event("RDS-EVENT-0221"), FixKind::of_event("RDS-EVENT-0035")),
        (FixKind::Storage, FixKind::Parameters)
    );
}

#[test]
fn when_the_primary_is_not_opted_in_should_skip() {
    let mut p = primary("failed");
    p.tags.insert("failover:enabled".into(), "false".into());
    let f = facts(PrimaryState::Found(p), vec![replica(EAST, "r1", &[1.0])]);
    assert!(skipped(&decide_promotion(&failure(), &f, &settings(), NOW)).contains("not opted in"));
}

#[test]
fn when_the_described_instance_is_a_replica_or_aurora_member_should_skip() {
    let mut p = primary("failed");
    p.source = Some(DbRef::new(EAST, "other"));
    assert!(skipped(&decide_promotion(&failure(), &facts(PrimaryState::Found(p), vec![]), &settings(), NOW))
        .contains("read replica"));
    let mut a = primary("failed");
    a.cluster = Some("catalog".into());
    assert!(skipped(&decide_promotion(&failure(), &facts(PrimaryState::Found(a), vec![]), &settings(), NOW))
        .contains("Aurora"));
}

#[test]
fn when_the_primary_is_missing_should_promote_from_the_replicas_that_name_it() {
    let f = facts(PrimaryState::Missing, vec![replica(EAST, "r1", &[3.0])]);
    let plan = decide_promotion(&failure(), &f, &settings(), NOW);
    let p = promoted(&plan);
    assert_eq!(p.primary_arn, None, "no primary to tag: the record goes on the replica");
    assert_eq!(p.primary_status, "not found");
}

#[test]
fn when_the_primary_is_missing_and_no_replica_is_opted_in_should_skip() {
    let mut r = replica(EAST, "r1", &[3.0]);
    r.instance.tags.clear();
    assert!(skipped(&decide_promotion(&failure(), &facts(PrimaryState::Missing, vec![r]), &settings(), NOW))
        .contains("none of its replicas is opted in"));
}

// ------------------------------------------------------------------ never twice

/// A done promotion of `replica_id` at `at` when the replica is standalone now, a pending one otherwise.
fn recorded(f: PromotionFacts, replica_id: &str, at: i64, now_state: Option<Instance>) -> PromotionFacts {
    let state = if now_state.as_ref().is_some_and(|i| i.source.is_none()) { State::Done } else { State::Pending };
    let record = Record::new(DbRef::new(EAST, replica_id), at).with_state(state);
    PromotionFacts { record: Some(record), recorded: now_state, ..f }
}

#[test]
fn when_a_record_names_a_replica_already_promoted_should_promote_nothing_else() {
    let standalone = instance(EAST, "r-chosen", "available");
    let f = recorded(
        facts(PrimaryState::Found(primary("failed")), vec![replica(EAST, "r-other", &[0.0])]),
        "r-chosen",
        NOW - 60,
        Some(standalone),
    );
    match decide_promotion(&failure(), &f, &settings(), NOW) {
        Plan::AlreadyPromoted { replica, repoint, .. } => {
            assert_eq!(replica.id, "r-chosen");
            assert!(repoint, "a minute after the record, the DNS step is re-applied");
        }
        other => panic!("{other:#?}"),
    }
    match decide_promotion(&failure(), &f, &settings(), NOW + REPOINT_WINDOW_SECS) {
        Plan::AlreadyPromoted { repoint, .. } => assert!(!repoint, "later, DNS is left alone"),
        other => panic!("{other:#?}"),
    }
}

#[test]
fn when_a_record_names_a_replica_not_yet_promoted_should_complete_that_promotion() {
    let chosen = replica(EAST, "r-chosen", &[20.0]);
    let f = recorded(
        facts(PrimaryState::Found(primary("failed")), vec![chosen.clone(), replica(EAST, "r-better", &[0.0])]),
        "r-chosen",
        NOW - 60,
        Some(chosen.instance),
    );
    let plan = decide_promotion(&failure(), &f, &settings(), NOW);
    let p = promoted(&plan);
    assert_eq!(p.replica.id, "r-chosen", "the recorded choice stands, even if another now looks better");
    assert!(p.resumed);
    assert_eq!(p.record.at_secs, Some(NOW - 60), "the original record is kept");
}

fn abandoned(plan: &Plan) -> &Abandonment {
    match plan {
        Plan::Abandon(a) => a,
        other => panic!("expected an abandonment, got {other:#?}"),
    }
}

#[test]
fn when_the_recorded_replica_is_gone_or_broken_the_decision_should_be_abandoned_rather_than_another_chosen() {
    let base = facts(PrimaryState::Found(primary("failed")), vec![replica(EAST, "r-other", &[0.0])]);
    let gone = recorded(base.clone(), "r-chosen", NOW - 60, None);
    assert!(abandoned(&decide_promotion(&failure(), &gone, &settings(), NOW)).reason.contains("no longer exists"));
    let mut broken = replica(EAST, "r-chosen", &[]).instance;
    broken.status = "failed".into();
    let broken = recorded(base, "r-chosen", NOW - 60, Some(broken));
    let a = decide_promotion(&failure(), &broken, &settings(), NOW);
    assert!(abandoned(&a).reason.contains("status is failed"), "{a:#?}");
    assert_eq!(abandoned(&a).record.subject.id, "r-chosen");
}

/// A pending decision for `chosen` (a replica of `orders`), decided a minute ago, with the primary `primary`.
fn pending(primary: PrimaryState, chosen: Candidate) -> PromotionFacts {
    let id = chosen.instance.at.id.clone();
    recorded(facts(primary, vec![chosen.clone()]), &id, NOW - 60, Some(chosen.instance))
}

#[test]
fn when_the_primary_recovered_a_pending_decision_should_be_abandoned_on_a_reboot_event() {
    let f = pending(PrimaryState::Found(primary("available")), replica(EAST, "r-chosen", &[0.0]));
    let reboot = Trigger::FailureEvent { event_id: "RDS-EVENT-0004".into(), message: "DB instance shutdown".into() };
    let a = decide_promotion(&reboot, &f, &settings(), NOW);
    assert!(abandoned(&a).reason.contains("orders is available again"), "{a:#?}");
}

#[test]
fn when_the_pending_decision_expired_it_should_be_abandoned_even_while_the_primary_is_down() {
    let f = pending(PrimaryState::Found(primary("failed")), replica(EAST, "r-chosen", &[0.0]));
    let later = NOW - 60 + settings().decision_ttl_secs + 1;
    assert!(abandoned(&decide_promotion(&failure(), &f, &settings(), later)).reason.contains("DECISION_TTL_MINUTES"));
    let at_the_limit = NOW - 60 + settings().decision_ttl_secs;
    assert!(promoted(&decide_promotion(&failure(), &f, &settings(), at_the_limit)).resumed);
}

#[test]
fn when_the_recorded_replica_now_lags_or_stopped_or_left_the_decision_should_be_abandoned() {
    let down = || PrimaryState::Found(primary("failed"));
    let lagging = pending(down(), replica(EAST, "r-chosen", &[900.0]));
    assert!(abandoned(&decide_promotion(&failure(), &lagging, &settings(), NOW)).reason.contains("900"));
    let stopped = pending(down(), replica(EAST, "r-chosen", &[0.0, -1.0]));
    assert!(abandoned(&decide_promotion(&failure(), &stopped, &settings(), NOW)).reason.contains("not running"));
    let mut moved = replica(EAST, "r-chosen", &[0.0]);
    moved.instance.source = Some(DbRef::new(EAST, "billing"));
    let moved = pending(down(), moved);
    assert!(abandoned(&decide_promotion(&failure(), &moved, &settings(), NOW))
        .reason
        .contains("no longer a read replica"));
    let opted_out = pending(down(), with_tag(replica(EAST, "r-chosen", &[0.0]), "failover:enabled", "false"));
    assert!(abandoned(&decide_promotion(&failure(), &opted_out, &settings(), NOW)).reason.contains("not opted in"));
}

#[test]
fn a_record_bound_to_a_replaced_instance_should_not_count() {
    let mut now_state = replica(EAST, "r-chosen", &[0.0]);
    now_state.instance.resource_id = Some("db-NEW".into());
    let mut f = pending(PrimaryState::Found(primary("failed")), now_state.clone());
    if let Some(r) = f.record.as_mut() {
        r.resource_id = Some("db-OLD".into());
    }
    assert!(abandoned(&decide_promotion(&failure(), &f, &settings(), NOW)).reason.contains("replaced"));
    // A finished decision about the instance that was replaced no longer blocks a new one.
    now_state.instance.source = None;
    let mut f = recorded(
        facts(PrimaryState::Found(primary("failed")), vec![replica(EAST, "r-two", &[0.0])]),
        "r-chosen",
        NOW - 60,
        Some(now_state.instance),
    );
    if let Some(r) = f.record.as_mut() {
        r.resource_id = Some("db-OLD".into());
    }
    assert_eq!(promoted(&decide_promotion(&failure(), &f, &settings(), NOW)).replica.id, "r-two");
}

#[test]
fn a_decision_whose_replica_was_promoted_should_be_finished_whatever_its_age() {
    let two_hours_later = NOW - 60 + 2 * 3600;
    // Promoted and writable: the DNS step and the record are completed, not abandoned.
    let mut writable = replica(EAST, "r-chosen", &[]);
    writable.instance.source = None;
    let mut f = pending(PrimaryState::Found(primary("failed")), writable.clone());
    if let Some(r) = f.record.as_mut() {
        r.state = State::Pending;
    }
    let plan = decide_promotion(&failure(), &f, &settings(), two_hours_later);
    let p = promoted(&plan);
    assert!(p.resumed && p.standalone && p.replica.id == "r-chosen", "{plan:#?}");
    // The primary back up changes nothing: what was promoted is finished.
    let mut back = f.clone();
    back.primary = PrimaryState::Found(primary("available"));
    assert!(promoted(&decide_promotion(&failure(), &back, &settings(), two_hours_later)).standalone);
    // Promoting (still a replica, or no longer one and not yet available): waited for, never abandoned.
    for (status, source) in [("modifying", true), ("rebooting", true), ("modifying", false), ("backing-up", false)] {
        let mut promoting = writable.clone();
        promoting.instance.status = status.into();
        if source {
            promoting.instance.source = Some(DbRef::new(EAST, "orders"));
        }
        let mut f = pending(PrimaryState::Found(primary("failed")), promoting);
        if let Some(r) = f.record.as_mut() {
            r.state = State::Pending;
        }
        match decide_promotion(&failure(), &f, &settings(), two_hours_later) {
            Plan::Wait { reason, .. } => assert!(reason.starts_with("promotion in progress"), "{reason}"),
            other => panic!("{status}: expected a wait, got {other:#?}"),
        }
    }
}

#[test]
fn a_promotion_asked_for_whose_replica_is_again_an_available_replica_should_be_abandoned_as_failed() {
    let asked = |status: &str, requested: Option<i64>| {
        let mut chosen = replica(EAST, "r-chosen", &[0.0]);
        chosen.instance.status = status.into();
        let mut f = pending(PrimaryState::Found(primary("failed")), chosen);
        if let Some(r) = f.record.as_mut() {
            r.promotion_requested_at = requested;
        }
        decide_promotion(&failure(), &f, &settings(), NOW)
    };
    // Within moments of the call, RDS may not show the promotion yet: waited for, never taken for failed.
    assert!(matches!(asked("available", Some(NOW - 30)), Plan::Wait { .. }));
    let plan = asked("available", Some(NOW - 600));
    let reason = &abandoned(&plan).reason;
    assert!(reason.contains("its promotion failed") && reason.contains("still a read replica"), "{reason}");
    assert!(reason.contains("nothing is recorded as done"), "{reason}");
    // Still under way: waited for. Never asked for (the run died before the call): completed, asked again.
    assert!(matches!(asked("modifying", Some(NOW - 30)), Plan::Wait { .. }));
    let p = promoted(&asked("available", None)).clone();
    assert!(p.resumed && !p.standalone && p.replica.id == "r-chosen");
}

/// orders described as the instance `db-ORDERS`.
fn identified_primary(status: &str) -> PrimaryState {
    let mut p = primary(status);
    p.resource_id = Some("db-ORDERS".into());
    PrimaryState::Found(p)
}

#[test]
fn a_record_is_the_primarys_only_when_no_dbi_resource_id_tells_them_apart() {
    let about = |id: Option<&str>| Record::new(DbRef::new(EAST, "r"), NOW).with_primary_resource_id(id.map(Into::into));
    assert!(same_primary(&about(Some("db-ORDERS")), &identified_primary("failed")));
    assert!(!same_primary(&about(Some("db-EARLIER")), &identified_primary("failed")));
    // Cannot be told apart: an old record, a primary gone, unreachable or described without an id.
    assert!(same_primary(&about(None), &identified_primary("failed")));
    assert!(same_primary(&about(Some("db-EARLIER")), &PrimaryState::Missing));
    assert!(same_primary(&about(Some("db-EARLIER")), &PrimaryState::Unreachable { error: "timeout".into() }));
    assert!(same_primary(&about(Some("db-EARLIER")), &PrimaryState::Found(primary("failed"))));
}

#[test]
fn a_new_decision_should_record_the_primarys_dbi_resource_id() {
    let f = facts(identified_primary("failed"), vec![replica(EAST, "r-fast", &[1.0])]);
    let plan = decide_promotion(&failure(), &f, &settings(), NOW);
    assert_eq!(promoted(&plan).record.primary_resource_id.as_deref(), Some("db-ORDERS"));
    let gone = facts(PrimaryState::Missing, vec![replica(EAST, "r-fast", &[1.0])]);
    let plan = decide_promotion(&failure(), &gone, &settings(), NOW);
    assert_eq!(promoted(&plan).record.primary_resource_id, None, "not described: not known");
}

#[test]
fn when_the_name_was_failed_over_as_another_instance_its_new_primary_should_promote_its_own_replica() {
    // orders, an earlier instance (db-EARLIER), failed over to r-old; the instance now named orders fails.
    let mut r_old = instance(EAST, "r-old", "available");
    r_old.resource_id = Some("db-R-OLD".into());
    let base = facts(identified_primary("failed"), vec![replica(EAST, "r-new", &[1.0])]);
    let mut f = recorded(base, "r-old", NOW - 86_400, Some(r_old));
    if let Some(r) = f.record.as_mut() {
        r.primary_resource_id = Some("db-EARLIER".into());
    }
    let plan = decide_promotion(&failure(), &f, &settings(), NOW);
    let p = promoted(&plan);
    assert_eq!((p.replica.id.as_str(), p.resumed), ("r-new", false));
    assert_eq!(p.record.primary_resource_id.as_deref(), Some("db-ORDERS"));
    // Recorded about this very instance (or by an earlier version, without the id): nothing else is promoted.
    for id in [Some("db-ORDERS"), None] {
        if let Some(r) = f.record.as_mut() {
            r.primary_resource_id = id.map(Into::into);
        }
        let plan = decide_promotion(&failure(), &f, &settings(), NOW);
        assert!(matches!(plan, Plan::AlreadyPromoted { ref replica, .. } if replica.id == "r-old"), "{plan:#?}");
    }
}

proptest::proptest! {
    /// A pending decision is completed (promoted) only while every guard holds: not expired, the primary down,
    /// the replica still a replica of it, opted in, available, replicating, within the lag limit, and the
    /// decision about this very primary (its `DbiResourceId`, when both are known). Otherwise it is abandoned,
    /// never completed and never replaced by another choice; a decision about an earlier instance of the name is
    /// neither completed nor abandoned: the primary is decided afresh.
    #[test]
    fn a_decision_is_completed_only_while_its_guards_hold(
        identity in proptest::sample::select(vec![None, Some("db-ORDERS"), Some("db-EARLIER")]),
        age in 0i64..7200,
        primary_down in proptest::bool::ANY,
        same_source in proptest::bool::ANY,
        opted_in in proptest::bool::ANY,
        available in proptest::bool::ANY,
        lag in proptest::collection::vec(-1.0f64..60.0, 0..4),
    ) {
        let mut chosen = replica(EAST, "r-chosen", &lag);
        if !same_source {
            chosen.instance.source = Some(DbRef::new(EAST, "billing"));
        }
        if !opted_in {
            chosen.instance.tags.clear();
        }
        if !available {
            chosen.instance.status = "failed".into();
        }
        let status = if primary_down { "failed" } else { "available" };
        let mut f = pending(identified_primary(status), chosen);
        f.replicas.push(replica(EAST, "r-other", &[0.0]));
        if let Some(r) = f.record.as_mut() {
            r.primary_resource_id = identity.map(Into::into);
        }
        let earlier_instance = identity == Some("db-EARLIER");
        let s = settings();
        let guards = age <= s.decision_ttl_secs
            && primary_down
            && same_source
            && opted_in
            && available
            && !lag.is_empty()
            && lag.iter().all(|v| *v >= 0.0 && *v <= s.max_replica_lag_seconds)
            && !earlier_instance;
        match decide_promotion(&failure(), &f, &s, NOW - 60 + age) {
            Plan::Promote(p) if p.resumed => {
                proptest::prop_assert!(guards, "completed without its guards: {p:#?}");
                proptest::prop_assert!(p.replica.id == "r-chosen");
            }
            // Only a primary whose record is another instance's is decided afresh (and only while down).
            Plan::Promote(p) => proptest::prop_assert!(earlier_instance && primary_down, "a second choice: {p:#?}"),
            Plan::Refuse(r) => proptest::prop_assert!(earlier_instance && !primary_down, "{r:#?}"),
            Plan::Abandon(a) => {
                proptest::prop_assert!(!guards && !earlier_instance, "abandoned while its guards hold: {a:#?}")
            }
            other => proptest::prop_assert!(false, "{other:#?}"),
        }
    }
}

#[test]
fn when_a_person_asks_to_promote_another_replica_after_a_failover_should_refuse() {
    let f = recorded(
        facts(PrimaryState::Found(primary("failed")), vec![replica(EAST, "r-other", &[0.0])]),
        "r-chosen",
        NOW - 60,
        Some(instance(EAST, "r-chosen", "available")),
    );
    let manual = Trigger::ManualPromote { replica: DbRef::new(EAST, "r-other"), force: false };
    assert!(refused(&decide_promotion(&manual, &f, &settings(), NOW))
        .reason
        .contains("already failed over to r-chosen"));
}

// ------------------------------------------------------------------ manual promote

#[test]
fn when_a_person_names_an_eligible_replica_of_an_available_primary_should_promote_it_only_with_force() {
    let f = facts(
        PrimaryState::Found(primary("available")),
        vec![replica(EAST, "r-fast", &[0.0]), replica(EAST, "r-named", &[10.0])],
    );
    let manual = Trigger::ManualPromote { replica: DbRef::new(EAST, "r-named"), force: false };
    let plan = decide_promotion(&manual, &f, &settings(), NOW);
    assert!(refused(&plan).reason.contains(r#"add "force": true"#), "{plan:#?}");
    let forced = Trigger::ManualPromote { replica: DbRef::new(EAST, "r-named"), force: true };
    assert_eq!(promoted(&decide_promotion(&forced, &f, &settings(), NOW)).replica.id, "r-named");
    for status in ["failed", "stopped", "incompatible-network", "deleting"] {
        let down = facts(PrimaryState::Found(primary(status)), vec![replica(EAST, "r-named", &[10.0])]);
        let plan = decide_promotion(&manual, &down, &settings(), NOW);
        assert_eq!(promoted(&plan).replica.id, "r-named", "{status} takes no writes: no force needed");
    }
}

#[test]
fn when_a_person_promotes_away_from_a_primary_that_may_take_writes_should_refuse_naming_force_and_fencing() {
    let unforced = Trigger::ManualPromote { replica: DbRef::new(EAST, "r-named"), force: false };
    let forced = Trigger::ManualPromote { replica: DbRef::new(EAST, "r-named"), force: true };
    for status in ["backing-up", "modifying", "storage-optimization", "configuring-log-exports", "rebooting", "x"] {
        let f = facts(PrimaryState::Found(primary(status)), vec![replica(EAST, "r-named", &[1.0])]);
        let plan = decide_promotion(&unforced, &f, &settings(), NOW);
        let reason = &refused(&plan).reason;
        assert!(reason.contains(&format!("reports {status}")) && reason.contains(r#"add "force": true"#), "{reason}");
        assert!(reason.contains("two writable databases") && reason.contains("not fenced"), "{reason}");
        assert_eq!(promoted(&decide_promotion(&forced, &f, &settings(), NOW)).replica.id, "r-named", "{status}");
        assert!(may_take_writes(status));
    }
}

#[test]
fn promote_when_available_should_apply_to_alarms_only_never_to_rds_events() {
    let f = facts(PrimaryState::Found(primary("available")), vec![replica(EAST, "r1", &[1.0])]);
    let s = Settings { promote_when_available: true, ..settings() };
    let reboot = Trigger::FailureEvent { event_id: "RDS-EVENT-0004".into(), message: "shutdown".into() };
    let plan = decide_promotion(&reboot, &f, &s, NOW);
    assert!(refused(&plan).reason.contains("PROMOTE_WHEN_AVAILABLE applies to alarms only"), "{plan:#?}");
    assert_eq!(promoted(&decide_promotion(&alarm(), &f, &s, NOW)).replica.id, "r1");
}

#[test]
fn when_a_person_names_a_lagging_replica_should_refuse_with_its_reason() {
    let f = facts(PrimaryState::Found(primary("failed")), vec![replica(EAST, "r-named", &[99.0])]);
    let manual = Trigger::ManualPromote { replica: DbRef::new(EAST, "r-named"), force: false };
    let plan = decide_promotion(&manual, &f, &settings(), NOW);
    assert!(refused(&plan).reason.contains("above MAX_REPLICA_LAG_SECONDS"), "{plan:#?}");
}

// ------------------------------------------------------------------ cross-region

#[test]
fn when_cross_region_is_not_allowed_a_replica_in_another_region_should_not_be_chosen() {
    let f = facts(PrimaryState::Unreachable { error: "timeout".into() }, vec![replica(WEST, "r-west", &[1.0])]);
    let trigger = Trigger::ReplicaSide { replica: DbRef::new(WEST, "r-west"), cause: "RDS-EVENT-0045".into() };
    let plan = decide_promotion(&trigger, &f, &settings(), NOW);
    let r = refused(&plan);
    assert!(r.replicas[0].reason.contains("ALLOW_CROSS_REGION is false"), "{r:#?}");
}

#[test]
fn when_cross_region_is_allowed_an_unconfirmed_primary_should_fail_over_to_the_other_region() {
    let f = facts(PrimaryState::Unreachable { error: "timeout".into() }, vec![replica(WEST, "r-west", &[1.0])]);
    let trigger = Trigger::ReplicaSide { replica: DbRef::new(WEST, "r-west"), cause: "RDS-EVENT-0045".into() };
    let s = Settings { allow_cross_region: true, ..settings() };
    let plan = decide_promotion(&trigger, &f, &s, NOW);
    let p = promoted(&plan);
    assert_eq!(p.replica, DbRef::new(WEST, "r-west"));
    assert_eq!(p.record.subject, DbRef::new(WEST, "r-west"));
}

#[test]
fn when_replication_stops_while_the_primary_is_available_should_refuse_even_with_promote_when_available() {
    let f = facts(PrimaryState::Found(primary("available")), vec![replica(WEST, "r-west", &[1.0])]);
    let trigger = Trigger::ReplicaSide { replica: DbRef::new(WEST, "r-west"), cause: "RDS-EVENT-0045".into() };
    let s = Settings { allow_cross_region: true, promote_when_available: true, ..settings() };
    assert!(refused(&decide_promotion(&trigger, &f, &s, NOW)).reason.contains("reports available"));
}

// ------------------------------------------------------------------ Aurora

fn cluster(members: &[(&str, bool, i32)], status: &str) -> ClusterFacts {
    let c = Cluster {
        region: EAST.into(),
        id: "catalog".into(),
        arn: "arn:aws:rds:us-east-1:123456789012:cluster:catalog".into(),
        status: status.into(),
        engine: "aurora-mysql".into(),
        members: members
            .iter()
            .map(|(id, writer, tier)| ClusterMember { id: (*id).into(), writer: *writer, promotion_tier: *tier })
            .collect(),
        tags: BTreeMap::from([("failover:enabled".to_owned(), "true".to_owned())]),
        ..Default::default()
    };
    let candidates = members
        .iter()
        .map(|(id, _, _)| Candidate { instance: instance(EAST, id, "available"), lag: vec![], lag_at: None })
        .collect();
    ClusterFacts {
        region: EAST.into(),
        id: "catalog".into(),
        cluster: Some(c),
        members: candidates,
        last_failover: None,
        pending: None,
        global: None,
        onset: None,
    }
}

fn failover_target(plan: &Plan) -> &str {
    match plan {
        Plan::FailoverCluster(c) => &c.target,
        other => panic!("expected a cluster failover, got {other:#?}"),
    }
}

#[test]
fn aurora_should_fail_over_to_the_lowest_tier_then_lowest_lag_reader() {
    let mut f = cluster(
        &[("w", true, 0), ("r-tier2", false, 2), ("r-tier1-slow", false, 1), ("r-tier1-fast", false, 1)],
        "available",
    );
    f.members[2].lag = vec![800.0];
    f.members[3].lag = vec![20.0];
    let plan = decide_cluster(&alarm(), &f, &settings(), NOW);
    assert_eq!(failover_target(&plan), "r-tier1-fast");
    match &plan {
        Plan::FailoverCluster(c) => {
            assert_eq!(c.writer.as_deref(), Some("w"));
            assert_eq!((c.record.subject.id.as_str(), c.record.at.as_str()), ("r-tier1-fast", "2024-05-01T10:07:12Z"));
        }
        _ => unreachable!(),
    }
}

#[test]
fn aurora_with_no_available_reader_should_refuse_critically() {
    let mut f = cluster(&[("w", true, 0), ("r1", false, 1)], "available");
    f.members[1].instance.status = "failed".into();
    let r = decide_cluster(&failure(), &f, &settings(), NOW);
    assert_eq!(refused(&r).severity, Severity::Critical);
    assert_eq!(refused(&r).replicas[0].reason, "status is failed");
}

#[test]
fn aurora_not_opted_in_missing_or_busy_clusters_should_be_skipped() {
    let mut f = cluster(&[("w", true, 0), ("r1", false, 1)], "available");
    f.cluster.as_mut().unwrap().tags.clear();
    assert!(skipped(&decide_cluster(&alarm(), &f, &settings(), NOW)).contains("not opted in"));
    let busy = cluster(&[("w", true, 0), ("r1", false, 1)], "failing-over");
    assert!(skipped(&decide_cluster(&alarm(), &busy, &settings(), NOW)).contains("failing-over"));
    let missing = ClusterFacts { cluster: None, ..busy };
    assert!(skipped(&decide_cluster(&alarm(), &missing, &settings(), NOW)).contains("not found"));
}

#[test]
fn aurora_failed_over_recently_should_not_bounce_again_but_a_person_may() {
    let mut f = cluster(&[("w", true, 0), ("r1", false, 1)], "available");
    f.last_failover = Some(Record::new(DbRef::new(EAST, "w"), NOW - 432).with_state(State::Done));
    assert!(skipped(&decide_cluster(&alarm(), &f, &settings(), NOW)).contains("less than 60 min ago"));
    let manual = Trigger::ManualFailover { target: None, force: false };
    assert_eq!(failover_target(&decide_cluster(&manual, &f, &settings(), NOW)), "r1");
    assert_eq!(failover_target(&decide_cluster(&alarm(), &f, &settings(), NOW + CLUSTER_COOLDOWN_SECS)), "r1");
}

#[test]
fn aurora_pending_failover_should_be_completed_with_its_reader_while_it_can_take_over_else_abandoned() {
    let mut f = cluster(&[("w", true, 0), ("r1", false, 1), ("r2", false, 2)], "available");
    f.pending = Some(Record::new(DbRef::new(EAST, "r2"), NOW - 60));
    match decide_cluster(&alarm(), &f, &settings(), NOW) {
        Plan::FailoverCluster(c) => assert!(c.resumed && c.target == "r2", "the recorded reader, not the best: {c:#?}"),
        other => panic!("{other:#?}"),
    }
    let mut gone = f.clone();
    gone.members[2].instance.status = "rebooting".into();
    let a = decide_cluster(&alarm(), &gone, &settings(), NOW);
    assert!(abandoned(&a).reason.contains("r2 can no longer take over: status is rebooting"), "{a:#?}");
    assert!(abandoned(&a).aurora && abandoned(&a).resource == "db-cluster:us-east-1/catalog");
    let late = decide_cluster(&alarm(), &f, &settings(), NOW - 60 + settings().decision_ttl_secs + 1);
    assert!(abandoned(&late).reason.contains("DECISION_TTL_MINUTES"));
    // A retry that cannot act now publishes why (a refusal), instead of a silent skip.
    f.cluster.as_mut().unwrap().status = "failing-over".into();
    let busy = decide_cluster(&alarm(), &f, &settings(), NOW);
    assert!(refused(&busy).reason.contains("pending failover to r2"), "{busy:#?}");
}

#[test]
fn aurora_pending_failover_whose_reader_already_became_the_writer_should_be_completed_without_choosing_another() {
    let mut f = cluster(&[("r2", true, 2), ("w", false, 0), ("r1", false, 1)], "available");
    f.pending = Some(Record::new(DbRef::new(EAST, "r2"), NOW - 60));
    match decide_cluster(&alarm(), &f, &settings(), NOW) {
        Plan::FailoverCluster(c) => {
            assert_eq!((c.resumed, c.target.as_str(), c.writer.as_deref()), (true, "r2", Some("r2")))
        }
        other => panic!("{other:#?}"),
    }
}

#[test]
fn aurora_manual_target_must_be_an_eligible_reader() {
    let f = cluster(&[("w", true, 0), ("r1", false, 1), ("r2", false, 2)], "available");
    let named = |t: &str| Trigger::ManualFailover { target: Some(t.into()), force: false };
    assert_eq!(failover_target(&decide_cluster(&named("r2"), &f, &settings(), NOW)), "r2");
    assert!(refused(&decide_cluster(&named("w"), &f, &settings(), NOW)).reason.contains("not a reader"));
    assert!(refused(&decide_cluster(&named("zz"), &f, &settings(), NOW)).reason.contains("not a reader"));
}

#[test]
fn when_a_pending_record_names_a_replica_already_promoted_should_complete_it_once_available_without_promoting_again() {
    let with = |status: &str| {
        let f = recorded(
            facts(PrimaryState::Found(primary("failed")), vec![replica(EAST, "r-other", &[0.0])]),
            "r-chosen",
            NOW - 60,
            Some(instance(EAST, "r-chosen", status)),
        );
        PromotionFacts { record: f.record.clone().map(|r| r.with_state(State::Pending)), ..f }
    };
    let plan = decide_promotion(&failure(), &with("modifying"), &settings(), NOW);
    assert!(matches!(plan, Plan::Wait { .. }), "not writable yet: the DNS step waits: {plan:#?}");
    let p = promoted(&decide_promotion(&failure(), &with("available"), &settings(), NOW)).clone();
    assert_eq!(p.replica.id, "r-chosen");
    assert!(p.resumed && p.standalone, "only the DNS change and the record remain");
}

#[test]
fn when_a_done_record_names_a_replica_that_is_a_replica_again_should_still_promote_nothing_else() {
    let mut chosen = replica(EAST, "r-chosen", &[0.0]);
    chosen.instance.source = Some(DbRef::new(EAST, "orders"));
    let f = recorded(
        facts(PrimaryState::Found(primary("failed")), vec![chosen.clone()]),
        "r-chosen",
        NOW - 60,
        Some(chosen.instance),
    );
    let f = PromotionFacts { record: f.record.clone().map(|r| r.with_state(State::Done)), ..f };
    assert!(matches!(decide_promotion(&failure(), &f, &settings(), NOW), Plan::AlreadyPromoted { .. }));
}

#[test]
fn the_dns_step_is_the_record_the_primarys_tag_names_from_the_primarys_endpoint() {
    let mut p = primary("failed");
    p.tags.insert(crate::model::DNS_RECORD_TAG.into(), "Z1/writer.orders.internal".into());
    let plan = decide_promotion(
        &failure(),
        &facts(PrimaryState::Found(p.clone()), vec![replica(EAST, "r1", &[1.0])]),
        &settings(),
        NOW,
    );
    let dns = promoted(&plan).dns.clone().expect("planned").expect("tagged");
    assert_eq!((dns.record.hosted_zone_id.as_str(), dns.record.name.as_str()), ("Z1", "writer.orders.internal"));
    assert_eq!(dns.from, "orders.abc.us-east-1.rds.amazonaws.com");
    assert_eq!(promoted(&plan).record.dns.as_ref(), Some(&dns), "recorded with the decision");

    p.tags.insert(crate::model::DNS_RECORD_TAG.into(), "writer.orders.internal".into());
    let plan = decide_promotion(
        &failure(),
        &facts(PrimaryState::Found(p), vec![replica(EAST, "r1", &[1.0])]),
        &settings(),
        NOW,
    );
    assert!(
        promoted(&plan).dns.as_ref().is_err_and(|e| e.contains("failover:dns-record")),
        "a malformed tag is reported"
    );

    let untagged = decide_promotion(
        &failure(),
        &facts(PrimaryState::Found(primary("failed")), vec![replica(EAST, "r1", &[1.0])]),
        &settings(),
        NOW,
    );
    assert_eq!(promoted(&untagged).dns, Ok(None));

    let gone = decide_promotion(
        &failure(),
        &facts(PrimaryState::Missing, vec![replica(EAST, "r1", &[1.0])]),
        &settings(),
        NOW,
    );
    assert!(
        promoted(&gone).dns.as_ref().is_err_and(|e| e.contains("cannot be read")),
        "a deleted primary's tag is unknown"
    );
}

// ------------------------------------------------------------------ lag as of the failure

#[test]
fn a_replica_without_lag_before_the_failure_or_with_minus_one_before_it_is_not_eligible() {
    let f = facts(
        PrimaryState::Found(primary("failed")),
        vec![replica(EAST, "r-stopped", &[-1.0]), replica(EAST, "r-unknown", &[]), replica(EAST, "r-ok", &[3.0])],
    );
    let v = verdicts(&f, &settings());
    assert!(v[0].reason.contains("not running before the failure"), "{:?}", v[0]);
    assert!(v[1].reason.contains("no datapoint ending in the 2 minutes before the failure's onset"), "{:?}", v[1]);
    assert!(v[2].eligible);
}

#[test]
fn when_the_recorded_replica_is_being_promoted_the_decision_should_be_waited_for_not_abandoned() {
    let mut chosen = replica(EAST, "r-chosen", &[0.0]);
    chosen.instance.status = "modifying".into();
    let f = pending(PrimaryState::Found(primary("available")), chosen);
    match decide_promotion(&failure(), &f, &settings(), NOW) {
        Plan::Wait { reason, .. } => assert!(reason.contains("r-chosen") && reason.contains("modifying"), "{reason}"),
        other => panic!("{other:#?}"),
    }
}
