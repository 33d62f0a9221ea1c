//! The invocation handler: intake ([`failover_core::intake`]), decide ([`crate::decide`]), act through the ports
//! ([`crate::ports`]) and report ([`crate::report`]).
//!
//! Errors: the handler returns `Err` only when a retry could help (throttling, 5xx, timeouts after the SDK's
//! own retries), always after trying to publish a failure notification, so Lambda retries the event; the
//! promotion record makes the retry complete the same decision. Invalid events and commands are `Err` too
//! (for the dead-letter queue or the person who typed them). Everything else — events that are not ours,
//! refusals, permanent AWS errors — is `Ok` with a status.

use std::collections::{BTreeMap, BTreeSet};

use failover_core::intake::{self, Event};
use failover_core::invoke::InvokeError;
use failover_core::notify::{Notifier, SnsNotifier};
use failover_core::outcome::Outcome;
use failover_core::report::Report as Notification;
use failover_core::response::Response;
use serde_json::{json, Value};

use crate::adapters::{CloudWatchLag, RdsDatabases, Route53Dns};
use crate::command::{self, Command, Subject};
use crate::decide::{
    self, Candidate, ClusterFacts, Plan, PrimaryState, Promotion, PromotionFacts, Route, Settings, Trigger,
};
use crate::model::{self, DbRef, Instance, Record, FAILED_OVER_TAG, PROMOTED_FROM_TAG, PROMOTED_TAG};
use crate::ports::{Databases, Dns, LagMetric, PortError, ReplicaLag};
use crate::report::{self, Failure};
use crate::Config;

pub const FUNCTION: &str = "database-failover";

/// Everything an invocation needs, built once per cold start. Generic over the ports so tests can run it
/// against fakes or SDK mocks; [`App::new`] wires the SDK adapters.
pub struct App<D = RdsDatabases, L = CloudWatchLag, R = Route53Dns, N = SnsNotifier> {
    pub config: Config,
    /// The function's own region: plain identifiers in events and commands are in this region.
    pub region: String,
    databases: D,
    lag: L,
    dns: R,
    notifier: N,
    clock: fn() -> i64,
}

impl App {
    pub fn new(config: Config, sdk: &aws_config::SdkConfig) -> Self {
        let notifier = SnsNotifier::new(
            aws_sdk_sns::Client::new(sdk),
            config.common.topic_arn.clone(),
            config.common.notification_format,
        );
        let region = sdk.region().map(|r| r.to_string()).unwrap_or_default();
        App::with_ports(
            config,
            region,
            RdsDatabases::new(aws_sdk_rds::Client::new(sdk)),
            CloudWatchLag::new(aws_sdk_cloudwatch::Client::new(sdk)),
            Route53Dns::new(aws_sdk_route53::Client::new(sdk)),
            notifier,
        )
    }
}

/// How a piece of work ended: a response, or an error (already notified) to hand to Lambda.
type Reply = Result<Response, InvokeError>;

impl<D, L, R, N> App<D, L, R, N>
where
    D: Databases + Sync,
    L: ReplicaLag + Sync,
    R: Dns + Sync,
    N: Notifier + Sync,
{
    pub fn with_ports(config: Config, region: String, databases: D, lag: L, dns: R, notifier: N) -> Self {
        App { config, region, databases, lag, dns, notifier, clock: model::now_secs }
    }

    /// Replaces the clock (seconds since the epoch), for tests of time windows.
    pub fn with_clock(mut self, clock: fn() -> i64) -> Self {
        self.clock = clock;
        self
    }

    fn settings(&self) -> Settings {
        Settings {
            opt_in_tag_key: self.config.common.opt_in_tag_key.clone(),
            promote_when_available: self.config.promote_when_available,
            max_replica_lag_seconds: self.config.max_replica_lag_seconds,
            allow_cross_region: self.config.allow_cross_region,
        }
    }

    pub async fn handle(&self, payload: Value) -> Result<Response, InvokeError> {
        let event = intake::parse(&payload).inspect_err(|e| tracing::warn!(error = %e, "rejected event"))?;
        let result = match &event {
            Event::Manual(manual) => {
                let command = command::parse(manual).map_err(|e| {
                    tracing::warn!(error = %e, "rejected command");
                    InvokeError::InvalidCommand(e)
                })?;
                let dry_run = manual.dry_run.unwrap_or(self.config.common.dry_run);
                Box::pin(self.run_command(command, dry_run)).await
            }
            other => {
                let route = decide::route(other, &self.config.failure_event_ids);
                Box::pin(self.run_route(route, self.config.common.dry_run)).await
            }
        };
        match &result {
            Ok(r) => tracing::info!(status = ?r.status, action = %r.action, message = %r.message, "invocation done"),
            Err(e) => tracing::error!(error = %e, "invocation failed"),
        }
        result
    }

    async fn run_route(&self, route: Route, dry_run: bool) -> Reply {
        match route {
            Route::Skip(reason) => Ok(skip(reason)),
            Route::Inform(info) => Ok(self.publish(report::inform(&info)).await),
            Route::Refuse(refusal) => {
                Ok(self.publish(report::refusal(&refusal, report::PROMOTE, &self.region, None, false)).await)
            }
            Route::Instance { at, trigger } => {
                self.guarded(&at.region, &at.id, &trigger, self.instance_work(&at, &trigger, dry_run)).await
            }
            Route::Replica { at, trigger } => {
                self.guarded(&at.region, &at.id, &trigger, self.replica_work(&at, &trigger, dry_run)).await
            }
            Route::Cluster { region, id, trigger } => {
                self.guarded(&region, &id, &trigger, self.cluster_work(&region, &id, &trigger, dry_run)).await
            }
        }
    }

    async fn run_command(&self, command: Command, dry_run: bool) -> Reply {
        match command {
            Command::Status { region, subject } => {
                let region = region.unwrap_or_else(|| self.region.clone());
                let id = match &subject {
                    Subject::Instance(id) | Subject::Cluster(id) => id.clone(),
                };
                self.guarded(&region, &id, &Trigger::Status, self.status_work(&region, &subject)).await
            }
            Command::Promote { region, replica } => {
                let at = DbRef::new(region.unwrap_or_else(|| self.region.clone()), replica);
                let trigger = Trigger::ManualPromote { replica: at.clone() };
                self.guarded(&at.region, &at.id, &trigger, self.promote_work(&at, &trigger, dry_run)).await
            }
            Command::FailoverCluster { region, cluster, target } => {
                let region = region.unwrap_or_else(|| self.region.clone());
                let trigger = Trigger::ManualFailover { target };
                self.guarded(&region, &cluster, &trigger, self.cluster_work(&region, &cluster, &trigger, dry_run)).await
            }
        }
    }

    /// Runs a piece of work; when AWS fails while gathering facts, notifies and returns an error only if a
    /// retry could help.
    async fn guarded(
        &self,
        region: &str,
        resource: &str,
        trigger: &Trigger,
        work: impl std::future::Future<Output = Result<Reply, PortError>>,
    ) -> Reply {
        // Boxed: the nested futures are otherwise too deep for the compiler's layout computation.
        match Box::pin(work).await {
            Ok(outcome) => outcome,
            Err(error) => {
                let action = match trigger {
                    Trigger::Status => report::STATUS,
                    Trigger::ManualFailover { .. } => report::FAILOVER_CLUSTER,
                    _ => report::PROMOTE,
                };
                let notification = report::failure(region, resource, action, trigger, &error.to_string());
                self.fail(notification, error).await
            }
        }
    }

    /// Publishes a failure notification; returns `Err` when the failure is transient.
    async fn fail(&self, notification: Notification, error: PortError) -> Reply {
        let response = self.publish(notification).await;
        if error.transient {
            Err(InvokeError::Aws(error.to_string()))
        } else {
            Ok(response)
        }
    }

    /// Publishes a notification (a failed publish is logged, never fatal: the AWS change is what matters) and
    /// returns the matching response.
    async fn publish(&self, notification: Notification) -> Response {
        if let Err(e) = self.notifier.publish(&notification).await {
            tracing::error!(error = %failover_core::aws::describe(&e), action = %notification.action, "notification not published");
        }
        report::response(&notification)
    }

    // ------------------------------------------------------------------ RDS instances

    /// An event or alarm on an instance: a primary, a replica (alarm: replica-side) or an Aurora member.
    async fn instance_work(&self, at: &DbRef, trigger: &Trigger, dry_run: bool) -> Result<Reply, PortError> {
        let Some(instance) = self.databases.instance(at).await? else {
            let facts = self.promotion_facts(at, PrimaryState::Missing, None).await?;
            return Ok(self.promote_plan(trigger, &facts, dry_run).await);
        };
        if let Some(cluster) = instance.cluster.clone() {
            return match trigger {
                Trigger::Alarm { .. } => {
                    let writer = self
                        .databases
                        .cluster(&at.region, &cluster)
                        .await?
                        .and_then(|c| c.members.iter().find(|m| m.writer).map(|m| m.id.clone()));
                    if writer.as_deref() == Some(at.id.as_str()) {
                        self.cluster_work(&at.region, &cluster, trigger, dry_run).await
                    } else {
                        Ok(Ok(skip(format!(
                            "{} is a reader of Aurora cluster {cluster}: readers are not failed over",
                            at.id
                        ))))
                    }
                }
                _ => Ok(Ok(skip(format!(
                    "{} belongs to Aurora cluster {cluster}: Aurora fails over by itself on instance failures; \
                     cluster alarms and RDS-EVENT-0069 drive this function",
                    at.id
                )))),
            };
        }
        if instance.source.is_some() {
            return match trigger {
                Trigger::Alarm { name } => {
                    let trigger = Trigger::ReplicaSide { replica: at.clone(), cause: format!("alarm {name}") };
                    self.replica_work(at, &trigger, dry_run).await
                }
                _ => Ok(Ok(skip(format!("{} is a read replica: a failed replica is not failed over", at.id)))),
            };
        }
        let facts = self.promotion_facts(at, PrimaryState::Found(instance), None).await?;
        Ok(self.promote_plan(trigger, &facts, dry_run).await)
    }

    /// Replication stopped on a replica: is its primary down (or unreachable in another region)?
    async fn replica_work(&self, at: &DbRef, trigger: &Trigger, dry_run: bool) -> Result<Reply, PortError> {
        let Some(replica) = self.databases.instance(at).await? else {
            return Ok(Ok(skip(format!("replica {at} not found"))));
        };
        let Some(source) = replica.source.clone() else {
            return Ok(Ok(skip(format!("{} is not a read replica (any more): nothing to do", at.id))));
        };
        let primary = self.primary_state(&source, &replica.at).await?;
        let facts = self.promotion_facts(&source, primary, Some(replica)).await?;
        Ok(self.promote_plan(trigger, &facts, dry_run).await)
    }

    /// `promote`: the named replica, with the same guards.
    async fn promote_work(&self, at: &DbRef, trigger: &Trigger, dry_run: bool) -> Result<Reply, PortError> {
        let Some(replica) = self.databases.instance(at).await? else {
            return Ok(Err(InvokeError::InvalidCommand(format!("promote: DB instance {at} not found"))));
        };
        let Some(source) = replica.source.clone() else {
            let record = replica.tags.get(PROMOTED_FROM_TAG).cloned().unwrap_or_default();
            return Ok(Err(InvokeError::InvalidCommand(format!(
                "promote: {} is not a read replica{}",
                at.id,
                if record.is_empty() { String::new() } else { format!(" (promoted from {record})") }
            ))));
        };
        let primary = self.primary_state(&source, &replica.at).await?;
        let facts = self.promotion_facts(&source, primary, Some(replica)).await?;
        Ok(self.promote_plan(trigger, &facts, dry_run).await)
    }

    /// Describes a primary seen from one of its replicas. In another region, an error means the region may be
    /// down: the primary is unreachable, which `decide` treats as "cannot be confirmed available".
    async fn primary_state(&self, source: &DbRef, replica: &DbRef) -> Result<PrimaryState, PortError> {
        match self.databases.instance(source).await {
            Ok(Some(p)) => Ok(PrimaryState::Found(p)),
            Ok(None) => Ok(PrimaryState::Missing),
            Err(e) if source.region != replica.region => {
                tracing::warn!(primary = %source, error = %e, "primary's region did not answer");
                Ok(PrimaryState::Unreachable { error: e.to_string() })
            }
            Err(e) => Err(e),
        }
    }

    /// Gathers the replicas of a primary, their lags and any recorded decision.
    async fn promotion_facts(
        &self,
        primary_ref: &DbRef,
        primary: PrimaryState,
        extra: Option<Instance>,
    ) -> Result<PromotionFacts, PortError> {
        let mut replicas: Vec<Instance> = Vec::new();
        let mut listing: Vec<Instance> = Vec::new();
        match &primary {
            PrimaryState::Found(p) => replicas = self.replicas_of(&p.replicas).await?,
            PrimaryState::Missing | PrimaryState::Unreachable { .. } => {
                // No replica list to read: find the instances that name it as their source.
                let mut regions = BTreeSet::from([self.region.clone()]);
                if let Some(x) = &extra {
                    regions.insert(x.at.region.clone());
                }
                if matches!(primary, PrimaryState::Missing) {
                    regions.insert(primary_ref.region.clone());
                }
                for region in regions {
                    if let Some(found) = self.tolerant(&region, self.databases.instances(&region)).await? {
                        listing.extend(found);
                    }
                }
                replicas.extend(listing.iter().filter(|i| i.source.as_ref() == Some(primary_ref)).cloned());
            }
        }
        if let Some(x) = extra {
            if !replicas.iter().any(|r| r.at == x.at) {
                replicas.push(x);
            }
        }

        // The record: on the primary; else on a replica that was promoted from it.
        let mut record = match &primary {
            PrimaryState::Found(p) => decide::primary_record(p),
            _ => None,
        };
        if record.is_none() {
            record = replicas.iter().chain(listing.iter()).find_map(|i| {
                let r = Record::parse(i.tags.get(PROMOTED_FROM_TAG)?, &i.at.region)?;
                (&r.subject == primary_ref).then(|| Record { subject: i.at.clone(), at: r.at, at_secs: r.at_secs })
            });
        }
        let recorded = match &record {
            None => None,
            Some(r) => match replicas.iter().chain(listing.iter()).find(|i| i.at == r.subject) {
                Some(known) => Some(known.clone()),
                None => self.databases.instance(&r.subject).await?,
            },
        };

        // Lags: one GetMetricData call per region holding replicas.
        let mut lags: BTreeMap<DbRef, Vec<f64>> = BTreeMap::new();
        for (region, ids) in ids_by_region(replicas.iter().map(|r| &r.at)) {
            if let Some(found) = self.tolerant(&region, self.lag.lags(&region, LagMetric::ReplicaLag, &ids)).await? {
                lags.extend(found.into_iter().map(|(id, values)| (DbRef::new(&region, id), values)));
            }
        }
        let replicas = replicas
            .into_iter()
            .map(|instance| Candidate { lag: lags.get(&instance.at).cloned().unwrap_or_default(), instance })
            .collect();
        Ok(PromotionFacts { primary_ref: primary_ref.clone(), primary, replicas, record, recorded })
    }

    /// A primary's replicas (its `ReadReplicaDBInstanceIdentifiers`), described in one `DescribeDBInstances` per
    /// region rather than one per replica, returned in the primary's order. Those that no longer exist are left
    /// out, and so are those of a region other than the function's own that does not answer (see [`Self::tolerant`]).
    async fn replicas_of(&self, refs: &[DbRef]) -> Result<Vec<Instance>, PortError> {
        let mut found: Vec<Instance> = Vec::new();
        for (region, ids) in ids_by_region(refs) {
            if let Some(instances) = self.tolerant(&region, self.databases.instances_by_id(&region, &ids)).await? {
                found.extend(instances);
            }
        }
        Ok(model::in_order(refs, &found))
    }

    /// Errors in the function's own region stop the work; in another region (which may be the one that is
    /// down) they are logged and that region's data is left out.
    async fn tolerant<T>(
        &self,
        region: &str,
        call: impl std::future::Future<Output = Result<T, PortError>>,
    ) -> Result<Option<T>, PortError> {
        match call.await {
            Ok(value) => Ok(Some(value)),
            Err(e) if region != self.region => {
                tracing::warn!(region, error = %e, "other region did not answer; its data is left out");
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    async fn promote_plan(&self, trigger: &Trigger, facts: &PromotionFacts, dry_run: bool) -> Reply {
        let plan = decide::decide_promotion(trigger, facts, &self.settings(), (self.clock)());
        self.execute(plan, trigger, &facts.primary_ref.region, false, dry_run).await
    }

    // ------------------------------------------------------------------ Aurora

    async fn cluster_facts(&self, region: &str, id: &str) -> Result<ClusterFacts, PortError> {
        let cluster = self.databases.cluster(region, id).await?;
        let mut members = Vec::new();
        if let Some(c) = &cluster {
            let instances = self.databases.cluster_instances(region, id).await?;
            let readers: Vec<String> = c.members.iter().filter(|m| !m.writer).map(|m| m.id.clone()).collect();
            let lags = self.lag.lags(region, LagMetric::AuroraReplicaLag, &readers).await?;
            members = instances
                .into_iter()
                .map(|instance| Candidate { lag: lags.get(&instance.at.id).cloned().unwrap_or_default(), instance })
                .collect();
        }
        Ok(ClusterFacts { region: region.to_owned(), id: id.to_owned(), cluster, members })
    }

    async fn cluster_work(&self, region: &str, id: &str, trigger: &Trigger, dry_run: bool) -> Result<Reply, PortError> {
        let facts = self.cluster_facts(region, id).await?;
        let plan = decide::decide_cluster(trigger, &facts, &self.settings(), (self.clock)());
        Ok(self.execute(plan, trigger, region, true, dry_run).await)
    }

    // ------------------------------------------------------------------ status

    async fn status_work(&self, region: &str, subject: &Subject) -> Result<Reply, PortError> {
        let trigger = Trigger::Status;
        let settings = self.settings();
        let now = (self.clock)();
        let (resource, facts_json, plan) = match subject {
            Subject::Cluster(id) => {
                let facts = self.cluster_facts(region, id).await?;
                let plan = decide::decide_cluster(&trigger, &facts, &settings, now);
                let readers: Vec<Value> = facts
                    .members
                    .iter()
                    .map(|c| json!({"id": c.instance.at.id, "status": c.instance.status, "aurora_replica_lag_ms": c.lag}))
                    .collect();
                let cluster = facts
                    .cluster
                    .as_ref()
                    .map(|c| json!({"status": c.status, "members": c.members, "record": c.tags.get(FAILED_OVER_TAG)}));
                (id.clone(), json!({"cluster": cluster, "instances": readers}), plan)
            }
            Subject::Instance(id) => {
                let at = DbRef::new(region, id);
                let (primary_ref, primary, extra) = match self.databases.instance(&at).await? {
                    None => (at.clone(), PrimaryState::Missing, None),
                    Some(i) => match i.source.clone() {
                        Some(source) => {
                            let state = self.primary_state(&source, &i.at).await?;
                            (source, state, Some(i))
                        }
                        None => (at.clone(), PrimaryState::Found(i), None),
                    },
                };
                let facts = self.promotion_facts(&primary_ref, primary, extra).await?;
                let plan = decide::decide_promotion(&trigger, &facts, &settings, now);
                let primary_json = match &facts.primary {
                    PrimaryState::Found(p) => json!({"id": p.at.id, "region": p.at.region, "status": p.status,
                        "opted_in": p.opted_in(&settings.opt_in_tag_key), "record": p.tags.get(PROMOTED_TAG)}),
                    other => json!({"id": primary_ref.id, "region": primary_ref.region, "status": other.describe()}),
                };
                let replicas: Vec<Value> = facts
                    .replicas
                    .iter()
                    .map(|c| {
                        json!({"id": c.instance.at.id, "region": c.instance.at.region, "status": c.instance.status,
                        "replica_lag_seconds": c.lag})
                    })
                    .collect();
                (primary_ref.id.clone(), json!({"primary": primary_json, "replicas": replicas}), plan)
            }
        };
        let would = match &plan {
            Plan::Promote(p) => format!("would promote {}", p.replica.display_from(region)),
            Plan::FailoverCluster(c) => format!("would fail over to {}", c.target),
            Plan::AlreadyPromoted { replica, at, .. } => format!("already failed over to {} at {at}", replica.id),
            Plan::Skip { reason } => format!("would do nothing: {reason}"),
            Plan::Refuse(r) => format!("would refuse: {}", r.reason),
            Plan::Inform(_) => "informational only".to_owned(),
        };
        let title = format!("status of {resource}: {would}");
        let mut details = facts_json;
        details["plan"] = serde_json::to_value(&plan).unwrap_or(Value::Null);
        let summary = format!("If {resource} failed now, database-failover {would}.");
        Ok(Ok(self.publish(report::status(region, &resource, title, summary, details)).await))
    }

    // ------------------------------------------------------------------ act

    async fn execute(&self, plan: Plan, trigger: &Trigger, region: &str, aurora: bool, dry_run: bool) -> Reply {
        let days = self.config.backup_retention_days;
        let dns_name = self.config.endpoint_record.as_ref().map(|r| r.name.clone());
        match plan {
            Plan::Skip { reason } => Ok(skip(reason)),
            Plan::Inform(info) => Ok(self.publish(report::inform(&info)).await),
            Plan::Refuse(refusal) => {
                let action = if aurora { report::FAILOVER_CLUSTER } else { report::PROMOTE };
                Ok(self.publish(report::refusal(&refusal, action, region, Some(trigger), aurora)).await)
            }
            Plan::AlreadyPromoted { primary, replica, at, endpoint, repoint } => {
                let message =
                    format!("{} already failed over to {} at {at}: nothing else is promoted", primary.id, replica.id);
                if let (true, false, Some(record), Some(endpoint)) =
                    (repoint, dry_run, self.config.endpoint_record.as_ref(), endpoint.as_deref())
                {
                    if let Err(error) = self.dns.upsert_cname(record, endpoint).await {
                        tracing::error!(error = %error, "repointing DNS after an earlier promotion failed");
                        if error.transient {
                            return Err(InvokeError::Aws(error.to_string()));
                        }
                    } else {
                        tracing::info!(record = %record.name, endpoint, "DNS record re-applied for the recorded promotion");
                    }
                }
                Ok(skip(message))
            }
            Plan::Promote(p) => {
                if dry_run {
                    let n = report::promotion(&p, trigger, Outcome::DryRun, None, dns_name.as_deref(), days);
                    return Ok(self.publish(n).await);
                }
                match self.promote(&p).await {
                    Ok(()) => {
                        let n = report::promotion(&p, trigger, Outcome::Succeeded, None, dns_name.as_deref(), days);
                        Ok(self.publish(n).await)
                    }
                    Err((failure, error)) => {
                        let n =
                            report::promotion(&p, trigger, Outcome::Failed, Some(&failure), dns_name.as_deref(), days);
                        self.fail(n, error).await
                    }
                }
            }
            Plan::FailoverCluster(c) => {
                if dry_run {
                    return Ok(self.publish(report::cluster_failover(&c, trigger, Outcome::DryRun, None)).await);
                }
                let mut done = Vec::new();
                let value = c.record.tag_value(&c.region);
                let steps = async {
                    self.databases
                        .tag(&c.region, &c.cluster_arn, FAILED_OVER_TAG, &value)
                        .await
                        .map_err(|e| ("record the failover on the cluster", e))?;
                    done.push(format!("tagged {} {FAILED_OVER_TAG}={value}", c.cluster));
                    self.databases
                        .failover_cluster(&c.region, &c.cluster, &c.target)
                        .await
                        .map_err(|e| ("FailoverDBCluster", e))?;
                    Ok::<(), (&str, PortError)>(())
                };
                match steps.await {
                    Ok(()) => Ok(self.publish(report::cluster_failover(&c, trigger, Outcome::Succeeded, None)).await),
                    Err((step, error)) => {
                        let failure = Failure { step: step.to_owned(), error: error.to_string(), done };
                        let n = report::cluster_failover(&c, trigger, Outcome::Failed, Some(&failure));
                        self.fail(n, error).await
                    }
                }
            }
        }
    }

    /// Records the decision (primary, then replica), promotes, repoints DNS. The records come first: any
    /// later or concurrent event finds them and promotes nothing else.
    async fn promote(&self, p: &Promotion) -> Result<(), (Failure, PortError)> {
        let mut done: Vec<String> = Vec::new();
        let fail = |step: &str, done: &Vec<String>, error: PortError| {
            (Failure { step: step.to_owned(), error: error.to_string(), done: done.clone() }, error)
        };
        let primary_value = p.record.tag_value(&p.primary.region);
        if let Some(arn) = &p.primary_arn {
            self.databases
                .tag(&p.primary.region, arn, PROMOTED_TAG, &primary_value)
                .await
                .map_err(|e| fail("record the decision on the primary", &done, e))?;
            done.push(format!("tagged {} {PROMOTED_TAG}={primary_value}", p.primary.id));
        }
        let replica_value = Record { subject: p.primary.clone(), at: p.record.at.clone(), at_secs: p.record.at_secs }
            .tag_value(&p.replica.region);
        self.databases
            .tag(&p.replica.region, &p.replica_arn, PROMOTED_FROM_TAG, &replica_value)
            .await
            .map_err(|e| fail("record the decision on the replica", &done, e))?;
        done.push(format!("tagged {} {PROMOTED_FROM_TAG}={replica_value}", p.replica.id));
        tracing::info!(primary = %p.primary, replica = %p.replica, resumed = p.resumed, "promoting read replica");
        self.databases
            .promote(&p.replica, self.config.backup_retention_days)
            .await
            .map_err(|e| fail("PromoteReadReplica", &done, e))?;
        done.push(format!("promoted {}", p.replica.id));
        if let Some(record) = &self.config.endpoint_record {
            match &p.endpoint {
                Some(endpoint) => {
                    self.dns
                        .upsert_cname(record, endpoint)
                        .await
                        .map_err(|e| fail("repoint the DNS record", &done, e))?;
                    tracing::info!(record = %record.name, endpoint, "DNS record repointed");
                }
                None => {
                    tracing::warn!(replica = %p.replica, "the promoted replica has no endpoint yet: DNS not changed")
                }
            }
        }
        Ok(())
    }
}

/// Identifiers grouped by region, each group in the order given.
fn ids_by_region<'a>(refs: impl IntoIterator<Item = &'a DbRef>) -> BTreeMap<String, Vec<String>> {
    let mut by_region: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for r in refs {
        by_region.entry(r.region.clone()).or_default().push(r.id.clone());
    }
    by_region
}

fn skip(reason: String) -> Response {
    tracing::info!(reason = %reason, "skipped");
    Response::of(FUNCTION, &[failover_core::report::Report::skipped(FUNCTION, "none", reason)])
}
