//! [`MemoryLedger`]: the ledger's conditional writes in memory, for property tests of what the functions do
//! across many invocations. `tests/tests/against_local_aws/ledger.rs` holds it equal to the DynamoDB adapter on
//! random operation sequences against the local AWS. [`SharedLedger`]: one such table seen by several apps (an invocation and its
//! retry, built with different AWS answers).

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use failover_core::aws::AwsError;
use failover_core::ledger::{distinct_keys, Begin, Begun, Holder, Ledger, Pause, Record, Settle, Snapshot};

#[derive(Debug, Default)]
pub struct MemoryLedger {
    inner: Mutex<Inner>,
}

#[derive(Debug, Clone, Default)]
struct Lease {
    holder: Option<Holder>,
    version: u64,
}

#[derive(Debug, Default)]
struct Inner {
    leases: BTreeMap<String, Lease>,
    /// (resource, key) → record
    records: BTreeMap<(String, String), Record>,
    pause: Option<Pause>,
}

impl Inner {
    /// A live record has the key (the condition a new record's write loses).
    fn taken(&self, record: &Record) -> bool {
        self.records
            .get(&(record.resource.clone(), record.key.clone()))
            .is_some_and(|r| r.expires_at >= record.updated_at)
    }
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

    /// `end` (`release`) or `settle` (the lease kept): all or nothing.
    fn write(
        &self,
        resource: &str,
        owner: &str,
        (now, retention_secs): (i64, i64),
        settle: &[Settle],
        records: &[Record],
        release: bool,
    ) -> Result<bool, AwsError> {
        distinct_keys(resource, settle.iter().map(|s| s.key.as_str()).chain(records.iter().map(|r| r.key.as_str())))?;
        Ok(self.with(|i| {
            let ours = i.leases.get(resource).and_then(|l| l.holder.as_ref()).is_some_and(|h| h.owner == owner);
            let settleable = settle.iter().all(|s| {
                i.records
                    .get(&(resource.to_owned(), s.key.clone()))
                    .is_some_and(|r| r.state == s.from && s.owner.as_ref().is_none_or(|o| *o == r.owner))
            });
            if !ours || !settleable || records.iter().any(|r| i.taken(r)) {
                return false;
            }
            if let Some(lease) = i.leases.get_mut(resource).filter(|_| release) {
                lease.holder = None;
                lease.version += 1;
            }
            for s in settle {
                if let Some(r) = i.records.get_mut(&(resource.to_owned(), s.key.clone())) {
                    r.state = s.to;
                    r.owner = owner.to_owned();
                    r.updated_at = now;
                    if s.to.closes() {
                        r.expires_at = now + retention_secs;
                    }
                    if let Some(data) = &s.data {
                        r.data = data.clone();
                    }
                }
            }
            for r in records {
                i.records.insert((r.resource.clone(), r.key.clone()), r.clone());
            }
            true
        }))
    }
}

impl Ledger for MemoryLedger {
    async fn read(&self, resource: &str, now: i64) -> Result<Snapshot, AwsError> {
        Ok(self.with(|i| {
            let lease = i.leases.get(resource).cloned().unwrap_or_default();
            Snapshot {
                resource: resource.to_owned(),
                at: now,
                version: lease.version,
                holder: lease.holder,
                records: i
                    .records
                    .values()
                    .filter(|r| r.resource == resource && r.expires_at >= now)
                    .cloned()
                    .collect(),
            }
        }))
    }

    async fn begin(&self, snapshot: &Snapshot, begin: &Begin<'_>) -> Result<Begun, AwsError> {
        distinct_keys(&snapshot.resource, begin.records.iter().map(|r| r.key.as_str()))?;
        Ok(self.with(|i| {
            if let Some(pause) = i.pause.as_ref().filter(|_| !begin.force) {
                return Begun::Paused(pause.clone());
            }
            let dead = snapshot.holder.as_ref().filter(|h| h.until < snapshot.at);
            let current = i.leases.get(&snapshot.resource);
            let lease_ok = match current {
                None => snapshot.version == 0,
                Some(lease) => {
                    lease.version == snapshot.version
                        && match &lease.holder {
                            None => true,
                            Some(h) => dead.is_some_and(|d| d == h) && h.until < begin.now,
                        }
                }
            };
            if !lease_ok {
                return match current.and_then(|l| l.holder.clone()) {
                    Some(holder) if holder.until >= begin.now => Begun::Busy(holder),
                    _ => Begun::Stale,
                };
            }
            if begin.records.iter().any(|r| i.taken(r)) {
                return Begun::Stale;
            }
            let until = begin.now + begin.hold_secs;
            let version = current.map_or(0, |l| l.version);
            i.leases.insert(
                snapshot.resource.clone(),
                Lease { holder: Some(Holder { owner: begin.owner.to_owned(), until }), version },
            );
            for r in begin.records {
                i.records.insert((r.resource.clone(), r.key.clone()), r.clone());
            }
            Begun::Started { until }
        }))
    }

    async fn end(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
        records: &[Record],
    ) -> Result<bool, AwsError> {
        self.write(resource, owner, (now, retention_secs), settle, records, true)
    }

    async fn settle(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
    ) -> Result<bool, AwsError> {
        self.write(resource, owner, (now, retention_secs), settle, &[], false)
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

/// A [`MemoryLedger`] shared between apps: clones see the same table.
#[derive(Debug, Clone, Default)]
pub struct SharedLedger(pub Arc<MemoryLedger>);

impl SharedLedger {
    /// Every record, expired or not, in key order.
    pub fn records(&self) -> Vec<Record> {
        self.0.all_records()
    }
}

impl Ledger for SharedLedger {
    async fn read(&self, resource: &str, now: i64) -> Result<Snapshot, AwsError> {
        self.0.read(resource, now).await
    }

    async fn begin(&self, snapshot: &Snapshot, begin: &Begin<'_>) -> Result<Begun, AwsError> {
        self.0.begin(snapshot, begin).await
    }

    async fn end(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
        records: &[Record],
    ) -> Result<bool, AwsError> {
        self.0.end(resource, owner, now, retention_secs, settle, records).await
    }

    async fn settle(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
    ) -> Result<bool, AwsError> {
        self.0.settle(resource, owner, now, retention_secs, settle).await
    }

    async fn pause(&self, pause: &Pause) -> Result<(), AwsError> {
        self.0.pause(pause).await
    }

    async fn resume(&self) -> Result<bool, AwsError> {
        self.0.resume().await
    }

    async fn paused(&self) -> Result<Option<Pause>, AwsError> {
        self.0.paused().await
    }
}

/// Takes `resource`'s lease for another invocation (`owner`), for Lambda's longest timeout: what a run that is
/// still acting on it looks like to this one.
pub async fn hold<L: Ledger>(ledger: &L, resource: &str, owner: &str) {
    let now = failover_core::time::now_secs();
    let snapshot = ledger.read(resource, now).await.expect("read");
    let begin = Begin { owner, now, hold_secs: 900, retention_secs: 86_400, records: &[], force: true };
    assert!(matches!(ledger.begin(&snapshot, &begin).await.expect("begin"), Begun::Started { .. }), "held");
}

/// Inside `impl Ledger for` a wrapper whose field `inner` is a [`Ledger`]: `settle`, `pause`, `resume` and
/// `paused` go to `inner` unchanged.
#[macro_export]
macro_rules! delegate_settle_and_pause {
    () => {
        async fn settle(&self, r: &str, o: &str, n: i64, k: i64, s: &[$crate::Settle]) -> $crate::Answer<bool> {
            self.inner.settle(r, o, n, k, s).await
        }

        async fn pause(&self, pause: &$crate::Pause) -> $crate::Answer<()> {
            self.inner.pause(pause).await
        }

        async fn resume(&self) -> $crate::Answer<bool> {
            self.inner.resume().await
        }

        async fn paused(&self) -> $crate::Answer<Option<$crate::Pause>> {
            self.inner.paused().await
        }
    };
}

/// A ledger whose first `end` on a resource named with `prefix` fails (a transient AWS error, nothing written):
/// what a run that dies between its change and `end` leaves behind (the change made, its records pending, its
/// lease held until it runs out). Every other call goes to `inner`.
#[derive(Debug)]
pub struct EndFailsOnce<L> {
    pub inner: L,
    pub prefix: &'static str,
    pub failed: std::sync::atomic::AtomicBool,
}

impl<L> EndFailsOnce<L> {
    pub fn new(inner: L, prefix: &'static str) -> Self {
        EndFailsOnce { inner, prefix, failed: std::sync::atomic::AtomicBool::new(false) }
    }
}

impl<L: Ledger> Ledger for EndFailsOnce<L> {
    async fn read(&self, resource: &str, now: i64) -> Result<Snapshot, AwsError> {
        self.inner.read(resource, now).await
    }

    async fn begin(&self, snapshot: &Snapshot, begin: &Begin<'_>) -> Result<Begun, AwsError> {
        self.inner.begin(snapshot, begin).await
    }

    async fn end(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
        records: &[Record],
    ) -> Result<bool, AwsError> {
        if resource.starts_with(self.prefix) && !self.failed.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(AwsError {
                operation: "TransactWriteItems",
                resource: resource.to_owned(),
                code: Some("InternalServerError".into()),
                transient: true,
                message: "the ledger's end failed (injected by the test)".into(),
            });
        }
        self.inner.end(resource, owner, now, retention_secs, settle, records).await
    }

    delegate_settle_and_pause!();
}
