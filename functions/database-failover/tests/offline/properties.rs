//! Property tests of database-failover's pure policy and of its routing of anything at all.
//!
//! - Promotion ([`decide::decide_promotion`]): whatever the primary, its replicas (status, opt-in, region,
//!   `ReplicaLag` datapoints, `failover:priority` tags a person typed) and the settings, a promotion never picks
//!   a replica that is not available, not opted in, in another region without `ALLOW_CROSS_REGION`, or whose
//!   lag is unknown, ever -1 or above `MAX_REPLICA_LAG_SECONDS`; an automatic one picks the lowest
//!   (priority, lag) among the eligible; a recorded decision is only ever completed, never replaced by another
//!   replica; a primary that is up is left alone unless the settings or a person say otherwise; a primary fixed
//!   in place (`storage-full`…) is never promoted away from but by a forced `promote` (its fix is notified), and
//!   a `promote` without force never promotes away from a primary that takes writes (`backing-up`…). Lags are
//!   judged as of a moving onset, only from datapoints whose minute ends by then (what replication shows after it
//!   changes no plan), and a decision about an earlier instance of the primary's name (another `DbiResourceId`)
//!   is never inherited.
//! - Aurora ([`decide::decide_cluster`]): only an available, opted-in reader of an opted-in cluster, the lowest
//!   (tier, lag) unless a person named it, and never twice within the cooldown for automatic triggers.
//! - Ledger record data of any shape, and priority tags a person can edit, are read without panicking.
//! - Routing ([`route::route`]) and command parsing ([`command::parse`]) of mutated samples from `events/` and
//!   random JSON: no panic, rejections are short clear errors, and a route always names a database.

use std::collections::BTreeMap;

use database_failover::actions::facts::promotion_record;
use database_failover::command;
use database_failover::decide::{
    self, Candidate, ClusterFacts, Plan, PrimaryState, PromotionFacts, Settings, Trigger, CLUSTER_COOLDOWN_SECS,
};
use database_failover::model::{
    self, Cluster, ClusterMember, DbRef, Instance, LagPoint, Record, DEFAULT_PRIORITY, LAG_LOOK_BACK_SECS, PRIORITY_TAG,
};
use database_failover::route::{self, Route};
use failover_core::intake::{self, Event};
use failover_core::ledger::{self, State};
use proptest::prelude::*;
use serde_json::Value;

use mutate::{apply, paths, samples, Mutation};
use test_support::mutate;
use test_support::strategies;
use test_support::OPT_IN;

const HOME: &str = "us-east-1";
/// 2024-05-01T10:07:12Z.
const NOW: i64 = 1_714_558_032;

// ---------------------------------------------------------------------------------------------- strategies

fn status() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => Just("available".to_owned()),
        1 => prop::sample::select(vec![
            "backing-up",
            "failed",
            "modifying",
            "storage-full",
            "rebooting",
            "Available",
            "incompatible-parameters",
            "inaccessible-encryption-credentials",
            "stopped",
        ])
        .prop_map(str::to_owned),
        1 => "[a-z-]{0,12}",
    ]
}

/// What a person may have typed as a priority: numbers mostly, anything sometimes.
fn priority_tag() -> impl Strategy<Value = Option<String>> {
    prop::option::of(prop_oneof![
        4 => (-5i32..120).prop_map(|p| p.to_string()),
        1 => Just(" 7 ".to_owned()),
        1 => Just("2147483648".to_owned()),
        1 => ".{0,8}",
    ])
}

/// Per-minute maxima labelled `NOW`, `NOW - 60`… (the newest first; those whose minute ends after the onset are
/// not judged): none, normal values, or -1 (replication stopped) among them.
fn lag() -> impl Strategy<Value = Vec<LagPoint>> {
    let value = prop_oneof![6 => 0.0f64..60.0, 1 => Just(-1.0), 1 => 60.0f64..1e6];
    prop_oneof![
        1 => Just(Vec::new()),
        5 => prop::collection::vec(value, 1..9).prop_map(|values| {
            values.into_iter().enumerate().map(|(i, value)| LagPoint { at: NOW - 60 * i as i64, value }).collect()
        }),
    ]
}

/// The failure's onset, which moves: up to 4.5 minutes before now, on and between the datapoints' minutes.
fn onset() -> impl Strategy<Value = i64> {
    (0i64..10).prop_map(|k| NOW - 30 * k)
}

fn instance(region: &str, id: String, status: String, opted_in: bool, priority: Option<String>) -> Instance {
    let mut tags = BTreeMap::new();
    if opted_in {
        tags.insert(OPT_IN.to_owned(), "true".to_owned());
    }
    if let Some(p) = priority {
        tags.insert(PRIORITY_TAG.to_owned(), p);
    }
    Instance {
        arn: format!("arn:aws:rds:{region}:123456789012:db:{id}"),
        endpoint: Some(format!("{id}.abc.{region}.rds.amazonaws.com")),
        status,
        tags,
        ..Instance::bare(region, &id)
    }
}

fn replicas() -> impl Strategy<Value = Vec<(Instance, Vec<LagPoint>)>> {
    let opted_in = prop_oneof![4 => Just(true), 1 => Just(false)];
    let replica = (status(), opted_in, prop_oneof![4 => Just(HOME), 1 => Just("us-west-2")], priority_tag(), lag());
    prop::collection::vec(replica, 0..6).prop_map(|replicas| {
        replicas
            .into_iter()
            .enumerate()
            .map(|(i, (status, opted_in, region, priority, lag))| {
                let mut instance = instance(region, format!("r{i}"), status, opted_in, priority);
                instance.source = Some(DbRef::new(HOME, "orders"));
                (instance, lag)
            })
            .collect()
    })
}

#[derive(Debug, Clone)]
enum PrimaryKind {
    Found { status: String, opted_in: bool },
    Missing,
    Unreachable,
}

fn primary() -> impl Strategy<Value = PrimaryKind> {
    prop_oneof![
        4 => (status(), prop_oneof![4 => Just(true), 1 => Just(false)])
            .prop_map(|(status, opted_in)| PrimaryKind::Found { status, opted_in }),
        1 => Just(PrimaryKind::Missing),
        1 => Just(PrimaryKind::Unreachable),
    ]
}

/// Which primary a recorded decision was about, by `DbiResourceId`.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Identity {
    /// The primary described now.
    Same,
    /// An earlier instance under the same name (deleted, then restored or renamed into place).
    Earlier,
    /// Not recorded (a primary not described when decided, or a record of an earlier version).
    Unknown,
}

/// A recorded decision: none mostly; else naming one of the replicas (by index), or one that is gone, about this
/// primary or an earlier instance of its name.
fn record() -> impl Strategy<Value = Option<(Option<usize>, bool, Identity)>> {
    let identity = prop_oneof![2 => Just(Identity::Same), 1 => Just(Identity::Earlier), 1 => Just(Identity::Unknown)];
    prop_oneof![
        3 => Just(None),
        1 => (prop::option::of(0usize..6), any::<bool>(), identity).prop_map(|(i, p, id)| Some((i, p, id))),
    ]
}

#[derive(Debug, Clone)]
enum TriggerKind {
    FailureEvent,
    Alarm,
    ReplicaSide,
    /// The replica named, and `"force": true`.
    ManualPromote(usize, bool),
    Status,
}

fn trigger() -> impl Strategy<Value = TriggerKind> {
    prop_oneof![
        Just(TriggerKind::FailureEvent),
        Just(TriggerKind::Alarm),
        Just(TriggerKind::ReplicaSide),
        (0usize..7, any::<bool>()).prop_map(|(i, force)| TriggerKind::ManualPromote(i, force)),
        Just(TriggerKind::Status),
    ]
}

fn settings() -> impl Strategy<Value = Settings> {
    (any::<bool>(), prop_oneof![Just(30.0), 0.0f64..60.0], any::<bool>()).prop_map(
        |(promote_when_available, max_replica_lag_seconds, allow_cross_region)| Settings {
            opt_in_tag_key: OPT_IN.to_owned(),
            promote_when_available,
            max_replica_lag_seconds,
            allow_cross_region,
            decision_ttl_secs: 3600,
        },
    )
}

fn to_trigger(kind: &TriggerKind) -> Trigger {
    match kind {
        TriggerKind::FailureEvent => {
            Trigger::FailureEvent { event_id: "RDS-EVENT-0031".into(), message: "failed".into() }
        }
        TriggerKind::Alarm => Trigger::Alarm { name: "orders-down".into() },
        TriggerKind::ReplicaSide => {
            Trigger::ReplicaSide { replica: DbRef::new(HOME, "r0"), cause: "RDS-EVENT-0045".into() }
        }
        TriggerKind::ManualPromote(i, force) => {
            Trigger::ManualPromote { replica: DbRef::new(HOME, format!("r{i}")), force: *force }
        }
        TriggerKind::Status => Trigger::Status,
    }
}

/// The `DbiResourceId` of the primary described now, and of an earlier instance of its name.
const PRIMARY_NOW: &str = "db-PRIMARYNOW";
const PRIMARY_EARLIER: &str = "db-PRIMARYEARLIER";

/// The facts an action gathers: the replicas' lags judged as of `onset` ([`decide::lag_as_of`]), and the recorded
/// decision as the ledger read gives it ([`promotion_record`]: one about an earlier instance does not count).
fn facts(
    primary: &PrimaryKind,
    replicas: Vec<(Instance, Vec<LagPoint>)>,
    record: Option<(Option<usize>, bool, Identity)>,
    onset: i64,
) -> PromotionFacts {
    let replicas: Vec<Candidate> = replicas
        .into_iter()
        .map(|(instance, points)| {
            let (lag, lag_at) = decide::lag_as_of(&points, onset);
            Candidate { instance, lag, lag_at }
        })
        .collect();
    let primary_ref = DbRef::new(HOME, "orders");
    let primary = match primary {
        PrimaryKind::Found { status, opted_in } => {
            let mut p = instance(HOME, "orders".into(), status.clone(), *opted_in, None);
            p.replicas = replicas.iter().map(|c| c.instance.at.clone()).collect();
            p.resource_id = Some(PRIMARY_NOW.into());
            PrimaryState::Found(p)
        }
        PrimaryKind::Missing => PrimaryState::Missing,
        PrimaryKind::Unreachable => PrimaryState::Unreachable { error: "timeout".into() },
    };
    // A record names a replica (which, when already promoted, has left the replica list and has no source).
    let (record, recorded) = match record {
        None => (None, None),
        Some((named, promoted, identity)) => {
            let subject = named.and_then(|i| replicas.get(i)).map(|c| c.instance.clone());
            let subject_ref = subject.as_ref().map_or_else(|| DbRef::new(HOME, "gone"), |s| s.at.clone());
            let recorded = subject.map(|mut s| {
                if promoted {
                    s.source = None;
                }
                s
            });
            let state = if promoted { State::Done } else { State::Pending };
            let about = match identity {
                Identity::Same => Some(PRIMARY_NOW.to_owned()),
                Identity::Earlier => Some(PRIMARY_EARLIER.to_owned()),
                Identity::Unknown => None,
            };
            let decision = Record::new(subject_ref, NOW - 60).with_primary_resource_id(about);
            let data = decision.data("replica", "arn:aws:rds:us-east-1:123456789012:db:r", None);
            let stored = ledger::Record::pending(
                "db-instance:us-east-1/orders",
                &model::promotion_key(NOW - 60),
                "o",
                "t",
                NOW - 60,
                0,
            )
            .with_state(state)
            .with_data(data);
            let snapshot = ledger::Snapshot {
                resource: stored.resource.clone(),
                at: NOW,
                version: 1,
                holder: None,
                records: vec![stored],
            };
            let record = promotion_record(&snapshot, &primary);
            let recorded = recorded.filter(|_| record.is_some());
            (record, recorded)
        }
    };
    PromotionFacts { primary_ref, primary, replicas, record, recorded, undescribed: Vec::new(), onset: Some(onset) }
}

/// The lag guard restated from the raw datapoints: only those whose minute ends at or before the onset, within
/// the look-back, the newest ending at most 2 minutes before it; all of them 0 or more and within the limit.
fn safe_as_of(points: &[LagPoint], onset: i64, settings: &Settings) -> bool {
    let before: Vec<&LagPoint> =
        points.iter().filter(|p| p.at + 60 <= onset && onset - (p.at + 60) <= LAG_LOOK_BACK_SECS).collect();
    let fresh = before.iter().map(|p| p.at).max().is_some_and(|newest| onset - (newest + 60) <= 120);
    fresh && before.iter().all(|p| p.value >= 0.0 && p.value <= settings.max_replica_lag_seconds)
}

/// What replication shows after a failure: every datapoint whose minute ends after the onset turned -1.
fn broken_after(replicas: &[(Instance, Vec<LagPoint>)], onset: i64) -> Vec<(Instance, Vec<LagPoint>)> {
    let broken = |p: &LagPoint| LagPoint { value: if p.at + 60 > onset { -1.0 } else { p.value }, ..*p };
    replicas.iter().map(|(i, points)| (i.clone(), points.iter().map(broken).collect())).collect()
}

/// The policy's eligibility, restated independently of `decide`'s verdicts.
fn eligible(c: &Candidate, settings: &Settings) -> bool {
    let i = &c.instance;
    i.status == "available"
        && i.tags.get(OPT_IN).is_some_and(|v| v.trim().eq_ignore_ascii_case("true"))
        && (i.at.region == HOME || settings.allow_cross_region)
        && !c.lag.is_empty()
        && c.lag.iter().all(|v| *v >= 0.0 && *v <= settings.max_replica_lag_seconds)
}

/// Statuses a person fixes in place: never promoted away from but by a forced `promote`.
const FIX_IN_PLACE: &[&str] = &["storage-full", "incompatible-parameters", "inaccessible-encryption-credentials"];
/// Statuses in which a primary takes writes: a `promote` without force never promotes away from them.
const WRITABLE: &[&str] = &["available", "backing-up", "modifying", "rebooting", "Available"];

fn priority(i: &Instance) -> i32 {
    i.tags.get(PRIORITY_TAG).and_then(|v| v.trim().parse().ok()).unwrap_or(DEFAULT_PRIORITY)
}

fn max_lag(lag: &[f64]) -> f64 {
    lag.iter().copied().fold(f64::MIN, f64::max)
}

// ---------------------------------------------------------------------------------------------- promotion

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn a_promotion_picks_only_a_safe_replica_the_best_one_and_never_a_second_one(
        primary in primary(),
        replicas in replicas(),
        record in record(),
        trigger in trigger(),
        settings in settings(),
        onset in onset(),
    ) {
        let raw = replicas.clone();
        let facts = facts(&primary, replicas, record, onset);
        let trigger_value = to_trigger(&trigger);
        let plan = decide::decide_promotion(&trigger_value, &facts, &settings, NOW);

        // The onset rule: lag is judged only from datapoints whose minute ends at or before the onset, so what
        // replication shows after it (-1 once the primary is gone) changes nothing.
        let after = self::facts(&primary, broken_after(&raw, onset), record, onset);
        prop_assert_eq!(&decide::decide_promotion(&trigger_value, &after, &settings, NOW), &plan, "onset {}", onset);
        // The identity rule: a decision about an earlier instance of the name is not this primary's: it is
        // neither completed, waited for, finished nor abandoned, and blocks nothing.
        let earlier = matches!(record, Some((_, _, Identity::Earlier))) && matches!(primary, PrimaryKind::Found { .. });
        if earlier {
            prop_assert!(facts.record.is_none(), "an earlier instance's decision counted");
            let inherited = matches!(&plan, Plan::Promote(p) if p.resumed)
                || matches!(plan, Plan::AlreadyPromoted { .. } | Plan::Abandon(_) | Plan::Wait { .. });
            prop_assert!(!inherited, "a new instance inherited an old decision: {plan:?}");
        }

        match &plan {
            Plan::Promote(p) => {
                if let PrimaryKind::Found { status, opted_in } = &primary {
                    prop_assert!(*opted_in, "promoted away from a primary that is not opted in");
                    // Fix in place means never promote, and a person's promote without force only away from a
                    // primary that takes no writes: whatever the record.
                    let forced = matches!(trigger, TriggerKind::ManualPromote(_, true));
                    prop_assert!(forced || !FIX_IN_PLACE.contains(&status.as_str()), "promoted away from {status}");
                    if let TriggerKind::ManualPromote(_, false) = trigger {
                        prop_assert!(!WRITABLE.contains(&status.as_str()), "unforced promote away from {status}");
                    }
                    let down = database_failover::model::DOWN_STATUSES.contains(&status.as_str());
                    let asked = matches!(trigger, TriggerKind::ManualPromote(..) | TriggerKind::Status);
                    let allowed =
                        status == "available" && settings.promote_when_available && matches!(trigger, TriggerKind::Alarm);
                    prop_assert!(
                        facts.record.is_some() || down || asked || allowed,
                        "promoted away from a primary that reports {status}"
                    );
                }
                if let Some(record) = &facts.record {
                    // Never twice: only the recorded replica, still a replica and available, is promoted.
                    prop_assert_eq!(&p.replica, &record.subject);
                    prop_assert!(p.resumed);
                    let recorded = facts.recorded.as_ref().expect("the recorded replica exists");
                    prop_assert!(recorded.source.is_some() && recorded.status == "available");
                    // Completed only while its guards hold (the recorded replica is judged with the others).
                    let judged = facts.replicas.iter().find(|c| c.instance.at == record.subject);
                    prop_assert!(judged.is_some_and(|c| eligible(c, &settings)), "completed an unsafe decision");
                    // Only this primary's decision, when it is described (gone or unreachable, any counts: the safe side).
                    if matches!(primary, PrimaryKind::Found { .. }) {
                        prop_assert_eq!(record.primary_resource_id.as_deref().unwrap_or(PRIMARY_NOW), PRIMARY_NOW);
                    }
                } else {
                    prop_assert!(!p.resumed);
                    let chosen = facts
                        .replicas
                        .iter()
                        .find(|c| c.instance.at == p.replica)
                        .expect("the promoted instance is one of the primary's replicas");
                    prop_assert!(eligible(chosen, &settings), "promoted an unsafe replica: {chosen:?}");
                    match &trigger {
                        TriggerKind::ManualPromote(i, _) => prop_assert_eq!(&p.replica.id, &format!("r{i}")),
                        _ => {
                            let key = |c: &Candidate| (priority(&c.instance), max_lag(&c.lag));
                            let (best_priority, best_lag) = key(chosen);
                            for other in facts.replicas.iter().filter(|c| eligible(c, &settings)) {
                                let (priority, lag) = key(other);
                                prop_assert!(
                                    (priority, lag) >= (best_priority, best_lag),
                                    "{} ({priority}, {lag}) beats the chosen {} ({best_priority}, {best_lag})",
                                    other.instance.at.id,
                                    chosen.instance.at.id
                                );
                            }
                        }
                    }
                }
                prop_assert_eq!(&p.record.subject, &p.replica, "the record names the promoted replica");
                // Judged as of the onset: the promoted replica's lag guard holds on its raw datapoints.
                let points = raw.iter().find(|(i, _)| i.at == p.replica).map_or(&[][..], |(_, points)| points.as_slice());
                prop_assert!(safe_as_of(points, onset, &settings), "{} judged past the onset {onset}", p.replica.id);
            }
            Plan::AlreadyPromoted { replica, .. } => {
                let record = facts.record.as_ref().expect("only with a record");
                prop_assert_eq!(replica, &record.subject);
                prop_assert!(facts.recorded.as_ref().is_some_and(|r| r.source.is_none()));
            }
            Plan::Abandon(a) => {
                // Only a pending decision is abandoned, the one recorded, with its reason; nothing is promoted.
                let record = facts.record.as_ref().expect("only with a record");
                prop_assert_eq!(record.state, State::Pending);
                prop_assert_eq!(&a.record.subject, &record.subject);
                prop_assert!(!a.reason.is_empty());
            }
            Plan::Wait { .. } => {
                // Only for a pending decision whose replica is being promoted: nothing else is chosen.
                let record = facts.record.as_ref().expect("only with a record");
                let recorded = facts.recorded.as_ref().expect("the recorded replica exists");
                prop_assert_eq!(record.state, State::Pending);
                prop_assert!(decide::promotion_in_progress(recorded));
            }
            Plan::FixInPlace(f) => {
                // Only a primary described in a fix-in-place status, for any trigger but a forced promote.
                prop_assert!(decide::FIX_IN_PLACE_STATUSES.contains(&f.primary.status.as_str()));
                let described = matches!(&primary, PrimaryKind::Found { status, .. } if *status == f.primary.status);
                prop_assert!(described, "the primary's own status");
                prop_assert!(!matches!(trigger, TriggerKind::ManualPromote(_, true)));
            }
            Plan::Refuse(r) => prop_assert!(!r.reason.is_empty()),
            Plan::Skip { reason } => prop_assert!(!reason.is_empty()),
            other => prop_assert!(false, "a promotion decision planned {:?}", other),
        }
        // A fix-in-place primary (opted in, no decision recorded) is notified with its fix, whatever the trigger
        // but a forced promote.
        if let (PrimaryKind::Found { status, opted_in: true }, None) = (&primary, &facts.record) {
            if FIX_IN_PLACE.contains(&status.as_str()) && !matches!(trigger, TriggerKind::ManualPromote(_, true)) {
                prop_assert!(matches!(plan, Plan::FixInPlace(_)), "{status}: {plan:?}");
            }
        }
        // Whatever else happens: with a safe replica, a down opted-in primary and no record, something is promoted.
        if let (PrimaryKind::Found { status, opted_in: true }, None) = (&primary, &facts.record) {
            let automatic = matches!(trigger, TriggerKind::FailureEvent | TriggerKind::Alarm | TriggerKind::ReplicaSide);
            let down = database_failover::model::DOWN_STATUSES.contains(&status.as_str());
            let fixed_in_place = FIX_IN_PLACE.contains(&status.as_str());
            if automatic && down && !fixed_in_place && facts.replicas.iter().any(|c| eligible(c, &settings)) {
                prop_assert!(matches!(plan, Plan::Promote(_)), "a down primary with a safe replica: {plan:?}");
            }
        }
    }

    #[test]
    fn record_data_and_priority_tags_of_any_text_are_read_without_panic(
        value in prop_oneof![".{0,60}", "[a-z0-9/:-]{0,20}@[0-9TZ:-]{0,22}"],
        region in prop_oneof![Just(HOME.to_owned()), "[a-z0-9-]{0,12}"],
    ) {
        let data = serde_json::json!({"replica": {"region": region, "id": value}, "decided_at": value});
        let stored = ledger::Record::pending("db-instance:x/y", model::PROMOTION_KEY, "o", "t", NOW, 60).with_data(data);
        if let Some(record) = Record::from_ledger(&stored, "replica") {
            // What was read can be written back and read again the same.
            let again = ledger::Record { data: record.data("replica", "", None), ..stored.clone() };
            prop_assert_eq!(Record::from_ledger(&again, "replica").map(|r| r.subject), Some(record.subject));
        }
        let garbage = ledger::Record { data: Value::String(value.clone()), ..stored };
        prop_assert_eq!(Record::from_ledger(&garbage, "replica"), None);
        let mut replica = instance(HOME, "r0".into(), "available".into(), true, Some(value));
        replica.source = Some(DbRef::new(HOME, "orders"));
        let facts = PromotionFacts {
            primary_ref: DbRef::new(HOME, "orders"),
            primary: PrimaryState::Missing,
            replicas: vec![Candidate { instance: replica, lag: vec![1.0], lag_at: None }],
            record: None,
            recorded: None,
            undescribed: Vec::new(),
            onset: None,
        };
        let settings = Settings {
            opt_in_tag_key: OPT_IN.into(),
            promote_when_available: false,
            max_replica_lag_seconds: 30.0,
            allow_cross_region: false,
        decision_ttl_secs: 3600,
        };
        let plan = decide::decide_promotion(&Trigger::Alarm { name: "a".into() }, &facts, &settings, NOW);
        prop_assert!(matches!(plan, Plan::Promote(_)), "an unreadable priority is the default, not a refusal");
    }
}

// ---------------------------------------------------------------------------------------------- replicas

proptest! {
    /// Replicas described one call per region, answered in any order, then put back in the primary's order
    /// ([`model::in_order`]), are exactly what describing each on its own gave: those that exist, in that order.
    #[test]
    fn replicas_described_per_region_read_as_if_described_one_by_one(
        refs in prop::collection::vec((prop::sample::select(vec![HOME, "us-west-2"]), "r[0-5]"), 0..8),
        gone in prop::collection::btree_set("r[0-5]", 0..4),
        shuffle in any::<prop::sample::Index>(),
    ) {
        let refs: Vec<DbRef> = refs.into_iter().map(|(region, id)| DbRef::new(region, id)).collect();
        let exists = |r: &DbRef| !gone.contains(&r.id);
        let described = |r: &DbRef| instance(&r.region, r.id.clone(), "available".into(), true, None);
        // One by one: DescribeDBInstances of each, a missing one left out.
        let one_by_one: Vec<Instance> = refs.iter().filter(|r| exists(r)).map(described).collect();
        // Together: each region's existing instances once, in an order of AWS's choosing.
        let mut together: Vec<Instance> = Vec::new();
        for r in refs.iter().filter(|r| exists(r)) {
            if !together.iter().any(|i| i.at == *r) {
                together.push(described(r));
            }
        }
        if !together.is_empty() {
            let at = shuffle.index(together.len());
            together.rotate_left(at);
            together.reverse();
        }

        prop_assert_eq!(model::in_order(&refs, &together), one_by_one);
    }
}

// ---------------------------------------------------------------------------------------------- Aurora

fn cluster_facts() -> impl Strategy<Value = (ClusterFacts, Option<i64>)> {
    let member = (0i32..3, status(), any::<bool>(), lag(), any::<bool>());
    (
        prop::collection::vec(member, 1..6),
        0usize..6,
        status(),
        prop_oneof![4 => Just(true), 1 => Just(false)],
        prop::option::of(prop_oneof![Just(NOW - 60), Just(NOW - CLUSTER_COOLDOWN_SECS - 1), Just(NOW + 600)]),
    )
        .prop_map(|(members, writer, status, opted_in, recorded_at)| {
            let mut cluster_members = Vec::new();
            let mut candidates = Vec::new();
            for (i, (tier, status, opted_in, lag, exists)) in members.into_iter().enumerate() {
                let id = format!("c{i}");
                cluster_members.push(ClusterMember { id: id.clone(), writer: i == writer, promotion_tier: tier });
                if exists {
                    let mut instance = instance(HOME, id, status, opted_in, None);
                    instance.cluster = Some("catalog".into());
                    let lag = lag.iter().map(|p| p.value).collect();
                    candidates.push(Candidate { instance, lag, lag_at: None });
                }
            }
            let mut tags = BTreeMap::new();
            if opted_in {
                tags.insert(OPT_IN.to_owned(), "true".to_owned());
            }
            let last_failover = recorded_at.map(|at| Record::new(DbRef::new(HOME, "c0"), at).with_state(State::Done));
            let cluster = Cluster {
                region: HOME.into(),
                id: "catalog".into(),
                arn: "arn:aws:rds:us-east-1:123456789012:cluster:catalog".into(),
                status,
                engine: "aurora-mysql".into(),
                members: cluster_members,
                tags,
                ..Default::default()
            };
            let facts = ClusterFacts {
                region: HOME.into(),
                id: "catalog".into(),
                cluster: Some(cluster),
                members: candidates,
                last_failover,
                pending: None,
                global: None,
                onset: None,
            };
            (facts, recorded_at)
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 500, ..ProptestConfig::default() })]

    #[test]
    fn an_aurora_failover_picks_an_available_opted_in_reader_the_best_one_and_never_bounces(
        (facts, recorded_at) in cluster_facts(),
        named in prop::option::of(0usize..7),
        kind in 0u8..3,
    ) {
        let trigger = match kind {
            0 => Trigger::Alarm { name: "catalog-down".into() },
            1 => Trigger::FailureEvent { event_id: "RDS-EVENT-0069".into(), message: String::new() },
            _ => Trigger::ManualFailover { target: named.map(|i| format!("c{i}")), force: false },
        };
        let plan = decide::decide_cluster(&trigger, &facts, &settings_default(), NOW);
        let cluster = facts.cluster.as_ref().expect("cluster");
        let manual = matches!(trigger, Trigger::ManualFailover { .. });
        let reader_ok = |id: &str| {
            cluster.members.iter().any(|m| m.id == id && !m.writer)
                && facts.members.iter().any(|c| {
                    c.instance.at.id == id
                        && c.instance.status == "available"
                        && c.instance.tags.get(OPT_IN).is_some_and(|v| v == "true")
                })
        };
        if let Plan::FailoverCluster(f) = &plan {
            prop_assert!(cluster.tags.get(OPT_IN).is_some_and(|v| v == "true"));
            prop_assert!(reader_ok(&f.target), "failed over to {}: {facts:?}", f.target);
            if !manual {
                prop_assert_eq!(&cluster.status, "available");
                let recent = recorded_at.is_some_and(|at| (0..CLUSTER_COOLDOWN_SECS).contains(&(NOW - at)));
                prop_assert!(!recent, "an automatic failover within the cooldown");
            }
            match &trigger {
                Trigger::ManualFailover { target: Some(target), .. } => prop_assert_eq!(&f.target, target),
                _ => {
                    let key = |id: &str| {
                        let tier = cluster.members.iter().find(|m| m.id == id).map(|m| m.promotion_tier);
                        let lag = facts.members.iter().find(|c| c.instance.at.id == id).and_then(|c| {
                            c.lag.iter().copied().filter(|v| *v >= 0.0).reduce(f64::max)
                        });
                        (tier, lag.unwrap_or(f64::INFINITY))
                    };
                    let chosen = key(&f.target);
                    for m in cluster.members.iter().filter(|m| reader_ok(&m.id)) {
                        prop_assert!(key(&m.id) >= chosen, "{} {:?} beats {} {:?}", m.id, key(&m.id), f.target, chosen);
                    }
                }
            }
            prop_assert_eq!(&f.record.subject.id, &f.target, "the record names the new writer");
        }
    }
}

fn settings_default() -> Settings {
    Settings {
        opt_in_tag_key: OPT_IN.into(),
        promote_when_available: false,
        max_replica_lag_seconds: 30.0,
        allow_cross_region: false,
        decision_ttl_secs: 3600,
    }
}

// ---------------------------------------------------------------------------------------------- routing

/// Routes an intake result, or parses it as a command, and checks the outcome.
fn check_routing(payload: &Value) {
    let failure_ids: Vec<String> =
        ["RDS-EVENT-0031", "RDS-EVENT-0035", "RDS-EVENT-0036", "RDS-EVENT-0221", "RDS-EVENT-0004", "RDS-EVENT-0022"]
            .map(str::to_owned)
            .to_vec();
    let clear =
        |text: &str| assert!(!text.is_empty() && text.len() < 2_000, "{payload}: unclear rejection {text:.300}");
    match intake::parse(payload) {
        Err(e) => clear(&e.to_string()),
        Ok(Event::Manual(manual)) => match command::parse(&manual) {
            Err(e) => clear(&e.0),
            Ok(command::Command::Status { subject, region } | command::Command::Timeline { subject, region }) => {
                let (command::Subject::Instance(id) | command::Subject::Cluster(id)) = subject;
                assert!(!id.is_empty() && region.is_none_or(|r| !r.is_empty()), "{payload}");
            }
            Ok(command::Command::Promote { replica, region }) => {
                assert!(!replica.is_empty() && region.is_none_or(|r| !r.is_empty()), "{payload}")
            }
            Ok(command::Command::FailoverCluster { cluster, target, region }) => assert!(
                !cluster.is_empty() && target.is_none_or(|t| !t.is_empty()) && region.is_none_or(|r| !r.is_empty()),
                "{payload}"
            ),
            Ok(command::Command::Pause { reason, by }) => {
                assert!(reason.is_none_or(|r| !r.is_empty()) && by.is_none_or(|b| !b.is_empty()), "{payload}")
            }
            Ok(command::Command::Resume) => {}
            Ok(command::Command::Unfence { instance, region, by, reason }) => assert!(
                !instance.is_empty()
                    && [region, by, reason].into_iter().all(|field| field.is_none_or(|f| !f.is_empty())),
                "{payload}"
            ),
            Ok(command::Command::Readiness { subject, region }) => {
                let id = match subject {
                    Some(command::Subject::Instance(id) | command::Subject::Cluster(id)) => id,
                    None => "region".to_owned(),
                };
                assert!(!id.is_empty() && region.is_none_or(|r| !r.is_empty()), "{payload}");
            }
            Ok(command::Command::SwitchoverGlobal { global, target, region }) => {
                assert!(!global.is_empty() && !target.is_empty() && region.is_none_or(|r| !r.is_empty()), "{payload}")
            }
            Ok(command::Command::Approve { decision, by } | command::Command::Reject { decision, by }) => {
                assert!(!decision.is_empty() && !by.is_empty(), "{payload}")
            }
        },
        Ok(event) => match route::route(&event, &failure_ids, HOME) {
            Route::Instance { at, .. }
            | Route::Replica { at, .. }
            | Route::FixInPlace { at, .. }
            | Route::Returned { at, .. } => {
                assert!(!at.id.is_empty() && !at.region.is_empty(), "{payload}: routed to {at:?}")
            }
            Route::Cluster { region, id, .. } => {
                assert!(!id.is_empty() && !region.is_empty(), "{payload}: routed to cluster {region:?}/{id:?}")
            }
            Route::Skip(reason) => assert!(!reason.is_empty()),
            Route::Refuse(r) => assert!(!r.reason.is_empty()),
            Route::Inform(info) => assert!(!info.event_id.is_empty()),
            other @ (Route::Promote { .. }
            | Route::Status { .. }
            | Route::Timeline { .. }
            | Route::Readiness { .. }
            | Route::Pause { .. }
            | Route::Unfence { .. }
            | Route::SwitchoverGlobal { .. }
            | Route::GlobalPrimary { .. }
            | Route::Approve { .. }
            | Route::Reject { .. }
            | Route::Resume) => {
                panic!("{payload}: an event that is not a command routed as one: {other:?}")
            }
        },
    }
}

/// The values the intake and the command parser look for.
const STRINGS: &[&str] = &[
    "ALARM",
    "OK",
    "aws.rds",
    "aws.cloudwatch",
    "RDS DB Instance Event",
    "RDS DB Cluster Event",
    "DB_INSTANCE",
    "CLUSTER",
    "RDS-EVENT-0031",
    "RDS-EVENT-0069",
    "RDS-EVENT-0045",
    "RDS-EVENT-0049",
    "arn:aws:rds:us-east-1:123456789012:db:orders",
    "arn:aws:rds:us-east-1:123456789012:db:",
    "arn:aws:rds:::cluster:catalog",
    "rds:orders",
    "status",
    "promote",
    "failover-cluster",
    "",
    " ",
];

fn leaf() -> BoxedStrategy<Value> {
    strategies::leaf(STRINGS)
}

/// The keys the intake and the command parser look at.
const KEYS: &[&str] = &[
    "command",
    "db_instance_identifier",
    "db_cluster_identifier",
    "target_db_instance_identifier",
    "region",
    "dry_run",
    "source",
    "detail-type",
    "detail",
    "account",
    "SourceType",
    "SourceArn",
    "SourceIdentifier",
    "EventID",
    "Message",
    "alarmName",
    "state",
    "value",
    "configuration",
    "metrics",
    "metricStat",
    "metric",
    "dimensions",
    "DBInstanceIdentifier",
    "DBClusterIdentifier",
];

fn json_value() -> BoxedStrategy<Value> {
    strategies::json(KEYS, leaf())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 600, ..ProptestConfig::default() })]

    #[test]
    fn mutated_samples_are_routed_or_rejected_clearly(
        payload in strategies::mutated_sample(strategies::mutation(leaf()), 1..4),
    ) {
        check_routing(&payload);
    }

    #[test]
    fn random_json_and_commands_are_routed_or_rejected_clearly(body in json_value(), command in prop::option::of(leaf())) {
        let mut payload = body;
        if let (Some(command), Some(object)) = (command, payload.as_object_mut()) {
            object.insert("command".into(), command);
        }
        check_routing(&payload);
    }
}

#[test]
fn every_sample_is_routed_or_parsed_and_each_with_any_one_field_replaced_too() {
    for (name, sample) in samples() {
        check_routing(&sample);
        let mut found = Vec::new();
        paths(&sample, &mut Vec::new(), &mut found);
        for path in found {
            for replacement in [Value::Null, Value::String(String::new()), Value::String(" ".into()), Value::from(-1)] {
                let mut payload = sample.clone();
                apply(&mut payload, &path, &Mutation::Replace(replacement));
                let result = std::panic::catch_unwind(|| check_routing(&payload));
                assert!(result.is_ok(), "{name} with {path:?} replaced");
            }
        }
    }
}

// ---------------------------------------------------------------------------------------------- the ledger

mod incident {
    //! The whole function on the in-memory ledger with fake AWS: events about one failed primary, delivered
    //! in any order, repeated, two at a time, with promotions that fail on the way.

    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;

    use database_failover::model::{Cluster, Cname, DbRef, EndpointRecord, Instance, LagPoint, DNS_RECORD_TAG};
    use database_failover::ports::{Databases, Dns, GlobalDatabases, LagMetric, ReplicaLag};
    use failover_core::aws::AwsError;
    use failover_core::ledger::State;
    use proptest::prelude::*;
    use serde_json::{json, Value};
    use test_support::memory_ledger::MemoryLedger;
    use test_support::Recorder;

    use super::{instance, HOME};

    const REPLICAS: [&str; 3] = ["r0", "r1", "r2"];

    /// RDS with one failed primary and three replicas; `PromoteReadReplica` fails as `failures` says (in
    /// order, then succeeds), and fails for good on an instance that is not a replica (as RDS does).
    struct FakeRds {
        instances: Mutex<Vec<Instance>>,
        failures: Mutex<Vec<bool>>,
        promoted: Mutex<Vec<String>>,
    }

    fn error(operation: &'static str, transient: bool) -> AwsError {
        AwsError {
            operation,
            resource: "test".into(),
            code: Some(if transient { "Throttling" } else { "InvalidDBInstanceState" }.into()),
            transient,
            message: "injected".into(),
        }
    }

    impl FakeRds {
        fn new(failures: Vec<bool>) -> Self {
            let mut primary = instance(HOME, "orders".into(), "failed".into(), true, None);
            primary.tags.insert(DNS_RECORD_TAG.to_owned(), "Z1/writer.orders.internal".to_owned());
            primary.replicas = REPLICAS.iter().map(|r| DbRef::new(HOME, *r)).collect();
            let mut all = vec![primary];
            for id in REPLICAS {
                let mut r = instance(HOME, id.into(), "available".into(), true, None);
                r.source = Some(DbRef::new(HOME, "orders"));
                all.push(r);
            }
            FakeRds { instances: Mutex::new(all), failures: Mutex::new(failures), promoted: Mutex::default() }
        }

        fn find(&self, at: &DbRef) -> Option<Instance> {
            self.instances.lock().unwrap().iter().find(|i| &i.at == at).cloned()
        }
    }

    impl GlobalDatabases for FakeRds {}

    impl Databases for FakeRds {
        async fn instance(&self, at: &DbRef) -> Result<Option<Instance>, AwsError> {
            tokio::task::yield_now().await;
            Ok(self.find(at))
        }

        async fn instances_by_id(&self, region: &str, ids: &[String]) -> Result<Vec<Instance>, AwsError> {
            tokio::task::yield_now().await;
            Ok(ids.iter().filter_map(|id| self.find(&DbRef::new(region, id))).collect())
        }

        async fn cluster(&self, _: &str, _: &str) -> Result<Option<Cluster>, AwsError> {
            Ok(None)
        }

        async fn cluster_instances(&self, _: &str, _: &str) -> Result<Vec<Instance>, AwsError> {
            Ok(Vec::new())
        }

        async fn promote(&self, replica: &DbRef, _: i32) -> Result<Option<Instance>, AwsError> {
            tokio::task::yield_now().await;
            let fail = {
                let mut failures = self.failures.lock().unwrap();
                if failures.is_empty() {
                    false
                } else {
                    failures.remove(0)
                }
            };
            if fail {
                return Err(error("PromoteReadReplica", true));
            }
            let mut all = self.instances.lock().unwrap();
            let Some(r) = all.iter_mut().find(|i| &i.at == replica && i.source.is_some()) else {
                return Err(error("PromoteReadReplica", false));
            };
            r.source = None;
            let answer = r.clone();
            all[0].replicas.retain(|x| x != replica);
            self.promoted.lock().unwrap().push(replica.id.clone());
            Ok(Some(answer))
        }

        async fn failover_cluster(&self, _: &str, _: &str, _: &str) -> Result<(), AwsError> {
            Err(error("FailoverDBCluster", false))
        }
    }

    struct Lag;

    impl ReplicaLag for Lag {
        async fn lags(
            &self,
            _: &str,
            _: LagMetric,
            instances: &[String],
            since: i64,
        ) -> Result<std::collections::BTreeMap<String, Vec<LagPoint>>, AwsError> {
            // One datapoint a minute into the look-back window: before the failure, whenever it was.
            let point = LagPoint { at: since + 60, value: 1.0 };
            Ok(instances.iter().map(|i| (i.clone(), vec![point])).collect())
        }
    }

    /// Route 53 with the primary's record, pointing at the primary; failing now and then. A batch whose DELETE
    /// does not match the record is rejected, as Route 53 does.
    struct FlakyDns {
        calls: AtomicUsize,
        record: Mutex<Cname>,
    }

    impl FlakyDns {
        fn new() -> Self {
            let primary = format!("orders.abc.{HOME}.rds.amazonaws.com");
            FlakyDns { calls: AtomicUsize::new(0), record: Mutex::new(Cname { ttl: Some(300), values: vec![primary] }) }
        }

        fn flaky(&self) -> Result<(), AwsError> {
            if self.calls.fetch_add(1, Ordering::Relaxed) % 4 == 1 {
                return Err(error("ChangeResourceRecordSets", true));
            }
            Ok(())
        }
    }

    impl Dns for FlakyDns {
        async fn cname(&self, _: &EndpointRecord) -> Result<Option<Cname>, AwsError> {
            tokio::task::yield_now().await;
            self.flaky()?;
            Ok(Some(self.record.lock().unwrap().clone()))
        }

        async fn replace_cname(
            &self,
            _: &EndpointRecord,
            current: &Cname,
            target: &str,
        ) -> Result<Option<String>, AwsError> {
            tokio::task::yield_now().await;
            self.flaky()?;
            let mut record = self.record.lock().unwrap();
            if &*record != current {
                return Ok(None);
            }
            *record = Cname { ttl: Some(30), values: vec![target.to_owned()] };
            Ok(Some("/change/C1".to_owned()))
        }

        async fn change_in_sync(&self, _: &str) -> Result<bool, AwsError> {
            Ok(true)
        }
    }

    #[test]
    fn a_primary_held_by_another_invocation_is_waited_on_for_the_wait_budget_then_answered_busy() {
        use failover_core::ledger::{LONGEST_PAUSE, MAX_WAIT};
        let runtime = tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
        let app = app(Vec::new());
        let resource = database_failover::model::promotion_resource(&DbRef::new(HOME, "orders"));
        runtime.block_on(test_support::memory_ledger::hold(app.ledger(), &resource, "another-run"));

        let (result, waited) = runtime.block_on(async {
            let started = tokio::time::Instant::now();
            (app.handle(event(0, 0)).await, started.elapsed())
        });

        let error = result.expect_err("a retryable busy error");
        assert_eq!(error.error_type(), "ResourceBusy", "{error}");
        assert!(error.to_string().contains("(another-run)"), "names the holder: {error}");
        assert!(waited > MAX_WAIT - LONGEST_PAUSE && waited <= MAX_WAIT, "waited {waited:?}");
        assert!(app.databases().promoted.lock().unwrap().is_empty(), "nothing was promoted");
    }

    type FakeApp = database_failover::App<FakeRds, Lag, FlakyDns, Recorder, MemoryLedger>;

    fn app(failures: Vec<bool>) -> FakeApp {
        let config = database_failover::Config::from_lookup(&|name: &str| match name {
            "NOTIFICATION_TOPIC_ARN" => Some("arn:aws:sns:us-east-1:123456789012:t".to_owned()),
            "LEDGER_TABLE" => Some("ledger".to_owned()),
            _ => None,
        })
        .unwrap();
        database_failover::App::with_ports(
            config,
            HOME.to_owned(),
            FakeRds::new(failures),
            Lag,
            FlakyDns::new(),
            Recorder::default(),
            MemoryLedger::new(),
        )
    }

    fn event(kind: u8, replica: usize) -> Value {
        let rds = |id: &str, event_id: &str| {
            json!({"version": "0", "id": "1", "detail-type": "RDS DB Instance Event", "source": "aws.rds",
                "account": "123456789012", "time": "2024-05-01T10:07:12Z", "region": HOME, "resources": [],
                "detail": {"SourceType": "DB_INSTANCE", "SourceArn": format!("arn:aws:rds:{HOME}:123456789012:db:{id}"),
                    "Message": "m", "EventID": event_id}})
        };
        match kind {
            0 => rds("orders", "RDS-EVENT-0031"),
            1 => rds(REPLICAS[replica], "RDS-EVENT-0045"),
            _ => json!({"command": "promote", "db_instance_identifier": REPLICAS[replica]}),
        }
    }

    /// One delivery or two at once: (kind, replica) each.
    fn steps() -> impl Strategy<Value = Vec<Vec<(u8, usize)>>> {
        let one = (0u8..3, 0usize..3);
        prop::collection::vec(prop::collection::vec(one, 1..=2), 1..8)
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

        /// At most one replica is ever promoted per primary, and a done record names the promoted one.
        #[test]
        fn any_interleaving_of_events_and_retries_promotes_at_most_one_replica_and_records_it(
            steps in steps(),
            failures in prop::collection::vec(prop::bool::weighted(0.4), 0..4),
        ) {
            let runtime =
                tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().unwrap();
            let app = app(failures);
            runtime.block_on(async {
                for step in &steps {
                    match step.as_slice() {
                        [(k, r)] => drop(app.handle(event(*k, *r)).await),
                        [(k1, r1), (k2, r2), ..] => {
                            drop(tokio::join!(app.handle(event(*k1, *r1)), app.handle(event(*k2, *r2))))
                        }
                        [] => {}
                    }
                }
                // Lambda's retries, after the last delivery.
                drop(app.handle(event(0, 0)).await);
            });
            let promoted = app.databases().promoted.lock().unwrap().clone();
            prop_assert!(promoted.len() <= 1, "promoted {promoted:?}");
            // Abandoned decisions promoted nothing; every other one names the one replica promoted.
            let decisions = app.ledger().all_records();
            let decisions = decisions.iter().filter(|r| database_failover::model::is_promotion_key(&r.key) && r.state != State::Abandoned);
            for record in decisions {
                let named = record.data["replica"]["id"].as_str().unwrap_or_default().to_owned();
                if record.state == State::Done {
                    prop_assert_eq!(&promoted, &vec![named.clone()], "a done record names the promoted replica");
                }
                if let Some(p) = promoted.first() {
                    prop_assert_eq!(p, &named, "the record names the replica promoted");
                }
            }
            // The DNS record points at the primary, or at the one replica promoted, never at another.
            let points_to = app.dns().record.lock().unwrap().values.clone();
            let allowed: Vec<String> = std::iter::once("orders").chain(promoted.iter().map(String::as_str))
                .map(|id| format!("{id}.abc.{HOME}.rds.amazonaws.com")).collect();
            prop_assert!(points_to.len() == 1 && allowed.contains(&points_to[0]), "{points_to:?}");
        }
    }
}
