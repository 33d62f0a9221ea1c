//! [`Ledger`] over DynamoDB. Attribute names: `pk`, `sk`, `expires_at` (the TTL) on every item but an open
//! record kept until it closes ([`super::NEVER`]); a record has
//! `state`, `owner`, `trigger`, `created_at`, `updated_at`, `data` (JSON text); the lease item has `owner` and
//! `until` while held, and `version`; the pause item has `by`, `reason`, `at`.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Put, ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update,
};
use aws_sdk_dynamodb::Client;
use serde_json::Value;

use super::{
    distinct_keys, Begin, Begun, Holder, Ledger, Pause, Record, Settle, Snapshot, State, CONTROL_PK, LEASE_KEY, NEVER,
    PAUSE_KEY,
};
use crate::aws::{AwsContext, AwsError};

type Item = HashMap<String, AttributeValue>;

/// No invocation is named this: the begin condition's stand-in for "no holder was seen".
const NOBODY: &str = "";

/// The ledger table through the SDK client.
#[derive(Debug, Clone)]
pub struct DynamoLedger {
    client: Client,
    table: String,
}

impl DynamoLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        DynamoLedger { client, table: table.into() }
    }

    fn at(&self, resource: &str) -> String {
        format!("{} {resource}", self.table)
    }

    /// `end` (`release`: the lease given back, the version incremented) or `settle` (the lease kept, checked
    /// to be the caller's): one transaction.
    async fn write(
        &self,
        resource: &str,
        writing: Writing<'_>,
        settle: &[Settle],
        records: &[Record],
    ) -> Result<bool, AwsError> {
        let Writing { owner, now, retention_secs, release } = writing;
        distinct_keys(resource, settle.iter().map(|s| s.key.as_str()).chain(records.iter().map(|r| r.key.as_str())))?;
        let mut items = vec![self.lease_item(resource, owner, now + retention_secs, release)?];
        for one in settle {
            items.push(self.settle_item(resource, owner, now, retention_secs, one)?);
        }
        for record in records {
            items.push(put_new(&self.table, record)?);
        }
        match self.client.transact_write_items().set_transact_items(Some(items)).send().await {
            Ok(_) => Ok(true),
            Err(e) if cancellation(&e).is_some() => Ok(false),
            Err(e) => Err(AwsError::from_sdk("TransactWriteItems", self.at(resource), &e)),
        }
    }

    /// The lease in an `end` or `settle`: only if it is still `owner`'s; released (and the version incremented)
    /// or kept.
    fn lease_item(&self, resource: &str, owner: &str, ttl: i64, release: bool) -> Result<TransactWriteItem, AwsError> {
        let key = Some(item_key(resource, LEASE_KEY));
        if !release {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(key)
                .condition_expression("#owner = :me")
                .expression_attribute_names("#owner", "owner")
                .expression_attribute_values(":me", s(owner))
                .build()
                .map_err(|e| invalid("ConditionCheck", resource, e))?;
            return Ok(TransactWriteItem::builder().condition_check(check).build());
        }
        let update = Update::builder()
            .table_name(&self.table)
            .set_key(key)
            .update_expression("REMOVE #owner, #until SET #version = #version + :one, expires_at = :ttl")
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#until", "until")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":ttl", n(ttl))
            .build()
            .map_err(|e| invalid("Update", resource, e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// One record settled: only from the state it was read in (and its owner's, when named).
    fn settle_item(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        one: &Settle,
    ) -> Result<TransactWriteItem, AwsError> {
        let mut update = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item_key(resource, &one.key)))
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":from", s(one.from.as_str()))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":to", s(one.to.as_str()))
            .expression_attribute_values(":now", n(now));
        update = match &one.owner {
            Some(was) => update
                .condition_expression("#state = :from AND #owner = :was")
                .expression_attribute_values(":was", s(was)),
            None => update.condition_expression("#state = :from"),
        };
        // Closed or abandoned: kept for the retention from now on.
        let mut set = String::from("SET #state = :to, #owner = :me, updated_at = :now");
        if one.to.closes() {
            set.push_str(", expires_at = :ttl");
            update = update.expression_attribute_values(":ttl", n(now + retention_secs));
        }
        if let Some(data) = &one.data {
            set.push_str(", #data = :data");
            update = update
                .expression_attribute_names("#data", "data")
                .expression_attribute_values(":data", s(&data.to_string()));
        }
        update = update.update_expression(set);
        let update = update.build().map_err(|e| invalid("Update", &one.key, e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }
}

/// Who writes, when, and whether the lease is given back ([`DynamoLedger::write`]).
struct Writing<'a> {
    owner: &'a str,
    now: i64,
    retention_secs: i64,
    release: bool,
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn item_key(resource: &str, sort_key: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(resource)), ("sk".to_owned(), s(sort_key))])
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map_or("", String::as_str)
}

fn number(item: &Item, name: &str) -> i64 {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn to_item(record: &Record) -> Item {
    let mut item = item_key(&record.resource, &record.key);
    item.insert("state".into(), s(record.state.as_str()));
    item.insert("owner".into(), s(&record.owner));
    item.insert("trigger".into(), s(&record.trigger));
    item.insert("created_at".into(), n(record.created_at));
    item.insert("updated_at".into(), n(record.updated_at));
    if record.expires_at != NEVER {
        item.insert("expires_at".into(), n(record.expires_at));
    }
    item.insert("data".into(), s(&record.data.to_string()));
    item
}

/// An item read back; `None` for one that is not a record or that people damaged.
fn from_item(item: &Item) -> Option<Record> {
    Some(Record {
        resource: text(item, "pk").to_owned(),
        key: text(item, "sk").to_owned(),
        state: State::parse(text(item, "state"))?,
        owner: text(item, "owner").to_owned(),
        trigger: text(item, "trigger").to_owned(),
        created_at: number(item, "created_at"),
        updated_at: number(item, "updated_at"),
        expires_at: if item.contains_key("expires_at") { number(item, "expires_at") } else { NEVER },
        data: serde_json::from_str(text(item, "data")).unwrap_or(Value::Null),
    })
}

fn pause_of(item: &Item) -> Pause {
    Pause { by: text(item, "by").to_owned(), reason: text(item, "reason").to_owned(), at: number(item, "at") }
}

/// Each item's verdict in a cancelled transaction (`Some(old item)` for a lost condition), or `None` when the
/// failure was not a cancellation.
fn cancellation(error: &aws_sdk_dynamodb::error::SdkError<TransactWriteItemsError>) -> Option<Vec<Option<Item>>> {
    match error.as_service_error() {
        Some(TransactWriteItemsError::TransactionCanceledException(e)) => Some(
            e.cancellation_reasons()
                .iter()
                .map(|r| (r.code() == Some("ConditionalCheckFailed")).then(|| r.item().cloned().unwrap_or_default()))
                .collect(),
        ),
        _ => None,
    }
}

fn put_new(table: &str, record: &Record) -> Result<TransactWriteItem, AwsError> {
    let put = Put::builder()
        .table_name(table)
        .set_item(Some(to_item(record)))
        .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
        .expression_attribute_values(":now", n(record.updated_at))
        .build()
        .map_err(|e| invalid("Put", &record.key, e))?;
    Ok(TransactWriteItem::builder().put(put).build())
}

/// A request the SDK refused to build: a programming error, reported as a permanent AWS error.
fn invalid(operation: &'static str, resource: &str, error: impl std::fmt::Display) -> AwsError {
    AwsError {
        operation,
        resource: resource.to_owned(),
        code: Some("InvalidRequest".into()),
        transient: false,
        message: error.to_string(),
    }
}

impl Ledger for DynamoLedger {
    async fn read(&self, resource: &str, now: i64) -> Result<Snapshot, AwsError> {
        let items: Vec<Item> = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(resource))
            .consistent_read(true)
            .into_paginator()
            .items()
            .send()
            .try_collect()
            .await
            .aws("Query", self.at(resource))?;
        let mut snapshot =
            Snapshot { resource: resource.to_owned(), at: now, version: 0, holder: None, records: Vec::new() };
        for item in &items {
            if text(item, "sk") == LEASE_KEY {
                snapshot.version = u64::try_from(number(item, "version")).unwrap_or(0);
                let owner = text(item, "owner");
                if !owner.is_empty() {
                    snapshot.holder = Some(Holder { owner: owner.to_owned(), until: number(item, "until") });
                }
            } else if let Some(record) = from_item(item).filter(|r| r.expires_at >= now) {
                snapshot.records.push(record);
            }
        }
        Ok(snapshot)
    }

    async fn begin(&self, snapshot: &Snapshot, begin: &Begin<'_>) -> Result<Begun, AwsError> {
        let resource = &snapshot.resource;
        distinct_keys(resource, begin.records.iter().map(|r| r.key.as_str()))?;
        let mut items = Vec::new();
        if !begin.force {
            let check = ConditionCheck::builder()
                .table_name(&self.table)
                .set_key(Some(item_key(CONTROL_PK, PAUSE_KEY)))
                .condition_expression("attribute_not_exists(pk)")
                .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
                .build()
                .map_err(|e| invalid("ConditionCheck", resource, e))?;
            items.push(TransactWriteItem::builder().condition_check(check).build());
        }
        // The dead holder the read saw, if any: the only lease this begin may take over.
        let dead = snapshot.holder.as_ref().filter(|h| h.until < snapshot.at);
        let until = begin.now + begin.hold_secs;
        let lease = Update::builder()
            .table_name(&self.table)
            .set_key(Some(item_key(resource, LEASE_KEY)))
            .update_expression(
                "SET #owner = :me, #until = :until, expires_at = :ttl, #version = if_not_exists(#version, :zero)",
            )
            .condition_expression(
                "(attribute_not_exists(pk) AND :version = :zero) OR (#version = :version AND \
                 (attribute_not_exists(#owner) OR (#owner = :dead AND #until = :dead_until AND #until < :now)))",
            )
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_names("#until", "until")
            .expression_attribute_names("#version", "version")
            .expression_attribute_values(":me", s(begin.owner))
            .expression_attribute_values(":until", n(until))
            .expression_attribute_values(":ttl", n(begin.now + begin.retention_secs))
            .expression_attribute_values(":zero", n(0))
            .expression_attribute_values(":version", n(i64::try_from(snapshot.version).unwrap_or(i64::MAX)))
            .expression_attribute_values(":dead", s(dead.map_or(NOBODY, |h| h.owner.as_str())))
            .expression_attribute_values(":dead_until", n(dead.map_or(-1, |h| h.until)))
            .expression_attribute_values(":now", n(begin.now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| invalid("Update", resource, e))?;
        items.push(TransactWriteItem::builder().update(lease).build());
        for record in begin.records {
            items.push(put_new(&self.table, record)?);
        }
        let result = self.client.transact_write_items().set_transact_items(Some(items)).send().await;
        let Err(error) = result else { return Ok(Begun::Started { until }) };
        let Some(verdicts) = cancellation(&error) else {
            return Err(AwsError::from_sdk("TransactWriteItems", self.at(resource), &error));
        };
        let offset = usize::from(!begin.force);
        if let Some(Some(pause)) = verdicts.first().filter(|_| !begin.force) {
            return Ok(Begun::Paused(pause_of(pause)));
        }
        if let Some(Some(lease)) = verdicts.get(offset) {
            let (owner, held_until) = (text(lease, "owner"), number(lease, "until"));
            if !owner.is_empty() && held_until >= begin.now {
                return Ok(Begun::Busy(Holder { owner: owner.to_owned(), until: held_until }));
            }
        }
        Ok(Begun::Stale)
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
        self.write(resource, Writing { owner, now, retention_secs, release: true }, settle, records).await
    }

    async fn settle(
        &self,
        resource: &str,
        owner: &str,
        now: i64,
        retention_secs: i64,
        settle: &[Settle],
    ) -> Result<bool, AwsError> {
        self.write(resource, Writing { owner, now, retention_secs, release: false }, settle, &[]).await
    }

    async fn pause(&self, pause: &Pause) -> Result<(), AwsError> {
        let mut item = item_key(CONTROL_PK, PAUSE_KEY);
        item.insert("by".into(), s(&pause.by));
        item.insert("reason".into(), s(&pause.reason));
        item.insert("at".into(), n(pause.at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .aws("PutItem", self.at(CONTROL_PK))?;
        Ok(())
    }

    async fn resume(&self) -> Result<bool, AwsError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(item_key(CONTROL_PK, PAUSE_KEY)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .aws("DeleteItem", self.at(CONTROL_PK))?;
        Ok(output.attributes().is_some_and(|a| !a.is_empty()))
    }

    async fn paused(&self) -> Result<Option<Pause>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(item_key(CONTROL_PK, PAUSE_KEY)))
            .consistent_read(true)
            .send()
            .await
            .aws("GetItem", self.at(CONTROL_PK))?;
        Ok(output.item().map(pause_of))
    }
}
