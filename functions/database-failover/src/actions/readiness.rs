//! Readiness (manual command `readiness`, and the template's daily schedule): checks every opted-in primary
//! and DB cluster of the region (or the one named) against what a failover would need, and reports one
//! notification: `info` when all is ready, else `warning` listing each gap with the `aws` CLI line that
//! closes it. The judging is [`crate::decide::readiness`]'s (replicas judged by [`crate::decide::verdicts`],
//! readers by [`crate::decide::decide_cluster`], as a failover would judge them now). It only reads, with two
//! exceptions, not in a dry run, each listed as a gap: an old primary found `available` and unfenced after its
//! failover is fenced then (`super::fence::in_readiness`: its ledger `Query`, `DescribeDBInstances`, and, to
//! fence, `begin`, `ModifyDBInstance`, `end`), and a replica RDS refused for the time being after a failover is
//! asked for again ([`super::recreate::again`]).
//!
//! Calls: `DescribeDBInstances` and `DescribeDBClusters` of the region (paginated); per primary, its replicas
//! (one `DescribeDBInstances` per region) and their lag (one `GetMetricData` per region), and
//! `ListResourceRecordSets` when it is tagged with a DNS record, `DescribeDBProxyTargets`, `DescribeDBProxies` and
//! `ListTagsForResource` when it is bound to an RDS Proxy (`failover:rds-proxy`: a malformed tag, a missing
//! proxy or target group, one whose target is not the primary, or a proxy without the opt-in tag is a gap);
//! per cluster, its instances and one `GetMetricData`; once for the run, when an Aurora cluster is listed,
//! `DescribeGlobalClusters` of the region (its place in a global database, shown as its topology), and
//! `DescribeAlarms` of the region (prefix `ALARM_NAME_PREFIX`, paginated), for whether an alarm that invokes the function watches each primary with
//! replicas and each cluster ([`crate::decide::watch`]). An old primary whose ledger holds a done promotion
//! bound to its DbiResourceId (replaced: fenced or being rebuilt) gets no "DNS record / proxy points elsewhere"
//! gap, and the report names the instance that replaced it. A read that fails is reported as that resource's (or, for the alarms, the run's)
//! check "unknown (error `<code>`: `<message>`)", and the other checks and resources go on. `DRY_RUN=true` is a
//! gap of its own: nothing will be changed.

use failover_core::alarms::WatchingAlarm;
use failover_core::aws::AwsError;
use failover_core::intake::InvalidCommand;
use failover_core::ledger::Snapshot;
use failover_core::report::Report;
use serde_json::json;

use super::Context;
use crate::command::Subject;
use crate::decide::readiness::{self, Gap};
use crate::decide::{decide_cluster, verdicts, Plan, PrimaryState, Trigger, Verdict};
use crate::decide::{proxy, watch};
use crate::model::{self, promotion_resource, Cluster, Instance, Lineage, Listed, ProxyTargets, Topology};
use crate::ports::{Databases, Dns, Ports, ReplicaLag};
use crate::FUNCTION;
use failover_core::ledger::Ledger;

/// `Err` is an invalid command: the instance or cluster named does not exist in the region.
pub async fn run<P: Ports>(
    ctx: &Context<'_, P>,
    region: &str,
    subject: Option<&Subject>,
    dry_run: bool,
) -> Result<Report, InvalidCommand> {
    let key = ctx.config.common.opt_in_tag_key.clone();
    let mut gaps = Vec::new();
    if ctx.config.common.dry_run {
        gaps.push(failover_core::readiness::dry_run(FUNCTION));
    }
    let all = format!("(all in {region})");
    let instances = match ctx.databases.list_instances(region).await {
        Ok(found) => found,
        Err(e) => {
            let cli = format!("aws rds describe-db-instances --region {region}");
            gaps.push(unknown(&all, "listing the DB instances", &e, &cli));
            Vec::new()
        }
    };
    let clusters = match ctx.databases.list_clusters(region).await {
        Ok(found) => found,
        Err(e) => {
            let cli = format!("aws rds describe-db-clusters --region {region}");
            gaps.push(unknown(&all, "listing the DB clusters", &e, &cli));
            Vec::new()
        }
    };
    let (primaries, clusters): (Vec<&Listed<Instance>>, Vec<&Listed<Cluster>>) = match subject {
        None => (
            instances.iter().filter(|i| is_primary(&i.item) && i.item.opted_in(&key)).collect(),
            clusters.iter().filter(|c| failover_core::tags::opted_in(&c.item.tags, &key)).collect(),
        ),
        Some(Subject::Instance(id)) => match instances.iter().find(|i| i.item.at.id.eq_ignore_ascii_case(id)) {
            Some(found) => (vec![found], Vec::new()),
            None if gaps.is_empty() => return Err(format!("DB instance {id} does not exist in {region}").into()),
            None => (Vec::new(), Vec::new()),
        },
        Some(Subject::Cluster(id)) => match clusters.iter().find(|c| c.item.id.eq_ignore_ascii_case(id)) {
            Some(found) => (Vec::new(), vec![found]),
            None if gaps.is_empty() => return Err(format!("DB cluster {id} does not exist in {region}").into()),
            None => (Vec::new(), Vec::new()),
        },
    };
    let prefix = &ctx.config.common.alarm_name_prefix;
    let alarms = if primaries.is_empty() && clusters.is_empty() { None } else { alarms(ctx, region, &mut gaps).await };
    let (mut judged, mut takers) = (Vec::new(), Vec::new());
    for listed in &primaries {
        let (found, replicas, lineage, replaced_by) = ctx.primary_readiness(listed, &key, dry_run).await;
        gaps.extend(found);
        gaps.extend(alarms.as_deref().and_then(|a| watch::primary_gap(a, prefix, &listed.item)));
        let mut replaced =
            lineage.as_ref().map(|l| format!(" (replaced {} at {})", l.from.at.id, l.at)).unwrap_or_default();
        if let Some(by) = &replaced_by {
            let to = &by.subject.id;
            replaced.push_str(&format!(" (replaced by {to} at {}: its DNS record and RDS Proxy follow {to})", by.at));
        }
        takers.push(format!("- {} (instance){replaced}: {}", listed.item.at.id, eligible(&replicas, "s")));
        let replaced_by = replaced_by.map(|r| r.subject.id);
        judged.push(json!({"primary": listed.item.at.id, "topology": Topology::Instance, "replicas": replicas,
            "lineage": lineage, "replaced_by": replaced_by}));
    }
    // Aurora clusters' places in global databases: one read for the region.
    let aurora = clusters.iter().any(|c| c.item.engine.to_ascii_lowercase().starts_with("aurora"));
    let globals = if aurora { ctx.global_clusters(region).await } else { Vec::new() };
    for listed in &clusters {
        let (found, readers, topology) = ctx.cluster_readiness(listed, &key).await;
        let topology = match model::global_role(&globals, &listed.item) {
            Some(role) => Topology::of_cluster(&listed.item, Some(&role)),
            None => topology,
        };
        gaps.extend(found);
        gaps.extend(alarms.as_deref().and_then(|a| watch::cluster_gap(a, prefix, &listed.item)));
        let readers_line = eligible(&readers, topology.lag_unit());
        takers.push(format!("- cluster {} ({topology}): {readers_line}", listed.item.id));
        judged.push(json!({"cluster": listed.item.id, "topology": topology, "readers": readers}));
    }
    let checked = format!(
        "{} and {}",
        count(primaries.len(), "opted-in primary", "primaries"),
        count(clusters.len(), "cluster", "clusters")
    );
    let ready = format!(
        "Every opted-in primary and Aurora cluster in {region} ({checked}) has what a failover needs: a replica or \
         reader eligible now, its failover:dns-record record (when tagged) pointing at it, backups on, and an \
         alarm named with ALARM_NAME_PREFIX watching it. Who would take over:\n{}",
        takers.join("\n")
    );
    let extra = json!({"region": region, "primaries": primaries.len(), "clusters": clusters.len(), "judged": judged});
    let gapped = !gaps.is_empty();
    // One thread per region for the daily reports, apart from any incident's.
    let mut report = failover_core::readiness::report(FUNCTION, &checked, &ready, gaps, extra);
    if gapped && !takers.is_empty() {
        // Each resource, with its topology, and who would take over now, also when something is missing.
        report.summary.push_str(&format!("\nWho would take over now:\n{}", takers.join("\n")));
    }
    Ok(report.incident(crate::report::incident(region, "readiness")))
}

/// The region's prefixed alarms, read once for the run; `None`, with an `unknown` gap, when the read failed.
async fn alarms<P: Ports>(ctx: &Context<'_, P>, region: &str, gaps: &mut Vec<Gap>) -> Option<Vec<WatchingAlarm>> {
    let prefix = &ctx.config.common.alarm_name_prefix;
    match ctx.lag.alarms(region, prefix).await {
        Ok(alarms) => Some(alarms),
        Err(e) => {
            let cli = format!("aws cloudwatch describe-alarms --alarm-name-prefix {prefix} --region {region}");
            let doing = format!("listing the alarms named {prefix}*");
            gaps.push(unknown(&format!("(alarms in {region})"), &doing, &e, &cli));
            None
        }
    }
}

/// A primary: not a replica, not an Aurora member.
fn is_primary(instance: &Instance) -> bool {
    instance.source.is_none() && instance.cluster.is_none()
}

impl<P: Ports> Context<'_, P> {
    /// A primary's checks (its fence included: an old primary found unfenced is fenced unless `dry_run`), its
    /// replicas as judged (with their lag), the lineage step that made it a primary (from its ledger: the
    /// bindings it inherits are checked as its own), and the promotion that replaced it, if any (then its DNS
    /// record and proxy pointing at the new primary are no gaps).
    async fn primary_readiness(
        &self,
        listed: &Listed<Instance>,
        key: &str,
        dry_run: bool,
    ) -> (Vec<Gap>, Vec<Verdict>, Option<Lineage>, Option<model::Record>) {
        let mut gaps = Vec::new();
        let records = match self.session.ledger.read(&promotion_resource(&listed.item.at), self.now()).await {
            Ok(snapshot) => snapshot.records,
            Err(e) => {
                let resource = promotion_resource(&listed.item.at);
                let cli = format!(
                    "aws dynamodb query --table-name {} --key-condition-expression 'pk = :pk' \
                     --expression-attribute-values '{{\":pk\":{{\"S\":\"{resource}\"}}}}'",
                    self.config.common.ledger_table
                );
                gaps.push(unknown(&listed.item.arn, "reading its lineage in the ledger", &e, &cli));
                Vec::new()
            }
        };
        if !dry_run {
            gaps.extend(
                super::recreate::again(self, &listed.item.at, &records)
                    .await
                    .map(|asked| readiness::replica_asked_again(&listed.item, &asked)),
            );
        }
        let lineage = Lineage::of(&records, &listed.item);
        let replaced = readiness::replaced_by(&records, &listed.item);
        let inherited = model::inherit(listed.item.clone(), &records);
        let primary = &inherited;
        gaps.extend(super::fence::in_readiness(self, primary, dry_run).await);
        if !primary.opted_in(key) {
            gaps.push(readiness::not_opted_in(&primary.arn, &primary.at.id, key));
        }
        let snapshot = empty_snapshot(self.now());
        let found = PrimaryState::Found(primary.clone());
        let mut judged: Vec<Verdict> = Vec::new();
        match self.promotion_facts(&primary.at, Some(found), None, &snapshot).await {
            Ok(facts) => {
                judged = verdicts(&facts, &self.settings());
                gaps.extend(readiness::replica_gap(primary, &judged, key));
            }
            Err(e) => {
                let cli = format!("aws rds describe-db-instances --db-instance-identifier {}", primary.at.id);
                gaps.push(unknown(&primary.arn, "reading its replicas and their lag", &e, &cli));
            }
        }
        match readiness::dns_record(primary) {
            None => {}
            Some(Err(gap)) => gaps.push(gap),
            Some(Ok(record)) => match self.dns.cname(&record).await {
                Ok(cname) => {
                    let values = cname.map(|c| c.values);
                    gaps.extend(readiness::dns_gap(primary, &record.hosted_zone_id, &record.name, values.as_deref()));
                }
                Err(e) => {
                    let (zone, name) = (&record.hosted_zone_id, &record.name);
                    let cli = format!(
                        "aws route53 list-resource-record-sets --hosted-zone-id {zone} --start-record-name {name} \
                         --start-record-type CNAME --max-items 1"
                    );
                    gaps.push(unknown(&primary.arn, &format!("reading its DNS record {name}"), &e, &cli));
                }
            },
        }
        gaps.extend(self.proxy_readiness(primary, key).await);
        if let Some(by) = &replaced {
            // Fenced or being rebuilt: its DNS record and proxy follow the new primary, as they should.
            gaps.retain(|g| !readiness::POINTS_ELSEWHERE.contains(&g.kind));
            tracing::info!(primary = %primary.at, replaced_by = %by.subject, "old primary: client paths not checked");
        }
        gaps.extend(readiness::instance_backup_gap(listed));
        (gaps, judged, lineage, replaced)
    }

    /// The target group a primary's `failover:rds-proxy` tag names: malformed, missing, or not at the primary;
    /// and the proxy without the opt-in tag IAM requires to move its target.
    async fn proxy_readiness(&self, primary: &Instance, key: &str) -> Vec<Gap> {
        let binding = match proxy::readiness_binding(primary) {
            None => return Vec::new(),
            Some(Ok(binding)) => binding,
            Some(Err(gap)) => return vec![gap],
        };
        let region = &primary.at.region;
        let mut gaps: Vec<Gap> = match self.databases.proxy_targets(region, &binding).await {
            // No proxy: no tags to read.
            Ok(ProxyTargets::NoProxy) => {
                return proxy::readiness_gap(primary, &binding, &ProxyTargets::NoProxy).into_iter().collect()
            }
            Ok(targets) => proxy::readiness_gap(primary, &binding, &targets).into_iter().collect(),
            Err(e) => {
                let cli = format!("aws rds describe-db-proxy-targets --db-proxy-name {}", binding.proxy);
                vec![unknown(&primary.arn, &format!("reading {binding}"), &e, &cli)]
            }
        };
        match self.databases.proxy_tags(region, &binding.proxy).await {
            Ok(Some(tagged)) => gaps.extend(proxy::readiness_tag_gap(primary, &binding, &tagged, key)),
            Ok(None) => {}
            Err(e) => {
                let cli = format!("aws rds describe-db-proxies --db-proxy-name {}", binding.proxy);
                gaps.push(unknown(&primary.arn, &format!("reading proxy {}'s tags", binding.proxy), &e, &cli));
            }
        }
        gaps
    }

    /// A cluster's checks, its readers as judged, and its topology.
    async fn cluster_readiness(&self, listed: &Listed<Cluster>, key: &str) -> (Vec<Gap>, Vec<Verdict>, Topology) {
        let cluster = &listed.item;
        let mut topology = Topology::of_cluster(cluster, None);
        let mut gaps = Vec::new();
        let snapshot = empty_snapshot(self.now());
        let mut judged: Vec<Verdict> = Vec::new();
        match self.cluster_facts(&cluster.region, &cluster.id, Some(Some(cluster.clone())), &snapshot).await {
            Ok(facts) => {
                topology = facts.topology().unwrap_or(topology);
                // As a person's failover-cluster would judge the readers now (no cooldown, any cluster status).
                let trigger = Trigger::ManualFailover { target: None, force: false };
                judged = match decide_cluster(&trigger, &facts, &self.settings(), self.now()) {
                    Plan::FailoverCluster(failover) => failover.readers,
                    Plan::Refuse(refusal) => refusal.replicas,
                    _ => Vec::new(),
                };
                if failover_core::tags::opted_in(&cluster.tags, key) {
                    gaps.extend(readiness::reader_gap(cluster, &judged, key));
                } else {
                    gaps.push(readiness::not_opted_in(&cluster.arn, &format!("cluster {}", cluster.id), key));
                }
            }
            Err(e) => {
                let cli = format!("aws rds describe-db-clusters --db-cluster-identifier {}", cluster.id);
                gaps.push(unknown(&cluster.arn, "reading its readers and their lag", &e, &cli));
            }
        }
        gaps.extend(readiness::cluster_backup_gap(listed));
        (gaps, judged, topology)
    }
}

/// The eligible replicas or readers with their lag (`unit`: s for ReplicaLag, ms for AuroraReplicaLag).
fn eligible(verdicts: &[Verdict], unit: &str) -> String {
    let lines: Vec<String> = verdicts
        .iter()
        .filter(|v| v.eligible)
        .map(|v| match v.max_lag {
            Some(lag) => format!("{} (lag {lag} {unit})", v.id),
            None => v.id.clone(),
        })
        .collect();
    if lines.is_empty() {
        "none eligible".to_owned()
    } else {
        lines.join(", ")
    }
}

/// The facts readers take a ledger for the record of an earlier decision; readiness judges as if none.
fn empty_snapshot(now: i64) -> Snapshot {
    Snapshot { resource: String::new(), at: now, version: 0, holder: None, records: Vec::new() }
}

fn unknown(resource: &str, doing: &str, error: &AwsError, cli: &str) -> Gap {
    let name = resource.rsplit(':').next().unwrap_or(resource);
    failover_core::readiness::unknown(resource, name, doing, error, cli)
}

fn count(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("1 {one}")
    } else {
        format!("{n} {many}")
    }
}
