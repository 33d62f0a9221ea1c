//! The zonal part of `readiness`: every opted-in load balancer in front of the checked groups
//! (`DescribeTargetGroups` per group, one `DescribeTags`) is registered with ARC zonal shift
//! (`GetManagedResource` each). A read that fails is an `unknown` gap, and the other checks go on. The load
//! balancers of each group are handed back for the alarm check ([`crate::decide::watch`]).

use std::collections::{BTreeMap, BTreeSet};

use failover_core::aws::AwsError;

use crate::actions::zonal::reports::balancer_name;
use crate::actions::Context;
use crate::decide::readiness::{self, Gap};
use crate::ports::{LoadBalancer, Ports, Zonal};

/// The gaps, and the load balancers of each group whose were read.
pub async fn gaps<P: Ports>(ctx: &Context<'_, P>, groups: &[&String]) -> (Vec<Gap>, BTreeMap<String, Vec<String>>) {
    let mut gaps = Vec::new();
    let mut balancers = BTreeSet::new();
    let mut of_group = BTreeMap::new();
    for group in groups {
        match ctx.balancers_of(group).await {
            Ok(found) => {
                balancers.extend(found.iter().cloned());
                of_group.insert((*group).clone(), found);
            }
            Err(e) => {
                let cli = format!("aws elbv2 describe-target-groups --target-group-arns {group}");
                gaps.push(unknown(group, "listing its load balancers", &e, &cli));
            }
        }
    }
    if balancers.is_empty() {
        return (gaps, of_group);
    }
    let balancers: Vec<String> = balancers.into_iter().collect();
    let tagged = match ctx.lb.tags(&balancers).await {
        Ok(tagged) => tagged,
        Err(e) => {
            let cli = "aws elbv2 describe-tags --resource-arns <load balancer ARNs>";
            gaps.push(unknown(&balancers.join(", "), "reading the load balancers' tags", &e, cli));
            return (gaps, of_group);
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
    (gaps, of_group)
}

fn unknown(resource: &str, doing: &str, error: &AwsError, cli: &str) -> Gap {
    failover_core::readiness::unknown(resource, balancer_name(resource), doing, error, cli)
}
