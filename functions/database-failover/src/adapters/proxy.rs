//! RDS Proxy targets over `aws_sdk_rds`: the three calls of the proxy step. AWS's documented faults that mean
//! "already done" or "gone" are answers ([`TargetChange`], [`ProxyTargets`]); every other fault is an
//! [`AwsError`] (transient ones, e.g. `InvalidDBProxyStateFault` while the proxy is being modified, by the
//! SDK's reading of throttling and 5xx only).

use aws_sdk_rds::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_rds::types::DbProxyTarget;
use failover_core::aws::{AwsContext, AwsError};

use super::RdsDatabases;
use crate::model::{ProxyBinding, ProxyTagged, ProxyTarget, ProxyTargets, TargetChange};

/// `$op` (`RegisterDBProxyTargets` or `DeregisterDBProxyTargets`) of the one DB instance `$id` in the target
/// group `$b` names, sent.
macro_rules! one_target {
    ($client:expr, $op:ident, $b:expr, $id:expr) => {
        $client
            .$op()
            .db_proxy_name(&$b.proxy)
            .target_group_name(&$b.target_group)
            .db_instance_identifiers($id)
            .send()
            .await
    };
}

fn to_target(t: &DbProxyTarget) -> Option<ProxyTarget> {
    Some(ProxyTarget {
        kind: t.r#type().map_or_else(String::new, |k| k.as_str().to_owned()),
        id: t.rds_resource_id()?.to_owned(),
        endpoint: t.endpoint().map(str::to_owned),
        health: t.target_health().and_then(|h| h.state()).map(|s| s.as_str().to_owned()),
    })
}

impl RdsDatabases {
    pub(super) async fn describe_proxy_targets(
        &self,
        region: &str,
        binding: &ProxyBinding,
    ) -> Result<ProxyTargets, AwsError> {
        let mut pages = self
            .clients
            .get(region)
            .describe_db_proxy_targets()
            .db_proxy_name(&binding.proxy)
            .target_group_name(&binding.target_group)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            match page {
                Ok(page) => out.extend(page.targets().iter().filter_map(to_target)),
                Err(e) if e.as_service_error().is_some_and(|s| s.is_db_proxy_not_found_fault()) => {
                    return Ok(ProxyTargets::NoProxy)
                }
                Err(e) if e.as_service_error().is_some_and(|s| s.is_db_proxy_target_group_not_found_fault()) => {
                    return Ok(ProxyTargets::NoTargetGroup)
                }
                Err(e) => return Err(e).aws("DescribeDBProxyTargets", format!("{binding} in {region}")),
            }
        }
        Ok(ProxyTargets::Found(out))
    }

    /// The proxy `name` and its tags; `None` on `DBProxyNotFoundFault`.
    pub(super) async fn describe_proxy_tags(&self, region: &str, name: &str) -> Result<Option<ProxyTagged>, AwsError> {
        let client = self.clients.get(region);
        let described = match client.describe_db_proxies().db_proxy_name(name).send().await {
            Ok(out) => out,
            Err(e) if e.as_service_error().is_some_and(|s| s.is_db_proxy_not_found_fault()) => return Ok(None),
            Err(e) => return Err(e).aws("DescribeDBProxies", format!("{name} in {region}")),
        };
        let Some(arn) = described.db_proxies().first().and_then(|p| p.db_proxy_arn()).map(str::to_owned) else {
            return Ok(None);
        };
        let listed = client.list_tags_for_resource().resource_name(&arn).send().await;
        let listed = listed.aws("ListTagsForResource", arn.clone())?;
        Ok(Some(ProxyTagged { tags: super::convert::tags_of(listed.tag_list()), arn }))
    }

    /// `RegisterDBProxyTargets` (`register`) or `DeregisterDBProxyTargets` of the one instance `id`.
    pub(super) async fn change_target(
        &self,
        region: &str,
        b: &ProxyBinding,
        id: &str,
        register: bool,
    ) -> Result<TargetChange, AwsError> {
        let client = self.clients.get(region);
        if register {
            let sent = one_target!(client, register_db_proxy_targets, b, id);
            let resource = || format!("{id} in {b} in {region}");
            return target_change(sent, "DBProxyTargetAlreadyRegisteredFault", "RegisterDBProxyTargets", resource);
        }
        let sent = one_target!(client, deregister_db_proxy_targets, b, id);
        let resource = || format!("{id} from {b} in {region}");
        target_change(sent, "DBProxyTargetNotFoundFault", "DeregisterDBProxyTargets", resource)
    }
}

/// The answer of a registration or deregistration: `already` (the fault that says it was done) is
/// [`TargetChange::AlreadyDone`], a missing proxy or target group [`TargetChange::Gone`], any other fault an error.
fn target_change<O, E>(
    sent: Result<O, SdkError<E>>,
    already: &str,
    operation: &'static str,
    resource: impl Fn() -> String,
) -> Result<TargetChange, AwsError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    match sent {
        Ok(_) => Ok(TargetChange::Changed),
        Err(e) => match e.code() {
            Some(code) if code == already => Ok(TargetChange::AlreadyDone),
            Some("DBProxyNotFoundFault" | "DBProxyTargetGroupNotFoundFault") => Ok(TargetChange::Gone),
            _ => Err(e).aws(operation, resource()),
        },
    }
}
