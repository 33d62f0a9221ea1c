//! The ledger's view of a decision: where a primary's or a cluster's records live, their keys, and a decision
//! as a [`Record`] (written with [`Record::data`], read with [`Record::from_ledger`]).

use failover_core::ledger::{self, State};
use serde::Serialize;
use serde_json::{json, Value};

use failover_core::tags::Tags;

use super::{format_time, parse_time, DbRef, EndpointRecord, ProxyBinding, ProxyMove, Repoint};

/// The ledger records of a primary's promotions (on [`promotion_resource`]) are `promotion#<decision time>`
/// ([`promotion_key`]): pending from before `PromoteReadReplica` until the promotion and the DNS change are
/// done, or until the decision is abandoned. A key is written once, so an abandoned decision does not block the
/// next one. (Records written by earlier versions have the key `promotion` alone; they are read too.)
pub const PROMOTION_KEY: &str = "promotion";

/// The key of a promotion decided at `at_secs`.
pub fn promotion_key(at_secs: i64) -> String {
    format!("{PROMOTION_KEY}#{at_secs}")
}

/// Whether a ledger key is a promotion's.
pub fn is_promotion_key(key: &str) -> bool {
    key == PROMOTION_KEY || key.strip_prefix(PROMOTION_KEY).is_some_and(|rest| rest.starts_with('#'))
}
/// The ledger records of a cluster's failovers (on [`cluster_resource`]) are `failover#<decision time>`: a key
/// is written once, so each failover (a retry after an abandoned one, a later incident) has its own.
pub const FAILOVER_KEY_PREFIX: &str = "failover#";

/// The ledger resource of a primary: `db-instance:<region>/<id>`, by name, since a primary that is gone or
/// unreachable is known by its name only; each decision in it names the instance it is about
/// ([`Record::primary_resource_id`]).
pub fn promotion_resource(primary: &DbRef) -> String {
    format!("db-instance:{}/{}", primary.region, primary.id)
}

/// The ledger resource of an Aurora cluster: `db-cluster:<region>/<id>`.
pub fn cluster_resource(region: &str, id: &str) -> String {
    format!("db-cluster:{region}/{id}")
}

/// A decision, as the ledger holds it: what was chosen, when, and whether it is finished.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// The chosen instance (replica, or Aurora reader).
    pub subject: DbRef,
    /// When it was decided, RFC 3339 UTC.
    pub at: String,
    /// `at` in seconds since the epoch.
    pub at_secs: Option<i64>,
    /// `Pending` until the change is made, then `Done` (or `Abandoned`).
    pub state: State,
    /// The invocation that wrote (or last settled) it: a retry settles a pending record in its name.
    pub owner: String,
    /// The DNS step decided with it (promotions only), kept so that a retry repoints the same record from
    /// the same endpoint even when the primary is gone.
    pub dns: Option<Repoint>,
    /// The proxy step decided with it (promotions only), kept for the same reason: a retry moves the same
    /// proxy's target from the same instance when the primary is gone.
    pub proxy: Option<ProxyMove>,
    /// The chosen instance's `DbiResourceId` when it was decided: the record is bound to that instance, not
    /// to a later one created under the same name.
    pub resource_id: Option<String>,
    /// The `DbiResourceId` of the primary it was decided about (promotions; `None` when the primary was not
    /// described, or in records of earlier versions): the decision is that instance's, not a later one's that
    /// took its name ([`crate::decide::same_primary`]).
    pub primary_resource_id: Option<String>,
    /// When `PromoteReadReplica` returned while the promotion was still under way (seconds since the epoch): a
    /// replica found again `available` and still a replica after that was not promoted (it failed after the call
    /// returned).
    pub promotion_requested_at: Option<i64>,
    /// Its key in the ledger (empty until written).
    pub key: String,
    /// The RDS event of AWS's own failover this record stands for (an Aurora cluster's RDS-EVENT-0071); `None`
    /// for the function's own decisions.
    pub by_aws: Option<String>,
    /// When the failure that led to it happened (milliseconds since the epoch: the RDS event's or the alarm's
    /// time; `None` for a person's command): where the incident's timeline starts
    /// ([`failover_core::timeline`], data field `event_at`).
    pub event_at: Option<i64>,
    /// The region of the stack that made the decision (`None` in records of earlier versions): another region's
    /// stack that finds it tells it once ([`crate::actions::found_decision`]).
    pub decided_in: Option<String>,
    /// The primary's binding tags when it was decided ([`super::BINDING_TAGS`], its own or inherited): what
    /// the promoted replica inherits through the lineage (`crate::actions::lineage`), kept with the decision so
    /// that a retry knows them once the primary is gone.
    pub bindings: Tags,
}

impl Record {
    /// A new decision, pending.
    pub fn new(subject: DbRef, now_secs: i64) -> Self {
        Record {
            subject,
            at: format_time(now_secs),
            at_secs: Some(now_secs),
            state: State::Pending,
            owner: String::new(),
            dns: None,
            proxy: None,
            resource_id: None,
            primary_resource_id: None,
            promotion_requested_at: None,
            key: String::new(),
            by_aws: None,
            event_at: None,
            decided_in: None,
            bindings: Tags::new(),
        }
    }

    /// Stamped with the failure's time (seconds), if the event gave one.
    pub fn with_failure_at(mut self, failure_at: Option<i64>) -> Self {
        self.event_at = failure_at.map(|secs| secs * 1000);
        self
    }

    pub fn with_primary_resource_id(mut self, primary_resource_id: Option<String>) -> Self {
        self.primary_resource_id = primary_resource_id;
        self
    }

    pub fn with_resource_id(mut self, resource_id: Option<String>) -> Self {
        self.resource_id = resource_id;
        self
    }

    pub fn with_bindings(mut self, bindings: Tags) -> Self {
        self.bindings = bindings;
        self
    }

    pub fn with_dns(mut self, dns: Option<Repoint>) -> Self {
        self.dns = dns;
        self
    }

    pub fn with_proxy(mut self, proxy: Option<ProxyMove>) -> Self {
        self.proxy = proxy;
        self
    }

    pub fn with_state(mut self, state: State) -> Self {
        self.state = state;
        self
    }

    /// The record's data in the ledger; `subject` names the chosen instance's field (`replica`, `target`).
    pub fn data(&self, subject: &str, arn: &str, endpoint: Option<&str>) -> Value {
        let mut data = json!({subject: {"region": self.subject.region, "id": self.subject.id}, "arn": arn,
            "decided_at": self.at, "endpoint": endpoint});
        if let Some(id) = &self.resource_id {
            data["resource_id"] = json!(id);
        }
        if let Some(id) = &self.primary_resource_id {
            data["primary_resource_id"] = json!(id);
        }
        if let Some(event) = &self.by_aws {
            data["by_aws"] = json!(event);
        }
        if let Some(at) = self.promotion_requested_at {
            data["promotion_requested_at"] = json!(at);
        }
        if let Some(region) = &self.decided_in {
            data["decided_in"] = json!(region);
        }
        if let Some(at) = self.event_at {
            data[failover_core::timeline::EVENT_AT] = json!(at);
        }
        if !self.bindings.is_empty() {
            data["bindings"] = json!(self.bindings);
        }
        if let Some(dns) = &self.dns {
            data["dns"] =
                json!({"hosted_zone_id": dns.record.hosted_zone_id, "name": dns.record.name, "from": dns.from});
        }
        if let Some(proxy) = &self.proxy {
            data["proxy"] = json!({"name": proxy.binding.proxy, "target_group": proxy.binding.target_group,
                "from": proxy.from});
        }
        data
    }

    /// Reads a ledger record written with [`Record::data`]; `None` when its data does not name the subject.
    pub fn from_ledger(record: &ledger::Record, subject: &str) -> Option<Self> {
        let chosen = record.data.get(subject)?;
        let region = chosen.get("region")?.as_str()?;
        let id = chosen.get("id")?.as_str()?;
        let at_secs = record.data.get("decided_at").and_then(Value::as_str).and_then(parse_time);
        let at_secs = at_secs.unwrap_or(record.created_at);
        let text = |name: &str| record.data.get(name).and_then(Value::as_str).map(str::to_owned);
        Some(Record {
            subject: DbRef::new(region, id),
            at: format_time(at_secs),
            at_secs: Some(at_secs),
            state: record.state,
            owner: record.owner.clone(),
            resource_id: text("resource_id"),
            primary_resource_id: text("primary_resource_id"),
            promotion_requested_at: record.data.get("promotion_requested_at").and_then(Value::as_i64),
            key: record.key.clone(),
            by_aws: text("by_aws"),
            event_at: record.data.get(failover_core::timeline::EVENT_AT).and_then(Value::as_i64),
            decided_in: text("decided_in"),
            bindings: record
                .data
                .get("bindings")
                .and_then(|b| serde_json::from_value(b.clone()).ok())
                .unwrap_or_default(),
            dns: record.data.get("dns").and_then(|dns| {
                let text = |name: &str| dns.get(name).and_then(Value::as_str).map(str::to_owned);
                let record = EndpointRecord { hosted_zone_id: text("hosted_zone_id")?, name: text("name")? };
                Some(Repoint { record, from: text("from")? })
            }),
            proxy: record.data.get("proxy").and_then(|proxy| {
                let text = |name: &str| proxy.get(name).and_then(Value::as_str).map(str::to_owned);
                let binding = ProxyBinding { proxy: text("name")?, target_group: text("target_group")? };
                Some(ProxyMove { binding, from: text("from")? })
            }),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_through_the_ledger() {
        let dns = Repoint {
            record: EndpointRecord { hosted_zone_id: "Z1".into(), name: "writer.db.internal".into() },
            from: "orders.example.com".into(),
        };
        let decision = Record::new(DbRef::new("us-west-2", "orders-west"), 1_714_558_032)
            .with_dns(Some(dns))
            .with_proxy(Some(ProxyMove {
                binding: ProxyBinding { proxy: "orders-proxy".into(), target_group: "default".into() },
                from: "orders".into(),
            }))
            .with_resource_id(Some("db-ABC".into()))
            .with_primary_resource_id(Some("db-PRIMARY".into()))
            .with_failure_at(Some(1_714_558_000))
            .with_bindings(Tags::from([(super::super::PROXY_TAG.to_owned(), "orders-proxy".to_owned())]));
        let decision = Record { promotion_requested_at: Some(1_714_558_040), ..decision };
        assert_eq!((decision.at.as_str(), decision.event_at), ("2024-05-01T10:07:12Z", Some(1_714_558_000_000)));
        let data = decision.data("replica", "arn:aws:rds:us-west-2:1:db:orders-west", None);
        let stored =
            ledger::Record::pending("db-instance:us-east-1/orders", PROMOTION_KEY, "me", "t", 1, 60).with_data(data);
        let read = Record::from_ledger(&stored, "replica").unwrap();
        assert_eq!(read, Record { owner: "me".into(), key: PROMOTION_KEY.into(), ..decision });
        assert!(is_promotion_key(PROMOTION_KEY) && is_promotion_key(&promotion_key(1)));
        assert!(!is_promotion_key("promotions") && !is_promotion_key("failover#1"));
        assert_eq!(Record::from_ledger(&stored, "target"), None);
    }
}
