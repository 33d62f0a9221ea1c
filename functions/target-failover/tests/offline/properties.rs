//! Property tests of target-failover's pure policy and of its handler's intake of anything at all.
//!
//! - The guardrail ([`decide::on_alarm`]): whatever the targets' states, the floor settings and the accused
//!   targets, a plan never removes a healthy target below `max(floor, 1)` healthy targets (the baseline's floor
//!   while a removal is open), never empties it, removes only accused targets that are not already leaving, and
//!   removes nothing from a group that cannot serve (judged on its present health, without the baseline).
//! - Traffic shift and failback ([`decide::plan_shift`], [`decide::plan_failback`]): weights stay within ELB's
//!   0–999, the failing group's whole share moves to the backup, and failing back after a shift restores every
//!   action's original weights exactly (through the shift records' data, as the handler writes it in the
//!   ledger). A listener or rule without the opt-in tag is never changed nor recorded, and is reported as left
//!   out exactly when it would have moved traffic.
//! - Tags a person can edit (backup, opt-in) and ledger records a person can edit: anything is read without
//!   panicking, and only well-formed values are used.
//! - The handler, over an in-memory load balancer and ledger: mutated samples from `events/` and random JSON
//!   never panic, every rejection is an `InvalidEvent`/`InvalidCommand` with a short message, and no invocation
//!   ever leaves a group below its floor or sets a weight out of range.
//! - The ledger and the listeners agree ([`MemoryLedger`]): over random ALARM/OK sequences with listener
//!   changes failing at random, every action at weight 0 for the failing group has a live shift record and no
//!   action serving the group has a done one; two invocations of one event at once change the weights once.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

use failover_core::aws::AwsError;
use failover_core::ledger::{Record, Snapshot, State};
use proptest::prelude::*;
use serde_json::{json, Value};
use target_failover::actions::ledger::{self, saved_weights, shift_data};
use target_failover::decide::{
    self, backup_of, Candidates, Counts, Floor, GroupThresholds, GroupView, Plan, WeightChange,
};
use target_failover::model::{
    ForwardAction, HealthThresholds, Location, SavedWeights, Tags, Target, TargetHealth, TargetState, Weight,
    BACKUP_TAG, MAX_WEIGHT,
};
use target_failover::ports::{ListedGroup, LoadBalancer};
use target_failover::{App, Config, Home};

use mutate::samples;
use test_support::memory_ledger::MemoryLedger;
use test_support::mutate;
use test_support::strategies;
use test_support::Recorder;
use test_support::OPT_IN;

const PREFIX: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012";
const GROUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/00000000000000aa";
const BACKUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-dr/00000000000000bb";

// ---------------------------------------------------------------------------------------------- strategies

/// Every state, healthy ones often enough that groups which can serve are common.
fn state() -> impl Strategy<Value = TargetState> {
    prop_oneof![
        6 => Just(TargetState::Healthy),
        3 => Just(TargetState::Unhealthy),
        1 => Just(TargetState::Initial),
        1 => Just(TargetState::UnhealthyDraining),
        1 => Just(TargetState::Unused),
        1 => Just(TargetState::Draining),
        1 => Just(TargetState::Unavailable),
        1 => Just(TargetState::Unknown),
    ]
}

/// Up to 12 targets with distinct ids (as `DescribeTargetHealth` reports them), ports 80 or none.
fn targets() -> impl Strategy<Value = Vec<TargetHealth>> {
    prop::collection::vec((state(), any::<bool>()), 0..12).prop_map(|states| {
        states
            .into_iter()
            .enumerate()
            .map(|(i, (state, port))| TargetHealth::new(Target::new(format!("i-{i:017x}"), port.then_some(80)), state))
            .collect()
    })
}

/// The settings, with sometimes an incident's baseline (an open removal) and the group's own thresholds.
fn floor() -> impl Strategy<Value = Floor> {
    let thresholds = (prop_oneof![3 => Just(0u32), 1 => 0u32..8], prop_oneof![3 => Just(0u32), 1 => 0u32..=100]);
    (prop_oneof![4 => 0u32..4, 1 => 4u32..15], 0u32..=100, proptest::option::of(0usize..20), thresholds).prop_map(
        |(min_targets, min_percent, baseline, (group_targets, group_percent))| {
            let group = GroupThresholds { min_targets: group_targets, min_percent: group_percent };
            Floor::new(min_targets, min_percent).with_baseline(baseline).with_group(group)
        },
    )
}

/// Strings a person could type into a tag value, plus a few near misses of the real formats.
fn tag_text() -> impl Strategy<Value = String> {
    prop_oneof![
        ".{0,40}",
        "[a-f0-9]{1,16}=[0-9]{1,12}( [a-f0-9]{1,16}=-?[0-9]{1,4}){0,3}",
        Just(BACKUP.to_owned()),
        Just(GROUP.to_owned()),
        Just(format!(" {BACKUP} ")),
        Just(format!("{PREFIX}:targetgroup/x")),
        Just("arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dr/1".to_owned()),
        Just("true".to_owned()),
        Just("TRUE".to_owned()),
    ]
}

fn tags() -> impl Strategy<Value = Tags> {
    let key = prop_oneof![Just(OPT_IN.to_owned()), Just(BACKUP_TAG.to_owned()), ".{0,20}",];
    prop::collection::btree_map(key, tag_text(), 0..5)
}

/// Which targets an alarm accuses: the unhealthy ones, or some named ones (registered or not, with or
/// without a port).
#[derive(Debug, Clone)]
enum Accused {
    Unhealthy,
    Named(Vec<Target>),
}

fn accused() -> impl Strategy<Value = Accused> {
    prop_oneof![
        Just(Accused::Unhealthy),
        prop::collection::vec((0usize..14, prop::option::of(prop::sample::select(vec![80, 8080]))), 1..8).prop_map(
            |named| Accused::Named(
                named.into_iter().map(|(i, port)| Target::new(format!("i-{i:017x}"), port)).collect()
            )
        ),
    ]
}

fn candidates(accused: &Accused) -> Candidates<'_> {
    match accused {
        Accused::Unhealthy => Candidates::Unhealthy,
        Accused::Named(named) => Candidates::Named(named),
    }
}

fn group_tags(opted_in: bool, backup: bool) -> Tags {
    let mut tags = Tags::new();
    if opted_in {
        tags.insert(OPT_IN.into(), "true".into());
    }
    if backup {
        tags.insert(BACKUP_TAG.into(), BACKUP.into());
    }
    tags
}

/// Forward actions naming the failing group, each with up to 4 other groups (distinct ids), the backup among
/// them or not, weights 0–999; distinct listener and rule ids.
fn actions() -> impl Strategy<Value = Vec<ForwardAction>> {
    let action =
        (0u32..=MAX_WEIGHT, prop::option::of(0u32..=MAX_WEIGHT), prop::collection::vec(0u32..=MAX_WEIGHT, 0..4));
    prop::collection::vec((action, any::<bool>()), 1..5).prop_map(|actions| {
        actions
            .into_iter()
            .enumerate()
            .map(|(i, ((failing, backup, others), rule))| {
                let listener = format!("{PREFIX}:listener/app/shop/1111111111111111/{i:016x}");
                let location = if rule {
                    Location::Rule(format!(
                        "{PREFIX}:listener-rule/app/shop/1111111111111111/{i:016x}/{:016x}",
                        i + 100
                    ))
                } else {
                    Location::Listener(listener)
                };
                let mut weights = vec![Weight::new(GROUP, failing)];
                if let Some(b) = backup {
                    weights.push(Weight::new(BACKUP, b));
                }
                for (j, w) in others.into_iter().enumerate() {
                    weights.push(Weight::new(format!("{PREFIX}:targetgroup/other{j}/{j:016x}"), w));
                }
                ForwardAction { location, weights }
            })
            .collect()
    })
}

// ---------------------------------------------------------------------------------------------- the guardrail

/// The invariants of one alarm plan for a group (see the module doc).
fn check_alarm_plan(group: GroupView<'_>, accused: &Accused, floor: Floor, plan: &Plan) {
    let before = Counts::of(group.targets, floor);
    // Whether the group serves is its present health; the baseline limits only the removals.
    let present = Counts::of(group.targets, floor.with_baseline(None));
    let is_accused = |t: &TargetHealth| match accused {
        Accused::Unhealthy => t.state == TargetState::Unhealthy,
        Accused::Named(named) => named.iter().any(|n| t.target.matches(n)),
    };
    match plan {
        Plan::Deregister { targets, counts, healthy_after, .. } => {
            assert!(group.opted_in(), "changed a group that is not opted in");
            assert_eq!(*counts, before);
            assert!(present.can_serve(), "removed targets from a group that cannot serve: {present:?}");
            assert!(!targets.is_empty(), "an empty deregistration");
            let removed: BTreeSet<&Target> = targets.iter().map(|t| &t.target).collect();
            assert_eq!(removed.len(), targets.len(), "a target listed twice");
            for t in targets {
                let listed = group.targets.iter().find(|g| g.target == t.target).expect("a registered target");
                assert!(is_accused(listed), "{} is not accused", t.target);
                assert!(!listed.state.leaving(), "{} is already leaving", t.target);
            }
            let left: Vec<&TargetHealth> = group.targets.iter().filter(|t| !removed.contains(&t.target)).collect();
            let healthy_left = left.iter().filter(|t| t.state.serves()).count();
            assert_eq!(healthy_left, *healthy_after, "healthy_after is what remains");
            // Healthy targets go only down to the floor (the baseline's while a removal is open); at or below
            // it, only idle ones go.
            let floor_left = before.required().min(before.healthy);
            assert!(healthy_left >= floor_left, "{healthy_left} healthy left, floor {}", before.required());
            assert!(left.iter().any(|t| !t.state.leaving()), "the group was emptied");
            // Nothing accused and idle is kept: removing it costs no healthy capacity.
            // (`unused` targets are ignored.)
            let idle = |t: &&TargetHealth| !t.state.leaving() && !t.state.serves() && t.state != TargetState::Unused;
            for t in group.targets.iter().filter(|t| is_accused(t)).filter(idle) {
                assert!(removed.contains(&t.target), "{} ({:?}) accused and idle, but kept", t.target, t.state);
            }
        }
        Plan::ShiftTraffic { backup, counts, .. } => {
            assert!(group.opted_in());
            assert!(!counts.can_serve(), "shifted traffic away from a group that can serve");
            assert_eq!(*counts, present, "a shift is judged on the present health");
            assert_eq!(Some(Ok(backup.clone())), group.backup());
        }
        Plan::Failback { .. } => panic!("an alarm never fails back"),
        Plan::Skip { reason } | Plan::Refuse { reason, .. } => assert!(!reason.is_empty()),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn an_alarm_never_takes_a_group_below_its_floor_nor_empties_it(
        targets in targets(),
        floor in floor(),
        accused in accused(),
        opted_in in any::<bool>(),
        backup in any::<bool>(),
    ) {
        let tags = group_tags(opted_in, backup);
        let group = GroupView { arn: GROUP, tags: &tags, targets: &targets, opt_in_tag_key: OPT_IN };
        let plan = decide::on_alarm(group, candidates(&accused), floor);
        check_alarm_plan(group, &accused, floor, &plan);
    }

    #[test]
    fn failback_happens_only_for_an_opted_in_group_that_serves_and_has_saved_weights(
        targets in targets(),
        floor in floor(),
        tags in tags(),
        records in records(),
        force in any::<bool>(),
    ) {
        let group = GroupView { arn: GROUP, tags: &tags, targets: &targets, opt_in_tag_key: OPT_IN };
        let saved = saved_weights(&snapshot(records));
        // Whether a group serves again is its present health against the configured floor: an incident's
        // baseline limits removals only, it never holds traffic on the backup.
        let counts = Counts::of(&targets, floor.with_baseline(None));
        match decide::on_ok(group, Candidates::Unhealthy, floor, &saved) {
            Plan::Failback { .. } => {
                prop_assert!(group.opted_in() && !saved.is_empty() && counts.can_serve());
            }
            Plan::Skip { .. } | Plan::Refuse { .. } => {}
            other => prop_assert!(false, "OK planned {other:?}"),
        }
        // A person may force a failback, but only of an opted-in group with saved weights.
        match decide::on_failback_command(group, floor, &saved, force) {
            Plan::Failback { .. } => prop_assert!(group.opted_in() && !saved.is_empty() && (force || counts.can_serve())),
            Plan::Skip { .. } | Plan::Refuse { .. } => {}
            other => prop_assert!(false, "failback command planned {other:?}"),
        }
    }

    #[test]
    fn a_shift_needs_an_opted_in_group_and_a_valid_backup_tag(tags in tags(), targets in targets(), floor in floor()) {
        let group = GroupView { arn: GROUP, tags: &tags, targets: &targets, opt_in_tag_key: OPT_IN };
        if let Plan::ShiftTraffic { backup, .. } = decide::on_shift_command(group, floor) {
            prop_assert!(group.opted_in());
            prop_assert_eq!(backup_of(GROUP, &tags), Some(Ok(backup)));
        }
    }
}

// ---------------------------------------------------------------------------------------------- tags people edit

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn any_record_data_is_read_without_panic_and_only_open_well_formed_shift_records_are_used(
        records in records(),
    ) {
        let snapshot = snapshot(records);
        for (location, pairs) in saved_weights(&snapshot) {
            let record = snapshot.record(&format!("shift#{location}")).expect("read from a shift record");
            prop_assert!(ledger::open(record), "{record:?}");
            prop_assert!(!pairs.is_empty());
            prop_assert_eq!(Some(pairs.len()), record.data["before"].as_array().map(Vec::len), "every weight read");
        }
    }

    #[test]
    fn any_tag_text_is_read_without_panic_and_only_well_formed_values_are_used(tags in tags()) {
        if let Some(Ok(backup)) = backup_of(GROUP, &tags) {
            prop_assert!(backup != GROUP, "a group is never its own backup");
            prop_assert!(backup.starts_with(&format!("{PREFIX}:targetgroup/")), "{backup} is elsewhere");
        }
        let group = GroupView { arn: GROUP, tags: &tags, targets: &[], opt_in_tag_key: OPT_IN };
        prop_assert_eq!(group.opted_in(), tags.get(OPT_IN).is_some_and(|v| v == "true"));
    }
}

// ---------------------------------------------------------------------------------------------- ledger records

/// Records of the group as the ledger holds them (`data` as given).
fn record(key: &str, state: State, data: Value) -> Record {
    Record::pending(&ledger::resource(GROUP), key, "someone", "alarm web", 1, i64::MAX / 2)
        .with_state(state)
        .with_data(data)
}

fn snapshot(records: Vec<Record>) -> Snapshot {
    let mut records = records;
    records.sort_by(|a, b| a.key.cmp(&b.key));
    records.dedup_by(|a, b| a.key == b.key);
    Snapshot { resource: ledger::resource(GROUP), at: 2, version: 1, holder: None, records }
}

/// Shift records as the handler writes them, and damaged ones: other keys, any state, any data.
fn records() -> impl Strategy<Value = Vec<Record>> {
    let state = prop::sample::select(vec![State::Pending, State::Done, State::Closed, State::Abandoned]);
    let weight = (
        prop::sample::select(vec![GROUP, BACKUP, "x"]),
        prop_oneof![Just(json!(1)), Just(json!(-1)), Just(json!("9"))],
    );
    let well_formed = prop::collection::vec(weight, 0..3).prop_map(|ws| {
        json!({"before": ws.into_iter().map(|(arn, w)| json!({"group_arn": arn, "weight": w})).collect::<Vec<_>>()})
    });
    let data = prop_oneof![well_formed, json_value()];
    let key =
        prop_oneof!["[a-f0-9/]{0,20}".prop_map(|k| format!("shift#{k}")), Just("removal#i-1".to_owned()), ".{0,10}",];
    prop::collection::vec((key, state, data), 0..4)
        .prop_map(|rs| rs.into_iter().map(|(key, state, data)| record(&key, state, data)).collect())
}

/// The saved weights of a shift's changes, through the records the handler writes.
fn saved_by(changes: &[WeightChange]) -> SavedWeights {
    let records =
        changes.iter().map(|c| record(&ledger::shift_key(&c.location), State::Done, shift_data(c, BACKUP))).collect();
    saved_weights(&snapshot(records))
}

// ---------------------------------------------------------------------------------------------- shift and failback

/// The listeners and rules of `actions` that carry the opt-in tag: all but those whose `left_out` is true.
fn opted_in(actions: &[ForwardAction], left_out: &[bool]) -> decide::OptedIn {
    actions
        .iter()
        .enumerate()
        .filter(|(i, _)| !left_out.get(*i).copied().unwrap_or(false))
        .map(|(_, a)| a.location.arn().to_owned())
        .collect()
}

/// The actions as they are after `changes` were applied.
fn applied(actions: &[ForwardAction], changes: &[decide::WeightChange]) -> Vec<ForwardAction> {
    actions
        .iter()
        .map(|a| match changes.iter().find(|c| c.location == a.location) {
            Some(change) => ForwardAction { weights: change.after.clone(), ..a.clone() },
            None => a.clone(),
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn a_shift_keeps_weights_in_range_and_failing_back_restores_the_original_weights(actions in actions()) {
        let shift = decide::plan_shift(&actions, GROUP, BACKUP, &Default::default(), &opted_in(&actions, &[]));
        prop_assert!(shift.already_shifted.is_empty());
        for action in &actions {
            let changed = shift.changes.iter().find(|c| c.location == action.location);
            let moved = action.weight_of(GROUP).unwrap_or(0);
            prop_assert_eq!(changed.is_some(), moved > 0, "{:?}", action.location);
            let Some(change) = changed else { continue };
            prop_assert_eq!(&change.before, &action.weights);
            prop_assert!(change.after.iter().all(|w| w.weight <= MAX_WEIGHT), "{:?}", change.after);
            let after: BTreeMap<&str, u32> = change.after.iter().map(|w| (w.group_arn.as_str(), w.weight)).collect();
            prop_assert_eq!(after.len(), change.after.len(), "a group listed twice");
            prop_assert_eq!(after[GROUP], 0);
            let backup_before = action.weight_of(BACKUP).unwrap_or(0);
            prop_assert_eq!(after[BACKUP], (backup_before + moved).min(MAX_WEIGHT));
            prop_assert!(after[BACKUP] > 0, "the action still sends its traffic somewhere");
            for w in action.weights.iter().filter(|w| w.group_arn != GROUP && w.group_arn != BACKUP) {
                prop_assert_eq!(after[w.group_arn.as_str()], w.weight, "another group's share changed");
            }
        }
        // Recorded before the change, in the failing group's ledger; one record per changed action.
        let saved = saved_by(&shift.changes);
        prop_assert_eq!(saved.len(), shift.changes.len());
        let shifted = applied(&actions, &shift.changes);

        // The same alarm again: nothing more to change, every shifted action recognised.
        let again = decide::plan_shift(&shifted, GROUP, BACKUP, &saved, &opted_in(&actions, &[]));
        prop_assert!(again.changes.is_empty(), "{again:?}");
        prop_assert_eq!(again.already_shifted.len(), shift.changes.len());

        let failback = decide::plan_failback(&shifted, GROUP, Some(BACKUP), &saved, &opted_in(&actions, &[]));
        prop_assert!(failback.conflicts.is_empty(), "{:?}", failback.conflicts);
        prop_assert!(failback.stale_keys.is_empty());
        prop_assert_eq!(failback.restored_keys.len(), shift.changes.len());
        let restored = applied(&shifted, &failback.changes);
        for (original, now) in actions.iter().zip(&restored) {
            prop_assert_eq!(&original.weights, &now.weights, "{:?} not restored", original.location);
        }
    }

    #[test]
    fn listeners_and_rules_not_opted_in_are_left_out_of_shift_and_failback(
        actions in actions(),
        left_out in prop::collection::vec(any::<bool>(), 5),
    ) {
        let opted = opted_in(&actions, &left_out);
        let shift = decide::plan_shift(&actions, GROUP, BACKUP, &Default::default(), &opted);
        for (action, out) in actions.iter().zip(&left_out) {
            let moves = action.weight_of(GROUP).unwrap_or(0) > 0;
            prop_assert_eq!(shift.not_opted_in.contains(&action.location), *out && moves, "{:?}", action.location);
            if *out {
                prop_assert!(!shift.changes.iter().any(|c| c.location == action.location));
            }
        }
        // Failing back restores what was recorded, and only that.
        let saved = saved_by(&shift.changes);
        let shifted = applied(&actions, &shift.changes);
        let failback = decide::plan_failback(&shifted, GROUP, Some(BACKUP), &saved, &opted);
        prop_assert!(failback.not_opted_in.is_empty() && failback.conflicts.is_empty());
        prop_assert_eq!(failback.restored_keys.len(), shift.changes.len());
        let restored = applied(&shifted, &failback.changes);
        for (original, now) in actions.iter().zip(&restored) {
            prop_assert_eq!(&original.weights, &now.weights, "{:?} not as before", original.location);
        }
    }

    #[test]
    fn saved_weights_survive_the_record_format(actions in actions()) {
        let changes: Vec<WeightChange> = actions
            .iter()
            .map(|a| WeightChange { location: a.location.clone(), before: a.weights.clone(), after: vec![] })
            .collect();
        let saved = saved_by(&changes);
        for action in &actions {
            let pairs = &saved[&action.location.key()];
            let before: Vec<(String, u32)> = action.weights.iter().map(|w| (w.group_arn.clone(), w.weight)).collect();
            prop_assert_eq!(pairs, &before);
        }
    }
}

// ---------------------------------------------------------------------------------------------- the handler

/// An in-memory load balancer: every group has the same targets; a group is opted in with a backup in its own
/// account and region; each group has one listener forwarding to it. Records every change.
#[derive(Clone)]
struct FakeLb {
    targets: Vec<TargetHealth>,
    changes: Arc<Mutex<Changes>>,
}

#[derive(Default, Debug)]
struct Changes {
    deregistered: BTreeMap<String, Vec<Target>>,
    weights: Vec<Vec<Weight>>,
}

impl FakeLb {
    fn tags_of(&self, group: &str) -> Tags {
        let mut tags = group_tags(true, false);
        if let Some((prefix, _)) = group.split_once(":targetgroup/") {
            tags.insert(BACKUP_TAG.into(), format!("{prefix}:targetgroup/backup/00000000000000bb"));
        }
        tags
    }
}

impl LoadBalancer for FakeLb {
    type Actions = ();

    async fn tags(&self, groups: &[String]) -> Result<Vec<(String, Option<Tags>)>, AwsError> {
        Ok(groups.iter().map(|g| (g.clone(), Some(self.tags_of(g)))).collect())
    }
    async fn instance_groups(&self) -> Result<Vec<ListedGroup>, AwsError> {
        Ok(vec![ListedGroup::arn_only(GROUP), ListedGroup::arn_only(BACKUP)])
    }
    async fn target_health(&self, _group: &str) -> Result<Option<Vec<TargetHealth>>, AwsError> {
        Ok(Some(self.targets.clone()))
    }
    async fn health_thresholds(&self, _group: &str) -> Result<Option<HealthThresholds>, AwsError> {
        Ok(Some(HealthThresholds::from_attributes([])))
    }
    async fn deregister(&self, group: &str, targets: &[Target]) -> Result<(), AwsError> {
        self.changes.lock().unwrap().deregistered.entry(group.to_owned()).or_default().extend(targets.iter().cloned());
        Ok(())
    }
    async fn register(&self, _group: &str, _targets: &[Target]) -> Result<(), AwsError> {
        Ok(())
    }
    async fn forwards_to(&self, group: &str, _: &[String]) -> Result<Vec<(ForwardAction, ())>, AwsError> {
        let location = Location::Listener(format!("{PREFIX}:listener/app/shop/1111111111111111/2222222222222222"));
        Ok(vec![(ForwardAction { location, weights: vec![Weight::new(group, 999)] }, ())])
    }
    async fn set_weights(&self, _location: &Location, _actions: &(), weights: &[Weight]) -> Result<(), AwsError> {
        self.changes.lock().unwrap().weights.push(weights.to_vec());
        Ok(())
    }
}

/// Writes a done shift record with `data` for the fake's listener, as a shift would.
async fn seed(ledger: &MemoryLedger, data: Value) {
    use failover_core::ledger::{Begin, Ledger, Settle};
    let (resource, key, now) = (ledger::resource(GROUP), "shift#2222222222222222", failover_core::time::now_secs());
    let record = Record::pending(&resource, key, "seed", "alarm web", now, 86_400).with_data(data);
    let snapshot = ledger.read(&resource, now).await.expect("read");
    let begin = Begin { owner: "seed", now, hold_secs: 60, retention_secs: 86_400, records: &[record], force: false };
    ledger.begin(&snapshot, &begin).await.expect("begin");
    let settle = [Settle::pending(key, "seed", State::Done)];
    assert!(ledger.end(&resource, "seed", now, 86_400, &settle, &[]).await.expect("end"));
}

/// Runs the handler on `payload` against a group with `targets`, then checks: no panic (we got here), a
/// rejection is a clear input error, the floor held in every group, and every weight set is in range.
fn check_handler(payload: Value, mut targets: Vec<TargetHealth>, saved: Option<Value>) {
    // The targets the samples name (an instance alarm, the deregister command) are in the group.
    for (t, (id, port)) in targets.iter_mut().zip([("i-0abc1234def567890", Some(80)), ("10.0.1.7", Some(8080))]) {
        t.target = Target::new(id, port);
    }
    let lb = FakeLb { targets: targets.clone(), changes: Arc::default() };
    let recorder = Recorder::new();
    let config = Config::from_lookup(&test_support::lookup(&[
        ("NOTIFICATION_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:failover"),
        ("LEDGER_TABLE", "failover-ledger"),
    ]))
    .expect("config");
    let floor = Floor::new(config.min_healthy_targets, config.min_healthy_percent);
    let home = Home { partition: "aws".into(), account: "123456789012".into(), region: "us-east-1".into() };
    let ledger = MemoryLedger::new();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().expect("runtime");
    if let Some(data) = saved {
        runtime.block_on(seed(&ledger, data));
    }
    let app = App::with_ports(config, lb.clone(), &recorder, ledger, home);

    let result = runtime.block_on(app.handle(payload.clone()));

    if let Err(error) = &result {
        let text = error.to_string();
        // A Region switch step's refusal or no-op is its error too (published first when it is published at all).
        let step = payload.get("PlanArn").is_some()
            && matches!(error.error_type(), "ActionRefused" | "ActionFailed" | "NothingDone");
        assert!(
            step || matches!(error.error_type(), "InvalidEvent" | "InvalidCommand"),
            "{payload}: an in-memory load balancer cannot fail, yet {}: {text}",
            error.error_type()
        );
        assert!(!text.is_empty() && text.len() < 4_000, "{payload}: unclear rejection {text:.300}");
        assert!(step || recorder.published().is_empty(), "a rejected payload notified");
    }
    let changes = lb.changes.lock().unwrap();
    let required = Counts::of(&targets, floor).required();
    for (group, removed) in &changes.deregistered {
        let healthy_left =
            targets.iter().filter(|t| t.state.serves() && !removed.iter().any(|r| r == &t.target)).count();
        assert!(healthy_left >= required, "{payload}: {group} left with {healthy_left} healthy, needs {required}");
    }
    // Only shifts set weights here (the fake's listener still forwards to the group, so a failback finds its
    // saved weights stale): a shift always leaves the action some traffic.
    for weights in &changes.weights {
        assert!(weights.iter().all(|w| w.weight <= MAX_WEIGHT), "{payload}: weights {weights:?}");
        assert!(weights.iter().any(|w| w.weight > 0), "{payload}: an action left with no traffic {weights:?}");
    }
}

/// The values the intake and the command parser look for.
const STRINGS: &[&str] = &[
    "ALARM",
    "OK",
    "aws.cloudwatch",
    "CloudWatch Alarm State Change",
    "status",
    "deregister",
    "restore",
    "shift",
    "failback",
    GROUP,
    BACKUP,
    "targetgroup/web/00000000000000aa",
    "i-00000000000000001",
    "arn:aws:cloudwatch:us-east-1:123456789012:alarm:web",
];

fn leaf() -> BoxedStrategy<Value> {
    strategies::leaf(STRINGS)
}

/// The keys the intake and the command parser look at.
const KEYS: &[&str] = &[
    "command",
    "target_group_arn",
    "targets",
    "id",
    "port",
    "force",
    "dry_run",
    "source",
    "detail-type",
    "detail",
    "resources",
    "alarmName",
    "state",
    "previousState",
    "value",
    "configuration",
    "metrics",
    "metricStat",
    "metric",
    "dimensions",
    "TargetGroup",
    "InstanceId",
    "account",
    "region",
];

fn json_value() -> BoxedStrategy<Value> {
    strategies::json(KEYS, leaf())
}

/// A shift record of the fake group's one listener, sometimes; or one whose data a person damaged.
fn saved() -> impl Strategy<Value = Option<Value>> {
    prop_oneof![
        Just(None),
        Just(Some(json!({"before": [{"group_arn": GROUP, "weight": 999}], "backup": BACKUP}))),
        json_value().prop_map(Some),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn mutated_samples_never_panic_and_never_break_the_guardrail(
        payload in strategies::mutated_sample(strategies::mutation(json_value()), 0..4),
        targets in targets(),
        saved in saved(),
    ) {
        check_handler(payload, targets, saved);
    }

    #[test]
    fn random_json_and_commands_never_panic(body in json_value(), command in prop::option::of(leaf()), targets in targets()) {
        let mut payload = body;
        if let (Some(command), Some(object)) = (command, payload.as_object_mut()) {
            object.insert("command".into(), command);
        }
        check_handler(payload, targets, None);
    }
}

#[test]
fn every_sample_runs_through_the_handler_with_every_kind_of_group() {
    // Deterministic companion of the properties: each sample against a healthy, a degraded and a failed group.
    let group = |states: &[TargetState]| -> Vec<TargetHealth> {
        states
            .iter()
            .enumerate()
            .map(|(i, s)| TargetHealth::new(Target::new(format!("i-{i:017x}"), Some(80)), *s))
            .collect()
    };
    use TargetState::{Healthy, Unhealthy};
    for (name, sample) in samples() {
        for targets in [group(&[Healthy; 3]), group(&[Healthy, Unhealthy, Unhealthy]), group(&[Unhealthy; 3])] {
            let result = std::panic::catch_unwind(|| check_handler(sample.clone(), targets.clone(), None));
            assert!(result.is_ok(), "{name} with {targets:?}");
        }
    }
}

// ---------------------------------------------------------------------------------------------- the ledger and the listeners

/// A group (GROUP, backup BACKUP, both opted in) behind a listener and a rule, its targets all healthy or all
/// failing; re-weighting fails on the calls numbered in `fail`, and every call may yield to another invocation.
#[derive(Clone, Default)]
struct World {
    state: Arc<Mutex<WorldState>>,
}

#[derive(Default)]
struct WorldState {
    failing: bool,
    actions: Vec<ForwardAction>,
    fail: BTreeSet<usize>,
    set_calls: usize,
}

impl World {
    fn new(fail: BTreeSet<usize>) -> Self {
        let listener = Location::Listener(format!("{PREFIX}:listener/app/shop/1111111111111111/2222222222222222"));
        let rule = Location::Rule(format!(
            "{PREFIX}:listener-rule/app/shop/1111111111111111/2222222222222222/3333333333333333"
        ));
        let actions = vec![
            ForwardAction { location: listener, weights: vec![Weight::new(GROUP, 100), Weight::new(BACKUP, 0)] },
            ForwardAction { location: rule, weights: vec![Weight::new(GROUP, 1)] },
        ];
        World { state: Arc::new(Mutex::new(WorldState { actions, fail, ..WorldState::default() })) }
    }

    fn actions(&self) -> Vec<ForwardAction> {
        self.state.lock().unwrap().actions.clone()
    }
}

impl LoadBalancer for World {
    type Actions = ();

    async fn tags(&self, arns: &[String]) -> Result<Vec<(String, Option<Tags>)>, AwsError> {
        tokio::task::yield_now().await;
        Ok(arns.iter().map(|arn| (arn.clone(), Some(group_tags(true, arn == GROUP)))).collect())
    }
    async fn instance_groups(&self) -> Result<Vec<ListedGroup>, AwsError> {
        Ok(vec![ListedGroup::arn_only(GROUP)])
    }
    async fn target_health(&self, group: &str) -> Result<Option<Vec<TargetHealth>>, AwsError> {
        tokio::task::yield_now().await;
        let state = if group == GROUP && self.state.lock().unwrap().failing { "unhealthy" } else { "healthy" };
        let target =
            |i: usize| TargetHealth::new(Target::new(format!("i-{i:017x}"), Some(80)), TargetState::parse(state));
        Ok(Some((0..3).map(target).collect()))
    }
    async fn health_thresholds(&self, _group: &str) -> Result<Option<HealthThresholds>, AwsError> {
        Ok(Some(HealthThresholds::from_attributes([])))
    }
    async fn deregister(&self, _group: &str, _targets: &[Target]) -> Result<(), AwsError> {
        Ok(())
    }
    async fn register(&self, _group: &str, _targets: &[Target]) -> Result<(), AwsError> {
        Ok(())
    }
    async fn forwards_to(&self, group: &str, _: &[String]) -> Result<Vec<(ForwardAction, ())>, AwsError> {
        tokio::task::yield_now().await;
        Ok(self.actions().into_iter().filter(|a| a.weight_of(group).is_some()).map(|a| (a, ())).collect())
    }
    async fn set_weights(&self, location: &Location, _actions: &(), weights: &[Weight]) -> Result<(), AwsError> {
        tokio::task::yield_now().await;
        let mut state = self.state.lock().unwrap();
        state.set_calls += 1;
        if state.fail.contains(&state.set_calls) {
            return Err(AwsError {
                operation: "ModifyListener",
                resource: location.arn().to_owned(),
                code: Some("Throttling".into()),
                transient: true,
                message: "rate exceeded".into(),
            });
        }
        let action = state.actions.iter_mut().find(|a| &a.location == location).expect("a known action");
        action.weights = weights.to_vec();
        Ok(())
    }
}

fn alarm(state: &str, previous: &str) -> Value {
    json!({
        "version": "0", "id": "e-1", "detail-type": "CloudWatch Alarm State Change", "source": "aws.cloudwatch",
        "account": "123456789012", "region": "us-east-1",
        "resources": ["arn:aws:cloudwatch:us-east-1:123456789012:alarm:web"],
        "detail": {"alarmName": "web", "state": {"value": state}, "previousState": {"value": previous},
            "configuration": {"metrics": [{"id": "m1", "metricStat": {"metric": {"namespace": "AWS/ApplicationELB",
                "name": "UnHealthyHostCount", "dimensions": {"TargetGroup": "targetgroup/web/00000000000000aa"}},
                "period": 60, "stat": "Maximum"}}]}}
    })
}

fn world_app<'r>(world: &World, recorder: &'r Recorder) -> App<World, &'r Recorder, MemoryLedger> {
    let config = Config::from_lookup(&test_support::lookup(&[
        ("NOTIFICATION_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:failover"),
        ("LEDGER_TABLE", "failover-ledger"),
    ]))
    .expect("config");
    let home = Home { partition: "aws".into(), account: "123456789012".into(), region: "us-east-1".into() };
    App::with_ports(config, world.clone(), recorder, MemoryLedger::new(), home)
}

/// Every action at weight 0 for the group has a live shift record; no action serving the group has a done one.
fn check_consistent(world: &World, ledger: &MemoryLedger, step: &str) -> Result<(), TestCaseError> {
    let records = ledger.all_records();
    for action in world.actions() {
        let key = ledger::shift_key(&action.location);
        let record = records.iter().find(|r| r.key == key && r.resource == ledger::resource(GROUP));
        match action.weight_of(GROUP) {
            Some(0) => prop_assert!(
                record.is_some_and(ledger::open),
                "{step}: {:?} shifted without a live record: {records:?}",
                action.location
            ),
            _ => prop_assert!(
                !record.is_some_and(|r| r.state == State::Done),
                "{step}: {:?} serves the group with a done shift record: {records:?}",
                action.location
            ),
        }
    }
    Ok(())
}

fn paused_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_time().start_paused(true).build().expect("runtime")
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn over_any_alarm_sequence_with_failing_listener_changes_the_ledger_agrees_with_the_listeners(
        alarms in prop::collection::vec(any::<bool>(), 1..10),
        fail in prop::collection::btree_set(1usize..12, 0..4),
    ) {
        let (world, recorder) = (World::new(fail), Recorder::new());
        let app = world_app(&world, &recorder);
        let runtime = paused_runtime();
        for (i, failing) in alarms.iter().enumerate() {
            world.state.lock().unwrap().failing = *failing;
            let event = if *failing { alarm("ALARM", "OK") } else { alarm("OK", "ALARM") };
            let result = runtime.block_on(app.handle(event));
            if let Err(error) = &result {
                prop_assert_eq!(error.error_type(), "AwsError", "{}", error);
            }
            check_consistent(&world, app.ledger(), &format!("event {i} ({})", if *failing { "ALARM" } else { "OK" }))?;
        }
    }

    #[test]
    fn two_invocations_of_one_alarm_at_once_change_the_weights_once_and_leave_the_ledger_consistent(
        failing in any::<bool>(),
        shifted_first in any::<bool>(),
    ) {
        let (world, recorder) = (World::new(BTreeSet::new()), Recorder::new());
        let app = world_app(&world, &recorder);
        let runtime = paused_runtime();
        if shifted_first {
            world.state.lock().unwrap().failing = true;
            runtime.block_on(app.handle(alarm("ALARM", "OK"))).expect("shift");
            recorder.take();
        }
        world.state.lock().unwrap().failing = failing;
        let calls_before = world.state.lock().unwrap().set_calls;
        let event = if failing { alarm("ALARM", "OK") } else { alarm("OK", "ALARM") };

        let (a, b) = runtime.block_on(async { tokio::join!(app.handle(event.clone()), app.handle(event.clone())) });

        prop_assert!(a.is_ok() && b.is_ok(), "{a:?} {b:?}");
        let changed = world.state.lock().unwrap().set_calls - calls_before;
        let expected = if failing != shifted_first { 2 } else { 0 };
        prop_assert_eq!(changed, expected, "each action re-weighted at most once");
        let acted = recorder.published().iter().filter(|r| r.outcome == failover_core::outcome::Outcome::Succeeded).count();
        prop_assert_eq!(acted, usize::from(expected > 0), "{:?}", recorder.published());
        check_consistent(&world, app.ledger(), "after both")?;
    }
}

#[test]
fn a_group_held_by_another_invocation_is_waited_on_for_the_wait_budget_then_answered_busy() {
    use failover_core::ledger::{LONGEST_PAUSE, MAX_WAIT};
    let (world, recorder) = (World::new(BTreeSet::new()), Recorder::new());
    world.state.lock().unwrap().failing = true;
    let app = world_app(&world, &recorder);
    let runtime = paused_runtime();
    runtime.block_on(test_support::memory_ledger::hold(app.ledger(), &ledger::resource(GROUP), "another-run"));

    let (result, waited) = runtime.block_on(async {
        let started = tokio::time::Instant::now();
        (app.handle(alarm("ALARM", "OK")).await, started.elapsed())
    });

    let error = result.expect_err("a retryable busy error");
    assert_eq!(error.error_type(), "ResourceBusy", "{error}");
    assert!(error.to_string().contains("(another-run)"), "names the holder: {error}");
    assert!(waited > MAX_WAIT - LONGEST_PAUSE && waited <= MAX_WAIT, "waited {waited:?}");
    assert_eq!(world.state.lock().unwrap().set_calls, 0, "nothing was changed");
    assert!(recorder.published().is_empty(), "a busy group is not notified");
}

#[test]
fn a_stale_alarm_event_is_skipped_at_once_even_while_another_invocation_holds_its_alarm() {
    let (world, recorder) = (World::new(BTreeSet::new()), Recorder::new());
    let app = world_app(&world, &recorder);
    let runtime = paused_runtime();
    let mut event = alarm("OK", "ALARM");
    event["detail"]["state"]["timestamp"] = json!("2026-12-06T10:00:00.000+0000");
    runtime.block_on(app.handle(event.clone())).expect("the first delivery");
    let alarm_resource =
        target_failover::actions::transitions::resource("arn:aws:cloudwatch:us-east-1:123456789012:alarm:web");
    runtime.block_on(test_support::memory_ledger::hold(app.ledger(), &alarm_resource, "another-run"));

    let (again, waited) = runtime.block_on(async {
        let started = tokio::time::Instant::now();
        (app.handle(event).await, started.elapsed())
    });

    let again = again.expect("a stale event is a skip, not a retryable error");
    assert_eq!(again.status, failover_core::outcome::Outcome::Skipped, "{again:?}");
    assert!(again.message.contains("stale event"), "{again:?}");
    assert_eq!(waited, std::time::Duration::ZERO, "no wait for the holder");
}

/// Both worlds' groups are behind one load balancer (its listener and rules forward to them); nothing else of it
/// is modelled, so the zonal reads find no ARC and the plans are made on target health.
const LOAD_BALANCER: &str =
    "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1111111111111111";

impl target_failover::ports::Zonal for FakeLb {
    async fn balancers_of(&self, _group: &str) -> Result<Vec<String>, AwsError> {
        Ok(vec![LOAD_BALANCER.to_owned()])
    }
}
impl target_failover::ports::Fleet for FakeLb {}
impl target_failover::ports::Zonal for World {
    async fn balancers_of(&self, _group: &str) -> Result<Vec<String>, AwsError> {
        Ok(vec![LOAD_BALANCER.to_owned()])
    }
}
impl target_failover::ports::Fleet for World {}
