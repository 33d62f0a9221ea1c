//! RDS Proxy, as the proxy step of a promotion sees it: the binding a primary's [`PROXY_TAG`] names
//! ([`ProxyBinding::parse`]), the move decided with a promotion ([`ProxyMove`], kept in the decision's ledger
//! data) and a target group's targets as `DescribeDBProxyTargets` answers ([`ProxyTargets`]).

use serde::{Deserialize, Serialize};

use super::{Instance, PROXY_TAG};

/// The target group a [`PROXY_TAG`] without `/<target-group>` names: RDS creates one, `default`, with each proxy.
pub const DEFAULT_TARGET_GROUP: &str = "default";

/// A proxy and one of its target groups: `<proxy-name>[/<target-group>]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProxyBinding {
    pub proxy: String,
    pub target_group: String,
}

/// RDS names proxies and target groups alike: a letter first, then letters, digits and single hyphens, at most
/// 63 characters, no hyphen at the end (`[a-zA-Z](?:-?[a-zA-Z0-9]+)*`, the API reference's pattern).
fn valid_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    !bytes.is_empty()
        && bytes.len() <= 63
        && bytes[0].is_ascii_alphabetic()
        && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-')
        && !name.ends_with('-')
        && !name.contains("--")
}

impl ProxyBinding {
    /// Reads `<proxy-name>[/<target-group>]` (target group [`DEFAULT_TARGET_GROUP`] when left out); the error
    /// says what was expected. Pure: `readiness` reads the tag with it too.
    pub fn parse(value: &str) -> Result<Self, String> {
        let trimmed = value.trim();
        let (proxy, group) = match trimmed.split_once('/') {
            Some((proxy, group)) => (proxy.trim(), group.trim()),
            None => (trimmed, DEFAULT_TARGET_GROUP),
        };
        if valid_name(proxy) && valid_name(group) {
            return Ok(ProxyBinding { proxy: proxy.to_owned(), target_group: group.to_owned() });
        }
        Err(format!(
            "{PROXY_TAG}={value:?} is not <proxy-name>[/<target-group>] (RDS names: a letter, then letters, digits \
             and single hyphens), e.g. orders-proxy or orders-proxy/default"
        ))
    }
}

impl std::fmt::Display for ProxyBinding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RDS Proxy {} (target group {})", self.proxy, self.target_group)
    }
}

/// The proxy step of a promotion: move `binding`'s target from the failed primary `from` (its DB instance
/// identifier) to the promoted replica. Recorded with the decision, so that a retry knows it when the primary
/// is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyMove {
    pub binding: ProxyBinding,
    pub from: String,
}

impl Instance {
    /// The proxy step of this primary's failover: `Ok(None)` without a [`PROXY_TAG`] (its own or inherited through
    /// the lineage: [`Instance::binding`]); why not when the tag is malformed.
    pub fn proxy_move(&self) -> Result<Option<ProxyMove>, String> {
        let Some(value) = self.binding(PROXY_TAG) else { return Ok(None) };
        Ok(Some(ProxyMove { binding: ProxyBinding::parse(value)?, from: self.at.id.clone() }))
    }
}

/// One target of a proxy's target group (`DBProxyTarget`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ProxyTarget {
    /// `RDS_INSTANCE`, `TRACKED_CLUSTER` or `RDS_SERVERLESS_ENDPOINT`.
    pub kind: String,
    /// `RdsResourceId`: the DB instance (or cluster) identifier.
    pub id: String,
    pub endpoint: Option<String>,
    /// `TargetHealth.State`: `REGISTERING`, `AVAILABLE` or `UNAVAILABLE`, when RDS says.
    pub health: Option<String>,
}

/// The type of a target that is one DB instance.
pub const RDS_INSTANCE: &str = "RDS_INSTANCE";

/// A target group's targets, or which of the two does not exist.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ProxyTargets {
    Found(Vec<ProxyTarget>),
    /// `DBProxyNotFoundFault`.
    NoProxy,
    /// `DBProxyTargetGroupNotFoundFault`.
    NoTargetGroup,
}

/// A proxy as readiness reads it for its grant: its ARN (`db-proxy:prx-…`) and its tags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyTagged {
    pub arn: String,
    pub tags: failover_core::tags::Tags,
}

/// What `RegisterDBProxyTargets` or `DeregisterDBProxyTargets` of one instance did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TargetChange {
    Changed,
    /// Nothing to change: registered already (`DBProxyTargetAlreadyRegisteredFault`), or not registered
    /// (`DBProxyTargetNotFoundFault`).
    AlreadyDone,
    /// The proxy or its target group does not exist (any more).
    Gone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_proxy_tag_names_a_proxy_and_by_default_its_default_target_group() {
        let binding = |proxy: &str, group: &str| Ok(ProxyBinding { proxy: proxy.into(), target_group: group.into() });
        assert_eq!(ProxyBinding::parse("orders-proxy"), binding("orders-proxy", "default"));
        assert_eq!(ProxyBinding::parse(" orders-proxy / writers "), binding("orders-proxy", "writers"));
        assert_eq!(ProxyBinding::parse(&"p".repeat(63)), binding(&"p".repeat(63), "default"));
    }

    #[test]
    fn a_malformed_proxy_tag_is_a_reason_never_a_panic() {
        for bad in ["", "/", "orders/", "/default", "1proxy", "orders proxy", "orders--proxy", "orders-", "a/b/c", "ü"]
        {
            let error = ProxyBinding::parse(bad).expect_err(bad);
            assert!(error.contains(PROXY_TAG) && error.contains("<proxy-name>[/<target-group>]"), "{error}");
        }
        assert!(ProxyBinding::parse(&"p".repeat(64)).is_err(), "64 characters is too long");
    }
}
