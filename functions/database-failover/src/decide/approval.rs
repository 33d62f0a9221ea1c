//! The approval gate, pure: whether a person's `approve` or `reject` may settle a pending decision. An
//! approval acts once: approved or rejected, it cannot be approved again; expired or unknown, it is a clear
//! refusal that says how to ask again. Approving does not act by itself: the approved action is decided again
//! with the approval as its trigger, and every guard is checked then.

use crate::model::Approval;
use failover_core::ledger::State;

/// `approve` or `reject`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Answer {
    Approve,
    Reject,
}

/// The approval `id` names, as read (`None`: no such record), judged at `now`: `Ok` when `answer` may settle
/// it, else why not.
pub fn judge<'a>(id: &str, approval: Option<&'a Approval>, answer: Answer, now: i64) -> Result<&'a Approval, String> {
    let Some(a) = approval else {
        return Err(format!(
            "no decision {id} in the ledger: the id is unknown (or its record expired and was deleted); nothing was \
             changed"
        ));
    };
    let by = a.by.as_deref().unwrap_or("someone");
    match a.state {
        State::Done => Err(format!("decision {id} was already approved by {by}: an approval acts once")),
        State::Closed => Err(format!("decision {id} was rejected by {by}: it cannot be approved or rejected again")),
        State::Abandoned => Err(format!("decision {id} was abandoned: nothing was changed")),
        State::Pending if now >= a.expires_at && answer == Answer::Approve => Err(format!(
            "decision {id} expired {} s ago (at {}, APPROVAL_TTL_MINUTES after it was asked): it is not approved; \
             nothing was changed. The next event of the incident asks again with fresh facts",
            now - a.expires_at,
            crate::model::format_time(a.expires_at)
        )),
        State::Pending => Ok(a),
    }
}

/// Whether `approval` lets the function carry out its action now: approved by someone and not expired
/// (`now` before its expiry), or pending and being approved in this very run.
pub fn valid_for(approval: &Approval, now: i64) -> bool {
    matches!(approval.state, State::Pending | State::Done) && now < approval.expires_at
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::Approvable;

    fn pending() -> Approval {
        let action = Approvable::FailoverGlobal { global: "g".into(), target: "t".into() };
        Approval::ask("global-cluster:g", action, (Some(40_000.0), None), "loss".into(), 100, 1800)
    }

    #[test]
    fn a_pending_unexpired_decision_may_be_approved_or_rejected() {
        let a = pending();
        assert!(judge(&a.id, Some(&a), Answer::Approve, 1899).is_ok());
        assert!(judge(&a.id, Some(&a), Answer::Reject, 1899).is_ok());
    }

    #[test]
    fn an_expired_decision_cannot_be_approved_and_says_when_it_expired() {
        let a = pending();
        let e = judge(&a.id, Some(&a), Answer::Approve, 1900).unwrap_err();
        assert!(e.contains("expired 0 s ago") && e.contains("nothing was changed"), "{e}");
        assert!(judge(&a.id, Some(&a), Answer::Reject, 1900).is_ok(), "an expired one may still be closed");
    }

    #[test]
    fn an_unknown_id_is_a_clear_error() {
        let e = judge("global-cluster:g@5", None, Answer::Approve, 0).unwrap_err();
        assert!(e.contains("unknown"), "{e}");
    }

    #[test]
    fn a_decision_approved_or_rejected_once_cannot_be_approved_again() {
        let mut a = pending();
        a.by = Some("ana".into());
        a.state = State::Done;
        assert!(judge(&a.id, Some(&a), Answer::Approve, 200).unwrap_err().contains("already approved by ana"));
        a.state = State::Closed;
        assert!(judge(&a.id, Some(&a), Answer::Approve, 200).unwrap_err().contains("rejected by ana"));
        a.state = State::Abandoned;
        assert!(judge(&a.id, Some(&a), Answer::Reject, 200).is_err());
    }

    #[test]
    fn an_approval_is_valid_until_it_expires() {
        let a = pending();
        assert!(valid_for(&a, 1899) && !valid_for(&a, 1900));
    }
}
