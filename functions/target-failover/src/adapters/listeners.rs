//! The listener's and rule's action lists as the SDK gives them: reading the forward action's weights, and
//! writing them back with every other action unchanged.

use aws_sdk_elasticloadbalancingv2::types::{
    Action, ActionTypeEnum, ForwardActionConfig, TargetDescription, TargetGroupTuple,
};

use crate::model::{Target, Weight};

pub(super) fn descriptions(targets: &[Target], with_zone: bool) -> Vec<TargetDescription> {
    targets
        .iter()
        .map(|t| {
            let mut d = TargetDescription::builder().id(&t.id).set_port(t.port);
            if with_zone {
                d = d.set_availability_zone(t.availability_zone.clone());
            }
            d.build()
        })
        .collect()
}

fn is_forward(action: &Action) -> bool {
    action.r#type() == Some(&ActionTypeEnum::Forward)
}

/// The weights of the forward action in `actions` when it names `group`. A forward action written with
/// `TargetGroupArn` alone sends everything to that group (weight 1); a missing weight in a `ForwardConfig`
/// means 1 as well.
pub(super) fn forward_weights(actions: &[Action], group: &str) -> Option<Vec<Weight>> {
    let forward = actions.iter().find(|a| is_forward(a))?;
    let weights: Vec<Weight> = match forward.forward_config().filter(|c| !c.target_groups().is_empty()) {
        Some(config) => config
            .target_groups()
            .iter()
            .filter_map(|t| Some(Weight::new(t.target_group_arn()?, t.weight().unwrap_or(1).max(0) as u32)))
            .collect(),
        None => vec![Weight::new(forward.target_group_arn()?, 1)],
    };
    weights.iter().any(|w| w.group_arn == group).then_some(weights)
}

/// `actions` with the forward action pointed at the one group `weights` gives weight (order kept), as a network
/// load balancer's forward action takes a single target group; `None` unless exactly one has weight.
pub(super) fn pointed(actions: &[Action], weights: &[Weight]) -> Option<Vec<Action>> {
    let mut serving = weights.iter().filter(|w| w.weight > 0);
    let (Some(target), None) = (serving.next(), serving.next()) else { return None };
    Some(
        actions
            .iter()
            .map(|action| match is_forward(action) {
                true => Action::builder()
                    .r#type(ActionTypeEnum::Forward)
                    .set_order(action.order())
                    .target_group_arn(&target.group_arn)
                    .build(),
                false => action.clone(),
            })
            .collect(),
    )
}

/// `actions` with the forward action's target groups replaced by `weights` (stickiness and order kept).
pub(super) fn reweighted(actions: &[Action], weights: &[Weight]) -> Vec<Action> {
    actions
        .iter()
        .map(|action| {
            if !is_forward(action) {
                return action.clone();
            }
            let tuples = weights
                .iter()
                .map(|w| TargetGroupTuple::builder().target_group_arn(&w.group_arn).weight(w.weight as i32).build())
                .collect();
            let config = ForwardActionConfig::builder()
                .set_target_groups(Some(tuples))
                .set_target_group_stickiness_config(
                    action.forward_config().and_then(|c| c.target_group_stickiness_config()).cloned(),
                )
                .build();
            Action::builder().r#type(ActionTypeEnum::Forward).set_order(action.order()).forward_config(config).build()
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/a/1";
    const B: &str = "arn:aws:elasticloadbalancing:us-east-1:1:targetgroup/b/2";

    fn simple_forward(arn: &str) -> Action {
        Action::builder().r#type(ActionTypeEnum::Forward).target_group_arn(arn).order(2).build()
    }

    #[test]
    fn a_single_group_forward_is_pointed_at_the_one_group_with_weight() {
        let pointed = pointed(&[simple_forward(A)], &[Weight::new(A, 0), Weight::new(B, 1)]).unwrap();
        assert_eq!(pointed[0].target_group_arn(), Some(B));
        assert_eq!(pointed[0].order(), Some(2));
        assert!(pointed[0].forward_config().is_none());
        assert!(super::pointed(&[simple_forward(A)], &[Weight::new(A, 1), Weight::new(B, 1)]).is_none());
    }

    #[test]
    fn a_plain_forward_action_counts_as_weight_one() {
        let actions = [simple_forward(A)];
        assert_eq!(forward_weights(&actions, A), Some(vec![Weight::new(A, 1)]));
        assert_eq!(forward_weights(&actions, B), None);
    }

    #[test]
    fn reweighting_keeps_other_actions_and_the_order() {
        let auth = Action::builder().r#type(ActionTypeEnum::AuthenticateOidc).order(1).build();
        let out = reweighted(&[auth.clone(), simple_forward(A)], &[Weight::new(A, 0), Weight::new(B, 1)]);
        assert_eq!(out[0], auth);
        assert_eq!(out[1].order(), Some(2));
        assert_eq!(out[1].target_group_arn(), None);
        assert_eq!(forward_weights(&out, A), Some(vec![Weight::new(A, 0), Weight::new(B, 1)]));
    }
}
