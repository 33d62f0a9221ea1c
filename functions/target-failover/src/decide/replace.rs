//! `REPLACE_INSTANCES`: which removed instances to hand to their Auto Scaling group (`SetInstanceHealth`
//! Unhealthy, so the group terminates and replaces them), and which to leave, and why. Only instances (ids
//! `i-…`) of a group that carries the opt-in tag exactly `true` are handed over; an instance the removal record
//! already handed over is not handed again (a retry of the event, or of its owed replacements). An instance
//! still registered in another target group, and not leaving it, is left too ([`still_serving`]): marking it
//! would have Auto Scaling terminate a target that group still counts on, perhaps below its floor.

use std::collections::{BTreeMap, BTreeSet};

use failover_core::tags::opted_in;
use serde::Serialize;

use crate::model::{Tags, TargetHealth, TargetState};

/// An instance and its Auto Scaling group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Handed {
    pub instance: String,
    pub group: String,
}

/// An instance left alone, and why (a logged skip, listed in the notification).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Left {
    pub instance: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    pub why: String,
}

/// What to do with the removed instances.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Replacements {
    /// Mark unhealthy, in this order.
    pub mark: Vec<Handed>,
    pub left: Vec<Left>,
}

pub use crate::model::is_instance;

/// The plan for the removed `instances`, given their groups (`DescribeAutoScalingInstances`: instance →
/// group and its tags; an instance in no group is absent) and those already handed over.
pub fn plan_replacements(
    instances: &[String],
    groups: &BTreeMap<String, (String, Tags)>,
    handed: &[String],
    opt_in_key: &str,
) -> Replacements {
    let mut plan = Replacements::default();
    for instance in instances.iter().filter(|id| is_instance(id)) {
        let left =
            |group: Option<&String>, why: String| Left { instance: instance.clone(), group: group.cloned(), why };
        if handed.contains(instance) {
            let why = "already handed to its Auto Scaling group".to_owned();
            plan.left.push(left(groups.get(instance).map(|(g, _)| g), why));
            continue;
        }
        match groups.get(instance) {
            None => plan.left.push(left(None, "in no Auto Scaling group".to_owned())),
            Some((group, tags)) if !opted_in(tags, opt_in_key) => {
                let why = format!("its Auto Scaling group {group} is not opted in (tag {opt_in_key}=true missing)");
                plan.left.push(left(Some(group), why));
            }
            Some((group, _)) => plan.mark.push(Handed { instance: instance.clone(), group: group.clone() }),
        }
    }
    plan
}

/// Whether a target state keeps an instance in its target group's service: registered, not leaving, not
/// `unused` (a healthy target, but also one `initial` or `unhealthy` that group's own alarms and floor decide
/// on, not this removal).
fn in_service(state: TargetState) -> bool {
    !state.leaving() && state != TargetState::Unused
}

/// The plan with the instances to mark that are still in service in another target group (`elsewhere`: each
/// other instance-type group and its `DescribeTargetHealth`) moved to `left`, with the groups named.
pub fn still_serving(plan: Replacements, elsewhere: &[(String, Vec<TargetHealth>)]) -> Replacements {
    let mut out = Replacements { mark: Vec::new(), left: plan.left };
    for mark in plan.mark {
        let serving: Vec<&str> = elsewhere
            .iter()
            .filter(|(_, targets)| targets.iter().any(|t| t.target.id == mark.instance && in_service(t.state)))
            .map(|(group, _)| group.as_str())
            .collect();
        if serving.is_empty() {
            out.mark.push(mark);
        } else {
            let why = format!("still serving in target group {}", serving.join(", "));
            out.left.push(Left { instance: mark.instance, group: Some(mark.group), why });
        }
    }
    out
}

/// The other groups' targets (`elsewhere`, read before this invocation's removals) without those this
/// invocation took out (`removed`: group, instance): a group the event removed the instance from no longer
/// serves it, whatever it said before.
pub fn without_removed(
    elsewhere: Vec<(String, Vec<TargetHealth>)>,
    removed: &BTreeSet<(String, String)>,
) -> Vec<(String, Vec<TargetHealth>)> {
    elsewhere
        .into_iter()
        .map(|(group, targets)| {
            let targets =
                targets.into_iter().filter(|t| !removed.contains(&(group.clone(), t.target.id.clone()))).collect();
            (group, targets)
        })
        .collect()
}

/// Whether a removal can close before its alarm's OK: every target it took out was handed to Auto Scaling and
/// none is in an Auto Scaling group any more (`in_groups`: what `DescribeAutoScalingInstances` says now). The
/// group has then terminated each one and launched its replacement: nothing is left to register again, and the
/// removal's baseline no longer describes the group. An instance still in its group (its mark ignored in its grace
/// period, or not acted on yet) or one that was never handed over keeps the removal open until the OK.
pub fn replaced_all(targets: &[String], handed: &[String], in_groups: &BTreeMap<String, (String, Tags)>) -> bool {
    !targets.is_empty() && targets.iter().all(|t| handed.contains(t) && !in_groups.contains_key(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "failover:enabled";

    fn groups(entries: &[(&str, &str, Option<&str>)]) -> BTreeMap<String, (String, Tags)> {
        entries
            .iter()
            .map(|(id, group, opt_in)| {
                let tags: Tags = opt_in.iter().map(|v| (KEY.to_owned(), (*v).to_owned())).collect();
                ((*id).to_owned(), ((*group).to_owned(), tags))
            })
            .collect()
    }

    fn ids(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn an_instance_of_an_opted_in_group_is_marked() {
        let plan = plan_replacements(&ids(&["i-1"]), &groups(&[("i-1", "web", Some("true"))]), &[], KEY);
        assert_eq!(plan.mark, [Handed { instance: "i-1".into(), group: "web".into() }]);
        assert!(plan.left.is_empty());
    }

    #[test]
    fn an_instance_in_no_group_is_left_with_the_reason() {
        let plan = plan_replacements(&ids(&["i-1"]), &BTreeMap::new(), &[], KEY);
        assert!(plan.mark.is_empty());
        assert_eq!(plan.left, [Left { instance: "i-1".into(), group: None, why: "in no Auto Scaling group".into() }]);
    }

    #[test]
    fn an_instance_of_a_group_not_opted_in_is_left_naming_the_group_and_the_tag() {
        for value in [None, Some("false"), Some("TRUE")] {
            let plan = plan_replacements(&ids(&["i-1"]), &groups(&[("i-1", "web", value)]), &[], KEY);
            assert!(plan.mark.is_empty(), "{value:?}");
            assert_eq!(plan.left[0].group.as_deref(), Some("web"));
            assert!(plan.left[0].why.contains("failover:enabled=true"), "{}", plan.left[0].why);
        }
    }

    #[test]
    fn an_instance_already_handed_over_is_not_marked_again() {
        let plan = plan_replacements(&ids(&["i-1"]), &groups(&[("i-1", "web", Some("true"))]), &ids(&["i-1"]), KEY);
        assert!(plan.mark.is_empty());
        assert_eq!(plan.left[0].why, "already handed to its Auto Scaling group");
    }

    fn health(id: &str, state: TargetState) -> TargetHealth {
        let target = crate::model::Target { id: id.into(), port: Some(80), availability_zone: None };
        TargetHealth::new(target, state)
    }

    fn marking(list: &[&str]) -> Replacements {
        let mark = list.iter().map(|i| Handed { instance: (*i).into(), group: "web".into() }).collect();
        Replacements { mark, left: Vec::new() }
    }

    #[test]
    fn an_instance_still_serving_in_another_group_is_left_naming_the_groups() {
        let elsewhere = [
            ("tg/api".to_owned(), vec![health("i-1", TargetState::Healthy), health("i-2", TargetState::Draining)]),
            ("tg/admin".to_owned(), vec![health("i-1", TargetState::Unavailable)]),
        ];
        let plan = still_serving(marking(&["i-1", "i-2"]), &elsewhere);
        assert_eq!(plan.mark, [Handed { instance: "i-2".into(), group: "web".into() }]);
        let why = "still serving in target group tg/api, tg/admin".to_owned();
        assert_eq!(plan.left, [Left { instance: "i-1".into(), group: Some("web".into()), why }]);
    }

    #[test]
    fn an_instance_registered_but_not_healthy_elsewhere_is_left_to_that_group() {
        for state in [TargetState::Unhealthy, TargetState::Initial, TargetState::Unknown] {
            let plan = still_serving(marking(&["i-1"]), &[("tg/api".to_owned(), vec![health("i-1", state)])]);
            assert!(plan.mark.is_empty(), "{state:?}");
            assert_eq!(plan.left[0].why, "still serving in target group tg/api");
        }
    }

    #[test]
    fn an_instance_leaving_unused_or_absent_elsewhere_is_still_marked() {
        for state in [TargetState::Draining, TargetState::UnhealthyDraining, TargetState::Unused] {
            let plan = still_serving(marking(&["i-1"]), &[("tg/api".to_owned(), vec![health("i-1", state)])]);
            assert_eq!(plan, marking(&["i-1"]), "{state:?}");
        }
        let other = [("tg/api".to_owned(), vec![health("i-9", TargetState::Healthy)])];
        assert_eq!(still_serving(marking(&["i-1"]), &other), marking(&["i-1"]));
        assert_eq!(still_serving(marking(&["i-1"]), &[]), marking(&["i-1"]));
    }

    #[test]
    fn a_group_this_invocation_removed_the_instance_from_no_longer_serves_it() {
        let elsewhere = vec![
            ("tg/api".to_owned(), vec![health("i-1", TargetState::Healthy), health("i-2", TargetState::Healthy)]),
            ("tg/admin".to_owned(), vec![health("i-1", TargetState::Healthy)]),
        ];
        let removed = BTreeSet::from([("tg/api".to_owned(), "i-1".to_owned())]);
        let left = without_removed(elsewhere, &removed);
        let ids: Vec<(&str, Vec<&str>)> = left
            .iter()
            .map(|(g, targets)| (g.as_str(), targets.iter().map(|t| t.target.id.as_str()).collect()))
            .collect();
        assert_eq!(ids, [("tg/api", vec!["i-2"]), ("tg/admin", vec!["i-1"])]);
        assert_eq!(still_serving(marking(&["i-1"]), &left).left[0].why, "still serving in target group tg/admin");
    }

    #[test]
    fn instances_already_left_stay_left() {
        let mut plan = marking(&[]);
        plan.left.push(Left { instance: "i-3".into(), group: None, why: "in no Auto Scaling group".into() });
        let elsewhere = [("tg/api".to_owned(), vec![health("i-3", TargetState::Healthy)])];
        assert_eq!(still_serving(plan.clone(), &elsewhere), plan);
    }

    #[test]
    fn a_removal_whose_instances_were_all_handed_over_and_left_their_groups_is_replaced() {
        assert!(replaced_all(&ids(&["i-1", "i-2"]), &ids(&["i-1", "i-2"]), &BTreeMap::new()));
    }

    #[test]
    fn a_removal_with_an_instance_still_in_its_group_is_not_replaced_yet() {
        let still = groups(&[("i-2", "web", Some("true"))]);
        assert!(!replaced_all(&ids(&["i-1", "i-2"]), &ids(&["i-1", "i-2"]), &still));
    }

    #[test]
    fn a_removal_with_a_target_never_handed_over_waits_for_the_ok() {
        assert!(!replaced_all(&ids(&["i-1", "i-2"]), &ids(&["i-1"]), &BTreeMap::new()));
        assert!(!replaced_all(&[], &[], &BTreeMap::new()), "a removal naming no target is not judged here");
    }

    #[test]
    fn targets_that_are_not_instances_are_not_considered() {
        let plan =
            plan_replacements(&ids(&["10.0.1.5", "arn:aws:lambda:us-east-1:1:function:f"]), &BTreeMap::new(), &[], KEY);
        assert_eq!(plan, Replacements::default());
    }

    #[test]
    fn a_mixed_removal_keeps_the_order_of_the_targets() {
        let groups = groups(&[("i-1", "web", Some("true")), ("i-2", "batch", None), ("i-4", "web", Some("true"))]);
        let plan = plan_replacements(&ids(&["i-1", "i-2", "i-3", "i-4"]), &groups, &[], KEY);
        let marked: Vec<_> = plan.mark.iter().map(|h| h.instance.as_str()).collect();
        let left: Vec<_> = plan.left.iter().map(|l| l.instance.as_str()).collect();
        assert_eq!((marked, left), (vec!["i-1", "i-4"], vec!["i-2", "i-3"]));
    }
}
