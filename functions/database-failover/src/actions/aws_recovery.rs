//! AWS first, when no event told the function: a Multi-AZ primary whose ledger holds no record of AWS's own
//! failover within `AWS_RECOVERY_WAIT_MINUTES` has its `failover` events read with `DescribeEvents` (EventBridge
//! delivers RDS events best effort; `DescribeEvents` returns what RDS recorded). A failover started within the
//! wait and not completed holds the promotion back, as a recorded one does ([`crate::decide::aws_first`]).
//!
//! AWS calls: one `DescribeEvents` (paginated) for a described Multi-AZ primary without such a record, on a
//! trigger that waits; none otherwise. A transient failure stops the run (Lambda retries); any other (a stack
//! whose role lacks `rds:DescribeEvents`) is logged, and the ledger alone counts, as before this read.

use failover_core::aws::AwsError;
use failover_core::ledger::Snapshot;

use super::Context;
use crate::decide::{aws_first, PrimaryState, PromotionFacts, Trigger};
use crate::ports::{Databases, Ports};

/// Why the trigger waits for AWS's own failover that only `DescribeEvents` knows of, if it must.
pub(super) async fn waiting<P: Ports>(
    ctx: &Context<'_, P>,
    facts: &PromotionFacts,
    snapshot: &Snapshot,
    trigger: &Trigger,
) -> Result<Option<String>, AwsError> {
    let PrimaryState::Found(primary) = &facts.primary else { return Ok(None) };
    let (now, wait_secs) = (ctx.now(), ctx.config.aws_recovery_wait_minutes * 60);
    if !primary.multi_az || !aws_first::waits(trigger) || aws_first::ledger_knows(&snapshot.records, now, wait_secs) {
        return Ok(None);
    }
    match ctx.databases.failover_events(&primary.at, now - wait_secs).await {
        Ok(events) => Ok(aws_first::from_events(&events, now, wait_secs)),
        Err(error) if error.transient => Err(error),
        Err(error) => {
            tracing::warn!(primary = %primary.at, %error, "AWS's own failover events not read; the ledger alone counts");
            Ok(None)
        }
    }
}
