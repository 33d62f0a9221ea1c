//! What a primary's status lets a trigger do: promote away from it, tell a person to fix it in place, or refuse.
//!
//! Two rules hold for every trigger but a person's `"force": true`:
//! - **Fix in place means never promote** ([`FIX_IN_PLACE_STATUSES`]): a primary a person usually repairs in
//!   minutes, keeping it, is never promoted away from; the fix is notified ([`FixInPlace`]).
//! - **A manual `promote` acts only away from a primary that takes no writes** ([`may_take_writes`]): in any
//!   other status (`available`, `backing-up`, `modifying`, an unknown one…) the old primary may still take
//!   writes, and promoting would leave two writable databases (it is not fenced).

use serde::Serialize;

use super::{Settings, Trigger};
use crate::model::{Instance, DOWN_STATUSES};

/// Statuses fixed in place, keeping the primary: storage full, parameters it cannot start with, its KMS key out
/// of reach. A promotion loses the primary for good (and a same-region replica shares the key), for a problem a
/// storage, parameter or key change fixes.
pub const FIX_IN_PLACE_STATUSES: &[&str] = &[
    "storage-full",
    "incompatible-parameters",
    "inaccessible-encryption-credentials",
    "inaccessible-encryption-credentials-recoverable",
];

/// Statuses in which a primary takes no writes besides the down ones ([`DOWN_STATUSES`]): its KMS key out of
/// reach for less than seven days, stopped, being deleted. Everything else may take writes (or will again soon:
/// `rebooting`, `starting`, `upgrading`), so a manual `promote` needs `"force": true` there.
const OTHER_NO_WRITE_STATUSES: &[&str] = &["inaccessible-encryption-credentials-recoverable", "stopped", "deleting"];

/// Whether a primary in `status` may still take writes (so that promoting away from it leaves two writable
/// databases).
pub fn may_take_writes(status: &str) -> bool {
    !DOWN_STATUSES.contains(&status) && !OTHER_NO_WRITE_STATUSES.contains(&status)
}

/// The kind of repair a fix-in-place primary needs (its notification's command).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum FixKind {
    /// `storage-full`, RDS-EVENT-0221.
    Storage,
    /// `incompatible-parameters`, RDS-EVENT-0035.
    Parameters,
    /// `inaccessible-encryption-credentials(-recoverable)`, RDS-EVENT-0419.
    EncryptionKey,
}

impl FixKind {
    /// The repair a primary in `status` needs; `None` when it is not fixed in place.
    pub fn of_status(status: &str) -> Option<Self> {
        match status {
            "storage-full" => Some(FixKind::Storage),
            "incompatible-parameters" => Some(FixKind::Parameters),
            s if FIX_IN_PLACE_STATUSES.contains(&s) => Some(FixKind::EncryptionKey),
            _ => None,
        }
    }

    /// The repair an RDS event of the fix-in-place kind asks for (storage full, invalid parameters).
    pub fn of_event(event_id: &str) -> Self {
        if event_id == "RDS-EVENT-0221" {
            FixKind::Storage
        } else {
            FixKind::Parameters
        }
    }
}

/// A primary that is not promoted away from: a person fixes it in place. Notified with the fix, and with the
/// forced `promote` command should the fix fail.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FixInPlace {
    pub primary: Instance,
    pub kind: FixKind,
    /// The best replica as judged now, for the forced `promote` command of the notification.
    pub replica: Option<crate::model::DbRef>,
}

/// What the primary's status lets this trigger do.
#[derive(Debug, Clone, PartialEq)]
pub enum Gate {
    /// Promote away from it (a replica is chosen next).
    Go,
    /// Fixed in place: never promoted away from without `force`.
    FixInPlace(FixKind),
    /// Not a failure for this trigger: why, completing "the primary …".
    Refuse(String),
}

/// The gate of a primary that was described: down, fixed in place, or not to be promoted away from by this
/// trigger. `Status` asks what a failure would do now: a primary that is not fixed in place is taken as failed.
pub fn gate(p: &Instance, trigger: &Trigger, settings: &Settings) -> Gate {
    let status = p.status.as_str();
    if matches!(trigger, Trigger::ManualPromote { force: true, .. }) {
        return Gate::Go;
    }
    if let Some(kind) = FixKind::of_status(status) {
        return Gate::FixInPlace(kind);
    }
    let available = status == "available";
    let go = p.is_down()
        || matches!(trigger, Trigger::Status)
        || matches!(trigger, Trigger::ManualPromote { .. }) && !may_take_writes(status)
        || available && settings.promote_when_available && matches!(trigger, Trigger::Alarm { .. });
    if go {
        return Gate::Go;
    }
    Gate::Refuse(match trigger {
        Trigger::ManualPromote { .. } => format!(
            "reports {status}, in which it may still take writes: promoting a replica would leave two writable \
             databases (the old primary is not fenced); add \"force\": true to promote anyway, once it is fenced \
             (stopped, or made read-only)"
        ),
        Trigger::Alarm { .. } if available => "reports available (PROMOTE_WHEN_AVAILABLE is false)".to_owned(),
        Trigger::FailureEvent { .. } if available => {
            "reports available: an RDS event never promotes away from an \
                                                      available primary (PROMOTE_WHEN_AVAILABLE applies to alarms only)"
                .to_owned()
        }
        _ => format!("reports {status}, which is not a failure"),
    })
}
