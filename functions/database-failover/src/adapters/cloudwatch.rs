//! [`ReplicaLag`] over `aws_sdk_cloudwatch`: replica lag (`GetMetricData`, in the replica's region) and the
//! alarms named with a prefix (`DescribeAlarms` through [`failover_core::alarms::describe_alarms`], readiness).

use std::collections::BTreeMap;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat, ScanBy};
use failover_core::alarms::WatchingAlarm;
use failover_core::aws::{AwsContext, AwsError};

use super::RegionClients;
use crate::model::LagPoint;
use crate::ports::{GlobalLagMetric, LagMetric, ReplicaLag};

/// The lag window: the maximum per minute over the last 5 minutes.
const LAG_PERIOD: Duration = Duration::from_secs(60);
/// The most read from `since` on: the onset window (at most an hour), the look-back and a few minutes after the
/// trigger, never later than now.
const LAG_SPAN: Duration = Duration::from_secs(2 * 3600);
const LAG_PERIOD_SECONDS: i32 = 60;

/// [`ReplicaLag`] over `aws_sdk_cloudwatch` (lag metrics live in the replica's region).
pub struct CloudWatchLag {
    clients: RegionClients<aws_sdk_cloudwatch::Client>,
}

impl CloudWatchLag {
    pub fn new(client: aws_sdk_cloudwatch::Client) -> Self {
        let home_region = client.config().region().map(|r| r.to_string()).unwrap_or_default();
        CloudWatchLag {
            clients: RegionClients::new(client, home_region, |home, region| {
                aws_sdk_cloudwatch::Client::from_conf(
                    home.config()
                        .to_builder()
                        .region(aws_sdk_cloudwatch::config::Region::new(region.to_owned()))
                        .build(),
                )
            }),
        }
    }
}

impl ReplicaLag for CloudWatchLag {
    async fn lags(
        &self,
        region: &str,
        metric: LagMetric,
        instances: &[String],
        since: i64,
    ) -> Result<BTreeMap<String, Vec<LagPoint>>, AwsError> {
        let sets = instances.iter().map(|id| vec![Dimension::builder().name("DBInstanceIdentifier").value(id).build()]);
        let points = self.maxima(region, metric.name(), &sets.collect::<Vec<_>>(), since).await?;
        Ok(instances.iter().cloned().zip(points).collect())
    }

    async fn cluster_lag(
        &self,
        region: &str,
        metric: GlobalLagMetric,
        cluster: &str,
        source_region: Option<&str>,
        since: i64,
    ) -> Result<Vec<LagPoint>, AwsError> {
        let by_cluster = Dimension::builder().name("DBClusterIdentifier").value(cluster).build();
        let mut sets = vec![vec![by_cluster.clone()]];
        if let Some(source) = source_region {
            sets.push(vec![by_cluster, Dimension::builder().name("SourceRegion").value(source).build()]);
        }
        let points = self.maxima(region, metric.name(), &sets, since).await?;
        // One minute read under both sets counts once, at its maximum.
        let mut merged: BTreeMap<i64, f64> = BTreeMap::new();
        for p in points.into_iter().flatten() {
            merged.entry(p.at).and_modify(|v| *v = v.max(p.value)).or_insert(p.value);
        }
        Ok(merged.into_iter().rev().map(|(at, value)| LagPoint { at, value }).collect())
    }

    async fn alarms(&self, region: &str, prefix: &str) -> Result<Vec<WatchingAlarm>, AwsError> {
        failover_core::alarms::describe_alarms(&self.clients.get(region), prefix).await
    }
}

impl CloudWatchLag {
    /// The per-minute maxima of `metric` (namespace `AWS/RDS`) for each of `sets` (a metric's whole dimension
    /// set), from `since` on, newest first, in `sets`' order, in ONE `GetMetricData` call (paged).
    async fn maxima(
        &self,
        region: &str,
        metric: &str,
        sets: &[Vec<Dimension>],
        since: i64,
    ) -> Result<Vec<Vec<LagPoint>>, AwsError> {
        let mut out: Vec<Vec<LagPoint>> = vec![Vec::new(); sets.len()];
        if sets.is_empty() {
            return Ok(out);
        }
        // From `since` on, up to [`LAG_SPAN`] and never later than now: the minutes that can count.
        let since = UNIX_EPOCH + Duration::from_secs(u64::try_from(since).unwrap_or_default());
        let end = SystemTime::now().min(since + LAG_SPAN);
        let start = since.min(end - LAG_PERIOD);
        let queries: Vec<MetricDataQuery> = sets
            .iter()
            .enumerate()
            .map(|(i, dimensions)| {
                MetricDataQuery::builder()
                    .id(format!("m{i}"))
                    .return_data(true)
                    .metric_stat(
                        MetricStat::builder()
                            .metric(
                                Metric::builder()
                                    .namespace("AWS/RDS")
                                    .metric_name(metric)
                                    .set_dimensions(Some(dimensions.clone()))
                                    .build(),
                            )
                            .period(LAG_PERIOD_SECONDS)
                            .stat("Maximum")
                            .build(),
                    )
                    .build()
            })
            .collect();
        let mut pages = self
            .clients
            .get(region)
            .get_metric_data()
            .set_metric_data_queries(Some(queries))
            .start_time(start.into())
            .end_time(end.into())
            .scan_by(ScanBy::TimestampDescending)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.aws("GetMetricData", format!("{metric} in {region}"))?;
            for result in page.metric_data_results() {
                let index = result.id().and_then(|id| id.strip_prefix('m')).and_then(|n| n.parse::<usize>().ok());
                if let Some(points) = index.and_then(|i| out.get_mut(i)) {
                    let read = result.timestamps().iter().zip(result.values());
                    points.extend(read.map(|(at, value)| LagPoint { at: at.secs(), value: *value }));
                }
            }
        }
        Ok(out)
    }
}
