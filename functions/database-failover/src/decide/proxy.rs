//! The proxy step of a promotion: the RDS Proxy target group a primary's `failover:rds-proxy` tag names moves
//! from the failed primary to the promoted replica, compare-and-swap style: only while the failed primary is its
//! target. A target group that holds another instance was moved by a person (or belongs to another primary) and
//! is left alone; the notification says where it points.
//!
//! Order: deregister the failed primary, THEN register the promoted replica. AWS associates a target group
//! with exactly one RDS DB instance (or one Aurora cluster), so the new one cannot be registered beside the old
//! one first. The window without a target is the time between two API calls; during it the proxy keeps its
//! client connections and makes new requests wait (up to the target group's `ConnectionBorrowTimeout`) rather
//! than failing them, and the old target was a failed primary anyway. A run cut short in that window leaves
//! the group empty with the decision still pending: the retry (a resumed decision) finds no target and
//! registers the new primary ([`ProxyStep::Register`]), and says so. A FIRST run that finds the group empty did
//! not empty it (a person did, on purpose or not): it is left empty ([`ProxyStep::Empty`]), and said.

pub use super::proxy_result::ProxyResult;
use super::{PrimaryState, Promotion};
use crate::model::{
    DbRef, Instance, ProxyBinding, ProxyMove, ProxyTagged, ProxyTargets, Record, PROXY_TAG, RDS_INSTANCE,
};
pub use failover_core::readiness::Gap;

/// The proxy step of a new decision: from the primary's tag (its own or inherited). A proxy targets instances
/// of its own region only, so a replica in another region cannot be its target.
pub fn planned(primary: &PrimaryState, primary_ref: &DbRef, replica: &DbRef) -> Result<Option<ProxyMove>, String> {
    let planned = match primary {
        PrimaryState::Found(p) => p.proxy_move()?,
        other => return Err(format!("{} is {}: its {PROXY_TAG} tag cannot be read", primary_ref.id, other.describe())),
    };
    match planned {
        Some(m) if replica.region != primary_ref.region => Err(format!(
            "{} is in {}, and {} in {} can only target instances of its own region",
            replica.id, replica.region, m.binding, primary_ref.region
        )),
        planned => Ok(planned),
    }
}

/// The proxy step of a recorded decision: the one recorded with it; a decision recorded without one (by an
/// earlier version) takes the primary's tag when the primary is still there.
pub fn recorded(record: &Record, primary: &PrimaryState, primary_ref: &DbRef) -> Result<Option<ProxyMove>, String> {
    match (&record.proxy, primary) {
        (Some(m), _) => Ok(Some(m.clone())),
        (None, PrimaryState::Found(_)) => planned(primary, primary_ref, &record.subject),
        (None, _) => Ok(None),
    }
}

/// What to do with the target group, given its targets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ProxyStep {
    /// The failed primary is the target: deregister it, then register the new primary (`register`: unless the new
    /// primary is already registered beside it).
    Move { register: bool },
    /// No target at all, completing a resumed decision (an earlier run of it deregistered the failed primary and
    /// stopped): register the new primary.
    Register,
    /// No target at all on a first run: this decision did not empty the group, so it is not refilled.
    Empty,
    /// The new primary is already the target.
    AlreadyThere,
    /// Something else is the target: not ours to change.
    Elsewhere { points_to: Vec<String> },
    /// The proxy, or its target group, does not exist.
    NotFound { what: &'static str },
}

/// The step for a target group holding `targets`, moved from the DB instance `from` to `to` (identifiers
/// compare without case, as RDS reads them). `resumed`: the decision was recorded by an earlier run, the only
/// one that may have emptied the group (the compare-and-swap holds: only a group this decision emptied is
/// refilled).
pub fn proxy_step(targets: &ProxyTargets, from: &str, to: &str, resumed: bool) -> ProxyStep {
    let targets = match targets {
        ProxyTargets::NoProxy => return ProxyStep::NotFound { what: "proxy" },
        ProxyTargets::NoTargetGroup => return ProxyStep::NotFound { what: "target group" },
        ProxyTargets::Found(targets) => targets,
    };
    let is = |id: &str, name: &str| id.eq_ignore_ascii_case(name);
    let instance = |t: &&crate::model::ProxyTarget| t.kind == RDS_INSTANCE;
    let has = |name: &str| targets.iter().filter(instance).any(|t| is(&t.id, name));
    let others: Vec<String> =
        targets.iter().filter(|t| !(instance(t) && (is(&t.id, from) || is(&t.id, to)))).map(|t| t.id.clone()).collect();
    if !others.is_empty() {
        let mut points_to: Vec<String> = targets.iter().map(|t| t.id.clone()).collect();
        points_to.dedup();
        return ProxyStep::Elsewhere { points_to };
    }
    match (has(from), has(to)) {
        (true, registered) => ProxyStep::Move { register: !registered },
        (false, true) => ProxyStep::AlreadyThere,
        (false, false) if resumed => ProxyStep::Register,
        (false, false) => ProxyStep::Empty,
    }
}

/// readiness: the proxy binding a primary's [`PROXY_TAG`] names (its own or inherited), read as a failover
/// reads it: `None` without the tag, a gap when the tag is malformed.
pub fn readiness_binding(primary: &Instance) -> Option<Result<ProxyBinding, Gap>> {
    let value = primary.binding(PROXY_TAG)?;
    Some(ProxyBinding::parse(value).map_err(|error| Gap {
        kind: "rds-proxy-tag-invalid",
        resource: primary.arn.clone(),
        problem: format!("{}: {error}: a failover would move no RDS Proxy target", primary.at.id),
        fix: format!(
            "aws rds add-tags-to-resource --resource-name {} --tags Key={PROXY_TAG},Value=<proxy-name>[/<target-group>]",
            primary.arn
        ),
    }))
}

/// readiness: the target group against the primary. A missing proxy or group, or one whose target is not the
/// primary, is a gap: a failover would leave it as it is.
pub fn readiness_gap(primary: &Instance, b: &ProxyBinding, targets: &ProxyTargets) -> Option<Gap> {
    let id = &primary.at.id;
    let gap = |kind, problem: String, fix: String| Some(Gap { kind, resource: primary.arn.clone(), problem, fix });
    let tag_fix = format!("aws rds describe-db-proxies (then correct {PROXY_TAG} on {id})");
    match proxy_step(targets, id, "", false) {
        ProxyStep::NotFound { what: "proxy" } => {
            gap("rds-proxy-missing", format!("{id}'s {PROXY_TAG} names {b}: no such proxy"), tag_fix)
        }
        ProxyStep::NotFound { .. } => gap(
            "rds-proxy-target-group-missing",
            format!("{id}'s {PROXY_TAG} names {b}: no such target group"),
            tag_fix,
        ),
        ProxyStep::Move { .. } | ProxyStep::AlreadyThere => None,
        ProxyStep::Register | ProxyStep::Empty | ProxyStep::Elsewhere { .. } => {
            let points_to = match targets {
                ProxyTargets::Found(t) if !t.is_empty() => {
                    t.iter().map(|t| t.id.as_str()).collect::<Vec<_>>().join(", ")
                }
                _ => "nothing".to_owned(),
            };
            gap(
                "rds-proxy-target-elsewhere",
                format!("{b} points at {points_to}, not at {id}: a failover would leave it alone"),
                format!(
                    "aws rds register-db-proxy-targets --db-proxy-name {} --target-group-name {} \
                     --db-instance-identifiers {id} (after deregistering {points_to})",
                    b.proxy, b.target_group
                ),
            )
        }
    }
}

/// readiness: the proxy without the opt-in tag. IAM lets the function (de)register targets only on a proxy
/// that carries `<key>=true` (template `MoveOptInProxyTarget`): without it the proxy step of a real failover is
/// AccessDenied, which the local AWS cannot show.
pub fn readiness_tag_gap(primary: &Instance, b: &ProxyBinding, proxy: &ProxyTagged, key: &str) -> Option<Gap> {
    if failover_core::tags::opted_in(&proxy.tags, key) {
        return None;
    }
    Some(Gap {
        kind: "rds-proxy-not-opted-in",
        resource: primary.arn.clone(),
        problem: format!(
            "{}'s {PROXY_TAG} names {b}: proxy {} does not carry {key}=true, so IAM would refuse to move its target",
            primary.at.id, b.proxy
        ),
        fix: format!("aws rds add-tags-to-resource --resource-name {} --tags Key={key},Value=true", proxy.arn),
    })
}

impl Promotion {
    /// The proxy step as planned (before anything is done): what a dry run or a failure reports.
    pub fn planned_proxy(&self) -> ProxyResult {
        match &self.proxy {
            Ok(None) => ProxyResult::Untagged,
            Err(reason) => ProxyResult::NotPlanned { reason: reason.clone() },
            Ok(Some(m)) => ProxyResult::WouldMove {
                proxy: m.binding.proxy.clone(),
                target_group: m.binding.target_group.clone(),
                from: m.from.clone(),
                to: self.replica.id.clone(),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ProxyTarget;

    fn group(ids: &[&str]) -> ProxyTargets {
        ProxyTargets::Found(
            ids.iter()
                .map(|id| ProxyTarget { kind: RDS_INSTANCE.into(), id: (*id).into(), endpoint: None, health: None })
                .collect(),
        )
    }

    #[test]
    fn a_group_at_the_failed_primary_is_moved_to_the_new_one() {
        assert_eq!(proxy_step(&group(&["Orders"]), "orders", "r1", false), ProxyStep::Move { register: true });
        assert_eq!(proxy_step(&group(&["orders", "r1"]), "orders", "r1", false), ProxyStep::Move { register: false });
    }

    #[test]
    fn a_group_already_at_the_new_primary_is_left_as_it_is() {
        assert_eq!(proxy_step(&group(&["R1"]), "orders", "r1", false), ProxyStep::AlreadyThere);
    }

    #[test]
    fn an_empty_group_is_refilled_only_when_completing_a_resumed_decision() {
        assert_eq!(proxy_step(&group(&[]), "orders", "r1", true), ProxyStep::Register);
        assert_eq!(proxy_step(&group(&[]), "orders", "r1", false), ProxyStep::Empty, "emptied by someone else");
    }

    #[test]
    fn a_group_a_person_moved_is_left_alone_and_says_where_it_points() {
        let elsewhere = |ids: &[&str]| ProxyStep::Elsewhere { points_to: ids.iter().map(|s| (*s).into()).collect() };
        assert_eq!(proxy_step(&group(&["billing"]), "orders", "r1", false), elsewhere(&["billing"]));
        assert_eq!(
            proxy_step(&group(&["orders", "billing"]), "orders", "r1", false),
            elsewhere(&["orders", "billing"])
        );
        let cluster = ProxyTargets::Found(vec![ProxyTarget {
            kind: "TRACKED_CLUSTER".into(),
            id: "orders".into(),
            endpoint: None,
            health: None,
        }]);
        assert_eq!(proxy_step(&cluster, "orders", "r1", false), elsewhere(&["orders"]), "a cluster target is not ours");
    }

    #[test]
    fn a_missing_proxy_or_target_group_changes_nothing() {
        assert_eq!(proxy_step(&ProxyTargets::NoProxy, "a", "b", false), ProxyStep::NotFound { what: "proxy" });
        assert_eq!(
            proxy_step(&ProxyTargets::NoTargetGroup, "a", "b", false),
            ProxyStep::NotFound { what: "target group" }
        );
    }

    #[test]
    fn the_step_is_planned_from_the_primarys_own_or_inherited_tag_and_only_within_its_region() {
        use crate::decide::readiness::tests::primary;
        let at = DbRef::new("us-east-1", "orders");
        let (local, west) = (DbRef::new("us-east-1", "r1"), DbRef::new("us-west-2", "r1"));
        let tagged = PrimaryState::Found(primary(&[(PROXY_TAG, "orders-proxy")]));
        let planned_move = planned(&tagged, &at, &local).expect("planned").expect("tagged");
        assert_eq!((planned_move.binding.proxy.as_str(), planned_move.from.as_str()), ("orders-proxy", "orders"));
        let mut inherited = primary(&[]);
        inherited.inherited.insert(PROXY_TAG.into(), "old-proxy/writers".into());
        let inherited = planned(&PrimaryState::Found(inherited), &at, &local).expect("planned").expect("inherited");
        assert_eq!(inherited.binding.target_group, "writers");
        assert_eq!(planned(&PrimaryState::Found(primary(&[])), &at, &local), Ok(None));
        assert!(planned(&tagged, &at, &west).is_err_and(|e| e.contains("only target instances of its own region")));
        let bad = PrimaryState::Found(primary(&[(PROXY_TAG, "a/b/c")]));
        assert!(planned(&bad, &at, &local).is_err_and(|e| e.contains(PROXY_TAG)));
        assert!(planned(&PrimaryState::Missing, &at, &local).is_err_and(|e| e.contains("cannot be read")));
    }

    #[test]
    fn readiness_finds_a_malformed_tag_a_missing_proxy_or_group_and_a_group_not_at_the_primary() {
        use crate::decide::readiness::tests::primary;
        let p = primary(&[(PROXY_TAG, "orders-proxy")]);
        let b = ProxyBinding { proxy: "orders-proxy".into(), target_group: "default".into() };
        let kind = |targets: &ProxyTargets| readiness_gap(&p, &b, targets).map(|g| g.kind);
        assert_eq!(kind(&group(&["orders"])), None);
        assert_eq!(kind(&ProxyTargets::NoProxy), Some("rds-proxy-missing"));
        assert_eq!(kind(&ProxyTargets::NoTargetGroup), Some("rds-proxy-target-group-missing"));
        assert_eq!(kind(&group(&["billing"])), Some("rds-proxy-target-elsewhere"));
        assert_eq!(kind(&group(&[])), Some("rds-proxy-target-elsewhere"));
        assert!(readiness_binding(&primary(&[])).is_none());
        let bad = readiness_binding(&primary(&[(PROXY_TAG, "no good")])).expect("tagged").expect_err("malformed");
        assert_eq!(bad.kind, "rds-proxy-tag-invalid");
    }

    #[test]
    fn readiness_finds_a_proxy_without_the_opt_in_tag_and_names_the_command_that_tags_it() {
        use crate::decide::readiness::tests::primary;
        let p = primary(&[(PROXY_TAG, "orders-proxy")]);
        let b = ProxyBinding { proxy: "orders-proxy".into(), target_group: "default".into() };
        let arn = "arn:aws:rds:us-east-1:123456789012:db-proxy:prx-0123";
        let proxy = |tags: &[(&str, &str)]| ProxyTagged {
            arn: arn.into(),
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        };
        assert_eq!(readiness_tag_gap(&p, &b, &proxy(&[("failover:enabled", "true")]), "failover:enabled"), None);
        for tags in [&[][..], &[("failover:enabled", "false")][..], &[("other", "true")][..]] {
            let gap = readiness_tag_gap(&p, &b, &proxy(tags), "failover:enabled").expect("a gap");
            assert_eq!(gap.kind, "rds-proxy-not-opted-in");
            assert_eq!(
                gap.fix,
                format!("aws rds add-tags-to-resource --resource-name {arn} --tags Key=failover:enabled,Value=true")
            );
        }
    }
}
