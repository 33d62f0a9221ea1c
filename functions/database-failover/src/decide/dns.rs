//! The DNS step of a promotion: the record a primary's `failover:dns-record` tag names is repointed only
//! from that primary's endpoint. Route 53 checks a DELETE against the record's current values, so the change
//! is one batch: DELETE (the record as it is: its TTL, the failed primary's endpoint), CREATE (the promoted
//! replica's endpoint). If the record points elsewhere, another primary (or a person) owns it now: nothing
//! changes and the notification says where it points.

use serde::{Deserialize, Serialize};

use super::PrimaryState;
use crate::model::{Cname, Record, Repoint};

/// The DNS step of a recorded decision: the one recorded with it; a decision recorded without one (by an
/// earlier version) takes the primary's tag when the primary is still there.
pub(super) fn recorded(record: &Record, primary: &PrimaryState) -> Result<Option<Repoint>, String> {
    match (&record.dns, primary) {
        (Some(dns), _) => Ok(Some(dns.clone())),
        (None, PrimaryState::Found(p)) => p.repoint(),
        (None, _) => Ok(None),
    }
}

/// What to do with the record, given what it holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsStep {
    /// It points at the failed primary: DELETE it as it is (`delete`), CREATE it pointing at the new one.
    Change { delete: Cname },
    /// It already points at the new primary (an earlier attempt made the change).
    AlreadyThere,
    /// It points elsewhere: not ours to change.
    Elsewhere { points_to: Vec<String> },
    /// It points at a global database's writer endpoint, which follows the primary by itself.
    FollowsGlobal { endpoint: String },
    /// There is no such CNAME.
    Missing,
}

/// DNS names compare without case and without the final dot.
fn same_name(a: &str, b: &str) -> bool {
    a.trim_end_matches('.').eq_ignore_ascii_case(b.trim_end_matches('.'))
}

/// The step for a record holding `current`, repointed from the failed primary's endpoint `from` to `to`.
pub fn repoint_step(current: Option<&Cname>, from: &str, to: &str) -> DnsStep {
    let Some(cname) = current else { return DnsStep::Missing };
    match cname.values.as_slice() {
        [value] if same_name(value, to) => DnsStep::AlreadyThere,
        [value] if same_name(value, from) => DnsStep::Change { delete: cname.clone() },
        values => DnsStep::Elsewhere { points_to: values.to_vec() },
    }
}

/// Whether `value` is the cluster (writer) endpoint of `cluster` in `region`:
/// `<cluster>.cluster-<suffix>.<region>.rds.amazonaws.com` (in China `…rds.<region>.amazonaws.com.cn`, or the
/// older `…<region>.rds.amazonaws.com.cn`), the suffix being the account's and region's letters and digits. A reader (`cluster-ro-`) or custom (`cluster-custom-`) endpoint is
/// not. A cluster's identifier is unique in its account and region, so this names the old primary of a global
/// database even when its region cannot be asked for its endpoint.
pub fn is_writer_endpoint(value: &str, region: &str, cluster: &str) -> bool {
    let value = value.trim_end_matches('.').to_ascii_lowercase();
    let prefix = format!("{}.cluster-", cluster.to_ascii_lowercase());
    let Some(rest) = value.strip_prefix(&prefix) else { return false };
    let Some((suffix, rest)) = rest.split_once('.') else { return false };
    let region = region.to_ascii_lowercase();
    let domains = [
        format!("{region}.rds.amazonaws.com"),
        format!("{region}.rds.amazonaws.com.cn"),
        format!("rds.{region}.amazonaws.com.cn"),
    ];
    !suffix.is_empty() && suffix.chars().all(|c| c.is_ascii_alphanumeric()) && domains.iter().any(|d| rest == d)
}

/// The step for a record holding `current` when a global database's primary moves from the cluster `old`
/// (`(region, identifier, its writer endpoint if it was described)`) to the cluster whose writer endpoint is `to`. The record is changed only from the old
/// primary's writer endpoint; one at the global writer endpoint (`global`) follows the primary by itself, except
/// after a detach (`detached`), which leaves the detached cluster outside the global database: then it is changed
/// from there too.
pub fn global_repoint_step(
    current: Option<&Cname>,
    old: (&str, &str, Option<&str>),
    to: &str,
    global: Option<&str>,
    detached: bool,
) -> DnsStep {
    let Some(cname) = current else { return DnsStep::Missing };
    // Exactly the old writer's endpoint when it was described (its account's suffix too); else by its form.
    let old_writer = |value: &str| match old.2 {
        Some(endpoint) => same_name(value, endpoint),
        None => is_writer_endpoint(value, old.0, old.1),
    };
    match cname.values.as_slice() {
        [value] if same_name(value, to) => DnsStep::AlreadyThere,
        [value] if old_writer(value) => DnsStep::Change { delete: cname.clone() },
        [value] if global.is_some_and(|g| same_name(value, g)) => match detached {
            true => DnsStep::Change { delete: cname.clone() },
            false => DnsStep::FollowsGlobal { endpoint: value.clone() },
        },
        values => DnsStep::Elsewhere { points_to: values.to_vec() },
    }
}

/// What the DNS step of a promotion did, for the notification.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum DnsResult {
    /// The primary has no `failover:dns-record` tag: clients must be repointed some other way.
    Untagged,
    /// The step could not be planned (a malformed tag, a primary not described or without endpoint).
    NotPlanned {
        reason: String,
    },
    /// The promoted replica has no endpoint yet: the step is left for the retry.
    NoEndpointYet {
        record: String,
    },
    /// Dry run: what would be done.
    WouldRepoint {
        record: String,
        from: String,
        to: String,
    },
    Repointed {
        record: String,
        to: String,
        /// Whether Route 53's servers all answer the new value yet (absent in records written before).
        #[serde(default)]
        propagation: Propagation,
    },
    AlreadyThere {
        record: String,
        to: String,
    },
    /// Left unchanged: it points elsewhere (read before the change, or after Route 53 rejected it).
    Elsewhere {
        record: String,
        from: String,
        points_to: Vec<String>,
    },
    Missing {
        record: String,
    },
    /// It points at the global writer endpoint, which follows the new primary: nothing to change.
    FollowsGlobal {
        record: String,
        endpoint: String,
    },
}

/// How far a repointed record's change had gone at Route 53 when the run stopped looking (`GetChange`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(tag = "status", rename_all = "kebab-case")]
pub enum Propagation {
    /// Not asked (a record written before this was read).
    #[default]
    NotChecked,
    /// `INSYNC`: every Route 53 authoritative server answers the new value.
    InSync { change_id: String },
    /// Still `PENDING` when the run's time for waiting was up.
    Pending { change_id: String, waited_secs: u64 },
    /// `GetChange` failed: whether it has propagated is not known.
    Unknown { change_id: String, error: String },
}

impl Propagation {
    fn clause(&self) -> String {
        match self {
            Propagation::NotChecked => String::new(),
            Propagation::InSync { .. } => {
                " Route 53 reports the change INSYNC: its servers answer the new value (resolvers may keep the old \
                 one for the record's TTL)."
                    .to_owned()
            }
            Propagation::Pending { change_id, waited_secs } => format!(
                " Route 53 still reported the change PENDING after {waited_secs} s ({change_id}): some of its \
                 servers may answer the old value for a little longer (`aws route53 get-change --id {change_id}`)."
            ),
            Propagation::Unknown { change_id, error } => {
                format!(" Whether the change ({change_id}) has propagated is not known: GetChange failed ({error}).")
            }
        }
    }
}

impl DnsResult {
    /// The sentence of the notification's summary; `None` when there is nothing to say.
    pub fn sentence(&self) -> Option<String> {
        match self {
            DnsResult::Untagged => None,
            DnsResult::NotPlanned { reason } => Some(format!("No DNS record was changed: {reason}.")),
            DnsResult::NoEndpointYet { record } => {
                Some(format!("{record} was not repointed yet: the promoted replica has no endpoint yet."))
            }
            DnsResult::WouldRepoint { record, from, to } => {
                Some(format!("Would repoint {record} from {from} to {to}."))
            }
            DnsResult::Repointed { record, to, propagation } => {
                Some(format!("{record} was repointed to {to}.{}", propagation.clause()))
            }
            DnsResult::AlreadyThere { record, to } => Some(format!("{record} already pointed to {to}.")),
            DnsResult::Elsewhere { record, from, points_to } => Some(format!(
                "WARNING: {record} was NOT changed: it points to {}, not to the failed primary's endpoint {from}.",
                if points_to.is_empty() { "nothing".to_owned() } else { points_to.join(", ") }
            )),
            DnsResult::Missing { record } => Some(format!("WARNING: {record} was NOT changed: it does not exist.")),
            DnsResult::FollowsGlobal { record, endpoint } => Some(format!(
                "{record} points to the global writer endpoint {endpoint}, which follows the new primary: no DNS \
                 change is needed."
            )),
        }
    }

    /// Whether the notification must warn that clients may not follow the new primary.
    pub fn is_warning(&self) -> bool {
        matches!(self, DnsResult::Elsewhere { .. } | DnsResult::Missing { .. } | DnsResult::NotPlanned { .. })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn cname(value: &str) -> Cname {
        Cname { ttl: Some(300), values: vec![value.to_owned()] }
    }

    #[test]
    fn a_record_at_the_failed_primary_is_deleted_as_it_is_and_created_anew() {
        let current = cname("Orders.abc.us-east-1.rds.amazonaws.com.");
        assert_eq!(
            repoint_step(Some(&current), "orders.abc.us-east-1.rds.amazonaws.com", "r1"),
            DnsStep::Change { delete: current }
        );
    }

    #[test]
    fn a_record_already_at_the_new_primary_is_left_alone() {
        assert_eq!(repoint_step(Some(&cname("r1.example.com")), "orders", "r1.example.com."), DnsStep::AlreadyThere);
    }

    #[test]
    fn a_record_elsewhere_or_missing_is_not_changed() {
        assert_eq!(
            repoint_step(Some(&cname("billing")), "orders", "r1"),
            DnsStep::Elsewhere { points_to: vec!["billing".into()] }
        );
        let two = Cname { ttl: None, values: vec!["orders".into(), "billing".into()] };
        assert!(matches!(repoint_step(Some(&two), "orders", "r1"), DnsStep::Elsewhere { .. }));
        assert_eq!(repoint_step(None, "orders", "r1"), DnsStep::Missing);
    }

    #[test]
    fn only_a_changed_or_missing_record_is_worth_a_warning() {
        let elsewhere = DnsResult::Elsewhere { record: "w".into(), from: "a".into(), points_to: vec!["b".into()] };
        assert!(elsewhere.is_warning() && elsewhere.sentence().unwrap().contains("points to b"));
        assert!(!DnsResult::Repointed { record: "w".into(), to: "b".into(), propagation: Propagation::NotChecked }
            .is_warning());
        assert_eq!(DnsResult::Untagged.sentence(), None);
    }

    #[test]
    fn the_old_primarys_writer_endpoint_is_known_by_its_form_and_no_other_endpoint_is() {
        let (region, cluster) = ("us-east-1", "orders-east");
        for yes in [
            "orders-east.cluster-c9akciq32xyz.us-east-1.rds.amazonaws.com",
            "Orders-East.cluster-ABC123.us-east-1.rds.amazonaws.com.",
            "orders-east.cluster-abc.us-east-1.rds.amazonaws.com.cn",
            "orders-east.cluster-abc.rds.us-east-1.amazonaws.com.cn",
        ] {
            assert!(is_writer_endpoint(yes, region, cluster), "{yes}");
        }
        for no in [
            "orders-east.cluster-ro-abc.us-east-1.rds.amazonaws.com",
            "orders-east.cluster-custom-abc.us-east-1.rds.amazonaws.com",
            "orders-east.cluster-abc.us-west-2.rds.amazonaws.com",
            "orders-east-2.cluster-abc.us-east-1.rds.amazonaws.com",
            "x.orders-east.cluster-abc.us-east-1.rds.amazonaws.com",
            "orders-east.cluster-.us-east-1.rds.amazonaws.com",
            "orders-east.cluster-abc.us-east-1.rds.amazonaws.com.evil.example",
            "e1.abc.us-east-1.rds.amazonaws.com",
        ] {
            assert!(!is_writer_endpoint(no, region, cluster), "{no}");
        }
    }

    #[test]
    fn a_global_record_moves_only_from_the_old_writer_and_the_global_endpoint_only_after_a_detach() {
        let old = ("us-east-1", "orders-east", None);
        let (to, global) =
            ("orders-west.cluster-w.us-west-2.rds.amazonaws.com", "orders.global-x.global.rds.amazonaws.com");
        let at_old = cname("orders-east.cluster-e.us-east-1.rds.amazonaws.com");
        let step = |c: &Cname, detached| global_repoint_step(Some(c), old, to, Some(global), detached);
        assert_eq!(step(&at_old, false), DnsStep::Change { delete: at_old.clone() });
        assert_eq!(step(&cname(to), false), DnsStep::AlreadyThere);
        assert_eq!(step(&cname(global), false), DnsStep::FollowsGlobal { endpoint: global.into() });
        assert_eq!(step(&cname(global), true), DnsStep::Change { delete: cname(global) });
        let reader = cname("orders-east.cluster-ro-e.us-east-1.rds.amazonaws.com");
        assert!(matches!(step(&reader, true), DnsStep::Elsewhere { .. }));
        assert_eq!(global_repoint_step(None, old, to, Some(global), false), DnsStep::Missing);
        // Described: exactly its endpoint; a same-named cluster of another account is not it.
        let described = ("us-east-1", "orders-east", Some("orders-east.cluster-e.us-east-1.rds.amazonaws.com"));
        let other = cname("orders-east.cluster-other.us-east-1.rds.amazonaws.com");
        assert!(matches!(global_repoint_step(Some(&other), described, to, None, false), DnsStep::Elsewhere { .. }));
        assert!(matches!(global_repoint_step(Some(&at_old), described, to, None, false), DnsStep::Change { .. }));
    }

    proptest! {
        /// The record is repointed only from the failed primary's endpoint.
        #[test]
        fn the_record_is_repointed_only_from_the_failed_primarys_endpoint(
            values in proptest::collection::vec("[a-c]{1,2}\\.?", 0..3),
            from in "[a-c]{1,2}",
            to in "[a-c]{1,2}",
            missing in any::<bool>(),
        ) {
            let current = Cname { ttl: Some(60), values: values.clone() };
            let step = repoint_step((!missing).then_some(&current), &from, &to);
            if let DnsStep::Change { delete } = &step {
                prop_assert!(!missing);
                prop_assert_eq!(delete, &current, "deleted exactly as it is");
                prop_assert_eq!(values.len(), 1);
                prop_assert!(same_name(&values[0], &from) && !same_name(&values[0], &to));
            } else if !missing && values.len() == 1 && same_name(&values[0], &from) {
                prop_assert!(same_name(&from, &to), "the failed primary's record is repointed: {step:?}");
            }
        }

        /// A global database's record is changed only from the old primary's writer endpoint, or from the
        /// global writer endpoint after a detach; never from a reader, another cluster or another region.
        #[test]
        fn a_global_record_is_changed_only_from_the_old_writer(
            value in prop_oneof![
                Just("old.cluster-abc.us-east-1.rds.amazonaws.com".to_owned()),
                Just("old.cluster-ro-abc.us-east-1.rds.amazonaws.com".to_owned()),
                Just("old.cluster-abc.us-west-2.rds.amazonaws.com".to_owned()),
                Just("other.cluster-abc.us-east-1.rds.amazonaws.com".to_owned()),
                Just("g.global-x.global.rds.amazonaws.com".to_owned()),
                Just("new.cluster-w.us-west-2.rds.amazonaws.com".to_owned()),
                "[a-z.-]{0,40}",
            ],
            detached in any::<bool>(),
        ) {
            let (to, global) = ("new.cluster-w.us-west-2.rds.amazonaws.com", "g.global-x.global.rds.amazonaws.com");
            let step = global_repoint_step(Some(&cname(&value)), ("us-east-1", "old", None), to, Some(global), detached);
            if let DnsStep::Change { .. } = step {
                prop_assert!(
                    value == "old.cluster-abc.us-east-1.rds.amazonaws.com" || (detached && value == global),
                    "{value}"
                );
            }
        }
    }
}
