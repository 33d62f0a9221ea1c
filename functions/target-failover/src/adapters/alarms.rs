//! CloudWatch for [`crate::ports::Zonal::zone_alarms_in_alarm`]: `DescribeAlarms` (`StateValue=ALARM`,
//! paginated), filtered here to the metric alarms about one zone of one load balancer (a `LoadBalancer` and an
//! `AvailabilityZone` dimension, on the alarm's metric or on one of a metric-math alarm's metrics). A client
//! built without CloudWatch answers "not modelled".

use aws_sdk_cloudwatch::types::{Dimension, MetricAlarm, StateValue};
use failover_core::aws::{AwsContext, AwsError};

use super::ElbClient;

impl ElbClient {
    /// CloudWatch: `alarms` (readiness) and `zone_alarms_in_alarm`.
    pub fn with_cloudwatch(mut self, cloudwatch: aws_sdk_cloudwatch::Client) -> Self {
        self.cloudwatch = Some(cloudwatch);
        self
    }

    /// The (name, ARN) of each metric alarm in ALARM about this zone (name) of this load balancer (ARN).
    pub(super) async fn alarms_about_zone(
        &self,
        load_balancer: &str,
        zone: &str,
    ) -> Result<Vec<(String, String)>, AwsError> {
        let cloudwatch =
            self.cloudwatch.as_ref().ok_or_else(|| AwsError::not_modelled("DescribeAlarms", load_balancer))?;
        let suffix = load_balancer.split_once(":loadbalancer/").map_or(load_balancer, |(_, s)| s);
        let mut found = Vec::new();
        let mut token = None;
        loop {
            let page = cloudwatch
                .describe_alarms()
                .state_value(StateValue::Alarm)
                .set_next_token(token)
                .send()
                .await
                .aws("DescribeAlarms", load_balancer)?;
            for alarm in page.metric_alarms().iter().filter(|a| about(a, suffix, zone)) {
                let name = alarm.alarm_name().unwrap_or_default().to_owned();
                found.push((name, alarm.alarm_arn().unwrap_or_default().to_owned()));
            }
            token = page.next_token().map(str::to_owned);
            if token.is_none() {
                return Ok(found);
            }
        }
    }
}

/// Whether the alarm's metric (or one of its metric-math metrics) is about this zone of this load balancer.
fn about(alarm: &MetricAlarm, load_balancer: &str, zone: &str) -> bool {
    let names = |dimensions: &[Dimension]| {
        let has =
            |name: &str, value: &str| dimensions.iter().any(|d| d.name() == Some(name) && d.value() == Some(value));
        has("LoadBalancer", load_balancer) && has("AvailabilityZone", zone)
    };
    names(alarm.dimensions())
        || alarm.metrics().iter().filter_map(|q| q.metric_stat()?.metric()).any(|m| names(m.dimensions()))
}
