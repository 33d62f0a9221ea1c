//! Recreate: with `RECREATE_REPLICA=true`, a promotion ends by creating ONE read replica of the new primary
//! (`CreateDBInstanceReadReplica`), so that its next failure has a candidate. The replica gets the promoted
//! replica's class, zone and VPC security groups, and the opt-in and priority tags, set on creation (the only tags the function
//! ever writes, limited by IAM request-tag conditions to those keys).
//!
//! Never two: the new replica's name is derived from the new primary and the decision's time
//! ([`replica_id`]), so every retry of the decision asks for the same instance and RDS refuses a second one
//! (`DBInstanceAlreadyExists`, read as "already created"); and the ledger keeps a `replica#<name>` record on
//! the new primary's resource, pending before the call and done after it, so that a run that finds it done
//! calls nothing. A creation RDS refuses does not undo the failover: the notification says why, with the exact
//! `aws rds create-db-instance-read-replica` command, and `readiness` keeps reporting the missing replica as a
//! gap until there is one. A refusal that may pass (throttling, or `InvalidDBInstanceState` while the new
//! primary's first backup runs) leaves the record pending, and the next `readiness` run asks again ([`again`]).
//!
//! Runs after the promotion, its client steps and the lineage, before the promotion's record is settled done,
//! so that a run cut short before it is completed by the retry. AWS calls: one `DescribeDBInstances` of the new
//! primary, one `CreateDBInstanceReadReplica`. Ledger calls: one `Query`, `begin` and `end` on the new
//! primary's resource. Nothing in a dry run.

use failover_core::fault::Fault;
use failover_core::ledger::{self, Settle, State, Stop};
use serde_json::json;

use super::Context;
use crate::decide::Promotion;
use failover_core::aws::AwsError;

use crate::model::{promotion_resource, DbRef, Instance, NewReplica, Recreated, PRIORITY_TAG};
use crate::ports::{Databases, Ports};

/// The key prefix of the records of replicas created after a promotion.
pub const REPLICA_KEY_PREFIX: &str = "replica#";

/// The name of the replica a decision creates: the new primary's name (cut to fit), `-r`, and the decision's
/// time in seconds; a valid RDS identifier (at most 63 letters, digits and single hyphens, starting with a
/// letter, not ending with a hyphen).
pub fn replica_id(new_primary: &str, decided_at_secs: i64) -> String {
    let suffix = format!("-r{decided_at_secs}");
    let mut prefix = String::new();
    for c in new_primary.chars().filter(|c| c.is_ascii_alphanumeric() || *c == '-') {
        if !(c == '-' && prefix.ends_with('-')) {
            prefix.push(c.to_ascii_lowercase());
        }
    }
    prefix.truncate(63 - suffix.len());
    let prefix = prefix.trim_end_matches('-');
    let prefix =
        if prefix.starts_with(|c: char| c.is_ascii_alphabetic()) { prefix.to_owned() } else { format!("db{prefix}") };
    format!("{prefix}{suffix}")
}

/// The replica to create for the promoted instance `promoted` (as described now).
pub fn request(promoted: &Instance, id: String, opt_in_tag_key: &str) -> NewReplica {
    let mut tags = failover_core::tags::Tags::from([(opt_in_tag_key.to_owned(), "true".to_owned())]);
    if let Some(priority) = promoted.tags.get(PRIORITY_TAG) {
        tags.insert(PRIORITY_TAG.to_owned(), priority.clone());
    }
    NewReplica {
        source: promoted.at.clone(),
        id,
        class: promoted.class.clone(),
        zone: promoted.zone.clone(),
        security_groups: promoted.security_groups.clone(),
        tags,
    }
}

/// Creates the decision's replica of the new primary once. Errors of the ledger are a [`Fault`] (the retry
/// completes it); RDS refusing the creation is [`Recreated::NotCreated`].
pub async fn run<P: Ports>(ctx: &Context<'_, P>, p: &Promotion) -> Result<Recreated, Fault> {
    if !ctx.config.recreate_replica {
        return Ok(Recreated::Off);
    }
    let id = replica_id(&p.replica.id, p.record.at_secs.unwrap_or_else(|| ctx.now()));
    let trigger = format!("promotion of {} for {}", p.replica.id, p.primary.id);
    create_once(ctx, &p.replica, &id, &trigger).await
}

/// `readiness` (not a dry run): the replica of `primary` whose creation RDS refused for the time being (its
/// record left pending) is asked for again; `None` when there is none.
pub async fn again<P: Ports>(ctx: &Context<'_, P>, primary: &DbRef, records: &[ledger::Record]) -> Option<Recreated> {
    let pending = records.iter().find(|r| r.key.starts_with(REPLICA_KEY_PREFIX) && r.state == State::Pending)?;
    let id = pending.data["replica"]["id"].as_str()?.to_owned();
    let asked = create_once(ctx, primary, &id, "readiness").await;
    Some(asked.unwrap_or_else(|fault| Recreated::NotCreated {
        id: id.clone(),
        of: primary.id.clone(),
        reason: fault.to_string(),
        command: String::new(),
    }))
}

/// Whether RDS may accept the creation later: a transient error, or the new primary not in a state to have a
/// replica yet (`InvalidDBInstanceState`, e.g. while its first backup runs).
fn for_now(error: &AwsError) -> bool {
    error.transient || error.code.as_deref() == Some("InvalidDBInstanceState")
}

/// Creates the replica `id` of `source` once, under the `replica#<id>` record on `source`'s resource: pending
/// before the call; done once RDS accepted it (or has it already); left pending when RDS may accept it later
/// ([`for_now`]: [`again`] asks again), abandoned when RDS refused it for good.
async fn create_once<P: Ports>(
    ctx: &Context<'_, P>,
    source: &DbRef,
    id: &str,
    trigger: &str,
) -> Result<Recreated, Fault> {
    let (id, of) = (id.to_owned(), source.id.clone());
    let key = format!("{REPLICA_KEY_PREFIX}{id}");
    let resource = promotion_resource(source);
    let not_created =
        |reason: String, command: String| Recreated::NotCreated { id: id.clone(), of: of.clone(), reason, command };
    ctx.session
        .attempt(&resource, async |snapshot| -> Result<Recreated, Stop<Fault>> {
            let found = snapshot.record(&key);
            match found.map(|r| r.state) {
                Some(State::Done) => return Ok(Recreated::AlreadyCreated { id: id.clone(), of: of.clone() }),
                // Refused for good once: said then, with the command; not asked again by every retry.
                Some(State::Pending) | None => {}
                Some(_) => {
                    let recorded = found.and_then(|r| serde_json::from_value(r.data["result"].clone()).ok());
                    return Ok(recorded.unwrap_or_else(|| not_created("refused earlier".into(), String::new())));
                }
            }
            let Some(promoted) = ctx.databases.instance(source).await.map_err(|e| Stop::Failed(e.into()))? else {
                return Ok(not_created(format!("{source} is not found"), String::new()));
            };
            let request = request(&promoted, id.clone(), &ctx.config.common.opt_in_tag_key);
            let retention = ctx.config.common.retention_secs();
            let data = json!({"replica": {"region": request.source.region, "id": request.id}, "of": of});
            let pending = ledger::Record::pending(&resource, &key, ctx.session.owner, trigger, ctx.now(), retention)
                .with_data(data.clone());
            // A pending record (a run cut short, or a creation refused for now) is taken over, not written again.
            let records = if found.is_some() { vec![] } else { vec![pending] };
            match ctx.session.start(&snapshot, &records).await? {
                ledger::Start::Started => {}
                ledger::Start::Again => return Err(Stop::Again),
                ledger::Start::Paused(pause) => {
                    let reason = format!("automation is paused by {} ({})", pause.by, pause.reason);
                    return Ok(not_created(reason, request.command()));
                }
            }
            let created = ctx.databases.create_replica(&request).await;
            let (to, answer) = match created {
                Ok(true) => (Some(State::Done), Recreated::Created { id: id.clone(), of: of.clone() }),
                Ok(false) => (Some(State::Done), Recreated::AlreadyCreated { id: id.clone(), of: of.clone() }),
                Err(error) => {
                    tracing::warn!(%error, replica = id, "read replica not created");
                    let later = for_now(&error);
                    let reason =
                        if later { format!("{error}; the next readiness run asks again") } else { error.to_string() };
                    ((!later).then_some(State::Abandoned), not_created(reason, request.command()))
                }
            };
            let settle: Vec<Settle> = to
                .map(|to| {
                    let mut data = data.clone();
                    data["result"] = json!(answer);
                    Settle { key: key.clone(), from: State::Pending, owner: None, to, data: Some(data) }
                })
                .into_iter()
                .collect();
            ctx.session.end(&resource, &settle, &[]).await.map_err(Stop::Failed)?;
            tracing::info!(replica = id, of, ?answer, "replica step");
            Ok(answer)
        })
        .await
}

#[cfg(test)]
mod tests {
    use super::replica_id;

    /// The template's `TagTheReplicaOnCreate` grant names `db:*-r??????????`: every name made here has that shape.
    fn iam_shape(id: &str) -> bool {
        let (_, digits) = id.rsplit_once("-r").expect("-r");
        digits.len() == 10 && digits.bytes().all(|b| b.is_ascii_digit())
    }

    #[test]
    fn a_replica_name_is_a_valid_rds_identifier_of_the_shape_iam_allows_tagging() {
        let long = "a".repeat(70);
        for (primary, expected) in [
            ("orders-r2", "orders-r2-r1796638625".to_owned()),
            ("Orders--2", "orders-2-r1796638625".to_owned()),
            ("7shop", "db7shop-r1796638625".to_owned()),
            (long.as_str(), format!("{}-r1796638625", "a".repeat(51))),
        ] {
            let id = replica_id(primary, 1_796_638_625);
            assert_eq!(id, expected);
            assert!(id.len() <= 63 && !id.contains("--") && iam_shape(&id), "{id}");
        }
    }
}
