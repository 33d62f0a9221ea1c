//! [`MemoryLedger`]: the ledger's conditional-write semantics in memory, for property tests of what the
//! functions do across many invocations. `tests/tests/ledger.rs` holds it equal to the DynamoDB adapter on random
//! operation sequences against the local AWS.

use std::collections::BTreeMap;
use std::sync::Mutex;

use failover_core::aws::AwsError;
use failover_core::ledger::{Claim, Ledger, Pause, Record, State, Written, LEASE_KEY};
use serde_json::Value;

#[derive(Debug, Default)]
pub struct MemoryLedger {
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    /// resource → (owner, until)
    leases: BTreeMap<String, (String, i64)>,
    /// (resource, key) → record
    records: BTreeMap<(String, String), Record>,
    pause: Option<Pause>,
}

impl MemoryLedger {
    pub fn new() -> Self {
        MemoryLedger::default()
    }

    fn with<T>(&self, f: impl FnOnce(&mut Inner) -> T) -> T {
        f(&mut self.inner.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Every record, expired or not, in key order (for assertions).
    pub fn all_records(&self) -> Vec<Record> {
        self.with(|i| i.records.values().cloned().collect())
    }
}

impl Ledger for MemoryLedger {
    async fn claim(&self, resource: &str, owner: &str, now: i64, hold_secs: i64) -> Result<Claim, AwsError> {
        Ok(self.with(|i| match i.leases.get(resource) {
            Some((holder, until)) if holder != owner && *until >= now => {
                Claim::Held { owner: holder.clone(), until: *until }
            }
            _ => {
                i.leases.insert(resource.to_owned(), (owner.to_owned(), now + hold_secs));
                Claim::Acquired { until: now + hold_secs }
            }
        }))
    }

    async fn release(&self, resource: &str, owner: &str) -> Result<(), AwsError> {
        self.with(|i| {
            if i.leases.get(resource).is_some_and(|(holder, _)| holder == owner) {
                i.leases.remove(resource);
            }
        });
        Ok(())
    }

    async fn record(&self, record: &Record) -> Result<Written, AwsError> {
        Ok(self.with(|i| {
            let key = (record.resource.clone(), record.key.clone());
            match i.records.get(&key) {
                Some(existing) if existing.expires_at >= record.updated_at => {
                    Written::Exists(Box::new(existing.clone()))
                }
                _ => {
                    i.records.insert(key, record.clone());
                    Written::New
                }
            }
        }))
    }

    async fn settle(
        &self,
        resource: &str,
        key: &str,
        owner: &str,
        state: State,
        now: i64,
        data: Option<&Value>,
    ) -> Result<bool, AwsError> {
        Ok(self.with(|i| match i.records.get_mut(&(resource.to_owned(), key.to_owned())) {
            Some(r) if r.state == State::Pending && r.owner == owner => {
                r.state = state;
                r.updated_at = now;
                if let Some(data) = data {
                    r.data = data.clone();
                }
                true
            }
            _ => false,
        }))
    }

    async fn records(&self, resource: &str, now: i64) -> Result<Vec<Record>, AwsError> {
        Ok(self.with(|i| {
            i.records
                .values()
                .filter(|r| r.resource == resource && r.key != LEASE_KEY && r.expires_at >= now)
                .cloned()
                .collect()
        }))
    }

    async fn pause(&self, pause: &Pause) -> Result<(), AwsError> {
        self.with(|i| i.pause = Some(pause.clone()));
        Ok(())
    }

    async fn resume(&self) -> Result<bool, AwsError> {
        Ok(self.with(|i| i.pause.take().is_some()))
    }

    async fn paused(&self) -> Result<Option<Pause>, AwsError> {
        Ok(self.with(|i| i.pause.clone()))
    }
}
