//! The lineage of a primary: which primary a promoted replica replaced, both by `DbiResourceId`, and the
//! binding tags ([`super::BINDING_TAGS`]) the new primary inherits from the old one. A [`Lineage`] is a done
//! ledger record `lineage#<old primary's DbiResourceId>` on the NEW primary's resource (`db-instance:<region>/<id>`),
//! kept with no expiry: a second failover a week later still finds it ([`Lineage::of`]).

use failover_core::ledger;
use failover_core::tags::Tags;
use serde::Serialize;
use serde_json::{json, Value};

use super::{DbRef, Instance, BINDING_TAGS};

/// The key prefix of lineage records.
pub const LINEAGE_KEY_PREFIX: &str = "lineage#";

/// An instance by name and, when it was described, by `DbiResourceId`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Member {
    #[serde(flatten)]
    pub at: DbRef,
    pub resource_id: Option<String>,
}

impl Member {
    /// Whether `instance` is this member: the same `DbiResourceId` when both are known, else the same name.
    pub fn is(&self, instance: &Instance) -> bool {
        match (&self.resource_id, &instance.resource_id) {
            (Some(known), Some(found)) => known == found,
            _ => self.at.region == instance.at.region && self.at.id.eq_ignore_ascii_case(&instance.at.id),
        }
    }

    fn json(&self) -> Value {
        json!({"region": self.at.region, "id": self.at.id, "resource_id": self.resource_id})
    }

    fn read(value: &Value) -> Option<Self> {
        let text = |name: &str| value.get(name).and_then(Value::as_str).map(str::to_owned);
        Some(Member { at: DbRef::new(text("region")?, text("id")?), resource_id: text("resource_id") })
    }
}

/// One step of a lineage: `from` was replaced by `to` (promoted) at `at`, by the decision `promotion` (its
/// ledger resource and key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Lineage {
    pub from: Member,
    pub to: Member,
    /// When the promotion was decided, RFC 3339.
    pub at: String,
    /// `<ledger resource> <key>` of the promotion decision.
    pub promotion: String,
    /// The old primary's binding tags (its own or inherited), inherited by the new one.
    pub bindings: Tags,
}

impl Lineage {
    /// Its key on the new primary's resource: one per old primary, so that writing it twice writes it once.
    pub fn key(&self) -> String {
        format!("{LINEAGE_KEY_PREFIX}{}", self.from.resource_id.as_deref().unwrap_or(&self.from.at.id))
    }

    pub fn data(&self) -> Value {
        json!({"from": self.from.json(), "to": self.to.json(), "decided_at": self.at, "promotion": self.promotion,
            "bindings": self.bindings})
    }

    /// Reads a record written with [`Lineage::data`]; `None` for any other record.
    pub fn from_ledger(record: &ledger::Record) -> Option<Self> {
        if !record.key.starts_with(LINEAGE_KEY_PREFIX) {
            return None;
        }
        let data = &record.data;
        let bindings: Tags =
            data.get("bindings").and_then(|b| serde_json::from_value(b.clone()).ok()).unwrap_or_default();
        Some(Lineage {
            from: Member::read(data.get("from")?)?,
            to: Member::read(data.get("to")?)?,
            at: data.get("decided_at").and_then(Value::as_str).unwrap_or_default().to_owned(),
            promotion: data.get("promotion").and_then(Value::as_str).unwrap_or_default().to_owned(),
            // Only binding tags are ever inherited: never the opt-in or the priority.
            bindings: bindings.into_iter().filter(|(key, _)| BINDING_TAGS.contains(&key.as_str())).collect(),
        })
    }

    /// The lineage step that made `instance` a primary, from the records of its own ledger resource: the latest
    /// one whose new primary is this very instance (a lineage of an earlier instance of the name is not its).
    pub fn of<'a>(records: impl IntoIterator<Item = &'a ledger::Record>, instance: &Instance) -> Option<Self> {
        records
            .into_iter()
            .filter_map(Lineage::from_ledger)
            .filter(|l| l.to.is(instance))
            .max_by(|a, b| a.at.cmp(&b.at))
    }
}

/// `instance` with the bindings its lineage gives it (those it does not carry itself are read from there,
/// [`Instance::binding`]).
pub fn inherit<'a>(mut instance: Instance, records: impl IntoIterator<Item = &'a ledger::Record>) -> Instance {
    if let Some(lineage) = Lineage::of(records, &instance) {
        instance.inherited = lineage.bindings;
    }
    instance
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{DNS_RECORD_TAG, PROXY_TAG};

    fn instance(id: &str, resource_id: &str, tags: &[(&str, &str)]) -> Instance {
        Instance {
            tags: tags.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
            resource_id: Some(resource_id.into()),
            ..Instance::bare("us-east-1", id)
        }
    }

    fn step(from: &str, to: &str, to_resource_id: &str, at: &str, bindings: &[(&str, &str)]) -> ledger::Record {
        let lineage = Lineage {
            from: Member { at: DbRef::new("us-east-1", from), resource_id: Some(format!("db-{from}")) },
            to: Member { at: DbRef::new("us-east-1", to), resource_id: Some(to_resource_id.into()) },
            at: at.into(),
            promotion: format!("db-instance:us-east-1/{from} promotion#1"),
            bindings: bindings.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect(),
        };
        ledger::Record::pending("db-instance:us-east-1/r2", &lineage.key(), "run", "t", 1, 60)
            .open()
            .with_state(ledger::State::Done)
            .with_data(lineage.data())
    }

    #[test]
    fn a_promoted_replica_inherits_the_bindings_it_does_not_carry_itself() {
        let records =
            [step("db1", "r2", "db-R2", "2026-12-01T00:00:00Z", &[(DNS_RECORD_TAG, "Z1/w.db"), (PROXY_TAG, "p1")])];
        let own = instance("r2", "db-R2", &[(PROXY_TAG, "p-own")]);
        let r2 = inherit(own, &records);
        assert_eq!(r2.binding(DNS_RECORD_TAG), Some("Z1/w.db"));
        assert_eq!(r2.binding(PROXY_TAG), Some("p-own"), "its own tag wins");
        assert_eq!(r2.bindings().len(), 2);
        let read = Lineage::from_ledger(&records[0]).expect("a lineage");
        assert_eq!((read.from.at.id.as_str(), read.key()), ("db1", "lineage#db-db1".to_owned()));
    }

    #[test]
    fn a_lineage_of_an_earlier_instance_of_the_name_or_of_other_tags_gives_nothing() {
        let records = [step("db1", "r2", "db-OLD", "2026-12-01T00:00:00Z", &[(DNS_RECORD_TAG, "Z1/w.db")])];
        let r2 = inherit(instance("r2", "db-R2", &[]), &records);
        assert!(r2.inherited.is_empty(), "another DbiResourceId: {:?}", r2.inherited);
        let records = [step("db1", "r2", "db-R2", "2026-12-01T00:00:00Z", &[("failover:enabled", "true")])];
        let r2 = inherit(instance("r2", "db-R2", &[]), &records);
        assert!(r2.inherited.is_empty(), "never the opt-in: {:?}", r2.inherited);
    }

    #[test]
    fn the_latest_step_counts() {
        let records = [
            step("db0", "r2", "db-R2", "2026-12-01T00:00:00Z", &[(DNS_RECORD_TAG, "Z1/old.db")]),
            step("db1", "r2", "db-R2", "2026-12-02T00:00:00Z", &[(DNS_RECORD_TAG, "Z1/new.db")]),
        ];
        let r2 = inherit(instance("r2", "db-R2", &[]), &records);
        assert_eq!(r2.binding(DNS_RECORD_TAG), Some("Z1/new.db"));
    }
}
