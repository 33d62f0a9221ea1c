//! The group's side of the one ledger protocol ([`failover_core::ledger::Session::attempt`]): the keys and data
//! of its records (removals, shifts), what they say (the incident's baseline, the saved weights), and how an
//! action begins, settles and ends a change. No AWS call here but the ledger's.
//!
//! # Records
//! Each target group is a ledger resource, `target-group:<ARN>` ([`resource`]), with records
//! `shift#<listener-id>[/<rule-id>]` (an action's weights before and after a shift, and the backup) and
//! `removal#<invocation>[#<n>]` ([`removal_key`]: the targets one removal took out: id, port, zone; what was handed to Auto Scaling,
//! `replacement`: handed, left, owed; the trigger, the group's registered count before, and the incident's
//! capacity `baseline`: the registered count, `initial` targets included, when the first of the open removals
//! began; while any is open the floor of a removal comes from it). A change's records carry the alarm event's
//! state timestamp (`event_at`), so that a retry can publish what an interrupted run owed ([`super::owed`]).
//! Open records (pending, done) never expire, whatever the retention ([`failover_core::ledger::NEVER`]): an
//! incident's baseline and what its OK undoes outlive it; closed or abandoned, they expire the retention later.
//!
//! # Ledger calls, and when
//! - [`Context::on_group`] (and [`Context::attempt`] for `load-balancer:<ARN>`): one `Query` of the resource,
//!   again after each wait while another invocation holds it (one wait budget per invocation,
//!   [`failover_core::ledger::wait_budget`]: 5 s or a quarter of the time left, waits of 50 ms doubling to
//!   500 ms; then a retryable [`failover_core::fault::Fault::Busy`]) and after each start-over; a resource this
//!   invocation holds itself is read again as soon as it releases a lease.
//! - [`Context::begin`]: one `TransactWriteItems`: not paused, the group's lease, and the change's pending
//!   records, each written only if its key is free; the invocation's begins one at a time (the groups of an
//!   alarm would otherwise meet on the pause item, [`failover_core::ledger::Session`]). The ledger changed since the read: the step starts over on
//!   fresh facts. Paused: refused and notified, nothing changed (a manual command's `"force": true` acts).
//! - [`Context::end`]: one `TransactWriteItems`: settles the records (done; abandoned for the part not made),
//!   closes those the change undid (a failback its shift records; a restore, or the OK of the alarm that made
//!   them, the targets' removal records) and releases the lease. A lease no longer ours is
//!   [`failover_core::fault::Fault::LeaseLost`].
//! - [`Context::settle_only`]: `begin` and `end` with no change between, for what an interrupted run left.
//!
//! So two invocations never act on one group at once, and the same event again changes nothing more:
//! deregistered targets are no longer there to remove, an action at weight 0 with a live shift record is already
//! shifted (its weights before are never overwritten by shifted ones), a failback finds no open shift record.
//! An interrupted run (a timeout, an `end` that failed) leaves pending records; the retry finds the change made
//! in the AWS facts and settles them, once. A failed `begin` changes nothing; a failed `end` after a change errs
//! after the notification. A dry run reads the ledger and writes nothing.

use failover_core::fault::Fault;
use failover_core::ledger::{Again, Record, Settle, Snapshot, Start, State, Step, Stop};
use failover_core::report::Report;
use serde_json::{json, Value};

use super::Context;
use crate::decide::WeightChange;
use crate::model::{Location, SavedWeights, Target};
use crate::ports::Ports;
use crate::report;
use crate::FUNCTION;

/// The ledger's name of a target group.
pub fn resource(group: &str) -> String {
    format!("target-group:{group}")
}

/// The ARN a ledger resource names (`target-group:<ARN>`, `load-balancer:<ARN>`), for reports.
pub fn resource_arn(resource: &str) -> &str {
    resource.find(":arn:").map_or(resource, |i| &resource[i + 1..])
}

/// The key of the record of a shift of one forward action.
pub fn shift_key(location: &Location) -> String {
    format!("shift#{}", location.key())
}

/// The key of the record of one removal (one `DeregisterTargets` of one invocation, whatever its number of
/// targets: a transaction holds at most 100 items, so one record per target would cap a removal):
/// `removal#<invocation>`, unique per attempt. Lambda's retry of an event keeps its request id, so when the
/// ledger already has that key (a record an earlier attempt wrote), the attempt's is `removal#<invocation>#<n>`,
/// the first free `n` from 2: a retry never overwrites a record it did not write.
pub fn removal_key(snapshot: &Snapshot, owner: &str) -> String {
    let first = format!("removal#{owner}");
    let mut key = first.clone();
    let mut n = 1;
    while snapshot.record(&key).is_some() {
        n += 1;
        key = format!("{first}#{n}");
    }
    key
}

/// The targets a removal record names.
pub fn removed_targets(record: &Record) -> Vec<Target> {
    if !record.key.starts_with("removal#") {
        return Vec::new();
    }
    let items = record.data.get("targets").and_then(Value::as_array).cloned().unwrap_or_default();
    items
        .iter()
        .filter_map(|t| {
            let id = t.get("id")?.as_str()?;
            let port = t.get("port").and_then(Value::as_i64).and_then(|p| i32::try_from(p).ok());
            let mut target = Target::new(id, port);
            target.availability_zone = t.get("availability_zone").and_then(Value::as_str).map(str::to_owned);
            Some(target)
        })
        .collect()
}

/// The incident's capacity baseline: the group's registered count when the open removals began (each open
/// removal record carries it as `baseline`, or `registered_before` when it was the first), the largest;
/// `None` when no removal is open.
pub fn baseline(snapshot: &Snapshot) -> Option<usize> {
    snapshot
        .records
        .iter()
        .filter(|r| open(r) && r.key.starts_with("removal#"))
        .filter_map(|r| r.data.get("baseline").or_else(|| r.data.get("registered_before"))?.as_u64())
        .filter_map(|n| usize::try_from(n).ok())
        .max()
}

/// A shift record's data: where, the weights before and after, and the backup.
pub fn shift_data(change: &WeightChange, backup: &str) -> Value {
    json!({"location": change.location, "before": change.before, "backup": backup, "after": change.after})
}

/// Live: pending (decided, maybe made) or done (in effect).
pub fn open(record: &Record) -> bool {
    matches!(record.state, State::Pending | State::Done)
}

/// The weights before each shift the group's open shift records remember, by location key. A record whose
/// data cannot be read is left out (and stays in the table for a person).
pub fn saved_weights(snapshot: &Snapshot) -> SavedWeights {
    saved_weights_of(snapshot, |_| true)
}

/// The saved weights of the shifts an alarm made (not a person's `shift` command): what an alarm's OK fails
/// back; a manual shift is failed back only by the `failback` command.
pub fn saved_by_alarms(snapshot: &Snapshot) -> SavedWeights {
    saved_weights_of(snapshot, |r| r.trigger.starts_with("alarm "))
}

fn saved_weights_of(snapshot: &Snapshot, keep: impl Fn(&Record) -> bool) -> SavedWeights {
    snapshot
        .records
        .iter()
        .filter(|r| open(r) && keep(r))
        .filter_map(|r| {
            let key = r.key.strip_prefix("shift#")?;
            let before: Option<Vec<(String, u32)>> = r
                .data
                .get("before")?
                .as_array()?
                .iter()
                .map(|w| {
                    let arn = w.get("group_arn")?.as_str()?.to_owned();
                    Some((arn, u32::try_from(w.get("weight")?.as_u64()?).ok()?))
                })
                .collect();
            Some((key.to_owned(), before.filter(|b| !b.is_empty())?))
        })
        .collect()
}

/// How a record of the change is written: new keys pending at `begin`; a key the ledger already has (an
/// interrupted change, an earlier incident's record) is settled to done with the new data at `end`.
#[derive(Debug, Default)]
pub struct Records {
    pub begin: Vec<Record>,
    pub settle: Vec<Settle>,
}

impl Records {
    /// What `end` settles: the records whose part of the change was `made` done; the new ones whose part was
    /// not made abandoned, the known ones left as they were.
    pub fn settle(&self, owner: &str, made: impl Fn(&str) -> bool) -> Vec<Settle> {
        let new = self
            .begin
            .iter()
            .map(|r| Settle::pending(&r.key, owner, if made(&r.key) { State::Done } else { State::Abandoned }));
        let known = self.settle.iter().filter(|s| made(&s.key)).cloned();
        new.chain(known).collect()
    }
}

/// The data fields of a record closed by an event: its trigger and, for an alarm, its state timestamp
/// ([`Context::closing`]; the timeline reads them, [`failover_core::timeline`]).
pub use failover_core::timeline::{CLOSED_BY, CLOSED_EVENT_AT};

/// Moves a record from the state it was read in (owned by whom it names when pending) to `to`.
pub fn settle_from(record: &Record, to: State) -> Settle {
    Settle {
        key: record.key.clone(),
        from: record.state,
        owner: (record.state == State::Pending).then(|| record.owner.clone()),
        to,
        data: None,
    }
}

impl<P: Ports> Context<'_, P> {
    pub fn now(&self) -> i64 {
        self.session.now()
    }

    /// The change's records, pending at `begin` or settled at `end` (see [`Records`]).
    pub fn records(&self, snapshot: &Snapshot, wanted: impl IntoIterator<Item = (String, Value)>) -> Records {
        let now = self.now();
        let retention = self.config.common.retention_secs();
        let mut records = Records::default();
        for (key, mut data) in wanted {
            if let (Some(at), Some(fields)) = (self.event_at, data.as_object_mut()) {
                fields.insert(failover_core::timeline::EVENT_AT.into(), json!(at));
            }
            match snapshot.record(&key) {
                Some(existing) => records.settle.push(settle_from(existing, State::Done).with_data(data)),
                None => records.begin.push(
                    Record::pending(&snapshot.resource, &key, self.session.owner, self.trigger, now, retention)
                        .open()
                        .with_data(data),
                ),
            }
        }
        records
    }

    /// Closes a done record of a change this event undid (targets registered again, a shift failed back), stamped
    /// with the event (`closed_by`: the trigger; `closed_event_at`: an alarm's state timestamp), so that the
    /// event's retry finds what it closed and publishes the notification owed ([`super::owed`]), and the
    /// incident's timeline says what closed it.
    pub fn closing(&self, record: &Record) -> Settle {
        let settle = settle_from(record, State::Closed);
        let Some(fields) = record.data.as_object() else { return settle };
        let mut fields = fields.clone();
        fields.insert(CLOSED_BY.into(), json!(self.trigger));
        if let Some(at) = self.event_at {
            fields.insert(CLOSED_EVENT_AT.into(), json!(at));
        }
        settle.with_data(Value::Object(fields))
    }

    /// `begin`: `Ok(None)` to act; `Ok(Some(report))` when paused (the refusal, naming what was planned) or when
    /// the call failed (nothing was changed); `Err(Again)` to start over on fresh facts.
    pub async fn begin(
        &self,
        snapshot: &Snapshot,
        records: &[Record],
        action: &str,
        planned: &str,
    ) -> Step<Option<Report>> {
        let group = resource_arn(&snapshot.resource);
        match self.session.start(snapshot, records).await {
            Ok(Start::Started) => Ok(None),
            Ok(Start::Again) => Err(Again),
            Ok(Start::Paused(pause)) => {
                Ok(Some(failover_core::pause::refused(FUNCTION, action, group, &pause, planned)))
            }
            Err(e) => Ok(Some(report::failed(
                Some(group),
                action,
                &e,
                "starting the change in the ledger (nothing was changed)",
            ))),
        }
    }

    /// Settles records an interrupted change left (no AWS change) under the lease: `Ok(None)` when done, or
    /// when paused (the next run after `resume` settles them); `Ok(Some(report))` when a ledger call failed.
    pub async fn settle_only(&self, snapshot: &Snapshot, settle: &[Settle], action: &str) -> Step<Option<Report>> {
        let failed = self.session.settle_only(snapshot, settle).await?;
        let group = resource_arn(&snapshot.resource);
        Ok(failed.map(|fault| report::fault(Some(group), action, &fault, "recording what an interrupted change did")))
    }

    /// `end`: settles the change's records, writes `records`, releases the lease. A lease lost is a
    /// [`Fault::LeaseLost`]: the retry finds the change made and settles the records.
    pub async fn end(&self, group: &str, settle: &[Settle], records: &[Record]) -> Result<(), Fault> {
        self.session.end(&resource(group), settle, records).await
    }

    /// The one attempt loop on `group`'s ledger ([`failover_core::ledger::Session::attempt`]), from `first` when
    /// it was read already; a group that stays busy, or whose ledger cannot be read, is answered with its report.
    pub async fn on_group(
        &self,
        group: &str,
        action: &str,
        first: Option<Snapshot>,
        step: impl AsyncFnMut(Snapshot) -> Step<Vec<Report>>,
    ) -> Vec<Report> {
        self.attempt_from(&resource(group), action, first, step).await
    }

    /// [`Self::on_group`] on any ledger resource (a load balancer's, `load-balancer:<ARN>`).
    pub async fn attempt(
        &self,
        resource: &str,
        action: &str,
        step: impl AsyncFnMut(Snapshot) -> Step<Vec<Report>>,
    ) -> Vec<Report> {
        self.attempt_from(resource, action, None, step).await
    }

    async fn attempt_from(
        &self,
        resource: &str,
        action: &str,
        first: Option<Snapshot>,
        mut step: impl AsyncFnMut(Snapshot) -> Step<Vec<Report>>,
    ) -> Vec<Report> {
        let attempted = self.session.attempt_or(
            resource,
            first,
            |_| None,
            async |snapshot| -> Result<_, Stop<Fault>> { Ok(step(snapshot).await?) },
        );
        attempted.await.unwrap_or_else(|fault| {
            vec![report::fault(Some(resource_arn(resource)), action, &fault, "reading the ledger")]
        })
    }
}
