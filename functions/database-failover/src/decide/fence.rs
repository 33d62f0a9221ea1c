//! Fencing an old primary (pure): once a replica replaced it, whether its VPC security groups are replaced by
//! the fence group now, and with which groups recorded as its original ones.
//!
//! The fence is bound to the instance the promotion replaced (its `DbiResourceId`, the promotion record's
//! `primary_resource_id`): a new instance created under the same name is never fenced. Its ledger record
//! ([`FenceRecord`], `fence#<DbiResourceId>` on the primary's resource) is written pending before
//! `ModifyDBInstance` with the original groups and the fence group, done after, closed by `unfence`. A record
//! found pending (a run cut short) is completed with the groups it recorded, so that the fence group is never
//! recorded as an original one.

use failover_core::ledger::{self, State};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::model::{DbRef, Instance, FENCE_GROUP_TAG};

/// How an old primary is fenced (`FENCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Fence {
    None,
    SecurityGroup,
}

/// The key prefix of fence records.
pub const FENCE_KEY_PREFIX: &str = "fence#";

/// The key of the fence of the instance whose `DbiResourceId` is `resource_id`.
pub fn fence_key(resource_id: &str) -> String {
    format!("{FENCE_KEY_PREFIX}{resource_id}")
}

/// A fence as the ledger holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FenceRecord {
    pub key: String,
    /// `Pending` before `ModifyDBInstance`, `Done` once fenced, `Closed` once `unfence` restored the groups.
    pub state: State,
    pub owner: String,
    pub instance: DbRef,
    pub resource_id: String,
    /// The instance's groups before the fence, in RDS's order: what `unfence` restores.
    pub original: Vec<String>,
    /// The fence group.
    pub group: String,
}

impl FenceRecord {
    pub fn data(&self) -> Value {
        json!({"instance": {"region": self.instance.region, "id": self.instance.id}, "resource_id": self.resource_id,
            "original_groups": self.original, "fence_group": self.group})
    }

    /// A ledger record written with [`FenceRecord::data`]; `None` when it is not one.
    pub fn from_ledger(record: &ledger::Record) -> Option<Self> {
        let data = &record.data;
        let text = |v: &Value| v.as_str().map(str::to_owned);
        let instance = data.get("instance")?;
        let groups = data.get("original_groups")?.as_array()?;
        Some(FenceRecord {
            key: record.key.clone(),
            state: record.state,
            owner: record.owner.clone(),
            instance: DbRef::new(text(instance.get("region")?)?, text(instance.get("id")?)?),
            resource_id: text(data.get("resource_id")?)?,
            original: groups.iter().filter_map(text).collect(),
            group: text(data.get("fence_group")?)?,
        })
    }
}

/// The fence record of the instance `resource_id` among a resource's records, in any state.
pub fn fence_record(records: &[ledger::Record], resource_id: &str) -> Option<FenceRecord> {
    let key = fence_key(resource_id);
    records.iter().filter(|r| r.key == key).find_map(FenceRecord::from_ledger)
}

/// The fence group of `primary`: its `failover:fence-security-group` tag (its own or inherited through the
/// lineage), else the setting. `Err` says why there is none.
pub fn fence_group(primary: &Instance, setting: Option<&str>) -> Result<String, String> {
    let tagged = primary.binding(FENCE_GROUP_TAG).map(str::trim);
    match tagged.or(setting.map(str::trim)).filter(|g| !g.is_empty()) {
        Some(group) if group.starts_with("sg-") && !group.contains(char::is_whitespace) => Ok(group.to_owned()),
        Some(group) => Err(format!("{group:?} is not a VPC security group id (sg-…)")),
        None => Err(format!("no fence group: neither FENCE_SECURITY_GROUP nor the tag {FENCE_GROUP_TAG} is set")),
    }
}

/// What to do about the old primary's fence now.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "fence", rename_all = "kebab-case")]
pub enum FencePlan {
    /// `FENCE=none`.
    Off,
    /// `FENCE=security-group` and no usable group: nothing can be fenced (the promotion goes on; warned).
    NoGroup { why: String },
    /// The instance is not the one the promotion replaced, or that one is not known: never fenced.
    NotBound { why: String },
    /// Not `available`: RDS would refuse the change; a later event or run fences it.
    NotYet { status: String },
    /// Replace its groups by `record.group` (`record` pending, to be written or found). `again`: a fence was
    /// done and someone restored other groups (critical).
    Fence { record: FenceRecord, again: bool },
    /// Already fenced: only the fence group.
    Fenced { group: String },
    /// Released by `unfence`: out of the lineage, never fenced again automatically.
    Released,
}

/// The plan for `primary`, replaced by a promotion decided about the instance `bound_to` (its `DbiResourceId`),
/// given its fence record (any state) if there is one.
pub fn decide_fence(
    mode: Fence,
    setting: Option<&str>,
    primary: &Instance,
    bound_to: Option<&str>,
    record: Option<&FenceRecord>,
) -> FencePlan {
    if mode == Fence::None {
        return FencePlan::Off;
    }
    let id = &primary.at.id;
    let resource_id = match (bound_to, primary.resource_id.as_deref()) {
        (Some(then), Some(now)) if then == now => now,
        (Some(then), now) => {
            let now = now.unwrap_or("unknown");
            return FencePlan::NotBound {
                why: format!("{id} is {now}, not {then}, the instance the promotion replaced: it is not fenced"),
            };
        }
        (None, _) => {
            return FencePlan::NotBound {
                why: format!("the promotion did not record which instance {id} was (its DbiResourceId): not fenced"),
            }
        }
    };
    let fenced = |group: &str| primary.security_groups.len() == 1 && primary.security_groups[0] == group;
    let modifiable = primary.status == "available";
    match record.filter(|r| r.resource_id == resource_id) {
        Some(r) if r.state.closes() => FencePlan::Released,
        Some(r) if r.state == State::Done && fenced(&r.group) => FencePlan::Fenced { group: r.group.clone() },
        Some(_) if !modifiable => FencePlan::NotYet { status: primary.status.clone() },
        Some(r) => FencePlan::Fence { record: r.clone(), again: r.state == State::Done },
        None => {
            let group = match fence_group(primary, setting) {
                Ok(group) => group,
                Err(why) => return FencePlan::NoGroup { why },
            };
            if !modifiable {
                return FencePlan::NotYet { status: primary.status.clone() };
            }
            let record = FenceRecord {
                key: fence_key(resource_id),
                state: State::Pending,
                owner: String::new(),
                instance: primary.at.clone(),
                resource_id: resource_id.to_owned(),
                original: primary.security_groups.clone(),
                group,
            };
            FencePlan::Fence { record, again: false }
        }
    }
}

/// `readiness`: a primary that could not be fenced after a failover (`FENCE=security-group`, no usable group).
pub fn readiness_gap(mode: Fence, setting: Option<&str>, primary: &Instance) -> Option<failover_core::readiness::Gap> {
    if mode == Fence::None {
        return None;
    }
    let why = fence_group(primary, setting).err()?;
    Some(failover_core::readiness::Gap {
        kind: "no-fence-group",
        resource: primary.arn.clone(),
        problem: format!("{} could not be fenced after a failover (FENCE=security-group): {why}", primary.at.id),
        fix: format!(
            "aws rds add-tags-to-resource --resource-name {} --tags Key={FENCE_GROUP_TAG},Value=<sg-id of a group \
             with no inbound rules>",
            primary.arn
        ),
    })
}

impl FencePlan {
    /// The fence state in one sentence about `id`, for a promotion's notification and `status`.
    pub fn sentence(&self, id: &str) -> String {
        match self {
            FencePlan::Off => format!("{id} is not fenced (FENCE=none)."),
            FencePlan::NoGroup { why } => format!("WARNING: {id} cannot be fenced: {why}."),
            FencePlan::NotBound { why } => format!("{why}."),
            FencePlan::NotYet { status } => {
                format!("{id} is {status}: it is fenced as soon as RDS reports it available again.")
            }
            FencePlan::Fence { record, .. } => {
                format!("{id} is to be fenced: its groups {} replaced by {}.", record.original.join(", "), record.group)
            }
            FencePlan::Fenced { group } => format!("{id} is fenced (only in {group})."),
            FencePlan::Released => format!("{id} was released by unfence: it is not fenced again automatically."),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn primary(status: &str, groups: &[&str], tag: Option<&str>) -> Instance {
        let mut tags = failover_core::tags::Tags::new();
        if let Some(tag) = tag {
            tags.insert(FENCE_GROUP_TAG.to_owned(), tag.to_owned());
        }
        Instance {
            at: DbRef::new("us-east-1", "orders"),
            arn: String::new(),
            status: status.into(),
            source: None,
            replicas: Vec::new(),
            cluster: None,
            endpoint: None,
            promotion_tier: None,
            tags,
            resource_id: Some("db-OLD".into()),
            multi_az: false,
            security_groups: groups.iter().map(|g| g.to_string()).collect(),
            class: None,
            zone: None,
            inherited: Default::default(),
        }
    }

    fn record(state: State, original: &[&str]) -> FenceRecord {
        FenceRecord {
            key: fence_key("db-OLD"),
            state,
            owner: "run-1".into(),
            instance: DbRef::new("us-east-1", "orders"),
            resource_id: "db-OLD".into(),
            original: original.iter().map(|g| g.to_string()).collect(),
            group: "sg-fence".into(),
        }
    }

    const ON: Fence = Fence::SecurityGroup;

    #[test]
    fn an_available_old_primary_is_fenced_with_its_groups_recorded_in_order() {
        let p = primary("available", &["sg-b", "sg-a"], None);
        let FencePlan::Fence { record: r, again: false } = decide_fence(ON, Some("sg-fence"), &p, Some("db-OLD"), None)
        else {
            panic!("fence expected")
        };
        assert_eq!(
            (r.original, r.group, r.key, r.state),
            (vec!["sg-b".into(), "sg-a".into()], "sg-fence".into(), "fence#db-OLD".into(), State::Pending)
        );
    }

    #[test]
    fn the_tag_overrides_the_setting_and_a_bad_or_missing_group_is_said() {
        let p = primary("available", &["sg-a"], Some(" sg-tagged "));
        assert!(matches!(decide_fence(ON, Some("sg-fence"), &p, Some("db-OLD"), None),
            FencePlan::Fence { record, .. } if record.group == "sg-tagged"));
        let p = primary("available", &["sg-a"], Some("default"));
        assert!(matches!(decide_fence(ON, Some("sg-fence"), &p, Some("db-OLD"), None),
            FencePlan::NoGroup { why } if why.contains("\"default\" is not a VPC security group")));
        let p = primary("available", &["sg-a"], None);
        assert!(matches!(decide_fence(ON, None, &p, Some("db-OLD"), None),
            FencePlan::NoGroup { why } if why.contains("FENCE_SECURITY_GROUP") && why.contains(FENCE_GROUP_TAG)));
    }

    #[test]
    fn fence_none_fences_nothing() {
        let p = primary("available", &["sg-a"], Some("sg-tagged"));
        assert_eq!(decide_fence(Fence::None, Some("sg-fence"), &p, Some("db-OLD"), None), FencePlan::Off);
    }

    #[test]
    fn another_instance_under_the_name_or_an_unknown_one_is_never_fenced() {
        let p = primary("available", &["sg-a"], None);
        assert!(matches!(decide_fence(ON, Some("sg-f"), &p, Some("db-NEW"), None), FencePlan::NotBound { .. }));
        assert!(matches!(decide_fence(ON, Some("sg-f"), &p, None, None), FencePlan::NotBound { .. }));
        let old = record(State::Done, &["sg-a"]);
        let other = FenceRecord { resource_id: "db-NEW".into(), ..old };
        let p = primary("available", &["sg-a"], None);
        assert!(matches!(
            decide_fence(ON, Some("sg-f"), &p, Some("db-OLD"), Some(&other)),
            FencePlan::Fence { again: false, .. }
        ));
    }

    #[test]
    fn a_primary_that_cannot_be_modified_waits() {
        for status in ["failed", "storage-full", "rebooting"] {
            let p = primary(status, &["sg-a"], None);
            assert_eq!(
                decide_fence(ON, Some("sg-f"), &p, Some("db-OLD"), None),
                FencePlan::NotYet { status: status.into() }
            );
            let pending = record(State::Pending, &["sg-a"]);
            assert!(matches!(
                decide_fence(ON, Some("sg-f"), &p, Some("db-OLD"), Some(&pending)),
                FencePlan::NotYet { .. }
            ));
        }
    }

    #[test]
    fn a_cut_short_fence_is_completed_with_the_recorded_groups_never_the_fence_group() {
        let p = primary("available", &["sg-fence"], None);
        let pending = record(State::Pending, &["sg-a", "sg-b"]);
        let plan = decide_fence(ON, Some("sg-other"), &p, Some("db-OLD"), Some(&pending));
        assert_eq!(plan, FencePlan::Fence { record: pending, again: false });
    }

    #[test]
    fn a_done_fence_found_with_other_groups_is_fenced_again_and_a_released_one_never() {
        let done = record(State::Done, &["sg-a"]);
        let fenced = primary("available", &["sg-fence"], None);
        assert_eq!(
            decide_fence(ON, None, &fenced, Some("db-OLD"), Some(&done)),
            FencePlan::Fenced { group: "sg-fence".into() }
        );
        let restored = primary("available", &["sg-a"], None);
        assert_eq!(
            decide_fence(ON, None, &restored, Some("db-OLD"), Some(&done)),
            FencePlan::Fence { record: done.clone(), again: true }
        );
        let closed = record(State::Closed, &["sg-a"]);
        assert_eq!(decide_fence(ON, None, &restored, Some("db-OLD"), Some(&closed)), FencePlan::Released);
    }

    #[test]
    fn readiness_names_a_primary_without_a_fence_group_only_when_fencing_is_on() {
        let p = primary("available", &["sg-a"], None);
        let gap = readiness_gap(ON, None, &p).expect("a gap");
        assert_eq!(gap.kind, "no-fence-group");
        assert!(gap.fix.contains(FENCE_GROUP_TAG), "{}", gap.fix);
        assert_eq!(readiness_gap(ON, Some("sg-f"), &p), None);
        assert_eq!(readiness_gap(Fence::None, None, &p), None);
    }

    #[test]
    fn fence_records_round_trip_and_bad_data_is_not_one() {
        let r = record(State::Pending, &["sg-a", "sg-b"]);
        let stored =
            ledger::Record::pending("db-instance:us-east-1/orders", &r.key, "run-1", "t", 1, 60).with_data(r.data());
        assert_eq!(FenceRecord::from_ledger(&stored), Some(r));
        assert_eq!(fence_record(std::slice::from_ref(&stored), "db-OLD").map(|r| r.group), Some("sg-fence".into()));
        let bad = stored.with_data(json!({"instance": 3}));
        assert_eq!(FenceRecord::from_ledger(&bad), None);
    }
}
