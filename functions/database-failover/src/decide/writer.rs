//! Aurora: the writer a trigger accused, against the writer the cluster has now. A writer that is no longer the
//! one accused means the cluster was already failed over (AWS's own failover, whose RDS-EVENT-0071 may never
//! reach the function, or someone's): a `FailoverDBCluster` now would be a second write outage, possibly back
//! onto the instance that just failed. So nothing is done, and people are told who the writer was and is.
//!
//! Checked twice by [`crate::actions::failover_cluster`]: on the plan, against the writer the trigger accused
//! (the instance an alarm watches, or the writer read when the trigger arrived), and inside the lease, right
//! before `FailoverDBCluster`, against the writer the decision was made with (read again).

use serde::Serialize;

use crate::model::Cluster;

/// The cluster's writer is no longer the one accused.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct WriterMoved {
    pub region: String,
    pub cluster: String,
    /// The writer the trigger or the decision named.
    pub accused: String,
    /// The writer now; `None` when the cluster has none at the moment (AWS is failing it over) or is gone.
    pub writer: Option<String>,
}

/// Whether the writer of `cluster` (as read now; `None`: gone) is another than `accused`, the writer the trigger
/// or the decision named. Nothing to compare (no writer was accused): `None`.
pub fn moved(region: &str, id: &str, accused: Option<&str>, cluster: Option<&Cluster>) -> Option<WriterMoved> {
    let accused = accused?;
    let writer = cluster.and_then(|c| c.members.iter().find(|m| m.writer)).map(|m| m.id.clone());
    (writer.as_deref() != Some(accused)).then(|| WriterMoved {
        region: region.to_owned(),
        cluster: id.to_owned(),
        accused: accused.to_owned(),
        writer,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::ClusterMember;

    fn cluster(writer: &str) -> Cluster {
        let member = |id: &str| ClusterMember { id: id.into(), writer: id == writer, promotion_tier: 1 };
        Cluster {
            members: vec![member("catalog-writer"), member("catalog-a")],
            ..super::super::readiness::tests::cluster()
        }
    }

    #[test]
    fn a_writer_other_than_the_accused_one_has_moved() {
        let now = cluster("catalog-a");
        let moved = moved("us-east-1", "catalog", Some("catalog-writer"), Some(&now)).expect("moved");
        assert_eq!((moved.accused.as_str(), moved.writer.as_deref()), ("catalog-writer", Some("catalog-a")));
    }

    #[test]
    fn the_same_writer_or_no_accused_writer_has_not_moved() {
        let now = cluster("catalog-writer");
        assert_eq!(moved("us-east-1", "catalog", Some("catalog-writer"), Some(&now)), None);
        assert_eq!(moved("us-east-1", "catalog", None, Some(&now)), None);
    }

    #[test]
    fn a_cluster_without_a_writer_or_gone_has_moved_away_from_the_accused_one() {
        let mut failing_over = cluster("none");
        failing_over.status = "failing-over".into();
        let moved_now = moved("us-east-1", "catalog", Some("catalog-writer"), Some(&failing_over));
        assert_eq!(moved_now.and_then(|m| m.writer), None);
        assert!(moved("us-east-1", "catalog", Some("catalog-writer"), None).is_some());
    }
}
