use super::*;
use crate::model::{ForwardAction, HealthThresholds, TargetState, MAX_WEIGHT};

const TG: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web/00000000000000aa";
const BACKUP: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/web-dr/00000000000000bb";
const OTHER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:targetgroup/canary/00000000000000cc";
const LISTENER: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener/app/shop/1111/2222";
const RULE: &str = "arn:aws:elasticloadbalancing:us-east-1:123456789012:listener-rule/app/shop/1111/2222/3333";
const OPT_IN: &str = "failover:enabled";

const DEFAULT_FLOOR: Floor = Floor::new(1, 50);

fn health(id: &str, state: &str) -> TargetHealth {
    TargetHealth::new(Target::new(id, Some(80)), TargetState::parse(state))
}

fn fleet(states: &[&str]) -> Vec<TargetHealth> {
    states.iter().enumerate().map(|(i, s)| health(&format!("i-{i}"), s)).collect()
}

fn tags(backup: Option<&str>) -> Tags {
    let mut tags = Tags::from([(OPT_IN.to_owned(), "true".to_owned())]);
    if let Some(b) = backup {
        tags.insert(BACKUP_TAG.into(), b.into());
    }
    tags
}

fn view<'a>(tags: &'a Tags, targets: &'a [TargetHealth]) -> GroupView<'a> {
    GroupView { arn: TG, tags, targets, opt_in_tag_key: OPT_IN }
}

fn ids(targets: &[TargetHealth]) -> Vec<&str> {
    targets.iter().map(|t| t.target.id.as_str()).collect()
}

// ---------------------------------------------------------------- floor

#[test]
fn capacity_counts_initial_targets_but_not_unused_or_leaving_ones() {
    let group = fleet(&["healthy", "unhealthy", "initial", "initial", "unused", "draining", "unhealthy.draining"]);
    assert_eq!(capacity(&group), 4);
    assert_eq!(Counts::of(&group, DEFAULT_FLOOR).registered, 2, "the present floor still leaves them out");
}

#[test]
fn registered_after_a_removal_counts_only_counted_targets_and_never_underflows() {
    let group = fleet(&["initial", "initial", "healthy"]);
    let counts = Counts::of(&group, DEFAULT_FLOOR);
    assert_eq!(counts.registered, 1);
    assert_eq!(counts.registered_after(&group[..2]), 1, "initial targets were never counted");
    assert_eq!(counts.registered_after(&group), 0);
    let empty = Counts::of(&[], DEFAULT_FLOOR);
    assert_eq!(empty.registered_after(&group), 0);
}

#[test]
fn floor_is_the_larger_of_the_minimum_and_the_rounded_up_percentage() {
    assert_eq!(DEFAULT_FLOOR.for_registered(4), 2);
    assert_eq!(DEFAULT_FLOOR.for_registered(5), 3);
    assert_eq!(DEFAULT_FLOOR.for_registered(1), 1);
    assert_eq!(Floor::new(3, 10).for_registered(10), 3);
    assert_eq!(Floor::new(0, 0).for_registered(10), 0);
}

#[test]
fn draining_initial_and_unused_targets_are_not_registered_and_unavailable_ones_count_as_healthy() {
    let states = ["healthy", "unavailable", "draining", "unhealthy.draining", "initial", "unused", "unhealthy"];
    let counts = Counts::of(&fleet(&states), DEFAULT_FLOOR);
    assert_eq!(counts, Counts { registered: 3, healthy: 2, shifted_away: 0, floor: 2, baseline: None });
}

#[test]
fn while_a_removal_is_open_the_floor_comes_from_the_baseline_not_the_shrunken_group() {
    let floor = Floor::new(1, 50).with_baseline(Some(10));
    assert_eq!(floor.for_registered(6), 5);
    // A group that grew past its baseline: the larger count.
    assert_eq!(floor.for_registered(14), 7);
}

#[test]
fn an_open_baseline_limits_removals_but_a_resized_group_still_serves_shifts_not_and_fails_back() {
    let t = tags(Some(BACKUP));
    let floor = DEFAULT_FLOOR.with_baseline(Some(10));
    // Scaled in to four healthy and one unhealthy: the baseline floor is 5, the present one 3.
    let targets = fleet(&["healthy", "healthy", "healthy", "healthy", "unhealthy"]);
    match on_alarm(view(&t, &targets), Candidates::Unhealthy, floor) {
        Plan::Deregister { targets: removed, counts, .. } => {
            assert_eq!(ids(&removed), ["i-4"]);
            assert_eq!(counts.floor, 5, "the baseline still limits removals");
        }
        other => panic!("expected the unhealthy target removed, not a shift: {other:?}"),
    }
    let named = [targets[0].target.clone()];
    assert!(matches!(on_alarm(view(&t, &targets), Candidates::Named(&named), floor), Plan::Refuse { .. }));
    assert!(matches!(on_ok(view(&t, &targets), Candidates::Unhealthy, floor, &saved()), Plan::Failback { .. }));
}

#[test]
fn the_groups_own_health_thresholds_raise_the_floor_and_never_lower_it() {
    let attributes = |pairs: &[(&'static str, &'static str)]| -> GroupThresholds {
        (&HealthThresholds::from_attributes(pairs.iter().copied())).into()
    };
    let count = attributes(&[
        ("target_group_health.unhealthy_state_routing.minimum_healthy_targets.count", "4"),
        ("target_group_health.unhealthy_state_routing.minimum_healthy_targets.percentage", "off"),
        ("target_group_health.dns_failover.minimum_healthy_targets.count", "1"),
        ("target_group_health.dns_failover.minimum_healthy_targets.percentage", "off"),
    ]);
    assert_eq!(count, GroupThresholds { min_targets: 4, min_percent: 0 });
    assert_eq!(DEFAULT_FLOOR.with_group(count).for_registered(6), 4);
    assert_eq!(DEFAULT_FLOOR.with_group(count).for_registered(10), 5);
    let percent = attributes(&[("target_group_health.dns_failover.minimum_healthy_targets.percentage", "70")]);
    assert_eq!(DEFAULT_FLOOR.with_group(percent).for_registered(10), 7);
    // AWS's defaults: a count of 1 for both, percentages off.
    assert_eq!(attributes(&[]), GroupThresholds { min_targets: 1, min_percent: 0 });
}

#[test]
fn a_refusal_beyond_the_baseline_floor_names_the_baseline() {
    let t = tags(None);
    let targets = fleet(&["healthy"; 5]);
    let named = [Target::new("i-0", Some(80))];
    match on_alarm(view(&t, &targets), Candidates::Named(&named), DEFAULT_FLOOR.with_baseline(Some(10))) {
        Plan::Refuse { reason, kept, counts } => {
            assert_eq!(
                counts,
                Some(Counts { registered: 5, healthy: 5, shifted_away: 0, floor: 5, baseline: Some(10) })
            );
            assert!(reason.contains("baseline of 10"), "{reason}");
            assert!(kept[0].why.contains("baseline of 10"), "{}", kept[0].why);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn initial_targets_never_make_a_group_unable_to_serve_and_are_not_removed_by_a_group_alarm() {
    let t = tags(Some(BACKUP));
    let targets = fleet(&["healthy", "healthy", "unhealthy", "initial", "initial", "initial", "initial", "unused"]);
    match on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR) {
        Plan::Deregister { targets, .. } => assert_eq!(ids(&targets), ["i-2"]),
        other => panic!("{other:?}"),
    }
}

#[test]
fn an_unused_target_named_by_an_alarm_is_ignored() {
    let t = tags(None);
    let targets = fleet(&["healthy", "healthy", "unused"]);
    let named = [Target::new("i-2", Some(80))];
    assert!(matches!(on_alarm(view(&t, &targets), Candidates::Named(&named), DEFAULT_FLOOR), Plan::Skip { .. }));
}

#[test]
fn a_zero_floor_still_requires_one_healthy_target_to_serve() {
    let counts = Counts { registered: 2, healthy: 0, shifted_away: 0, floor: 0, baseline: None };
    assert_eq!(counts.required(), 1);
    assert!(!counts.can_serve());
}

// ---------------------------------------------------------------- target-group alarms

#[test]
fn when_some_targets_are_unhealthy_and_the_group_serves_should_deregister_all_of_them() {
    let t = tags(None);
    let targets = fleet(&["healthy", "healthy", "unhealthy", "unhealthy"]);
    match on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR) {
        Plan::Deregister { targets, kept, counts, healthy_after } => {
            assert_eq!(ids(&targets), ["i-2", "i-3"]);
            assert!(kept.is_empty());
            assert_eq!(counts, Counts { registered: 4, healthy: 2, shifted_away: 0, floor: 2, baseline: None });
            assert_eq!(healthy_after, 2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn when_no_target_is_unhealthy_should_skip() {
    let t = tags(None);
    let targets = fleet(&["healthy", "healthy"]);
    assert!(matches!(on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR), Plan::Skip { .. }));
}

#[test]
fn when_the_group_is_not_opted_in_should_skip() {
    let t = Tags::from([(OPT_IN.to_owned(), "TRUE-ish".to_owned())]);
    let targets = fleet(&["unhealthy", "healthy"]);
    match on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR) {
        Plan::Skip { reason } => assert!(reason.contains("not opted in"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn when_the_group_has_no_targets_should_skip() {
    let t = tags(None);
    assert!(matches!(on_alarm(view(&t, &[]), Candidates::Unhealthy, DEFAULT_FLOOR), Plan::Skip { .. }));
}

#[test]
fn when_healthy_targets_are_below_the_floor_without_backup_should_refuse_and_keep_the_unhealthy_ones() {
    let t = tags(None);
    let targets = fleet(&["healthy", "unhealthy", "unhealthy", "unhealthy"]);
    match on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR) {
        Plan::Refuse { reason, kept, counts } => {
            assert!(reason.contains("1 of 4 registered targets healthy, floor 2"), "{reason}");
            assert!(reason.contains(BACKUP_TAG), "{reason}");
            assert_eq!(kept.len(), 3);
            assert_eq!(counts, Some(Counts { registered: 4, healthy: 1, shifted_away: 0, floor: 2, baseline: None }));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn when_every_target_fails_without_backup_should_refuse_rather_than_empty_the_group() {
    let t = tags(None);
    let targets = fleet(&["unhealthy", "unhealthy"]);
    assert!(matches!(on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR), Plan::Refuse { .. }));
}

#[test]
fn when_every_target_fails_with_a_backup_should_shift_traffic() {
    let t = tags(Some(BACKUP));
    let targets = fleet(&["unhealthy", "unhealthy"]);
    match on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR) {
        Plan::ShiftTraffic { backup, kept, counts, .. } => {
            assert_eq!(backup, BACKUP);
            assert_eq!(kept.len(), 2);
            assert_eq!(counts.healthy, 0);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn when_the_backup_tag_is_not_a_target_group_arn_should_refuse() {
    for bad in ["web-dr", TG, "arn:aws:elasticloadbalancing:eu-west-1:123456789012:targetgroup/dr/1"] {
        let t = tags(Some(bad));
        let targets = fleet(&["unhealthy"]);
        match on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR) {
            Plan::Refuse { reason, .. } => assert!(reason.contains("backup is unusable"), "{bad}: {reason}"),
            other => panic!("{bad}: {other:?}"),
        }
    }
}

// ---------------------------------------------------------------- instance (gray failure) alarms

#[test]
fn when_a_healthy_looking_instance_fails_and_capacity_allows_should_deregister_it() {
    let t = tags(None);
    let targets = fleet(&["healthy", "healthy", "healthy"]);
    let named = [Target::new("i-1", None)];
    match on_alarm(view(&t, &targets), Candidates::Named(&named), DEFAULT_FLOOR) {
        Plan::Deregister { targets, healthy_after, .. } => {
            assert_eq!(ids(&targets), ["i-1"]);
            assert_eq!(healthy_after, 2);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn when_last_healthy_target_fails_should_refuse_and_notify() {
    let t = tags(None);
    let targets = fleet(&["healthy", "unhealthy"]);
    let named = [Target::new("i-0", None)];
    match on_alarm(view(&t, &targets), Candidates::Named(&named), DEFAULT_FLOOR) {
        Plan::Refuse { kept, counts, .. } => {
            assert_eq!(kept.len(), 1);
            assert!(kept[0].why.contains("would leave 0 healthy"), "{}", kept[0].why);
            assert_eq!(counts, Some(Counts { registered: 2, healthy: 1, shifted_away: 0, floor: 1, baseline: None }));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn when_several_instances_fail_should_remove_unhealthy_first_and_healthy_only_down_to_the_floor() {
    let t = tags(None);
    let targets = fleet(&["healthy", "healthy", "healthy", "healthy", "unhealthy"]);
    let named: Vec<Target> = ["i-0", "i-1", "i-2", "i-4"].iter().map(|id| Target::new(*id, None)).collect();
    match on_alarm(view(&t, &targets), Candidates::Named(&named), DEFAULT_FLOOR) {
        Plan::Deregister { targets, kept, counts, healthy_after } => {
            assert_eq!(counts.floor, 3);
            assert_eq!(ids(&targets), ["i-4", "i-0"]);
            assert_eq!(healthy_after, 3);
            assert_eq!(kept.iter().map(|k| k.target.id.as_str()).collect::<Vec<_>>(), ["i-1", "i-2"]);
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn when_the_named_instance_is_not_registered_or_draining_should_skip() {
    let t = tags(None);
    let targets = fleet(&["healthy", "draining"]);
    for id in ["i-9", "i-1"] {
        let named = [Target::new(id, None)];
        assert!(matches!(on_alarm(view(&t, &targets), Candidates::Named(&named), DEFAULT_FLOOR), Plan::Skip { .. }));
    }
}

#[test]
fn when_the_named_instance_is_not_in_a_failing_group_should_skip_rather_than_shift() {
    let t = tags(Some(BACKUP));
    let targets = fleet(&["unhealthy", "unhealthy"]);
    let named = [Target::new("i-9", None)];
    assert!(matches!(on_alarm(view(&t, &targets), Candidates::Named(&named), DEFAULT_FLOOR), Plan::Skip { .. }));
}

#[test]
fn when_the_named_instance_fails_in_a_group_that_cannot_serve_should_shift_traffic() {
    let t = tags(Some(BACKUP));
    let targets = fleet(&["healthy", "unhealthy", "unhealthy"]);
    let named = [Target::new("i-0", None)];
    assert!(matches!(
        on_alarm(view(&t, &targets), Candidates::Named(&named), DEFAULT_FLOOR),
        Plan::ShiftTraffic { .. }
    ));
}

#[test]
fn a_named_port_selects_only_that_registration() {
    let t = tags(None);
    let mut targets = fleet(&["healthy", "healthy", "healthy"]);
    targets[1].target.port = Some(8080);
    let named = [Target::new("i-1", Some(80))];
    assert!(matches!(on_alarm(view(&t, &targets), Candidates::Named(&named), DEFAULT_FLOOR), Plan::Skip { .. }));
}

// ---------------------------------------------------------------- OK and failback

fn saved() -> SavedWeights {
    SavedWeights::from([("2222".to_owned(), vec![(TG.to_owned(), 1)])])
}

#[test]
fn when_ok_and_nothing_was_shifted_should_skip() {
    let t = tags(Some(BACKUP));
    let targets = fleet(&["healthy"]);
    assert!(matches!(
        on_ok(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR, &SavedWeights::new()),
        Plan::Skip { .. }
    ));
}

#[test]
fn when_ok_and_healthy_again_should_fail_back() {
    let t = tags(Some(BACKUP));
    let targets = fleet(&["healthy", "healthy", "unhealthy"]);
    match on_ok(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR, &saved()) {
        Plan::Failback { counts, backup } => {
            assert_eq!(counts.healthy, 2);
            assert_eq!(backup.as_deref(), Some(BACKUP));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn when_an_instance_alarm_is_ok_should_fail_back_only_groups_where_the_instance_is_registered() {
    let t = tags(Some(BACKUP));
    let targets = fleet(&["healthy", "healthy"]);
    let elsewhere = [Target::new("i-9", None)];
    let here = [Target::new("i-1", None)];
    assert!(matches!(
        on_ok(view(&t, &targets), Candidates::Named(&elsewhere), DEFAULT_FLOOR, &saved()),
        Plan::Skip { .. }
    ));
    assert!(matches!(
        on_ok(view(&t, &targets), Candidates::Named(&here), DEFAULT_FLOOR, &saved()),
        Plan::Failback { .. }
    ));
}

#[test]
fn when_ok_but_still_below_the_floor_should_refuse_to_fail_back() {
    let t = tags(Some(BACKUP));
    let targets = fleet(&["healthy", "unhealthy", "unhealthy"]);
    assert!(matches!(on_ok(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR, &saved()), Plan::Refuse { .. }));
}

#[test]
fn a_forced_failback_command_ignores_the_floor_and_an_unforced_one_says_how_to_force() {
    let t = tags(Some(BACKUP));
    let targets = fleet(&["unhealthy"]);
    assert!(matches!(on_failback_command(view(&t, &targets), DEFAULT_FLOOR, &saved(), true), Plan::Failback { .. }));
    match on_failback_command(view(&t, &targets), DEFAULT_FLOOR, &saved(), false) {
        Plan::Refuse { reason, .. } => assert!(reason.contains("force"), "{reason}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn a_shift_command_ignores_the_floor_but_needs_the_backup_tag() {
    let targets = fleet(&["healthy", "healthy"]);
    let with = tags(Some(BACKUP));
    assert!(matches!(on_shift_command(view(&with, &targets), DEFAULT_FLOOR), Plan::ShiftTraffic { .. }));
    let without = tags(None);
    assert!(matches!(on_shift_command(view(&without, &targets), DEFAULT_FLOOR), Plan::Refuse { .. }));
}

#[test]
fn a_backup_without_enough_healthy_targets_is_not_ready() {
    assert!(backup_ready(&fleet(&["healthy", "healthy"]), DEFAULT_FLOOR).is_ok());
    assert_eq!(
        backup_ready(&fleet(&["unhealthy", "initial"]), DEFAULT_FLOOR),
        Err(Counts { registered: 1, healthy: 0, shifted_away: 0, floor: 1, baseline: None })
    );
    assert!(backup_ready(&[], DEFAULT_FLOOR).is_err());
}

// ---------------------------------------------------------------- listener weights

fn action(location: Location, weights: &[(&str, u32)]) -> ForwardAction {
    ForwardAction { location, weights: weights.iter().map(|(arn, w)| Weight::new(*arn, *w)).collect() }
}

/// The listener and the rule both carry the opt-in tag.
fn all_opted_in() -> OptedIn {
    [LISTENER.to_owned(), RULE.to_owned()].into()
}

#[test]
fn shifting_moves_the_failing_share_to_the_backup_and_remembers_the_weights() {
    let actions = [
        action(Location::Listener(LISTENER.into()), &[(TG, 1)]),
        action(Location::Rule(RULE.into()), &[(TG, 80), (OTHER, 20)]),
    ];
    let plan = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &all_opted_in());
    assert_eq!(plan.changes.len(), 2);
    assert_eq!(plan.changes[0].after, vec![Weight::new(TG, 0), Weight::new(BACKUP, 1)]);
    assert_eq!(plan.changes[1].after, vec![Weight::new(TG, 0), Weight::new(OTHER, 20), Weight::new(BACKUP, 80)]);
    assert_eq!(plan.changes[1].before, vec![Weight::new(TG, 80), Weight::new(OTHER, 20)]);
}

#[test]
fn shifting_adds_to_a_backup_already_in_the_action_up_to_the_maximum_weight() {
    let actions = [action(Location::Listener(LISTENER.into()), &[(TG, 900), (BACKUP, 200)])];
    let plan = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &all_opted_in());
    assert_eq!(plan.changes[0].after, vec![Weight::new(TG, 0), Weight::new(BACKUP, MAX_WEIGHT)]);
}

#[test]
fn when_already_shifted_should_change_nothing_and_keep_the_saved_weights() {
    let actions = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (BACKUP, 1)])];
    let plan = plan_shift(&actions, TG, BACKUP, &saved(), &all_opted_in());
    assert!(plan.changes.is_empty());
    assert_eq!(plan.already_shifted, vec![Location::Listener(LISTENER.into())]);
}

#[test]
fn an_action_that_never_sent_traffic_to_the_group_is_left_alone() {
    let actions = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (OTHER, 1)])];
    let plan = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &all_opted_in());
    assert_eq!(plan, ShiftChanges::default());
}

#[test]
fn failback_restores_the_saved_weights_and_drops_the_backup_the_shift_added() {
    let actions = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (BACKUP, 1)])];
    let plan = plan_failback(&actions, TG, Some(BACKUP), &saved(), &all_opted_in());
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].after, vec![Weight::new(TG, 1)]);
    assert_eq!(plan.restored_keys, vec!["2222".to_owned()]);
    assert!(plan.conflicts.is_empty() && plan.stale_keys.is_empty());
}

#[test]
fn failback_moves_back_only_the_groups_share_and_keeps_weights_people_changed() {
    // A and B at 50 each shifted to the standby; A recovers; meanwhile a person set the canary to 5.
    let saved_a = SavedWeights::from([("2222".to_owned(), vec![(TG.to_owned(), 50), (OTHER.to_owned(), 50)])]);
    let actions = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (OTHER, 0), (BACKUP, 100), ("canary", 5)])];
    let plan = plan_failback(&actions, TG, Some(BACKUP), &saved_a, &all_opted_in());
    assert_eq!(
        plan.changes[0].after,
        vec![Weight::new(TG, 50), Weight::new(OTHER, 0), Weight::new(BACKUP, 50), Weight::new("canary", 5)]
    );
}

#[test]
fn failback_points_a_single_group_action_the_shift_pointed_at_the_backup_back_at_the_group() {
    let nlb = [action(Location::Listener(LISTENER.into()), &[(BACKUP, 1)])];
    let plan = plan_failback(&nlb, TG, Some(BACKUP), &saved(), &all_opted_in());
    assert_eq!(plan.changes[0].after, vec![Weight::new(TG, 1)]);
}

#[test]
fn failback_leaves_an_action_changed_so_that_the_share_is_ambiguous_to_a_person_with_both_weight_sets() {
    let actions = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (BACKUP, 0), (OTHER, 5)])];
    let plan = plan_failback(&actions, TG, Some(BACKUP), &saved(), &all_opted_in());
    assert!(plan.changes.is_empty());
    assert_eq!(plan.conflicts.len(), 1);
    let why = &plan.conflicts[0].1;
    assert!(why.contains("less than") && why.contains("weights now") && why.contains("before the shift"), "{why}");
    let gone = [action(Location::Listener(LISTENER.into()), &[(BACKUP, 1), (OTHER, 1)])];
    let plan = plan_failback(&gone, TG, Some(BACKUP), &saved(), &all_opted_in());
    assert!(plan.conflicts[0].1.contains("left the action"), "{:?}", plan.conflicts);
    let no_backup = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (OTHER, 1)])];
    let plan = plan_failback(&no_backup, TG, Some(BACKUP), &saved(), &all_opted_in());
    assert!(plan.conflicts[0].1.contains("backup group"), "{:?}", plan.conflicts);
}

#[test]
fn failback_drops_saved_weights_of_actions_gone_or_already_restored() {
    let restored = [action(Location::Listener(LISTENER.into()), &[(TG, 1)])];
    let plan = plan_failback(&restored, TG, Some(BACKUP), &saved(), &all_opted_in());
    assert!(plan.changes.is_empty());
    assert_eq!(plan.stale_keys, vec!["2222".to_owned()]);
    let plan = plan_failback(&[], TG, Some(BACKUP), &saved(), &all_opted_in());
    assert_eq!(plan.stale_keys.len(), 1);
}

#[test]
fn a_shift_leaves_out_an_action_whose_listener_is_not_opted_in_and_saves_nothing_for_it() {
    let actions =
        [action(Location::Listener(LISTENER.into()), &[(TG, 1)]), action(Location::Rule(RULE.into()), &[(TG, 1)])];
    let plan = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &[RULE.to_owned()].into());
    assert_eq!(plan.not_opted_in, vec![Location::Listener(LISTENER.into())]);
    assert_eq!(plan.changes.len(), 1);
    assert_eq!(plan.changes[0].location, Location::Rule(RULE.into()));
}

#[test]
fn a_shift_with_no_opted_in_action_changes_nothing_and_saves_nothing() {
    let actions =
        [action(Location::Listener(LISTENER.into()), &[(TG, 1)]), action(Location::Rule(RULE.into()), &[(TG, 1)])];
    let plan = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &OptedIn::new());
    assert!(plan.changes.is_empty());
    assert_eq!(plan.not_opted_in, vec![Location::Listener(LISTENER.into()), Location::Rule(RULE.into())]);
}

#[test]
fn an_action_needing_no_change_is_never_reported_as_not_opted_in() {
    let shifted = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (BACKUP, 1)])];
    let plan = plan_shift(&shifted, TG, BACKUP, &saved(), &OptedIn::new());
    assert!(plan.not_opted_in.is_empty());
    assert_eq!(plan.already_shifted, vec![Location::Listener(LISTENER.into())]);
    let unrelated = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (OTHER, 1)])];
    assert_eq!(plan_shift(&unrelated, TG, BACKUP, &SavedWeights::new(), &OptedIn::new()), ShiftChanges::default());
}

#[test]
fn failback_leaves_a_saved_action_whose_listener_lost_its_opt_in_and_keeps_its_saved_weights() {
    let actions = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (BACKUP, 1)])];
    let plan = plan_failback(&actions, TG, Some(BACKUP), &saved(), &OptedIn::new());
    assert!(plan.changes.is_empty() && plan.restored_keys.is_empty() && plan.stale_keys.is_empty());
    assert_eq!(plan.not_opted_in, vec![Location::Listener(LISTENER.into())]);
}

#[test]
fn failback_drops_stale_saved_weights_whatever_the_opt_in() {
    let restored = [action(Location::Listener(LISTENER.into()), &[(TG, 1)])];
    let plan = plan_failback(&restored, TG, Some(BACKUP), &saved(), &OptedIn::new());
    assert_eq!(plan.stale_keys, vec!["2222".to_owned()]);
    assert!(plan.not_opted_in.is_empty());
}

// ---------------------------------------------------------------- what a shift comes to

#[test]
fn a_shift_whose_every_moving_action_is_not_opted_in_is_a_refusal_naming_each() {
    let actions =
        [action(Location::Listener(LISTENER.into()), &[(TG, 1)]), action(Location::Rule(RULE.into()), &[(TG, 1)])];
    let plan = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &OptedIn::new());
    assert_eq!(plan.verdict(), ShiftVerdict::RefuseNotOptedIn);
    assert_eq!(plan.not_opted_in, vec![Location::Listener(LISTENER.into()), Location::Rule(RULE.into())]);
}

#[test]
fn a_shift_with_some_actions_not_opted_in_is_a_partial_shift() {
    let actions =
        [action(Location::Listener(LISTENER.into()), &[(TG, 1)]), action(Location::Rule(RULE.into()), &[(TG, 1)])];
    let plan = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &[RULE.to_owned()].into());
    assert_eq!(plan.verdict(), ShiftVerdict::Shift { partly: true });
    let whole = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &all_opted_in());
    assert_eq!(whole.verdict(), ShiftVerdict::Shift { partly: false });
}

#[test]
fn a_shift_with_nothing_left_to_move_is_already_shifted_or_has_nothing_forwarding() {
    let shifted = [action(Location::Listener(LISTENER.into()), &[(TG, 0), (BACKUP, 1)])];
    assert_eq!(plan_shift(&shifted, TG, BACKUP, &saved(), &OptedIn::new()).verdict(), ShiftVerdict::AlreadyShifted);
    assert_eq!(plan_shift(&[], TG, BACKUP, &saved(), &all_opted_in()).verdict(), ShiftVerdict::NothingForwards);
}

#[test]
fn status_says_an_alarm_would_refuse_when_no_moving_action_is_opted_in() {
    let (t, targets) = (tags(Some(BACKUP)), fleet(&["unhealthy", "unhealthy"]));
    let plan = on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR);
    assert!(matches!(plan, Plan::ShiftTraffic { .. }));
    let actions = [action(Location::Listener(LISTENER.into()), &[(TG, 1)])];
    let none = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &OptedIn::new());
    assert_eq!(
        alarm_now_would(&plan, Some(&none)),
        AlarmWould::RefuseNotOptedIn(vec![Location::Listener(LISTENER.into())])
    );
}

#[test]
fn status_says_an_alarm_would_shift_leaving_out_the_actions_not_opted_in() {
    let (t, targets) = (tags(Some(BACKUP)), fleet(&["unhealthy", "unhealthy"]));
    let plan = on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR);
    let actions =
        [action(Location::Listener(LISTENER.into()), &[(TG, 1)]), action(Location::Rule(RULE.into()), &[(TG, 1)])];
    let some = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &[RULE.to_owned()].into());
    assert_eq!(
        alarm_now_would(&plan, Some(&some)),
        AlarmWould::ShiftLeavingOut(vec![Location::Listener(LISTENER.into())])
    );
    let all = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &all_opted_in());
    assert_eq!(alarm_now_would(&plan, Some(&all)), AlarmWould::Plan);
}

#[test]
fn status_follows_the_plan_when_the_alarm_would_not_shift() {
    let (t, targets) = (tags(Some(BACKUP)), fleet(&["healthy", "healthy", "unhealthy"]));
    let plan = on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR);
    assert!(matches!(plan, Plan::Deregister { .. }));
    let actions = [action(Location::Listener(LISTENER.into()), &[(TG, 1)])];
    let none = plan_shift(&actions, TG, BACKUP, &SavedWeights::new(), &OptedIn::new());
    assert_eq!(alarm_now_would(&plan, Some(&none)), AlarmWould::Plan);
    assert_eq!(alarm_now_would(&plan, None), AlarmWould::Plan);
}

#[test]
fn opt_in_values_other_than_exactly_true_do_not_opt_a_group_in() {
    let targets = fleet(&["healthy", "healthy", "unhealthy"]);
    for value in ["TRUE", " true", "True", "true "] {
        let t = Tags::from([(OPT_IN.to_owned(), value.to_owned())]);
        assert!(!view(&t, &targets).opted_in(), "{value:?}");
        assert!(matches!(on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR), Plan::Skip { .. }));
    }
}

// ---------------------------------------------------------------- zonal

mod zonal_policy {
    use std::collections::{BTreeMap, BTreeSet};

    use super::health;
    use crate::decide::zonal::*;
    use crate::decide::Floor;
    use crate::model::{ActiveShift, ManagedResource, ShiftKind};

    const GROUP: &str = super::TG;

    fn ids() -> BTreeMap<String, String> {
        [("us-east-1a", "use1-az1"), ("us-east-1b", "use1-az2"), ("us-east-1c", "use1-az3")]
            .into_iter()
            .map(|(n, i)| (n.to_owned(), i.to_owned()))
            .collect()
    }

    fn zones() -> Vec<String> {
        vec!["us-east-1a".into(), "us-east-1b".into()]
    }

    fn resource(shifts: Vec<ActiveShift>) -> ManagedResource {
        ManagedResource {
            arn: "lb".into(),
            applied_weights: [("use1-az1".to_owned(), 1.0), ("use1-az2".to_owned(), 1.0)].into(),
            shifts,
            autoshift_enabled: false,
        }
    }

    fn shift(kind: ShiftKind, id: Option<&str>, away_from: &str) -> ActiveShift {
        ActiveShift {
            kind,
            id: id.map(str::to_owned),
            away_from: away_from.into(),
            applied: true,
            comment: None,
            started_at: Some(1),
            expires_at: None,
        }
    }

    /// `(state, zone)` per target.
    fn group(targets: &[(&str, Option<&str>)], floor: Floor) -> GroupZones {
        let targets = targets
            .iter()
            .enumerate()
            .map(|(i, (state, zone))| (health(&format!("i-{i}"), state), zone.map(str::to_owned)))
            .collect();
        GroupZones { arn: GROUP.into(), targets, floor }
    }

    fn none() -> BTreeSet<String> {
        BTreeSet::new()
    }

    fn arc<'a>(resource: &'a ManagedResource, ours: &'a BTreeSet<String>) -> ArcFacts<'a> {
        static IDS: std::sync::OnceLock<BTreeMap<String, String>> = std::sync::OnceLock::new();
        ArcFacts { resource, ids: IDS.get_or_init(ids), ours }
    }

    #[test]
    fn a_zone_is_named_by_its_name_or_its_az_id() {
        let pair = Some(("us-east-1b".to_owned(), "use1-az2".to_owned()));
        assert_eq!(resolve_zone("us-east-1b", &ids()), pair);
        assert_eq!(resolve_zone("use1-az2", &ids()), pair);
        assert_eq!(resolve_zone("us-west-2a", &ids()), None);
    }

    #[test]
    fn a_zone_that_is_not_the_load_balancers_is_refused() {
        let plan = before_capacity("us-east-1c", "use1-az3", arc(&resource(vec![]), &none()));
        let Some(ZonalPlan::Refuse { reason, .. }) = plan else { panic!("not refused: {plan:?}") };
        assert!(reason.contains("not one of the load balancer's zones (us-east-1a, us-east-1b)"), "{reason}");
    }

    #[test]
    fn an_autoshift_or_a_persons_shift_away_from_the_zone_is_deferred_to() {
        for kind in [ShiftKind::Autoshift, ShiftKind::PracticeRun, ShiftKind::ZonalShift] {
            let away = shift(kind, Some("s-1").filter(|_| kind != ShiftKind::Autoshift), "use1-az1");
            let plan = before_capacity("us-east-1a", "use1-az1", arc(&resource(vec![away.clone()]), &none()));
            assert_eq!(plan, Some(ZonalPlan::Defer { shift: away }));
        }
    }

    #[test]
    fn our_own_shift_away_from_the_zone_means_already_evacuated() {
        let ours = shift(ShiftKind::ZonalShift, Some("s-1"), "use1-az1");
        let known = BTreeSet::from(["s-1".to_owned()]);
        let plan = before_capacity("us-east-1a", "use1-az1", arc(&resource(vec![ours.clone()]), &known));
        assert_eq!(plan, Some(ZonalPlan::Already { shift: ours }));
    }

    #[test]
    fn a_shift_away_from_another_zone_is_refused_naming_both_zones() {
        let other = shift(ShiftKind::ZonalShift, Some("s-2"), "use1-az2");
        let plan = before_capacity("us-east-1a", "use1-az1", arc(&resource(vec![other]), &none()));
        let Some(ZonalPlan::Refuse { reason, .. }) = plan else { panic!("not refused: {plan:?}") };
        assert!(reason.contains("us-east-1b (use1-az2)") && reason.contains("us-east-1a (use1-az1)"), "{reason}");
    }

    #[test]
    fn no_shift_and_a_zone_of_the_load_balancer_goes_on_to_capacity() {
        assert_eq!(before_capacity("us-east-1a", "use1-az1", arc(&resource(vec![]), &none())), None);
    }

    #[test]
    fn a_zone_with_enough_healthy_targets_elsewhere_is_evacuated() {
        let g = group(
            &[("healthy", Some("us-east-1a")), ("healthy", Some("us-east-1b")), ("healthy", Some("us-east-1b"))],
            Floor::new(1, 50),
        );
        let plan = capacity("us-east-1a", "use1-az1", &zones(), &[g]);
        let ZonalPlan::Evacuate { zone, az_id, counts } = plan else { panic!("not evacuated: {plan:?}") };
        assert_eq!((zone.as_str(), az_id.as_str()), ("us-east-1a", "use1-az1"));
        assert_eq!((counts[0].healthy_outside, counts[0].required, counts[0].registered), (2, 2, 3));
    }

    #[test]
    fn the_last_healthy_zone_is_never_evacuated() {
        let g = group(&[("healthy", Some("us-east-1a")), ("unhealthy", Some("us-east-1b"))], Floor::new(0, 0));
        let ZonalPlan::Refuse { reason, counts } = capacity("us-east-1a", "use1-az1", &zones(), &[g]) else {
            panic!("not refused")
        };
        assert!(reason.contains("last healthy zone"), "{reason}");
        assert_eq!(counts[0].healthy_outside, 0);
    }

    #[test]
    fn a_zone_whose_loss_breaks_a_groups_floor_is_refused_with_the_numbers() {
        let g = group(
            &[("healthy", Some("us-east-1a")), ("healthy", Some("us-east-1a")), ("healthy", Some("us-east-1b"))],
            Floor::new(1, 50),
        );
        let ZonalPlan::Refuse { reason, .. } = capacity("us-east-1a", "use1-az1", &zones(), &[g]) else {
            panic!("not refused")
        };
        assert!(reason.contains("web: 1 healthy outside us-east-1a / 2 required / 3 registered"), "{reason}");
    }

    #[test]
    fn while_a_removal_is_open_the_evacuation_keeps_the_incidents_baseline_floor() {
        let targets = [
            ("healthy", Some("us-east-1a")),
            ("healthy", Some("us-east-1a")),
            ("healthy", Some("us-east-1b")),
            ("healthy", Some("us-east-1b")),
        ];
        let now = group(&targets, Floor::new(1, 50));
        assert!(matches!(capacity("us-east-1a", "use1-az1", &zones(), &[now]), ZonalPlan::Evacuate { .. }));
        let incident = group(&targets, Floor::new(1, 50).with_baseline(Some(6)));
        let ZonalPlan::Refuse { reason, counts } = capacity("us-east-1a", "use1-az1", &zones(), &[incident]) else {
            panic!("not refused")
        };
        assert!(
            reason.contains(
                "web: 2 healthy outside us-east-1a / 3 required (from the baseline of 6 registered when this \
                 incident first removed targets) / 4 registered"
            ),
            "{reason}"
        );
        assert_eq!(counts[0].baseline, Some(6));
    }

    #[test]
    fn an_empty_or_idle_group_behind_the_load_balancer_does_not_block_the_evacuation() {
        let web = group(
            &[("healthy", Some("us-east-1a")), ("healthy", Some("us-east-1b")), ("healthy", Some("us-east-1b"))],
            Floor::new(1, 50),
        );
        let empty = GroupZones { arn: format!("{GROUP}-backup"), ..group(&[], Floor::new(1, 50)) };
        let idle = GroupZones {
            arn: format!("{GROUP}-idle"),
            ..group(&[("unhealthy", Some("us-east-1a")), ("unhealthy", Some("us-east-1b"))], Floor::new(1, 50))
        };
        let plan = capacity("us-east-1a", "use1-az1", &zones(), &[web, empty, idle]);
        assert!(matches!(plan, ZonalPlan::Evacuate { .. }), "{plan:?}");
    }

    #[test]
    fn a_target_in_an_unknown_zone_is_refused_conservatively() {
        let g = group(&[("healthy", Some("us-east-1b")), ("healthy", None)], Floor::new(1, 0));
        let ZonalPlan::Refuse { reason, .. } = capacity("us-east-1a", "use1-az1", &zones(), &[g]) else {
            panic!("not refused")
        };
        assert!(reason.contains("zone of 1 target(s) is unknown"), "{reason}");
    }

    #[test]
    fn no_opted_in_group_is_refused() {
        let ZonalPlan::Refuse { reason, .. } = capacity("us-east-1a", "use1-az1", &zones(), &[]) else {
            panic!("not refused")
        };
        assert!(reason.contains("no target group"), "{reason}");
    }

    #[test]
    fn ip_targets_outside_the_vpc_serve_from_every_zone() {
        let g = group(&[("healthy", Some("us-east-1a")), ("healthy", Some(ALL_ZONES))], Floor::new(1, 0));
        assert!(matches!(capacity("us-east-1a", "use1-az1", &zones(), &[g]), ZonalPlan::Evacuate { .. }));
    }

    #[test]
    fn readiness_names_a_load_balancer_not_registered_with_arc_and_the_command_that_registers_it() {
        let lb = "arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/app/shop/1111";
        let gap = crate::decide::readiness::not_registered_with_arc(lb);
        assert_eq!((gap.kind, gap.resource.as_str()), ("load-balancer-not-registered-with-arc", lb));
        assert_eq!(gap.fix, register_command(lb));
        assert!(gap.fix.contains("--attributes Key=zonal_shift.config.enabled,Value=true"), "{}", gap.fix);
    }

    #[test]
    fn the_comment_names_the_trigger_within_128_characters() {
        assert_eq!(comment("alarm web-5xx", "us-east-1a"), "failover: alarm web-5xx (us-east-1a)");
        let long = comment(&"x".repeat(300), "us-east-1a");
        assert_eq!(long.chars().count(), COMMENT_MAX);
        assert!(long.ends_with(" (us-east-1a)"));
    }
}

// ---------------------------------------------------------------- serving means serving traffic

/// `web`: two healthy instances in us-east-1a and three in us-east-1b, placed; traffic shifted away from 1b when
/// `b_shifted`.
fn two_zones(b_shifted: bool) -> Vec<TargetHealth> {
    let at = |id: &str, zone: &str, shifted_away: bool| TargetHealth {
        zone: Some(crate::model::Zone { name: zone.into(), shifted_away }),
        ..health(id, "healthy")
    };
    let mut targets = vec![at("i-a1", "us-east-1a", false), at("i-a2", "us-east-1a", false)];
    targets.extend(["i-b1", "i-b2", "i-b3"].map(|id| at(id, "us-east-1b", b_shifted)));
    targets
}

#[test]
fn targets_in_a_zone_traffic_left_neither_serve_nor_count_for_the_floor() {
    let counts = Counts::of(&two_zones(true), DEFAULT_FLOOR);
    assert_eq!(counts, Counts { registered: 2, healthy: 2, shifted_away: 3, floor: 1, baseline: None });
    assert_eq!(capacity(&two_zones(true)), 5, "a shift does not shrink the incident's baseline");
    let mut overridden = fleet(&["healthy", "healthy"]);
    overridden[1].admin_override = crate::model::AdminOverride::ZonalShiftActive;
    let counts = Counts::of(&overridden, DEFAULT_FLOOR);
    assert_eq!((counts.registered, counts.healthy, counts.shifted_away), (1, 1, 1), "ELB's override alone says so");
}

#[test]
fn with_the_other_zone_shifted_away_one_of_two_serving_targets_may_leave() {
    let (t, targets) = (tags(None), two_zones(true));
    let plan = on_alarm(view(&t, &targets), Candidates::Named(&[Target::new("i-a1", None)]), DEFAULT_FLOOR);
    let Plan::Deregister { targets: removed, kept, counts, healthy_after } = plan else { panic!("{plan:?}") };
    assert_eq!((ids(&removed), kept.len(), healthy_after), (vec!["i-a1"], 0, 1));
    assert_eq!((counts.healthy, counts.required()), (2, 1));
}

#[test]
fn removing_the_last_serving_target_of_a_zone_that_takes_traffic_is_refused_with_the_numbers_per_zone() {
    let t = tags(None);
    let targets: Vec<TargetHealth> = two_zones(true).into_iter().filter(|x| x.target.id != "i-a1").collect();
    let plan = on_alarm(
        view(&t, &targets),
        Candidates::Named(&[Target::new("i-a2", None)]),
        DEFAULT_FLOOR.with_baseline(Some(2)),
    );
    let Plan::Refuse { reason, kept, counts } = plan else { panic!("{plan:?}") };
    assert_eq!(kept.len(), 1);
    assert_eq!(kept[0].zone.as_deref(), Some("us-east-1a"));
    let numbers = "us-east-1a: 1 serving of 1 registered; us-east-1b: 0 serving of 3 registered, traffic shifted away";
    assert!(kept[0].why.contains(numbers), "{}", kept[0].why);
    assert!(reason.contains("(us-east-1a)") && reason.contains(numbers), "{reason}");
    assert_eq!(counts.map(|c| (c.healthy, c.shifted_away)), Some((1, 3)));
}

#[test]
fn without_a_shift_a_zone_still_keeps_its_last_serving_target_while_other_zones_serve() {
    let t = tags(None);
    let targets = two_zones(false);
    let both = [Target::new("i-a1", None), Target::new("i-a2", None)];
    let plan = on_alarm(view(&t, &targets), Candidates::Named(&both), DEFAULT_FLOOR);
    let Plan::Deregister { targets: removed, kept, .. } = plan else { panic!("{plan:?}") };
    assert_eq!(ids(&removed), ["i-a1"], "5 healthy of 5 allow two removals by the floor, the zone allows one");
    assert_eq!((kept[0].target.id.as_str(), kept[0].zone.as_deref()), ("i-a2", Some("us-east-1a")));
}

#[test]
fn a_group_whose_serving_zone_fails_cannot_serve_though_the_zone_traffic_left_is_healthy() {
    let t = tags(Some(BACKUP));
    let mut targets = two_zones(true);
    targets[0].state = TargetState::Unhealthy;
    targets[1].state = TargetState::Unhealthy;
    let plan = on_alarm(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR);
    assert!(matches!(plan, Plan::ShiftTraffic { ref backup, .. } if backup == BACKUP), "{plan:?}");
    let saved = SavedWeights::from([("k".to_owned(), vec![(TG.to_owned(), 1)])]);
    let ok = on_ok(view(&t, &targets), Candidates::Unhealthy, DEFAULT_FLOOR, &saved);
    assert!(matches!(ok, Plan::Refuse { .. }), "no failback while only the zone traffic left is healthy: {ok:?}");
    assert!(backup_ready(&targets, DEFAULT_FLOOR).is_err(), "nor does it serve as a backup");
}

// ---------------------------------------------------------------- per-zone floor (cross-zone off)

/// `web`: three healthy instances in us-east-1a and three in us-east-1b, placed.
fn three_and_three() -> Vec<TargetHealth> {
    let at = |id: &str, zone: &str| TargetHealth {
        zone: Some(crate::model::Zone { name: zone.into(), shifted_away: false }),
        ..health(id, "healthy")
    };
    ["i-a1", "i-a2", "i-a3"]
        .map(|id| at(id, "us-east-1a"))
        .into_iter()
        .chain(["i-b1", "i-b2", "i-b3"].map(|id| at(id, "us-east-1b")))
        .collect()
}

#[test]
fn with_cross_zone_on_two_targets_of_one_zone_leave_within_the_groups_floor() {
    let (tags, targets) = (tags(None), three_and_three());
    let named = [Target::new("i-a1", None), Target::new("i-a2", None)];
    let plan = on_alarm(view(&tags, &targets), Candidates::Named(&named), DEFAULT_FLOOR);
    let Plan::Deregister { targets: removed, kept, .. } = plan else { panic!("not removed: {plan:?}") };
    assert_eq!((ids(&removed), kept.len()), (vec!["i-a1", "i-a2"], 0));
}

#[test]
fn with_cross_zone_off_a_removal_keeps_each_zones_own_floor_and_says_so_with_the_numbers() {
    let (tags, targets) = (tags(None), three_and_three());
    let named = [Target::new("i-a1", None), Target::new("i-a2", None)];
    let plan = on_alarm(view(&tags, &targets), Candidates::Named(&named), DEFAULT_FLOOR.with_per_zone(true));
    let Plan::Deregister { targets: removed, kept, .. } = plan else { panic!("not removed: {plan:?}") };
    assert_eq!(ids(&removed), ["i-a1"]);
    assert_eq!((kept[0].target.id.as_str(), kept[0].zone.as_deref()), ("i-a2", Some("us-east-1a")));
    assert!(
        kept[0].why.contains("zone us-east-1a with 1 serving of 3 registered, below the zone's floor of 2"),
        "{}",
        kept[0].why
    );
}

#[test]
fn with_cross_zone_off_the_groups_thresholds_hold_per_zone_and_the_baseline_stays_the_groups() {
    let targets = three_and_three();
    let group = GroupThresholds { min_targets: 3, min_percent: 0 };
    let floor = DEFAULT_FLOOR.with_per_zone(true).with_group(group).with_baseline(Some(6));
    let short = floor::zone_below_floor(&targets, &[], &targets[0], floor).expect("below the zone's floor");
    assert_eq!((short.zone.as_str(), short.serving_after, short.registered, short.required), ("us-east-1a", 2, 3, 3));
    let lenient = DEFAULT_FLOOR.with_per_zone(true).with_baseline(Some(12));
    assert_eq!(floor::zone_below_floor(&targets, &[], &targets[0], lenient), None, "2 of 3 keeps 50 % in the zone");
    let unplaced = fleet(&["healthy", "healthy"]);
    assert_eq!(floor::zone_below_floor(&unplaced, &[], &unplaced[0], floor), None, "no zone known, the group decides");
}
