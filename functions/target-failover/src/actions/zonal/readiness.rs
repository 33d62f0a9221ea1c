//! The zonal part of `readiness`: every opted-in load balancer in front of the checked groups
//! (`DescribeTargetGroups` per group, one `DescribeTags`) is registered with ARC zonal shift
//! (`GetManagedResource` each). A read that fails is an `unknown` gap, and the other checks go on.

use std::collections::BTreeSet;

use failover_core::aws::AwsError;

use crate::actions::zonal::reports::balancer_name;
use crate::actions::Context;
use crate::decide::readiness::{self, Gap};
use crate::ports::{LoadBalancer, Ports, Zonal};

pub async fn gaps<P: Ports>(ctx: &Context<'_, P>, groups: &[&String]) -> Vec<Gap> {
    let mut gaps = Vec::new();
    let mut balancers = BTreeSet::new();
    for group in groups {
        match ctx.lb.balancers_of(group).await {
            Ok(found) => balancers.extend(found),
            Err(e) => {
                let cli = format!("aws elbv2 describe-target-groups --target-group-arns {group}");
                gaps.push(unknown(group, "listing its load balancers", &e, &cli));
            }
        }
    }
    if balancers.is_empty() {
        return gaps;
    }
    let balancers: Vec<String> = balancers.into_iter().collect();
    let tagged = match ctx.lb.tags(&balancers).await {
        Ok(tagged) => tagged,
        Err(e) => {
            let cli = "aws elbv2 describe-tags --resource-arns <load balancer ARNs>";
            gaps.push(unknown(&balancers.join(", "), "reading the load balancers' tags", &e, cli));
            return gaps;
        }
    };
    let opted = tagged
        .into_iter()
        .filter(|(_, tags)| tags.as_ref().is_some_and(|t| failover_core::tags::opted_in(t, ctx.opt_in_key())));
    for (lb, _) in opted {
        match ctx.lb.managed_resource(&lb).await {
            Ok(Some(_)) => {}
            Ok(None) => gaps.push(readiness::not_registered_with_arc(&lb)),
            Err(e) => {
                let cli = format!("aws arc-zonal-shift get-managed-resource --resource-identifier {lb}");
                gaps.push(unknown(&lb, "reading its ARC zonal shift registration", &e, &cli));
            }
        }
    }
    gaps
}

fn unknown(resource: &str, doing: &str, error: &AwsError, cli: &str) -> Gap {
    failover_core::readiness::unknown(resource, balancer_name(resource), doing, error, cli)
}
