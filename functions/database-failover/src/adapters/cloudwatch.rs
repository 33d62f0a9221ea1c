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
        self.maxima(region, metric.name(), "DBInstanceIdentifier", instances, since).await
    }

    async fn cluster_lag(
        &self,
        region: &str,
        metric: GlobalLagMetric,
        cluster: &str,
        since: i64,
    ) -> Result<Vec<LagPoint>, AwsError> {
        let ids = [cluster.to_owned()];
        let mut points = self.maxima(region, metric.name(), "DBClusterIdentifier", &ids, since).await?;
        Ok(points.remove(cluster).unwrap_or_default())
    }

    async fn alarms(&self, region: &str, prefix: &str) -> Result<Vec<WatchingAlarm>, AwsError> {
        failover_core::alarms::describe_alarms(&self.clients.get(region), prefix).await
    }
}

impl CloudWatchLag {
    /// The per-minute maxima of `metric` (namespace `AWS/RDS`) for each of `ids` under `dimension`, from `since`
    /// on, newest first, in ONE `GetMetricData` call (paged).
    async fn maxima(
        &self,
        region: &str,
        metric: &str,
        dimension: &str,
        instances: &[String],
        since: i64,
    ) -> Result<BTreeMap<String, Vec<LagPoint>>, AwsError> {
        let mut out: BTreeMap<String, Vec<LagPoint>> = instances.iter().map(|i| (i.clone(), Vec::new())).collect();
        if instances.is_empty() {
            return Ok(out);
        }
        // From `since` on, up to [`LAG_SPAN`] and never later than now: the minutes that can count.
        let since = UNIX_EPOCH + Duration::from_secs(u64::try_from(since).unwrap_or_default());
        let end = SystemTime::now().min(since + LAG_SPAN);
        let start = since.min(end - LAG_PERIOD);
        let queries: Vec<MetricDataQuery> = instances
            .iter()
            .enumerate()
            .map(|(i, id)| {
                MetricDataQuery::builder()
                    .id(format!("m{i}"))
                    .return_data(true)
                    .metric_stat(
                        MetricStat::builder()
                            .metric(
                                Metric::builder()
                                    .namespace("AWS/RDS")
                                    .metric_name(metric)
                                    .dimensions(Dimension::builder().name(dimension).value(id).build())
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
                if let Some(instance) = index.and_then(|i| instances.get(i)) {
                    let points = result.timestamps().iter().zip(result.values());
                    let points = points.map(|(at, value)| LagPoint { at: at.secs(), value: *value });
                    out.entry(instance.clone()).or_default().extend(points);
                }
            }
        }
        Ok(out)
    }
}
