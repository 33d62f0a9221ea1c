//! The CloudWatch alarms that can invoke the functions, as `readiness` reads them: every alarm whose name starts
//! with `ALARM_NAME_PREFIX` (the stack's `AlarmNamePrefix`, which its EventBridge rules and alarm-action
//! permissions match), with the dimensions of each metric it watches. Whether one of them watches a given
//! resource is each function's judgement (its `decide::watch`); [`watching`] is the search both use.
//!
//! Calls: `DescribeAlarms` with `AlarmNamePrefix`, paginated ([`describe_alarms`]), once per readiness run.

use std::collections::BTreeMap;

use crate::aws::{AwsContext, AwsError};

/// A metric's dimensions, name → value.
pub type Dimensions = BTreeMap<String, String>;

/// One metric alarm: its name and the dimensions of each metric it watches (one for a single-metric alarm;
/// one per `MetricStat` of a metric-math alarm; none for an alarm on an expression alone).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchingAlarm {
    pub name: String,
    pub metrics: Vec<Dimensions>,
}

impl WatchingAlarm {
    /// An alarm on one metric with these dimensions (tests, fakes).
    pub fn on(name: &str, dimensions: &[(&str, &str)]) -> Self {
        let metric = dimensions.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        WatchingAlarm { name: name.to_owned(), metrics: vec![metric] }
    }
}

/// The first alarm whose name starts with `prefix` and one of whose metrics `watches` accepts. The prefix is
/// checked here too, not only by `DescribeAlarms`: an alarm without it never reaches the functions.
pub fn watching<'a>(
    alarms: &'a [WatchingAlarm],
    prefix: &str,
    watches: impl Fn(&Dimensions) -> bool,
) -> Option<&'a WatchingAlarm> {
    alarms.iter().filter(|a| a.name.starts_with(prefix)).find(|a| a.metrics.iter().any(&watches))
}

/// Every metric alarm whose name starts with `prefix`: `DescribeAlarms` with `AlarmNamePrefix`, every page.
/// Composite alarms are left out (they watch alarms, not resources).
pub async fn describe_alarms(
    client: &aws_sdk_cloudwatch::Client,
    prefix: &str,
) -> Result<Vec<WatchingAlarm>, AwsError> {
    let dimensions = |found: &[aws_sdk_cloudwatch::types::Dimension]| -> Dimensions {
        found.iter().filter_map(|d| Some((d.name()?.to_owned(), d.value()?.to_owned()))).collect()
    };
    let mut alarms = Vec::new();
    let mut pages = client.describe_alarms().alarm_name_prefix(prefix).into_paginator().send();
    while let Some(page) = pages.next().await {
        let page = page.aws("DescribeAlarms", format!("alarms named {prefix}*"))?;
        for alarm in page.metric_alarms() {
            let mut metrics = Vec::new();
            if alarm.metric_name().is_some() {
                metrics.push(dimensions(alarm.dimensions()));
            }
            for query in alarm.metrics() {
                if let Some(metric) = query.metric_stat().and_then(|s| s.metric()) {
                    metrics.push(dimensions(metric.dimensions()));
                }
            }
            alarms.push(WatchingAlarm { name: alarm.alarm_name().unwrap_or_default().to_owned(), metrics });
        }
    }
    Ok(alarms)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_alarm_watches_when_its_name_has_the_prefix_and_a_metric_matches() {
        let alarms = [
            WatchingAlarm::on("web-unhealthy", &[("TargetGroup", "targetgroup/web/1")]),
            WatchingAlarm::on("failover-db", &[("DBInstanceIdentifier", "orders")]),
            WatchingAlarm::on("failover-web", &[("TargetGroup", "targetgroup/web/1"), ("LoadBalancer", "app/a/1")]),
        ];
        let web = |d: &Dimensions| d.get("TargetGroup").is_some_and(|v| v == "targetgroup/web/1");
        assert_eq!(watching(&alarms, "failover-", web).map(|a| a.name.as_str()), Some("failover-web"));
        assert_eq!(watching(&alarms[..2], "failover-", web), None, "the only match lacks the prefix");
        let none = WatchingAlarm { name: "failover-math".into(), metrics: Vec::new() };
        assert_eq!(watching(&[none], "failover-", |_| true), None, "an expression alone watches nothing");
    }
}
