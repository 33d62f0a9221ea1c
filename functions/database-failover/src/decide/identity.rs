//! Whose decision a ledger record is. A primary's records live under its name (the only thing its replicas,
//! and a person, know it by, even once it is gone or its region does not answer), but a decision belongs to the
//! instance it was made about, by `DbiResourceId`: an instance that takes the name later (a restore renamed into
//! place, a rename back) is another resource and fails over on its own.

use crate::model::Record;

use super::PrimaryState;

/// Whether `record` is a decision about `primary` as described now. Only a record bound to one `DbiResourceId`
/// and a primary described with another are told apart; a primary not described (gone, unreachable) or without
/// a resource id, and a record that names none (a primary not described when it was decided, or a record of an
/// earlier version), count as the same: the safe side, which never promotes twice for one failure.
pub fn same_primary(record: &Record, primary: &PrimaryState) -> bool {
    let PrimaryState::Found(p) = primary else { return true };
    match (&record.primary_resource_id, &p.resource_id) {
        (Some(then), Some(now)) => then == now,
        _ => true,
    }
}
