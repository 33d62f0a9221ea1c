//! What the proxy step of a promotion did ([`super::proxy`]), in the words of the notification and as kept in
//! the ledger for one rebuilt after a crash.

use serde::{Deserialize, Serialize};

/// What the proxy step of a promotion did, for the notification (and the ledger, for one rebuilt after a crash).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "result", rename_all = "kebab-case")]
pub enum ProxyResult {
    /// The primary has no `failover:rds-proxy` tag.
    Untagged,
    /// The step could not be planned (a malformed tag, a primary not described, a replica in another region).
    NotPlanned {
        reason: String,
    },
    /// Dry run: what would be done.
    WouldMove {
        proxy: String,
        target_group: String,
        from: String,
        to: String,
    },
    /// The failed primary deregistered, the new one registered.
    Moved {
        proxy: String,
        target_group: String,
        from: String,
        to: String,
    },
    /// The group had no target (an earlier run deregistered `from` and stopped): the new one registered.
    Registered {
        proxy: String,
        target_group: String,
        from: String,
        to: String,
    },
    AlreadyThere {
        proxy: String,
        target_group: String,
        to: String,
    },
    /// Left empty: the group had no target on the decision's first run, so this decision did not empty it.
    LeftEmpty {
        proxy: String,
        target_group: String,
        from: String,
    },
    /// Left unchanged: its target is not the failed primary (read before the change, or after it was refused).
    LeftAlone {
        proxy: String,
        target_group: String,
        from: String,
        points_to: Vec<String>,
    },
    /// The proxy or its target group does not exist: nothing changed.
    NotFound {
        proxy: String,
        target_group: String,
        what: String,
    },
}

impl ProxyResult {
    /// The sentence of the notification's summary; `None` when there is nothing to say.
    pub fn sentence(&self) -> Option<String> {
        Some(match self {
            ProxyResult::Untagged => return None,
            ProxyResult::NotPlanned { reason } => format!("No RDS Proxy target was changed: {reason}."),
            ProxyResult::WouldMove { proxy, target_group, from, to } => {
                format!("Would move RDS Proxy {proxy} (target group {target_group}) from {from} to {to}.")
            }
            ProxyResult::Moved { proxy, target_group, from, to } => {
                format!("RDS Proxy {proxy} (target group {target_group}) was moved from {from} to {to}.")
            }
            ProxyResult::Registered { proxy, target_group, from, to } => format!(
                "RDS Proxy {proxy} (target group {target_group}) had no target (an earlier run deregistered {from} \
                 and stopped): {to} was registered."
            ),
            ProxyResult::AlreadyThere { proxy, target_group, to } => {
                format!("RDS Proxy {proxy} (target group {target_group}) already pointed to {to}.")
            }
            ProxyResult::LeftEmpty { proxy, target_group, from } => format!(
                "WARNING: RDS Proxy {proxy} (target group {target_group}) was left alone: it has no target, and \
                 this decision did not deregister the failed primary {from} (someone emptied it): nothing was \
                 registered."
            ),
            ProxyResult::LeftAlone { proxy, target_group, from, points_to } => format!(
                "WARNING: RDS Proxy {proxy} (target group {target_group}) was left alone: it points to {}, not to \
                 the failed primary {from}.",
                points_to.join(", ")
            ),
            ProxyResult::NotFound { proxy, target_group, what } => format!(
                "WARNING: RDS Proxy {proxy} (target group {target_group}) was NOT changed: the {what} does not exist."
            ),
        })
    }

    /// Whether the notification must warn that clients of the proxy may not follow the new primary.
    pub fn is_warning(&self) -> bool {
        matches!(
            self,
            ProxyResult::LeftAlone { .. }
                | ProxyResult::LeftEmpty { .. }
                | ProxyResult::NotFound { .. }
                | ProxyResult::NotPlanned { .. }
        )
    }

    /// The client path's state in a word or two (`client_paths`).
    pub fn state(&self) -> String {
        match self {
            ProxyResult::Untagged => "not tagged".into(),
            ProxyResult::NotPlanned { .. } => "not planned".into(),
            ProxyResult::WouldMove { .. } => "would move".into(),
            ProxyResult::Moved { .. } => "moved".into(),
            ProxyResult::Registered { .. } => "registered (completed)".into(),
            ProxyResult::AlreadyThere { .. } => "already there".into(),
            ProxyResult::LeftAlone { points_to, .. } => format!("left alone: points at {}", points_to.join(", ")),
            ProxyResult::LeftEmpty { .. } => "left alone: no target".into(),
            ProxyResult::NotFound { what, .. } => format!("not found: no such {what}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_proxy_left_alone_missing_or_unplanned_is_worth_a_warning() {
        let left = ProxyResult::LeftAlone {
            proxy: "p".into(),
            target_group: "default".into(),
            from: "orders".into(),
            points_to: vec!["billing".into()],
        };
        assert!(left.is_warning() && left.sentence().unwrap().contains("points to billing"));
        assert_eq!(left.state(), "left alone: points at billing");
        let moved =
            ProxyResult::Moved { proxy: "p".into(), target_group: "g".into(), from: "a".into(), to: "b".into() };
        assert!(!moved.is_warning() && moved.state() == "moved");
        assert_eq!(ProxyResult::Untagged.sentence(), None);
    }
}
