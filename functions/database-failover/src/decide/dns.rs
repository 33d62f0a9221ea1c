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
    }
}
