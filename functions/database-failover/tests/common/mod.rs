//! What the function's tests share: one in-memory ledger seen by several apps (an invocation and its retry,
//! built with different AWS answers).

use std::sync::Arc;

use failover_core::aws::AwsError;
use failover_core::ledger::{Begin, Begun, Ledger, Pause, Record, Settle, Snapshot};
use test_support::memory_ledger::MemoryLedger;

/// A [`MemoryLedger`] shared between apps: clones see the same table.
#[derive(Debug, Clone, Default)]
pub struct SharedLedger(pub Arc<MemoryLedger>);

impl SharedLedger {
    /// Every record, expired or not, in key order.
    #[allow(dead_code)]
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
