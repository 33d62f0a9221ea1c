//! [`Ledger`] over DynamoDB. Attribute names: `pk`, `sk`, `state`, `owner`, `trigger`, `created_at`,
//! `updated_at`, `expires_at` (the TTL), `data` (JSON text); a lease has `owner` and `expires_at` only; the pause
//! has `by`, `reason`, `at`.

use std::collections::HashMap;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use serde_json::Value;

use super::{Claim, Ledger, Pause, Record, State, Written, CONTROL_PK, LEASE_KEY, PAUSE_KEY};
use crate::aws::{AwsContext, AwsError};

type Item = HashMap<String, AttributeValue>;

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

    fn at(&self, resource: &str, key: &str) -> String {
        format!("{} {resource} {key}", self.table)
    }
}

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

fn n(value: i64) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn key(resource: &str, key: &str) -> Item {
    HashMap::from([("pk".to_owned(), s(resource)), ("sk".to_owned(), s(key))])
}

fn text<'a>(item: &'a Item, name: &str) -> &'a str {
    item.get(name).and_then(|v| v.as_s().ok()).map_or("", String::as_str)
}

fn number(item: &Item, name: &str) -> i64 {
    item.get(name).and_then(|v| v.as_n().ok()).and_then(|v| v.parse().ok()).unwrap_or(0)
}

fn to_item(record: &Record) -> Item {
    let mut item = key(&record.resource, &record.key);
    item.insert("state".into(), s(record.state.as_str()));
    item.insert("owner".into(), s(&record.owner));
    item.insert("trigger".into(), s(&record.trigger));
    item.insert("created_at".into(), n(record.created_at));
    item.insert("updated_at".into(), n(record.updated_at));
    item.insert("expires_at".into(), n(record.expires_at));
    item.insert("data".into(), s(&record.data.to_string()));
    item
}

/// An item read back; `None` for one that is not a record (the lease) or that people damaged.
fn from_item(item: &Item) -> Option<Record> {
    Some(Record {
        resource: text(item, "pk").to_owned(),
        key: text(item, "sk").to_owned(),
        state: State::parse(text(item, "state"))?,
        owner: text(item, "owner").to_owned(),
        trigger: text(item, "trigger").to_owned(),
        created_at: number(item, "created_at"),
        updated_at: number(item, "updated_at"),
        expires_at: number(item, "expires_at"),
        data: serde_json::from_str(text(item, "data")).unwrap_or(Value::Null),
    })
}

/// The old item of a put that lost its condition; `None` for any other error.
fn lost_to(error: &aws_sdk_dynamodb::error::SdkError<PutItemError>) -> Option<Item> {
    match error.as_service_error() {
        Some(PutItemError::ConditionalCheckFailedException(e)) => Some(e.item().cloned().unwrap_or_default()),
        _ => None,
    }
}

impl Ledger for DynamoLedger {
    async fn claim(&self, resource: &str, owner: &str, now: i64, hold_secs: i64) -> Result<Claim, AwsError> {
        let until = now + hold_secs;
        let mut item = key(resource, LEASE_KEY);
        item.insert("owner".into(), s(owner));
        item.insert("expires_at".into(), n(until));
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now OR #owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":now", n(now))
            .expression_attribute_values(":me", s(owner))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Claim::Acquired { until }),
            Err(e) => match lost_to(&e) {
                Some(old) => {
                    Ok(Claim::Held { owner: text(&old, "owner").to_owned(), until: number(&old, "expires_at") })
                }
                None => Err(AwsError::from_sdk("PutItem", self.at(resource, LEASE_KEY), &e)),
            },
        }
    }

    async fn release(&self, resource: &str, owner: &str) -> Result<(), AwsError> {
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(resource, LEASE_KEY)))
            .condition_expression("#owner = :me")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":me", s(owner))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // Expired and taken by another, or already released: not ours to delete.
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(()),
            Err(e) => Err(AwsError::from_sdk("DeleteItem", self.at(resource, LEASE_KEY), &e)),
        }
    }

    async fn record(&self, record: &Record) -> Result<Written, AwsError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(to_item(record)))
            .condition_expression("attribute_not_exists(pk) OR expires_at < :now")
            .expression_attribute_values(":now", n(record.updated_at))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Written::New),
            Err(e) => match lost_to(&e).as_ref().and_then(from_item) {
                Some(existing) => Ok(Written::Exists(Box::new(existing))),
                None => Err(AwsError::from_sdk("PutItem", self.at(&record.resource, &record.key), &e)),
            },
        }
    }

    async fn settle(
        &self,
        resource: &str,
        sort_key: &str,
        owner: &str,
        state: State,
        now: i64,
        data: Option<&Value>,
    ) -> Result<bool, AwsError> {
        let mut update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(resource, sort_key)))
            .condition_expression("#state = :pending AND #owner = :me")
            .expression_attribute_names("#state", "state")
            .expression_attribute_names("#owner", "owner")
            .expression_attribute_values(":pending", s(State::Pending.as_str()))
            .expression_attribute_values(":me", s(owner))
            .expression_attribute_values(":state", s(state.as_str()))
            .expression_attribute_values(":now", n(now));
        update = match data {
            Some(data) => update
                .update_expression("SET #state = :state, updated_at = :now, #data = :data")
                .expression_attribute_names("#data", "data")
                .expression_attribute_values(":data", s(&data.to_string())),
            None => update.update_expression("SET #state = :state, updated_at = :now"),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_conditional_check_failed_exception()) => Ok(false),
            Err(e) => Err(AwsError::from_sdk("UpdateItem", self.at(resource, sort_key), &e)),
        }
    }

    async fn records(&self, resource: &str, now: i64) -> Result<Vec<Record>, AwsError> {
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
            .aws("Query", format!("{} {resource}", self.table))?;
        Ok(items
            .iter()
            .filter(|item| text(item, "sk") != LEASE_KEY)
            .filter_map(from_item)
            .filter(|r| r.expires_at >= now)
            .collect())
    }

    async fn pause(&self, pause: &Pause) -> Result<(), AwsError> {
        let mut item = key(CONTROL_PK, PAUSE_KEY);
        item.insert("by".into(), s(&pause.by));
        item.insert("reason".into(), s(&pause.reason));
        item.insert("at".into(), n(pause.at));
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .aws("PutItem", self.at(CONTROL_PK, PAUSE_KEY))?;
        Ok(())
    }

    async fn resume(&self) -> Result<bool, AwsError> {
        let output = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(CONTROL_PK, PAUSE_KEY)))
            .return_values(aws_sdk_dynamodb::types::ReturnValue::AllOld)
            .send()
            .await
            .aws("DeleteItem", self.at(CONTROL_PK, PAUSE_KEY))?;
        Ok(output.attributes().is_some_and(|a| !a.is_empty()))
    }

    async fn paused(&self) -> Result<Option<Pause>, AwsError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(CONTROL_PK, PAUSE_KEY)))
            .consistent_read(true)
            .send()
            .await
            .aws("GetItem", self.at(CONTROL_PK, PAUSE_KEY))?;
        Ok(output.item().map(|item| Pause {
            by: text(item, "by").to_owned(),
            reason: text(item, "reason").to_owned(),
            at: number(item, "at"),
        }))
    }
}
